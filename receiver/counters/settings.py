"""Counter backend settings (``--counters``, ``--redis-url``, ... or ``counters:`` in the
``--config`` file).

The edge (settings). Produced by ``receiver serve``'s settings
(:mod:`receiver.http.settings`); consumed by the counter front
(:class:`~receiver.counters.service.CounterService`), which builds its backends from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# memory: this process only (refused with --workers N > 1); memory-per-worker: the same,
# said explicitly, so each worker counts on its own; redis: one count for every process
Backend = Literal["memory", "memory-per-worker", "redis"]
BACKENDS: tuple[Backend, ...] = ("memory", "memory-per-worker", "redis")
Fallback = Literal["memory", "unknown"]

DEFAULT_REDIS_TIMEOUT_MS = 50
DEFAULT_MAX_KEYS = 100_000  # per counter, in memory
DEFAULT_MAX_PER_KEY = 10_000  # events (or distinct values) kept per key; counts saturate here
DEFAULT_KEY_PREFIX = "receiver:counter"
DEFAULT_RETRY_AFTER = 1.0  # seconds: after a Redis failure, go straight to the fallback


@dataclass(frozen=True, slots=True)
class CounterSettings:
    backend: Backend = "memory"
    redis_url: str | None = None
    fallback: Fallback = "memory"
    timeout_ms: int = DEFAULT_REDIS_TIMEOUT_MS
    max_keys: int = DEFAULT_MAX_KEYS
    max_per_key: int = DEFAULT_MAX_PER_KEY
    key_prefix: str = DEFAULT_KEY_PREFIX
    retry_after: float = DEFAULT_RETRY_AFTER
    # The deployment's key of the HMAC of content-derived keys in Redis (None: plain
    # SHA-256, warned about at start); never shown by repr
    key_secret: bytes | None = field(default=None, repr=False)
