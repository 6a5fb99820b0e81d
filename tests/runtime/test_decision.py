"""receiver/runtime/decision.py: the decision object, its pinned response and its summary."""

from __future__ import annotations

import json

from receiver.dsl.values import Duration, Timestamp
from receiver.runtime.decision import Decision, RuleFailure, ShadowResult, TraceStep, dumps


def test_a_deny_answers_with_its_message() -> None:
    assert Decision("deny", "no").response() == {"action": "deny", "message": "no"}


def test_a_deny_without_a_message_answers_with_an_empty_message() -> None:
    assert Decision("deny").response() == {"action": "deny", "message": ""}


def test_a_deny_never_answers_with_data_even_when_it_holds_some() -> None:
    decision = Decision("deny", "no", data={"a": 1}, modified_by=["p/r"])
    assert decision.response() == {"action": "deny", "message": "no"}


def test_an_allow_without_modification_answers_without_data() -> None:
    assert Decision("allow", data={"a": 1}).response() == {"action": "allow"}


def test_an_allow_after_a_modification_answers_with_the_whole_data_as_json() -> None:
    decision = Decision(
        "allow", data={"t": Timestamp(0.0), "d": Duration(1.5), "n": [1]}, modified_by=["p/r"]
    )
    assert decision.response() == {
        "action": "allow",
        "data": {"t": "1970-01-01T00:00:00Z", "d": 1.5, "n": [1]},
    }


def test_modified_says_whether_any_rule_modified_the_data() -> None:
    assert not Decision("allow").modified
    assert Decision("allow", modified_by=["p/r"]).modified


def test_each_decision_has_lists_of_its_own() -> None:
    first, second = Decision("allow"), Decision("allow")
    first.modified_by.append("p/r")
    first.shadow.append(ShadowResult("p/s", "deny"))
    first.errors.append(RuleFailure("p/e", "boom", "f.yaml:1:1"))
    assert second.modified_by == [] and second.shadow == [] and second.errors == []


def test_the_summary_holds_everything_but_the_trace_as_json() -> None:
    decision = Decision(
        "deny",
        "no",
        rule="p/deny",
        modified_by=["p/mod"],
        shadow=[ShadowResult("p/s", "modify", None, {"text": "x"})],
        errors=[RuleFailure("p/e", "boom", "f.yaml:3:9", shadow=True)],
        degraded=True,
        trace=[TraceStep("p/deny", "deny", "enforce", "matched")],
    )
    summary = decision.summary()
    assert summary == {
        "action": "deny",
        "message": "no",
        "rule": "p/deny",
        "modified_by": ["p/mod"],
        "shadow": [{"rule": "p/s", "action": "modify", "message": None, "changes": {"text": "x"}}],
        "errors": [{"rule": "p/e", "message": "boom", "location": "f.yaml:3:9", "shadow": True}],
        "degraded": True,
    }
    assert json.loads(json.dumps(summary)) == summary


def test_the_summary_copies_the_modified_by_list() -> None:
    decision = Decision("allow", modified_by=["p/r"])
    decision.summary()["modified_by"].append("x")
    assert decision.modified_by == ["p/r"]


def test_dumps_is_compact_and_keeps_non_ascii_text() -> None:
    assert dumps({"a": "é", "b": [1, 2]}) == '{"a":"é","b":[1,2]}'


def test_dumps_escapes_everything_when_the_data_holds_a_lone_surrogate() -> None:
    text = dumps({"a": "\ud800", "b": "é"})
    assert text == '{"a":"\\ud800","b":"\\u00e9"}'
    text.encode("utf-8")  # the answer can be sent
