"""receiver/users/cache.py: UserCache (expiry, negative caching, stale-if-error, single
flight, deadlines, eviction) against an in-memory directory and the real HTTP fake.
HttpDirectory itself is tested in test_directory.py.

Expiry is driven by an injected clock; waiting (timeouts, hung directories) uses the
event loop's real time, with bounds far from the values that would change the meaning.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Coroutine, Iterator
from typing import Any, TypeVar

import httpx
import pytest
from fake_directory import FakeDirectory

from receiver.runtime.evaluator import LOOKUP_FAILED
from receiver.users.cache import CacheSettings, UserCache
from receiver.users.directory import (
    DirectoryError,
    HttpDirectory,
    HttpDirectoryConfig,
    new_client,
)

T = TypeVar("T")
WAIT = 30.0  # how long a test waits for something that should happen at once


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def within(awaitable: Awaitable[T], seconds: float = WAIT) -> T:
    return await asyncio.wait_for(awaitable, seconds)


class Clock:
    def __init__(self, start: float = 1000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class Recorder:
    """CacheMetrics that remembers everything and can be awaited."""

    def __init__(self) -> None:
        self.lookups: Counter[str] = Counter()
        self.calls: list[tuple[float, str | None]] = []
        self._call_done: asyncio.Event | None = None

    def lookup(self, result: str) -> None:
        self.lookups[result] += 1

    def directory_call(self, seconds: float, failure: str | None) -> None:
        self.calls.append((seconds, failure))
        if self._call_done is not None:
            self._call_done.set()

    async def next_call(self) -> tuple[float, str | None]:
        before = len(self.calls)
        while len(self.calls) == before:
            self._call_done = asyncio.Event()
            await within(self._call_done.wait())
        return self.calls[-1]


class MemoryDirectory:
    """An in-process directory; ``hold()`` makes fetches wait until ``release()``."""

    def __init__(self, records: dict[str, dict[str, Any]] | None = None) -> None:
        self.records = dict(records or {})
        self.calls: Counter[str] = Counter()
        self.error: BaseException | None = None
        self._gate: asyncio.Event | None = None
        self._started: asyncio.Event | None = None

    def hold(self) -> None:
        self._gate = asyncio.Event()

    def release(self) -> None:
        if self._gate is not None:
            self._gate.set()

    async def started(self, count: int = 1) -> None:
        while sum(self.calls.values()) < count:
            self._started = asyncio.Event()
            await within(self._started.wait())

    async def fetch(self, user_id: str) -> dict[str, Any] | None:
        self.calls[user_id] += 1
        record = self.records.get(user_id)  # read now: what the directory knew at the call
        if self._started is not None:
            self._started.set()
        if self._gate is not None:
            await self._gate.wait()
        if self.error is not None:
            raise self.error
        return dict(record) if record is not None else None


def cache_for(
    directory: Any, clock: Clock | None = None, **settings: Any
) -> tuple[UserCache, Recorder]:
    recorder = Recorder()
    cache = UserCache(directory, CacheSettings(**settings), recorder, clock or Clock())
    return cache, recorder


ALICE = {"role": "member", "version": 1}


# -- hits, misses and expiry ----------------------------------------------------------


def test_a_fetched_user_is_served_from_memory_until_the_ttl() -> None:
    async def main() -> None:
        clock = Clock()
        directory = MemoryDirectory({"alice": ALICE})
        cache, metrics = cache_for(directory, clock, ttl=60, negative_ttl=10)
        assert await cache.lookup("alice") == ALICE
        clock.advance(59.999)
        assert await cache.lookup("alice") == ALICE
        assert directory.calls["alice"] == 1
        directory.records["alice"] = {"role": "admin", "version": 2}
        clock.advance(0.001)  # exactly at the ttl: no longer fresh
        assert await cache.lookup("alice") == {"role": "admin", "version": 2}
        assert directory.calls["alice"] == 2
        assert metrics.lookups == {"miss": 2, "hit": 1}
        assert [failure for _, failure in metrics.calls] == [None, None]
        assert len(cache) == 1

    run(main())


def test_unknown_users_are_cached_for_the_shorter_negative_ttl() -> None:
    async def main() -> None:
        clock = Clock()
        directory = MemoryDirectory({"alice": ALICE})
        cache, metrics = cache_for(directory, clock, ttl=60, negative_ttl=10)
        assert await cache.lookup("ghost") is None
        assert await cache.lookup("alice") == ALICE
        clock.advance(9.999)
        assert await cache.lookup("ghost") is None
        assert directory.calls["ghost"] == 1
        directory.records["ghost"] = {"role": "new"}
        clock.advance(0.001)
        assert await cache.lookup("ghost") == {"role": "new"}
        assert await cache.lookup("alice") == ALICE  # the positive ttl is longer
        assert directory.calls == {"ghost": 2, "alice": 1}
        assert metrics.lookups == {"miss": 3, "negative-hit": 1, "hit": 1}

    run(main())


def test_the_cache_is_bounded() -> None:
    async def main() -> None:
        directory = MemoryDirectory({f"u{i}": {"n": i} for i in range(10)})
        cache, _ = cache_for(directory, maxsize=3)
        for i in range(10):
            assert await cache.lookup(f"u{i}") == {"n": i}
        assert len(cache) == 3

    run(main())


def test_failures_are_not_cached() -> None:
    async def main() -> None:
        directory = MemoryDirectory({"alice": ALICE})
        directory.error = DirectoryError("HTTP 503")
        cache, metrics = cache_for(directory)
        assert await cache.lookup("alice") is LOOKUP_FAILED
        directory.error = None
        assert await cache.lookup("alice") == ALICE
        assert directory.calls["alice"] == 2
        assert metrics.lookups == {"failed": 1, "miss": 1}
        assert [failure for _, failure in metrics.calls] == ["error", None]

    run(main())


# -- stale-if-error ---------------------------------------------------------------------


def test_stale_entries_are_served_on_errors_within_the_window_only() -> None:
    async def main() -> None:
        clock = Clock()
        directory = MemoryDirectory({"alice": ALICE})
        cache, metrics = cache_for(directory, clock, ttl=60, stale_for=300)
        assert await cache.lookup("alice") == ALICE
        directory.error = DirectoryError("HTTP 500")
        clock.advance(60)  # expired: a fetch is due, it fails, the stale entry is served
        assert await cache.lookup("alice") == ALICE
        clock.advance(299.999)  # 60 + 299.999: still inside the window
        assert await cache.lookup("alice") == ALICE
        clock.advance(0.001)  # 60 + 300: the entry is gone
        assert await cache.lookup("alice") is LOOKUP_FAILED
        assert directory.calls["alice"] == 4
        assert metrics.lookups == {"miss": 1, "stale": 2, "failed": 1}
        assert [failure for _, failure in metrics.calls] == [None, "error", "error", "error"]

    run(main())


def test_an_expired_not_found_is_served_stale_as_not_found() -> None:
    async def main() -> None:
        clock = Clock()
        directory = MemoryDirectory()
        cache, metrics = cache_for(directory, clock, negative_ttl=10, stale_for=300)
        assert await cache.lookup("ghost") is None
        directory.error = DirectoryError("HTTP 500")
        clock.advance(11)
        assert await cache.lookup("ghost") is None
        assert metrics.lookups == {"miss": 1, "stale": 1}

    run(main())


def test_stale_is_served_on_timeout_and_the_late_answer_refreshes_the_cache() -> None:
    async def main() -> None:
        clock = Clock()
        directory = MemoryDirectory({"alice": ALICE})
        cache, metrics = cache_for(directory, clock, ttl=60, stale_for=300, timeout=0.05)
        assert await cache.lookup("alice") == ALICE
        clock.advance(61)
        directory.hold()
        directory.records["alice"] = {"role": "admin", "version": 2}
        assert await within(cache.lookup("alice")) == ALICE
        assert metrics.lookups["stale"] == 1
        directory.release()  # the fetch went on in the background
        await metrics.next_call()
        assert await cache.lookup("alice") == {"role": "admin", "version": 2}
        assert directory.calls["alice"] == 2
        assert metrics.lookups == {"miss": 1, "stale": 1, "hit": 1}

    run(main())


def test_without_a_stale_entry_a_timeout_is_a_failed_lookup() -> None:
    async def main() -> None:
        directory = MemoryDirectory({"alice": ALICE})
        directory.hold()
        cache, metrics = cache_for(directory, timeout=0.05)
        assert await within(cache.lookup("alice")) is LOOKUP_FAILED
        assert metrics.lookups == {"failed": 1}
        directory.release()
        await metrics.next_call()
        assert await cache.lookup("alice") == ALICE
        assert directory.calls["alice"] == 1

    run(main())


# -- deadlines ------------------------------------------------------------------------


def test_the_wait_is_bounded_by_the_remaining_deadline() -> None:
    async def main() -> None:
        directory = MemoryDirectory({"alice": ALICE})
        directory.hold()
        cache, metrics = cache_for(directory, timeout=10.0)
        started = time.perf_counter()
        assert await within(cache.lookup("alice", remaining=0.1)) is LOOKUP_FAILED
        elapsed = time.perf_counter() - started
        assert 0.1 <= elapsed < 5.0  # the 0.1 s left, not the 10 s lookup timeout
        directory.release()
        await metrics.next_call()

    run(main())


def test_no_time_left_answers_at_once_but_still_warms_the_cache() -> None:
    async def main() -> None:
        clock = Clock()
        directory = MemoryDirectory({"alice": ALICE})
        cache, metrics = cache_for(directory, clock, ttl=60)
        assert await cache.lookup("alice", remaining=-0.5) is LOOKUP_FAILED
        await metrics.next_call()  # the fetch ran in the background
        assert await cache.lookup("alice", remaining=0) == ALICE
        clock.advance(61)
        directory.error = DirectoryError("down")
        assert await cache.lookup("alice", remaining=0) == ALICE  # stale, without waiting
        assert metrics.lookups == {"failed": 1, "hit": 1, "stale": 1}

    run(main())


def test_a_hung_directory_call_is_abandoned_and_retried() -> None:
    async def main() -> None:
        directory = MemoryDirectory({"alice": ALICE})
        directory.hold()
        cache, metrics = cache_for(directory, timeout=0.01)
        cache.fetch_timeout = 0.2
        assert await cache.lookup("alice") is LOOKUP_FAILED
        _, failure = await metrics.next_call()
        assert failure == "timeout"
        directory.release()
        assert await cache.lookup("alice") in (ALICE, LOOKUP_FAILED)
        assert directory.calls["alice"] == 2  # a new call: the hung one no longer blocks

    run(main())


def test_an_unexpected_directory_exception_is_a_logged_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        directory = MemoryDirectory({"alice": ALICE})
        directory.error = RuntimeError("bug in the directory")
        cache, metrics = cache_for(directory)
        with caplog.at_level(logging.ERROR, "receiver.users.cache"):
            assert await cache.lookup("alice") is LOOKUP_FAILED
        assert "failed unexpectedly" in caplog.text
        assert metrics.lookups == {"failed": 1}
        assert [failure for _, failure in metrics.calls] == ["error"]

    run(main())


def test_a_failure_nobody_waits_for_is_counted_not_reported_as_unretrieved(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        directory = MemoryDirectory()
        directory.error = DirectoryError("down")
        cache, metrics = cache_for(directory)
        with caplog.at_level(logging.ERROR, "asyncio"):
            assert await cache.lookup("alice", remaining=0) is LOOKUP_FAILED
            _, failure = await metrics.next_call()
            for _ in range(3):
                await asyncio.sleep(0)  # the task finishes and its callbacks run
            gc.collect()
        assert failure == "error"
        assert "never retrieved" not in caplog.text

    run(main())


# -- single flight and eviction ---------------------------------------------------------


def test_fifty_concurrent_lookups_share_one_directory_call() -> None:
    async def main() -> None:
        directory = MemoryDirectory({"alice": ALICE})
        directory.hold()
        cache, metrics = cache_for(directory, timeout=WAIT)
        lookups = asyncio.gather(*(cache.lookup("alice") for _ in range(50)))
        await directory.started()
        await asyncio.sleep(0.05)  # a few more loop turns: nobody else may start a call
        assert sum(directory.calls.values()) == 1
        directory.release()
        results = await within(lookups)
        assert results == [ALICE] * 50
        assert directory.calls == {"alice": 1}
        assert metrics.lookups == {"miss": 50}
        assert len(metrics.calls) == 1

    run(main())


def test_concurrent_lookups_of_different_users_make_one_call_each() -> None:
    async def main() -> None:
        directory = MemoryDirectory({f"u{i}": {"n": i} for i in range(5)})
        directory.hold()
        cache, _ = cache_for(directory, timeout=WAIT)
        ids = [f"u{i % 5}" for i in range(50)]
        lookups = asyncio.gather(*(cache.lookup(u) for u in ids))
        await directory.started(5)
        directory.release()
        results = await within(lookups)
        assert results == [{"n": int(u[1:])} for u in ids]
        assert directory.calls == {f"u{i}": 1 for i in range(5)}

    run(main())


def test_evict_drops_a_cached_user() -> None:
    async def main() -> None:
        directory = MemoryDirectory({"alice": ALICE})
        cache, _ = cache_for(directory)
        assert cache.evict("alice") is False
        assert await cache.lookup("alice") == ALICE
        directory.records["alice"] = {"role": "banned"}
        assert await cache.lookup("alice") == ALICE
        assert cache.evict("alice") is True
        assert await cache.lookup("alice") == {"role": "banned"}
        assert directory.calls["alice"] == 2

    run(main())


def test_evict_during_a_fetch_keeps_the_old_answer_out_of_the_cache() -> None:
    async def main() -> None:
        directory = MemoryDirectory({"alice": ALICE})
        directory.hold()
        cache, metrics = cache_for(directory, timeout=WAIT)
        before = asyncio.ensure_future(cache.lookup("alice"))
        await directory.started()
        directory.records["alice"] = {"role": "banned"}
        assert cache.evict("alice") is False  # not cached yet, but in flight
        after = asyncio.ensure_future(cache.lookup("alice"))  # must not join the old call
        await directory.started(2)
        directory.release()
        assert await within(before) == ALICE  # asked before the eviction
        assert await within(after) == {"role": "banned"}
        assert await cache.lookup("alice") == {"role": "banned"}  # the old answer was dropped
        assert directory.calls["alice"] == 2
        assert len(metrics.calls) == 2

    run(main())


def test_evict_all_drops_every_user_and_keeps_fetches_in_flight_out() -> None:
    async def main() -> None:
        directory = MemoryDirectory({"alice": ALICE, "bob": {"role": "member"}})
        cache, _ = cache_for(directory, timeout=WAIT)
        await cache.lookup("bob")
        directory.hold()
        before = asyncio.ensure_future(cache.lookup("alice"))
        await directory.started(2)  # bob's, then alice's
        directory.records["alice"] = {"role": "banned"}
        assert cache.evict_all() == 1  # bob; alice is in flight
        directory.release()
        assert await within(before) == ALICE  # asked before
        assert len(cache) == 0  # the answer fetched before evict_all was not kept
        assert await cache.lookup("alice") == {"role": "banned"}
        assert directory.calls == {"alice": 2, "bob": 1}

    run(main())


def test_evict_during_a_fetch_with_no_later_lookup_leaves_the_cache_empty() -> None:
    async def main() -> None:
        directory = MemoryDirectory({"alice": ALICE})
        directory.hold()
        cache, metrics = cache_for(directory, timeout=WAIT)
        before = asyncio.ensure_future(cache.lookup("alice"))
        await directory.started()
        cache.evict("alice")
        directory.release()
        assert await within(before) == ALICE
        assert len(cache) == 0
        assert await cache.lookup("alice") == ALICE
        assert directory.calls["alice"] == 2
        assert metrics.lookups == {"miss": 2}

    run(main())


# -- through the real HTTP fake ---------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeDirectory]:
    with FakeDirectory({"alice": ALICE, "bob": {"role": "admin"}}) as service:
        yield service


def http_directory(fake: FakeDirectory, client: httpx.AsyncClient, **config: Any) -> HttpDirectory:
    return HttpDirectory(HttpDirectoryConfig(url=config.pop("url", fake.url), **config), client)


def test_fifty_concurrent_lookups_make_one_http_call(fake: FakeDirectory) -> None:
    fake.delay = 0.3

    async def main() -> None:
        async with new_client(10_000) as client:
            cache, metrics = cache_for(http_directory(fake, client), timeout=WAIT)
            results = await within(asyncio.gather(*(cache.lookup("alice") for _ in range(50))))
            assert results == [ALICE] * 50
            assert metrics.lookups == {"miss": 50}
            assert await cache.lookup("alice") == ALICE
        assert fake.calls == {"alice": 1}

    run(main())


def test_http_expiry_negative_caching_and_stale_if_error(fake: FakeDirectory) -> None:
    async def main() -> None:
        clock = Clock()
        async with new_client(10_000) as client:
            directory = http_directory(fake, client)
            cache, metrics = cache_for(
                directory, clock, ttl=60, negative_ttl=10, stale_for=300, timeout=WAIT
            )
            assert await cache.lookup("alice") == ALICE
            assert await cache.lookup("ghost") is None
            clock.advance(30)
            assert await cache.lookup("alice") == ALICE
            assert await cache.lookup("ghost") is None  # expired: asked again
            assert fake.calls == {"alice": 1, "ghost": 2}
            clock.advance(31)
            fake.stop()  # down: connections refused
            assert await cache.lookup("alice") == ALICE  # stale
            assert await cache.lookup("bob") is LOOKUP_FAILED
            fake.start()
            fake.set_mode("500")
            assert await cache.lookup("alice") == ALICE
            fake.set_mode("ok")
            fake.records["alice"] = {"role": "admin"}
            assert await cache.lookup("alice") == {"role": "admin"}
            assert metrics.lookups == {"miss": 4, "hit": 1, "stale": 2, "failed": 1}
            assert sorted(str(f) for _, f in metrics.calls if f) == ["error"] * 3

    run(main())


def test_http_hang_is_bounded_by_the_deadline(fake: FakeDirectory) -> None:
    fake.set_mode("hang")

    async def main() -> None:
        async with new_client(10_000) as client:
            cache, _ = cache_for(http_directory(fake, client), timeout=10.0)
            started = time.perf_counter()
            assert await within(cache.lookup("alice", remaining=0.2)) is LOOKUP_FAILED
            assert time.perf_counter() - started < 5.0
            fake.release()

    run(main())
