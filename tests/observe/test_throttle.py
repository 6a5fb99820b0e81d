"""receiver.observe.throttle: at most one log line per kind and interval, counting the rest."""

from __future__ import annotations

from receiver.observe.throttle import MAX_KINDS, LogThrottle, held_note


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_first_line_of_a_kind_passes_and_the_next_ones_wait_for_the_interval() -> None:
    clock = Clock()
    throttle = LogThrottle(10.0, clock)
    assert throttle.admit("mismatch") == 0
    assert [throttle.admit("mismatch") for _ in range(5)] == [-1] * 5
    clock.now += 9.9
    assert throttle.admit("mismatch") == -1
    clock.now += 0.1
    assert throttle.admit("mismatch") == 6  # logged, saying six were held back
    assert throttle.admit("mismatch") == -1


def test_kinds_are_throttled_apart() -> None:
    throttle = LogThrottle(10.0, Clock())
    assert throttle.admit("socialplus:mismatch") == 0
    assert throttle.admit("braincloud:mismatch") == 0
    assert throttle.admit("rule:spam/links") == 0
    assert throttle.admit("socialplus:mismatch") == -1


def test_the_kinds_kept_are_bounded() -> None:
    throttle = LogThrottle(10.0, Clock())
    for n in range(MAX_KINDS * 3):
        assert throttle.admit(f"rule:r{n}") == 0
    assert len(throttle._last) <= MAX_KINDS


def test_the_note_says_how_many_were_held_back() -> None:
    assert held_note(0) == ""
    assert held_note(3) == " (3 more like this in the last interval, not logged)"
