"""``POST /hooks/stream`` and ``POST /hooks/twilio`` in-process, signed with the vendors'
own SDKs where they sign (Twilio) and checked against their verifiers where they only
verify (Stream).

Every answer path: allow, modify and deny in each vendor's contract; 401 for missing,
malformed and wrong signatures (never evaluated); rotation (an old secret still works);
``--twilio-public-url`` (the URL Twilio signed, not the one the proxy forwarded); 400
for bodies that are not the vendor's; 413 over the limit; the fail-safe answer past the
deadline; the loopback-only rule without credentials; metrics and decision log with
the platform's own label and no special case.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.testclient import TestClient
from stream_chat import StreamChat
from twilio.request_validator import RequestValidator

from receiver.adapters import stream as stream_adapter
from receiver.adapters.signatures import Secrets
from receiver.adapters.vendorsigs import sign_stream
from receiver.http.app import create_app
from receiver.http.config import ServiceConfig
from receiver.observe.decisionlog import DecisionLog

STREAM_SECRET = "stream-api-secret-current-0123456789"
STREAM_OLD = "stream-api-secret-previous-0123456789"
TWILIO_TOKEN = "0123456789abcdef0123456789abcdef"
TWILIO_OLD = "fedcba9876543210fedcba9876543210"
PUBLIC_URL = "https://mod.example.com/hooks/twilio"

POLICY = """\
policy: chat
rules:
  - id: no-invites
    events: [stream.message.new, twilio.onMessageAdd]
    when: 'text contains "discord.gg/"'
    action: deny
    message: "No invite links ({decision_id})."
  - id: redact-phone
    events: [stream.message.new, twilio.onMessageAdd]
    when: 'text contains "555-0100"'
    action: modify
    set:
      text: replace(text, "555-0100", "[redacted]")
  - id: tag-twilio
    events: twilio.onMessageAdd
    when: 'text contains "tag me"'
    action: modify
    set:
      data.attributes: 'merge(data.attributes, {"checked": true})'
  - id: no-joins
    events: twilio.onParticipantAdd
    when: 'data.Identity == "banned_bob"'
    action: deny
    status: 409
    message: banned
"""


@dataclass
class Harness:
    client: TestClient
    app: Starlette
    log_stream: io.BytesIO

    def stream(self, payload: Any, *, key: str | None = STREAM_SECRET) -> Any:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"content-type": "application/json", "x-api-key": "key", "x-webhook-id": "1"}
        if key is not None:
            headers["x-signature"] = sign_stream(key.encode(), body)
        return self.client.post("/hooks/stream", content=body, headers=headers)

    def twilio(
        self,
        params: dict[str, str],
        *,
        token: str | None = TWILIO_TOKEN,
        signed_url: str = PUBLIC_URL,
        path: str = "/hooks/twilio",
    ) -> Any:
        headers = {"content-type": "application/x-www-form-urlencoded"}
        if token is not None:  # Twilio's own signer
            headers["x-twilio-signature"] = RequestValidator(token).compute_signature(
                signed_url, params
            )
        return self.client.post(path, content=urlencode(params).encode(), headers=headers)

    def decisions(self) -> list[dict[str, Any]]:
        assert self.app.state.service.decision_log.flush(5)
        return [json.loads(line) for line in self.log_stream.getvalue().decode().splitlines()]

    def metric(self, name: str, **labels: str) -> float:
        text = self.client.get("/metrics").text
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
        )


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    directory = tmp_path / "policies"
    directory.mkdir()
    (directory / "chat.yaml").write_text(POLICY)
    with contextlib.ExitStack() as stack:

        def start(**overrides: Any) -> Harness:
            settings: dict[str, Any] = {
                "policies": directory,
                "stream_secrets": Secrets.parse(f"{STREAM_SECRET},{STREAM_OLD}"),
                "twilio_tokens": Secrets.parse(f"{TWILIO_TOKEN},{TWILIO_OLD}"),
                "twilio_public_url": PUBLIC_URL,
                **overrides,
            }
            log = io.BytesIO()
            app = create_app(ServiceConfig(**settings), DecisionLog(log, False))
            return Harness(stack.enter_context(TestClient(app)), app, log)

        yield start


@pytest.fixture
def service(make: Callable[..., Harness]) -> Harness:
    return make()


def stream_body(text: str) -> dict[str, Any]:
    """A hook body as Stream's docs show it (docs/protocols.md C.1)."""
    return {
        "message": {
            "id": "",
            "text": text,
            "html": "",
            "type": "regular",
            "attachments": [],
            "mentioned_users": [],
            "silent": False,
        },
        "user": {"id": "17f8ab2c", "role": "user", "banned": False, "online": False},
        "channel": {"cid": "messaging:fun", "id": "fun", "type": "messaging"},
        "request_info": {"type": "client", "ip": "127.0.0.1", "user_agent": "test", "ext": ""},
    }


def twilio_message(body: str, **extra: str) -> dict[str, str]:
    return {
        "EventType": "onMessageAdd",
        "AccountSid": "AC00000000000000000000000000000000",
        "ChatServiceSid": "IS00000000000000000000000000000000",
        "ConversationSid": "CH00000000000000000000000000000000",
        "Body": body,
        "Author": "alice",
        "ClientIdentity": "alice",
        "Source": "SDK",
        "Attributes": '{"lang":"en"}',
        **extra,
    }


# -- Stream ---------------------------------------------------------------------------------


def test_stream_allow_is_an_empty_object(service: Harness) -> None:
    response = service.stream(stream_body("hello"))
    assert response.status_code == 200
    assert response.json() == {}
    assert response.headers["x-decision-id"]


def test_stream_modify_answers_the_whole_message_with_the_new_text(service: Harness) -> None:
    payload = stream_body("call 555-0100")
    response = service.stream(payload)
    assert response.status_code == 200
    assert response.json() == {"message": {**payload["message"], "text": "call [redacted]"}}


def test_stream_deny_bounces_the_message_as_an_error_with_the_deny_text(
    service: Harness,
) -> None:
    payload = stream_body("join discord.gg/x")
    response = service.stream(payload)
    assert response.status_code == 200  # Stream: a bounce is still HTTP 200
    message = response.json()["message"]
    assert message["type"] == "error"
    assert message["text"] == f"No invite links ({response.headers['x-decision-id']})."
    assert message["attachments"] == []  # the rest of the message as sent


def test_stream_accepts_the_previous_secret(service: Harness) -> None:
    assert service.stream(stream_body("hello"), key=STREAM_OLD).status_code == 200


@pytest.mark.parametrize(
    ("signature", "reason"),
    [(None, "missing"), ("zz" * 32, "malformed"), ("ab", "malformed"), ("00" * 32, "mismatch")],
)
def test_stream_refuses_bad_signatures_unevaluated(
    service: Harness, signature: str | None, reason: str
) -> None:
    body = json.dumps(stream_body("join discord.gg/x")).encode()
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["x-signature"] = signature
    response = service.client.post("/hooks/stream", content=body, headers=headers)
    assert response.status_code == 401
    assert "error" in response.json()
    assert service.metric("receiver_signature_failures_total", platform="stream", reason=reason)
    assert service.decisions() == []


def test_stream_signature_from_another_secret_is_refused(service: Harness) -> None:
    assert service.stream(stream_body("hi"), key="not-the-secret").status_code == 401


def test_stream_verify_webhook_accepts_what_the_service_accepts(service: Harness) -> None:
    body = json.dumps(stream_body("hello")).encode()
    signature = sign_stream(STREAM_SECRET.encode(), body)
    assert StreamChat(api_key="key", api_secret=STREAM_SECRET).verify_webhook(body, signature)


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"message": "text"}', b'{"message": {}, "user": 3}']
)
def test_stream_bad_bodies_are_400(service: Harness, body: bytes) -> None:
    response = service.stream(body)
    assert response.status_code == 400
    assert response.json()["error"]


def test_stream_over_the_body_limit_is_413(make: Callable[..., Harness]) -> None:
    service = make(max_body=100)
    assert service.stream(stream_body("x" * 200)).status_code == 413


def test_stream_decision_log_and_metrics_name_the_platform(service: Harness) -> None:
    service.stream(stream_body("join discord.gg/x"))
    (entry,) = service.decisions()
    assert entry["platform"] == "stream"
    assert entry["event"] == "stream.message.new"
    assert entry["action"] == "deny"
    assert service.metric(
        "receiver_requests_total", platform="stream", event="stream.message.new", action="deny"
    )


def test_stream_deadline_is_under_streams_timeout(make: Callable[..., Harness]) -> None:
    service = make(deadline_ms=5000)
    assert service.app.state.service.stream_deadline == stream_adapter.DEADLINE_MS / 1000 < 1.5


def test_stream_past_the_deadline_answers_the_fail_safe(
    make: Callable[..., Harness], tmp_path: Path
) -> None:
    slow = tmp_path / "slow"
    slow.mkdir()
    rules = "".join(
        f"  - id: slow-{k}\n    events: stream.message.new\n"
        f"    when: count(words(text), len(it) > {k + 3}) < 0\n    action: deny\n"
        for k in range(40)
    )
    (slow / "slow.yaml").write_text("policy: slow\nrules:\n" + rules)
    service = make(policies=slow, deadline_ms=1, default_action="deny")
    response = service.stream(stream_body("hello " * 20000))
    assert response.status_code == 200
    assert response.json()["message"]["type"] == "error"
    assert response.json()["message"]["text"] == stream_adapter.FAIL_SAFE_DENY_MESSAGE
    assert service.metric("receiver_degraded_answers_total", platform="stream", reason="deadline")


def test_stream_without_a_secret_off_loopback_is_401(make: Callable[..., Harness]) -> None:
    service = make(stream_secrets=None, host="0.0.0.0")  # the rule under test
    response = service.stream(stream_body("hello"), key=None)
    assert response.status_code == 401
    assert "RECEIVER_STREAM_SECRET" in response.json()["error"]


def test_stream_without_a_secret_on_loopback_decides(make: Callable[..., Harness]) -> None:
    service = make(stream_secrets=None)
    assert service.stream(stream_body("hello"), key=None).json() == {}


# -- Twilio ---------------------------------------------------------------------------------


def test_twilio_allow_is_200_with_an_empty_object(service: Harness) -> None:
    response = service.twilio(twilio_message("hello"))
    assert response.status_code == 200
    assert response.json() == {}


def test_twilio_modify_answers_only_the_changed_body(service: Harness) -> None:
    response = service.twilio(twilio_message("call 555-0100"))
    assert response.status_code == 200
    assert response.json() == {"body": "call [redacted]"}


def test_twilio_modify_answers_attributes_as_a_json_string(service: Harness) -> None:
    response = service.twilio(twilio_message("tag me"))
    assert response.status_code == 200
    assert json.loads(response.json()["attributes"]) == {"lang": "en", "checked": True}


def test_twilio_deny_is_403(service: Harness) -> None:
    response = service.twilio(twilio_message("join discord.gg/x"))
    assert response.status_code == 403
    assert response.json()["message"].startswith("No invite links")


def test_twilio_deny_uses_the_rules_status(service: Harness) -> None:
    params = {"EventType": "onParticipantAdd", "Identity": "banned_bob", "ConversationSid": "CH1"}
    response = service.twilio(params)
    assert response.status_code == 409


def test_twilio_accepts_the_previous_token(service: Harness) -> None:
    assert service.twilio(twilio_message("hi"), token=TWILIO_OLD).status_code == 200


def test_twilio_signature_over_another_url_is_refused(service: Harness) -> None:
    response = service.twilio(twilio_message("hi"), signed_url="https://evil.example/hooks/twilio")
    assert response.status_code == 401
    assert "--twilio-public-url" in response.json()["error"]


def test_twilio_public_url_keeps_the_query_string(service: Harness) -> None:
    response = service.twilio(
        twilio_message("call 555-0100"),
        signed_url=PUBLIC_URL + "?tenant=a",
        path="/hooks/twilio?tenant=a",
    )
    assert response.status_code == 200
    assert response.json() == {"body": "call [redacted]"}


def test_twilio_without_public_url_signs_the_url_as_requested(
    make: Callable[..., Harness],
) -> None:
    service = make(twilio_public_url=None)
    response = service.twilio(
        twilio_message("call 555-0100"), signed_url="http://testserver/hooks/twilio"
    )
    assert response.status_code == 200
    assert response.json() == {"body": "call [redacted]"}


@pytest.mark.parametrize(
    ("signature", "reason"),
    [(None, "missing"), ("not base64!", "malformed"), ("A" * 200, "malformed"),
     ("AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "mismatch")],
)  # fmt: skip
def test_twilio_refuses_bad_signatures_unevaluated(
    service: Harness, signature: str | None, reason: str
) -> None:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers["x-twilio-signature"] = signature
    body = urlencode(twilio_message("join discord.gg/x")).encode()
    response = service.client.post("/hooks/twilio", content=body, headers=headers)
    assert response.status_code == 401
    assert service.metric("receiver_signature_failures_total", platform="twilio", reason=reason)
    assert service.decisions() == []


@pytest.mark.parametrize(
    "params", [{"Body": "no event type"}, {"EventType": "drop table"}, {"EventType": ""}]
)
def test_twilio_forms_without_an_event_type_are_400(
    service: Harness, params: dict[str, str]
) -> None:
    response = service.twilio(params)
    assert response.status_code == 400
    assert "EventType" in response.json()["error"]


def test_twilio_body_that_is_not_utf8_is_400(make: Callable[..., Harness]) -> None:
    service = make(twilio_tokens=None)  # loopback: unsigned
    response = service.client.post(
        "/hooks/twilio",
        content=b"EventType=onMessageAdd&Body=\xff",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400


def test_twilio_decision_log_and_metrics_name_the_platform(service: Harness) -> None:
    service.twilio(twilio_message("join discord.gg/x"))
    (entry,) = service.decisions()
    assert (entry["platform"], entry["event"], entry["action"]) == (
        "twilio",
        "twilio.onMessageAdd",
        "deny",
    )
    assert service.metric("receiver_requests_total", platform="twilio", event="twilio.onMessageAdd")


def test_twilio_without_a_token_off_loopback_is_401(make: Callable[..., Harness]) -> None:
    service = make(twilio_tokens=None, host="0.0.0.0")  # the rule under test
    response = service.twilio(twilio_message("hello"), token=None)
    assert response.status_code == 401
    assert "RECEIVER_TWILIO_AUTH_TOKEN" in response.json()["error"]


def test_probes_answer_get(service: Harness) -> None:
    assert service.client.get("/hooks/stream").status_code == 200
    assert service.client.get("/hooks/twilio").status_code == 200


# -- settings -------------------------------------------------------------------------------


def test_settings_read_vendor_credentials_from_files_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from receiver.http.settings import SettingsError, build  # noqa: PLC0415  # settings only

    secret_file = tmp_path / "stream.secret"
    secret_file.write_text(f"{STREAM_SECRET}, {STREAM_OLD}\n")
    monkeypatch.setenv("RECEIVER_TWILIO_AUTH_TOKEN", TWILIO_TOKEN)
    config = build({"stream_secret_file": secret_file, "twilio_public_url": PUBLIC_URL})
    assert config.stream_secrets is not None and len(config.stream_secrets.keys) == 2
    assert config.twilio_tokens is not None
    assert config.twilio_tokens.keys == (TWILIO_TOKEN.encode(),)
    assert TWILIO_TOKEN not in repr(config)
    config_file = tmp_path / "receiver.yaml"
    config_file.write_text("twilio_public_url: https://h.example/hooks/twilio\n")
    assert build({"config": config_file}).twilio_public_url == "https://h.example/hooks/twilio"
    with pytest.raises(SettingsError, match="absolute URL Twilio calls"):
        build({"twilio_public_url": "mod.example.com/hooks/twilio"})
    (tmp_path / "empty").write_text(" , ")
    with pytest.raises(SettingsError, match="holds no Stream API secret"):
        build({"stream_secret_file": tmp_path / "empty"})
