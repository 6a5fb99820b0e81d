"""receiver/runtime/inputs.py: the user sources a decision takes, and their sentinels."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from receiver.runtime.inputs import LOOKUP_FAILED, MISS, look_up


def test_without_a_source_every_user_is_unknown() -> None:
    assert look_up(None, "u1") is None


def test_a_user_the_source_does_not_know_is_none() -> None:
    assert look_up(lambda user_id: None, "u1") is None


def test_a_failed_lookup_is_passed_on_as_the_sentinel() -> None:
    assert look_up(lambda user_id: LOOKUP_FAILED, "u1") is LOOKUP_FAILED


def test_the_source_is_asked_for_the_given_user_id() -> None:
    asked: list[str] = []

    def source(user_id: str) -> Mapping[str, Any]:
        asked.append(user_id)
        return {"id": user_id}

    assert look_up(source, "u7") == {"id": "u7"}
    assert asked == ["u7"]


def test_a_record_is_a_copy_so_rules_cannot_change_the_sources() -> None:
    record = {"roles": "member"}
    found = look_up(lambda user_id: record, "u1")
    assert found == record and found is not record
    found["roles"] = "admin"
    assert record == {"roles": "member"}


def test_a_read_only_mapping_becomes_a_plain_dict() -> None:
    found = look_up(lambda user_id: MappingProxyType({"a": 1}), "u1")
    assert type(found) is dict and found == {"a": 1}


def test_the_sentinels_are_distinct_and_say_their_names() -> None:
    assert LOOKUP_FAILED is not MISS
    assert repr(LOOKUP_FAILED) == "LOOKUP_FAILED" and repr(MISS) == "MISS"
