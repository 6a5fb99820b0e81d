"""receiver/testing/expect.py: a decision compared with a case's expectations, and the
differences shown so that a failing case says what to fix."""

from __future__ import annotations

from typing import Any

import pytest

from receiver.runtime.decision import Decision, RuleFailure
from receiver.testing.expect import compare, data_diff, same, show, subset_differences
from receiver.testing.model import Expectation, RuleRef
from receiver.text.source import SourceFile

SPAN = SourceFile("x.test.yaml", "expect: deny\n").span(8, 12)
DATA: dict[str, Any] = {"text": "hi", "channelId": "c1"}


def fields(expect: Expectation, decision: Decision) -> list[str]:
    return [m.field for m in compare(expect, decision, DATA)]


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (1, 1.0, True),
        (True, 1, False),
        ({"a": [1, 2]}, {"a": [1, 2]}, True),
        ({"a": 1}, {"a": 1, "b": 2}, False),
        ([1, 2], [2, 1], False),
        ("1", 1, False),
        (None, None, True),
    ],
)
def test_same_is_json_equality(a: object, b: object, equal: bool) -> None:
    assert same(a, b) is equal


def test_subset_differences_ignore_keys_not_mentioned_and_name_the_path() -> None:
    actual = {"text": "****", "meta": {"by": "censor", "n": 1}, "tags": ["a"]}
    assert list(subset_differences({"meta": {"by": "censor"}}, actual, "data")) == []
    found = list(subset_differences({"meta": {"n": 2}, "tags": ["b"]}, actual, "data"))
    assert found == [("data.meta.n", 2, 1), ("data.tags", ["b"], ["a"])]
    [(path, expected, missing)] = subset_differences({"odd key": 1}, actual, "data")
    assert path == 'data["odd key"]' and expected == 1 and missing is not None


def test_show_shortens_long_values_on_one_line() -> None:
    assert show({"a": "b"}) == '{"a": "b"}'
    long = show("x" * 1000, limit=50)
    assert len(long.split("…")[0]) == 49 and long.endswith("more characters)")


def test_data_diff_marks_expected_and_actual_lines() -> None:
    lines = data_diff({"text": "a", "n": 1}, {"text": "b", "n": 1})
    assert '-   "text": "a"' in lines and '+   "text": "b"' in lines
    assert '    "n": 1,' in lines


def test_a_decision_meeting_every_expectation_has_no_mismatch() -> None:
    expect = Expectation(SPAN, action="deny", message="No.", rule=RuleRef("p/r", SPAN, "p/r"))
    assert compare(expect, Decision("deny", "No.", rule="p/r"), DATA) == []


def test_the_wrong_action_is_a_mismatch_that_says_both() -> None:
    [mismatch] = compare(Expectation(SPAN, action="deny"), Decision("allow"), DATA)
    assert mismatch.field == "action"
    assert "deny" in mismatch.summary and "allow" in mismatch.summary


def test_a_message_expectation_implies_deny() -> None:
    assert "action" in fields(Expectation(SPAN, message="No."), Decision("allow"))


def test_message_contains_checks_each_text() -> None:
    expect = Expectation(SPAN, action="deny", message_contains=("slow", "down"))
    assert fields(expect, Decision("deny", "Slow down please")) == ["message_contains"]
    assert fields(expect, Decision("deny", "slow down please")) == []


def test_rule_none_expects_that_no_rule_decided() -> None:
    expect = Expectation(SPAN, action="allow", rule_given=True)
    assert fields(expect, Decision("allow")) == []
    assert fields(expect, Decision("allow", rule="p/r")) == ["rule"]


def test_data_contains_checks_only_the_keys_given() -> None:
    expect = Expectation(SPAN, action="allow", data_contains={"text": "****"})
    changed = Decision("allow", data={"text": "****", "channelId": "c1"}, modified_by=["p/c"])
    assert fields(expect, changed) == []
    assert fields(expect, Decision("allow")) == ["data_contains"]  # unchanged: "hi"


def test_runtime_errors_fail_a_case_unless_expected() -> None:
    failed = Decision("allow", errors=[RuleFailure("p/r", "len() needs text", "p.yaml:3:11")])
    assert fields(Expectation(SPAN, action="allow"), failed) == ["errors"]
    expected = Expectation(SPAN, action="allow", errors=[RuleRef("p/r", SPAN, "p/r")])
    assert fields(expected, failed) == []
