"""The console's feed: this worker's recent decisions and its per-minute rule counts.

Stage: the edge (observe), a sink of ``receiver serve --console``. Consumes each
decision as the service made it (its decision-log entry, built once for both sinks, and
the :class:`~receiver.runtime.decision.Decision`); produces the last ``capacity``
entries of this process, newest last, each with a sequence number (the explorer's
cursor), and per-minute counts over the last :data:`MINUTES` minutes: decisions,
degraded answers and errors in total, and per rule its hits, its disagreements with
the live answer (shadow rules and rollout rules outside their share) and its failures.
:meth:`DecisionFeed.snapshot` gives all of it as JSON-able data, for the console of
another worker (``receiver.console.sharing``).

On the request path :meth:`DecisionFeed.add` appends to a bounded deque and bumps a few
dict counters under a lock that nothing holds across I/O (a snapshot copies under it,
then encodes outside). Content (the message, the data) is in an entry only when the
decision log has it (``--log-content``); so is what re-explaining needs (the event,
``now``, the user record the rules saw), kept beside the entry and never shown as is.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from receiver.runtime.decision import Decision

MINUTES = 60  # the rule-health window
DEFAULT_BUFFER = 1000  # decisions kept per worker (--console-buffer)
HITS, DISAGREEMENTS, ERRORS = 0, 1, 2  # the fields of a rule's counts in a minute
DECISIONS, DEGRADED = 0, 1  # ... and of a minute's totals (then ERRORS again: 2)

# One kept decision: its sequence number in this process, its decision-log entry, and
# with content what re-explaining needs (else None).
Item = tuple[int, dict[str, Any], dict[str, Any] | None]
Minute = dict[str, Any]  # {"totals": [decisions, degraded, errors], "rules": {rule: [h, d, e]}}


def disagrees(shadow_action: str, shadow_message: str | None, decision: Decision) -> bool:
    """Whether a shadow result (or a rollout rule outside its share) would have answered
    differently from the live answer: another action, or both deny with another message."""
    if shadow_action != decision.action:
        return True
    return shadow_action == "deny" and shadow_message != decision.message


def replay_facts(
    *, platform: str, event_name: str, actor: Any, now: float, user: Any, user_asked: bool
) -> dict[str, Any]:
    """What deciding an event again needs besides its data (which the entry holds, with
    content): the event's name and actor, ``now`` and the user record the rules saw."""
    return {
        "platform": platform,
        "event": event_name,
        "actor": actor,
        "now": now,
        "user": user if isinstance(user, dict) else None,
        "user_asked": user_asked,
        "user_failed": user_asked and user is not None and not isinstance(user, dict),
    }


class DecisionFeed:
    """The recent decisions and the rule counts of this process (one per worker)."""

    def __init__(
        self,
        capacity: int = DEFAULT_BUFFER,
        *,
        content: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"the console buffer needs room for a decision, got {capacity}")
        self.capacity = capacity
        self.content = content  # --log-content: entries hold message and data
        self._clock = clock
        self._items: deque[Item] = deque(maxlen=capacity)
        self._minutes: dict[int, Minute] = {}
        self._seq = 0  # the last sequence number given
        self._lock = threading.Lock()

    @property
    def version(self) -> int:
        """Grows with every decision added: a writer compares it to see a change."""
        return self._seq

    def add(
        self, entry: dict[str, Any], decision: Decision, replay: dict[str, Any] | None = None
    ) -> None:
        """Keep one decision (its decision-log ``entry``, not copied: the caller is done
        with it) and count it in the current minute."""
        minute = int(self._clock() // 60)
        errors = decision.errors
        with self._lock:
            self._seq += 1
            self._items.append((self._seq, entry, replay if self.content else None))
            counts = self._minutes.get(minute)
            if counts is None:
                counts = self._new_minute(minute)
            totals = counts["totals"]
            totals[DECISIONS] += 1
            if entry.get("degraded_reason") or decision.degraded:
                totals[DEGRADED] += 1
            if errors:
                totals[ERRORS] += len(errors)
            rules: dict[str, list[int]] = counts["rules"]
            if decision.rule is not None:
                _bump(rules, decision.rule, HITS)
            for rule in decision.modified_by:
                if rule != decision.rule:
                    _bump(rules, rule, HITS)
            for shadow in decision.shadow:
                _bump(rules, shadow.rule, HITS)
                if disagrees(shadow.action, shadow.message, decision):
                    _bump(rules, shadow.rule, DISAGREEMENTS)
            for failure in errors:
                _bump(rules, failure.rule, ERRORS)

    def _new_minute(self, minute: int) -> Minute:
        """A minute's empty counts; minutes that left the window are dropped (lock held)."""
        for old in [m for m in self._minutes if m <= minute - MINUTES]:
            del self._minutes[old]
        counts: Minute = {"totals": [0, 0, 0], "rules": {}}
        self._minutes[minute] = counts
        return counts

    def items(self) -> list[Item]:
        """The kept decisions, oldest first."""
        with self._lock:
            return list(self._items)

    def find(self, decision_id: str) -> Item | None:
        """The kept decision with this id, or None (no longer kept, or never here)."""
        with self._lock:
            items = list(self._items)
        for item in reversed(items):
            if item[1].get("decision_id") == decision_id:
                return item
        return None

    def minutes(self) -> dict[int, Minute]:
        """The counts of each minute in the window, copied (minute: epoch seconds // 60)."""
        low = int(self._clock() // 60) - MINUTES
        with self._lock:
            return {
                minute: {
                    "totals": list(counts["totals"]),
                    "rules": {rule: list(c) for rule, c in counts["rules"].items()},
                }
                for minute, counts in self._minutes.items()
                if minute > low
            }

    def snapshot(self) -> dict[str, Any]:
        """Everything above as JSON-able data: ``seq``, ``content``, ``capacity``,
        ``items`` (``[seq, entry, replay]``, oldest first) and ``minutes``."""
        minutes = self.minutes()
        with self._lock:
            items = list(self._items)
            seq = self._seq
        return {
            "seq": seq,
            "content": self.content,
            "capacity": self.capacity,
            "items": [list(item) for item in items],
            "minutes": {str(minute): counts for minute, counts in minutes.items()},
        }


def _bump(rules: dict[str, list[int]], rule: str, field: int) -> None:
    counts = rules.get(rule)
    if counts is None:
        counts = rules[rule] = [0, 0, 0]
    counts[field] += 1
