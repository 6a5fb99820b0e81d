"""What user lookups cost: a warm cache per decision, and a cold cache under load.

Run from the repository root::

    python bench/users.py [--rounds 30] [--users 200] [--distinct 500] [--repeats 4]
                          [--concurrency 200] [--delay-ms 20] [--timeout-ms 300]
                          [--deadline-ms 2000] [--seed 1]

(a) **Warm cache.** Two otherwise identical policies, one deciding on ``user.role``
    and one on ``data.role`` (the payloads carry the same role in both places, so the
    decisions are the same), decided through the service's async path (``decide_async``
    with the service's inputs, and the whole ``Service.decide`` pipeline) with a warm
    :class:`~receiver.users.cache.UserCache` and the service's real Prometheus metrics.
    A warm lookup never suspends, so each coroutine is driven with one ``send(None)``
    and no event-loop overhead is timed. Cases are interleaved call by call
    (``_common.measure``). Target: reading ``user`` costs under 5 µs more (median).
(b) **Cold cache.** A real local HTTP user service (``tests/fake_directory.py``, in its
    own process, answering each request after ``--delay-ms``) behind ``HttpDirectory``
    and a cold ``UserCache`` with the service's defaults (300 ms lookup timeout, 2 s
    deadline, a pool of 100 connections; on a busy machine, ``--timeout-ms`` and
    ``--deadline-ms`` give it more room). ``--distinct`` users, each asked
    ``--repeats`` times in a shuffled order, by ``--concurrency`` concurrent
    ``Service.decide`` calls. Stampede-free means directory calls == distinct users;
    the directory-bound floor is ``ceil(distinct / min(pool, concurrency)) * delay``.
    The same requests are then decided again with the cache warm, for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Any, TypeVar

import httpx
from _common import header, json_reference, measure, percentile, table, verdict
from prometheus_client.parser import text_string_to_metric_families

from receiver.adapters import socialplus
from receiver.dsl.values import Timestamp
from receiver.http.config import ServiceConfig
from receiver.http.metrics import Metrics
from receiver.http.reload import LivePolicies
from receiver.http.service import Service
from receiver.runtime.decide import decide_async
from receiver.runtime.decision import Decision
from receiver.runtime.payload import Event, parse_event
from receiver.users.cache import CacheSettings, UserCache
from receiver.users.directory import HttpDirectory, HttpDirectoryConfig, new_client

try:
    import uvloop
except ImportError:
    uvloop = None

ROOT = Path(__file__).resolve().parents[1]
FAKE = ROOT / "tests" / "fake_directory.py"
TARGET_EXTRA_US = 5.0
POOL = 100  # new_client's default max_connections

POLICY = """\
policy: bench-users
rules:
  - id: long
    events: message.shouldCreate
    when: len(text) > 2000
    action: deny
    message: too long
  - id: admins-elsewhere
    events: message.shouldCreate
    when: {who}.role == "admin"
    action: deny
    message: "Admins post in the staff channel."
"""

T = TypeVar("T")


class Tee:
    """CacheMetrics that feeds the service's Prometheus metrics and keeps counts."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.lookups: Counter[str] = Counter()
        self.seconds: list[float] = []
        self.failures: Counter[str] = Counter()

    def lookup(self, result: str) -> None:
        self.lookups[result] += 1
        self.metrics.lookup(result)

    def directory_call(self, seconds: float, failure: str | None) -> None:
        self.seconds.append(seconds)
        if failure is not None:
            self.failures[failure] += 1
        self.metrics.directory_call(seconds, failure)


class DictDirectory:
    def __init__(self, records: dict[str, dict[str, Any]]) -> None:
        self.records = records

    async def fetch(self, user_id: str) -> dict[str, Any] | None:
        return self.records.get(user_id)


def drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that must not suspend (a warm cache never does)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        result: T = stop.value
        return result
    coro.close()
    raise RuntimeError("the coroutine suspended: the user cache was not warm")


def write_policies(root: Path, who: str, name: str | None = None) -> Path:
    directory = root / (name or who)
    directory.mkdir()
    (directory / "bench.yaml").write_text(POLICY.format(who=who), encoding="utf-8")
    return directory


def service_for(
    policies: Path, cache: UserCache | None, metrics: Metrics, deadline_ms: int = 2000
) -> Service:
    live = LivePolicies(policies, None)
    live.load()
    config = ServiceConfig(policies=policies, deadline_ms=deadline_ms)
    return Service(config, live, metrics, None, cache)


def role_of(n: int) -> str:
    return "admin" if n % 10 == 0 else "member"


def payload(rng: random.Random, n: int) -> dict[str, Any]:
    words = " ".join(rng.choice(["hi", "see", "you", "at", "the", "game"]) for _ in range(8))
    return {
        "eventName": "message.shouldCreate",
        "data": {"channelId": f"ch_{rng.randrange(20)}", "text": words, "role": role_of(n)},
        "actor": {"_id": f"u{n}", "userId": f"u{n}"},
    }


def bench_warm(args: argparse.Namespace, tmp: Path) -> bool:
    rng = random.Random(args.seed)
    records = {f"u{n}": {"role": role_of(n), "n": n} for n in range(args.users)}
    payloads = [payload(rng, rng.randrange(args.users)) for _ in range(args.users * 2)]
    events = [parse_event(p) for p in payloads]
    raws = [json.dumps(p) for p in payloads]

    metrics = Metrics()
    tee = Tee(metrics)
    cache = UserCache(DictDirectory(records), CacheSettings(ttl=86_400), tee)

    async def warm() -> None:
        for user_id in records:
            await cache.lookup(user_id)

    asyncio.run(warm())
    with_user = service_for(write_policies(tmp, "user"), cache, metrics)
    without = service_for(write_policies(tmp, "data"), cache, metrics)
    tree_user = with_user.live.current.policies.tree("message.shouldCreate")
    tree_data = without.live.current.policies.tree("message.shouldCreate")
    assert tree_user.needs_user and not tree_data.needs_user

    def evaluate(service: Service, tree: Any) -> Callable[[int], Decision]:
        policies = service.live.current.policies
        assert policies.tree(tree.event) is tree

        def case(i: int) -> Decision:
            now = Timestamp(time.time())
            decided = drive(
                decide_async(
                    policies, events[i], now, user_cache=service.user_cache,
                    decision_id="bench", deadline=perf_counter() + 2.0,
                )
            )  # fmt: skip
            return decided.decision

        return case

    def decide(service: Service) -> Callable[[int], object]:
        def case(i: int) -> object:
            return drive(service.decide(events[i], "bench", perf_counter())).body

        return case

    cases = {
        "ref": json_reference(raws),
        "data": evaluate(without, tree_data),
        "user": evaluate(with_user, tree_user),
        "decide-data": decide(without),
        "decide-user": decide(with_user),
    }
    before = Counter(tee.lookups)
    results = measure(cases, range(len(events)), args.rounds, args.seed, warmup=1, keep=True)
    for i in range(len(events)):
        a, b = results["data"].outputs[i], results["user"].outputs[i]
        assert isinstance(a, Decision) and isinstance(b, Decision)
        if (a.action, a.message) != (b.action, b.message):
            print(f"error: the user and data policies disagree on payload {i}: {raws[i]}")
            return False
    lookups = tee.lookups - before
    denied = sum(1 for d in results["user"].outputs.values() if d.action == "deny")  # type: ignore[attr-defined]
    print(
        f"(a) {len(events)} payloads over {args.users} users ({denied} denied), "
        f"{args.rounds} rounds; lookups while timing: {dict(lookups)}"
    )
    if set(lookups) != {"hit"}:
        print("error: a timed lookup was not a cache hit")
        return False
    rows = [
        ("json loads+dumps (reference)", results["ref"]),
        ("decide_async, rule reads data.role", results["data"]),
        ("decide_async, rule reads user.role", results["user"]),
        ("decide, rule reads data.role", results["decide-data"]),
        ("decide, rule reads user.role", results["decide-user"]),
    ]
    print(table([(label, len(r.samples), r) for label, r in rows], results["ref"]))
    extra = results["user"].median_us - results["data"].median_us
    extra_decide = results["decide-user"].median_us - results["decide-data"].median_us
    print(verdict("(a) warm cache: extra median cost of reading user (decide_async)", extra,
                  TARGET_EXTRA_US, "µs"))  # fmt: skip
    print(f"info  (a) the same through Service.decide: {extra_decide:+.2f} µs")
    return True


async def run_load(
    service: Service, events: list[Event], concurrency: int
) -> tuple[float, list[float], Counter[str]]:
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    answers: Counter[str] = Counter()

    async def one(event: Event) -> None:
        async with gate:
            started = perf_counter()
            answer = await service.decide(event, "bench", started)
            latencies.append(perf_counter() - started)
            answers[json.loads(answer.body)["action"]] += 1

    started = perf_counter()
    await asyncio.gather(*(one(e) for e in events))
    return perf_counter() - started, latencies, answers


def run_loop(main: Callable[[], Awaitable[T]]) -> T:
    """Run on the service's loop: uvloop when installed (uvicorn picks it then)."""
    factory = uvloop.new_event_loop if uvloop is not None else None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main())  # type: ignore[arg-type]


@dataclass
class Phase:
    elapsed: float
    cpu: float
    latencies: list[float]
    answers: Counter[str]
    lookups: Counter[str]
    failures: Counter[str]
    directory_seconds: list[float]
    stats: dict[str, int]  # the directory's own counts for this phase
    degraded: float  # answers past the deadline (the fail-safe allow)


def degraded_total(metrics: Metrics) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics.render().decode())
        for sample in family.samples
        if sample.name == "receiver_degraded_answers_total"
    )


def ms(seconds: list[float], q: float) -> float:
    return percentile([round(x * 1e9) for x in seconds], q) / 1e6


def bench_cold(args: argparse.Namespace, tmp: Path) -> bool:
    rng = random.Random(args.seed + 10)
    ids = [n for n in range(args.distinct) for _ in range(args.repeats)]
    rng.shuffle(ids)
    events = [socialplus.parse_request(json.dumps(payload(rng, n)).encode()) for n in ids]
    admins = sum(1 for n in ids if role_of(n) == "admin")
    delay = args.delay_ms / 1000
    parallel = min(POOL, args.concurrency)
    fake = subprocess.Popen(
        [sys.executable, str(FAKE), "--users", str(args.distinct), "--delay", str(delay)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert fake.stdout is not None
        port = int(fake.stdout.readline())
        url = f"http://127.0.0.1:{port}/v1/users/{{userId}}"
        config = HttpDirectoryConfig(url=url, timeout_ms=args.timeout_ms)
        metrics = Metrics()
        tee = Tee(metrics)

        async def phase(service: Service, cache: UserCache, control: httpx.AsyncClient) -> Phase:
            before = (Counter(tee.lookups), Counter(tee.failures), len(tee.seconds))
            degraded = degraded_total(metrics)
            cpu = time.process_time()
            elapsed, latencies, answers = await run_load(service, events, args.concurrency)
            cpu = time.process_time() - cpu
            # calls that outlived their lookups' timeouts still count (and fill the cache)
            await asyncio.gather(*cache._inflight.values(), return_exceptions=True)
            stats = (await control.get(f"http://127.0.0.1:{port}/_reset")).json()
            return Phase(
                elapsed, cpu, latencies, answers, tee.lookups - before[0],
                tee.failures - before[1], tee.seconds[before[2]:], stats,
                degraded_total(metrics) - degraded,
            )  # fmt: skip

        async def main() -> tuple[Phase, Phase]:
            control = httpx.AsyncClient(timeout=60)
            async with new_client(config.timeout_ms) as client, control:
                # a cold cache, not a cold connection pool: open the pool's connections
                warm_up = [client.get(url.replace("{userId}", f"w{i}")) for i in range(parallel)]
                await asyncio.gather(*warm_up, return_exceptions=True)
                await control.get(f"http://127.0.0.1:{port}/_reset")
                settings = CacheSettings(timeout=args.timeout_ms / 1000)
                cache = UserCache(HttpDirectory(config, client), settings, tee)
                policies = write_policies(tmp, "user", "cold")
                service = service_for(policies, cache, metrics, args.deadline_ms)
                cold = await phase(service, cache, control)
                warm = await phase(service, cache, control)
                return cold, warm

        load_before = os.getloadavg()[0]
        cold, warm = run_loop(main)
        load_after = os.getloadavg()[0]
    finally:
        if fake.stdin is not None:
            fake.stdin.close()
        fake.wait(30)

    requests = len(events)
    floor = math.ceil(args.distinct / parallel) * delay
    calls, failed_calls = cold.stats["calls"], sum(cold.failures.values())
    print(
        f"(b) {requests} requests for {args.distinct} distinct users ({args.repeats} each, "
        f"shuffled), {args.concurrency} concurrent; directory: {args.delay_ms:g} ms per call, "
        f"{POOL} pooled connections; load average {load_before:.1f} before, "
        f"{load_after:.1f} after"
    )
    for name, p in (("cold", cold), ("warm", warm)):
        print(
            f"    {name}: {p.elapsed * 1000:.0f} ms, {requests / p.elapsed:,.0f} decisions/s "
            f"(process CPU {p.cpu * 1000:.0f} ms); decision p50 {ms(p.latencies, 50):.1f} ms, "
            f"p99 {ms(p.latencies, 99):.1f} ms; answers {dict(p.answers)} "
            f"({p.degraded:.0f} past the deadline); "
            f"lookups {dict(p.lookups)}"
        )
    print(
        f"    cold directory calls: {calls} for {cold.stats['distinct']} users, at most "
        f"{cold.stats['max_per_user']} per user and {cold.stats['max_concurrent_per_user']} "
        f"at a time; failed calls {dict(cold.failures) or 0}; call latency p50 "
        f"{ms(cold.directory_seconds, 50):.1f} ms, p99 {ms(cold.directory_seconds, 99):.1f} ms"
    )
    waited = cold.lookups["miss"] + cold.lookups["failed"] + cold.lookups["stale"]
    print(
        f"    {waited} lookups waited on a directory call: without single flight that is "
        f"{waited} calls, not {calls}; expected deny {admins} (admins) when no lookup fails"
    )
    print(
        f"    directory-bound floor: ceil({args.distinct}/{parallel}) x {args.delay_ms:g} ms "
        f"= {floor * 1000:.0f} ms ({requests / floor:,.0f} decisions/s); cold/floor "
        f"{cold.elapsed / floor:.1f}x, cold/warm {cold.elapsed / warm.elapsed:.1f}x"
    )
    if calls and cold.cpu > warm.cpu and set(warm.lookups) <= {"hit", "negative-hit"}:
        per_call = (cold.cpu - warm.cpu) / calls
        print(
            f"    receiver CPU per directory call (cold CPU - warm CPU) / calls: "
            f"{per_call * 1000:.2f} ms, so at most {1 / per_call:,.0f} calls/s per core "
            f"(the directory allows {parallel / delay:,.0f} calls/s)"
        )
    free = cold.stats["max_concurrent_per_user"] <= 1 and calls <= args.distinct + failed_calls
    print(
        ("PASS" if free else "MISS")
        + f"  (b) stampede-free: {calls} directory calls for {args.distinct} distinct users "
        f"and {requests} requests ({failed_calls} failed calls retried), never two at a time "
        "for one user"
    )
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30, help="timed rounds of (a)")
    parser.add_argument("--users", type=int, default=200, help="users of (a)")
    parser.add_argument("--distinct", type=int, default=500, help="distinct users of (b)")
    parser.add_argument("--repeats", type=int, default=4, help="requests per user in (b)")
    parser.add_argument("--concurrency", type=int, default=200, help="in-flight requests (b)")
    parser.add_argument("--delay-ms", type=float, default=20.0, help="directory delay (b)")
    parser.add_argument("--timeout-ms", type=int, default=300, help="lookup timeout (b)")
    parser.add_argument("--deadline-ms", type=int, default=2000, help="request deadline (b)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    logging.getLogger("receiver").setLevel(logging.ERROR)  # counted below, not logged
    started = time.perf_counter()
    print(header("bench/users.py", rounds=args.rounds, users=args.users,
                 distinct=args.distinct, repeats=args.repeats,
                 concurrency=args.concurrency, delay_ms=args.delay_ms,
                 timeout_ms=args.timeout_ms, deadline_ms=args.deadline_ms,
                 seed=args.seed))  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-users-") as tmp:
        ok = bench_warm(args, Path(tmp))
        print()
        ok = bench_cold(args, Path(tmp)) and ok
    print(f"total run time {time.perf_counter() - started:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
