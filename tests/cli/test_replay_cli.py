"""``receiver replay`` (receiver/cli/replay.py) through ``main(argv)``: the output lines,
the summary on stderr, the options, and the exit codes of bad records and policies."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest
import replay_corpus as corpus
from hypothesis import given
from hypothesis import strategies as st

from receiver.cli import main
from receiver.cli.replay import jobs_of

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
SAMPLE = ROOT / "tests" / "data" / "replay" / "records.jsonl"

POLICY = """\
policy: main
counters:
  per_minute:
    events: message.shouldCreate
    key: actor.userId
    window: 60s
rules:
  - id: banned
    events: message.shouldCreate
    when: user.banned == true
    action: deny
    message: Banned.
  - id: flood
    events: message.shouldCreate
    when: per_minute > 2
    action: deny
    message: Slow down.
"""


def line(number: int, at: float, user: dict[str, object] | None = None, **extra: object) -> str:
    entry = {
        "record": 1, "decision_id": f"d{number}", "time": at, "platform": "socialplus",
        "revision": "r0", "event": "message.shouldCreate", "actor": {"userId": "u1", "_id": "u1"},
        "data": {"text": "hi"}, "user_lookup": "found" if user is not None else "none",
        "user": user, "decision": {"action": "allow", "message": None, "rule": None},
    } | extra  # fmt: skip
    return json.dumps(entry) + "\n"


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    directory = tmp_path / "policies"
    directory.mkdir()
    (directory / "main.yaml").write_text(POLICY, encoding="utf-8")
    return directory


def test_replay_writes_one_line_per_record_and_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.jsonl"
    summary = tmp_path / "summary.json"
    code = main(["replay", str(POLICIES), str(SAMPLE), "-o", str(out),
                 "--summary-json", str(summary)])  # fmt: skip
    assert code == 0
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 60
    assert [x["time"] for x in lines] == sorted(x["time"] for x in lines)
    assert set(lines[0]) == {
        "decision_id", "time", "platform", "event", "actor", "decision", "recorded", "same",
        "change",
    }  # fmt: skip
    captured = capsys.readouterr()
    assert captured.out == ""
    assert re.search(r"replayed 60 events in [\d.]+ s, [\d,]+ events/s", captured.err)
    assert "recorded under: rev-old (60)" in captured.err
    data = json.loads(summary.read_text(encoding="utf-8"))
    assert data["events"] == 60
    assert data["compared"] + data["degraded"] == 60


def test_without_o_the_lines_go_to_stdout_and_the_summary_to_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["replay", str(POLICIES), str(SAMPLE)]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 60
    assert all(json.loads(x)["decision_id"] for x in captured.out.splitlines())
    assert "replayed 60 events" in captured.err
    assert "decision_id" not in captured.err


def test_jobs_two_and_auto_write_the_same_lines(tmp_path: Path) -> None:
    records = corpus.write(tmp_path / "r.jsonl", seed=11, count=1500)
    outputs = []
    for jobs in ("1", "2", "auto"):
        out = tmp_path / f"out{jobs}.jsonl"
        assert main(["replay", str(POLICIES), str(records), "-o", str(out), "--jobs", jobs]) == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]


def test_records_of_several_files_and_directories_replay_in_time_order(
    policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rotated = tmp_path / "records"
    rotated.mkdir()
    (rotated / "a.jsonl").write_text(line(1, 1000.0) + line(3, 1002.0), encoding="utf-8")
    with gzip.open(rotated / "b.jsonl.gz", "wt", encoding="utf-8") as stream:
        stream.write(line(2, 1001.0))
    assert main(["replay", str(policy), str(rotated)]) == 0
    out = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["decision_id"] for x in out] == ["d1", "d2", "d3"]
    assert [x["decision"]["rule"] for x in out] == [None, None, "main/flood"]
    assert [x["change"] for x in out] == [None, None, "allow_to_deny"]


def test_counters_seed_starts_the_counters(
    policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = tmp_path / "r.jsonl"
    records.write_text(line(1, 1000.0), encoding="utf-8")
    seed = tmp_path / "seed.yaml"
    seed.write_text("per_minute: {u1: 5}\n", encoding="utf-8")
    assert main(["replay", str(policy), str(records), "--counters-seed", str(seed)]) == 0
    assert json.loads(capsys.readouterr().out)["decision"]["rule"] == "main/flood"
    seed.write_text("per_hour: {u1: 5}\n", encoding="utf-8")
    assert main(["replay", str(policy), str(records), "--counters-seed", str(seed)]) == 2
    assert "no counter 'per_hour'" in capsys.readouterr().err


def test_users_answers_instead_of_the_captured_records(
    policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = tmp_path / "r.jsonl"
    records.write_text(line(1, 1000.0, {"banned": False}), encoding="utf-8")
    users = tmp_path / "users.yaml"
    users.write_text("u1: {banned: true}\n", encoding="utf-8")
    assert main(["replay", str(policy), str(records)]) == 0
    assert json.loads(capsys.readouterr().out)["decision"]["action"] == "allow"
    assert main(["replay", str(policy), str(records), "--users", str(users)]) == 0
    assert json.loads(capsys.readouterr().out)["decision"]["rule"] == "main/banned"


def test_decision_log_lines_replay_and_the_summary_asks_for_users(
    policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "decisions.jsonl"
    entry = {
        "decision_id": "x1", "time": 1000.0, "platform": "socialplus",
        "event": "message.shouldCreate", "actor": "u1", "action": "allow", "rule": None,
        "message": None, "data": {"text": "hi"},
    }  # fmt: skip
    log.write_text(json.dumps(entry) + "\n", encoding="utf-8")
    assert main(["replay", str(policy), str(log)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["actor"] == "u1"
    assert "pass --users FILE" in captured.err


def test_a_bad_record_exits_2_naming_its_file_and_line(
    policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = tmp_path / "r.jsonl"
    records.write_text(line(1, 1000.0) + '{"record": 1, "time": "soon"}\n', encoding="utf-8")
    assert main(["replay", str(policy), str(records)]) == 2
    captured = capsys.readouterr()
    assert f"receiver: {records}:2: " in captured.err
    assert captured.out == ""
    assert main(["replay", str(policy), str(tmp_path / "missing.jsonl")]) == 2
    assert "no such file or directory" in capsys.readouterr().err


def test_broken_policies_exit_1_with_the_check_diagnostics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "p.yaml").write_text(
        "policy: p\nrules:\n  - id: r\n    events: [message.shouldCreate]\n"
        "    when: len(text) > 'long'\n    action: deny\n",
        encoding="utf-8",
    )
    assert main(["replay", str(broken), str(SAMPLE)]) == 1
    err = capsys.readouterr().err
    assert "p.yaml:5:" in err
    assert "run 'receiver check'" in err


@pytest.mark.parametrize("jobs", ["-1", "two", ""])
def test_a_bad_jobs_count_exits_2(jobs: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(POLICIES), str(SAMPLE), "--jobs", jobs]) == 2
    assert "--jobs: expected a number of processes or 'auto'" in capsys.readouterr().err


def test_a_bad_users_file_exits_2(
    policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    users = tmp_path / "users.yaml"
    users.write_text("[not, a, map]\n", encoding="utf-8")
    assert main(["replay", str(policy), str(SAMPLE), "--users", str(users)]) == 2
    assert str(users) in capsys.readouterr().err


@given(st.text(max_size=8))
def test_jobs_is_a_count_or_auto_and_nothing_else(text: str) -> None:
    try:
        jobs = jobs_of(text)
    except ValueError:
        assert text.strip().lower() not in ("0", "auto")
    else:
        assert jobs >= 1


def test_an_empty_record_file_replays_nothing_and_says_so(
    policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    assert main(["replay", str(policy), str(empty), "--jobs", "2"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "replayed 0 events" in captured.err
    assert "no records to replay" in captured.err


def test_a_file_still_being_written_has_its_cut_last_line_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    growing = tmp_path / "host.w0.000001.jsonl"
    growing.write_bytes(SAMPLE.read_bytes() + b'{"record": 1, "decision_id": "half')
    assert (
        main(["replay", str(POLICIES), str(tmp_path), "--summary-json", str(tmp_path / "s")]) == 0
    )
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 60
    assert f"left out: the last line of {growing}, cut short" in captured.err
    assert json.loads((tmp_path / "s").read_text())["cut_short"] == [str(growing)]
    assert main(["diff", str(POLICIES), str(POLICIES), str(growing), "--no-samples"]) == 0
    assert f"left out: the last line of {growing}, cut short" in capsys.readouterr().err
