"""The decision log's writing (receiver/decisionlog.py): batched per event-loop turn.

Lines written while a loop runs reach the stream in one write after the current turn;
without a loop each line is written at once; close() writes what is pending; a
stream that fails loses those lines and logs it, without raising into a request.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receiver.decision import Decision
from receiver.decisionlog import DecisionLog, _milliseconds
from receiver.payload import parse_event


class CountingStream(io.BytesIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.writes += 1
        return super().write(data)


def entry(log: DecisionLog, decision_id: str) -> dict[str, object]:
    event = parse_event({"eventName": "message.shouldCreate", "data": {"text": "hi"}})
    return log.record(
        decision_id=decision_id, platform="socialplus", event=event,
        decision=Decision("allow"), revision="r1", latency=0.001,
    )  # fmt: skip


def lines(stream: io.BytesIO) -> list[str]:
    return [json.loads(line)["decision_id"] for line in stream.getvalue().splitlines()]


def test_lines_of_one_loop_turn_are_written_together_after_it() -> None:
    stream = CountingStream()
    log = DecisionLog(stream)

    async def turn() -> list[str]:
        for n in range(5):
            log.write(entry(log, f"d{n}"))
        written_during_the_turn = lines(stream)
        await asyncio.sleep(0)  # the loop runs its next turn
        return written_during_the_turn

    assert asyncio.run(turn()) == []
    assert lines(stream) == ["d0", "d1", "d2", "d3", "d4"]
    assert stream.writes == 1


def test_without_an_event_loop_each_line_is_written_at_once() -> None:
    stream = CountingStream()
    log = DecisionLog(stream)
    log.write(entry(log, "a"))
    assert lines(stream) == ["a"]
    log.write(entry(log, "b"))
    assert lines(stream) == ["a", "b"] and stream.writes == 2


def test_close_writes_what_is_pending() -> None:
    stream = CountingStream()
    log = DecisionLog(stream)

    async def write_then_close() -> None:
        log.write(entry(log, "last"))
        log.close()

    asyncio.run(write_then_close())
    assert lines(stream) == ["last"]


def test_a_failing_stream_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    class Full(io.BytesIO):
        def write(self, data: bytes) -> int:  # type: ignore[override]
            raise OSError(28, "No space left on device")

    log = DecisionLog(Full())
    with caplog.at_level(logging.ERROR, logger="receiver.decisionlog"):
        log.write(entry(log, "lost"))
    assert "could not write 1 decision log line(s)" in caplog.text


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
