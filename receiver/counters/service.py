"""The service's counter front: one backend call per event, never failing a request.

The edge (the service), in front of the counter backends. Consumes an event's counter
operations (:class:`~receiver.runtime.counters.Op`), the time and the request's deadline;
produces the counts, or None when unknown, and the name of the backend that gave them
(:meth:`CounterService.call`).

With the Redis backend, each call is bounded by ``timeout_ms`` and by what is left of
the request's deadline. When Redis fails or is too slow, the event's counters fall back
(``fallback: memory``: this process's own memory counters answer; ``unknown``: every
counter reads null and ``counters_unavailable()`` is true), the failure is counted in
metrics and logged (at most once per ``retry_after`` seconds), and for ``retry_after``
seconds calls go straight to the fallback instead of waiting for a dead Redis again.
What an event's calls are, and what their answers mean, is decided by
``receiver.runtime.decide`` (``decide_async`` calls :meth:`CounterService.call`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from time import perf_counter

from prometheus_client import CollectorRegistry

from receiver.counters.memory import MemoryBackend
from receiver.counters.redis_backend import RedisBackend
from receiver.counters.settings import CounterSettings
from receiver.observe.metric_types import counter, histogram
from receiver.runtime.counters import Op
from receiver.users.directory import expand_env

log = logging.getLogger("receiver.counters")

BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
MARGIN = 0.005  # seconds of the deadline left for evaluating and answering


class CounterMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        # once per event: plain dicts in one process (receiver/observe/metric_types.py)
        self.calls = counter(
            registry, "receiver_counter_calls",
            "Counter backend calls, by backend and result (ok, timeout, error, skipped: "
            "not tried while the backend is considered down).",
            ["backend", "result"],
        )  # fmt: skip
        self.latency = histogram(
            registry, "receiver_counter_call_seconds",
            "Latency of counter backend calls.",
            ["backend"], BUCKETS,
        )  # fmt: skip
        self.fallbacks = counter(
            registry, "receiver_counter_fallbacks",
            "Events whose counters fell back (mode memory or unknown), by reason.",
            ["mode", "reason"],
        )  # fmt: skip


class CounterService:
    def __init__(
        self,
        settings: CounterSettings,
        registry: CollectorRegistry | None = None,
        redis: RedisBackend | None = None,
    ) -> None:
        self.settings = settings
        self.memory = MemoryBackend(settings.max_keys, settings.max_per_key)
        self.redis = redis
        if self.redis is None and settings.backend == "redis":
            if not settings.redis_url:
                raise ValueError("the redis counter backend needs a Redis URL (--redis-url)")
            self.redis = RedisBackend(
                expand_env(settings.redis_url, "the redis URL"),
                prefix=settings.key_prefix,
                max_per_key=settings.max_per_key,
                timeout=settings.timeout_ms / 1000,
                key_secret=settings.key_secret,
            )
        self.metrics = CounterMetrics(registry or CollectorRegistry())
        self._down_until = 0.0
        self._logged_at = 0.0

    @property
    def down(self) -> bool:
        """Whether counters read null right now (fallback unknown, Redis failed recently)."""
        return self.settings.fallback == "unknown" and time.monotonic() < self._down_until

    @property
    def backend(self) -> str:
        return "redis" if self.redis is not None else "memory"

    async def call(
        self, ops: Sequence[Op], now_ms: int, deadline: float | None
    ) -> tuple[list[int] | None, str]:
        """The answers to ``ops`` (None: unknown) and which backend gave them."""
        answer = self._at_once(ops, now_ms)
        if answer is not None:
            return answer
        redis = self.redis
        assert redis is not None  # _at_once answered for the memory backend
        if time.monotonic() < self._down_until:
            self.metrics.calls.inc(("redis", "skipped"))
            return self._fallback(ops, now_ms, "down")
        budget = self.settings.timeout_ms / 1000
        if deadline is not None:
            budget = min(budget, deadline - perf_counter() - MARGIN)
        if budget <= 0:
            self.metrics.calls.inc(("redis", "skipped"))
            return self._fallback(ops, now_ms, "no-time")
        started = perf_counter()
        try:
            async with asyncio.timeout(budget):
                values = await redis.apply_async(ops, now_ms)
        except TimeoutError:
            return self._failed(ops, now_ms, "timeout", f"no answer in {budget * 1000:.0f} ms")
        except Exception as err:  # connection refused, reset, script errors, ...
            return self._failed(ops, now_ms, "error", f"{type(err).__name__}: {err}")
        finally:
            self.metrics.latency.observe(("redis",), perf_counter() - started)
        self.metrics.calls.inc(("redis", "ok"))
        return values, "redis"

    def _at_once(self, ops: Sequence[Op], now_ms: int) -> tuple[list[int], str] | None:
        """The answers when nothing needs awaiting (no operations, or the memory backend:
        callers then skip a coroutine), else None."""
        if not ops:
            return [], self.backend
        if self.redis is None:
            return self._memory_call(ops, now_ms), "memory"
        return None

    def _memory_call(self, ops: Sequence[Op], now_ms: int) -> list[int]:
        started = perf_counter()
        values = self.memory.apply(ops, now_ms)
        self.metrics.latency.observe(("memory",), perf_counter() - started)
        self.metrics.calls.inc(("memory", "ok"))
        return values

    def _failed(
        self, ops: Sequence[Op], now_ms: int, result: str, detail: str
    ) -> tuple[list[int] | None, str]:
        self.metrics.calls.inc(("redis", result))
        now = time.monotonic()
        self._down_until = now + self.settings.retry_after
        if now - self._logged_at >= self.settings.retry_after:
            self._logged_at = now
            log.warning(
                "counter backend redis failed (%s); counters fall back to %s for %.1f s",
                detail, self.settings.fallback, self.settings.retry_after,
            )  # fmt: skip
        return self._fallback(ops, now_ms, result)

    def _fallback(
        self, ops: Sequence[Op], now_ms: int, reason: str
    ) -> tuple[list[int] | None, str]:
        mode = self.settings.fallback
        self.metrics.fallbacks.inc((mode, reason))
        if mode == "memory":
            return self.memory.apply(ops, now_ms), "fallback-memory"
        return None, "unknown"

    async def close(self) -> None:
        if self.redis is not None:
            try:
                await self.redis.close()
            except Exception:  # closing a broken connection must not fail a shutdown
                log.debug("closing the redis client failed", exc_info=True)
