"""Tests for receiver.dsl.paths: field reads that lead nowhere give null, never an error."""

from __future__ import annotations

from typing import Any

import pytest

from receiver.dsl.paths import index, lookup_path, member, text_of


def test_member_reads_map_fields_only() -> None:
    assert member({"a": 1}, "a") == 1
    assert member({"a": 1}, "b") is None
    assert member(["a"], "a") is None
    assert member(None, "a") is None


@pytest.mark.parametrize(
    ("obj", "idx", "expected"),
    [
        ({"a": 1}, "a", 1),
        ({"a": 1}, 0, None),
        (["x", "y"], 1, "y"),
        (["x", "y"], -1, "y"),
        (["x", "y"], 2, None),
        (["x", "y"], -3, None),
        (["x", "y"], True, None),  # a bool is not an index
        ("abc", 0, "a"),
        (None, 0, None),
        (5, 0, None),
    ],
)
def test_index(obj: Any, idx: Any, expected: Any) -> None:
    assert index(obj, idx) == expected


def test_lookup_path_walks_maps_and_lists_and_stops_at_null() -> None:
    data = {"a": {"b": [{"c": 1}]}, "n": None}
    assert lookup_path(data, ("a", "b", 0, "c")) == 1
    assert lookup_path(data, ("a", "x", 0)) is None
    assert lookup_path(data, ("n", "x")) is None
    assert lookup_path(data, ()) is data


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"text": "hi"}, "hi"),
        ({"text": 5, "data": {"text": "inner"}}, "inner"),
        ({"data": {"text": "inner"}}, "inner"),
        ({"data": {"text": 5}}, None),
        ({"data": "x"}, None),
        ({}, None),
    ],
)
def test_text_of(data: dict[str, Any], expected: Any) -> None:
    assert text_of(data) == expected
