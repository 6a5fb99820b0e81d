"""User-cache evictions that reach every worker of every replica, over Redis pub/sub.

The edge (user records), beside the user cache. Consumes the user ids that a webhook
evicted in this worker (:meth:`EvictionBroadcast.publish`) and the messages of the
other workers on a Redis channel; produces evictions in this worker's
:class:`~receiver.users.cache.UserCache`, and metrics.

Each worker process has one :class:`EvictionBroadcast` when a Redis URL is configured
and a user cache exists. It subscribes to one channel (``<key prefix>:users:evict``)
with redis-py's asyncio PubSub on a connection of its own, and:

- :meth:`~EvictionBroadcast.publish` sends the ids that this worker has just evicted
  (:mod:`receiver.users.eviction_message`), bounded by a short timeout; a failure is
  logged (once per outage) and counted, and never fails the webhook: the local eviction
  has happened already;
- every message received from another worker evicts its users at once (an in-flight
  fetch of one of them is not cached, as :meth:`UserCache.evict` does), and the delay
  from its publish time is observed (the fan-out histogram); a worker's own messages
  are skipped; a malformed one is counted and ignored;
- when Redis goes away (or stops answering the pings sent on a quiet connection) the
  subscriber reconnects with a capped, jittered exponential back-off and logs once per
  outage, not per retry. Evictions published meanwhile never arrive, so after a
  reconnect (or a first subscription that Redis delayed) the worker empties its cache:
  every user is fetched again, and no record outlives an eviction that it missed.

Nothing here is awaited by a pre-hook request: the subscriber is a task of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from receiver.observe.throttle import LogThrottle, held_note
from receiver.users.cache import UserCache
from receiver.users.eviction_message import MessageError, decode, encode

log = logging.getLogger("receiver.users.broadcast")

CHANNEL_SUFFIX = "users:evict"  # the channel is "<key prefix>:users:evict"
PUBLISH_TIMEOUT = 0.25  # seconds a webhook waits at most for its eviction to be published
BACKOFF_FIRST = 0.05  # seconds before the first reconnect; doubled up to BACKOFF_CAP
BACKOFF_CAP = 5.0
HEARTBEAT = 5.0  # a quiet subscription is pinged after this; lost after 3 unanswered
CONNECT_TIMEOUT = 2.0
POLL = 1.0  # the subscriber wakes at least this often (a message wakes it at once)


def channel_name(key_prefix: str) -> str:
    return f"{key_prefix}:{CHANNEL_SUFFIX}"


class BroadcastMetrics(Protocol):
    def evicted(self, origin: str, count: int) -> None: ...
    def eviction_message(self, result: str) -> None: ...
    def eviction_fanout(self, seconds: float) -> None: ...
    def eviction_publish_failed(self) -> None: ...
    def eviction_subscribed(self) -> None: ...


class EvictionBroadcast:
    """One worker's end of the eviction channel: :meth:`start`, :meth:`publish`, :meth:`stop`."""

    def __init__(
        self,
        cache: UserCache,
        url: str,
        channel: str,
        metrics: BroadcastMetrics | None = None,
        *,
        publish_timeout: float = PUBLISH_TIMEOUT,
        backoff: tuple[float, float] = (BACKOFF_FIRST, BACKOFF_CAP),
        heartbeat: float = HEARTBEAT,
        clock: Callable[[], float] = time.time,
        sender: str | None = None,
    ) -> None:
        self.cache = cache
        self.url = url  # may hold a password: never logged
        self.channel = channel
        self.metrics = metrics
        self.publish_timeout = publish_timeout
        self.backoff = backoff
        self.heartbeat = heartbeat
        self.clock = clock  # the epoch clock of the messages' publish times
        self.sender = sender or f"{os.urandom(6).hex()}-{os.getpid()}"
        self.subscribed = asyncio.Event()  # set while the subscription is live (for tests)
        self._publisher = self._client(publish_timeout)
        self._task: asyncio.Task[None] | None = None
        self._publish_down = False
        self._throttle = LogThrottle()

    def _client(self, timeout: float) -> aioredis.Redis:
        return aioredis.Redis.from_url(
            self.url,
            socket_timeout=timeout,
            socket_connect_timeout=min(timeout, CONNECT_TIMEOUT),
            socket_keepalive=True,
            retry=Retry(NoBackoff(), 0),  # the back-off here is ours, and logged once
            health_check_interval=0,
        )

    # -- publishing (a webhook's evictions) -------------------------------------------

    async def publish(self, users: Sequence[str]) -> bool:
        """Tell the other workers; False (logged once per outage, counted) when it failed."""
        try:
            messages = list(encode(users, self.clock() * 1000, self.sender))
            if not messages:
                return True
            pipe = self._publisher.pipeline(transaction=False)  # one round trip for all
            for data in messages:
                pipe.publish(self.channel, data)
            await asyncio.wait_for(pipe.execute(), self.publish_timeout)
        except (RedisError, OSError, TimeoutError) as err:
            if self.metrics is not None:
                self.metrics.eviction_publish_failed()
            if not self._publish_down:
                self._publish_down = True
                log.warning(
                    "could not publish a user-cache eviction on Redis (%s); the other "
                    "workers keep the user until --users-ttl expires. Check that Redis is "
                    "up; this is logged again only after a publish succeeds",
                    type(err).__name__,
                )
            return False
        except Exception:  # a bug: still never fails the webhook
            if self.metrics is not None:
                self.metrics.eviction_publish_failed()
            log.exception("publishing a user-cache eviction failed unexpectedly")
            return False
        if self._publish_down:
            self._publish_down = False
            log.info("user-cache evictions are published on Redis again")
        return True

    # -- subscribing (the other workers' evictions) -----------------------------------

    def start(self) -> None:
        """Start the subscriber task (in the running loop); it never blocks start-up."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._subscribe_forever())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await self._publisher.aclose()

    async def _subscribe_forever(self) -> None:
        first, cap = self.backoff
        attempt = 0
        down_since: float | None = None
        served = False  # whether this worker was subscribed before (and may have missed some)
        while True:
            client = self._client(CONNECT_TIMEOUT)
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                async for _ in self._listen(pubsub):  # yields once: when subscribed
                    self.subscribed.set()
                    if self.metrics is not None:
                        self.metrics.eviction_subscribed()
                    if served or down_since is not None:
                        self._after_outage(down_since)
                    served, down_since, attempt = True, None, 0
            except asyncio.CancelledError:
                raise
            except Exception as err:  # Redis went away; or a bug, which must not end this
                if down_since is None:
                    down_since = time.monotonic()
                    self._log_outage(err, cap)
            finally:
                self.subscribed.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()
            delay = min(cap, first * 2**attempt) * random.uniform(0.8, 1.2)
            attempt = min(attempt + 1, 30)
            await asyncio.sleep(delay)

    async def _listen(self, pubsub: Any) -> AsyncIterator[None]:
        """Handle messages until the connection fails (raises); yield when subscribed."""
        heard = pinged = time.monotonic()
        while True:
            message = await pubsub.get_message(timeout=min(POLL, self.heartbeat))
            now = time.monotonic()
            if message is None:
                if now - heard > 3 * self.heartbeat:
                    raise RedisConnectionError("Redis did not answer the subscriber's pings")
                if now - heard > self.heartbeat and now - pinged > self.heartbeat:
                    pinged = now
                    await pubsub.ping()
                continue
            heard = now
            kind = message.get("type")
            if kind == "message":
                self.receive(message.get("data"))
            elif kind == "subscribe":
                yield

    def receive(self, data: object) -> None:
        """Apply one message from the channel (never raises)."""
        try:
            if not isinstance(data, bytes):
                raise MessageError("not bytes")
            eviction = decode(data)
        except MessageError as err:
            self._message("malformed")
            held = self._throttle.admit("malformed")
            if held >= 0:
                log.warning(
                    "ignored a malformed message on the eviction channel %s: %s%s",
                    self.channel, err, held_note(held),
                )  # fmt: skip
            return
        try:
            if eviction.sender == self.sender:
                self._message("own")  # evicted here before it was sent
                return
            delay = max(0.0, self.clock() - eviction.at_ms / 1000)
            evicted = sum(self.cache.evict(user) for user in eviction.users)
            self._message("peer")
            if self.metrics is not None:
                self.metrics.eviction_fanout(delay)
                self.metrics.evicted("peer", evicted)
        except Exception:
            log.exception("applying an eviction message failed unexpectedly")

    def _after_outage(self, down_since: float | None) -> None:
        dropped = self.cache.evict_all()
        if self.metrics is not None:
            self.metrics.evicted("reconnect", dropped)
        lasted = time.monotonic() - down_since if down_since is not None else 0.0
        log.info(
            "subscribed to the user-cache eviction channel after %.1f s without it; emptied "
            "this worker's user cache (%d users): evictions sent meanwhile were missed",
            lasted, dropped,
        )  # fmt: skip

    def _log_outage(self, err: BaseException, cap: float) -> None:
        if isinstance(err, RedisError | OSError):
            log.warning(
                "the user-cache eviction subscriber lost Redis (%s: %s); until it is back, "
                "evictions from other workers do not reach this one. Retrying with a "
                "back-off of up to %g s; logged again when it is back",
                type(err).__name__, err, cap,
            )  # fmt: skip
        else:
            log.error("the user-cache eviction subscriber failed; restarting it", exc_info=err)

    def _message(self, result: str) -> None:
        if self.metrics is not None:
            self.metrics.eviction_message(result)
