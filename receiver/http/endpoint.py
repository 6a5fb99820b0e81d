"""The hook endpoints as plain ASGI applications, mounted as Starlette routes.

The edge (HTTP). Consumes an ASGI request (scope, ``receive``) and a handler, which gets the
body (None past the limit) and the headers; produces the handler's
:class:`~receiver.http.service.Answer` as two ASGI messages (:class:`HookEndpoint`).

A pre-hook call is the service's hot path, so its route skips Starlette's
``Request``/``Response`` objects: it reads the body straight from ``receive`` (refusing
more than ``limit`` bytes, by ``Content-Length`` or while reading), takes the headers
from the ASGI scope into a plain dict, lets the handler decide, and sends the answer in
two ASGI messages. The endpoints are Starlette routes (a Route whose endpoint is not a
function is an ASGI app); ``receiver.http.app.ReceiverApp`` also calls them straight from
its ``__call__``, past Starlette's middleware and router.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from time import perf_counter

from starlette.types import Receive, Scope, Send

from receiver.http.service import SCHEME_HEADER, TARGET_HEADER, Answer

log = logging.getLogger("receiver.http.endpoint")

JSON_TYPE = b"application/json"


# The handler gets the body (None: over the limit), the request headers (lower-case
# names) and the perf_counter() value at which the request arrived.
Handler = Callable[[bytes | None, Mapping[str, str], float], Awaitable[Answer]]


class Disconnected(Exception):
    """The client went away before sending the whole body."""


def header_dict(scope: Scope) -> dict[str, str]:
    """The request headers by lower-case name; the first of repeated headers wins."""
    headers = {}
    for name, value in reversed(scope["headers"]):  # a loop: no comprehension to set up
        headers[name.decode("latin-1")] = value.decode("latin-1")
    return headers


async def read_body(receive: Receive, headers: Mapping[str, str], limit: int) -> bytes | None:
    """The raw body, or None when it is larger than ``limit`` bytes."""
    length = headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        return None
    message = await receive()
    if message["type"] != "http.request":
        raise Disconnected
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body if len(body) <= limit else None
    chunks = [body]
    size = len(body)
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class HookEndpoint:
    """An ASGI app answering one hook with ``handle``.

    The handler answers every failure it knows of itself; should anything still
    escape it (a bug), the endpoint logs it, answers ``fallback`` (the platform's
    fail-safe answer) rather than an HTTP 500, and calls ``escaped`` with that answer,
    so that the request is still counted.
    """

    def __init__(
        self,
        handle: Handler,
        limit: int,
        fallback: Answer,
        escaped: Callable[[Answer], None] | None = None,
        with_target: bool = False,
    ) -> None:
        self.handle = handle
        self.limit = limit
        self.fallback = fallback
        self.escaped = escaped
        # the handler also gets the request's target and scheme as pseudo-headers
        # (":target", ":scheme"): Twilio signs the URL it called
        self.with_target = with_target

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = perf_counter()
        headers = header_dict(scope)
        if self.with_target:
            raw = scope.get("raw_path") or scope["path"].encode("utf-8")
            query = scope.get("query_string", b"")
            target = raw + b"?" + query if query else raw
            headers[TARGET_HEADER] = target.decode("latin-1")
            headers[SCHEME_HEADER] = scope.get("scheme", "http")
        try:
            body = await read_body(receive, headers, self.limit)
        except Disconnected:
            return  # nobody is left to answer
        try:
            answer = await self.handle(body, headers, started)
        except Exception:
            log.exception("unexpected error answering %s; answered the fail-safe", scope["path"])
            answer = self.fallback
            if self.escaped is not None:
                self.escaped(answer)
        # the answer in two ASGI messages (inline: a coroutine per request saved)
        content = answer.body
        response_headers = [
            (b"content-type", JSON_TYPE),
            (b"content-length", str(len(content)).encode("latin-1")),
        ]
        if answer.decision_id:
            response_headers.append((b"x-decision-id", answer.decision_id.encode("latin-1")))
        await send(
            {"type": "http.response.start", "status": answer.status, "headers": response_headers}
        )
        await send({"type": "http.response.body", "body": content})
