"""Hostile bodies on every hook route, in process: exactly one outcome each, never a 5xx.

The three hook routes (``/hooks/socialplus``, ``/hooks/socialplus/events``,
``/hooks/braincloud``) of the real app (``receiver.http.app.create_app``, lifespan
included, Starlette's TestClient) with the shipped policies plus a policy that walks
data deeply (equality, ``contains``, a change). Each request must end in exactly one
outcome: a decided request (one decision-log line, counted with status 200; on the
events route, counted with status 200 and no line), or a refusal (a counted 4xx, no
line). Nothing may escape as an exception: no 5xx, no internal evaluation error, no
traceback from the endpoint's last-resort handler.

First a table of the bodies issue 18 named (huge integers, deep nesting, NaN, bad
UTF-8, ...) on each route, then a hypothesis property over generated JSON-like
bodies (valid JSON, near-JSON, huge integers, deep nesting, odd Unicode), signed,
unsigned and wrongly signed.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from receiver.adapters.signatures import Secrets, sign_base64, sign_hex
from receiver.http.app import create_app
from receiver.http.config import ServiceConfig
from receiver.http.tokens import sign as sign_bridge
from receiver.observe.decisionlog import DecisionLog
from receiver.text.jsoncodec import MAX_DEPTH

ROOT = Path(__file__).resolve().parents[2]
SECRET = "inputs-secret-0001"
TOKEN = "inputs-token-0002"
PRE_HOOK = "/hooks/socialplus"
EVENTS = "/hooks/socialplus/events"
BRAINCLOUD = "/hooks/braincloud"
ROUTES = (PRE_HOOK, EVENTS, BRAINCLOUD)
PLATFORM = {PRE_HOOK: "socialplus", EVENTS: "socialplus", BRAINCLOUD: "braincloud"}

# Rules that walk whatever data arrives: deep equality, membership, text of any value,
# a change written back into the data, on every social.plus and brainCloud event.
DEEP_POLICY = """\
policy: deep-walk
on_error: skip
rules:
  - id: equal-halves
    events: ["*", "braincloud.*"]
    when: data.a == data.b and data.meta != null
    action: deny
    message: "same halves"
  - id: member
    events: ["*", "braincloud.*"]
    when: data.meta contains "needle" or "needle" in data
    action: deny
    message: "needle"
  - id: mark
    events: ["message.shouldCreate", "braincloud.pre.*"]
    when: data.meta != null
    action: modify
    set:
      data.checked: true
"""


@dataclass
class Hooks:
    client: TestClient
    log: io.BytesIO
    decision_log: DecisionLog

    def lines(self) -> int:
        self.decision_log.flush(5)  # its writer thread has written everything queued
        return len(self.log.getvalue().splitlines())

    def samples(self) -> list[tuple[str, dict[str, str], float]]:
        text = self.client.get("/metrics").text
        return [
            (s.name, s.labels, s.value)
            for family in text_string_to_metric_families(text)
            for s in family.samples
        ]


def total(samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    return sum(
        value
        for sample, have, value in samples
        if sample == name and all(have.get(k) == v for k, v in labels.items())
    )


@pytest.fixture(scope="module")
def hooks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hooks]:
    directory = tmp_path_factory.mktemp("policies")
    for path in (ROOT / "policies").glob("*.yaml"):
        if not path.name.endswith(".test.yaml"):
            shutil.copy(path, directory / path.name)
    (directory / "deep-walk.yaml").write_text(DEEP_POLICY)
    config = ServiceConfig(
        policies=directory,
        secrets=Secrets.parse(SECRET),
        braincloud_tokens=Secrets.parse(TOKEN),
    )
    stream = io.BytesIO()
    decision_log = DecisionLog(stream, log_content=True)  # content: more to write
    app = create_app(config, decision_log)
    with TestClient(app, raise_server_exceptions=True) as client:
        yield Hooks(client, stream, decision_log)


def headers_for(route: str, body: bytes, how: str) -> dict[str, str]:
    """The credential headers: ``signed``, ``unsigned`` or ``wrong`` (a forged signature)."""
    if how == "unsigned":
        return {}
    if route == BRAINCLOUD:
        if how == "signed":
            return {"x-receiver-token": TOKEN}
        return {"x-receiver-signature": sign_bridge(b"not-the-token", body)}
    key = SECRET.encode() if how == "signed" else b"forger"
    return {"x-amity-signature": sign_base64(key, body), "x-signature": sign_hex(key, body)}


def post_once(
    hooks: Hooks, caplog: pytest.LogCaptureFixture, route: str, body: bytes, how: str
) -> int:
    """Post ``body`` and check that it got exactly one outcome; its status."""
    before, lines = hooks.samples(), hooks.lines()
    caplog.clear()
    response = hooks.client.post(route, content=body, headers=headers_for(route, body, how))
    after = hooks.samples()
    status = response.status_code
    assert status < 500, response.text
    assert response.headers["content-type"] == "application/json"
    response.json()  # the answer is JSON, whatever came in

    def grew(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert grew("receiver_requests_total") == 1
    assert grew("receiver_requests_total", status=str(status)) == 1
    assert grew("receiver_evaluation_errors_total", kind="internal") == 0
    assert not [r for r in caplog.records if r.name == "receiver.http.endpoint"]
    new_lines = hooks.lines() - lines
    if status >= 400:
        assert new_lines == 0
        refusals = grew("receiver_bad_requests_total") + grew("receiver_signature_failures_total")
        assert refusals == 1
        assert "error" in response.json()
        if how == "signed":
            assert status in (400, 413)
        else:
            assert status == 401
    elif route == EVENTS:
        assert status == 200
        assert new_lines == 0
        assert how == "signed"
    else:
        assert status == 200
        assert how == "signed"
        assert new_lines == 1
        assert "x-decision-id" in response.headers
        assert grew("receiver_requests_total", platform=PLATFORM[route]) == 1
    return status


# -- the bodies named in issue 18, on every route ---------------------------------------------


def social(data: Any) -> bytes:
    return b'{"eventName":"message.shouldCreate","actor":{"userId":"u1"},"data":' + data + b"}"


def bridge(message: bytes) -> bytes:
    return (
        b'{"version":1,"hookType":"pre","service":"entity","operation":"CREATE",'
        b'"profileId":"p1","message":' + message + b"}"
    )


def webhook(data: bytes) -> bytes:
    return b'{"event":"user.didUpdate","data":' + data + b"}"


WRAP = {PRE_HOOK: social, BRAINCLOUD: bridge, EVENTS: webhook}


def nested(depth: int) -> bytes:
    """``depth`` objects and arrays inside each other, alternating, around a 1."""
    opens = b"".join(b"[" if level % 2 else b'{"k":' for level in range(depth))
    closes = b"".join(b"]" if level % 2 else b"}" for level in reversed(range(depth)))
    return opens + b"1" + closes


REFUSED = {
    "a 4,301-digit integer": (b'{"n":' + b"9" * 4301 + b"}", "more than 4300 digits"),
    "a 100,000-digit integer": (b"[" + b"7" * 100_000 + b"]", "more than 4300 digits"),
    "nesting past the limit": (nested(MAX_DEPTH), "nested too deeply"),
    "nesting past orjson's limit": (nested(2000), "nested too deeply"),
    "NaN": (b'{"n":NaN}', "NaN is not a JSON number"),
    "Infinity": (b'{"n":-Infinity}', "Infinity is not a JSON number"),
    "a number beyond a double": (b'{"n":1e999}', "beyond the range of a double"),
    "bytes that are not UTF-8": (b'{"t":"\xc3\x28"}', "not UTF-8"),
    "a truncated document": (b'{"t":"abc', "invalid JSON"),
}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_signed_body_the_parser_refuses_is_a_counted_400_with_a_clear_error(
    hooks: Hooks, caplog: pytest.LogCaptureFixture, route: str, case: str
) -> None:
    inner, says = REFUSED[case]
    body = WRAP[route](inner)
    before = hooks.samples()
    assert post_once(hooks, caplog, route, body, "signed") == 400
    response = hooks.client.post(route, content=body, headers=headers_for(route, body, "signed"))
    assert says in response.json()["error"]
    platform = PLATFORM[route]
    grown = total(hooks.samples(), "receiver_bad_requests_total", platform=platform) - total(
        before, "receiver_bad_requests_total", platform=platform
    )
    assert grown == 2


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    "inner",
    [
        nested(MAX_DEPTH - 3),  # the deepest the envelopes leave room for: decided
        b'{"meta":' + nested(MAX_DEPTH - 5) + b',"a":' + nested(60) + b',"b":' + nested(60) + b"}",
        b'{"text":"' + b"\\ud800" * 1000 + b'","meta":["needle"]}',  # lone surrogates
        b'{"text":' + json.dumps("\u202e\U0001f600\u0000\ufeff").encode() + b"}",
        '{"text":"\u202e\U0001f600\ufeff\u0301"}'.encode(),  # the same, as raw UTF-8
        b'{"n":' + b"9" * 4300 + b',"meta":[' + b"1" * 40 + b"]}",  # at the digit limit
        b'{"text":"' + b"x" * 200_000 + b'"}',  # a long text, under the body limit
        b'{"meta":[' + b",".join([b'{"a":[1,{"b":null}]}'] * 3000) + b"]}",  # wide, not deep
    ],
    ids=["deep", "deep-equal", "surrogates", "escapes", "utf-8", "4300-digits", "long", "wide"],
)
def test_bodies_at_the_limits_are_decided_with_one_decision_line(
    hooks: Hooks, caplog: pytest.LogCaptureFixture, route: str, inner: bytes
) -> None:
    assert post_once(hooks, caplog, route, WRAP[route](inner), "signed") == 200


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    "body",
    [b"[]", b"null", b'"text"', b"7", b"{}", b'{"data":[]}', b'{"eventName":{},"event":[]}'],
)
def test_json_that_is_not_an_envelope_is_a_counted_400(
    hooks: Hooks, caplog: pytest.LogCaptureFixture, route: str, body: bytes
) -> None:
    assert post_once(hooks, caplog, route, body, "signed") == 400


# -- generated bodies -------------------------------------------------------------------------

EVENT_NAMES = st.sampled_from(
    ["message.shouldCreate", "channel.shouldJoin", "post.shouldCreate", "user.didUpdate", "x"]
)
odd_text = st.text(
    alphabet=st.characters(codec="utf-8") | st.sampled_from(["\u202e", "\ufeff", "\x00", "é"]),
    max_size=30,
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | odd_text
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4),
    max_leaves=25,
)


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    """A JSON document shaped like one of the three routes' envelopes, or not."""
    data = draw(st.dictionaries(st.sampled_from(["text", "meta", "a", "b", "users"]), values))
    shape = draw(st.sampled_from(["social", "bridge", "webhook", "any"]))
    if shape == "social":
        doc: Any = {"eventName": draw(EVENT_NAMES), "data": data, "actor": {"userId": "u1"}}
    elif shape == "bridge":
        doc = {
            "version": draw(st.sampled_from([1, 2, "1", None])),
            "hookType": draw(st.sampled_from(["pre", "post", "postFail", "nope"])),
            "service": draw(st.sampled_from(["entity", "x y"])),
            "operation": "CREATE",
            "profileId": draw(st.none() | st.text(max_size=5) | st.integers()),
            "message": draw(values),
            "parms": draw(values),
            "callingMessage": draw(values),
            "errorData": draw(values),
        }
    elif shape == "webhook":
        doc = {"event": draw(EVENT_NAMES), "data": data}
    else:
        doc = draw(values)
    return json.dumps(doc, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


@st.composite
def hostile(draw: st.DrawFn) -> bytes:
    """A document, then perhaps spoiled: cut, a byte changed, a huge number, deep nesting,
    odd Unicode or a literal that is not JSON spliced in where a value was."""
    body = draw(documents())
    how = draw(
        st.sampled_from(["as-is", "cut", "byte", "digits", "deep", "unicode", "literal", "raw"])
    )
    if how == "as-is":
        return body
    if how == "raw":
        return draw(st.binary(max_size=200))
    at = draw(st.integers(0, len(body)))
    if how == "cut":
        return body[:at]
    if how == "byte":
        return body[:at] + bytes([draw(st.integers(0, 255))]) + body[at + 1 :]
    # Splice a value in place of a value: after a ':' if there is one, else the whole body.
    colon = body.find(b":", at)
    if how == "digits":
        value = b"9" * draw(st.sampled_from([19, 40, 4300, 4301, 20_000]))
    elif how == "deep":
        value = nested(draw(st.sampled_from([10, MAX_DEPTH - 6, MAX_DEPTH, 1100, 3000])))
    elif how == "unicode":
        value = draw(
            st.sampled_from(
                [b'"\\ud800"', b'"\\udc00\\ud800"', b'"\xed\xa0\x80"', b'"\xc0\xaf"', b'"\xff"']
            )
        )
    else:
        value = draw(st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"1e999", b"undefined"]))
    if colon < 0:
        return value
    return body[: colon + 1] + value + b"," + b'"z":' + body[colon + 1 :]


@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=hostile(),
    route=st.sampled_from(ROUTES),
    how=st.sampled_from(["signed", "signed", "unsigned", "wrong"]),
)
def test_any_body_on_any_route_gets_one_outcome_and_never_a_5xx(
    hooks: Hooks, caplog: pytest.LogCaptureFixture, body: bytes, route: str, how: str
) -> None:
    with caplog.at_level(logging.WARNING):
        post_once(hooks, caplog, route, body, how)
