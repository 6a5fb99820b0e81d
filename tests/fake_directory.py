"""A real local HTTP user service for the user-lookup tests and benchmark.

Not a test module: ``from fake_directory import FakeDirectory`` works because pytest
puts ``tests/`` (which has no ``__init__.py``) on ``sys.path``.

:class:`FakeDirectory` is a ``ThreadingHTTPServer`` on ``127.0.0.1:0`` answering
``GET /v1/users/{userId}`` (HTTP/1.1, keep-alive) from ``records``; unknown ids get
404. It can be made slow (``delay``), flaky (``fail_next``), broken (``mode``:
``"500"``, ``"invalid-json"``, ``"hang"``, ``"reset"``) or down (:meth:`stop` closes
the listening socket and every open connection, so new connections are refused;
:meth:`start` listens on the same port again). It counts calls per user id, keeps
the headers and raw paths of every request, and lets a test wait for calls instead
of sleeping.

Run as a script (``python tests/fake_directory.py --users 1000 --delay 0.02``), it
serves users ``u0``, ``u1``... in its own process, prints its port, answers
``GET /_stats`` with its call counts (``GET /_reset`` also zeroes them) and stops
when its standard input closes. ``bench/users.py`` runs it so, so that the service's
threads do not share a GIL with the code being measured.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

PREFIX = "/v1/users/"
MODES = ("ok", "500", "invalid-json", "hang", "reset")
HANG_LIMIT = 60.0  # a hung request gives up by itself after this long, at the latest


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    fake: FakeDirectory

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client that went away is normal
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls on keep-alive connections
    wbufsize = -1  # headers and body leave in one write (flushed after each request)
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.fake._opened(self.connection)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.fake._closed(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        fake = self.server.fake
        if self.path in ("/_stats", "/_reset"):
            stats = fake.stats()
            if self.path == "/_reset":
                fake.reset_counts()
            self._send(200, json.dumps(stats).encode())
            return
        if not self.path.startswith(PREFIX):
            self._send(400, b'{"error":"bad path"}')
            return
        raw_id = self.path[len(PREFIX) :]
        user_id = unquote(raw_id)
        mode, delay = fake._arrive(user_id, self.path, dict(self.headers.items()))
        try:
            self._answer(fake, user_id, mode, delay)
        finally:
            fake._leave(user_id)

    def _answer(self, fake: FakeDirectory, user_id: str, mode: str, delay: float) -> None:
        if delay > 0:
            time.sleep(delay)
        if mode == "hang":
            fake._release.wait(HANG_LIMIT)
            mode = "ok"
        if fake._stopping.is_set() or mode == "reset":
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if mode == "500":
            self._send(500, b'{"error":"internal"}')
            return
        if mode == "invalid-json":
            self._send(200, b'{"role": "admin"')
            return
        status, body = fake._record(user_id)
        self._send(status, body)

    def _send(self, status: int, body: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True


class FakeDirectory:
    """The user service; use as a context manager (or call :meth:`close`)."""

    def __init__(
        self,
        records: dict[str, Any] | None = None,
        *,
        delay: float = 0.0,
        envelope: str | None = None,
    ) -> None:
        self.records: dict[str, Any] = dict(records or {})
        self.raw: dict[str, tuple[int, bytes]] = {}  # user id -> exact (status, body)
        self.delay = delay
        self.envelope = envelope  # e.g. "data.user": the record is wrapped in that path
        self.mode = "ok"
        self.calls: Counter[str] = Counter()
        self.active: Counter[str] = Counter()  # requests being answered, per user id
        self.max_active_per_user = 0  # stampede-free means 1
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []
        self._script: deque[str] = deque()
        self._cond = threading.Condition()
        self._release = threading.Event()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.start()

    # -- control -------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The URL template for ``HttpDirectoryConfig``."""
        return f"http://127.0.0.1:{self.port}{PREFIX}{{userId}}"

    def set_mode(self, mode: str) -> None:
        """Answer every request this way from now on (``"ok"`` is normal service)."""
        assert mode in MODES, mode
        if mode == "hang":
            self._release.clear()
        self.mode = mode

    def fail_next(self, count: int, mode: str = "500") -> None:
        """The next ``count`` requests fail this way, then the current mode applies."""
        assert mode in MODES, mode
        with self._cond:
            self._script.extend([mode] * count)

    def release(self) -> None:
        """Let every hung request go on (they then answer normally)."""
        self.mode = "ok" if self.mode == "hang" else self.mode
        self._release.set()

    @property
    def total_calls(self) -> int:
        with self._cond:
            return sum(self.calls.values())

    def wait_for_calls(self, count: int, timeout: float = 30.0) -> int:
        """Block until at least ``count`` requests arrived; the number that did."""
        with self._cond:
            self._cond.wait_for(lambda: sum(self.calls.values()) >= count, timeout)
            return sum(self.calls.values())

    def stats(self) -> dict[str, int]:
        with self._cond:
            counts = list(self.calls.values())
        return {
            "calls": sum(counts),
            "distinct": len(counts),
            "max_per_user": max(counts, default=0),
            "max_concurrent_per_user": self.max_active_per_user,
        }

    def reset_counts(self) -> None:
        with self._cond:
            self.calls.clear()
            self.max_active_per_user = 0
            self.headers.clear()
            self.paths.clear()

    def start(self) -> None:
        """Listen (again, on the same port after :meth:`stop`)."""
        assert self._server is None
        self._stopping.clear()
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.fake = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Go down: refuse new connections and cut the open ones (hung requests too)."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        self._release.set()
        server.shutdown()
        server.server_close()
        with self._cond:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(10)
        self._server = None
        self._thread = None

    def close(self) -> None:
        self.stop()

    def __enter__(self) -> FakeDirectory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- used by the handler -------------------------------------------------------

    def _opened(self, conn: socket.socket) -> None:
        with self._cond:
            self._connections.add(conn)

    def _closed(self, conn: socket.socket) -> None:
        with self._cond:
            self._connections.discard(conn)

    def _arrive(self, user_id: str, path: str, headers: dict[str, str]) -> tuple[str, float]:
        with self._cond:
            self.calls[user_id] += 1
            self.active[user_id] += 1
            self.max_active_per_user = max(self.max_active_per_user, self.active[user_id])
            self.paths.append(path)
            self.headers.append({k.lower(): v for k, v in headers.items()})
            mode = self._script.popleft() if self._script else self.mode
            self._cond.notify_all()
        return mode, self.delay

    def _leave(self, user_id: str) -> None:
        with self._cond:
            self.active[user_id] -= 1

    def _record(self, user_id: str) -> tuple[int, bytes]:
        if user_id in self.raw:
            return self.raw[user_id]
        if user_id not in self.records:
            return 404, b'{"error":"no such user"}'
        body: Any = self.records[user_id]
        if self.envelope:
            for step in reversed(self.envelope.split(".")):
                body = {step: body}
        return 200, json.dumps(body).encode()


@contextlib.contextmanager
def running(records: dict[str, Any] | None = None, **kwargs: Any) -> Iterator[FakeDirectory]:
    fake = FakeDirectory(records, **kwargs)
    try:
        yield fake
    finally:
        fake.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a local user service for tests and benchmarks")
    parser.add_argument("--users", type=int, default=1000, help="serve users u0, u1, ...")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds per request")
    args = parser.parse_args(argv)
    records = {
        f"u{i}": {"role": "admin" if i % 10 == 0 else "member", "n": i} for i in range(args.users)
    }
    with FakeDirectory(records, delay=args.delay) as fake:
        print(fake.port, flush=True)
        sys.stdin.read()  # until the parent closes our standard input
    return 0


if __name__ == "__main__":
    sys.exit(main())
