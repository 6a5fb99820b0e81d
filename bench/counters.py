"""Per-event overhead of policy counters (receiver/counters/), same run, interleaved.

Run from the repository root::

    python bench/counters.py [--events 20000] [--rounds 7] [--users 10000]
    python bench/counters.py --redis-url redis://127.0.0.1:6379/0   # adds Redis figures
    python bench/counters.py --service [--requests 2000] [--rounds 5] [--redis-url URL]

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

``--service`` measures what Redis counters add to an answer of the real service instead
(:func:`service_latency`): two ``receiver serve`` processes, one worker each, signed
requests, the shipped policies (four counters, one keyed by text) and the example
users, the decision log in a file; one with ``--counters memory``, the other with
``--counters redis`` (and ``--redis-key-secret-file``, so content keys are hashed as in
production). The same signed requests go to both, one at a time on one keep-alive
connection each, interleaved request by request (the order alternating), so a slow
spell of the machine hits both. Reported per backend: the median, p90 and p99 latency
per request (each round's, then the median over rounds), and Redis's added latency per
event as a difference and a ratio. Without ``--redis-url``, a ``redis-server`` is started
on a free loopback port for the run (and stopped after it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    parser.add_argument(
        "--service", action="store_true",
        help="the service's added latency per event, --counters redis against memory",
    )  # fmt: skip
    parser.add_argument("--requests", type=int, default=2000, help="--service: per round")
    args = parser.parse_args()
    if args.service:
        if not 0 < args.requests <= 100_000 or not 0 < args.rounds <= 50:
            parser.error("--requests must be in (0, 100000] and --rounds in (0, 50]")
        return service_latency(args.redis_url, args.requests, args.rounds, args.seed)

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


# -- --service: the added latency of Redis counters per answer --------------------------------


@contextlib.contextmanager
def own_redis() -> Iterator[str]:
    """A ``redis-server`` on a free loopback port for this run, stopped after it."""
    from serve import free_port  # noqa: PLC0415 (bench/serve.py, a sibling script)

    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("no redis-server: apt-get install redis-server, or give --redis-url")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--save", "", "--appendonly", "no", "--bind", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # its own group only
            proc.wait(10)


def service_latency(redis_url: str | None, requests: int, rounds: int, seed: int) -> int:
    from serve import (  # noqa: PLC0415 (bench/serve.py, a sibling script)
        ROOT,
        Server,
        compact,
        free_port,
        http_request,
        make_payloads,
        running,
        sign,
    )

    with contextlib.ExitStack() as stack:
        url = redis_url or stack.enter_context(own_redis())
        tmp = Path(tempfile.mkdtemp(prefix="bench-counters-service-"))
        stack.callback(shutil.rmtree, tmp, True)
        secret = secrets.token_hex(24)
        (tmp / "redis.key").write_text(secrets.token_hex(32))
        (tmp / "redis.yaml").write_text(  # a prefix of its own: a shared Redis keeps its keys
            f"counters: {{backend: redis, redis_url: '{url}', key_prefix: "
            f"'bench-service-{os.getpid()}', key_secret_file: redis.key}}\n"
        )
        env = dict(os.environ, RECEIVER_SOCIALPLUS_SECRET=secret)
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        env.pop("RECEIVER_REDIS_URL", None)
        bindir = str(Path(sys.executable).parent)
        receiver_bin = shutil.which("receiver", path=bindir)
        base = [receiver_bin] if receiver_bin else [sys.executable, "-m", "receiver"]
        common = [
            *base, "serve", "--policies", str(ROOT / "policies"),
            "--users", str(ROOT / "examples/users.yaml"), "--log-level", "warning",
        ]  # fmt: skip
        payloads, _ = make_payloads(requests, seed)
        bodies = [compact(p) for p in payloads]
        signed = [(body, sign(secret.encode(), body)) for body in bodies]
        servers = {
            "memory": Server("memory", "--counters memory", [*common, "--counters", "memory",
                             "--decision-log", str(tmp / "memory.jsonl")], env),
            "redis": Server("redis", "--counters redis", [*common, "--config",
                            str(tmp / "redis.yaml"), "--decision-log", str(tmp / "redis.jsonl")],
                            env),
        }  # fmt: skip
        ports = {name: free_port() for name in servers}
        for name, server in servers.items():
            probe = http_request(ports[name], *signed[0])
            stack.enter_context(running(server, ports[name], probe, tmp, False))
        medians, p90s, p99s, differ = asyncio.run(_interleaved(ports, signed, rounds, http_request))
    mem, red = statistics.median(medians["memory"]), statistics.median(medians["redis"])
    print(
        f"== receiver serve --counters redis against --counters memory: {requests} signed "
        f"requests x {rounds} rounds, one at a time, interleaved; shipped policies; "
        f"Redis {'given' if redis_url else 'started here'} on loopback; "
        f"python {sys.version.split()[0]}"
    )
    print(f"{'backend':<10} {'median µs':>10} {'p90 µs':>10} {'p99 µs':>10}")
    for name in ("memory", "redis"):
        print(
            f"{name:<10} {statistics.median(medians[name]):>10.0f} "
            f"{statistics.median(p90s[name]):>10.0f} {statistics.median(p99s[name]):>10.0f}"
        )
    print(
        f"Redis counters add {red - mem:.0f} µs per event (median), ratio {red / mem:.2f}x; "
        f"p99 {statistics.median(p99s['redis']) - statistics.median(p99s['memory']):+.0f} µs"
    )
    print(f"answers that differed between the two: {differ} of {requests * rounds}")
    return 0


async def _interleaved(
    ports: dict[str, int], signed: list[tuple[bytes, str]], rounds: int, http_request: Any
) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, list[float]], int]:
    from serve import exchange  # noqa: PLC0415 (bench/serve.py, a sibling script)

    conns = {
        name: await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
        for name, port in ports.items()
    }
    wire = {name: [http_request(port, *s) for s in signed] for name, port in ports.items()}
    names = list(ports)
    medians: dict[str, list[float]] = {n: [] for n in names}
    p90s: dict[str, list[float]] = {n: [] for n in names}
    p99s: dict[str, list[float]] = {n: [] for n in names}
    differ = 0
    try:
        warm = max(1, len(signed) // 10)
        for index in range(warm):  # untimed: scripts loaded, caches filled, code warm
            for name in names:
                await asyncio.wait_for(exchange(*conns[name], wire[name][index]), 30)
        for _ in range(rounds):
            samples: dict[str, list[int]] = {n: [] for n in names}
            for index in range(len(signed)):
                order = names if index % 2 == 0 else names[::-1]
                answers = []
                for name in order:
                    started = time.perf_counter_ns()
                    status, body = await asyncio.wait_for(
                        exchange(*conns[name], wire[name][index]), 30
                    )
                    samples[name].append(time.perf_counter_ns() - started)
                    if status != 200:
                        raise SystemExit(f"{name} answered {status}: {body[:200]!r}")
                    answers.append(body)
                differ += answers[0] != answers[1]
            for name, values in samples.items():
                tenths = statistics.quantiles(values, n=100)
                medians[name].append(statistics.median(values) / 1000)
                p90s[name].append(tenths[89] / 1000)
                p99s[name].append(tenths[98] / 1000)
    finally:
        for _, writer in conns.values():
            writer.close()
    return medians, p90s, p99s, differ


if __name__ == "__main__":
    raise SystemExit(main())
