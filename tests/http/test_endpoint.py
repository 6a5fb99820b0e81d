"""The raw ASGI hook endpoint (receiver/http/endpoint.py) and the app's fast path to it.

The endpoint is driven here with real ASGI messages: bodies in one or several chunks,
Content-Length over the limit, a client that disconnects mid-body, repeated headers,
and a handler that raises.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Mapping
from typing import Any

import pytest
from starlette.testclient import TestClient

from receiver.http.app import ReceiverApp, create_app
from receiver.http.config import ServiceConfig
from receiver.http.endpoint import HookEndpoint, header_dict
from receiver.http.service import Answer
from receiver.observe.decisionlog import DecisionLog

FALLBACK = Answer(200, b'{"action":"allow"}')


def scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http", "method": "POST", "path": "/hooks/test", "headers": headers}


def run(
    endpoint: HookEndpoint,
    messages: list[dict[str, Any]],
    headers: list[tuple[bytes, bytes]] | None = None,
) -> list[dict[str, Any]]:
    """Call the endpoint with these receive() messages; what it sent."""
    incoming = list(messages)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    asyncio.run(endpoint(scope(headers or []), receive, send))
    return sent


class Recorder:
    """A handler that records what it got and answers 200 with the body's length."""

    def __init__(self) -> None:
        self.calls: list[tuple[bytes | None, Mapping[str, str]]] = []

    async def __call__(
        self, body: bytes | None, headers: Mapping[str, str], started: float
    ) -> Answer:
        self.calls.append((body, headers))
        return Answer(200 if body is not None else 413, b"{}", "id-1" if body else None)


def test_header_dict_lowercase_names_first_of_repeated_wins() -> None:
    headers = [(b"x-signature", b"first"), (b"content-type", b"a/b"), (b"x-signature", b"second")]
    assert header_dict(scope(headers)) == {"x-signature": "first", "content-type": "a/b"}


def test_a_body_in_several_chunks_is_joined() -> None:
    handler = Recorder()
    sent = run(
        HookEndpoint(handler, 100, FALLBACK),
        [
            {"type": "http.request", "body": b'{"a":', "more_body": True},
            {"type": "http.request", "body": b"", "more_body": True},
            {"type": "http.request", "body": b"1}", "more_body": False},
        ],
    )
    assert handler.calls[0][0] == b'{"a":1}'
    assert sent[0]["status"] == 200
    assert (b"x-decision-id", b"id-1") in sent[0]["headers"]
    assert (b"content-type", b"application/json") in sent[0]["headers"]
    assert (b"content-length", b"2") in sent[0]["headers"]
    assert sent[1] == {"type": "http.response.body", "body": b"{}"}


@pytest.mark.parametrize(
    "messages",
    [
        [{"type": "http.request", "body": b"x" * 101, "more_body": False}],
        [
            {"type": "http.request", "body": b"x" * 60, "more_body": True},
            {"type": "http.request", "body": b"x" * 41, "more_body": False},
        ],
    ],
    ids=["one-chunk", "streamed"],
)
def test_a_body_over_the_limit_reaches_the_handler_as_none(messages: list[dict[str, Any]]) -> None:
    handler = Recorder()
    sent = run(HookEndpoint(handler, 100, FALLBACK), messages)
    assert handler.calls[0][0] is None
    assert sent[0]["status"] == 413
    assert not any(name == b"x-decision-id" for name, _ in sent[0]["headers"])


def test_exactly_the_limit_is_accepted() -> None:
    handler = Recorder()
    run(HookEndpoint(handler, 100, FALLBACK), [{"type": "http.request", "body": b"x" * 100}])
    assert handler.calls[0][0] == b"x" * 100


def test_a_content_length_over_the_limit_is_refused_before_reading() -> None:
    handler = Recorder()
    read: list[str] = []

    async def receive() -> dict[str, Any]:
        read.append("read")
        return {"type": "http.request", "body": b"{}"}

    async def send(message: Any) -> None:
        pass

    endpoint = HookEndpoint(handler, 100, FALLBACK)
    asyncio.run(endpoint(scope([(b"content-length", b"5000")]), receive, send))
    assert handler.calls[0][0] is None
    assert read == []


def test_a_client_that_leaves_mid_body_gets_nothing_and_the_handler_is_not_called() -> None:
    handler = Recorder()
    sent = run(
        HookEndpoint(handler, 100, FALLBACK),
        [{"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.disconnect"}],
    )
    assert handler.calls == []
    assert sent == []


def test_an_exception_escaping_the_handler_gets_the_fallback_not_a_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(body: bytes | None, headers: Mapping[str, str], started: float) -> Answer:
        raise RuntimeError("a bug")

    escaped: list[Answer] = []
    endpoint = HookEndpoint(broken, 100, FALLBACK, escaped.append)
    with caplog.at_level(logging.ERROR, logger="receiver.http.endpoint"):
        sent = run(endpoint, [{"type": "http.request", "body": b"{}"}])
    assert sent[0]["status"] == 200
    assert sent[1]["body"] == b'{"action":"allow"}'
    assert "a bug" in caplog.text and "/hooks/test" in caplog.text
    assert escaped == [FALLBACK]  # told, so that the request is counted


def test_the_app_sends_hook_posts_to_their_endpoints_and_the_rest_through_starlette(
    tmp_path: Any,
) -> None:
    (tmp_path / "p.yaml").write_text(
        "policy: p\nrules:\n  - id: r\n    events: message.shouldCreate\n    action: deny\n"
    )
    app = create_app(ServiceConfig(policies=tmp_path), DecisionLog(io.BytesIO()))
    assert isinstance(app, ReceiverApp)
    assert set(app.hooks) == {
        "/hooks/socialplus", "/hooks/braincloud", "/hooks/socialplus/events",
        "/hooks/stream", "/hooks/twilio",
    }  # fmt: skip
    with TestClient(app) as client:
        denied = client.post(
            "/hooks/socialplus", json={"eventName": "message.shouldCreate", "data": {}}
        )
        assert denied.json()["action"] == "deny"
        assert denied.headers["x-decision-id"]
        assert client.get("/hooks/socialplus").json()["status"] == "ok"
        assert client.put("/hooks/socialplus").status_code == 405
