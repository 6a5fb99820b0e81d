"""``/hooks/stream`` and ``/hooks/twilio`` end to end: the real ``receiver serve --workers 2``
in the production shape (a non-loopback bind is not possible in tests, so both vendor
credentials set, Redis counters, a decision log file), with requests signed by the
vendors' SDKs.

Twilio's ``RequestValidator`` signs every Twilio request over the public URL given with
``--twilio-public-url`` (not the loopback URL the test posts to, as behind a proxy);
Stream's SDK only verifies, so every Stream request's signature is first checked by
Stream's ``verify_webhook``. allow, modify and deny come back in each vendor's contract;
forged signatures get 401 quickly; bad bodies 4xx; nothing ever a 500. ``receiver send
--platform stream|twilio`` reaches the same answers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from serverproc import Launch, Server, launcher
from stream_chat import StreamChat
from twilio.request_validator import RequestValidator

from receiver.adapters.vendorsigs import sign_stream
from receiver.cli import main

STREAM_SECRET = "e2e-stream-api-secret-0123456789abcdef"
STREAM_OLD = "e2e-stream-api-secret-previous-0123456789"
TWILIO_TOKEN = "e2e0twilio0auth0token000000000000"
PUBLIC_URL = "https://mod.example.com/hooks/twilio"
WORKERS = 2

POLICY = """\
policy: vendors
counters:
  per_author:
    events: [stream.message.new, twilio.onMessageAdd]
    key: actor.userId
    window: 60s
rules:
  - id: invites
    events: [stream.message.new, twilio.onMessageAdd]
    when: 'lower(text) contains "discord.gg/"'
    action: deny
    message: No invite links.
  - id: flood
    events: [stream.message.new, twilio.onMessageAdd]
    when: per_author > 3
    action: deny
    message: "Slow down ({per_author})."
  - id: profanity
    events: [stream.message.new, twilio.onMessageAdd]
    when: profane(text)
    action: modify
    set:
      text: censor(text)
"""


@pytest.fixture
def server(tmp_path: Path, redis_url: str) -> Iterator[Server]:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "vendors.yaml").write_text(POLICY)
    env = {
        "RECEIVER_STREAM_SECRET": f"{STREAM_SECRET},{STREAM_OLD}",
        "RECEIVER_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
    }
    launch: Launch
    with launcher(tmp_path) as launch:
        yield launch(
            "--policies", str(policies), "--counters", "redis", "--redis-url", redis_url,
            "--decision-log", str(tmp_path / "decisions.jsonl"),
            "--twilio-public-url", PUBLIC_URL,
            env=env, workers=WORKERS,
        )  # fmt: skip


def stream_post(server: Server, payload: Any, *, secret: str | None = STREAM_SECRET) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"content-type": "application/json", "x-api-key": "k", "x-webhook-id": "w"}
    if secret is not None:
        signature = sign_stream(secret.encode(), body)
        assert StreamChat(api_key="k", api_secret=secret).verify_webhook(body, signature)
        headers["x-signature"] = signature
    return server.client.post(server.base + "/hooks/stream", content=body, headers=headers)


def twilio_post(server: Server, params: dict[str, str], *, token: str | None = TWILIO_TOKEN) -> Any:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if token is not None:
        signature = RequestValidator(token).compute_signature(PUBLIC_URL, params)
        headers["x-twilio-signature"] = signature
    body = urlencode(params).encode()
    return server.client.post(server.base + "/hooks/twilio", content=body, headers=headers)


def stream_message(text: str, user: str = "u1") -> dict[str, Any]:
    return {
        "message": {"id": "", "text": text, "type": "regular", "attachments": [], "html": ""},
        "user": {"id": user, "role": "user"},
        "channel": {"cid": "messaging:general", "id": "general", "type": "messaging"},
        "request_info": {"type": "client", "ip": "127.0.0.1"},
    }


def twilio_message(body: str, author: str = "alice") -> dict[str, str]:
    return {
        "EventType": "onMessageAdd",
        "ConversationSid": "CH00000000000000000000000000000000",
        "ChatServiceSid": "IS00000000000000000000000000000000",
        "Body": body,
        "Author": author,
        "ClientIdentity": author,
        "Attributes": "{}",
        "Source": "SDK",
    }


def test_stream_allow_modify_deny_and_refusals(server: Server) -> None:
    allowed = stream_post(server, stream_message("hello", "s-allow"))
    assert (allowed.status_code, allowed.json()) == (200, {})
    censored = stream_post(server, stream_message("what the hell", "s-modify")).json()
    assert censored["message"]["text"] == "what the ****"
    assert censored["message"]["type"] == "regular"
    bounced = stream_post(server, stream_message("discord.gg/x", "s-deny"))
    assert bounced.status_code == 200
    assert bounced.json()["message"]["type"] == "error"
    assert bounced.json()["message"]["text"] == "No invite links."
    assert stream_post(server, stream_message("hi", "s-old"), secret=STREAM_OLD).json() == {}
    started = time.perf_counter()
    forged = "forged-secret-0123456789abcdef0123456"
    assert stream_post(server, stream_message("hi"), secret=forged).status_code == 401
    assert stream_post(server, stream_message("hi"), secret=None).status_code == 401
    assert time.perf_counter() - started < 2.0
    assert stream_post(server, b"{not json").status_code == 400
    assert stream_post(server, {"no": "message"}).status_code == 400


def test_twilio_allow_modify_deny_and_refusals(server: Server) -> None:
    allowed = twilio_post(server, twilio_message("hello", "t-allow"))
    assert (allowed.status_code, allowed.json()) == (200, {})
    censored = twilio_post(server, twilio_message("what the hell", "t-modify"))
    assert (censored.status_code, censored.json()) == (200, {"body": "what the ****"})
    denied = twilio_post(server, twilio_message("discord.gg/x", "t-deny"))
    assert denied.status_code == 403
    assert twilio_post(server, twilio_message("hi"), token="forged0token").status_code == 401
    assert twilio_post(server, twilio_message("hi"), token=None).status_code == 401
    assert twilio_post(server, {"Body": "no event type"}).status_code == 400


def test_counters_are_shared_across_workers_for_each_vendor(server: Server) -> None:
    answers = [stream_post(server, stream_message("hi", "s-flood")).json() for _ in range(5)]
    assert answers[:3] == [{}, {}, {}]
    assert answers[4]["message"]["text"] == "Slow down (5)."
    statuses = [twilio_post(server, twilio_message("hi", "t-flood")).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 403, 403]


def test_no_500_on_hostile_bodies(server: Server) -> None:
    hostile = [b"", b"\xff\xfe", b"a" * 10000, b"EventType=onMessageAdd&Body=%ZZ", b"[]", b"null"]
    for body in hostile:
        for path in ("/hooks/stream", "/hooks/twilio"):
            response = server.client.post(server.base + path, content=body)
            assert 400 <= response.status_code < 500, (path, body[:20], response.status_code)


def test_metrics_and_decision_log_cover_the_vendors(server: Server, tmp_path: Path) -> None:
    stream_post(server, stream_message("discord.gg/x", "m1"))
    twilio_post(server, twilio_message("discord.gg/x", "m2"))
    assert server.metric("receiver_requests_total", platform="stream", action="deny") >= 1
    assert server.metric("receiver_requests_total", platform="twilio", action="deny") >= 1
    deadline = time.monotonic() + 10
    platforms: set[str] = set()
    while time.monotonic() < deadline and platforms != {"stream", "twilio"}:
        lines = (tmp_path / "decisions.jsonl").read_text().splitlines()
        platforms = {json.loads(line)["platform"] for line in lines}
        time.sleep(0.05)
    assert platforms == {"stream", "twilio"}


def test_receiver_send_signs_as_each_vendor(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stream_file = tmp_path / "stream.json"
    stream_file.write_text(json.dumps(stream_message("what the hell", "send-s")))
    url = server.base + "/hooks/stream"
    assert main(["send", "--platform", "stream", str(stream_file), "--url", url,
                 "--secret", STREAM_SECRET]) == 0  # fmt: skip
    assert '"what the ****"' in capsys.readouterr().out
    form = tmp_path / "twilio.form"
    form.write_text(urlencode(twilio_message("what the hell", "send-t")))
    url = server.base + "/hooks/twilio"
    assert main(["send", "--platform", "twilio", str(form), "--url", url, "--signed-url",
                 PUBLIC_URL, "--secret", TWILIO_TOKEN]) == 0  # fmt: skip
    assert '{"body":"what the ****"}' in capsys.readouterr().out
    assert (
        main(["send", "--platform", "twilio", str(form), "--url", url, "--secret", TWILIO_TOKEN])
        == 1
    )  # signed over the loopback URL: refused
    assert "401" in capsys.readouterr().out


def test_send_refuses_a_payload_that_is_no_form(tmp_path: Path) -> None:
    bad = tmp_path / "bad.form"
    bad.write_text("[1, 2]")
    assert main(["send", "--platform", "twilio", str(bad), "--url", "http://127.0.0.1:9/x"]) == 2


def test_probe_urls_answer(server: Server) -> None:
    for path in ("/hooks/stream", "/hooks/twilio"):
        assert httpx.get(server.base + path, timeout=5).status_code == 200


def test_recorded_vendor_hooks_replay_with_their_platform(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``serve --record`` keeps Stream and Twilio decisions like any other; ``receiver
    replay`` decides them again, the same, with their platform."""
    records = tmp_path / "records"
    example = Path(__file__).resolve().parents[2] / "examples" / "all-platforms"
    with launcher(tmp_path) as launch:
        server = launch("--policies", str(example), "--record", str(records))
        stream_post(server, stream_message("discord.gg/x", "r1"), secret=None)
        twilio_post(server, twilio_message("what the hell", "r2"), token=None)
    assert main(["replay", str(example), *map(str, sorted(records.glob("*.jsonl*")))]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {line["platform"] for line in lines} == {"stream", "twilio"}
    assert all(line["same"] is True for line in lines)
