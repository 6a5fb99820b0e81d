"""Tests for receiver.check.counters: what a counter's expressions may read.

(Named test_check_counters: tests/counters/test_counters.py holds the counter service's.)
A counter's key, distinct and when are computed before the rules run, so they may not
read what is known only then; which calls read it comes from the function table.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.dsl.functions import FUNCTIONS
from receiver.runtime.policyset import check_paths


def errors(tmp_path: Path, field: str, expr: str) -> list[tuple[str, str, int, int]]:
    fields = {"key": "actor.userId", field: expr}
    declared = "".join(f"      {name}: '{value}'\n" for name, value in fields.items())
    (tmp_path / "p.yaml").write_text(
        "policy: p\ncounters:\n  c:\n    events: message.shouldCreate\n    window: 1m\n"
        + declared.replace("      ", "    ")
        + "rules:\n  - id: r\n    events: message.shouldCreate\n    when: c > 1\n"
        "    action: deny\n",
        encoding="utf-8",
    )
    report = check_paths([tmp_path])
    return [
        (d.code, d.message, d.span.line, d.span.column)
        for d in report.diagnostics
        if d.severity == "error" and d.span is not None
    ]


@pytest.mark.parametrize(
    ("field", "expr", "message"),
    [
        (
            "key",
            "user.id",
            "a counter's 'key' cannot read 'user': the user record is looked up only when a "
            "rule needs it; use actor.userId",
        ),
        (
            "when",
            "user_lookup_failed()",
            "a counter's 'when' cannot call user_lookup_failed(): the user record is looked up "
            "only when a rule needs it",
        ),
        (
            "distinct",
            "counters_unavailable()",
            "a counter's 'distinct' cannot call counters_unavailable(): counter values are not "
            "known yet when keys are computed",
        ),
    ],
)
def test_inputs_known_only_when_rules_run_are_refused(
    tmp_path: Path, field: str, expr: str, message: str
) -> None:
    found = errors(tmp_path, field, expr)
    assert [(code, text) for code, text, _, _ in found] == [("counter-input", message)]


def test_the_refusal_points_at_the_call(tmp_path: Path) -> None:
    ((_, _, line, column),) = errors(tmp_path, "when", "data.x and user_lookup_failed()")
    assert (line, column) == (7, 23)  # after "    when: 'data.x and ", 22 characters


def test_every_call_that_reads_user_or_counters_is_refused(tmp_path: Path) -> None:
    late = [n for n, f in FUNCTIONS.items() if f.reads & {"user", "counters"}]
    assert sorted(late) == ["counters_unavailable", "user_lookup_failed"]
    for name in late:
        found = errors(tmp_path, "when", f"{name}()")
        assert [code for code, *_ in found] == ["counter-input"], name


@pytest.mark.parametrize("expr", ["now() > 0", "age(data.at) > 1h", 'lower(actor.name) == "x"'])
def test_calls_reading_only_the_clock_or_the_event_are_allowed(tmp_path: Path, expr: str) -> None:
    assert errors(tmp_path, "when", expr) == []
