"""Calling the receiver's ASGI app in this process, without sockets: the benchmarks that
time what the app itself does (``serve_stages.py``, ``refusal.py``) share these.

Not part of the package: the scripts import it as ``_asgi`` (``python bench/NAME.py``
puts ``bench/`` on the path).
"""

from __future__ import annotations

import asyncio
from typing import Any

PATH = "/hooks/socialplus"
_LIFESPANS: set[asyncio.Task[None]] = set()  # lifespan tasks, kept alive with their apps


def scope_for(body: bytes, signature: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"x-amity-signature", signature.encode()),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8080),
        "state": {},
    }


async def call(app: Any, body: bytes, signature: str) -> int:
    """One request through the ASGI app; its status."""
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    status: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope_for(body, signature), receive, send)
    return status[0]


async def start(app: Any) -> None:
    """Run the app's lifespan startup (loads the policies)."""
    queue: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    queue.put_nowait({"type": "lifespan.startup"})
    started = asyncio.Event()

    async def receive() -> dict[str, str]:
        return await queue.get()

    async def send(message: dict[str, Any]) -> None:
        if message["type"].startswith("lifespan.startup"):
            started.set()

    task = asyncio.get_running_loop().create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    )
    _LIFESPANS.add(task)
    await asyncio.wait_for(started.wait(), 60)
