"""The decision log's writing (receiver/observe/decisionlog.py): a bounded queue and a writer
thread.

write() only queues: the writer thread writes everything queued in one call; a stalled
sink fills the queue, and further lines are dropped and counted without write()
waiting; close() writes out everything queued, and gives up after a bounded wait on a
sink that takes nothing; a stream that fails loses those lines and logs it, without
raising into a request.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receiver.observe.decisionlog import DecisionLog, _milliseconds, decision_entry, write_all
from receiver.runtime.decision import Decision, RolloutResult
from receiver.runtime.payload import Event, parse_event

WAIT = 5.0  # seconds: the longest any test waits for the writer thread


class CountingStream(io.BytesIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, data: Any) -> int:
        self.writes += 1
        return super().write(data)


class StalledStream(CountingStream):
    """A sink whose writes block until ``release`` is set (a pipe nobody reads)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Event()  # a write is blocked in the sink

    def write(self, data: Any) -> int:
        self.entered.set()
        if not self.release.wait(WAIT * 4):
            raise AssertionError("the test never released the sink")
        return super().write(data)


def entry(log: DecisionLog, decision_id: str) -> dict[str, object]:
    event = parse_event({"eventName": "message.shouldCreate", "data": {"text": "hi"}})
    return log.record(
        decision_id=decision_id, platform="socialplus", event=event,
        decision=Decision("allow"), revision="r1", latency=0.001,
    )  # fmt: skip


def lines(stream: io.BytesIO) -> list[str]:
    return [json.loads(line)["decision_id"] for line in stream.getvalue().splitlines()]


def test_a_written_line_reaches_the_stream_from_the_writer_thread() -> None:
    stream = CountingStream()
    log = DecisionLog(stream)
    log.write(entry(log, "a"))
    assert log.flush(WAIT)
    log.write(entry(log, "b"))
    assert log.flush(WAIT)
    assert lines(stream) == ["a", "b"]
    assert log.close()


def test_lines_queued_while_the_writer_writes_go_out_in_one_call() -> None:
    stream = StalledStream()
    log = DecisionLog(stream)
    log.write(entry(log, "first"))
    assert stream.entered.wait(WAIT)  # the writer holds "first", blocked in the sink
    for n in range(5):
        log.write(entry(log, f"d{n}"))
    stream.release.set()
    assert log.flush(WAIT)
    assert lines(stream) == ["first", "d0", "d1", "d2", "d3", "d4"]
    assert stream.writes == 2
    assert log.close()


def test_a_stalled_sink_never_blocks_write_and_extra_lines_are_dropped_and_counted() -> None:
    stream = StalledStream()
    counted: list[int] = []
    log = DecisionLog(stream, capacity=10, on_drop=counted.append)
    log.write(entry(log, "held"))
    assert stream.entered.wait(WAIT)
    started = time.monotonic()
    for n in range(1000):
        log.write(entry(log, f"d{n}"))
    assert time.monotonic() - started < 1.0  # a thousand writes, none waiting for the sink
    assert log.dropped == 990 and sum(counted) == 990
    stream.release.set()
    assert log.flush(WAIT)
    assert lines(stream) == ["held"] + [f"d{n}" for n in range(10)]  # the first ten queued
    assert log.close()


def test_the_queue_is_bounded_in_bytes_too() -> None:
    stream = StalledStream()
    log = DecisionLog(stream, max_bytes=1000)
    log.write(entry(log, "held"))
    assert stream.entered.wait(WAIT)
    for n in range(20):
        log.write(entry(log, f"d{n}"))
    line_size = len(json.dumps(entry(log, "d0"), separators=(",", ":"))) + 1
    assert 0 < log.dropped == 20 - 1000 // line_size
    stream.release.set()
    assert log.close()


def test_close_writes_everything_queued_and_closes_an_owned_stream() -> None:
    stream = CountingStream()
    log = DecisionLog(stream, owned=True)
    for n in range(1000):
        log.write(entry(log, f"d{n}"))
    written: list[str] = []
    stream.close = lambda: written.extend(lines(stream))  # type: ignore[method-assign]
    assert log.close()
    assert written == [f"d{n}" for n in range(1000)]
    assert log.dropped == 0


def test_close_gives_up_on_a_stalled_sink_after_a_bounded_wait(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stream = StalledStream()
    log = DecisionLog(stream, close_timeout=0.2)
    for n in range(3):
        log.write(entry(log, f"d{n}"))
    assert stream.entered.wait(WAIT)
    started = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="receiver.observe.decisionlog"):
        assert log.close() is False
    assert 0.15 < time.monotonic() - started < 2.0
    assert "giving up on 3 line(s)" in caplog.text
    log.write(entry(log, "after close"))  # dropped and counted: the log is closed
    assert log.dropped == 1
    stream.release.set()  # the writer finishes what it held, then stops
    assert log.flush(WAIT)
    assert lines(stream) == ["d0", "d1", "d2"]


def test_a_failing_stream_is_logged_and_counted_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Full(io.BytesIO):
        def write(self, data: Any) -> int:
            raise OSError(28, "No space left on device")

    counted: list[int] = []
    log = DecisionLog(Full(), on_drop=counted.append)
    with caplog.at_level(logging.ERROR, logger="receiver.observe.decisionlog"):
        log.write(entry(log, "lost"))
        assert log.flush(WAIT)
        log.write(entry(log, "lost too"))  # within 10 s of the first: counted, not logged
        assert log.flush(WAIT)
    assert caplog.text.count("could not write") == 1
    assert "could not write 1 decision log line(s): No space left on device" in caplog.text
    assert log.dropped == 2 and counted == [1, 1]
    assert log.close()


def test_write_all_finishes_partial_and_refused_writes() -> None:
    class Trickle(io.BytesIO):
        """A raw non-blocking pipe: full at first (None), then three bytes a call."""

        calls = 0

        def write(self, data: Any) -> int | None:  # type: ignore[override]
            self.calls += 1
            if self.calls == 1:
                return None
            return super().write(bytes(data[:3]))

    stream = Trickle()
    write_all(stream, b'{"a":1}\n{"b":2}\n')
    assert stream.getvalue() == b'{"a":1}\n{"b":2}\n'
    assert stream.calls == 1 + 6


def test_a_queue_without_room_is_refused() -> None:
    with pytest.raises(ValueError, match="room for a line"):
        DecisionLog(io.BytesIO(), capacity=0)


@settings(max_examples=2000)
@given(st.floats(min_value=0, max_value=4e9, allow_nan=False))
def test_times_and_latencies_are_rounded_to_three_decimals(value: float) -> None:
    rounded = _milliseconds(value)
    assert abs(rounded - value) <= 0.0005 + 1e-9 * value  # to the nearest thousandth
    assert rounded == round(rounded, 3)  # and printed with at most three decimals
    decimals = repr(rounded).partition(".")[2]
    assert "e" in decimals or len(decimals) <= 3


def test_a_record_has_millisecond_time_and_microsecond_latency() -> None:
    record = entry(DecisionLog(io.BytesIO()), "d1")
    assert record["latency_ms"] == 1.0
    assert isinstance(record["time"], float)
    assert len(repr(record["time"]).partition(".")[2]) <= 3


def test_a_record_names_the_way_of_each_rollout_rule_that_matched() -> None:
    log = DecisionLog(io.BytesIO())
    event = parse_event({"eventName": "message.shouldCreate", "data": {"text": "hi"}})
    plain = entry(log, "d1")
    assert "rollout" not in plain  # absent when no rollout rule matched
    rolled = Decision(
        "allow",
        rollouts=[RolloutResult("p/a", 10.0, 731, True), RolloutResult("p/b", 5.0, None, False)],
    )
    record = log.record(
        decision_id="d2", platform="socialplus", event=event,
        decision=rolled, revision="r1", latency=0.001,
    )  # fmt: skip
    assert record["rollout"] == [
        {"rule": "p/a", "bucket": 731, "enforced": True},
        {"rule": "p/b", "bucket": None, "enforced": False},
    ]
    json.dumps(record)


def test_the_time_is_the_instant_the_rules_saw_when_given() -> None:
    # The service passes the decision's now(): a replay of a --log-content log decides
    # at that instant (to the millisecond), not at when the line was built.
    event = Event("message.shouldCreate", {"text": "hi"}, {"userId": "u1"})
    line = decision_entry(
        decision_id="d1", platform="socialplus", event=event, decision=Decision("allow"),
        revision="r", latency=0.001, now=1_764_950_400.1234567,
    )  # fmt: skip
    assert line["time"] == 1_764_950_400.123
