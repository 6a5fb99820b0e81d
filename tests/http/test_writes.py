"""receiver/http/writes.py: the writes of one loop turn leave in one write."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState

from receiver.http.connections import protocol_class
from receiver.http.limits import ConnectionLimits
from receiver.http.writes import CoalescedWrites

REQUEST = b"POST /hooks/x HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}"


class Recorder:
    """A transport that records what reaches it."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 1)}.get(name, default)


def turn(coro: Any) -> Any:
    return asyncio.run(coro)


def test_a_head_and_a_body_written_in_one_turn_leave_in_one_write() -> None:
    async def scenario() -> list[bytes]:
        raw = Recorder()
        writes = CoalescedWrites(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
        writes.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        writes.write(b"{}")
        assert raw.writes == []  # nothing before the end of the turn
        await asyncio.sleep(0)
        writes.write(b"next")  # a later turn: a write of its own
        await asyncio.sleep(0)
        return raw.writes

    assert turn(scenario()) == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}", b"next"]


def test_close_sends_what_is_pending_first_and_abort_drops_it() -> None:
    async def scenario() -> tuple[Recorder, Recorder]:
        loop = asyncio.get_running_loop()
        closed, aborted = Recorder(), Recorder()
        one = CoalescedWrites(closed, loop)  # type: ignore[arg-type]
        one.write(b"408 answer")
        one.close()
        two = CoalescedWrites(aborted, loop)  # type: ignore[arg-type]
        two.write(b"never sent")
        two.abort()
        await asyncio.sleep(0)
        return closed, aborted

    closed, aborted = turn(scenario())
    assert closed.writes == [b"408 answer"] and closed.closed
    assert aborted.writes == [] and aborted.aborted


def test_other_attributes_are_the_transports_own() -> None:
    async def scenario() -> None:
        raw = Recorder()
        writes = CoalescedWrites(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
        assert writes.get_extra_info("sockname") == ("127.0.0.1", 1)
        raw.closed = True
        assert writes.is_closing()
        writes.write(b"late")
        await asyncio.sleep(0)
        assert raw.writes == []  # nothing is written to a closing transport

    turn(scenario())


def test_the_service_answers_each_request_in_one_write() -> None:
    """Through the protocol class ``receiver serve`` uses: every answer's head and body
    reach the transport together, so a worker killed mid-answer leaves no half answer."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"18")]})  # fmt: skip
        await send({"type": "http.response.body", "body": b'{"action":"allow"}'})

    async def scenario() -> list[bytes]:
        config = Config(app, http="httptools", lifespan="off", log_config=None)
        config.load()
        protocol = protocol_class(ConnectionLimits(), lambda reason: None)(
            config, ServerState(), {}, asyncio.get_running_loop()
        )
        raw = Recorder()
        sock = socket.socket()
        try:
            raw.get_extra_info = lambda name, default=None: {  # type: ignore[method-assign]
                "socket": sock, "peername": ("127.0.0.1", 2), "sockname": ("127.0.0.1", 1),
            }.get(name, default)  # fmt: skip
            protocol.connection_made(raw)  # type: ignore[arg-type]
            protocol.data_received(
                b"POST /hooks/x HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}"
            )
            for _ in range(20):
                await asyncio.sleep(0)
            protocol.connection_lost(None)
        finally:
            sock.close()
        return raw.writes

    writes = turn(scenario())
    assert len(writes) == 1, writes
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert writes[0].endswith(b'\r\n\r\n{"action":"allow"}')
