"""receiver/load/counters.py: the shape of ``counters:`` declarations in a policy file.

(The counters' expressions are checked later, in receiver/check/counters.py; their
run-time meaning is tested in tests/counters/.)
"""

from __future__ import annotations

import pytest

from receiver.load.counters import MAX_WINDOW_SECONDS, counter_ids, parse_window
from receiver.load.documents import PolicyDoc
from receiver.load.loader import load_text
from receiver.text.diagnostics import Diagnostics

RULES = "rules:\n  - id: r\n    events: message.shouldCreate\n    action: allow\n"


def load(counters: str) -> tuple[PolicyDoc | None, list[tuple[str, str, str]]]:
    diags = Diagnostics()
    doc = load_text("p.yaml", f"policy: p\ncounters:\n{counters}{RULES}", diags)
    return doc, [(d.location, d.code, d.message) for d in diags]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("60s", 60.0), ("10m", 600.0), ("1.5h", 5400.0), ("7d", 604800.0), ("250ms", 0.25),
     (" 2w ", 1209600.0)],
)  # fmt: skip
def test_parse_window_reads_a_duration_literal(text: str, seconds: float) -> None:
    assert parse_window(text) == seconds


@pytest.mark.parametrize("text", ["60", "s", "1y", "-1s", "1 h x", "", "1e3s"])
def test_parse_window_refuses_what_is_not_a_duration(text: str) -> None:
    assert parse_window(text) is None


def test_an_event_counter_loads_with_its_positions() -> None:
    doc, found = load(
        "  per_minute:\n"
        "    description: messages per minute\n"
        "    events: [message.shouldCreate, 'post.*']\n"
        "    key: actor.userId\n"
        "    window: 60s\n"
        "    when: len(text) > 0\n"
    )
    assert found == []
    assert doc is not None
    counter = doc.counters["per_minute"]
    assert counter.name.value == "per_minute"
    assert str(counter.name.span) == "p.yaml:3:3"
    assert counter.events is not None
    assert [e.value for e in counter.events] == ["message.shouldCreate", "post.*"]
    assert counter.decisions is None
    assert counter.key is not None and counter.key.text == "actor.userId"
    assert counter.window is not None and counter.window.value == "60s"
    assert counter.when is not None and counter.when.text == "len(text) > 0"
    assert counter.description == "messages per minute"


def test_a_decision_counter_lists_the_rules_it_counts() -> None:
    doc, found = load(
        "  strikes:\n    decisions: [r, other/rule]\n    key: actor.userId\n    window: 24h\n"
    )
    assert found == []
    assert doc is not None
    counter = doc.counters["strikes"]
    assert counter.events is None
    assert counter.decisions is not None
    assert [d.value for d in counter.decisions] == ["r", "other/rule"]


def test_counter_ids_qualify_each_name_with_the_policy() -> None:
    doc, _ = load("  c:\n    events: message.shouldCreate\n    key: actor.userId\n    window: 1m\n")
    assert doc is not None
    assert counter_ids(doc) == {"c": "p/c"}


def test_every_missing_field_is_named_in_one_message_at_the_counter() -> None:
    doc, found = load("  c:\n    description: nothing else\n")
    assert found == [
        (
            "p.yaml:3:3",
            "missing-field",
            "counter 'c' has no 'events' or 'decisions', 'key', 'window'",
        )
    ]
    assert doc is not None and "c" not in doc.counters


def test_events_and_decisions_together_are_reported_at_decisions() -> None:
    _, found = load(
        "  c:\n    events: message.shouldCreate\n    decisions: r\n"
        "    key: actor.userId\n    window: 1m\n"
    )
    assert found == [
        ("p.yaml:5:5", "misplaced-field", "counter 'c' counts either events or decisions, not both")
    ]


@pytest.mark.parametrize("field", ["distinct", "when"])
def test_distinct_and_when_only_apply_to_event_counters(field: str) -> None:
    _, found = load(
        f"  c:\n    decisions: r\n    {field}: data.x\n    key: actor.userId\n    window: 1m\n"
    )
    assert [(where, code) for where, code, _ in found] == [("p.yaml:5:5", "misplaced-field")]
    assert f"'{field}' only applies to event counters" in found[0][2]


def test_an_empty_decisions_list_is_reported() -> None:
    _, found = load("  c:\n    decisions: []\n    key: actor.userId\n    window: 1m\n")
    assert found == [("p.yaml:4:16", "type", "'decisions' needs at least one rule id")]


@pytest.mark.parametrize(
    ("window", "message"),
    [
        (
            "soon",
            "'window' must be a duration such as 60s, 10m, 24h or 7d (units: ms, s, m, h, d, w)",
        ),
        ("32d", "'window' must be between 1ms and 31d"),
        ("0s", "'window' must be between 1ms and 31d"),
    ],
)
def test_a_bad_window_is_reported_at_the_window(window: str, message: str) -> None:
    doc, found = load(
        f"  c:\n    events: message.shouldCreate\n    key: actor.userId\n    window: {window}\n"
    )
    assert found == [("p.yaml:6:13", "bad-value", message)]
    assert doc is not None and "c" not in doc.counters


def test_the_longest_window_is_31_days() -> None:
    assert MAX_WINDOW_SECONDS == 31 * 86400
    _, found = load(
        "  c:\n    events: message.shouldCreate\n    key: actor.userId\n    window: 31d\n"
    )
    assert found == []


def test_an_unknown_counter_field_is_reported_and_the_rest_still_loads() -> None:
    doc, found = load(
        "  c:\n    events: message.shouldCreate\n    key: actor.userId\n    window: 1m\n"
        "    windw: 2m\n"
    )
    assert found == [
        (
            "p.yaml:7:5",
            "unknown-field",
            "unknown field 'windw' in counter 'c'; did you mean 'window'?",
        )
    ]
    assert doc is not None and "c" in doc.counters
