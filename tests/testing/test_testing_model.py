"""Tests for receiver.testing.model: policy test files as data (suites, cases, expectations)."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, fields
from pathlib import Path

import pytest

from receiver.testing.model import (
    ANY_ERRORS,
    Case,
    CounterSeed,
    Expectation,
    RuleRef,
    ShadowExpect,
    Suite,
)
from receiver.text.source import SourceFile, Span

SPAN: Span = SourceFile("t.test.yaml", "cases: []\n").span(0, 5)


def case(name: str) -> Case:
    return Case(name, SPAN, "message.shouldCreate", SPAN, {}, {}, Expectation(SPAN))


def test_a_rule_ref_is_known_by_what_was_written_until_resolved() -> None:
    ref = RuleRef("quiet", SPAN)
    assert ref.id == "quiet"
    ref.resolved = "demo/quiet"
    assert ref.id == "demo/quiet"
    assert ref.written == "quiet"


def test_an_expectation_checks_nothing_but_run_time_errors_by_default() -> None:
    expect = Expectation(SPAN)
    checked = {
        f.name: getattr(expect, f.name)
        for f in fields(expect)
        if f.name != "span" and getattr(expect, f.name) not in (None, False, ())
    }
    assert checked == {}
    assert expect.errors is None  # None: no run-time errors allowed
    assert ANY_ERRORS == "any"  # `errors: any` allows every run-time error


def test_a_shadow_expectation_is_frozen() -> None:
    shadow = ShadowExpect(RuleRef("demo/measure", SPAN), action="deny")
    with pytest.raises(FrozenInstanceError):
        shadow.action = "allow"  # type: ignore[misc]


def test_cases_and_suites_do_not_share_their_lists() -> None:
    first, second = case("a"), case("b")
    first.counters.append(CounterSeed("strikes", SPAN, "u1", 2))
    assert second.counters == []
    one = Suite(Path("a.test.yaml"), "a", Path("."), None, SPAN)
    other = Suite(Path("b.test.yaml"), "b", Path("."), None, SPAN)
    one.cases.append(first)
    assert other.cases == [] and other.counters == []


def test_a_suite_is_displayed_by_its_path_as_discovered() -> None:
    relative = Suite(Path("policies/demo.test.yaml"), "demo", Path("policies"), None, SPAN)
    assert relative.display == "policies/demo.test.yaml"
    absolute = Suite(Path("/srv/p/demo.test.yaml"), "demo", Path("/srv/p"), None, SPAN)
    assert absolute.display == "/srv/p/demo.test.yaml"
