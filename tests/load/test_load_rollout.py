"""Tests for receiver.load.rollout and the loader's ``rollout``, ``rollout_key`` and
``expires`` rule fields: what they accept, and errors at FILE:LINE:COL saying what to do."""

from __future__ import annotations

import math
import textwrap
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.load.documents import PolicyDoc
from receiver.load.loader import load_text
from receiver.load.rollout import parse_instant, parse_percent
from receiver.text.diagnostics import Diagnostics

Found = tuple[str, str, str]  # (FILE:LINE:COL, code, message)


def load(*lines: str, mode: str = "") -> tuple[PolicyDoc | None, list[Found]]:
    """A policy with one deny rule ``r`` whose extra fields (from line 6 on) are ``lines``."""
    body = "".join(f"    {line}\n" for line in lines)
    text = (
        "policy: p\nrules:\n  - id: r\n    events: message.shouldCreate\n    action: deny\n"
        + (f"    mode: {mode}\n" if mode else "")
        + body
    )
    diags = Diagnostics()
    doc = load_text("p.yaml", textwrap.dedent(text), diags)
    return doc, [(d.location, d.code, d.message) for d in diags]


def epoch(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()


# -- rollout -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "percent"),
    [("10%", 10.0), ("0.5%", 0.5), ("100%", 100.0), ("0%", 0.0), ("'25 %'", 25.0),
     ("10", 10.0), ("12.5", 12.5), ("0", 0.0), ("100", 100.0)],
)  # fmt: skip
def test_rollout_reads_a_percentage_or_a_plain_number(written: str, percent: float) -> None:
    doc, found = load(f"rollout: {written}")
    assert found == []
    assert doc is not None
    rollout = doc.rules[0].rollout
    assert rollout is not None
    assert rollout.value == percent
    assert (rollout.span.line, rollout.span.column) == (6, 14)


def test_a_plain_number_below_one_warns_that_it_is_a_percent_not_a_fraction() -> None:
    doc, found = load("rollout: 0.2")
    assert found == [
        (
            "p.yaml:6:14",
            "small-rollout",
            "'rollout: 0.2' enforces for 0.2% of keys (a plain number is a percent); write "
            "20% if you meant a fraction, or 0.2% to keep it",
        )
    ]
    assert doc is not None and doc.rules[0].rollout is not None
    assert doc.rules[0].rollout.value == 0.2  # read as written: a warning, not an error
    for written in ("0.2%", "0", "1", "0.0"):
        assert load(f"rollout: {written}")[1] == [], written


@pytest.mark.parametrize(
    ("written", "says"),
    [
        ("101%", "between 0% and 100%, not 101%"),
        ("-1%", "between 0% and 100%, not -1%"),
        ("150", "between 0% and 100%, not 150"),
        ("'10'", "must end with %"),
        ("ten%", "a number followed by %"),
        ("true", "a percentage, not true"),
        (".nan", "between 0% and 100%"),
        ("[10]", "must be a percentage"),
    ],
)
def test_a_bad_rollout_is_an_error_at_its_value_saying_what_to_write(
    written: str, says: str
) -> None:
    doc, found = load(f"rollout: {written}")
    assert len(found) == 1
    location, code, message = found[0]
    assert (location, code) == ("p.yaml:6:14", "bad-value")
    assert says in message
    assert "10%" in message  # an example of what to write
    assert doc is not None and doc.rules[0].rollout is None


def test_rollout_on_a_shadow_rule_is_an_error_that_says_why() -> None:
    _, found = load("rollout: 10%", mode="shadow")
    assert [(loc, code) for loc, code, _ in found] == [("p.yaml:7:5", "misplaced-field")]
    message = found[0][2]
    assert "never enforces" in message
    assert "remove 'mode: shadow'" in message


def test_rollout_key_without_rollout_is_an_error() -> None:
    _, found = load("rollout_key: data.channelId")
    assert found == [
        (
            "p.yaml:6:5",
            "misplaced-field",
            "'rollout_key' only applies to a rule with 'rollout:' (add 'rollout: 10%' or "
            "remove 'rollout_key')",
        )
    ]


def test_rollout_key_is_an_expression_located_in_the_file() -> None:
    doc, found = load("rollout: 5%", "rollout_key: data.channelId")
    assert found == []
    assert doc is not None
    key = doc.rules[0].rollout_key
    assert key is not None
    assert key.text == "data.channelId"
    assert str(key.span(0, len(key.text))).startswith("p.yaml:7:18")


# -- expires -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "instant"),
    [
        ("2027-01-31T00:00:00Z", epoch(2027, 1, 31)),  # unquoted: a YAML timestamp
        ("'2027-01-31T00:00:00Z'", epoch(2027, 1, 31)),
        ('"2027-01-31T09:00:00+09:00"', epoch(2027, 1, 31)),
        ("2027-01-31T09:00:00+09:00", epoch(2027, 1, 31)),
        ("2027-01-31", epoch(2027, 1, 31)),  # unquoted: a YAML date, midnight UTC
        ("'2027-01-31'", epoch(2027, 1, 31)),
        ("2027-01-31 12:30:00Z", epoch(2027, 1, 31, 12, 30)),
        ("'2027-01-31T12:30:15.5z'", epoch(2027, 1, 31, 12, 30, 15) + 0.5),
    ],
)
def test_expires_reads_a_date_time_with_a_zone_or_a_date(written: str, instant: float) -> None:
    doc, found = load(f"expires: {written}")
    assert found == []
    assert doc is not None
    expires = doc.rules[0].expires
    assert expires is not None
    assert expires.value == instant
    assert (expires.span.line, expires.span.column) == (6, 14)


@pytest.mark.parametrize(
    ("written", "says"),
    [
        ("2027-01-31T00:00:00", "needs a zone: add Z"),
        ("'2027-01-31T00:00'", "needs a zone: add Z"),
        ("tomorrow", "not a date or date-time: 'tomorrow'"),
        ("2027-02-30", "not a date or date-time"),
        ("1767225600", "not a date or date-time"),
        ("''", "must be an instant"),
        ("[2027-01-31]", "must be a date-time"),
    ],
)
def test_a_bad_expires_is_an_error_at_its_value_saying_what_to_write(
    written: str, says: str
) -> None:
    doc, found = load(f"expires: {written}")
    assert len(found) == 1
    location, _, message = found[0]
    assert location == "p.yaml:6:14"
    assert says in message
    assert doc is not None and doc.rules[0].expires is None


def test_rollout_and_expires_are_absent_by_default() -> None:
    doc, found = load()
    assert found == []
    assert doc is not None
    rule = doc.rules[0]
    assert (rule.rollout, rule.rollout_key, rule.expires) == (None, None, None)


# -- the parsers on any input -------------------------------------------------------------


@given(st.one_of(st.text(max_size=30), st.floats(), st.integers(), st.booleans(), st.none()))
def test_parse_percent_gives_a_percentage_or_a_value_error(value: object) -> None:
    try:
        percent = parse_percent(value)
    except ValueError as err:
        assert "rollout" in str(err)
    else:
        assert 0 <= percent <= 100
        assert math.isfinite(percent)


@given(st.floats(min_value=0, max_value=100, allow_nan=False))
def test_parse_percent_reads_back_any_percentage_it_is_given(percent: float) -> None:
    assert parse_percent(f"{percent!r}%") == percent
    assert parse_percent(percent) == percent


@given(st.text(max_size=70))
def test_parse_instant_gives_epoch_seconds_or_a_value_error(text: str) -> None:
    try:
        instant = parse_instant(text, text)
    except ValueError as err:
        assert "'expires'" in str(err)
    else:
        assert math.isfinite(instant)


@given(st.datetimes(timezones=st.just(UTC)))
def test_parse_instant_reads_back_any_utc_date_time(moment: datetime) -> None:
    text = moment.isoformat().replace("+00:00", "Z")
    assert parse_instant(text, text) == moment.timestamp()
    assert parse_instant(text, moment) == moment.timestamp()
