"""receiver/counters/service.py: the service's counter front when Redis is down or slow.

One backend call per event, bounded by the timeout and the request's deadline; on
failure the event falls back (``memory`` or ``unknown``), the failure is counted, and
for ``retry_after`` seconds calls skip Redis. None of these tests needs a Redis server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from serverproc import free_port
from starlette.testclient import TestClient

from receiver.counters.service import CounterService
from receiver.counters.settings import CounterSettings
from receiver.dsl.values import Timestamp
from receiver.http.app import create_app
from receiver.http.config import ServiceConfig
from receiver.observe.decisionlog import DecisionLog
from receiver.runtime.decide import decide_async
from receiver.runtime.payload import Event
from receiver.runtime.policyset import load_policies


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# -- the memory backend ---------------------------------------------------------------


def test_the_memory_backend_answers_without_awaiting_and_counts_its_calls(
    policies: Path,
) -> None:
    policyset = load_policies([policies])
    registry = CollectorRegistry()
    service = CounterService(CounterSettings(), registry)
    assert service.backend == "memory"

    async def go() -> list[Any]:
        out = []
        for i in range(3):
            decided = await decide_async(
                policyset, rate_event(), Timestamp(1_800_000_000 + i), counters=service,
                deadline=time.perf_counter() + 10,
            )  # fmt: skip
            counted = decided.counters
            assert counted is not None
            out.append((counted.source, counted.values.get("rate/messages_per_minute")))
        await service.close()
        return out

    assert run(go()) == [("memory", 1), ("memory", 2), ("memory", 3)]
    calls = registry.get_sample_value(
        "receiver_counter_calls_total", {"backend": "memory", "result": "ok"}
    )
    assert calls == 3


def test_an_event_that_reads_no_counter_makes_no_backend_call(policies: Path) -> None:
    policyset = load_policies([policies])
    registry = CollectorRegistry()
    service = CounterService(CounterSettings(), registry)
    join = Event("channel.shouldJoin", {"channelId": "c"}, {"userId": "u1"})
    deadline = time.perf_counter() + 10
    decided = run(
        decide_async(policyset, join, Timestamp(1_800_000_000), counters=service, deadline=deadline)
    )
    assert decided.counters is None or (
        decided.counters.ops == [] and not decided.counters.unavailable
    )
    calls = registry.get_sample_value(
        "receiver_counter_calls_total", {"backend": "memory", "result": "ok"}
    )
    assert not calls


def test_the_redis_backend_needs_a_url() -> None:
    with pytest.raises(ValueError, match="needs a Redis URL"):
        CounterService(CounterSettings(backend="redis"))


# -- Redis down or slow ----------------------------------------------------------------


def closed_port_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """A TCP server that accepts connections and never answers: a hung Redis."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = server.accept()
                held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    finally:
        stop.set()
        thread.join(timeout=10)
        for conn in held:
            conn.close()
        server.close()


def rate_event() -> Event:
    return Event("message.shouldCreate", {"text": "hi", "channelId": "c1"}, {"userId": "u1"})


@pytest.mark.parametrize("fallback", ["memory", "unknown"])
def test_redis_down_falls_back(policies: Path, fallback: str) -> None:
    policyset = load_policies([policies])
    settings = CounterSettings(
        backend="redis",
        redis_url=closed_port_url(),
        fallback=fallback,  # type: ignore[arg-type]
    )
    registry = CollectorRegistry()

    struck = 0  # decisions that recorded strikes (fallback memory: the flood denials)

    async def go() -> list[Any]:
        nonlocal struck
        service = CounterService(settings, registry)
        out = []
        try:
            for i in range(7):
                started = time.perf_counter()
                decided = await decide_async(
                    policyset, rate_event(), Timestamp(1_800_000_000 + i), counters=service,
                    deadline=started + 2.0,
                )  # fmt: skip
                assert time.perf_counter() - started < 2.0
                counted = decided.counters
                assert counted is not None
                out.append((counted.source, counted.values.get("rate/messages_per_minute")))
                struck += bool(counted.strikes)  # a decision's strikes: one more call
        finally:
            await service.close()
        return out

    results = run(go())
    if fallback == "memory":
        assert results == [("fallback-memory", n) for n in range(1, 8)]
    else:
        assert results == [("unknown", None)] * 7
    errors = registry.get_sample_value(
        "receiver_counter_calls_total", {"backend": "redis", "result": "error"}
    )
    skipped = registry.get_sample_value(
        "receiver_counter_calls_total", {"backend": "redis", "result": "skipped"}
    )
    # after a failure, no waiting on Redis for a while: the other reads and every strike
    assert errors == 1 and skipped == 6 + struck
    assert struck == (2 if fallback == "memory" else 0)
    total = sum(
        registry.get_sample_value(
            "receiver_counter_fallbacks_total", {"mode": fallback, "reason": reason}
        )
        or 0
        for reason in ("error", "down")
    )
    assert total == 7 + struck


def test_redis_slow_answers_within_the_deadline(policies: Path) -> None:
    policyset = load_policies([policies])
    registry = CollectorRegistry()

    async def go() -> tuple[float, str]:
        with silent_server() as url:
            settings = CounterSettings(backend="redis", redis_url=url, timeout_ms=10_000)
            service = CounterService(settings, registry)
            try:
                started = time.perf_counter()
                decided = await decide_async(
                    policyset, rate_event(), Timestamp(1_800_000_000), counters=service,
                    deadline=started + 0.3,
                )  # fmt: skip
                assert decided.counters is not None
                return time.perf_counter() - started, decided.counters.source
            finally:
                await service.close()

    elapsed, source = run(go())
    assert source == "fallback-memory"
    assert elapsed < 1.5  # bounded by the 300 ms deadline, not the 10 s Redis timeout
    timeouts = registry.get_sample_value(
        "receiver_counter_calls_total", {"backend": "redis", "result": "timeout"}
    )
    assert timeouts == 1


def test_the_service_never_fails_when_redis_is_down(policies: Path) -> None:
    config = ServiceConfig(
        policies=policies,
        deadline_ms=1500,
        counters=CounterSettings(
            backend="redis", redis_url=closed_port_url(), fallback="unknown", retry_after=60
        ),
    )
    log = DecisionLog(open(os.devnull, "wb"), False, owned=True)  # noqa: SIM115
    with TestClient(create_app(config, log)) as client:
        message = {
            "eventName": "message.shouldCreate",
            "data": {"text": "hi", "channelId": "c1"},
            "actor": {"userId": "u1"},
        }
        for _ in range(8):
            reply = client.post("/hooks/socialplus", json=message)
            assert reply.status_code == 200
            assert reply.json() == {"action": "allow"}  # null counters: no flood rule fires
        join = {
            "eventName": "channel.shouldJoin",
            "data": {"channelId": "c"},
            "actor": {"userId": "u1"},
        }
        reply = client.post("/hooks/socialplus", json=join)
        assert reply.json() == {"action": "deny", "message": "counters unavailable"}
        metrics = client.get("/metrics").text
        assert 'receiver_counter_fallbacks_total{mode="unknown"' in metrics
