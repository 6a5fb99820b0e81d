"""The user cache: a bounded TTL cache in front of a remote directory.

The edge (user records): a user source that stage 4 (run) asks, in the service. Consumes a
user id (and what is left of the deadline) and a remote :class:`Directory`; produces the
record, None (no such user) or :data:`~receiver.runtime.inputs.LOOKUP_FAILED`
(:meth:`UserCache.lookup`).

- hits are served from memory (cachetools ``TLRUCache``: per-entry expiry, bounded size);
- "not found" answers are cached too, for a shorter time;
- single flight: concurrent lookups of the same uncached user share one directory call;
- every lookup waits at most ``timeout`` (and never past the request's deadline); the
  directory call itself goes on in the background and fills the cache for later;
- on timeout or error, an entry that expired less than ``stale_for`` ago is served
  (stale-if-error); otherwise the answer is :data:`LOOKUP_FAILED`, so ``user`` is null
  and ``user_lookup_failed()`` is true;
- :meth:`evict` drops a user at once (the platform's user webhooks call it, here or, through
  :mod:`receiver.users.broadcast`, in another worker); :meth:`evict_all` drops everyone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cachetools import TLRUCache

from receiver.runtime.inputs import LOOKUP_FAILED, MISS
from receiver.users.directory import DirectoryError

log = logging.getLogger("receiver.users.cache")


class Directory(Protocol):
    async def fetch(self, user_id: str) -> dict[str, Any] | None: ...


class CacheMetrics(Protocol):
    def lookup(self, result: str) -> None: ...
    def directory_call(self, seconds: float, failure: str | None) -> None: ...


@dataclass(slots=True)
class _Entry:
    record: dict[str, Any] | None
    fresh_until: float
    expires_at: float  # fresh_until + stale window: after this the entry is gone


@dataclass(frozen=True)
class CacheSettings:
    maxsize: int = 10_000
    ttl: float = 60.0
    negative_ttl: float = 10.0
    stale_for: float = 300.0
    timeout: float = 0.3


class UserCache:
    def __init__(
        self,
        directory: Directory,
        settings: CacheSettings = CacheSettings(),
        metrics: CacheMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = directory
        self.settings = settings
        self.metrics = metrics
        self._clock = clock
        self._cache: TLRUCache[str, _Entry] = TLRUCache(
            maxsize=settings.maxsize, ttu=lambda _k, v, _now: v.expires_at, timer=clock
        )
        self._inflight: dict[str, asyncio.Task[dict[str, Any] | None]] = {}
        self._evicted: set[asyncio.Task[Any] | None] = set()
        self.fetch_timeout = max(settings.timeout * 3, 1.0)

    def __len__(self) -> int:
        return len(self._cache)

    def evict(self, user_id: str) -> bool:
        """Forget a user now; an in-flight fetch for it will not be cached."""
        task = self._inflight.pop(user_id, None)
        if task is not None:
            self._evicted.add(task)
        return self._cache.pop(user_id, None) is not None

    def evict_all(self) -> int:
        """Forget every user now (after missed evictions); in-flight fetches are not cached.
        The number of cached users dropped."""
        self._evicted.update(self._inflight.values())
        self._inflight.clear()
        dropped = len(self._cache)
        self._cache.clear()
        return dropped

    def _count(self, result: str) -> None:
        if self.metrics is not None:
            self.metrics.lookup(result)

    def fresh(self, user_id: str) -> Any:
        """The cached answer while it is fresh (counted as a hit), else ``MISS``; no await."""
        try:
            entry: _Entry = self._cache[user_id]
        except KeyError:
            return MISS
        if self._clock() < entry.fresh_until:
            self._count("hit" if entry.record is not None else "negative-hit")
            return entry.record
        return MISS

    async def lookup(self, user_id: str, remaining: float | None = None) -> Any:
        """The user's record, ``None`` (no such user) or ``LOOKUP_FAILED``."""
        try:  # not .get(): TLRUCache.get costs about three times as much on this hot path
            entry: _Entry | None = self._cache[user_id]
        except KeyError:
            entry = None
        now = self._clock()
        if entry is not None and now < entry.fresh_until:
            self._count("hit" if entry.record is not None else "negative-hit")
            return entry.record
        timeout = self.settings.timeout
        if remaining is not None:
            timeout = min(timeout, remaining)
        task = self._inflight.get(user_id)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._fetch(user_id))
            # nobody may be waiting (no time left): mark a failure as seen, it is counted
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._inflight[user_id] = task
        if timeout > 0:
            try:
                record = await asyncio.wait_for(asyncio.shield(task), timeout)
            except (TimeoutError, DirectoryError):
                pass
            except Exception:
                log.exception("user directory lookup of %s failed unexpectedly", user_id)
            else:
                self._count("miss")
                return record
        if entry is not None and now < entry.expires_at:
            self._count("stale")
            return entry.record
        self._count("failed")
        return LOOKUP_FAILED

    async def _fetch(self, user_id: str) -> dict[str, Any] | None:
        started = self._clock()
        me = asyncio.current_task()
        failure: str | None = None
        try:
            record = await asyncio.wait_for(self.directory.fetch(user_id), self.fetch_timeout)
        except TimeoutError:
            failure = "timeout"
            raise DirectoryError("timed out") from None
        except DirectoryError as err:
            failure = "error"
            log.warning("user directory failed for a lookup: %s", err)
            raise
        except Exception:
            failure = "error"  # unexpected (a bug in a directory): still a failed call
            raise
        finally:
            if self.metrics is not None:
                self.metrics.directory_call(self._clock() - started, failure)
            if self._inflight.get(user_id) is me:
                del self._inflight[user_id]
            evicted = me in self._evicted  # evicted while in flight: the answer may be old
            self._evicted.discard(me)
        if not evicted:
            now = self._clock()
            ttl = self.settings.ttl if record is not None else self.settings.negative_ttl
            self._cache[user_id] = _Entry(record, now + ttl, now + ttl + self.settings.stale_for)
        return record
