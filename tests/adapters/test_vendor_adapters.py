"""The Stream and Twilio adapters (receiver/adapters/stream.py, twilio.py) and the platform
table of offline tools (receiver/adapters/platforms.py): payload to event, decision to
answer, and hypothesis over bodies from outside (nothing but a PayloadError escapes).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receiver.adapters import platforms, stream, twilio
from receiver.errors import PayloadError
from receiver.runtime.decision import Decision

STREAM_BODY: dict[str, Any] = {
    "message": {"id": "", "text": "hello", "type": "regular", "attachments": []},
    "user": {"id": "u1", "role": "user"},
    "channel": {"cid": "messaging:fun"},
    "request_info": {"ip": "127.0.0.1"},
}


def test_stream_event_has_text_actor_and_the_rest() -> None:
    event = stream.parse_request(json.dumps(STREAM_BODY).encode())
    assert event.name == "stream.message.new"
    assert event.data["text"] == "hello"
    assert event.data["channel"] == {"cid": "messaging:fun"}
    assert event.actor["userId"] == "u1"
    assert event.actor["role"] == "user"


def test_stream_user_falls_back_to_the_messages_user() -> None:
    body = {"message": {"text": "x", "user": {"id": "u2"}}}
    assert stream.parse_payload(body).actor["userId"] == "u2"


def test_stream_deny_without_a_message_uses_the_default_text() -> None:
    event = stream.parse_payload(STREAM_BODY)
    answer = stream.answer(event, Decision("deny"))
    assert answer["message"]["type"] == "error"
    assert answer["message"]["text"] == stream.DENY_TEXT


def test_stream_modify_keeps_rule_changes_to_the_message() -> None:
    event = stream.parse_payload(STREAM_BODY)
    data = {**event.data, "text": "HELLO", "message": {**STREAM_BODY["message"], "silent": True}}
    decision = Decision("allow", data=data, modified_by=["p/r"])
    answer = stream.answer(event, decision)
    assert answer == {"message": {**STREAM_BODY["message"], "text": "HELLO", "silent": True}}


def test_twilio_event_from_a_form() -> None:
    form = urlencode(
        {"EventType": "onMessageAdd", "Body": "hi", "Author": "a", "Attributes": '{"k": 1}'}
    ).encode()
    event = twilio.parse_request(twilio.parse_form(form))
    assert event.name == "twilio.onMessageAdd"
    assert event.data["text"] == "hi"
    assert event.data["attributes"] == {"k": 1}
    assert event.actor == {"userId": "a", "author": "a"}


def test_twilio_attributes_that_are_not_an_object_read_as_empty() -> None:
    params = [("EventType", "onMessageAdd"), ("Attributes", "[1]")]
    assert twilio.parse_request(params).data["attributes"] == {}


def test_twilio_deny_status_outside_4xx_5xx_becomes_403() -> None:
    event = twilio.parse_request([("EventType", "onMessageAdd")])
    status, _ = twilio.answer(event, Decision("deny", "no", status=200))
    assert status == 403


def test_twilio_too_many_fields_is_a_payload_error() -> None:
    form = "&".join(f"f{k}=v" for k in range(twilio.MAX_FIELDS + 1)).encode()
    with pytest.raises(PayloadError):
        twilio.parse_form(form)


_FORM_TEXT = st.text(alphabet=st.sampled_from("ab=&+%2Fé0 x"), max_size=40) | st.builds(
    urlencode, st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=6)
)


@given(_FORM_TEXT)
@settings(max_examples=500)
def test_the_form_parser_answers_as_parse_qsl(text: str) -> None:
    """parse_form is parse_qsl(keep_blank_values, strict_parsing) written out for speed:
    the same pairs, and a refusal wherever parse_qsl refuses."""
    try:
        expected = parse_qsl(
            text, keep_blank_values=True, strict_parsing=bool(text),
            max_num_fields=twilio.MAX_FIELDS,
        )  # fmt: skip
    except ValueError:
        with pytest.raises(PayloadError):
            twilio.parse_form(text.encode())
        return
    assert twilio.parse_form(text.encode()) == expected


@pytest.mark.parametrize(
    ("payload", "platform"),
    [
        ({"eventName": "message.shouldCreate", "data": {}}, "socialplus"),
        ({"hookType": "pre", "service": "event", "operation": "SEND"}, "braincloud"),
        (STREAM_BODY, "stream"),
        ({"EventType": "onMessageAdd", "Body": "x"}, "twilio"),
        ([], "socialplus"),
    ],
)
def test_platforms_detect_by_shape(payload: Any, platform: str) -> None:
    assert platforms.detect(payload) == platform


def test_platforms_twilio_answer_is_status_and_body() -> None:
    call = platforms.call_of({"EventType": "onMessageAdd", "Body": "x"})
    assert call.answer(Decision("deny", "no")) == {"status": 403, "body": {"message": "no"}}


def test_platforms_twilio_needs_string_values() -> None:
    with pytest.raises(PayloadError):
        platforms.call_of({"EventType": "onMessageAdd", "Index": 3}, "twilio")


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=400))
def test_stream_any_body_is_an_event_or_a_payload_error(body: bytes) -> None:
    try:
        event = stream.parse_request(body)
    except PayloadError:
        return
    assert event.name == stream.EVENT


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(payload=st.dictionaries(
    st.sampled_from(["message", "user", "channel", "request_info", "x"]), json_values
))  # fmt: skip
def test_stream_any_json_object_is_an_event_or_a_payload_error(payload: dict[str, Any]) -> None:
    try:
        event = stream.parse_payload(payload)
    except PayloadError:
        return
    answer = stream.answer(event, Decision("deny", "no"))
    assert answer["message"]["type"] == "error"


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=400))
def test_twilio_any_body_is_an_event_or_a_payload_error(body: bytes) -> None:
    try:
        event = twilio.parse_request(twilio.parse_form(body))
    except PayloadError:
        return
    assert event.name.startswith("twilio.on")
    status, content = twilio.answer(event, Decision("allow"))
    assert (status, content) == (200, b"{}")


@settings(max_examples=200, deadline=None)
@given(
    params=st.dictionaries(
        st.sampled_from(["EventType", "Body", "Author", "Attributes", "ClientIdentity"]),
        st.text(max_size=30),
    )
)
def test_twilio_any_form_round_trips(params: dict[str, str]) -> None:
    form = urlencode(params).encode()
    try:
        event = twilio.parse_request(twilio.parse_form(form))
    except PayloadError:
        assert (
            not str(params.get("EventType", "")).startswith("on")
            or not params["EventType"].isalpha()
        )
        return
    assert event.data["text"] == params.get("Body", "")
