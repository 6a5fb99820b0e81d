"""Tests for receiver.dsl.values: equality, ordering, membership, arithmetic and rendering."""

from __future__ import annotations

import pytest

from receiver.dsl.values import (
    Duration,
    Timestamp,
    arithmetic,
    as_time,
    contains,
    equals,
    key,
    negate,
    order,
    render,
    show,
    text_op,
    to_json,
    truth,
    type_name,
)
from receiver.errors import EvaluationError

NOW = Timestamp(1_769_860_800.0)  # 2026-01-31T12:00:00Z
DAY = Duration(86_400.0)


# -- type names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (None, "null"),
        (True, "bool"),
        (1, "number"),
        (1.5, "number"),
        ("s", "string"),
        ([1], "list"),
        ({"a": 1}, "map"),
        (DAY, "duration"),
        (NOW, "time"),
    ],
)
def test_type_name_uses_language_names(value: object, name: str) -> None:
    assert type_name(value) == name


# -- equality ------------------------------------------------------------------------------


def test_true_is_not_equal_to_one() -> None:
    assert not equals(True, 1)
    assert not equals(1, True)
    assert not equals(False, 0)


def test_bools_equal_themselves() -> None:
    assert equals(True, True)
    assert not equals(True, False)


def test_int_and_float_with_same_value_are_equal() -> None:
    assert equals(1, 1.0)


def test_null_equals_only_null() -> None:
    assert equals(None, None)
    assert not equals(None, 0)
    assert not equals(None, "")
    assert not equals(None, False)


def test_lists_and_maps_compare_by_content() -> None:
    assert equals([1, {"a": "b"}], [1, {"a": "b"}])
    assert not equals([1, 2], [2, 1])


def test_nested_bools_are_not_numbers_inside_lists() -> None:
    assert not equals([True], [1])


def test_time_equals_iso_string_and_epoch_of_the_same_moment() -> None:
    assert equals(NOW, "2026-01-31T12:00:00Z")
    assert equals("2026-01-31T13:00:00+01:00", NOW)
    assert equals(NOW, 1_769_860_800)
    assert equals(NOW, 1_769_860_800_000)  # epoch milliseconds


def test_time_is_not_equal_to_unparseable_values() -> None:
    assert not equals(NOW, "not a time")
    assert not equals(NOW, True)
    assert not equals(NOW, None)


def test_durations_compare_by_length() -> None:
    assert equals(Duration(60), Duration(60.0))
    assert not equals(Duration(60), 60)


# -- keys (index and constant-set equality) --------------------------------------------------


def test_key_distinguishes_bools_from_numbers() -> None:
    assert key(True) != key(1)
    assert key(1) == key(1.0)


def test_key_of_containers_is_order_independent_for_maps() -> None:
    assert key({"a": 1, "b": 2}) == key({"b": 2, "a": 1})
    assert hash(key([1, 2]))


# -- ordering ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "left", "right", "expected"),
    [
        ("<", 1, 2, True),
        ("<=", 2, 2, True),
        (">", 2.5, 2, True),
        (">=", 1, 2, False),
        ("<", "abc", "abd", True),
        (">", "b", "a", True),
        ("<", Duration(1), DAY, True),
    ],
)
def test_order_compares_numbers_strings_and_durations(
    op: str, left: object, right: object, expected: bool
) -> None:
    assert order(op, left, right) is expected


@pytest.mark.parametrize("op", ["<", "<=", ">", ">="])
def test_ordering_with_null_is_false(op: str) -> None:
    assert order(op, None, 1) is False
    assert order(op, 1, None) is False
    assert order(op, None, None) is False


def test_time_orders_against_iso_strings_and_epochs() -> None:
    assert order(">", NOW, "2026-01-30T00:00:00Z")
    assert order("<", "2026-01-30T00:00:00Z", NOW)
    assert order("<", NOW, 1_769_860_801)
    assert order(">=", NOW, 1_769_860_800_000)


def test_ordering_different_types_is_an_error() -> None:
    with pytest.raises(EvaluationError, match=r"cannot compare string with number using '<'"):
        order("<", "a", 1)


def test_ordering_bools_is_an_error() -> None:
    with pytest.raises(EvaluationError, match="cannot compare bool with bool"):
        order("<", True, False)


def test_ordering_time_with_unparseable_string_is_an_error() -> None:
    with pytest.raises(EvaluationError, match="ISO-8601"):
        order("<", NOW, "yesterday")


# -- membership ----------------------------------------------------------------------------


def test_in_list_uses_language_equality() -> None:
    assert contains([1, 2], 2.0)
    assert not contains([1], True)
    assert contains([True], True)
    assert contains(["2026-01-31T12:00:00Z"], NOW)


def test_in_string_is_substring() -> None:
    assert contains("hello world", "lo w")
    assert not contains("hello", "Hello")


def test_in_map_is_key_presence() -> None:
    assert contains({"a": None}, "a")
    assert not contains({"a": 1}, "b")
    assert not contains({"1": 1}, 1)


def test_membership_with_null_is_false() -> None:
    assert contains(None, "a") is False
    assert contains(["a"], None) is False
    assert contains([None], None) is False


def test_looking_for_non_string_in_string_is_an_error() -> None:
    with pytest.raises(EvaluationError, match="cannot look for a number inside a string"):
        contains("abc", 1)


def test_membership_in_a_number_is_an_error() -> None:
    with pytest.raises(EvaluationError, match="'in' needs a list, string or map on the right"):
        contains(5, 1)


# -- startswith / endswith -------------------------------------------------------------------


def test_startswith_and_endswith() -> None:
    assert text_op("startswith", "hello", "he")
    assert text_op("endswith", "hello", "lo")
    assert not text_op("startswith", "hello", "lo")


def test_startswith_with_null_is_false() -> None:
    assert text_op("startswith", None, "a") is False
    assert text_op("endswith", "a", None) is False


def test_startswith_needs_strings() -> None:
    with pytest.raises(EvaluationError, match="'startswith' needs two strings, got number"):
        text_op("startswith", 5, "a")


# -- arithmetic ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "left", "right", "expected"),
    [
        ("+", 2, 3, 5),
        ("-", 2, 3, -1),
        ("*", 2, 2.5, 5.0),
        ("/", 7, 2, 3.5),
        ("%", 7, 3, 1),
        ("+", "ab", "cd", "abcd"),
        ("+", [1], [2], [1, 2]),
    ],
)
def test_arithmetic_on_numbers_strings_and_lists(
    op: str, left: object, right: object, expected: object
) -> None:
    assert arithmetic(op, left, right) == expected


def test_whole_division_result_is_an_integer() -> None:
    result = arithmetic("/", 6, 3)
    assert result == 2
    assert type(result) is int


@pytest.mark.parametrize("op", ["/", "%"])
def test_division_by_zero_is_an_error(op: str) -> None:
    with pytest.raises(EvaluationError, match="division by zero"):
        arithmetic(op, 1, 0)


def test_duration_division_by_zero_is_an_error() -> None:
    with pytest.raises(EvaluationError, match="division by zero"):
        arithmetic("/", DAY, 0)
    with pytest.raises(EvaluationError, match="division by zero"):
        arithmetic("/", DAY, Duration(0))


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "%"])
def test_arithmetic_with_null_gives_null(op: str) -> None:
    assert arithmetic(op, None, 1) is None
    assert arithmetic(op, 1, None) is None


def test_arithmetic_does_not_treat_bools_as_numbers() -> None:
    with pytest.raises(EvaluationError, match="cannot use '\\+' on bool and number"):
        arithmetic("+", True, 1)


def test_adding_string_and_number_is_an_error() -> None:
    with pytest.raises(EvaluationError, match="cannot use '\\+' on string and number"):
        arithmetic("+", "a", 1)


def test_time_minus_duration_is_a_time() -> None:
    assert arithmetic("-", NOW, Duration(7 * 86_400)) == Timestamp(NOW.epoch - 7 * 86_400)


def test_time_plus_duration_either_order_is_a_time() -> None:
    assert arithmetic("+", NOW, DAY) == Timestamp(NOW.epoch + 86_400)
    assert arithmetic("+", DAY, NOW) == Timestamp(NOW.epoch + 86_400)


def test_time_minus_iso_string_or_epoch_is_a_duration() -> None:
    assert arithmetic("-", NOW, "2026-01-30T12:00:00Z") == DAY
    assert arithmetic("-", "2026-02-01T12:00:00Z", NOW) == DAY
    assert arithmetic("-", NOW, 1_769_774_400_000) == DAY  # epoch milliseconds


def test_duration_arithmetic() -> None:
    assert arithmetic("+", DAY, Duration(3600)) == Duration(90_000)
    assert arithmetic("-", DAY, Duration(3600)) == Duration(82_800)
    assert arithmetic("*", DAY, 2) == Duration(172_800)
    assert arithmetic("*", 2, DAY) == Duration(172_800)
    assert arithmetic("/", DAY, 2) == Duration(43_200)
    assert arithmetic("/", Duration(7 * 86_400), DAY) == 7


def test_adding_two_times_is_an_error() -> None:
    with pytest.raises(EvaluationError, match="cannot use '\\+' on time and time"):
        arithmetic("+", NOW, NOW)


def test_time_minus_unparseable_string_is_an_error() -> None:
    with pytest.raises(EvaluationError, match="ISO-8601"):
        arithmetic("-", NOW, "soon")


def test_as_time_rejects_bools() -> None:
    with pytest.raises(EvaluationError, match="expected a time, got a bool"):
        as_time(True)


def test_as_time_parses_naive_iso_strings_as_utc() -> None:
    assert as_time("2026-01-31T12:00:00") == NOW


# -- negation and truth ----------------------------------------------------------------------


def test_negate_numbers_durations_and_null() -> None:
    assert negate(3) == -3
    assert negate(DAY) == Duration(-86_400)
    assert negate(None) is None


def test_negating_a_string_is_an_error() -> None:
    with pytest.raises(EvaluationError, match="cannot negate a string"):
        negate("a")


def test_null_condition_counts_as_false() -> None:
    assert truth(None) is False
    assert truth(True) is True
    assert truth(False) is False


def test_non_bool_condition_is_an_error() -> None:
    with pytest.raises(EvaluationError, match=r"the condition gave a number \(1\), not true/false"):
        truth(1)


# -- rendering -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "true"),
        (2.0, "2"),
        (2.5, "2.5"),
        ("s", "s"),
        ([1, "é"], '[1, "é"]'),
        (DAY, "1d"),
        (NOW, "2026-01-31T12:00:00Z"),
    ],
)
def test_render_for_messages(value: object, text: str) -> None:
    assert render(value) == text


def test_show_quotes_strings_and_names_null() -> None:
    assert show("a") == '"a"'
    assert show(None) == "null"
    assert show(False) == "false"


def test_to_json_turns_times_into_iso_strings_and_durations_into_seconds() -> None:
    assert to_json({"at": NOW, "for": [DAY, Duration(1.5)]}) == {
        "at": "2026-01-31T12:00:00Z",
        "for": [86_400, 1.5],
    }
