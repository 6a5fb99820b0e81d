"""Per-event overhead of policy counters (receiver/counters/), same run, interleaved.

Run from the repository root::

    python bench/counters.py [--events 20000] [--rounds 7] [--users 10000]
    python bench/counters.py --redis-url redis://127.0.0.1:6379/0   # adds Redis figures

Two policy sets are decided on the same events, call by call:

- ``plain``: two rules, ``len(text) > 2000`` and ``len(text) > 1000`` -> deny; no
  counters, so no counter work;
- ``counted``: the first rule, and instead of the second a rule of the same shape that
  reads a counter (``messages_per_minute > 1000``; ``messages_per_minute``: events per
  ``actor.userId`` in a sliding 60 s window): every event computes its key, increments and reads
  it in the memory backend (one ``apply`` call), passes the value to the evaluation,
  and checks for strikes afterwards: the whole path of ``receiver eval`` and the service.

Both are decided by ``receiver.runtime.decide.decide`` with the same memory backend.

The events come from ``--users`` users at 200 events a second of simulated time, so
windows slide and idle keys are evicted as in production. Reported: the median and p90
per-event time of each (over rounds, each round's median), and the difference, which
the issue requires to be under 10 µs. With ``--redis-url`` (or $RECEIVER_TEST_REDIS_URL),
also the round-trip time of one event's Redis call (EVALSHA of the counter script).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from receiver.counters.memory import MemoryBackend
from receiver.dsl.values import Timestamp
from receiver.runtime.counters import Op
from receiver.runtime.decide import decide
from receiver.runtime.payload import Event
from receiver.runtime.policyset import PolicySet, load_policies

TARGET_US = 10.0

PLAIN = """\
policy: plain
rules:
  - id: too-long
    events: message.shouldCreate
    when: len(text) > 2000
    action: deny
  - id: same-shape
    events: message.shouldCreate
    when: len(text) > 1000
    action: deny
"""

COUNTED = """\
policy: counted
counters:
  messages_per_minute:
    events: message.shouldCreate
    key: actor.userId
    window: 60s
rules:
  - id: too-long
    events: message.shouldCreate
    when: len(text) > 2000
    action: deny
  - id: flood
    events: message.shouldCreate
    when: messages_per_minute > 1000
    action: deny
"""


def load(text: str) -> PolicySet:
    folder = Path(tempfile.mkdtemp(prefix="bench-counters-"))
    (folder / "p.yaml").write_text(text, encoding="utf-8")
    return load_policies([folder])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--redis-url", default=os.environ.get("RECEIVER_TEST_REDIS_URL"))
    args = parser.parse_args()

    plain, counted = load(PLAIN), load(COUNTED)
    name = "message.shouldCreate"
    plan = counted.plan(name)
    assert plan and not plain.plan(name)
    rng = random.Random(args.seed)
    events = [
        Event(
            name,
            {"text": f"hello {i}", "channelId": "ch_1"},
            {"userId": f"user{rng.randrange(args.users)}"},
        )
        for i in range(args.events)
    ]
    clock = [1_800_000_000.0]
    backend = MemoryBackend()

    def run_plain(event: Event, now: Timestamp) -> str:
        return decide(plain, event, now, counters=backend).decision.action

    def run_counted(event: Event, now: Timestamp) -> str:
        return decide(counted, event, now, counters=backend).decision.action

    perf = time.perf_counter_ns
    medians: dict[str, list[float]] = {"plain": [], "counted": []}
    p90s: dict[str, list[float]] = {"plain": [], "counted": []}
    for _ in range(args.rounds):
        samples: dict[str, list[int]] = {"plain": [], "counted": []}
        for index, event in enumerate(events):
            clock[0] += 0.005  # 200 events a second
            now = Timestamp(clock[0])
            order = (("plain", run_plain), ("counted", run_counted))
            if index % 2:
                order = order[::-1]
            for label, fn in order:
                started = perf()
                fn(event, now)
                samples[label].append(perf() - started)
        for label, values in samples.items():
            medians[label].append(statistics.median(values) / 1000)
            p90s[label].append(statistics.quantiles(values, n=10)[-1] / 1000)

    plain_us = statistics.median(medians["plain"])
    counted_us = statistics.median(medians["counted"])
    overhead = counted_us - plain_us
    print(f"python {sys.version.split()[0]}, {args.events} events x {args.rounds} rounds, "
          f"{args.users} users; memory backend holds {backend.key_count()} keys")  # fmt: skip
    print(f"{'decision':<34} {'median µs':>10} {'p90 µs':>10}")
    print(
        f"{'plain (no counters)':<34} {plain_us:>10.2f} {statistics.median(p90s['plain']):>10.2f}"
    )
    print(
        f"{'counted (1 counter, memory)':<34} {counted_us:>10.2f} "
        f"{statistics.median(p90s['counted']):>10.2f}"
    )
    verdict = "PASS" if overhead < TARGET_US else "MISS"
    print(f"counter overhead per event: {overhead:.2f} µs (target < {TARGET_US:.0f} µs): {verdict}")
    if args.redis_url:
        redis_round_trip(args.redis_url)
    return 0


def redis_round_trip(url: str, calls: int = 2000) -> None:
    from receiver.counters.redis_backend import RedisBackend  # noqa: PLC0415

    async def go() -> list[int]:
        backend = RedisBackend(url, prefix=f"bench:{os.getpid()}")
        ops = [Op("bench/c", 60_000, "u1", add=True), Op("bench/s", 86_400_000, "u1")]
        try:
            await backend.apply_async(ops, 0)  # loads the script
            samples = []
            for i in range(calls):
                started = time.perf_counter_ns()
                await backend.apply_async(ops, 1_800_000_000_000 + i)
                samples.append(time.perf_counter_ns() - started)
            return samples
        finally:
            await backend.client.delete("bench:x")
            await backend.close()

    samples = asyncio.run(go())
    median = statistics.median(samples) / 1000
    p90 = statistics.quantiles(samples, n=10)[-1] / 1000
    print(f"redis ({url}): one event's call (2 counters, 1 EVALSHA): "
          f"median {median:.0f} µs, p90 {p90:.0f} µs over {calls} calls")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
