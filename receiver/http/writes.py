"""One send per answer: the writes of one event-loop turn leave in one piece.

The edge (HTTP), under the connection protocol. Consumes the transport uvicorn gives a
connection; produces a transport whose ``write`` calls made in one turn of the event
loop reach the socket as ONE write, at the end of that turn
(:class:`CoalescedWrites`).

uvicorn writes an answer's head and its body in two writes. A worker killed between
them (SIGKILL, the OOM killer) leaves the load balancer holding a head without its
body: the answer has begun, so HAProxy cannot send the request to another replica, and
the platform gets a broken answer. With the two writes joined, a worker that dies
before its send leaves no byte of the answer behind, which HAProxy retries elsewhere
(``retry-on empty-response``; docs/deploy.md), and one that dies after it has sent the
whole answer. It also saves a system call per answer. The cost is a ``call_soon`` per
answer; nothing waits longer than the turn it was written in.
"""

from __future__ import annotations

import asyncio
from typing import Any


class CoalescedWrites:
    """A transport that joins the writes of one loop turn; everything else is the
    transport's own. ``close`` sends what is pending first; ``abort`` drops it."""

    __slots__ = ("_loop", "_pending", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        """Send what this turn wrote, in one write (nothing once the transport closes)."""
        pending, self._pending = self._pending, []
        if pending and not self.transport.is_closing():
            self.transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def abort(self) -> None:
        self._pending = []
        self.transport.abort()

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, pause_reading, ...
        return getattr(self.transport, name)
