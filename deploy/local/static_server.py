"""A small static HTTP server for the local cluster: the bundle server and the user directory.

Edge tooling (not part of the ``receiver`` package). It consumes a folder and produces
HTTP answers: ``GET /PATH`` serves ``ROOT/PATH`` (``HEAD`` too) with a strong ``ETag``
(the SHA-256 of the file) and answers ``304 Not Modified`` to a matching
``If-None-Match``, so that ``receiver serve --policies http://...`` polls cheaply; a
missing file is ``404`` (which the user directory reads as "no such user"). Paths that
leave the folder are ``404``. HTTP/1.1 with keep-alive; no request is logged (the user
records are user data).

Files are read on every request, so replacing one (write a temporary file, then
``os.replace``) is seen by the next request: the cluster test changes a user record
so, and publishes a new bundle so.

``python deploy/local/static_server.py --root DIR [--port 0]`` prints
``listening on http://127.0.0.1:PORT`` once it listens, and stops on SIGTERM or SIGINT.
It binds loopback only.
"""

from __future__ import annotations

import argparse
import hashlib
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from urllib.parse import unquote, urlsplit

TYPES = {".json": "application/json", ".gz": "application/gzip", ".pem": "text/plain"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    root: Path


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The head and the body go out in two writes: with Nagle's algorithm on, the body
    # waits for the client's delayed ACK of the head, 40 ms on Linux, on every answer of a
    # kept-alive connection (each user lookup of the cluster)
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: request lines would carry user ids into the log."""

    def _answer(self, *, with_body: bool) -> None:
        path = self._file()
        try:
            body = path.read_bytes() if path is not None else None
        except OSError:  # a folder, or a file that went away between the check and the read
            body = None
        if body is None:
            self._send(404, b'{"error":"not found"}', "application/json", None, with_body)
            return
        etag = '"' + hashlib.sha256(body).hexdigest() + '"'
        wanted = self.headers.get("if-none-match", "")
        if etag in {tag.strip() for tag in wanted.split(",")}:
            self._send(304, b"", None, etag, with_body=False)
            return
        kind = TYPES.get(path.suffix if path else "", "application/octet-stream")
        self._send(200, body, kind, etag, with_body)

    def _file(self) -> Path | None:
        return resolve(self.server.root, self.path)

    def _send(
        self, status: int, body: bytes, kind: str | None, etag: str | None, with_body: bool
    ) -> None:
        self.send_response(status)
        if kind is not None:
            self.send_header("content-type", kind)
        if etag is not None:
            self.send_header("etag", etag)
        self.send_header("cache-control", "no-cache")
        self.send_header("content-length", str(len(body)) if status != 304 else "0")
        self.end_headers()
        if with_body and status != 304:
            self.wfile.write(body)


def resolve(root: Path, target: str) -> Path | None:
    """The file under ``root`` (absolute, resolved) that a request target names, or None
    when it names no file inside ``root``: a missing file, a folder, a path that leaves
    the root (``..``, encoded or not, or a link out of it), or one the system cannot
    even look up (a NUL byte, a name too long)."""
    relative = unquote(urlsplit(target).path).lstrip("/")
    try:
        candidate = (root / relative).resolve()
        if candidate.is_relative_to(root) and candidate.is_file():
            return candidate
    except (OSError, ValueError):
        pass
    return None


def make_server(root: Path, port: int = 0) -> ThreadingHTTPServer:
    """A server of ``root`` bound to ``127.0.0.1:port`` (0: any free port), not yet serving."""
    server = _Server(("127.0.0.1", port), _Handler)
    server.root = root.resolve()
    return server


def serve(root: Path, port: int) -> None:
    """Serve ``root`` on ``127.0.0.1:port`` (0: any free port) until SIGTERM or SIGINT."""
    server = make_server(root, port)
    bound = server.server_address[1]

    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever() to return: call it from another thread
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"listening on http://127.0.0.1:{bound}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="the folder to serve")
    parser.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        print(f"error: {args.root} is not a folder; create it first", file=sys.stderr)
        return 2
    serve(args.root, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
