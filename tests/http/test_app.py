"""The HTTP service in-process (receiver/http/app.py, receiver/http/service.py) with Starlette's
TestClient.

Every answer path of ``POST /hooks/socialplus``: allow, modify, deny (with the decision
id interpolated), 401 for missing/malformed/wrong signatures (never evaluated), 413
over the body limit, 400 for bad JSON or envelopes, allow for unknown events, the
fail-safe answer on an internal error and past the deadline; then the probes, JSON
404/405, the metrics after some traffic, the decision log, and reloads that keep the
old set when the new one is broken. The lifespan runs (``with TestClient(...)``).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from slow_policy import slow_policy, words_taking
from starlette.applications import Starlette
from starlette.testclient import TestClient

from receiver.adapters.signatures import FallbackSettings, Secrets, sign_base64, sign_hex
from receiver.adapters.socialplus import FAIL_SAFE_DENY_MESSAGE
from receiver.errors import PolicyLoadError
from receiver.http.app import create_app
from receiver.http.config import ServiceConfig
from receiver.observe.decisionlog import DecisionLog

LAST_MESSAGE = "reached the last rule"

SECRET = "current-secret-1234"
OLD_SECRET = "previous-secret-5678"
HOOK = "/hooks/socialplus"

CHAT_POLICY = """\
policy: chat
rules:
  - id: shadow-spam
    events: message.shouldCreate
    when: text contains "spam"
    action: deny
    message: "would deny: {text}"
    mode: shadow
  - id: forbidden-word
    events: message.shouldCreate
    when: text contains "forbidden"
    action: deny
    message: "Blocked (ref {decision_id})."
  - id: redact-phone
    events: message.shouldCreate
    when: text contains "555-0100"
    action: modify
    set:
      text: replace(text, "555-0100", "[redacted]")
  - id: count-check
    events: post.shouldCreate
    when: len(data.count) > 3
    action: deny
  - id: vip-only
    events: channel.shouldJoin
    when: data.channelId == "vip"
    action: deny
    message: VIP only.
"""

BROKEN_POLICY = """\
policy: broken
rules:
  - id: bad
    events: message.shouldCreate
    when: len(data.text >
    action: deny
"""


# -- harness ------------------------------------------------------------------------------------


@dataclass
class Harness:
    client: TestClient
    app: Starlette
    log_stream: io.BytesIO

    def post(
        self,
        payload: Any,
        *,
        key: str | None = SECRET,
        header: str = "x-amity-signature",
    ) -> Any:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"content-type": "application/json"}
        if key is not None:
            sign = sign_hex if header == "x-signature" else sign_base64
            headers[header] = sign(key.encode(), body)
        return self.client.post(HOOK, content=body, headers=headers)

    def decisions(self) -> list[dict[str, Any]]:
        assert self.app.state.service.decision_log.flush(5)  # the writer thread has written
        lines = self.log_stream.getvalue().decode().splitlines()
        return [json.loads(line) for line in lines]

    def metrics(self) -> list[tuple[str, dict[str, str], float]]:
        response = self.client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        return [
            (sample.name, sample.labels, sample.value)
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
        ]

    def metric(self, name: str, **labels: str) -> float:
        return total(self.metrics(), name, **labels)


def total(samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels``."""
    return sum(
        value
        for sample, have, value in samples
        if sample == name and all(have.get(k) == v for k, v in labels.items())
    )


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    directory = tmp_path / "policies"
    directory.mkdir()
    (directory / "chat.yaml").write_text(CHAT_POLICY)
    return directory


@pytest.fixture
def make(policies: Path) -> Iterator[Callable[..., Harness]]:
    """Start the app (lifespan included) with a config built from keyword arguments."""
    with contextlib.ExitStack() as stack:

        def start(*, log_content: bool = False, **overrides: Any) -> Harness:
            settings: dict[str, Any] = {
                "policies": policies,
                "secrets": Secrets.parse(f"{SECRET},{OLD_SECRET}"),
                **overrides,
            }
            stream = io.BytesIO()
            app = create_app(ServiceConfig(**settings), DecisionLog(stream, log_content))
            client = stack.enter_context(TestClient(app))
            return Harness(client, app, stream)

        yield start


@pytest.fixture
def service(make: Callable[..., Harness]) -> Harness:
    return make()


def message(text: str, **data: Any) -> dict[str, Any]:
    return {
        "eventName": "message.shouldCreate",
        "data": {"text": text, "channelId": "ch_1", **data},
        "actor": {"_id": "user_1", "userId": "user_1"},
    }


def assert_json_answer(response: Any, status: int = 200) -> Any:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    return response.json()


# -- decisions ----------------------------------------------------------------------------------


def test_allow_is_json_with_a_decision_id(service: Harness) -> None:
    response = service.post(message("hello"))
    assert assert_json_answer(response) == {"action": "allow"}
    decision_id = response.headers["x-decision-id"]
    assert len(decision_id) == 20
    assert int(decision_id, 16) >= 0
    assert service.post(message("hello")).headers["x-decision-id"] != decision_id


def test_modify_answers_the_whole_changed_data(service: Harness) -> None:
    response = service.post(message("call 555-0100 now", metadata={"k": 1}, attachments=[]))
    assert assert_json_answer(response) == {
        "action": "allow",
        "data": {
            "text": "call [redacted] now",
            "channelId": "ch_1",
            "metadata": {"k": 1},
            "attachments": [],
        },
    }


def test_deny_message_interpolates_the_decision_id_of_the_header(service: Harness) -> None:
    response = service.post(message("a forbidden word"))
    decision_id = response.headers["x-decision-id"]
    assert assert_json_answer(response) == {
        "action": "deny",
        "message": f"Blocked (ref {decision_id}).",
    }
    [logged] = service.decisions()
    assert logged["decision_id"] == decision_id


def test_other_events_are_decided_by_their_own_rules(service: Harness) -> None:
    join = {"eventName": "channel.shouldJoin", "data": {"channelId": "vip"}, "actor": {}}
    assert service.post(join).json() == {"action": "deny", "message": "VIP only."}
    join["data"] = {"channelId": "lobby"}
    assert service.post(join).json() == {"action": "allow"}


def test_a_valid_unknown_event_is_allowed(service: Harness) -> None:
    for name in ("comment.shouldCreate", "story.shouldDelete", "x" * 300):
        response = service.post({"eventName": name, "data": {"text": "forbidden"}})
        assert assert_json_answer(response) == {"action": "allow"}
        assert "x-decision-id" in response.headers


def test_an_actor_is_optional(service: Harness) -> None:
    response = service.post({"eventName": "message.shouldCreate", "data": {"text": "hi"}})
    assert assert_json_answer(response) == {"action": "allow"}


def test_integers_beyond_64_bits_come_back_unchanged(service: Harness) -> None:
    big = 123456789012345678901234567890
    body = json.dumps(message("555-0100", metadata={"big": big, "neg": -(2**63) - 1})).encode()
    answer = assert_json_answer(service.post(body))
    assert answer["data"]["metadata"] == {"big": big, "neg": -(2**63) - 1}
    assert str(big).encode() in service.post(body).content


def test_text_with_a_lone_surrogate_is_answered_with_valid_json(service: Harness) -> None:
    body = b'{"eventName":"message.shouldCreate","data":{"text":"\\ud800 555-0100"}}'
    response = service.post(body)
    assert assert_json_answer(response) == {
        "action": "allow",
        "data": {"text": "\ud800 [redacted]"},
    }


# -- signatures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["x-amity-signature", "x-signature"])
@pytest.mark.parametrize("key", [SECRET, OLD_SECRET])
def test_either_header_and_either_rotated_secret_is_accepted(
    service: Harness, header: str, key: str
) -> None:
    response = service.post(message("a forbidden word"), key=key, header=header)
    assert assert_json_answer(response)["action"] == "deny"


def compact_signed(text: str) -> tuple[bytes, dict[str, str]]:
    """A pretty-printed body signed over its compact form (JSON.stringify's bytes)."""
    payload = message(text)
    compact = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    body = json.dumps(payload, indent=2).encode()
    return body, {"x-signature": sign_hex(SECRET.encode(), compact)}


def test_a_signature_over_the_compact_json_is_refused_by_default(service: Harness) -> None:
    body, headers = compact_signed("héllo forbidden")
    response = service.client.post(HOOK, content=body, headers=headers)
    assert assert_json_answer(response, 401) == {"error": "the signature does not match"}
    assert service.metric("receiver_signature_failures_total", reason="mismatch") == 1


def test_with_the_fallback_on_a_compact_json_signature_is_accepted(
    make: Callable[..., Harness],
) -> None:
    harness = make(signature_fallback=FallbackSettings())
    body, headers = compact_signed("héllo forbidden")
    response = harness.client.post(HOOK, content=body, headers=headers)
    assert assert_json_answer(response)["action"] == "deny"


def test_the_fallback_past_its_budget_refuses_and_counts_over_budget(
    make: Callable[..., Harness],
) -> None:
    # A rate of one attempt an hour: the first attempt passes, the next ones are refused.
    harness = make(signature_fallback=FallbackSettings(rate=1 / 3600))
    body, headers = compact_signed("héllo forbidden")
    assert harness.client.post(HOOK, content=body, headers=headers).status_code == 200
    for _ in range(3):
        response = harness.client.post(HOOK, content=body, headers=headers)
        assert assert_json_answer(response, 401) == {"error": "the signature does not match"}
    assert harness.metric("receiver_signature_failures_total", reason="over-budget") == 3
    assert harness.metric("receiver_signature_failures_total", reason="mismatch") == 0
    # raw-body signatures never spend the budget
    assert harness.post(message("hello")).status_code == 200
    assert len(harness.decisions()) == 2


def test_the_fallback_never_parses_a_body_over_its_size_limit(
    make: Callable[..., Harness],
) -> None:
    body, headers = compact_signed("héllo forbidden")
    harness = make(signature_fallback=FallbackSettings(max_body=len(body) - 1))
    response = harness.client.post(HOOK, content=body, headers=headers)
    assert assert_json_answer(response, 401) == {"error": "the signature does not match"}
    assert harness.metric("receiver_signature_failures_total", reason="mismatch") == 1


@pytest.mark.parametrize(
    ("headers", "reason", "text"),
    [
        ({}, "missing", "missing signature"),
        ({"x-amity-signature": "not base64!"}, "malformed", "not a Base64 or hex"),
        ({"x-signature": "abc"}, "malformed", "not a Base64 or hex"),
        ({"x-amity-signature": sign_base64(b"wrong-secret", b"{}")}, "mismatch", "does not match"),
        ({"x-signature": "00" * 32}, "mismatch", "does not match"),
    ],
)
def test_a_bad_signature_is_401_counted_and_never_evaluated(
    service: Harness,
    monkeypatch: pytest.MonkeyPatch,
    headers: dict[str, str],
    reason: str,
    text: str,
) -> None:
    def must_not_run(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a request with a bad signature was evaluated")

    monkeypatch.setattr("receiver.runtime.policyset.PolicySet.compiled", must_not_run)
    body = json.dumps(message("a forbidden word")).encode()
    response = service.client.post(HOOK, content=body, headers=headers)
    answer = assert_json_answer(response, 401)
    assert list(answer) == ["error"]
    assert text in answer["error"]
    assert len(answer["error"]) < 100
    assert "x-decision-id" not in response.headers
    assert service.decisions() == []
    assert service.metric("receiver_signature_failures_total", reason=reason) == 1
    assert service.metric("receiver_requests_total", status="401", action="refused") == 1
    assert service.metric("receiver_rule_hits_total") == 0


def test_the_signature_is_checked_on_the_raw_bytes_before_parsing(service: Harness) -> None:
    # Not JSON at all and unsigned: 401 (not 400), because nothing is parsed first.
    response = service.client.post(HOOK, content=b"{not json")
    assert assert_json_answer(response, 401)["error"].startswith("missing signature")
    # A single changed byte after signing: 401.
    body = json.dumps(message("a forbidden word")).encode()
    signature = sign_base64(SECRET.encode(), body)
    tampered = body.replace(b"forbidden", b"forbiddeN")
    response = service.client.post(HOOK, content=tampered, headers={"x-signature": signature})
    assert assert_json_answer(response, 401) == {"error": "the signature does not match"}


def test_without_a_secret_unsigned_requests_are_decided(make: Callable[..., Harness]) -> None:
    harness = make(secrets=None)
    response = harness.post(message("a forbidden word"), key=None)
    assert assert_json_answer(response)["action"] == "deny"
    # A signature header, even a wrong one, changes nothing without a secret.
    response = harness.post(message("hi"), key="whatever")
    assert assert_json_answer(response) == {"action": "allow"}


# -- body limit and malformed requests ----------------------------------------------------------


def test_a_body_over_the_limit_is_413_before_the_signature(make: Callable[..., Harness]) -> None:
    harness = make(max_body=1024)
    big = message("x" * 2000)
    response = harness.post(big, key=None)  # unsigned: the size is checked first
    answer = assert_json_answer(response, 413)
    assert answer == {"error": "the body is larger than the limit of 1024 bytes"}
    assert assert_json_answer(harness.post(big), 413) == answer  # signed: the same
    assert harness.decisions() == []
    assert harness.metric("receiver_bad_requests_total", reason="too-large") == 2
    assert harness.metric("receiver_requests_total", status="413") == 2
    assert harness.metric("receiver_signature_failures_total") == 0


def test_a_body_exactly_at_the_limit_is_accepted(make: Callable[..., Harness]) -> None:
    harness = make(max_body=1024)
    payload = message("")
    size = len(json.dumps(payload).encode())
    payload["data"]["text"] = "y" * (1024 - size)
    body = json.dumps(payload).encode()
    assert len(body) == 1024
    assert assert_json_answer(harness.post(body)) == {"action": "allow"}
    assert assert_json_answer(harness.post(body + b" "), 413)["error"].startswith("the body")


def test_a_streamed_body_without_content_length_is_limited_too(
    make: Callable[..., Harness],
) -> None:
    harness = make(max_body=1024, secrets=None)

    def chunks() -> Iterator[bytes]:
        yield b'{"eventName":"message.shouldCreate","data":{"text":"'
        for _ in range(20):
            yield b"z" * 100
        yield b'"}}'

    response = harness.client.post(HOOK, content=chunks())
    assert assert_json_answer(response, 413)["error"].endswith("1024 bytes")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", "invalid JSON at line 1, column 1"),
        (b"{", "invalid JSON at line 1, column 2"),
        (b'{"eventName": "message.shouldCreate", "data": {}', "invalid JSON"),
        (b'{"eventName":"message.shouldCreate","data":{"text":"\xff"}}', "not UTF-8"),
        (b"[1, 2]", "the payload must be a JSON object, not a list"),
        (b'"text"', "the payload must be a JSON object, not a string"),
        (b"null", "the payload must be a JSON object, not missing/null"),
        (b'{"data": {}}', "the payload needs a string 'eventName'"),
        (b'{"eventName": 7, "data": {}}', "the payload needs a string 'eventName'"),
        (b'{"eventName": "", "data": {}}', "the payload needs a string 'eventName'"),
        (b'{"eventName": "message.shouldCreate"}', "'data' must be a JSON object, not missing"),
        (b'{"eventName": "post.shouldCreate", "data": [1]}', "'data' must be a JSON object"),
        (b'{"eventName": "post.shouldCreate", "data": "x"}', "'data' must be a JSON object"),
        (b'{"eventName": "x", "data": {}, "actor": "u1"}', "'actor' must be a JSON object"),
        (b'{"event": "message.didCreate", "data": {}}', "pre-hooks send 'eventName'"),
        (b"[" * 5000 + b"]" * 5000, "nested too deeply"),
        (b'{"eventName":"x","data":' + b"[" * 3000 + b"]" * 3000 + b"}", "nested too deeply"),
    ],
)
def test_a_malformed_request_is_400_with_a_clear_error(
    service: Harness, body: bytes, error: str
) -> None:
    response = service.post(body)
    answer = assert_json_answer(response, 400)
    assert error in answer["error"]
    assert "x-decision-id" not in response.headers
    assert service.decisions() == []
    assert service.metric("receiver_bad_requests_total", reason="malformed") == 1
    assert service.metric("receiver_requests_total", status="400", event="none") == 1


# -- fail-safe on internal errors and on the deadline -------------------------------------------


@pytest.mark.parametrize(
    ("default_action", "expected"),
    [
        ("allow", {"action": "allow"}),
        ("deny", {"action": "deny", "message": FAIL_SAFE_DENY_MESSAGE}),
    ],
)
def test_an_internal_error_answers_200_with_the_fail_safe_action(
    make: Callable[..., Harness],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    default_action: str,
    expected: dict[str, str],
) -> None:
    harness = make(default_action=default_action)

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("injected failure for the test")

    monkeypatch.setattr("receiver.runtime.policyset.PolicySet.compiled", explode)
    with caplog.at_level(logging.ERROR, logger="receiver"):
        response = harness.post(message("call 555-0100"))
    assert assert_json_answer(response) == expected
    decision_id = response.headers["x-decision-id"]
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.exc_info is not None
    assert "internal error deciding message.shouldCreate" in record.getMessage()
    assert decision_id in record.getMessage()
    assert "Traceback" in caplog.text
    assert "injected failure for the test" in caplog.text
    errors = "receiver_evaluation_errors_total"
    assert harness.metric(errors, kind="internal", policy="", rule="") == 1
    assert harness.metric("receiver_degraded_answers_total", reason="error") == 1
    assert harness.metric("receiver_requests_total", action=default_action, status="200") == 1
    [logged] = harness.decisions()
    assert logged["decision_id"] == decision_id
    assert logged["degraded"] is True
    assert logged["degraded_reason"] == "error"
    assert logged["action"] == default_action
    # The next request, without the failure, is decided normally.
    monkeypatch.undo()
    assert harness.post(message("hello")).json() == {"action": "allow"}


@pytest.mark.parametrize(
    ("path", "platform", "status"),
    [
        (HOOK, "socialplus", 200),
        ("/hooks/braincloud", "braincloud", 503),
        ("/hooks/socialplus/events", "socialplus-webhook", 503),
    ],
)
def test_a_bug_escaping_a_hook_handler_is_still_answered_and_counted(
    service: Harness,
    caplog: pytest.LogCaptureFixture,
    path: str,
    platform: str,
    status: int,
) -> None:
    async def broken(body: bytes | None, headers: Any, started: float) -> Any:
        raise RuntimeError("a bug past the handler's own checks")

    service.app.hooks[path].handle = broken  # type: ignore[attr-defined]
    with caplog.at_level(logging.ERROR, logger="receiver.http.endpoint"):
        response = service.client.post(path, content=b"{}")
    assert response.status_code == status
    assert "a bug past the handler's own checks" in caplog.text
    errors = "receiver_evaluation_errors_total"
    assert service.metric(errors, kind="internal") == 1
    assert (
        service.metric(
            "receiver_requests_total", platform=platform, action="error", status=str(status)
        )
        == 1
    )


@pytest.mark.parametrize(
    ("default_action", "expected"),
    [
        ("allow", {"action": "allow"}),
        ("deny", {"action": "deny", "message": FAIL_SAFE_DENY_MESSAGE}),
    ],
)
def test_past_the_deadline_the_answer_is_the_fail_safe_and_degraded(
    make: Callable[..., Harness],
    policies: Path,
    caplog: pytest.LogCaptureFixture,
    default_action: str,
    expected: dict[str, str],
) -> None:
    # the first rule takes about 300 ms, the deadline is 50 ms
    policy = slow_policy(1, LAST_MESSAGE)
    (policies / "chat.yaml").unlink()
    (policies / "slow.yaml").write_text(policy)
    words = words_taking(0.3, policy)
    harness = make(deadline_ms=50, default_action=default_action, max_body=64 * 2**20)
    with caplog.at_level(logging.WARNING, logger="receiver"):
        response = harness.post(message("hello " * words))
    # Without the deadline the last rule would deny with "reached the last rule".
    assert assert_json_answer(response) == expected
    assert "ran out of its 50 ms deadline" in caplog.text
    assert harness.metric("receiver_degraded_answers_total", reason="deadline") == 1
    assert harness.metric("receiver_evaluation_errors_total", kind="internal") == 0
    assert harness.metric("receiver_requests_total", action=default_action, status="200") == 1
    [logged] = harness.decisions()
    assert logged["decision_id"] == response.headers["x-decision-id"]
    assert logged["degraded"] is True
    assert logged["degraded_reason"] == "deadline"
    assert logged["action"] == default_action
    assert logged["rule"] is None


def test_within_the_deadline_the_same_rules_decide(
    make: Callable[..., Harness], policies: Path
) -> None:
    (policies / "chat.yaml").unlink()
    (policies / "slow.yaml").write_text(slow_policy(1, LAST_MESSAGE))
    harness = make(deadline_ms=60_000)
    response = harness.post(message("hello " * 1000))
    assert response.json() == {"action": "deny", "message": LAST_MESSAGE}
    assert harness.metric("receiver_degraded_answers_total") == 0
    assert harness.decisions()[0]["degraded"] is False


def test_a_rule_failing_at_run_time_is_skipped_and_counted(service: Harness) -> None:
    response = service.post({"eventName": "post.shouldCreate", "data": {"count": 12}})
    assert assert_json_answer(response) == {"action": "allow"}
    errors = "receiver_evaluation_errors_total"
    assert service.metric(errors, kind="rule", policy="chat", rule="count-check") == 1
    [logged] = service.decisions()
    [failure] = logged["errors"]
    assert failure["rule"] == "chat/count-check"
    assert "chat.yaml:" in failure["location"]
    assert logged["degraded"] is False


# -- decision log -------------------------------------------------------------------------------


def test_the_decision_log_has_one_line_per_decision_without_content(service: Harness) -> None:
    denied = service.post(message("spam and forbidden things"))
    allowed = service.post(message("555-0100"))
    service.post(message("x"), key="wrong")  # refused: not a decision
    first, second = service.decisions()
    revision = service.client.get("/readyz").json()["revision"]
    assert first["decision_id"] == denied.headers["x-decision-id"]
    assert second["decision_id"] == allowed.headers["x-decision-id"]
    assert set(first) == {
        "decision_id", "time", "platform", "event", "actor", "action", "rule", "modified_by",
        "shadow", "errors", "revision", "latency_ms", "degraded",
    }  # fmt: skip
    assert first["platform"] == "socialplus"
    assert first["event"] == "message.shouldCreate"
    assert first["actor"] == "user_1"
    assert first["action"] == "deny"
    assert first["rule"] == "chat/forbidden-word"
    assert first["shadow"] == [{"rule": "chat/shadow-spam", "action": "deny"}]
    assert first["errors"] == []
    assert first["revision"] == revision
    assert first["degraded"] is False
    assert 0 <= first["latency_ms"] < 5000
    assert abs(first["time"] - time.time()) < 60
    assert second["action"] == "allow"
    assert second["rule"] is None
    assert second["modified_by"] == ["chat/redact-phone"]
    raw = service.log_stream.getvalue()
    for content in (b"spam and forbidden things", b"Blocked", b"would deny", b"555-0100"):
        assert content not in raw


def test_the_decision_log_has_content_only_with_log_content(
    make: Callable[..., Harness],
) -> None:
    harness = make(log_content=True)
    response = harness.post(message("spam and forbidden things"))
    [logged] = harness.decisions()
    assert logged["message"] == f"Blocked (ref {response.headers['x-decision-id']})."
    assert logged["data"] == {"text": "spam and forbidden things", "channelId": "ch_1"}
    assert logged["shadow"] == [
        {
            "rule": "chat/shadow-spam",
            "action": "deny",
            "message": "would deny: spam and forbidden things",
            "changes": None,
        }
    ]


def test_the_decision_log_goes_to_a_file_when_configured(policies: Path, tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    config = ServiceConfig(policies=policies, decision_log=path)
    with TestClient(create_app(config)) as client:
        body = json.dumps(message("forbidden")).encode()
        ids = [client.post(HOOK, content=body).headers["x-decision-id"] for _ in range(3)]
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["decision_id"] for line in lines] == ids


# -- probes, routing, metrics -------------------------------------------------------------------


def test_healthz_and_readyz(service: Harness) -> None:
    assert assert_json_answer(service.client.get("/healthz")) == {"status": "ok"}
    ready = assert_json_answer(service.client.get("/readyz"))
    assert ready["status"] == "ready"
    assert ready["policies"] == ["chat"]
    assert ready["rules"] == 5
    assert isinstance(ready["revision"], str)
    assert len(ready["revision"]) == 12
    assert service.client.head("/healthz").status_code == 200
    assert service.client.head("/readyz").status_code == 200


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_probe_on_the_hook_path_is_200(service: Harness, method: str) -> None:
    response = service.client.request(method, HOOK)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    if method == "GET":
        assert response.json()["status"] == "ok"
    else:
        assert response.content == b""


def test_unknown_paths_and_methods_answer_json(service: Harness) -> None:
    assert assert_json_answer(service.client.get("/nope"), 404) == {"error": "not found"}
    assert assert_json_answer(service.client.post("/hooks/other"), 404) == {"error": "not found"}
    for method in ("PUT", "DELETE", "PATCH"):
        response = service.client.request(method, HOOK)
        assert assert_json_answer(response, 405) == {"error": "method not allowed"}
    assert assert_json_answer(service.client.post("/metrics"), 405) == {
        "error": "method not allowed"
    }


def test_metrics_after_some_traffic(service: Harness) -> None:
    service.post(message("hello"))
    service.post(message("hello again"))
    service.post(message("spam is forbidden"))
    service.post(message("555-0100"))
    service.post({"eventName": "comment.shouldCreate", "data": {}})
    service.post({"eventName": "../../etc/passwd" * 10, "data": {}})
    service.post(message("x"), key=None)
    service.post(message("x"), key="wrong-key")
    service.post(b"{")
    samples = service.metrics()

    def value(name: str, **labels: str) -> float:
        return total(samples, name, **labels)

    requests = "receiver_requests_total"
    created = "message.shouldCreate"
    assert value(requests, event=created, action="allow", status="200") == 3
    assert value(requests, event=created, action="deny", status="200") == 1
    assert value(requests, event="other", action="allow", status="200") == 2
    assert value(requests, action="refused", status="401") == 2
    assert value(requests, action="refused", status="400") == 1
    assert {labels["event"] for n, labels, _ in samples if n == requests} == {
        created,
        "other",
        "none",
    }
    assert value("receiver_request_duration_seconds_count", platform="socialplus") == 9
    assert value("receiver_request_duration_seconds_bucket", le="+Inf") == 9
    assert value("receiver_request_duration_seconds_sum") > 0
    hits = "receiver_rule_hits_total"
    assert value(hits, policy="chat", rule="forbidden-word", action="deny", mode="enforce") == 1
    assert value(hits, policy="chat", rule="shadow-spam", action="deny", mode="shadow") == 1
    assert value(hits, policy="chat", rule="shadow-spam", mode="enforce") == 0
    assert value(hits, policy="chat", rule="redact-phone", action="modify", mode="enforce") == 1
    assert value("receiver_signature_failures_total", reason="missing") == 1
    assert value("receiver_signature_failures_total", reason="mismatch") == 1
    assert value("receiver_bad_requests_total", reason="malformed") == 1
    assert value("receiver_policy_reloads_total", result="ok") == 1
    assert value("receiver_policy_reloads_total", result="failed") == 0
    revision = service.client.get("/readyz").json()["revision"]
    assert value("receiver_policy_revision", revision=revision) == 1
    families = {
        family.name: family.type
        for family in text_string_to_metric_families(service.client.get("/metrics").text)
    }
    assert (
        families.items()
        >= {
            "receiver_requests": "counter",
            "receiver_request_duration_seconds": "histogram",
            "receiver_rule_hits": "counter",
            "receiver_signature_failures": "counter",
            "receiver_bad_requests": "counter",
            "receiver_evaluation_errors": "counter",
            "receiver_degraded_answers": "counter",
            "receiver_policy_reloads": "counter",
            "receiver_policy_revision": "gauge",
        }.items()
    )


# -- reloads ------------------------------------------------------------------------------------


def test_a_broken_reload_keeps_the_old_set_and_is_counted(
    service: Harness, policies: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before = service.client.get("/readyz").json()["revision"]
    (policies / "zz-broken.yaml").write_text(BROKEN_POLICY)
    with caplog.at_level(logging.ERROR, logger="receiver"):
        assert service.app.state.live.reload() is False
    assert "policy reload failed" in caplog.text
    assert "zz-broken.yaml:5:" in caplog.text
    assert service.client.get("/readyz").json()["revision"] == before
    assert service.post(message("forbidden")).json()["action"] == "deny"
    assert service.metric("receiver_policy_reloads_total", result="failed") == 1
    assert service.metric("receiver_policy_revision", revision=before) == 1


def test_a_good_reload_swaps_the_set_and_the_revision(service: Harness, policies: Path) -> None:
    before = service.client.get("/readyz").json()["revision"]
    (policies / "chat.yaml").write_text(CHAT_POLICY.replace('"forbidden"', '"verboten"'))
    assert service.app.state.live.reload() is True
    after = service.client.get("/readyz").json()["revision"]
    assert after != before
    assert service.post(message("forbidden")).json() == {"action": "allow"}
    assert service.post(message("verboten")).json()["action"] == "deny"
    assert service.metric("receiver_policy_reloads_total", result="ok") == 2
    assert service.metric("receiver_policy_revision", revision=after) == 1
    assert service.metric("receiver_policy_revision", revision=before) == 0
    [logged] = service.decisions()[-1:]
    assert logged["revision"] == after


def test_a_policy_dir_with_errors_stops_the_lifespan(policies: Path) -> None:
    (policies / "zz-broken.yaml").write_text(BROKEN_POLICY)
    app = create_app(ServiceConfig(policies=policies), DecisionLog(io.BytesIO()))
    with pytest.raises(PolicyLoadError, match=r"zz-broken\.yaml:5:"), TestClient(app):
        pass
