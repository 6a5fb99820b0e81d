"""The Redis counter backend, against a real ``redis-server`` on loopback.

``.ci/run`` installs redis-server (Debian package), starts it on a spare loopback port
and exports ``RECEIVER_TEST_REDIS_URL``; without it, the session's ``redis_url`` fixture
(``tests/conftest.py``) starts a ``redis-server`` of its own when one is installed.
Tests that need the server skip with that advice when there is none. The fallbacks
(Redis down, Redis slow) are tested in test_counter_service.py; the rate policy and
its ``policies`` fixture are in this folder's conftest.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from serverproc import free_port

from receiver.counters.memory import MemoryBackend
from receiver.counters.redis_backend import RedisBackend
from receiver.counters.service import CounterService
from receiver.counters.settings import CounterSettings
from receiver.dsl.values import Timestamp
from receiver.runtime.counters import Op
from receiver.runtime.decide import decide, decide_async
from receiver.runtime.payload import Event
from receiver.runtime.policyset import load_policies

START_TIMEOUT = 60.0


@pytest.fixture
def prefix() -> str:
    return f"receiver-test:{uuid.uuid4().hex[:12]}"


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# -- the backend itself ---------------------------------------------------------------


def random_ops(rng: random.Random, steps: int) -> list[tuple[int, list[Op]]]:
    """A random event sequence: times (ms, non-decreasing) and each event's operations."""
    now = 1_800_000_000_000
    out: list[tuple[int, list[Op]]] = []
    keys = ["u1", "u2", "u3", "hello"]
    # Each counter is either readable or content (the plan decides per counter): the
    # "-h" ones go to Redis as hashes of their keys (and distinct values)
    for _ in range(steps):
        now += rng.choice([0, 1, 5, 50, 400, 999, 1000, 1001, 3000])
        ops: list[Op] = []
        for _ in range(rng.randint(1, 4)):
            window = rng.choice([1000, 3000])
            key = rng.choice(keys)
            kind = rng.random()
            hashed = rng.random() < 0.5
            count = "p/count-h" if hashed else "p/count"
            distinct = "p/distinct-h" if hashed else "p/distinct"
            if kind < 0.4:
                ops.append(Op(count, window, key, add=True, hash_key=hashed))
            elif kind < 0.7:
                member = rng.choice(["c1", "c2", "c3", "c4", "c5"])
                ops.append(Op(distinct, window, key, True, member, True, hashed, hashed))
            elif kind < 0.85:
                ops.append(Op(count, window, key, hash_key=hashed))
            else:
                ops.append(Op(distinct, window, key, True, hash_key=hashed, hash_member=hashed))
        out.append((now, ops))
    return out


@pytest.mark.parametrize(("seed", "secret"), [(1, None), (2, b"k" * 16), (3, b"k" * 16)])
def test_redis_gives_the_memory_backends_answers(
    redis_url: str, prefix: str, seed: int, secret: bytes | None
) -> None:
    """Differential: the same random sequence, a controlled clock, identical answers,
    content-derived keys and values hashed (keyed or not) in Redis and text in memory."""
    rng = random.Random(seed)
    sequence = random_ops(rng, 400)
    memory = MemoryBackend(max_per_key=4)  # small, so that saturation is compared too

    async def go() -> list[list[int]]:
        backend = RedisBackend(redis_url, prefix=prefix, max_per_key=4, key_secret=secret)
        try:
            return [await backend.apply_async(ops, now) for now, ops in sequence]
        finally:
            await backend.close()

    from_redis = run(go())
    from_memory = [memory.apply(ops, now) for now, ops in sequence]
    assert from_redis == from_memory
    assert max(v for values in from_memory for v in values) == 4


def test_whole_decisions_agree_between_backends(
    redis_url: str, prefix: str, policies: Path
) -> None:
    """Differential through the whole pipeline: keys, one call, evaluation, strikes."""
    policyset = load_policies([policies])
    rng = random.Random(7)
    events = []
    t = 1_800_000_000.0
    for _ in range(300):
        t += rng.choice([0.0, 0.5, 2.0, 9.0, 30.0, 61.0])
        text = rng.choice(["hi", "darn", "Buy now", "buy NOW"])
        events.append(
            (
                t,
                Event(
                    "message.shouldCreate",
                    {"text": text, "channelId": rng.choice(["c1", "c2", "c3", "c4", "c5"])},
                    {"userId": rng.choice(["u1", "u2"])},
                ),
            )
        )
    memory = MemoryBackend()
    expected = []
    for when, event in events:
        decided = decide(policyset, event, Timestamp(when), counters=memory)
        assert decided.counters is not None
        expected.append((decided.decision.response(), dict(decided.counters.values)))

    async def go() -> list[Any]:
        backend = RedisBackend(redis_url, prefix=prefix, key_secret=b"whole-decisions-key")
        service = CounterService(CounterSettings(backend="redis", timeout_ms=5000), redis=backend)
        out = []
        try:
            for when, event in events:
                decided = await decide_async(
                    policyset, event, Timestamp(when), counters=service,
                    deadline=time.perf_counter() + 10,
                )  # fmt: skip
                assert decided.counters is not None and decided.counters.source == "redis"
                out.append((decided.decision.response(), dict(decided.counters.values)))
        finally:
            await service.close()
        return out

    actual = run(go())
    assert actual == expected
    client = redis.Redis.from_url(redis_url)
    stored = " ".join(k.decode() for k in client.scan_iter(f"{prefix}:*"))
    client.close()
    assert ":c:u1" in stored and ":d:hmac:" in stored  # ids readable, texts keyed hashes
    assert not any(t in stored for t in ("darn", "buy now"))
    actions = {json.dumps(r) for r, _ in expected}
    assert len(actions) >= 4  # allow, censored, flood, same text, strikes: all exercised


def test_keys_expire_one_window_after_their_last_write(redis_url: str, prefix: str) -> None:
    async def go() -> None:
        backend = RedisBackend(redis_url, prefix=prefix)
        try:
            now = int(time.time() * 1000)
            op = Op("p/c", 60_000, "u1", add=True)
            await backend.apply_async([op, Op("p/d", 600_000, "t", True, "c1", add=True)], now)
            ttl = await backend.client.pttl(backend.redis_key(op))
            assert 55_000 < ttl <= 60_000
            dttl = await backend.client.pttl(f"{prefix}:p/d:600000:d:t")
            assert 590_000 < dttl <= 600_000
            read = Op("p/c", 60_000, "never-written")
            assert await backend.apply_async([read], now) == [0]
            assert await backend.client.exists(backend.redis_key(read)) == 0  # reads write nothing
        finally:
            await backend.close()

    run(go())


SCRIPT_COMMANDS = {"zadd", "zremrangebyscore", "zremrangebyrank", "zcard", "zcount", "pexpire"}


def _calls(client: redis.Redis) -> dict[str, int]:
    stats: dict[str, Any] = client.info("commandstats")  # type: ignore[assignment]
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}


def test_one_round_trip_per_event(redis_url: str, prefix: str, policies: Path) -> None:
    """An event with three counters (two adds, one strike read) is ONE EVALSHA and nothing
    else; only an event that strikes makes a second call."""
    policyset = load_policies([policies])
    sync = redis.Redis.from_url(redis_url)
    event = Event("message.shouldCreate", {"text": "hello", "channelId": "c1"}, {"userId": "u9"})
    plan = policyset.plan(event.name)
    assert len(plan.counters) == 3

    async def go(count: int) -> None:
        service = CounterService(
            CounterSettings(backend="redis", timeout_ms=5000),
            redis=RedisBackend(redis_url, prefix=prefix),
        )
        try:
            for i in range(count):
                now = Timestamp(1_800_000_000 + i * 100.0)  # 100 s apart: never a flood
                decided = await decide_async(
                    policyset, event, now, counters=service, deadline=time.perf_counter() + 10
                )
                decision = decided.decision
                assert decision.action == "allow" and not decision.modified_by
        finally:
            await service.close()

    run(go(1))  # loads the script
    before = _calls(sync)
    run(go(20))
    after = _calls(sync)
    sent = {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}
    # Commands run inside the script are counted too; apart from those, the client sent
    # the 20 EVALSHAs, its connection set-up (HELLO, CLIENT SETINFO) and our INFO.
    issued = {k: n for k, n in sent.items() if k not in SCRIPT_COMMANDS}
    assert issued.pop("evalsha") == 20
    assert set(issued) <= {"hello", "client|setinfo", "info", "select"}, issued
    assert sent["zadd"] == 40  # two event counters added to per event
    sync.close()


# -- two receiver processes sharing one Redis ----------------------------------------------


@contextlib.contextmanager
def receiver_process(policies: Path, config: Path, port: int) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECEIVER_")}
    process = subprocess.Popen(
        [
            sys.executable, "-m", "receiver", "serve", "--config", str(config),
            "--policies", str(policies), "--port", str(port), "--host", "127.0.0.1",
            "--decision-log", os.devnull, "--log-level", "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                err = process.stderr.read().decode() if process.stderr else ""
                raise AssertionError(f"receiver exited early: {err}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError("receiver did not become ready")
            time.sleep(0.2)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=30)
        if process.stderr is not None:
            process.stderr.close()


def test_two_receivers_share_their_counts(
    redis_url: str, prefix: str, policies: Path, tmp_path: Path
) -> None:
    config = tmp_path / "receiver.yaml"
    config.write_text(
        f"counters:\n  backend: redis\n  redis_url: {redis_url}\n  key_prefix: {prefix}\n"
        "  timeout_ms: 2000\n",
        encoding="utf-8",
    )

    def message(text: str, channel: str = "c1") -> dict[str, Any]:
        return {
            "eventName": "message.shouldCreate",
            "data": {"text": text, "channelId": channel},
            "actor": {"userId": "shared-user"},
        }

    with (
        receiver_process(policies, config, free_port()) as a,
        receiver_process(policies, config, free_port()) as b,
    ):
        answers = []
        for i in range(6):
            base = a if i % 2 == 0 else b
            reply = httpx.post(f"{base}/hooks/socialplus", json=message(f"m{i}"), timeout=30)
            assert reply.status_code == 200
            answers.append(reply.json())
        # three messages each; together six: over the limit of five, on either replica
        assert answers[:5] == [{"action": "allow"}] * 5
        assert answers[5] == {"action": "deny", "message": "flood 6"}
        for i, base in enumerate([a, b, a, b]):
            reply = httpx.post(
                f"{base}/hooks/socialplus", json=message("same", f"x{i}"), timeout=30
            )
            assert reply.json()["action"] == "deny"  # flood (7, 8, ...) or strikes: global
        metrics = httpx.get(f"{a}/metrics", timeout=30).text
        assert 'receiver_counter_calls_total{backend="redis",result="ok"}' in metrics
