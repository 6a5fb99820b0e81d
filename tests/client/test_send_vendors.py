"""receiver/client/send.py for Stream and Twilio: what ``receiver send --platform`` reads
and signs (the posting itself is tested end to end in tests/e2e/test_vendors_e2e.py)."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from receiver.adapters.vendorsigs import sign_twilio
from receiver.client.send import form_params


def test_a_form_body_is_read_as_its_pairs() -> None:
    assert form_params("EventType=onMessageAdd&Body=hi+there%21\n") == [
        ("EventType", "onMessageAdd"),
        ("Body", "hi there!"),
    ]


def test_a_json_object_is_read_as_parameters_non_strings_as_json() -> None:
    params = form_params('{"EventType": "onMessageAdd", "Index": 3, "Media": [1]}')
    assert params == [("EventType", "onMessageAdd"), ("Index", "3"), ("Media", "[1]")]


@pytest.mark.parametrize("text", ["[1, 2]", "no equals sign", '{"a": '])
def test_anything_else_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        form_params(text)


def test_what_send_signs_twilio_validates() -> None:
    params = form_params("EventType=onMessageAdd&Body=hello")
    url = "https://mod.example.com/hooks/twilio"
    signature = sign_twilio(b"token", url, params)
    assert RequestValidator("token").validate(url, dict(params), signature)
