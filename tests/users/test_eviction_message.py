"""receiver/users/eviction_message.py: the eviction message, which anyone with access to
the Redis can publish: what encode writes decodes to the same ids, and anything else is
a MessageError (never another exception)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.users.eviction_message import (
    MAX_ID_LENGTH,
    MAX_MESSAGE_BYTES,
    MAX_USERS,
    Eviction,
    MessageError,
    decode,
    encode,
)

ids = st.text(min_size=1, max_size=MAX_ID_LENGTH)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(users=st.lists(ids, max_size=3 * MAX_USERS), at=st.floats(0, 4e12), sender=ids)
def test_what_encode_writes_decodes_to_the_same_ids_in_bounded_messages(
    users: list[str], at: float, sender: str
) -> None:
    sender = sender[:64]
    messages = list(encode(users, at, sender))
    assert len(messages) == -(-len(users) // MAX_USERS)
    decoded = [decode(message) for message in messages]
    assert [user for eviction in decoded for user in eviction.users] == users
    for message, eviction in zip(messages, decoded, strict=True):
        assert len(message) <= MAX_MESSAGE_BYTES
        assert 0 < len(eviction.users) <= MAX_USERS
        assert eviction.sender == sender
        assert abs(eviction.at_ms - at) <= 0.001


def test_ids_too_long_to_broadcast_are_left_out() -> None:
    too_long = "x" * (MAX_ID_LENGTH + 1)
    assert [decode(m).users for m in encode(["u1", too_long, "", "u2"], 1.0, "s")] == [("u1", "u2")]
    assert list(encode([too_long], 1.0, "s")) == []


@given(st.binary(max_size=2000))
def test_any_bytes_decode_or_raise_message_error(data: bytes) -> None:
    with contextlib.suppress(MessageError):
        assert isinstance(decode(data), Eviction)


@given(json_values)
def test_any_json_value_decodes_or_raises_message_error(value: Any) -> None:
    with contextlib.suppress(MessageError):
        decode(json.dumps(value).encode())


GOOD = {"v": 1, "users": ["u1"], "at": 1.5, "from": "s"}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"v": 2}, "version"),
        ({"users": []}, "users"),
        ({"users": "u1"}, "users"),
        ({"users": ["u1"] * (MAX_USERS + 1)}, "users"),
        ({"users": [1]}, "users"),
        ({"users": ["x" * (MAX_ID_LENGTH + 1)]}, "users"),
        ({"at": "1"}, "'at'"),
        ({"at": True}, "'at'"),
        ({"at": -1}, "'at'"),
        ({"at": 10**400}, "'at'"),
        ({"from": ""}, "'from'"),
        ({"from": None}, "'from'"),
    ],
)
def test_a_malformed_message_says_what_is_wrong(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(MessageError, match=reason):
        decode(json.dumps({**GOOD, **change}).encode())


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not JSON"),
        (b"[1]", "object"),
        (b'{"v": 1, "users": ["' + b"u" * MAX_MESSAGE_BYTES + b'"]}', "larger"),
        (b'{"v": 1, "at": NaN}', "not JSON"),
    ],
)
def test_bytes_that_are_no_message_are_refused(data: bytes, reason: str) -> None:
    with pytest.raises(MessageError, match=reason):
        decode(data)
