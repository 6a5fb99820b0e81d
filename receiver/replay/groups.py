"""Splitting a replay over processes without changing a single decision.

The edge of replay (``receiver replay --jobs N``). Consumes the policy set and the records
in time order; produces groups of record positions (:func:`partition`) such that records
in different groups never touch the same counter key, and bins of groups for the worker
processes (:func:`spread`), balanced by size.

Counters are the only state one decision leaves for the next: two events that read or
add to the same key of the same counter within its window must be decided in one
process, in time order. Each record's keys are computed up front, as the decision
computes them (:func:`~receiver.runtime.counters.prepare` on its event at its time),
including the keys of decision counters, which a strike may add to after the decision.
A key's adds split into sessions where the gap between two adds reaches the window
(:func:`sessions`): nothing of one session is left in the window when the next starts.
Records connected through shared key sessions (union-find) form a group; a record
without one is a group of its own. Every process seeds the same ``--counters-seed``
values, so seeds link nothing.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Hashable, Sequence
from typing import Any, NamedTuple

from receiver.dsl.values import Timestamp
from receiver.observe.records import Record
from receiver.runtime.counters import prepare
from receiver.runtime.policyset import PolicySet

CounterKey = tuple[str, str]  # (counter id, key text)


class Touch(NamedTuple):
    """A counter key that one record's decision reads or adds to."""

    key: CounterKey
    window_ms: int
    adds: bool  # an event counter it feeds, or a decision counter it may strike


def counter_keys(policies: PolicySet, record: Record) -> list[Touch]:
    """The counter keys a record's decision touches, computed as the decision computes
    them, and whether it may add to each."""
    plan = policies.plan(record.event.name)
    if not plan:
        return []
    prepared = prepare(plan, record.event, Timestamp(record.time))
    ops = prepared.ops
    return [
        Touch(
            (planned.id, key),
            planned.window_ms,
            bool(planned.strikes) or (index is not None and ops[index].add),
        )
        for planned, key, index in prepared.slots
        if key is not None
    ]


def connected(keys: Sequence[Collection[Hashable]]) -> list[list[int]]:
    """Positions grouped by shared keys (union-find): ``keys[i]`` are item i's keys; two
    items sharing a key, directly or through others, are in one group. Each group lists
    its positions in ascending order; groups are ordered by their first position."""
    parent = list(range(len(keys)))

    def root(item: int) -> int:
        while parent[item] != item:
            parent[item] = parent[parent[item]]  # path halving
            item = parent[item]
        return item

    owner: dict[Hashable, int] = {}
    for item, item_keys in enumerate(keys):
        for key in item_keys:
            first = owner.setdefault(key, item)
            if first != item:
                a, b = root(first), root(item)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for item in range(len(keys)):
        groups.setdefault(root(item), []).append(item)
    return list(groups.values())


def partition(policies: PolicySet, records: Sequence[Record]) -> list[list[int]]:
    """The records' positions (records in time order) in groups that share no counter
    state: see :func:`sessions` for what links two records."""
    if not policies.counters:
        return [[position] for position in range(len(records))]
    return connected(sessions(records, [counter_keys(policies, r) for r in records]))


def sessions(records: Sequence[Record], touches: Sequence[Sequence[Touch]]) -> list[list[Any]]:
    """Each record's links: the sessions of the counter keys whose count it depends on.

    A key's session is a run of adds to it, each within the counter's window of the one
    before: an add after a longer gap finds everything before it out of the window (the
    backends drop an entry written at ``t`` once ``now - window >= t``) and starts a new
    session. A record that reads a key links to the key's current session if its last add
    is still inside the window, and to nothing otherwise (it reads the seed, or 0, in any
    process). Times are whole milliseconds, as the counters see them."""
    last_add: dict[CounterKey, int] = {}
    current: dict[CounterKey, int] = {}
    links: list[list[Any]] = []
    for record, touched in zip(records, touches, strict=True):
        now = int(record.time * 1000)  # receiver.runtime.counters.now_ms
        mine: list[Any] = []
        for key, window_ms, adds in touched:
            last = last_add.get(key)
            if last is not None and now - last < window_ms:
                mine.append((key, current[key]))
            elif adds:
                current[key] = current.get(key, -1) + 1
                mine.append((key, current[key]))
            if adds:
                last_add[key] = now
        links.append(mine)
    return links


def spread(groups: Sequence[Sequence[int]], bins: int) -> list[list[int]]:
    """Groups packed into at most ``bins`` bins of about equal size (the largest group
    first, each into the smallest bin so far); each bin's positions in ascending order.
    Empty bins are left out."""
    if bins < 1:
        raise ValueError("bins must be at least 1")
    heap: list[tuple[int, int]] = [(0, number) for number in range(bins)]
    contents: list[list[int]] = [[] for _ in range(bins)]
    for group in sorted(groups, key=len, reverse=True):
        size, number = heapq.heappop(heap)
        contents[number].extend(group)
        heapq.heappush(heap, (size + len(group), number))
    return [sorted(positions) for positions in contents if positions]
