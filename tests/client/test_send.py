"""receiver/client/send.py: ``receiver send`` posts a payload's bytes, signed as the
platform signs them, and prints the answer; against a real HTTP server on loopback."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from receiver.adapters.signatures import Secrets, sign_base64
from receiver.client.send import DEFAULT_URL, send

KEY = b"send-test-key"
BODY = b'{"eventName": "message.shouldCreate",\n "data": {"text": "hi"}}'


@dataclass
class Hook:
    """A loopback server that records each request and answers ``status`` with ``answer``."""

    url: str
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    status: int = 200
    answer: bytes = b'{"action":"allow"}'


@pytest.fixture(scope="module")
def server() -> Iterator[Hook]:
    """One loopback server for the module; ``hook`` resets what it records for each test."""
    state = Hook("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            state.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(state.status)
            self.send_header("content-type", "application/json")
            self.send_header("x-decision-id", "d-123")
            self.send_header("content-length", str(len(state.answer)))
            self.end_headers()
            self.wfile.write(state.answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/hooks/socialplus"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


@pytest.fixture
def hook(server: Hook) -> Hook:
    server.requests.clear()
    server.status, server.answer = 200, b'{"action":"allow"}'
    return server


def payload(tmp_path: Path) -> Path:
    path = tmp_path / "payload.json"
    path.write_bytes(BODY)
    return path


def test_the_file_bytes_are_sent_unchanged_and_signed_in_base64(hook: Hook, tmp_path: Path) -> None:
    out = io.StringIO()
    assert send(payload(tmp_path), hook.url, Secrets((KEY,)), out) == 0
    [(headers, body)] = hook.requests
    assert body == BODY  # not re-serialised: the signature is over these very bytes
    assert headers["x-amity-signature"] == sign_base64(KEY, BODY)
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "receiver-send"


def test_the_answer_is_printed_with_status_and_decision_id(hook: Hook, tmp_path: Path) -> None:
    out = io.StringIO()
    send(payload(tmp_path), hook.url, None, out)
    assert out.getvalue() == 'HTTP 200  decision d-123\n{"action":"allow"}\n'


def test_the_x_signature_header_gets_a_hex_digest(hook: Hook, tmp_path: Path) -> None:
    send(payload(tmp_path), hook.url, Secrets((KEY,)), io.StringIO(), header="x-signature")
    headers = hook.requests[0][0]
    assert headers["x-signature"] == hmac.new(KEY, BODY, hashlib.sha256).hexdigest()
    assert "x-amity-signature" not in headers


def test_the_first_of_several_secrets_signs(hook: Hook, tmp_path: Path) -> None:
    send(payload(tmp_path), hook.url, Secrets.parse("first,second"), io.StringIO())
    assert hook.requests[0][0]["x-amity-signature"] == sign_base64(b"first", BODY)


def test_without_a_secret_nothing_is_signed(hook: Hook, tmp_path: Path) -> None:
    send(payload(tmp_path), hook.url, None, io.StringIO())
    assert "x-amity-signature" not in hook.requests[0][0]


def test_an_answer_other_than_200_exits_1_and_is_still_printed(hook: Hook, tmp_path: Path) -> None:
    hook.status, hook.answer = 401, json.dumps({"error": "bad signature"}).encode()
    out = io.StringIO()
    assert send(payload(tmp_path), hook.url, None, out) == 1
    assert out.getvalue().startswith("HTTP 401  decision d-123\n")
    assert "bad signature" in out.getvalue()


def test_the_default_url_is_the_local_social_plus_hook() -> None:
    assert DEFAULT_URL == "http://127.0.0.1:8080/hooks/socialplus"
