"""receiver/dsl/events.py: the known event names, and rules' ``events`` patterns."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.dsl import events as ev


def test_the_twelve_documented_social_plus_events_are_known() -> None:
    assert len(ev.SOCIALPLUS_EVENTS) == 12 == len(set(ev.SOCIALPLUS_EVENTS))
    assert "message.shouldCreate" in ev.KNOWN_EVENTS and "post.shouldFlag" in ev.KNOWN_EVENTS


def test_stream_and_twilio_pre_action_events_are_known() -> None:
    assert ev.KNOWN_EVENTS == ev.SOCIALPLUS_EVENTS + ev.STREAM_EVENTS + ev.TWILIO_EVENTS
    assert len(set(ev.KNOWN_EVENTS)) == len(ev.KNOWN_EVENTS)
    assert "stream.message.new" in ev.KNOWN_EVENTS
    assert "twilio.onMessageAdd" in ev.KNOWN_EVENTS


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("twilio.onMessageAdd", None),
        ("twilio.onMessage*", None),
        ("stream.*", None),
        ("*essage*", None),
        ("twilio.onMessageAdded", "not a known Twilio pre-action event"),
        ("stream.message.created", "not a known Stream event"),
    ],
)
def test_vendor_event_names_are_checked(pattern: str, problem: str | None) -> None:
    found = ev.event_problem(pattern)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_cross_platform_glob_matches_each_platforms_message_event() -> None:
    matched = {e for e in ev.KNOWN_EVENTS if ev.matches("*essage*", e)}
    assert {"message.shouldCreate", "stream.message.new", "twilio.onMessageAdd"} <= matched


@pytest.mark.parametrize(
    ("pattern", "glob"),
    [("message.shouldCreate", False), ("message.*", True), ("post.should?", True), ("[mp]*", True)],
)
def test_a_pattern_is_a_glob_when_it_has_a_wildcard(pattern: str, glob: bool) -> None:
    assert ev.is_glob(pattern) is glob


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        ("message.shouldCreate", "message.shouldCreate", True),
        ("message.shouldCreate", "message.shouldcreate", False),  # case-sensitive
        ("message.*", "message.shouldFlag", True),
        ("message.*", "post.shouldFlag", False),
        ("*.shouldFlag", "post.shouldFlag", True),
        ("*.shouldflag", "post.shouldFlag", False),
        ("post.should?????", "post.shouldCreate", False),
        ("post.should??????", "post.shouldCreate", True),
        ("*", "anything.at.all", True),
    ],
)
def test_a_pattern_matches_names_exactly_or_as_a_case_sensitive_glob(
    pattern: str, event: str, expected: bool
) -> None:
    assert ev.matches(pattern, event) is expected


@pytest.mark.parametrize(
    ("outer", "inner", "expected"),
    [
        ("message.shouldCreate", "message.shouldCreate", True),
        ("message.*", "message.shouldCreate", True),
        ("message.*", "post.shouldCreate", False),
        ("message.shouldCreate", "message.*", False),  # a name never covers a glob
        ("*", "message.*", True),
        ("message.*", "message.*", True),
        ("message.*", "*", False),
        ("*.shouldCreate", "message.*", False),
        ("message.should?reate", "message.should?reate", True),
    ],
)
def test_covers_says_whether_one_pattern_matches_everything_another_does(
    outer: str, inner: str, expected: bool
) -> None:
    assert ev.covers(outer, inner) is expected


@given(
    st.sampled_from(["*", "message.*", "*.shouldFlag", "post.should*"]),
    st.sampled_from(ev.KNOWN_EVENTS),
)
def test_a_glob_that_covers_a_name_matches_it(outer: str, event: str) -> None:
    if ev.covers(outer, event):
        assert ev.matches(outer, event)


def test_a_braincloud_event_name_is_hook_type_service_and_operation() -> None:
    assert ev.braincloud_event("pre", "event", "SEND") == "braincloud.pre.event.SEND"


@pytest.mark.parametrize(
    "pattern",
    [
        "message.shouldCreate",
        "message.*",
        "*.shouldFlag",
        "braincloud.pre.event.SEND",
        "braincloud.postFail.entity.UPDATE",
        "braincloud.*",
        "braincloud.pre.*",
    ],
)
def test_known_events_and_well_formed_patterns_raise_no_warning(pattern: str) -> None:
    assert ev.event_problem(pattern) is None


def test_a_misspelt_event_is_not_known_with_a_suggestion() -> None:
    assert ev.event_problem("message.shouldCreat") == (
        "'message.shouldCreat' is not a known social.plus event; "
        "did you mean 'message.shouldCreate'?"
    )


def test_a_glob_matching_no_known_event_says_so() -> None:
    assert ev.event_problem("user.*") == (
        "the pattern 'user.*' matches none of the known events "
        "(message.shouldCreate, message.shouldUpdate, message.shouldFlag, ...)"
    )


def test_a_braincloud_name_of_the_wrong_shape_shows_the_form() -> None:
    assert ev.event_problem("braincloud.pre.event") == (
        "brainCloud events are named braincloud.<pre|post|postFail>.<service>.<OPERATION>, "
        "e.g. braincloud.pre.event.SEND"
    )


def test_a_braincloud_name_with_an_empty_part_shows_the_form() -> None:
    assert ev.braincloud_problem("braincloud.pre..SEND") is not None


def test_an_unknown_braincloud_hook_type_is_named_with_a_suggestion() -> None:
    problem = ev.event_problem("braincloud.psot.event.SEND")
    assert problem == (
        "'psot' is not a brainCloud hook type (pre, post or postFail); did you mean 'post'?; "
        "events are named braincloud.<pre|post|postFail>.<service>.<OPERATION>"
    )
