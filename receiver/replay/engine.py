"""Replaying recorded events through a policy set with the production decision path.

The edge of replay (``receiver replay``, ``receiver diff``). Consumes a
:class:`~receiver.runtime.policyset.PolicySet` and :class:`~receiver.observe.records.Record`
values in time order; produces one :class:`Replayed` per record: the record and the
:class:`~receiver.runtime.decide.Decided` of its event, decided by
:func:`~receiver.runtime.decide.decide`, the same steps the service takes.

What each decision sees:

- ``now()`` is the recorded instant, so account ages and counter windows are the ones
  production saw;
- counters start empty (or from a seed) in a :class:`~receiver.counters.memory.MemoryBackend`
  and are fed in the records' order: replay records in time order. An event recorded
  while the counter backend could not answer (``counters: unavailable``) is decided as
  the service decided it, with counters unavailable (and still counted); one recorded
  with a worker's fallback counters is decided with the replay's counters, and counted
  in :class:`ReplayStats` (``counters_fallback``);
- ``user`` is the record captured with the event (``user_lookup``: ``found`` gives the
  record, ``none`` no such user, ``failed`` the lookup-failed fail-safe), unless a user
  directory is given, which then answers every lookup. A record whose event did not read
  ``user`` in production (``not-needed``), or a decision-log line (``unknown``), has no
  captured user: a rule that reads it now sees no such user, and :class:`ReplayStats`
  counts it (``users_missing``), so that a report can say to pass ``--users``;
- a record whose answer was the fail-safe one is replayed as the service decided it:
  ``deadline``, its event counted and no rule evaluated (so that nothing strikes, as
  nothing struck in the service, whose rules ran out of time); ``not-ready`` (no
  policies yet), nothing counted either. An internal ``error`` is decided in full.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from receiver.counters.memory import MemoryBackend
from receiver.counters.seed import seed_mapping
from receiver.dsl.values import Timestamp
from receiver.observe.records import Record
from receiver.runtime.decide import Decided, decide
from receiver.runtime.inputs import LOOKUP_FAILED, UserLookup
from receiver.runtime.policyset import PolicySet

UNLIMITED_KEYS: Final = sys.maxsize  # keys per counter a replay keeps: all of them
PAST: Final = float("-inf")  # a deadline already passed: evaluation stops at the first rule


class Replayed(NamedTuple):
    """One recorded event and its decision on the replayed policy set."""

    record: Record
    decided: Decided


@dataclass
class ReplayStats:
    """What a replay could not reproduce exactly, for its summary."""

    events: int = 0
    users_missing: int = 0  # a rule read ``user`` and the record had none captured
    counters_unavailable: int = 0  # recorded while the counter backend could not answer
    counters_fallback: int = 0  # recorded with a worker's own fallback counters
    by_platform: dict[str, int] = field(default_factory=dict)


def captured_user(record: Record, stats: ReplayStats) -> UserLookup:
    """The user source of one replayed event: the record captured with it."""

    def lookup(_user_id: str) -> Any:
        state = record.user_lookup
        if state == "found":
            return record.user
        if state == "failed":
            return LOOKUP_FAILED
        if state != "none":  # not captured: read as no such user, and say so
            stats.users_missing += 1
        return None

    return lookup


def fresh_counters(
    policies: PolicySet,
    seeds: Mapping[str, Any] | None,
    now: float,
    where: str,
    *,
    max_keys: int = UNLIMITED_KEYS,
) -> MemoryBackend:
    """The counters a replay starts from: empty, or seeded as ``receiver eval`` seeds them
    (``{counter: {key: value}}``), the seeds counted at ``now`` (the first record's time).
    ``max_keys``: keys kept per counter before the least recently written one is dropped;
    by default no limit, as Redis has none, so that a key's count does not depend on how
    many other keys the same replay holds (the service's memory backend keeps a limit
    because it runs for ever; a replay ends)."""
    backend = MemoryBackend(max_keys=max_keys)
    if seeds is not None:
        seed_mapping(backend, policies.counters, seeds, Timestamp(now), where)
    return backend


def replay(
    policies: PolicySet,
    records: Iterable[Record],
    *,
    users: UserLookup | None = None,
    counters: MemoryBackend | None = None,
    stats: ReplayStats | None = None,
) -> Iterator[Replayed]:
    """Decide each record's event on ``policies``, in the order given (time order).

    ``users``: a directory answering every lookup instead of the captured records;
    ``counters``: the backend to count in (default: empty), shared by every event.
    """
    backend = counters if counters is not None else MemoryBackend(max_keys=UNLIMITED_KEYS)
    stats = stats if stats is not None else ReplayStats()
    for record in records:
        stats.events += 1
        stats.by_platform[record.platform] = stats.by_platform.get(record.platform, 0) + 1
        source = users if users is not None else captured_user(record, stats)
        unavailable = record.counters == "unavailable"
        if unavailable:
            stats.counters_unavailable += 1
        elif record.counters == "fallback":
            stats.counters_fallback += 1
        # A fail-safe answer: the service counted the event (its counters were prepared
        # first) but its rules ran out of time, so nothing struck; with no policies yet it
        # counted nothing either. Replayed so: the evaluation stops before the first rule.
        reason = record.decision.get("degraded_reason") if record.degraded else None
        decided = decide(
            policies, record.event, Timestamp(record.time), users=source,
            counters=None if reason == "not-ready" else backend,
            decision_id=record.decision_id, counters_unavailable=unavailable,
            deadline=PAST if reason in ("deadline", "not-ready") else None,
        )  # fmt: skip
        yield Replayed(record, decided)
