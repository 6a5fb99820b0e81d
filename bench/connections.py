"""Per-request cost of the connection limits: uvicorn's httptools protocol against the
receiver's bounded one (``receiver/http/connections.py``), in this process, without sockets.

Run from the repository root::

    python bench/connections.py [--requests 20000] [--rounds 7]

Each round feeds the same keep-alive requests (a signed-size POST with a 200-byte body,
head and body in one read, as a load balancer sends them) one at a time into a protocol
object over an in-memory transport, lets the event loop (uvloop when installed) run the
request's task, whose ASGI app answers at once, and times the whole. The two protocols
alternate round by round; the medians per request and their ratio are printed. This is
the protocol's share of a request, which ``bench/serve.py`` cannot separate from the
noise of a busy 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from receiver.http.connections import protocol_class
from receiver.http.limits import ConnectionLimits

BODY = b'{"eventName":"message.shouldCreate","data":{"text":"' + b"h" * 150 + b'"}}'
REQUEST = (
    b"POST /hooks/socialplus HTTP/1.1\r\nhost: receiver.internal\r\n"
    b"content-type: application/json\r\nx-amity-signature: "
    + b"A" * 44
    + b"\r\ncontent-length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY
)


class Transport(asyncio.Transport):
    """Counts answered requests; keeps nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.answers = 0
        self.closing = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8080), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def write(self, data: Any) -> None:
        if bytes(data).endswith(b"allow"):
            self.answers += 1

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def app(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", b"5")]})  # fmt: skip
    await send({"type": "http.response.body", "body": b"allow"})


async def run(cls: type[HttpToolsProtocol], requests: int) -> float:
    config = Config(app, lifespan="off", proxy_headers=False, access_log=False, log_config=None)
    config.load()
    loop = asyncio.get_running_loop()
    protocol = cls(config=config, server_state=ServerState(), app_state={}, _loop=loop)
    transport = Transport()
    protocol.connection_made(transport)
    started = time.perf_counter()
    for _ in range(requests):
        protocol.data_received(REQUEST)
        await asyncio.sleep(0)  # the request's task runs and answers
    await asyncio.sleep(0)  # the last answer's write leaves at the end of its turn
    elapsed = time.perf_counter() - started
    if transport.answers != requests:
        raise SystemExit(f"{cls.__name__}: {transport.answers} answers to {requests} requests")
    protocol.connection_lost(None)
    return elapsed / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    bounded = protocol_class(ConnectionLimits(), lambda reason: None)
    classes: dict[str, type[HttpToolsProtocol]] = {
        "uvicorn httptools": HttpToolsProtocol,
        "receiver bounded": bounded,
    }
    times: dict[str, list[float]] = {name: [] for name in classes}

    async def rounds() -> None:
        for cls in classes.values():  # warm-up
            await run(cls, 2000)
        for _ in range(args.rounds):
            for name, cls in classes.items():
                times[name].append(await run(cls, args.requests))

    try:
        import uvloop  # noqa: PLC0415

        uvloop.run(rounds())
        loop_name = "uvloop"
    except ImportError:
        asyncio.run(rounds())
        loop_name = "asyncio"
    print(f"{args.rounds} rounds of {args.requests} keep-alive requests each ({loop_name})")
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, value in medians.items():
        print(f"  {name:<20} median {value * 1e6:7.2f} µs per request")
    base, ours = medians["uvicorn httptools"], medians["receiver bounded"]
    print(f"  bounded / plain: {ours / base:.3f} ({(ours - base) * 1e6:+.2f} µs per request)")


if __name__ == "__main__":
    main()
