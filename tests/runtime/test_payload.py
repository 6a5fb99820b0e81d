"""receiver/runtime/payload.py: the pre-hook envelope, validated into an Event."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receiver.errors import PayloadError
from receiver.runtime.payload import Event, parse_event

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
ENVELOPE = st.fixed_dictionaries(
    {},
    optional={
        "eventName": JSON | st.sampled_from(["message.shouldCreate", ""]),
        "event": JSON,
        "data": JSON,
        "actor": JSON,
    },
)


def test_a_full_envelope_becomes_an_event_with_its_three_parts() -> None:
    event = parse_event(
        {"eventName": "message.shouldCreate", "data": {"text": "hi"}, "actor": {"userId": "u1"}}
    )
    assert event == Event("message.shouldCreate", {"text": "hi"}, {"userId": "u1"})


def test_the_data_and_actor_are_the_payloads_own_objects_not_copies() -> None:
    data: dict[str, Any] = {"text": "hi"}
    actor: dict[str, Any] = {"userId": "u1"}
    event = parse_event({"eventName": "e", "data": data, "actor": actor})
    assert event.data is data and event.actor is actor


@pytest.mark.parametrize("actor", [None, "absent"])
def test_a_missing_or_null_actor_is_an_empty_map(actor: object) -> None:
    payload: dict[str, Any] = {"eventName": "e", "data": {}}
    if actor is None:
        payload["actor"] = None
    assert parse_event(payload).actor == {}


def test_other_top_level_fields_are_ignored() -> None:
    event = parse_event({"eventName": "e", "data": {}, "extra": [1], "actor": {}})
    assert event == Event("e", {}, {})


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "the payload must be a JSON object, not a list"),
        ("x", "the payload must be a JSON object, not a string"),
        (3, "the payload must be a JSON object, not a number"),
        (2.5, "the payload must be a JSON object, not a number"),
        (True, "the payload must be a JSON object, not a boolean"),
        (None, "the payload must be a JSON object, not missing/null"),
        ({"data": {}}, "the payload needs a string 'eventName'"),
        ({"eventName": "", "data": {}}, "the payload needs a string 'eventName'"),
        ({"eventName": 5, "data": {}}, "the payload needs a string 'eventName'"),
        ({"eventName": "e"}, "'data' must be a JSON object, not missing/null"),
        ({"eventName": "e", "data": [1]}, "'data' must be a JSON object, not a list"),
        ({"eventName": "e", "data": "t"}, "'data' must be a JSON object, not a string"),
        ({"eventName": "e", "data": {}, "actor": 7}, "'actor' must be a JSON object, not a number"),
        ({"eventName": "e", "data": {}, "actor": []}, "'actor' must be a JSON object, not a list"),
        (
            {"eventName": "e", "data": {}, "actor": False},
            "'actor' must be a JSON object, not a boolean",
        ),
    ],
)
def test_an_unusable_payload_is_a_payload_error_saying_what_is_wrong(
    payload: object, message: str
) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_event(payload)
    assert str(caught.value) == message


def test_an_ordinary_webhook_with_event_instead_of_event_name_is_told_so() -> None:
    with pytest.raises(PayloadError, match="has 'event' but pre-hooks send 'eventName'"):
        parse_event({"event": "message.didCreate", "data": {}})


def test_event_next_to_a_bad_event_name_is_the_plain_event_name_error() -> None:
    with pytest.raises(PayloadError) as caught:
        parse_event({"event": "x", "eventName": 3, "data": {}})
    assert str(caught.value) == "the payload needs a string 'eventName'"


def test_a_null_data_is_reported_as_missing_like_an_absent_one() -> None:
    with pytest.raises(PayloadError, match="not missing/null"):
        parse_event({"eventName": "e", "data": None})


@settings(max_examples=300, deadline=None)
@given(JSON | ENVELOPE)
def test_any_json_value_is_an_event_or_a_payload_error_never_another_exception(
    payload: object,
) -> None:
    try:
        event = parse_event(payload)
    except PayloadError as err:
        assert str(err)  # a message saying what is wrong
    else:
        assert isinstance(payload, dict)
        assert isinstance(event.name, str) and event.name
        assert event.data is payload["data"] and isinstance(event.data, dict)
        assert isinstance(event.actor, dict)
