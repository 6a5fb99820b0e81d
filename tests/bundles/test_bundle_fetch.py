"""Fetching bundles (receiver/bundles/fetch.py) from a real loopback HTTP server and from
files: conditional requests, limits, and failures that say why."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bundleserver import BundleServer, self_signed

from receiver.bundles import fetch as fetch_module
from receiver.bundles.fetch import FetchFailed, open_source
from receiver.bundles.urls import parse_bundle_url


def run(
    source_url: str, times: int = 1, remember: bool = True, deadline: float = 30
) -> list[bytes | None]:
    async def go() -> list[bytes | None]:
        source = open_source(parse_bundle_url(source_url), timeout=5, deadline=deadline)
        out: list[bytes | None] = []
        try:
            for _ in range(times):
                download = await source.fetch()
                if download is not None and remember:
                    source.remember(download.validator)
                out.append(None if download is None else download.data)
        finally:
            await source.close()
        return out

    return asyncio.run(go())


@pytest.fixture
def hub() -> Iterator[BundleServer]:
    server = BundleServer().start()
    yield server
    server.stop()


def test_http_polls_with_if_none_match_and_takes_304_as_unchanged(hub: BundleServer) -> None:
    hub.put(b"bundle-1")
    assert run(hub.url(), 3) == [b"bundle-1", None, None]
    assert hub.not_modified == 2
    assert "If-None-Match" in hub.conditions[1]


def test_a_validator_not_remembered_downloads_again(hub: BundleServer) -> None:
    hub.put(b"bundle-1")
    assert run(hub.url(), 2, remember=False) == [b"bundle-1", b"bundle-1"]
    assert hub.not_modified == 0


def test_http_uses_if_modified_since_when_there_is_no_etag() -> None:
    hub = BundleServer(etag=False).start()
    try:
        hub.put(b"bundle-1")
        assert run(hub.url(), 2) == [b"bundle-1", None]
        assert "If-Modified-Since" in hub.conditions[1]
        assert "If-None-Match" not in hub.conditions[1]
    finally:
        hub.stop()


def test_an_http_error_status_is_a_failure_that_says_so(hub: BundleServer) -> None:
    with pytest.raises(FetchFailed, match="HTTP 404"):
        run(hub.url("/missing.tar.gz"))


def test_an_unreachable_server_is_a_failure(hub: BundleServer) -> None:
    hub.stop()
    with pytest.raises(FetchFailed, match="cannot reach"):
        run(hub.url())


def test_a_download_stops_at_the_size_limit(
    hub: BundleServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetch_module, "MAX_COMPRESSED", 1000)
    hub.put(b"x" * 5000)
    with pytest.raises(FetchFailed, match="larger than 1000"):
        run(hub.url())


def test_a_file_is_read_again_only_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "b.tar.gz"
    path.write_bytes(b"one")

    async def go() -> list[bytes | None]:
        source = open_source(parse_bundle_url(f"file://{path}"))
        out = []
        for step in range(4):
            if step == 2:  # replaced by a rename, as 'receiver bundle build' writes
                staged = tmp_path / "staged"
                staged.write_bytes(b"two")
                staged.replace(path)
            download = await source.fetch()
            if download is not None:
                source.remember(download.validator)
            out.append(None if download is None else download.data)
        return out

    assert asyncio.run(go()) == [b"one", None, b"two", None]


def test_a_missing_file_or_a_fifo_is_a_failure(tmp_path: Path) -> None:
    with pytest.raises(FetchFailed, match="No such file"):
        run(f"file://{tmp_path}/none.tar.gz")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(FetchFailed, match="not a regular file"):
        run(f"file://{fifo}")  # and it does not block


def test_https_verifies_the_server_certificate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    context, cert = self_signed(tmp_path)
    hub = BundleServer(tls=context).start()
    try:
        hub.put(b"bundle-1")
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        monkeypatch.delenv("SSL_CERT_DIR", raising=False)
        with pytest.raises(FetchFailed, match="cannot reach"):
            run(hub.url())  # a certificate nobody vouches for is refused
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trusted: the bundle comes
        assert run(hub.url(), 2) == [b"bundle-1", None]
        assert hub.not_modified == 1
    finally:
        hub.stop()


def test_a_trickling_server_cannot_hold_a_poll_past_the_deadline() -> None:
    """A server that sends a byte every 0.2 s never trips the read timeout, only the
    deadline of the whole download."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def trickle() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            while not stop.wait(0.2):
                try:
                    connection.sendall(b"x")
                except OSError:
                    return

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        with pytest.raises(FetchFailed, match="longer than 1 s"):
            run(f"http://127.0.0.1:{port}/b.tar.gz", deadline=1)
        assert time.monotonic() - started < 5
    finally:
        stop.set()
        thread.join(5)
        listener.close()
