"""End to end, the real ``receiver serve`` on a loopback port: refusals and odd inputs.

A bridge token with non-ASCII characters, sent by a real HTTP client as raw UTF-8
header bytes, is accepted (and its Latin-1 bytes are not); bodies the JSON reader
refuses (huge integers, deep nesting, NaN) are a counted 400 on all three hook
routes, never a 5xx; a forged 250 KB body is a counted 401; the compact-JSON
signature fallback is off by default and, when turned on with a budget, refuses past
it with its own reason. The servers come from ``test_serve_e2e``'s launcher: own
session, killed with their group at the end, every wait bounded.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serverproc import Server, launcher, policy_dir

from receiver.adapters.signatures import sign_base64, sign_hex

SECRET = "refusals-secret-0001"
TOKEN = "tök€n-ключ-🔑"  # non-ASCII: its UTF-8 bytes are what a client sends

POLICY = """\
policy: chat
rules:
  - id: forbidden
    events: message.shouldCreate
    when: text contains "forbidden"
    action: deny
    message: "no"
  - id: bridge-deny
    events: braincloud.pre.entity.DELETE
    action: deny
    message: "no deleting"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("refusals")
    (root / "token").write_text(TOKEN + "\n", encoding="utf-8")
    with launcher(root) as start:
        yield start(
            "--policies", str(policy_dir(root, POLICY)),
            "--braincloud-token-file", str(root / "token"),
            "--decision-log", str(root / "decisions.jsonl"),
            secret=SECRET,
        )  # fmt: skip


def envelope(operation: str = "DELETE") -> bytes:
    return json.dumps(
        {"version": 1, "hookType": "pre", "service": "entity", "operation": operation,
         "profileId": "p1", "message": {"entityType": "x"}}
    ).encode()  # fmt: skip


def raw_post(port: int, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    """One HTTP/1.1 request written byte for byte on a socket: header values go out as
    given, whatever a client library would make of them. The status line and headers."""
    head = b"POST " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
    head += b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + b"\r\n" + body)
        answer = b""
        while b"\r\n\r\n" not in answer and len(answer) < 65536:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer


def test_a_non_ascii_bridge_token_sent_as_utf8_bytes_is_accepted(server: Server) -> None:
    before = server.metric("receiver_requests_total", platform="braincloud", status="200")
    answer = raw_post(
        server.port, "/hooks/braincloud", [(b"x-receiver-token", TOKEN.encode())], envelope()
    )
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    after = server.metric("receiver_requests_total", platform="braincloud", status="200")
    assert after == before + 1
    # httpx sends a bytes header value as it is: the same answer through a client library
    response = server.client.post(
        server.base + "/hooks/braincloud",
        content=envelope(),
        headers={"x-receiver-token": TOKEN.encode()},
    )
    assert response.status_code == 200
    assert response.json()["errorMessage"] == "no deleting"


def test_the_same_token_in_other_bytes_is_refused(server: Server) -> None:
    before = server.metric("receiver_signature_failures_total", reason="mismatch")
    mojibake = TOKEN.encode().decode("latin-1").encode()  # UTF-8 of the Latin-1 reading
    for wrong in (mojibake, TOKEN[:-1].encode(), TOKEN.encode() + b"x"):
        answer = raw_post(
            server.port, "/hooks/braincloud", [(b"x-receiver-token", wrong)], envelope()
        )
        assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
    after = server.metric("receiver_signature_failures_total", reason="mismatch")
    assert after == before + 3


def signed_headers(route: str, body: bytes) -> dict[str, str | bytes]:
    if route == "/hooks/braincloud":
        return {"x-receiver-token": TOKEN.encode()}
    return {"x-amity-signature": sign_base64(SECRET.encode(), body)}


REFUSED = {
    "huge integer": b'{"n":' + b"9" * 5000 + b"}",
    "deep": b"[" * 200 + b"]" * 200,
    "NaN": b'{"n":NaN}',
}


@pytest.mark.parametrize(
    "route", ["/hooks/socialplus", "/hooks/socialplus/events", "/hooks/braincloud"]
)
@pytest.mark.parametrize("case", sorted(REFUSED))
def test_signed_bodies_the_json_reader_refuses_are_a_counted_400(
    server: Server, route: str, case: str
) -> None:
    inner = REFUSED[case]
    body = (
        b'{"eventName":"message.shouldCreate","event":"user.didUpdate","version":1,'
        b'"hookType":"pre","service":"entity","operation":"DELETE","data":' + inner + b"}"
    )
    before = server.metric("receiver_requests_total", status="400")
    bad = server.metric("receiver_bad_requests_total", reason="malformed")
    response = server.client.post(
        server.base + route, content=body, headers=signed_headers(route, body)
    )
    assert response.status_code == 400
    assert response.json()["error"].startswith("invalid JSON")
    assert server.metric("receiver_requests_total", status="400") == before + 1
    assert server.metric("receiver_bad_requests_total", reason="malformed") == bad + 1
    assert "Traceback" not in server.err()


def big_body(digits: bool) -> bytes:
    """About 250 KB of a message event: many small objects, or long digit runs."""
    if digits:
        items: list[object] = [int("1" + "7" * 3999)] * 62
    else:
        items = [{"k": i, "v": "x" * 20, "f": 1.5} for i in range(4800)]
    return json.dumps(
        {"eventName": "message.shouldCreate", "data": {"text": "hi", "meta": items}}
    ).encode()


@pytest.mark.parametrize("digits", [False, True], ids=["objects", "digit-runs"])
def test_a_forged_250_kb_body_is_a_counted_401_and_the_signed_one_is_decided(
    server: Server, digits: bool
) -> None:
    body = big_body(digits)
    assert 240_000 < len(body) <= 262_144
    forged = server.client.post(
        server.base + "/hooks/socialplus",
        content=body,
        headers={"x-signature": sign_hex(b"forger", body)},
    )
    assert forged.status_code == 401
    signed = server.client.post(
        server.base + "/hooks/socialplus",
        content=body,
        headers={"x-signature": sign_hex(SECRET.encode(), body)},
    )
    assert signed.status_code == 200
    assert signed.json() == {"action": "allow"}


def test_the_fallback_is_off_by_default_and_bounded_when_on(tmp_path: Path) -> None:
    payload = {"eventName": "message.shouldCreate", "data": {"text": "forbidden"}}
    pretty = json.dumps(payload, indent=2).encode()
    compact = json.dumps(payload, separators=(",", ":")).encode()
    headers = {"x-signature": sign_hex(SECRET.encode(), compact)}
    with launcher(tmp_path) as start:
        plain = start("--policies", str(policy_dir(tmp_path / "a", POLICY)), secret=SECRET)
        assert plain.post(pretty, key=None).status_code == 401  # unsigned
        response = plain.client.post(
            plain.base + "/hooks/socialplus", content=pretty, headers=headers
        )
        assert response.status_code == 401
        assert plain.metric("receiver_signature_failures_total", reason="mismatch") == 1
        bounded = start(
            "--policies", str(policy_dir(tmp_path / "b", POLICY)),
            "--signature-fallback", "compact-json", "--signature-fallback-rate", "0.001",
            secret=SECRET,
        )  # fmt: skip
        url = bounded.base + "/hooks/socialplus"
        first = bounded.client.post(url, content=pretty, headers=headers)
        assert first.status_code == 200
        assert first.json()["action"] == "deny"
        for _ in range(2):
            assert bounded.client.post(url, content=pretty, headers=headers).status_code == 401
        assert bounded.metric("receiver_signature_failures_total", reason="over-budget") == 2
        assert "compact-JSON signature fallback on" in bounded.err()


def test_httpx_is_what_the_harness_uses() -> None:
    # The non-ASCII test above relies on httpx sending bytes header values unchanged.
    request = httpx.Request("POST", "http://x/", headers={"x-t": TOKEN.encode()})
    assert request.headers.raw[-1] == (b"x-t", TOKEN.encode())
