"""receiver/runtime/explain.py: a traced decision rendered for people (``--explain``)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from receiver.compile.tree import EventTree
from receiver.dsl.values import Timestamp
from receiver.runtime.decision import Decision
from receiver.runtime.evaluator import evaluate
from receiver.runtime.explain import render_explanation
from receiver.runtime.payload import parse_event
from receiver.runtime.policyset import load_policies

EVENT = "message.shouldCreate"
NOW = Timestamp(0.0)


def explain(
    tmp_path: Path, rules: str, data: dict[str, object], counters: list[str] | None = None
) -> str:
    (tmp_path / "p.yaml").write_text(
        "policy: p\nrules:\n" + textwrap.indent(textwrap.dedent(rules), "  "), encoding="utf-8"
    )
    tree = load_policies([tmp_path]).traced_tree(EVENT)
    decision = evaluate(tree, parse_event({"eventName": EVENT, "data": data}), NOW, explain=True)
    return render_explanation(tree, decision, counters or ())


TWO_RULES = f"""\
- id: peek
  events: {EVENT}
  when: data.text contains "y"
  action: deny
  mode: shadow
  message: would
- id: block
  events: {EVENT}
  when: data.text contains "x"
  action: deny
  message: "no {{data.text}}"
"""


def test_a_deny_lists_each_rule_with_its_values_then_the_decision(tmp_path: Path) -> None:
    assert explain(tmp_path, TWO_RULES, {"text": "xy"}).splitlines() == [
        f"event {EVENT}: 2 rules apply",
        "  1. p/peek  deny (shadow): matched",
        '       data.text contains "y" = true',
        '       data.text = "xy"',
        "  2. p/block  deny: matched",
        '       data.text contains "x" = true',
        '       data.text = "xy"',
        "shadow: p/peek would deny: 'would'",
        "decision: deny by p/block: 'no xy'",
    ]


def test_an_allow_that_no_rule_ended_says_so(tmp_path: Path) -> None:
    text = explain(tmp_path, TWO_RULES, {"text": "a"})
    assert text.splitlines()[-1] == "decision: allow (no rule ended evaluation)"


def test_a_single_rule_is_counted_in_the_singular(tmp_path: Path) -> None:
    rules = f"- id: only\n  events: {EVENT}\n  action: allow\n"
    assert explain(tmp_path, rules, {}).splitlines() == [
        f"event {EVENT}: 1 rule applies",
        "  1. p/only  allow: matched",
        "decision: allow by p/only",
    ]


def test_rules_after_the_deciding_one_are_counted_as_not_reached(tmp_path: Path) -> None:
    rules = f"- id: first\n  events: {EVENT}\n  action: allow\n" + TWO_RULES
    assert (
        "     (2 later rule(s) not reached)" in explain(tmp_path, rules, {"text": "x"}).splitlines()
    )


def test_the_counter_lines_come_right_after_the_header(tmp_path: Path) -> None:
    lines = explain(tmp_path, TWO_RULES, {"text": "a"}, ["counters (memory):", '  p/c ["u"] = 1'])
    assert lines.splitlines()[:3] == [
        f"event {EVENT}: 2 rules apply",
        "counters (memory):",
        '  p/c ["u"] = 1',
    ]


def test_a_modification_names_its_changes_and_the_rules_that_modified(tmp_path: Path) -> None:
    rules = f"""\
    - id: tag
      events: {EVENT}
      action: modify
      set:
        data.t: '"1"'
    - id: look
      events: {EVENT}
      action: modify
      mode: shadow
      set:
        data.u: '2'
    """
    assert explain(tmp_path, rules, {}).splitlines() == [
        f"event {EVENT}: 2 rules apply",
        "  1. p/tag  modify: matched",
        '       -> changed data.t = "1"',
        "  2. p/look  modify (shadow): matched",
        "shadow: p/look would modify: data.u = 2",
        "decision: allow (no rule ended evaluation); data modified by p/tag",
    ]


def test_a_failing_rule_shows_where_it_failed(tmp_path: Path) -> None:
    rules = f"- id: broken\n  events: {EVENT}\n  when: len(data.n) > 1\n  action: deny\n"
    lines = explain(tmp_path, rules, {"n": 5}).splitlines()
    where = f"{tmp_path / 'p.yaml'}:5:11"  # len( in '    when: len(data.n) > 1'
    problem = "len() needs a string, list or map, got number"
    assert lines[1:] == [
        "  1. p/broken  deny: error",
        "       data.n = 5",
        f"       -> {where}: {problem}; rule skipped",
        f"error: p/broken: {where}: {problem}",
        "decision: allow (no rule ended evaluation)",
    ]


def test_long_values_are_cut_to_160_characters(tmp_path: Path) -> None:
    rules = f"- id: r\n  events: {EVENT}\n  when: len(data.text) > 0\n  action: deny\n"
    lines = explain(tmp_path, rules, {"text": "z" * 500}).splitlines()
    shown = next(line for line in lines if line.startswith("       data.text = "))
    value = shown.removeprefix("       data.text = ")
    assert len(value) == 160 and value.endswith("...") and value.startswith('"zzz')


def test_a_decision_without_a_trace_shows_only_header_and_decision() -> None:
    tree = EventTree(EVENT, (), ())
    assert render_explanation(tree, Decision("deny", "no", rule="p/r")).splitlines() == [
        f"event {EVENT}: 0 rules apply",
        "decision: deny by p/r: 'no'",
    ]
