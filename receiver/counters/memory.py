"""The in-memory counter backend: exact sliding windows, bounded memory, thread-safe.

The edge of counting: a backend that stage 4 (run) calls, in one process. Consumes the
counter operations of an event (:class:`~receiver.runtime.counters.Op`, from its counter
plan) and the time in milliseconds; produces one count per operation
(:meth:`MemoryBackend.apply`).

Per counter (and window), an insertion-ordered map from key to the key's entries,
ordered by last write. A plain count keeps a deque of event times (milliseconds); a
distinct count keeps an ordered map from value to the time it was last seen. Every
operation first drops what left the window (from the old end: amortized O(1)), then
evicts idle keys from the front of the key map (a key whose last write left the window
holds nothing that counts any more), and finally the least recently written key when a
counter holds more than ``max_keys`` keys. Each key keeps at most ``max_per_key``
entries (the oldest go first), so counts saturate there.

The semantics are exactly the Redis backend's (receiver/counters/redis_backend.py): an entry
written at time ``t`` counts while ``now - window < t``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Sequence
from itertools import repeat

from receiver.counters.settings import DEFAULT_MAX_KEYS, DEFAULT_MAX_PER_KEY
from receiver.runtime.counters import Op

Entries = deque[int] | OrderedDict[str, int]


_NEVER = -(2**62)


class _Store:
    __slots__ = ("distinct", "front", "keys", "window")

    def __init__(self, window: int, distinct: bool) -> None:
        self.window = window
        self.distinct = distinct
        self.keys: OrderedDict[str, Entries] = OrderedDict()
        # A lower bound of the first key's last write (keys are ordered by last write, so
        # of every key's): while it is inside the window no key is idle, and an operation
        # skips looking at the first key. Writes only raise the true value, so the bound
        # is refreshed only when it falls out of the window.
        self.front = _NEVER


def _last_write(entries: Entries) -> int:
    if isinstance(entries, deque):
        return entries[-1] if entries else _NEVER
    return next(reversed(entries.values()), _NEVER)


def _prune(entries: Entries, floor: int) -> None:
    if isinstance(entries, deque):
        while entries and entries[0] <= floor:
            entries.popleft()
    else:
        while entries:
            first = next(iter(entries.values()))
            if first > floor:
                break
            entries.popitem(last=False)


class MemoryBackend:
    """Counters of this process only. ``apply`` is synchronous and takes a lock."""

    name = "memory"

    def __init__(
        self, max_keys: int = DEFAULT_MAX_KEYS, max_per_key: int = DEFAULT_MAX_PER_KEY
    ) -> None:
        self.max_keys = max_keys
        self.max_per_key = max_per_key
        self._stores: dict[tuple[str, int, bool], _Store] = {}
        self._lock = threading.Lock()
        self.evicted = 0  # keys evicted before they were idle (max_keys reached)

    def apply(self, ops: Sequence[Op], now_ms: int) -> list[int]:
        """Each operation's value after it (an add counts itself), in order."""
        one = self._one
        with self._lock:
            return list(map(one, ops, repeat(now_ms, len(ops))))

    async def apply_async(self, ops: Sequence[Op], now_ms: int) -> list[int]:
        return self.apply(ops, now_ms)

    def _store(self, op: Op) -> _Store:
        ident = (op.counter, op.window_ms, op.distinct)
        store = self._stores.get(ident)
        if store is None:
            store = self._stores[ident] = _Store(op.window_ms, op.distinct)
        return store

    def _one(self, op: Op, now: int) -> int:
        counter, window, key, distinct, member, add, _, _ = op  # text: this process only
        store = self._stores.get((counter, window, distinct)) or self._store(op)
        floor = now - window
        keys = store.keys
        if store.front <= floor and keys:
            # idle keys (everything they hold left the window) go, oldest write first
            self._evict_idle(keys, floor)
            store.front = _last_write(next(iter(keys.values()))) if keys else _NEVER
        entries = keys.get(key)
        if entries is None:
            if not add:
                return 0
            entries = OrderedDict() if distinct else deque()
            keys[key] = entries
            if len(keys) > self.max_keys:
                keys.popitem(last=False)
                self.evicted += 1
        elif add:
            keys.move_to_end(key)
        if type(entries) is deque:
            while entries and entries[0] <= floor:
                entries.popleft()
            if add:
                entries.append(now)
                if len(entries) > self.max_per_key:
                    entries.popleft()
            return len(entries)
        assert isinstance(entries, OrderedDict)
        _prune(entries, floor)
        if add:
            name = member or ""
            entries[name] = now
            entries.move_to_end(name)
            if len(entries) > self.max_per_key:
                entries.popitem(last=False)
        return len(entries)

    @staticmethod
    def _evict_idle(keys: OrderedDict[str, Entries], floor: int) -> None:
        while keys:
            first_key = next(iter(keys))
            if _last_write(keys[first_key]) > floor:
                return
            del keys[first_key]

    def seed(self, op: Op, value: int, now_ms: int) -> None:
        """Make ``op.key`` hold ``value`` entries written at ``now_ms`` (policy tests, eval)."""
        with self._lock:
            store = self._store(op)
            entries: Entries
            if store.distinct:
                entries = OrderedDict((f"\0seed:{i}", now_ms) for i in range(value))
            else:
                entries = deque([now_ms] * value)
            store.keys[op.key] = entries
            store.keys.move_to_end(op.key)
            store.front = _NEVER  # a seed may be older than the keys written before it

    def key_count(self) -> int:
        """Keys held over all counters (for tests and metrics)."""
        with self._lock:
            return sum(len(s.keys) for s in self._stores.values())
