"""receiver/runtime/changes.py: a modify rule's set and unset applied to the event data."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receiver.check.model import Target
from receiver.dsl.values import Duration, Timestamp
from receiver.errors import EvaluationError
from receiver.runtime.changes import apply, text_paths
from receiver.text.source import SourceFile

SPAN = SourceFile("<test>", "x").span(0, 1)


def data(*path: str | int) -> Target:
    return Target("data", tuple(path), SPAN)


TEXT = Target("text", (), SPAN)


def test_set_writes_a_top_level_field() -> None:
    assert apply({"a": 1}, [(data("b"), 2)], ()) == {"a": 1, "b": 2}


def test_set_replaces_an_existing_field() -> None:
    assert apply({"a": 1}, [(data("a"), "x")], ()) == {"a": "x"}


def test_set_of_a_new_nested_path_creates_the_maps_on_the_way() -> None:
    assert apply({}, [(data("a", "b", "c"), 1)], ()) == {"a": {"b": {"c": 1}}}


def test_set_keeps_the_siblings_of_maps_on_its_path() -> None:
    before = {"m": {"keep": 1, "x": 0}, "other": True}
    assert apply(before, [(data("m", "x"), 5)], ()) == {"m": {"keep": 1, "x": 5}, "other": True}


def test_set_through_a_scalar_replaces_it_with_a_map() -> None:
    assert apply({"a": 3}, [(data("a", "b"), 1)], ()) == {"a": {"b": 1}}


def test_set_of_a_list_element_writes_inside_the_list() -> None:
    assert apply({"l": [1, 2, 3]}, [(data("l", 1), 9)], ()) == {"l": [1, 9, 3]}


def test_set_of_a_negative_list_index_counts_from_the_end() -> None:
    assert apply({"l": [1, 2, 3]}, [(data("l", -1), 9)], ()) == {"l": [1, 2, 9]}


def test_set_of_a_list_element_out_of_range_fails_with_the_length() -> None:
    with pytest.raises(EvaluationError, match=r"list index \[3\] is out of range \(length 3\)"):
        apply({"l": [1, 2, 3]}, [(data("l", 3), 9)], ())


def test_set_cannot_create_a_list_element_where_there_is_no_list() -> None:
    with pytest.raises(EvaluationError, match=r"cannot create list element \[0\]"):
        apply({}, [(data("l", 0, "x"), 9)], ())


def test_set_of_a_key_inside_a_list_fails_naming_the_container() -> None:
    with pytest.raises(EvaluationError, match=r"cannot set \['k'\] inside a list"):
        apply({"l": [1]}, [(data("l", "k"), 9)], ())


def test_set_of_the_whole_data_replaces_it_when_the_value_is_a_map() -> None:
    assert apply({"a": 1}, [(data(), {"b": 2})], ()) == {"b": 2}


def test_set_of_the_whole_data_to_something_else_than_a_map_fails() -> None:
    with pytest.raises(EvaluationError, match="'data' must stay a map, not a str"):
        apply({"a": 1}, [(data(), "x")], ())


def test_set_writes_times_as_iso_strings_and_durations_as_seconds() -> None:
    after = apply({}, [(data("t"), Timestamp(0.0)), (data("d"), Duration(90.0))], ())
    assert after == {"t": "1970-01-01T00:00:00Z", "d": 90}


def test_later_sets_see_what_earlier_ones_wrote() -> None:
    after = apply({}, [(data("a", "b"), 1), (data("a", "c"), 2)], ())
    assert after == {"a": {"b": 1, "c": 2}}


def test_unset_removes_a_field() -> None:
    assert apply({"a": 1, "b": 2}, [], (data("a"),)) == {"b": 2}


def test_unset_of_a_missing_field_or_path_changes_nothing() -> None:
    before = {"a": {"b": 1}}
    assert apply(before, [], (data("x"), data("a", "x"), data("z", "y", "w"))) == before


def test_unset_of_a_list_element_removes_it() -> None:
    assert apply({"l": [1, 2, 3]}, [], (data("l", 0),)) == {"l": [2, 3]}


def test_unset_of_a_list_element_out_of_range_changes_nothing() -> None:
    assert apply({"l": [1]}, [], (data("l", 5),)) == {"l": [1]}


def test_unset_runs_after_every_set() -> None:
    assert apply({}, [(data("a"), 1)], (data("a"),)) == {}


def test_text_lives_in_data_text_when_it_is_a_string_there() -> None:
    assert text_paths({"text": "hi"}) == [("text",)]


def test_text_lives_in_nested_data_text_when_only_there() -> None:
    assert text_paths({"data": {"text": "hi"}}) == [("data", "text")]


def test_text_lives_in_both_places_when_both_hold_a_string() -> None:
    assert text_paths({"text": "a", "data": {"text": "b"}}) == [("text",), ("data", "text")]


def test_text_defaults_to_data_text_when_neither_place_holds_a_string() -> None:
    assert text_paths({"text": 5, "data": {"text": None}}) == [("text",)]


def test_set_text_writes_every_place_text_lives() -> None:
    before = {"text": "a", "data": {"text": "b", "keep": 1}}
    after = apply(before, [(TEXT, "x")], ())
    assert after == {"text": "x", "data": {"text": "x", "keep": 1}}


def test_unset_text_removes_it_from_both_places() -> None:
    after = apply({"text": "a", "data": {"text": "b"}}, [], (TEXT,))
    assert after == {"data": {}}


def test_apply_never_mutates_the_incoming_data() -> None:
    before: dict[str, Any] = {"m": {"x": [1, {"y": 2}]}, "text": "t"}
    kept = copy.deepcopy(before)
    apply(before, [(data("m", "x", 1, "y"), 3), (TEXT, "u")], (data("m", "x", 0),))
    assert before == kept


def test_apply_shares_the_parts_it_did_not_write() -> None:
    untouched = {"big": list(range(10))}
    before: dict[str, Any] = {"keep": untouched, "a": 1}
    after = apply(before, [(data("a"), 2)], ())
    assert after["keep"] is untouched


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=3)
    ),
    max_leaves=10,
)
STEP = st.text(max_size=2) | st.integers(min_value=-4, max_value=4)
TARGET = st.one_of(st.just(TEXT), st.lists(STEP, max_size=3).map(lambda path: data(*path)))


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.text(max_size=2), JSON, max_size=4),
    st.lists(st.tuples(TARGET, JSON), max_size=3),
    st.lists(TARGET, max_size=2),
)
def test_apply_on_any_data_gives_a_map_or_an_evaluation_error_and_keeps_the_input(
    before: dict[str, Any], sets: list[tuple[Target, Any]], unsets: list[Target]
) -> None:
    kept = copy.deepcopy(before)
    try:
        after = apply(before, sets, tuple(unsets))
    except EvaluationError as err:
        assert err.message
    else:
        assert isinstance(after, dict)
    assert before == kept


MAPS = st.recursive(
    st.none() | st.integers() | st.text(max_size=2),
    lambda inner: st.dictionaries(st.text(max_size=2), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.text(max_size=2), MAPS, max_size=4),
    st.lists(st.text(max_size=2), min_size=1, max_size=3),
    JSON,
)
def test_a_value_set_at_a_path_of_keys_through_maps_reads_back_from_that_path(
    before: dict[str, Any], path: list[str], value: Any
) -> None:
    after = apply(before, [(data(*path), value)], ())
    current: Any = after
    for key in path:
        current = current[key]
    assert current == value
