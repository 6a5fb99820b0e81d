"""receiver/testing/expectations.py: the ``expect:`` of a case, read into an Expectation."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.testing.model import ANY_ERRORS, Expectation
from receiver.testing.reader import read_text
from receiver.text.diagnostics import Diagnostics


def expect(tmp_path: Path, text: str) -> tuple[Expectation | None, list[str]]:
    """The expectation of a one-case file whose ``expect:`` is ``text``; the problems."""
    diags = Diagnostics()
    suite = read_text(
        tmp_path / "x.test.yaml",
        f"cases:\n  - name: c\n    event: message.shouldCreate\n    expect: {text}\n",
        diags,
    )
    problems = [f"{d.span and d.span.column}:{d.code}:{d.message}" for d in diags]
    if suite is None or not suite.cases:
        return None, problems
    return suite.cases[0].expect, problems


@pytest.mark.parametrize("verdict", ["allow", "deny"])
def test_a_verdict_alone_is_the_expected_action(tmp_path: Path, verdict: str) -> None:
    found, problems = expect(tmp_path, verdict)
    assert problems == []
    assert found is not None and found.action == verdict
    assert found.message is None and found.rule is None and not found.rule_given


def test_a_map_of_expectations_is_read_field_by_field(tmp_path: Path) -> None:
    found, problems = expect(
        tmp_path,
        "{action: deny, message: No., message_contains: [N, o], rule: links/block,"
        " status: 409, reason_code: 50123, errors: [other/rule]}",
    )
    assert problems == []
    assert found is not None
    assert (found.action, found.message, found.message_contains) == ("deny", "No.", ("N", "o"))
    assert found.rule is not None and found.rule.written == "links/block"
    assert (found.status, found.status_given) == (409, True)
    assert (found.reason_code, found.reason_code_given) == (50123, True)
    assert isinstance(found.errors, list) and [e.written for e in found.errors] == ["other/rule"]


def test_an_allow_expects_data_and_modifying_rules(tmp_path: Path) -> None:
    found, problems = expect(tmp_path, "{action: allow, data: {text: '****'}, modified_by: censor}")
    assert problems == []
    assert found is not None
    assert found.data == {"text": "****"}
    assert found.modified_by is not None and [r.written for r in found.modified_by] == ["censor"]


def test_none_words_expect_nothing(tmp_path: Path) -> None:
    found, problems = expect(tmp_path, "{action: allow, rule: none, modified_by: [], shadow: ~}")
    assert problems == []
    assert found is not None
    assert found.rule is None and found.rule_given
    assert found.modified_by == [] and found.shadow == []


def test_errors_any_accepts_whatever_fails(tmp_path: Path) -> None:
    found, _ = expect(tmp_path, "{action: allow, errors: any}")
    assert found is not None and found.errors == ANY_ERRORS


def test_shadow_entries_are_rule_ids_or_maps(tmp_path: Path) -> None:
    found, problems = expect(
        tmp_path,
        "{action: allow, shadow: [trial, {rule: strict, action: modify, message_contains: x}]}",
    )
    assert problems == []
    assert found is not None and found.shadow is not None
    plain, detailed = found.shadow
    assert (plain.rule.written, plain.action) == ("trial", None)
    assert (detailed.rule.written, detailed.action, detailed.message_contains) == (
        "strict",
        "modify",
        ("x",),
    )


def test_answer_is_any_json_value_and_may_be_null(tmp_path: Path) -> None:
    found, _ = expect(tmp_path, "{answer: null}")
    assert found is not None and found.answer is None and found.answer_given
    found, _ = expect(tmp_path, "{answer: {action: allow}}")
    assert found is not None and found.answer == {"action": "allow"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("alow", "'expect' must be allow, deny or a map of expectations; did you mean 'allow'?"),
        ("{}", "'expect' is empty; say at least 'action'"),
        ("{action: modify}", "(the answer to the platform is allow or deny"),
        ("{action: allow, message: x}", "'message' only applies when the answer is deny"),
        ("{action: deny, data: {a: 1}}", "'data' only applies when the answer is allow"),
        (
            "{message: x, data_contains: {a: 1}}",
            "'message' (a deny) and 'data_contains' (an allow)",
        ),
        ("{status: high}", "'status' must be a whole number (or none)"),
        ("{shadow: [{action: deny}]}", "this 'shadow' entry has no 'rule'"),
        ("{shadow: [{rule: r, action: maybe}]}", "a shadow 'action' must be allow, deny or modify"),
    ],
)
def test_expectations_that_cannot_hold_are_reported(
    tmp_path: Path, text: str, problem: str
) -> None:
    found, problems = expect(tmp_path, text)
    assert found is None
    assert any(problem in p for p in problems), problems
