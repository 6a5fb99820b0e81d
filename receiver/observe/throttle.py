"""At most one log line per kind and interval, for lines that outside traffic causes (the edge).

A forged request, or a payload whose field has a type that makes a rule fail, costs its
sender one request and would cost the operator one log line each: an easy way to
flood the logs, and to bury everything else in them. The service logs such lines
through a :class:`LogThrottle`: the first of a kind (a refusal reason, a failing rule)
at once, then at most one per ``interval`` seconds, saying how many were held back in
between. The metrics still count every one.
"""

from __future__ import annotations

import time
from collections.abc import Callable

MAX_KINDS = 1024  # kinds come from refusal reasons and rule ids; past this, start afresh


class LogThrottle:
    def __init__(self, interval: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}  # kind -> when its last line was logged
        self._held: dict[str, int] = {}  # kind -> lines held back since then

    def admit(self, kind: str) -> int:
        """-1 when a line of ``kind`` is to be held back; else log it, noting how many were
        held back since the last one (this returned value)."""
        now = self._clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.interval:
            self._held[kind] = self._held.get(kind, 0) + 1
            return -1
        if len(self._last) >= MAX_KINDS:
            self._last.clear()
            self._held.clear()
        self._last[kind] = now
        return self._held.pop(kind, 0)


def held_note(held: int) -> str:
    """The tail of a throttled line: how many like it were held back before it."""
    return f" ({held} more like this in the last interval, not logged)" if held > 0 else ""
