"""Tests for receiver.counters.memory: exact sliding windows in bounded memory, thread-safe."""

from __future__ import annotations

import asyncio
import threading

from receiver.counters.memory import MemoryBackend
from receiver.runtime.counters import Op


def test_memory_evicts_idle_keys() -> None:
    backend = MemoryBackend()
    for i in range(1000):
        backend.apply([Op("p/c", 1000, f"user{i}", add=True)], 0)
    assert backend.key_count() == 1000
    backend.apply([Op("p/c", 1000, "late", add=True)], 5000)
    assert backend.key_count() == 1  # every idle key went, amortized by this one call


def test_memory_bounds_keys_and_entries() -> None:
    backend = MemoryBackend(max_keys=10, max_per_key=3)
    for i in range(50):
        backend.apply([Op("p/c", 60_000, f"k{i}", add=True)], i)
    assert backend.key_count() == 10
    assert backend.evicted == 40
    values = [backend.apply([Op("p/c", 60_000, "k49", add=True)], 100)[0] for _ in range(5)]
    assert values == [2, 3, 3, 3, 3]  # counts saturate at max_per_key
    distinct = [
        backend.apply([Op("p/d", 60_000, "t", True, f"c{i}", add=True)], 200 + i)[0]
        for i in range(5)
    ]
    assert distinct == [1, 2, 3, 3, 3]


def test_memory_reads_do_not_write() -> None:
    backend = MemoryBackend()
    assert backend.apply([Op("p/c", 1000, "k")], 0) == [0]
    assert backend.key_count() == 0
    backend.apply([Op("p/c", 1000, "k", add=True)], 0)
    assert backend.apply([Op("p/c", 1000, "k"), Op("p/c", 1000, "k")], 500) == [1, 1]
    assert backend.apply([Op("p/c", 1000, "k")], 1000) == [0]


def test_memory_is_safe_under_concurrency() -> None:
    backend = MemoryBackend(max_per_key=100_000)
    threads = 8
    per_thread = 2000
    barrier = threading.Barrier(threads)

    def work(n: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            backend.apply(
                [
                    Op("p/c", 3_600_000, "shared", add=True),
                    Op("p/d", 3_600_000, "shared", True, f"{n}-{i % 50}", add=True),
                ],
                1000 + i,
            )

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    total = backend.apply(
        [Op("p/c", 3_600_000, "shared"), Op("p/d", 3_600_000, "shared", True)], 5000
    )
    assert total == [threads * per_thread, threads * 50]


def test_memory_an_entry_counts_while_it_is_younger_than_the_window() -> None:
    backend = MemoryBackend()
    backend.apply([Op("p/c", 1000, "k", add=True)], 0)
    assert backend.apply([Op("p/c", 1000, "k")], 999) == [1]
    assert backend.apply([Op("p/c", 1000, "k")], 1000) == [0]


def test_memory_distinct_counts_a_value_once_and_refreshes_its_time() -> None:
    backend = MemoryBackend()
    assert backend.apply([Op("p/d", 1000, "k", True, "a", add=True)], 0) == [1]
    assert backend.apply([Op("p/d", 1000, "k", True, "b", add=True)], 100) == [2]
    assert backend.apply([Op("p/d", 1000, "k", True, "a", add=True)], 900) == [2]
    # "b" (last seen at 100) left the window; "a" (seen again at 900) is still in it
    assert backend.apply([Op("p/d", 1000, "k", True)], 1500) == [1]


def test_memory_evicts_the_least_recently_written_key_when_full() -> None:
    backend = MemoryBackend(max_keys=2)
    backend.apply([Op("p/c", 60_000, "first", add=True)], 0)
    backend.apply([Op("p/c", 60_000, "second", add=True)], 1)
    backend.apply([Op("p/c", 60_000, "first", add=True)], 2)  # "first" written last now
    backend.apply([Op("p/c", 60_000, "third", add=True)], 3)
    reads = [Op("p/c", 60_000, key) for key in ("first", "second", "third")]
    assert backend.apply(reads, 4) == [2, 0, 1]
    assert backend.evicted == 1


def test_memory_keeps_counters_and_windows_apart() -> None:
    backend = MemoryBackend()
    backend.apply([Op("p/a", 1000, "k", add=True)], 0)
    reads = [Op("p/a", 1000, "k"), Op("p/b", 1000, "k"), Op("p/a", 2000, "k")]
    assert backend.apply(reads, 10) == [1, 0, 0]


def test_memory_answers_each_operation_after_it_in_order() -> None:
    backend = MemoryBackend()
    add = Op("p/c", 1000, "k", add=True)
    assert backend.apply([add, Op("p/c", 1000, "k"), add, add], 0) == [1, 1, 2, 3]


def test_memory_seed_sets_the_value_a_read_then_sees() -> None:
    backend = MemoryBackend()
    backend.apply([Op("p/c", 1000, "k", add=True)] * 5, 0)
    backend.seed(Op("p/c", 1000, "k"), 2, 10)
    backend.seed(Op("p/d", 1000, "k", True), 3, 10)
    assert backend.apply([Op("p/c", 1000, "k"), Op("p/d", 1000, "k", True)], 20) == [2, 3]
    assert backend.apply([Op("p/d", 1000, "k", True, "new", add=True)], 30) == [4]


def test_memory_seeded_entries_leave_the_window_like_written_ones() -> None:
    backend = MemoryBackend()
    backend.apply([Op("p/c", 1000, "recent", add=True)], 5000)
    backend.seed(Op("p/c", 1000, "old"), 4, 100)  # older than the key written before it
    assert backend.apply([Op("p/c", 1000, "old")], 1099) == [4]
    assert backend.apply([Op("p/c", 1000, "old")], 1100) == [0]
    assert backend.apply([Op("p/c", 1000, "recent")], 1100) == [1]


def test_memory_apply_async_answers_like_apply() -> None:
    backend = MemoryBackend()
    ops = [Op("p/c", 1000, "k", add=True), Op("p/c", 1000, "k")]
    assert asyncio.run(backend.apply_async(ops, 0)) == [1, 1]
    assert backend.apply([Op("p/c", 1000, "k")], 1) == [1]
