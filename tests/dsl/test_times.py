"""Tests for receiver.dsl.times: times and durations, parsed and printed (one duration parser)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.dsl.parser import ExprSource, parse_expression
from receiver.dsl.times import (
    DURATION_UNITS,
    format_duration,
    format_time,
    parse_duration,
    parse_time,
)
from receiver.dsl.values import Duration
from receiver.load.counters import parse_window
from receiver.text.diagnostics import Diagnostics
from receiver.text.source import SourceFile

JAN_31_10AM = 1706695200.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-31T10:00:00Z", JAN_31_10AM),
        ("2024-01-31T10:00:00z", JAN_31_10AM),
        ("2024-01-31T10:00:00+00:00", JAN_31_10AM),
        ("2024-01-31T12:00:00+02:00", JAN_31_10AM),
        ("2024-01-31T10:00:00", JAN_31_10AM),  # naive is UTC
        ("2024-01-31 10:00:00", JAN_31_10AM),
        ("2024-01-31T10:00:00.250Z", JAN_31_10AM + 0.25),
        ("2024-01-31", JAN_31_10AM - 10 * 3600),  # bare date is midnight UTC
        ("  2024-01-31T10:00:00Z  ", JAN_31_10AM),
        (1706695200, JAN_31_10AM),
        (1706695200.5, JAN_31_10AM + 0.5),
        (1706695200250, JAN_31_10AM + 0.25),  # >= 1e11 is milliseconds
        (-1706695200250, -JAN_31_10AM - 0.25),
        (99_999_999_999, 99_999_999_999.0),  # just below the milliseconds threshold
        (0, 0.0),
        ("1706695200", JAN_31_10AM),
        ("1706695200250", JAN_31_10AM + 0.25),
        ("1.7066952e9", JAN_31_10AM),
        ("-86400", -86400.0),
    ],
)
def test_parse_time_accepts_iso_strings_and_epoch_numbers(value: object, expected: float) -> None:
    assert parse_time(value) == pytest.approx(expected)


def test_parse_time_returns_a_float() -> None:
    assert type(parse_time(1706695200)) is float


@pytest.mark.parametrize(
    "value",
    [
        True,
        False,
        None,
        [1706695200],
        {"t": 1},
        "",
        "yesterday",
        "2024-13-01",
        "2024-01-31T25:00:00Z",
        "nan",
        "inf",
        "1_000",
        "١٧٠٦٦٩٥٢٠٠",
        "x" * 100,
        math.nan,
        math.inf,
        10**400,
    ],
)
def test_parse_time_rejects_anything_else_with_value_error(value: object) -> None:
    with pytest.raises(ValueError, match="expected an ISO-8601 time or epoch"):
        parse_time(value)


def test_parse_time_error_message_shows_the_value() -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_time("yesterday")
    assert str(excinfo.value) == (
        "expected an ISO-8601 time or epoch seconds/milliseconds, got 'yesterday'"
    )


def test_parse_time_error_message_truncates_long_values() -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_time("y" * 10_000)
    assert len(str(excinfo.value)) < 120


@pytest.mark.parametrize(
    ("epoch", "expected"),
    [
        (JAN_31_10AM, "2024-01-31T10:00:00Z"),
        (JAN_31_10AM + 0.25, "2024-01-31T10:00:00.250Z"),
        (JAN_31_10AM + 0.0004, "2024-01-31T10:00:00Z"),
        (JAN_31_10AM + 0.9996, "2024-01-31T10:00:01Z"),
        (1706695200, "2024-01-31T10:00:00Z"),
        (0, "1970-01-01T00:00:00Z"),
        (-0.5, "1969-12-31T23:59:59.500Z"),
    ],
)
def test_format_time_gives_utc_iso_with_z_and_optional_milliseconds(
    epoch: float, expected: str
) -> None:
    assert format_time(epoch) == expected


@pytest.mark.parametrize("epoch", [math.nan, math.inf, 1e300, True])
def test_format_time_rejects_unrepresentable_epochs(epoch: float) -> None:
    with pytest.raises(ValueError):
        format_time(epoch)


@given(st.integers(min_value=-2_208_988_800_000, max_value=4_102_444_800_000))
def test_parse_time_round_trips_format_time(millis: int) -> None:
    epoch = millis / 1000
    assert parse_time(format_time(epoch)) == epoch


# ------------------------------------------------------------------------ duration


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0s"),
        (0.5, "500ms"),
        (0.001, "1ms"),
        (30, "30s"),
        (60, "1m"),
        (90, "1m30s"),
        (7200, "2h"),
        (86400, "1d"),
        (604800, "7d"),
        (90061, "1d1h1m1s"),
        (1.5, "1s500ms"),
        (-90, "-1m30s"),
        (-0.25, "-250ms"),
        (0.0004, "0s"),
        (-0.0004, "0s"),
        (59.9996, "1m"),
    ],
)
def test_format_duration_is_compact_with_dsl_units(seconds: float, expected: str) -> None:
    assert format_duration(seconds) == expected


@pytest.mark.parametrize("seconds", [math.nan, math.inf, -math.inf, True])
def test_format_duration_rejects_non_finite_values(seconds: float) -> None:
    with pytest.raises(ValueError):
        format_duration(seconds)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500ms", 0.5),
        ("30s", 30.0),
        ("5m", 300.0),
        ("2h", 7200.0),
        ("7d", 604800.0),
        ("2w", 1209600.0),
        ("1.5h", 5400.0),
        ("0.5s", 0.5),
        ("0s", 0.0),
        (" 10s\n", 10.0),
    ],
)
def test_parse_duration_accepts_dsl_literals(text: str, expected: float) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "5", "s", "-5s", "+5s", "1m30s", "5 m", "5sec", "5S", "1.s", ".5s", "1e3s", "٥s", "5y"],
)
def test_parse_duration_rejects_other_forms(text: str) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(text)


def test_parse_duration_rejects_non_strings() -> None:
    with pytest.raises(ValueError):
        parse_duration(30)  # type: ignore[arg-type]


def test_parse_duration_rejects_overflowing_values() -> None:
    with pytest.raises(ValueError):
        parse_duration("9" * 400 + "w")


single_unit_durations = st.one_of(
    st.integers(1, 59),
    st.integers(1, 59).map(lambda n: n * 60),
    st.integers(1, 23).map(lambda n: n * 3600),
    st.integers(1, 10**6).map(lambda n: n * 86400),
)


@given(single_unit_durations)
def test_format_duration_round_trips_through_parse_duration(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@given(st.integers(1, 999))
def test_format_duration_round_trips_milliseconds(millis: int) -> None:
    assert parse_duration(format_duration(millis / 1000)) == millis / 1000


@pytest.mark.parametrize("unit", DURATION_UNITS)
def test_every_unit_parses(unit: str) -> None:
    assert parse_duration(f"2{unit}") > parse_duration(f"1{unit}") > 0


def test_a_counter_window_is_read_by_the_same_parser() -> None:
    assert parse_window(" 1.5h ") == parse_duration("1.5h") == 5400.0
    assert parse_window("9ms") == parse_duration("9ms") == 9 / 1000
    for text in ("5 m", "٥s", "60", "1m30s", "9" * 400 + "w"):
        assert parse_window(text) is None


def test_a_duration_literal_in_an_expression_is_read_by_the_same_parser() -> None:
    def literal(text: str) -> tuple[object, list[str]]:
        diags = Diagnostics()
        node = parse_expression(ExprSource.contiguous(SourceFile("x", text), text, 0), diags)
        return getattr(node, "value", None), [d.message for d in diags.items]

    assert literal("9ms") == (Duration(parse_duration("9ms")), [])
    assert literal("1.5h") == (Duration(5400.0), [])
    _, messages = literal("9" * 400 + "w")
    assert messages == [f"duration '{'9' * 37}...' is too large"]
