"""Records (``serve --record``'s format): written, read back, and decision-log lines read
as records; every bad line is reported with its file and line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from receiver.observe.decisionlog import DecisionLog
from receiver.observe.records import (
    Gap,
    Record,
    RecordError,
    cut_note,
    cut_short,
    lookup_state,
    read_records,
    record_decision,
    record_entry,
    rotated_out,
)
from receiver.replay.answers import change
from receiver.runtime.decision import Decision, ShadowResult
from receiver.runtime.inputs import LOOKUP_FAILED
from receiver.runtime.payload import Event

EVENT = Event(
    "message.shouldCreate",
    {"text": "hello", "channelId": "ch_1"},
    {"_id": "u1", "userId": "u1"},
)


def entry(**changes: Any) -> dict[str, Any]:
    decision = Decision("deny", "no", rule="p/r")
    fields: dict[str, Any] = {
        "decision_id": "abc1",
        "now": 1764950400.123456,
        "platform": "socialplus",
        "event": EVENT,
        "user_answer": {"role": "member"},
        "user_asked": True,
        "decision": decision,
        "revision": "rev1",
    }
    fields.update(changes)
    return record_entry(**fields)


def write_lines(path: Path, lines: list[Any]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def test_a_record_reads_back_as_what_was_decided(tmp_path: Path) -> None:
    [record] = read_records([write_lines(tmp_path / "r.jsonl", [entry()])])
    assert record.event == EVENT
    assert record.time == 1764950400.123456  # full precision: counters replay exactly
    assert (record.user_lookup, record.user) == ("found", {"role": "member"})
    assert record.decision["action"] == "deny" and record.decision["rule"] == "p/r"
    assert (record.platform, record.revision, record.decision_id) == ("socialplus", "rev1", "abc1")
    assert record.source == f"{tmp_path / 'r.jsonl'}:1"
    assert not record.degraded


@pytest.mark.parametrize(
    ("answer", "asked", "state"),
    [
        ({"role": "x"}, True, "found"),
        (None, True, "none"),
        (LOOKUP_FAILED, True, "failed"),
        (None, False, "not-needed"),
    ],
)
def test_the_user_answer_is_recorded_by_state(answer: Any, asked: bool, state: str) -> None:
    assert lookup_state(answer, asked) == state


def test_a_modified_allow_keeps_the_whole_changed_data() -> None:
    decision = Decision("allow", data={"text": "****"}, modified_by=["p/censor"])
    decision.shadow.append(ShadowResult("p/s", "deny", "would deny"))
    recorded = record_decision(decision, "deadline")
    assert recorded["data"] == {"text": "****"}
    assert recorded["shadow"][0]["message"] == "would deny"
    assert recorded["degraded_reason"] == "deadline"
    assert "data" not in record_decision(Decision("allow"))


def test_records_come_back_in_time_order_across_files(tmp_path: Path) -> None:
    first = write_lines(tmp_path / "a.jsonl", [entry(now=3.0, decision_id="c"), entry(now=1.0)])
    with gzip.open(tmp_path / "b.jsonl.gz", "wt", encoding="utf-8") as out:
        out.write(json.dumps(entry(now=2.0, decision_id="b")) + "\n")
    (tmp_path / "notes.txt").write_text("not a record file\n", encoding="utf-8")
    assert [r.decision_id for r in read_records([tmp_path])] == ["abc1", "b", "c"]
    assert [r.decision_id for r in read_records([first])] == ["abc1", "c"]


def test_a_line_cut_short_at_the_end_of_a_file_being_written_is_skipped(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "r.jsonl", [entry()])
    with path.open("a", encoding="utf-8") as out:
        out.write('{"record": 1, "decision_id": "cut')
    assert len(read_records([path])) == 1
    # ... and said: a replay or a diff names the file whose last line it left out
    whole = write_lines(tmp_path / "whole.jsonl", [entry(decision_id="w")])
    spaces = write_lines(tmp_path / "spaces.jsonl", [entry(decision_id="s")])
    with spaces.open("a", encoding="utf-8") as out:
        out.write("   ")  # a blank last line is no record
    assert cut_short([tmp_path]) == [str(path)]
    assert cut_short([whole, spaces]) == []
    assert cut_note([str(path)]) == (
        f"left out: the last line of {path}, cut short (a file still being written?)"
    )


def logged(tmp_path: Path, platform: str, decision: Decision) -> Record:
    """The record read back from a decision log written with --log-content, holding one
    line: EVENT on ``platform``, answered ``decision``."""
    log = DecisionLog(open(tmp_path / "log.jsonl", "wb"), log_content=True, owned=True)  # noqa: SIM115
    log.write(
        log.record(
            decision_id="d1", platform=platform, event=EVENT, decision=decision,
            revision="rev2", latency=0.001,
        )
    )  # fmt: skip
    log.close()
    [record] = read_records([tmp_path / "log.jsonl"])
    return record


def test_a_decision_log_line_with_content_is_a_record(tmp_path: Path) -> None:
    decision = Decision("allow", data={"text": "HI"}, modified_by=["p/lower"])
    record = logged(tmp_path, "socialplus", decision)
    assert record.event.data == EVENT.data
    assert record.event.actor == {"userId": "u1", "_id": "u1"}
    assert record.user_lookup == "unknown"
    assert record.decision["action"] == "allow" and record.decision["modified_by"] == ["p/lower"]


def test_a_decision_log_line_keeps_a_deny_s_status_and_reason_code(tmp_path: Path) -> None:
    # A brainCloud deny's status and reason code are part of its answer: a decision-log
    # line without them replayed as "deny, message changed" against the very same policies.
    decision = Decision("deny", "XP value is too high!", rule="p/xp", status=500, reason_code=50000)
    record = logged(tmp_path, "braincloud", decision)
    assert record.decision["status"] == 500 and record.decision["reason_code"] == 50000
    assert change(record.decision, record_decision(decision)) is None


@pytest.mark.parametrize("cut", [30, 200], ids=["cut-in-the-header", "cut-in-the-data"])
def test_a_gz_file_cut_short_or_not_gzip_is_named(tmp_path: Path, cut: int) -> None:
    # A copy that did not finish raised EOFError (a traceback), and a .gz that is not
    # gzip said "None: cannot read the records: None".
    whole = gzip.compress(("".join(json.dumps(entry()) + "\n" for _ in range(50))).encode())
    (tmp_path / "cut.jsonl.gz").write_bytes(whole[:cut])
    (tmp_path / "plain.jsonl.gz").write_bytes(b"not gzip at all\n")
    for name, says in (("cut.jsonl.gz", "not a whole gzip file"), ("plain.jsonl.gz", "not a gzip")):
        with pytest.raises(RecordError) as caught:
            read_records([tmp_path / name])
        assert str(caught.value).startswith(f"{tmp_path / name}: {says}")


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("[1]", "must be a JSON object"),
        ('{"x": 1}', "neither a record"),
        ('{"eventName": "message.shouldCreate", "data": {}}', "a platform payload, not a record"),
        ('{"service": "chat", "operation": "POST_CHAT_MESSAGE"}', "a platform payload"),
        ('{"decision_id": "d", "event": "e", "action": "allow"}', "--log-content"),
        ('{"record": 9}', "record format 9"),
        ("{not json", "invalid JSON"),
    ],
)
def test_a_bad_line_is_named_by_file_and_line(tmp_path: Path, line: str, says: str) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(entry()) + "\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(RecordError) as caught:
        read_records([path])
    assert str(caught.value).startswith(f"{path}:3: ")
    assert says in str(caught.value)


@pytest.mark.parametrize("sample", [0, 1.5, "10%", True])
def test_a_record_s_sample_must_be_a_rate(tmp_path: Path, sample: Any) -> None:
    path = write_lines(tmp_path / "r.jsonl", [{**entry(), "sample": sample}])
    with pytest.raises(RecordError, match="'sample' must be a number above 0 and at most 1"):
        read_records([path])


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"time": "soon"}, "'time' must be seconds"),
        ({"data": []}, "'data' must be a JSON object"),
        ({"user_lookup": "maybe"}, "'user_lookup' must be one of"),
        ({"user": None}, "'user' is not an object"),
        ({"decision": {"action": "maybe"}}, "'decision' must be an object"),
        ({"event": ""}, "'event' must be"),
    ],
)
def test_a_record_with_a_bad_member_says_which(
    tmp_path: Path, change: dict[str, Any], says: str
) -> None:
    with pytest.raises(RecordError, match=says):
        read_records([write_lines(tmp_path / "r.jsonl", [{**entry(), **change}])])


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="no such file"):
        read_records([tmp_path / "nope.jsonl"])


def test_a_record_says_how_the_counter_backend_answered(tmp_path: Path) -> None:
    lines = [entry(), entry(decision_id="d2", counters="unavailable")]
    first, second = read_records([write_lines(tmp_path / "r.jsonl", lines)])
    assert (first.counters, second.counters) == ("", "unavailable")
    assert "counters" not in lines[0]
    with pytest.raises(RecordError, match="'counters' must be one of"):
        read_records([write_lines(tmp_path / "bad.jsonl", [{**entry(), "counters": "maybe"}])])


def test_a_line_that_is_not_json_is_named_by_its_column_and_the_reason(tmp_path: Path) -> None:
    # It said "r.jsonl:2: invalid JSON at line 1, column 21: Invalid control character at".
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(entry()) + '\n{"record":1,"garbage\n' + json.dumps(entry()) + "\n")
    with pytest.raises(RecordError) as caught:
        read_records([path])
    assert str(caught.value) == f"{path}:2: invalid JSON at column 21: Invalid control character"


def test_a_file_named_twice_is_read_once(tmp_path: Path) -> None:
    # "receiver replay policies rec rec/x.jsonl" replayed every event twice, counters
    # doubled: 827 of 8,000 answers differed from unchanged policies.
    path = write_lines(tmp_path / "r.jsonl", [entry(), entry(decision_id="d2", now=2.0)])
    named = [tmp_path, path, tmp_path / "." / "r.jsonl"]
    assert [r.decision_id for r in read_records(named)] == ["d2", "abc1"]


def test_a_decision_in_two_files_is_refused_with_both_places(tmp_path: Path) -> None:
    # The records of some traffic and its decision log hold the same decisions.
    records = write_lines(tmp_path / "r.jsonl", [entry(), entry(decision_id="d2", now=2.0)])
    log = DecisionLog(open(tmp_path / "log.jsonl", "wb"), log_content=True, owned=True)  # noqa: SIM115
    log.write(
        log.record(
            decision_id="d2", platform="socialplus", event=EVENT, decision=Decision("allow"),
            revision="rev1", latency=0.001,
        )
    )  # fmt: skip
    log.close()
    with pytest.raises(RecordError) as caught:
        read_records([records, tmp_path / "log.jsonl"])
    assert str(caught.value).startswith(
        f"{tmp_path / 'log.jsonl'}:1: decision d2 was read already, at {records}:2: the same "
        "event twice would count twice"
    )


def test_writers_whose_first_files_are_gone_are_named(tmp_path: Path) -> None:
    # A directory whose busy writer had rotated its first files out replayed with 94 of
    # 838 answers differing from the policies that recorded them: the counters had not
    # seen that writer's earlier events, and nothing said so.
    write_lines(tmp_path / "vm.w0.000001.jsonl", [entry(now=1.0, decision_id="a")])
    write_lines(tmp_path / "vm.w1.000005.jsonl", [entry(now=9.0, decision_id="c")])
    write_lines(tmp_path / "vm.w1.000006.jsonl", [entry(now=12.0, decision_id="d")])
    write_lines(tmp_path / "other.jsonl", [entry(now=0.5, decision_id="e")])  # not a writer's
    assert rotated_out(read_records([tmp_path])) == [Gap("vm.w1", "vm.w1.000005.jsonl", 9.0)]
