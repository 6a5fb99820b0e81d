"""A small static HTTP server for bundle tests: serves bytes with an ETag (or only a
Last-Modified), answers conditional GETs with 304, and counts what it was asked.

Runs in a thread on a loopback port; ``stop()`` and ``start()`` again on the same port
simulate a bundle server that goes down and comes back.
"""

from __future__ import annotations

import hashlib
import ipaddress
import ssl
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from serverproc import free_port


class BundleServer:
    def __init__(
        self, *, etag: bool = True, port: int | None = None, tls: ssl.SSLContext | None = None
    ) -> None:
        self.port = port or free_port()
        self.tls = tls  # serve https with this context
        self.etag = etag  # False: only Last-Modified, as some static servers do
        self.files: dict[str, bytes] = {}
        self._modified: dict[str, str] = {}
        self.requests = 0
        self.not_modified = 0
        self.conditions: list[dict[str, str]] = []  # the conditional headers of each GET
        self.downloads: list[float] = []  # time.monotonic() of each 200 answer
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stamp = 1_700_000_000

    def url(self, path: str = "/bundle.tar.gz") -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def put(self, data: bytes, path: str = "/bundle.tar.gz") -> None:
        with self._lock:
            self.files[path] = data
            self._stamp += 10  # a new, later modification time per version
            self._modified[path] = formatdate(self._stamp, usegmt=True)

    def start(self) -> BundleServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with owner._lock:
                    owner.requests += 1
                    data = owner.files.get(self.path)
                    modified = owner._modified.get(self.path, "")
                    owner.conditions.append(
                        {k: v for k, v in self.headers.items() if k.lower().startswith("if-")}
                    )
                if data is None:
                    self.send_error(404)
                    return
                tag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
                fresh = (
                    self.headers.get("If-None-Match") == tag
                    if owner.etag
                    else self.headers.get("If-Modified-Since") == modified
                )
                if fresh:
                    with owner._lock:
                        owner.not_modified += 1
                    self.send_response(304)
                    self.end_headers()
                    return
                with owner._lock:
                    owner.downloads.append(time.monotonic())
                self.send_response(200)
                self.send_header("Content-Type", "application/gzip")
                self.send_header("Content-Length", str(len(data)))
                if owner.etag:
                    self.send_header("ETag", tag)
                self.send_header("Last-Modified", modified)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                return None

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None


def self_signed(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a new self-signed certificate for 127.0.0.1, and the
    certificate's file (to trust it through ``$SSL_CERT_FILE``)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file
