"""The console covers Stream and Twilio with no special case: the playground decides
their payloads (``/api/decide``) and the explorer of ``serve --console`` decides a kept
Stream or Twilio hook again in its vendor's form, both through
``receiver.adapters.platforms``."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

from consolecraft import POLICIES, client
from starlette.testclient import TestClient

from receiver.console.inservice import create_service_app
from receiver.http.config import ConsoleSettings, ServiceConfig

EXAMPLES = POLICIES.parent / "examples"
ALL_PLATFORMS = EXAMPLES / "all-platforms"
STREAM_BODY = json.loads((EXAMPLES / "stream" / "message-new.json").read_text())
INVITES = "Invite links to other communities are not allowed here."


def files() -> list[dict[str, str]]:
    policy = ALL_PLATFORMS / "moderation.yaml"
    return [{"name": policy.name, "text": policy.read_text(encoding="utf-8")}]


def test_the_playground_answers_a_stream_payload_in_streams_form() -> None:
    answer = client().post("/api/decide", json={"files": files(), "payload": STREAM_BODY})
    assert answer.status_code == 200, answer.text
    out = answer.json()
    assert out["answer"]["message"]["type"] == "error"
    assert out["answer"]["message"]["text"] == INVITES
    assert out["rule"] == "all-platforms/no-invite-links"


def test_the_playground_answers_twilio_parameters_in_twilios_form() -> None:
    payload = {"EventType": "onMessageAdd", "Body": "what the hell"}
    answer = client().post("/api/decide", json={"files": files(), "payload": payload})
    assert answer.status_code == 200, answer.text
    assert answer.json()["answer"] == {"status": 200, "body": {"body": "what the ****"}}


def service(policies: Path) -> TestClient:
    config = ServiceConfig(
        policies=policies, log_content=True, console=ConsoleSettings(),
        decision_log=Path("/dev/null"),
    )  # fmt: skip
    return TestClient(create_service_app(config), raise_server_exceptions=True)


def test_kept_vendor_hooks_are_re_explained_in_their_vendors_form() -> None:
    with service(ALL_PLATFORMS) as http:  # loopback, no credentials: unsigned is accepted
        bounced = http.post("/hooks/stream", json=STREAM_BODY)
        assert bounced.status_code == 200
        opened = http.get(f"/console/api/decisions/{bounced.headers['x-decision-id']}").json()
        assert opened["entry"]["platform"] == "stream"
        assert opened["explain"]["current"]["answer"] == bounced.json()

        form = urlencode({"EventType": "onMessageAdd", "Body": "what the hell"})
        censored = http.post(
            "/hooks/twilio",
            content=form.encode(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert censored.json() == {"body": "what the ****"}
        opened = http.get(f"/console/api/decisions/{censored.headers['x-decision-id']}").json()
        assert opened["entry"]["platform"] == "twilio"
        assert opened["explain"]["current"]["answer"] == {"status": 200, "body": censored.json()}
