"""brainCloud API hooks: the bridge envelope, brainCloud's answers, auth and the endpoint.

``receiver/adapters/braincloud.py`` (envelope -> event, decision -> hook answer, fail-safe
answers), the settings and the
``POST /hooks/braincloud`` endpoint in-process with Starlette's TestClient: every hook
type with every action, the docs/protocols.md B.8 examples against the shipped policies,
401/400/413, fail-safe answers per hook type on internal errors and past the deadline,
metrics and the decision log. The bridge's token or HMAC (``receiver/http/tokens.py``) is
tested in ``tests/http/test_tokens.py``, the bridge script itself in ``test_bridge.py``.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from receiver.adapters import braincloud
from receiver.adapters.braincloud import EnvelopeError, parse_envelope
from receiver.adapters.signatures import Secrets
from receiver.cli import main as cli_main
from receiver.http.app import create_app
from receiver.http.config import ServiceConfig
from receiver.http.settings import SettingsError
from receiver.http.settings import build as build_settings
from receiver.http.tokens import sign
from receiver.observe.decisionlog import DecisionLog
from receiver.runtime.decision import Decision

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "policies"
EXAMPLES = ROOT / "examples" / "braincloud"
HOOK = "/hooks/braincloud"
TOKEN = "bridge-token-current-1234"
OLD_TOKEN = "bridge-token-previous-5678"
TOKENS = Secrets.parse(f"{TOKEN},{OLD_TOKEN}")

# The operation name picks what happens, for every hook type at once.
TEST_POLICY = """\
policy: bc
rules:
  - id: allow-it
    events: braincloud.*.test.ALLOW
    action: allow
  - id: change-it
    events: braincloud.*.test.MODIFY
    action: modify
    set:
      data.message: 'merge(coalesce(data.message, {}), {changed: true})'
  - id: deny-it
    events: braincloud.*.test.DENY
    action: deny
    message: "No ({data.hookType} by {data.profileId})."
  - id: deny-coded
    events: braincloud.*.test.DENY_CODED
    action: deny
    status: 409
    reason_code: 50123
    message: Coded.
  - id: reads-everything
    events: braincloud.*.test.READ_ALL
    when: >-
      data.parms.p == 1 and data.callingMessage.c == 2 and data.errorData.reasonCode == 3
      and user == null and actor.userId == "prof_1" and event == "braincloud.postFail.test.READ_ALL"
      and data.service == "test" and data.operation == "READ_ALL"
    action: deny
    message: read everything
"""

FAILING_POLICY = """\
policy: fragile
on_error: deny
rules:
  - id: breaks
    events: braincloud.*.test.FAIL
    when: len(data.message.n) > 1
    action: deny
    message: never shown
"""


# -- the envelope ---------------------------------------------------------------------------


def envelope(hook_type: str = "pre", operation: str = "ALLOW", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "version": 1,
        "hookType": hook_type,
        "service": "test",
        "operation": operation,
        "profileId": "prof_1",
        "parms": {},
    }
    if hook_type == "pre":
        body["message"] = {"n": 1}
    elif hook_type == "post":
        body["callingMessage"] = {"id": "e1"}
        body["message"] = {"n": 1}
    else:
        body["callingMessage"] = {"id": "e1"}
        body["errorData"] = {"reasonCode": 40332, "errorMessage": "Processing exception"}
    body.update(fields)
    return body


def test_an_envelope_becomes_a_braincloud_event() -> None:
    call = parse_envelope(
        envelope(
            "post",
            "READ",
            service="entity",
            callingMessage={"entityId": "e1"},
            message={"entityType": "contact"},
            parms={"p": 1},
        )
    )
    assert call.hook_type == "post"
    assert call.version == 1
    assert call.event.name == "braincloud.post.entity.READ"
    assert call.event.actor == {"userId": "prof_1"}
    assert call.event.data == {
        "hookType": "post",
        "service": "entity",
        "operation": "READ",
        "profileId": "prof_1",
        "message": {"entityType": "contact"},
        "parms": {"p": 1},
        "callingMessage": {"entityId": "e1"},
        "errorData": None,
    }


def test_the_wrapped_calling_message_is_unwrapped() -> None:
    wrapped = {"service": "entity", "operation": "READ", "data": {"entityId": "e1"}}
    call = parse_envelope(envelope("post", callingMessage=wrapped))
    assert call.event.data["callingMessage"] == {"entityId": "e1"}


@pytest.mark.parametrize(
    "calling",
    [
        {"entityId": "e1", "data": {"x": 1}},  # flat, with a field called data
        {"service": 1, "operation": "READ", "data": {}},  # not the wrapped form
        None,
    ],
)
def test_other_calling_messages_are_kept_as_they_are(calling: Any) -> None:
    call = parse_envelope(envelope("post", callingMessage=calling))
    assert call.event.data["callingMessage"] == calling


def test_version_defaults_to_1_and_profile_and_parms_are_optional() -> None:
    body = envelope()
    for key in ("version", "profileId", "parms", "message"):
        del body[key]
    call = parse_envelope(body)
    assert call.version == 1
    assert call.event.actor == {}
    assert call.event.data["parms"] == {}
    assert call.event.data["message"] == {}  # a pre-hook's parameters are always a map
    assert call.event.data["profileId"] is None


@pytest.mark.parametrize(
    ("given", "canonical"),
    [("pre", "pre"), ("Pre", "pre"), ("POST", "post"), ("PostFail", "postFail"),
     ("post-fail", "postFail"), ("postfail", "postFail")],
)  # fmt: skip
def test_hook_type_spellings_of_the_portal_are_accepted(given: str, canonical: str) -> None:
    call = parse_envelope(envelope(hookType=given))
    assert call.hook_type == canonical
    assert call.event.name == f"braincloud.{canonical}.test.ALLOW"


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"hookType": None}, "'hookType' must be pre, post or postFail (got missing)"),
        ({"hookType": "before"}, "'hookType' must be pre, post or postFail (got 'before')"),
        ({"service": None}, "'service' must be the brainCloud service name"),
        ({"service": ""}, "'service' must be"),
        ({"service": "entity.x"}, "'service' must be"),
        ({"operation": 5}, "'operation' must be the brainCloud operation name"),
        ({"operation": "READ ALL"}, "'operation' must be"),
        ({"parms": [1]}, "'parms' (the hook's parameters) must be an object"),
        ({"message": "text"}, "a pre-hook's 'message' (the call's parameters) must be an object"),
        ({"errorData": "oops"}, "'errorData' must be an object"),
        ({"profileId": 42}, "'profileId' must be a string"),
        ({"version": "1"}, "'version' must be a whole number"),
        ({"version": True}, "'version' must be a whole number"),
    ],
)
def test_bad_envelopes_say_what_is_wrong(changes: dict[str, Any], fragment: str) -> None:
    body = {k: v for k, v in {**envelope(), **changes}.items() if v is not None}
    with pytest.raises(EnvelopeError) as caught:
        parse_envelope(body)
    assert fragment in str(caught.value)
    assert caught.value.reason == "malformed"


@pytest.mark.parametrize("payload", [[], "x", None, 3])
def test_an_envelope_must_be_an_object(payload: Any) -> None:
    with pytest.raises(EnvelopeError, match="must be a JSON object"):
        parse_envelope(payload)


@pytest.mark.parametrize("version", [0, 2, 99])
def test_an_unsupported_version_is_refused_clearly(version: int) -> None:
    with pytest.raises(EnvelopeError) as caught:
        parse_envelope(envelope(version=version))
    assert f"unsupported envelope version {version}" in str(caught.value)
    assert "speaks version 1" in str(caught.value)
    assert caught.value.reason == "version"


def test_post_hook_results_may_be_any_json_value() -> None:
    for result in (None, [1, 2], "text", 3):
        call = parse_envelope(envelope("post", message=result))
        assert call.event.data["message"] == result


# -- answers --------------------------------------------------------------------------------

CHANGED = {"n": 1, "changed": True}


def decide(hook_type: str, action: str, **fields: Any) -> Decision:
    data = {"message": CHANGED}
    if action == "allow":
        return Decision("allow")
    if action == "modify":
        return Decision("allow", data=data, modified_by=["p/r"])
    return Decision("deny", "Nope.", rule="p/r", **fields)


@pytest.mark.parametrize(
    ("hook_type", "action", "fields", "expected"),
    [
        ("pre", "allow", {}, {"status": 200}),
        ("pre", "modify", {}, {"status": 200, "messageOverride": CHANGED}),
        ("pre", "deny", {}, {"status": 403, "reasonCode": 50000, "errorMessage": "Nope."}),
        ("post", "allow", {}, None),
        ("post", "modify", {}, {"status": 200, "data": CHANGED}),
        ("post", "deny", {}, {"status": 403, "reasonCode": 50000, "errorMessage": "Nope."}),
        ("postFail", "allow", {}, None),
        ("postFail", "modify", {}, {"status": 200, "data": CHANGED}),
        ("postFail", "deny", {}, {"status": 403, "reasonCode": 50000, "errorMessage": "Nope."}),
        ("pre", "deny", {"status": 500, "reason_code": 50000},
         {"status": 500, "reasonCode": 50000, "errorMessage": "Nope."}),
        ("post", "deny", {"status": 409, "reason_code": 60001},
         {"status": 409, "reasonCode": 60001, "errorMessage": "Nope."}),
        ("postFail", "deny", {"status": 404},
         {"status": 404, "reasonCode": 50000, "errorMessage": "Nope."}),
        ("pre", "deny", {"by_error": True},
         {"status": 503, "reasonCode": 50001, "errorMessage": "Nope."}),
    ],
)  # fmt: skip
def test_answers_follow_braincloud_return_contract(
    hook_type: braincloud.HookType, action: str, fields: dict[str, Any], expected: Any
) -> None:
    decision = decide(hook_type, action, **fields)
    assert braincloud.answer(hook_type, decision) == expected
    assert json.loads(braincloud.response_body(hook_type, decision)) == expected


def test_a_null_answer_is_the_json_literal_null() -> None:
    assert braincloud.response_body("post", Decision("allow")) == b"null"


@pytest.mark.parametrize(
    ("hook_type", "pre_action", "expected"),
    [
        ("pre", "allow", {"status": 200}),
        ("pre", "deny", {"status": 503, "reasonCode": 50001,
                         "errorMessage": braincloud.FAIL_SAFE_DENY_MESSAGE}),
        ("post", "allow", None),
        ("post", "deny", None),
        ("postFail", "allow", None),
        ("postFail", "deny", None),
    ],
)  # fmt: skip
def test_fail_safe_answers_per_hook_type(
    hook_type: braincloud.HookType, pre_action: braincloud.FailSafe, expected: Any
) -> None:
    safe = braincloud.fail_safe(hook_type, pre_action)
    assert safe.degraded
    assert braincloud.answer(hook_type, safe) == expected


# -- settings -------------------------------------------------------------------------------


def test_the_token_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECEIVER_BRAINCLOUD_TOKEN", f"{TOKEN}, {OLD_TOKEN}")
    config = build_settings({})
    assert config.braincloud_tokens is not None
    assert config.braincloud_tokens.keys == (TOKEN.encode(), OLD_TOKEN.encode())
    assert TOKEN not in repr(config)
    assert config.braincloud_pre_fail_safe == "allow"


def test_the_token_file_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RECEIVER_BRAINCLOUD_TOKEN", "from-env")
    path = tmp_path / "token"
    path.write_text(f"{TOKEN}\n")
    config = build_settings({"braincloud_token_file": path})
    assert config.braincloud_tokens is not None
    assert config.braincloud_tokens.keys == (TOKEN.encode(),)


def test_no_token_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECEIVER_BRAINCLOUD_TOKEN", raising=False)
    assert build_settings({}).braincloud_tokens is None


def test_an_empty_or_missing_token_file_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(SettingsError, match="is empty"):
        build_settings({"braincloud_token_file": empty})
    with pytest.raises(SettingsError, match="brainCloud token file"):
        build_settings({"braincloud_token_file": tmp_path / "missing"})


def test_the_config_file_sets_the_braincloud_settings(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(TOKEN)
    config_file = tmp_path / "receiver.yaml"
    config_file.write_text("braincloud_token_file: token\nbraincloud_pre_fail_safe: deny\n")
    config = build_settings({"config": config_file})
    assert config.braincloud_pre_fail_safe == "deny"
    assert config.braincloud_tokens is not None
    assert config.braincloud_tokens.keys == (TOKEN.encode(),)
    # A flag wins over the file.
    flags = {"config": config_file, "braincloud_pre_fail_safe": "allow"}
    assert build_settings(flags).braincloud_pre_fail_safe == "allow"


def test_a_bad_pre_fail_safe_is_an_error(tmp_path: Path) -> None:
    config_file = tmp_path / "receiver.yaml"
    config_file.write_text("braincloud_pre_fail_safe: maybe\n")
    with pytest.raises(SettingsError, match="braincloud_pre_fail_safe must be allow or deny"):
        build_settings({"config": config_file})


def test_serve_has_the_braincloud_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli_main(["serve", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--braincloud-token-file FILE" in out
    assert "--braincloud-pre-fail-safe {allow,deny}" in out
    assert "$RECEIVER_BRAINCLOUD_TOKEN" in out


# -- the endpoint ---------------------------------------------------------------------------


@dataclass
class Harness:
    client: TestClient
    log_stream: io.BytesIO
    log: DecisionLog

    def post(
        self, payload: Any, *, token: str | None = TOKEN, headers: dict[str, str] | None = None
    ) -> Any:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        sent = {"content-type": "application/json", **(headers or {})}
        if token is not None:
            sent["x-receiver-token"] = token
        return self.client.post(HOOK, content=body, headers=sent)

    def decisions(self) -> list[dict[str, Any]]:
        assert self.log.flush(5)  # the writer thread has written them
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
def policies(tmp_path: Path) -> Path:
    directory = tmp_path / "policies"
    directory.mkdir()
    (directory / "bc.yaml").write_text(TEST_POLICY)
    (directory / "fragile.yaml").write_text(FAILING_POLICY)
    return directory


@pytest.fixture
def make(policies: Path) -> Iterator[Callable[..., Harness]]:
    with contextlib.ExitStack() as stack:

        def start(*, log_content: bool = False, **overrides: Any) -> Harness:
            settings: dict[str, Any] = {
                "policies": policies,
                "braincloud_tokens": Secrets.parse(f"{TOKEN},{OLD_TOKEN}"),
                **overrides,
            }
            stream = io.BytesIO()
            log = DecisionLog(stream, log_content)
            app = create_app(ServiceConfig(**settings), log)
            return Harness(stack.enter_context(TestClient(app)), stream, log)

        yield start


@pytest.fixture
def service(make: Callable[..., Harness]) -> Harness:
    return make()


def answer_of(response: Any) -> Any:
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert len(response.headers["x-decision-id"]) == 20
    return response.json()


MODIFIED_PRE = {"n": 1, "changed": True}
NO = "No ({hook} by prof_1)."


@pytest.mark.parametrize(
    ("hook_type", "operation", "expected"),
    [
        ("pre", "ALLOW", {"status": 200}),
        ("pre", "NONE", {"status": 200}),
        ("pre", "MODIFY", {"status": 200, "messageOverride": MODIFIED_PRE}),
        ("pre", "DENY", {"status": 403, "reasonCode": 50000, "errorMessage": NO}),
        ("pre", "DENY_CODED", {"status": 409, "reasonCode": 50123, "errorMessage": "Coded."}),
        ("pre", "FAIL", {"status": 503, "reasonCode": 50001,
                         "errorMessage": "This action could not be checked right now. "
                                         "Please try again later."}),
        ("post", "ALLOW", None),
        ("post", "NONE", None),
        ("post", "MODIFY", {"status": 200, "data": MODIFIED_PRE}),
        ("post", "DENY", {"status": 403, "reasonCode": 50000, "errorMessage": NO}),
        ("post", "DENY_CODED", {"status": 409, "reasonCode": 50123, "errorMessage": "Coded."}),
        ("postFail", "ALLOW", None),
        ("postFail", "NONE", None),
        ("postFail", "MODIFY", {"status": 200, "data": {"changed": True}}),
        ("postFail", "DENY", {"status": 403, "reasonCode": 50000, "errorMessage": NO}),
        ("postFail", "DENY_CODED", {"status": 409, "reasonCode": 50123, "errorMessage": "Coded."}),
    ],
)  # fmt: skip
def test_every_hook_type_with_every_action(
    service: Harness, hook_type: str, operation: str, expected: Any
) -> None:
    if isinstance(expected, dict) and expected.get("errorMessage") == NO:
        expected = {**expected, "errorMessage": NO.format(hook=hook_type)}
    response = service.post(envelope(hook_type, operation))
    assert answer_of(response) == expected
    if expected is None:
        assert response.content == b"null"


def test_conditions_read_every_part_of_the_envelope(service: Harness) -> None:
    body = envelope(
        "postFail",
        "READ_ALL",
        parms={"p": 1},
        callingMessage={"service": "test", "operation": "READ_ALL", "data": {"c": 2}},
        errorData={"reasonCode": 3, "errorMessage": "x"},
    )
    assert answer_of(service.post(body))["errorMessage"] == "read everything"


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_the_shipped_examples_answer_as_receiver_eval_does(
    make: Callable[..., Harness], name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The exact answers are pinned in test_shipped_policies.py (``receiver eval``)."""
    assert cli_main(["eval", str(SHIPPED), str(EXAMPLES / name)]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    harness = make(policies=SHIPPED)
    body = (EXAMPLES / name).read_bytes()
    answered = answer_of(harness.post(body))
    assert answered == evaluated
    assert answered is not None and answered != {"status": 200}  # each example does something


def test_protocols_b8_post_hook_unchanged_result_is_null(make: Callable[..., Harness]) -> None:
    harness = make(policies=SHIPPED)
    body = json.loads((EXAMPLES / "post-entity-read-contact.json").read_text())
    body["message"]["entityType"] = "inventory"
    response = harness.post(body)
    assert answer_of(response) is None
    assert response.content == b"null"


def test_protocols_b8_post_fail_other_errors_go_through(make: Callable[..., Harness]) -> None:
    harness = make(policies=SHIPPED)
    body = json.loads((EXAMPLES / "postfail-entity-update-missing.json").read_text())
    body["errorData"] = {"reasonCode": 40344, "errorMessage": "version mismatch"}
    assert answer_of(harness.post(body)) is None


@pytest.mark.parametrize(
    ("token", "headers", "reason"),
    [
        (None, {}, "missing"),
        ("wrong-token", {}, "mismatch"),
        (None, {"x-receiver-signature": "zz"}, "malformed"),
    ],
)
def test_without_the_right_token_the_hook_is_refused_and_not_evaluated(
    service: Harness, token: str | None, headers: dict[str, str], reason: str
) -> None:
    response = service.post(envelope(operation="DENY"), token=token, headers=headers)
    assert response.status_code == 401
    assert "error" in response.json()
    assert "x-decision-id" not in response.headers
    assert service.decisions() == []
    failures = "receiver_signature_failures_total"
    assert service.metric(failures, platform="braincloud", reason=reason) == 1


def test_the_previous_token_and_a_signature_are_accepted(service: Harness) -> None:
    assert answer_of(service.post(envelope(), token=OLD_TOKEN)) == {"status": 200}
    body = json.dumps(envelope(operation="DENY_CODED")).encode()
    signature = {"x-receiver-signature": sign(TOKEN.encode(), body)}
    assert answer_of(service.post(body, token=None, headers=signature))["status"] == 409


def test_the_social_plus_secret_is_not_a_bridge_token(make: Callable[..., Harness]) -> None:
    harness = make(secrets=Secrets.parse("sp-secret"))
    assert harness.post(envelope(), token="sp-secret").status_code == 401


@pytest.mark.parametrize(
    ("body", "fragment", "reason"),
    [
        (b"{not json", "invalid JSON", "malformed"),
        (json.dumps(envelope(hookType="around")).encode(), "'hookType' must be", "malformed"),
        (json.dumps({"eventName": "message.shouldCreate", "data": {}}).encode(),
         "'hookType' must be", "malformed"),
        (json.dumps(envelope(version=2)).encode(), "unsupported envelope version 2", "version"),
    ],
)  # fmt: skip
def test_bad_envelopes_get_400(service: Harness, body: bytes, fragment: str, reason: str) -> None:
    response = service.post(body)
    assert response.status_code == 400
    assert fragment in response.json()["error"]
    assert service.metric("receiver_bad_requests_total", platform="braincloud", reason=reason) == 1
    assert service.decisions() == []


def test_a_body_over_the_limit_gets_413(make: Callable[..., Harness]) -> None:
    harness = make(max_body=512)
    response = harness.post(envelope(message={"pad": "x" * 600}))
    assert response.status_code == 413
    assert harness.metric("receiver_bad_requests_total", platform="braincloud") == 1


def test_without_a_token_loopback_accepts_unauthenticated_hooks(
    make: Callable[..., Harness],
) -> None:
    harness = make(braincloud_tokens=None, host="127.0.0.1")
    assert answer_of(harness.post(envelope(), token=None)) == {"status": 200}


def test_without_a_token_off_loopback_the_endpoint_is_off(make: Callable[..., Harness]) -> None:
    harness = make(
        braincloud_tokens=None, host="0.0.0.0", secrets=Secrets.parse("s"), public_metrics=True
    )  # public metrics: this test reads them without a metrics token
    response = harness.post(envelope(), token=None)
    assert response.status_code == 401
    assert "brainCloud hooks are off" in response.json()["error"]
    failures = "receiver_signature_failures_total"
    assert harness.metric(failures, platform="braincloud", reason="not-configured") == 1


def test_without_a_secret_off_loopback_social_plus_is_off(make: Callable[..., Harness]) -> None:
    harness = make(host="0.0.0.0")
    event = {"eventName": "message.shouldCreate", "data": {"text": "hi"}}
    response = harness.client.post("/hooks/socialplus", json=event)
    assert response.status_code == 401
    assert "social.plus hooks are off" in response.json()["error"]
    assert answer_of(harness.post(envelope())) == {"status": 200}


def test_the_probe_answers_get_and_head(service: Harness) -> None:
    assert service.client.get(HOOK).json()["status"] == "ok"
    assert service.client.head(HOOK).status_code == 200


# -- fail-safe answers ----------------------------------------------------------------------


def explode(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("injected failure for the test")


FAIL_SAFE_CASES = [
    ("pre", "allow", {"status": 200}),
    ("pre", "deny", {"status": 503, "reasonCode": 50001,
                     "errorMessage": braincloud.FAIL_SAFE_DENY_MESSAGE}),
    ("post", "deny", None),
    ("postFail", "deny", None),
]  # fmt: skip


@pytest.mark.parametrize(("hook_type", "pre_fail_safe", "expected"), FAIL_SAFE_CASES)
def test_an_internal_error_answers_the_fail_safe_of_the_hook_type(
    make: Callable[..., Harness],
    monkeypatch: pytest.MonkeyPatch,
    hook_type: str,
    pre_fail_safe: str,
    expected: Any,
) -> None:
    harness = make(braincloud_pre_fail_safe=pre_fail_safe)
    monkeypatch.setattr("receiver.runtime.policyset.PolicySet.compiled", explode)
    assert answer_of(harness.post(envelope(hook_type, "MODIFY"))) == expected
    [logged] = harness.decisions()
    assert logged["degraded_reason"] == "error"
    assert logged["platform"] == "braincloud"
    degraded = "receiver_degraded_answers_total"
    assert harness.metric(degraded, platform="braincloud", reason="error") == 1


@pytest.mark.parametrize(("hook_type", "pre_fail_safe", "expected"), FAIL_SAFE_CASES)
def test_past_the_deadline_the_answer_is_the_fail_safe_of_the_hook_type(
    make: Callable[..., Harness],
    monkeypatch: pytest.MonkeyPatch,
    hook_type: str,
    pre_fail_safe: str,
    expected: Any,
) -> None:
    harness = make(braincloud_pre_fail_safe=pre_fail_safe, deadline_ms=50)
    monkeypatch.setattr("receiver.runtime.evaluator.perf_counter", lambda: 1e12)  # always too late
    assert answer_of(harness.post(envelope(hook_type, "DENY_CODED"))) == expected
    [logged] = harness.decisions()
    assert logged["degraded_reason"] == "deadline"
    assert logged["rule"] is None


# -- metrics and the decision log -----------------------------------------------------------


def test_metrics_count_braincloud_hooks_by_hook_type(service: Harness) -> None:
    service.post(envelope("pre", "DENY"))
    service.post(envelope("post", "ALLOW"))
    service.post(envelope("post", "MODIFY"))
    requests = "receiver_requests_total"
    assert service.metric(requests, platform="braincloud", event="braincloud.pre",
                          action="deny", status="200") == 1  # fmt: skip
    assert service.metric(requests, platform="braincloud", event="braincloud.post",
                          action="allow", status="200") == 2  # fmt: skip
    assert service.metric("receiver_rule_hits_total", policy="bc", rule="change-it") == 1


def test_the_decision_log_names_the_hook(service: Harness) -> None:
    response = service.post(envelope("post", "DENY"))
    [logged] = service.decisions()
    assert logged["decision_id"] == response.headers["x-decision-id"]
    assert logged["platform"] == "braincloud"
    assert logged["event"] == "braincloud.post.test.DENY"
    assert logged["actor"] == "prof_1"
    assert logged["action"] == "deny"
    assert logged["rule"] == "bc/deny-it"
    assert "data" not in logged


def test_eval_refuses_a_bad_envelope(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(envelope(version=7)))
    assert cli_main(["eval", str(SHIPPED), str(path)]) == 2
    assert "unsupported envelope version 7" in capsys.readouterr().err
