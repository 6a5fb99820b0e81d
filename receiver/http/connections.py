"""Bounded connections: the HTTP/1.1 protocol of ``receiver serve`` (the edge).

Consumes the :class:`~receiver.http.limits.ConnectionLimits` of the service config and a
callback that counts refusals (``Metrics.refused_connection``); produces the protocol
class that uvicorn runs each connection with (``uvicorn.Config(http=...)``). It is
uvicorn's httptools protocol plus four limits, each enforced in this worker:

- **head size**: bytes that arrive while a request head (request line and headers) is
  incomplete are counted before httptools sees them; a head that would pass
  ``max_head_bytes`` is answered ``431`` and the connection closed, so at most the
  limit is ever buffered for it (httptools keeps a header's pieces until the header
  ends). On a pipelined connection, the part of a head that shares a read with the
  end of the previous request is not counted: at most one read (256 KiB) more;
- **read timeout**: a request's head must arrive within ``read_timeout`` of the
  connection's opening (or, on a kept-alive connection, of the request's first byte),
  and its body within ``read_timeout`` of the head's end. Past it, the connection is
  answered ``408`` if part of a request had arrived (closed silently if nothing had)
  and closed. Each request only moves a deadline; one timer per connection checks it,
  firing at most once per ``read_timeout`` while requests keep arriving in time.
  uvicorn alone closes idle kept-alive connections but none that stall inside a
  request, nor one that never sends a byte;
- **concurrency**: a request whose head arrives while ``max_concurrency`` requests are
  being answered in this worker gets ``503`` at once (and the connection is closed);
  ``/healthz`` and ``/readyz`` are answered all the same.
  A request is being answered from its last byte until its answer is sent (or its
  connection lost): requests still sending their body do not count (the read timeout
  bounds them), so slow senders cannot take the places of real requests;
- **connections**: a connection opened while ``max_connections`` are open in this
  worker is closed at once, so slow peers cannot use up file descriptors.

Each refusal is counted by reason (``receiver_connections_refused_total``). The hot
path costs one timer per request and a few integer updates.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from typing import Any, ClassVar

from starlette.types import Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from receiver.http.limits import ConnectionLimits, RefusalReason
from receiver.http.service import error_body
from receiver.http.writes import CoalescedWrites

log = logging.getLogger("receiver.http.connections")

# Probes are answered even over the concurrency limit: they cost next to nothing, and a
# liveness probe that failed under load would have an orchestrator restart a busy worker.
PROBES = frozenset({b"/healthz", b"/readyz"})

FD_RESERVE = 64  # descriptors besides connections: logs, policy files, Redis, the directory

_OVER_CAPACITY = error_body("over capacity")
_OVER_CAPACITY_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(_OVER_CAPACITY)).encode("ascii")),
    (b"retry-after", b"1"),
    (b"connection", b"close"),
]


def _raw_response(status: bytes, message: str) -> bytes:
    body = error_body(message)
    return b"".join(
        [
            b"HTTP/1.1 ", status, b"\r\n",
            b"content-type: application/json\r\n",
            b"content-length: ", str(len(body)).encode("ascii"), b"\r\n",
            b"connection: close\r\n\r\n",
            body,
        ]
    )  # fmt: skip


HEAD_TOO_LARGE = _raw_response(b"431 Request Header Fields Too Large", "request head too large")
READ_TIMEOUT = _raw_response(b"408 Request Timeout", "request not received in time")


class ConnectionGuard:
    """The limits and the shared state of one worker's connections."""

    def __init__(self, limits: ConnectionLimits, count: Callable[[RefusalReason], None]) -> None:
        self.limits = limits
        self.count = count
        self.answering = 0  # requests received whole and not answered yet

    async def over_capacity(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI app that answers a request over the concurrency limit."""
        await send({"type": "http.response.start", "status": 503,
                    "headers": _OVER_CAPACITY_HEADERS})  # fmt: skip
        await send({"type": "http.response.body", "body": _OVER_CAPACITY})


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits of :attr:`guard` (see the module)."""

    guard: ClassVar[ConnectionGuard]  # set on the class that protocol_class() makes

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        limits = self.guard.limits
        self.max_head = limits.max_head_bytes
        self.read_timeout = limits.read_timeout
        self.head_open = True  # bytes arriving now belong to a request head
        self.head_seen = 0  # bytes of the open head counted so far
        self.heads = 0  # heads completed on this connection
        self.begun = False  # part of the current request has arrived
        self.reading = False  # head complete, body not
        self.answering = 0  # requests of this connection counted in guard.answering
        self.deadline = 0.0  # loop time by which the head or body must be in; 0: none
        self.timer: asyncio.TimerHandle | None = None  # fires at or before the deadline

    # -- the connection --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        # an answer's head and body in one write (receiver/http/writes.py)
        transport = CoalescedWrites(transport, self.loop)  # type: ignore[assignment]
        super().connection_made(transport)
        if len(self.connections) > self.guard.limits.max_connections:
            self.guard.count("too-many-connections")
            transport.close()
            return
        self.deadline = self.loop.time() + self.read_timeout
        self.timer = self.loop.call_at(self.deadline, self.on_deadline)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.guard.answering -= self.answering
        self.answering = 0
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.head_open:
            seen = self.head_seen + len(data)
            if seen > self.max_head:
                self.feed_capped(data)
                return
            self.head_seen = seen
        super().data_received(data)

    def feed_capped(self, data: bytes) -> None:
        """Feed ``data``, which would take the open head past the limit, up to the limit;
        refuse the request unless its head ends within it."""
        room = self.max_head - self.head_seen
        heads = self.heads
        self.head_seen = self.max_head
        super().data_received(data[:room])
        if self.transport.is_closing():
            return  # the parser refused it already (400)
        if self.heads == heads:
            self.refuse(HEAD_TOO_LARGE, "head-too-large")
            return
        self.data_received(data[room:])  # the body, or the next request, counted afresh

    def refuse(self, response: bytes, reason: RefusalReason) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.guard.count(reason)
        if self.may_answer():
            self.transport.write(response)
        self.transport.close()

    def may_answer(self) -> bool:
        """Whether a response written now would answer the request being read (and not
        interleave with the answer to an earlier one)."""
        cycle = self.cycle
        if cycle is None:
            return True
        if self.reading:  # the cycle is the request whose body is arriving
            return not cycle.response_started and not self.pipeline
        return cycle.response_complete  # the cycle is the previous request

    def on_deadline(self) -> None:
        self.timer = None
        deadline = self.deadline
        if not deadline or self.transport.is_closing():
            return  # nothing is awaited: the request has arrived (or nothing began)
        if deadline > self.loop.time():  # moved on by a later request or by the head's end
            self.timer = self.loop.call_at(deadline, self.on_deadline)
            return
        if self.begun:
            self.refuse(READ_TIMEOUT, "read-timeout")
        else:
            self.guard.count("read-timeout")
            self.transport.close()

    # -- parser callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.begun = True
        if not self.deadline:  # the next request on a kept-alive connection
            self.deadline = self.loop.time() + self.read_timeout
            if self.timer is None:
                self.timer = self.loop.call_at(self.deadline, self.on_deadline)

    def on_headers_complete(self) -> None:
        self.head_open = False
        self.head_seen = 0
        self.heads += 1
        self.deadline = self.loop.time() + self.read_timeout  # for the body
        self.reading = True
        guard = self.guard
        if guard.answering < guard.limits.max_concurrency or self.url in PROBES:
            super().on_headers_complete()
            return
        guard.count("over-capacity")
        app = self.app
        self.app = guard.over_capacity  # uvicorn starts the request with self.app
        try:
            super().on_headers_complete()
        finally:
            self.app = app

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.deadline = 0.0  # the timer, if still armed, finds nothing to do
        self.reading = False
        self.head_open = True
        self.begun = False
        cycle = self.cycle  # None only after a protocol upgrade
        if cycle is not None and not cycle.response_complete:  # not answered early (413)
            self.answering += 1
            self.guard.answering += 1

    def on_response_complete(self) -> None:
        if self.answering:
            self.answering -= 1
            self.guard.answering -= 1
        super().on_response_complete()


def protocol_class(
    limits: ConnectionLimits, count: Callable[[RefusalReason], None]
) -> type[BoundedHttpToolsProtocol]:
    """A protocol class for uvicorn bound to ``limits``, counting refusals with ``count``.

    Made in the worker that runs it (``receiver serve --workers N`` builds its uvicorn
    config in each worker), so nothing here is pickled.
    """
    guard = ConnectionGuard(limits, count)
    return type("ReceiverHttpProtocol", (BoundedHttpToolsProtocol,), {"guard": guard})


def raise_fd_limit(limits: ConnectionLimits) -> None:
    """Make room for ``max_connections`` descriptors: raise this process's soft limit
    towards the hard one when it is lower, and warn when even that is not enough (the
    kernel would then refuse connections before the limit does)."""
    if sys.platform == "win32":
        return
    import resource  # noqa: PLC0415  (POSIX only)

    needed = limits.max_connections + FD_RESERVE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft < needed:
        log.warning(
            "the file-descriptor limit (%d) is below --max-connections (%d) plus %d: raise "
            "it (ulimit -n) or lower --max-connections",
            soft, limits.max_connections, FD_RESERVE,
        )  # fmt: skip
