"""The recorder of ``serve --record`` (receiver/observe/recorder.py): sampled records queued
on the request path, written by the writer thread, read back by read_records; a disk that
fails loses records and counts them without raising."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.dsl.values import Duration, Timestamp
from receiver.observe.recorder import Recorder, RecordSettings
from receiver.observe.records import read_records, record_entry, record_line
from receiver.observe.sampling import actor_share
from receiver.runtime.decision import Decision
from receiver.runtime.payload import Event

WAIT = 5.0


def event(user: str) -> Event:
    return Event("message.shouldCreate", {"text": f"hi from {user}"}, {"userId": user})


def record(recorder: Recorder, n: int, user: str, **extra: Any) -> bool:
    return recorder.record(
        decision_id=f"d{n}", now=1764950400.0 + n / 1000, platform="socialplus",
        event=event(user), user_answer={"role": "member"}, user_asked=True,
        decision=Decision("allow"), revision="r1", **extra,
    )  # fmt: skip


def test_records_reach_the_files_and_read_back_in_order(tmp_path: Path) -> None:
    counts: dict[str, int] = {"written": 0}

    def written(n: int) -> None:
        counts["written"] += n

    recorder = Recorder(RecordSettings(tmp_path, max_bytes=600, keep=50), on_written=written)
    for n in range(20):
        assert record(recorder, n, f"u{n % 3}")
    assert recorder.close(WAIT)
    records = read_records([tmp_path])
    assert [r.decision_id for r in records] == [f"d{n}" for n in range(20)]
    assert records[0].user == {"role": "member"} and records[0].event == event("u0")
    assert counts["written"] == 20 and recorder.dropped == 0
    assert len(list(tmp_path.glob("*.jsonl"))) > 1  # rotated at 600 bytes
    for path in tmp_path.glob("*.jsonl"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_degraded_answer_is_recorded_and_marked(tmp_path: Path) -> None:
    recorder = Recorder(RecordSettings(tmp_path))
    record(recorder, 1, "u1", degraded_reason="deadline")
    assert recorder.close(WAIT)
    [only] = read_records([tmp_path])
    assert only.decision["degraded_reason"] == "deadline"


def test_only_sampled_actors_are_recorded_and_the_others_counted(tmp_path: Path) -> None:
    unsampled: list[int] = []
    recorder = Recorder(RecordSettings(tmp_path, sample=0.5), on_unsampled=unsampled.append)
    users = [f"user-{n}" for n in range(40)]
    for n, user in enumerate(users):
        record(recorder, n, user)
    assert recorder.close(WAIT)
    records = read_records([tmp_path])
    recorded = {r.event.actor["userId"] for r in records}
    assert recorded == {u for u in users if actor_share(u) < 0.5}
    assert sum(unsampled) == 40 - len(recorded) > 0
    # Each record says it was sampled, so that a replay can say what that means.
    assert {r.sample for r in records} == {0.5}


def test_a_record_of_every_actor_carries_no_sample(tmp_path: Path) -> None:
    recorder = Recorder(RecordSettings(tmp_path))
    record(recorder, 1, "user-1")
    assert recorder.close(WAIT)
    [line] = (tmp_path / name for name in os.listdir(tmp_path) if name.endswith(".jsonl"))
    assert "sample" not in json.loads(line.read_text())
    assert read_records([tmp_path])[0].sample == 1.0


def test_a_failing_disk_drops_and_counts_records_without_raising(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dropped: list[int] = []
    recorder = Recorder(RecordSettings(tmp_path), on_dropped=dropped.append)

    def full(fd: int, data: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    record(recorder, 1, "u1")
    assert recorder.flush(WAIT)
    monkeypatch.undo()
    record(recorder, 2, "u1")  # the disk has room again: recording goes on
    assert recorder.close(WAIT)
    assert sum(dropped) == recorder.dropped == 1
    assert [r.decision_id for r in read_records([tmp_path])] == ["d2"]


JSONISH = st.recursive(
    st.none() | st.booleans() | st.text(max_size=8)
    | st.floats(allow_nan=False, allow_infinity=False)  # JSON has no infinities
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.builds(Timestamp, st.floats(min_value=0, max_value=4e9))
    | st.builds(Duration, st.floats(min_value=0, max_value=1e6)),
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=5) | st.integers(0, 9), inner, max_size=3),
    max_leaves=12,
)  # fmt: skip


@given(data=st.dictionaries(st.text(max_size=5), JSONISH, max_size=4), user=JSONISH)
def test_a_record_line_holds_what_record_entry_holds(data: dict[str, Any], user: Any) -> None:
    fields: dict[str, Any] = {
        "decision_id": "d1", "now": 1764950400.25, "platform": "socialplus",
        "event": Event("message.shouldCreate", data, {"userId": "u1"}),
        "user_answer": {"profile": user}, "user_asked": True,
        "decision": Decision("allow"), "revision": "r1",
    }  # fmt: skip
    line = record_line(**fields)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == json.loads(json.dumps(record_entry(**fields), default=str))
