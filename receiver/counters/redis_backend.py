"""The Redis counter backend: counts shared by every receiver process using one Redis.

The edge of counting: a backend that stage 4 (run) calls through the service's counter
front. Consumes the counter operations of an event (:class:`~receiver.runtime.counters.Op`)
and the time in milliseconds; produces one count per operation
(:meth:`RedisBackend.apply_async`), in one Redis call.

All of an event's counter operations go to Redis in ONE call: an ``EVALSHA`` of the Lua
script below (atomic: Redis runs a script alone). Each key is a sorted set whose
members are the events (a unique id each) or, for distinct counts, the values, scored
by the time in milliseconds (for distinct counts, the time last seen):

- add: ``ZADD key now member``, ``ZREMRANGEBYSCORE key -inf now-window``, ``ZCARD``,
  trim to ``max_per_key`` (oldest first), ``PEXPIRE key window``: a key disappears one
  window after its last write, so Redis memory stays bounded by the active keys;
- read: ``ZCOUNT key (now-window +inf`` (nothing written).

A key or distinct value that the counter plan marked as derived from content (``Op``'s
``hash_key``, ``hash_member``) goes to Redis as its keyed hash
(:class:`~receiver.counters.keyhash.KeyHasher`): Redis never holds message text. Key
names are ``PREFIX:COUNTER:WINDOW_MS:c|d:KEY`` (``c`` a count, ``d`` a distinct count).

The times are the receivers' clocks (keep them NTP-synchronised); the answers are
exactly the memory backend's on the same sequence of events (tests/counters/test_redis_backend.py).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from itertools import count
from typing import Any

import redis.asyncio as aioredis

from receiver.counters.keyhash import KeyHasher
from receiver.counters.settings import DEFAULT_KEY_PREFIX, DEFAULT_MAX_PER_KEY
from receiver.runtime.counters import Op

SCRIPT = """
local now = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
local out = {}
for i, key in ipairs(KEYS) do
  local at = 3 + (i - 1) * 3
  local window = tonumber(ARGV[at])
  local floor = now - window
  if ARGV[at + 1] == 'a' then
    redis.call('ZADD', key, now, ARGV[at + 2])
    redis.call('ZREMRANGEBYSCORE', key, '-inf', floor)
    local n = redis.call('ZCARD', key)
    if n > cap then
      redis.call('ZREMRANGEBYRANK', key, 0, n - cap - 1)
      n = cap
    end
    redis.call('PEXPIRE', key, window)
    out[i] = n
  else
    out[i] = redis.call('ZCOUNT', key, '(' .. floor, '+inf')
  end
end
return out
"""


class RedisBackend:
    """Counters in one Redis (or a primary behind Sentinel); ``apply`` is one round trip."""

    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_KEY_PREFIX,
        max_per_key: int = DEFAULT_MAX_PER_KEY,
        timeout: float = 1.0,
        client: aioredis.Redis | None = None,
        key_secret: bytes | None = None,
    ) -> None:
        self.client = client or aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=0,
            retry_on_timeout=False,
        )
        self.prefix = prefix
        self.max_per_key = max_per_key
        self.hasher = KeyHasher(key_secret)  # content-derived keys and values: keyed hashes
        self.script: Any = self.client.register_script(SCRIPT)
        self._node = os.urandom(6).hex()  # members of plain counts: unique across processes
        self._seq = count()

    def redis_key(self, op: Op) -> str:
        kind = "d" if op.distinct else "c"
        key = self.hasher(op.key) if op.hash_key else op.key
        return f"{self.prefix}:{op.counter}:{op.window_ms}:{kind}:{key}"

    def args(self, ops: Sequence[Op], now_ms: int) -> tuple[list[str], list[object]]:
        keys = [self.redis_key(op) for op in ops]
        argv: list[object] = [now_ms, self.max_per_key]
        for op in ops:
            if not op.add:
                argv.extend((op.window_ms, "r", ""))
            elif op.distinct:
                member = op.member or ""
                argv.extend((op.window_ms, "a", self.hasher(member) if op.hash_member else member))
            else:
                argv.extend((op.window_ms, "a", f"{now_ms}:{self._node}:{next(self._seq)}"))
        return keys, argv

    async def apply_async(self, ops: Sequence[Op], now_ms: int) -> list[int]:
        """Each operation's value after it, from one EVALSHA."""
        if not ops:
            return []
        keys, argv = self.args(ops, now_ms)
        result = await self.script(keys=keys, args=argv)
        return [int(v) for v in result]

    async def ping(self) -> bool:
        return bool(await self.client.ping())

    async def close(self) -> None:
        await self.client.aclose()
