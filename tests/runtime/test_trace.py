"""receiver/runtime/trace.py: the Tracer that watches the one evaluation loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from receiver.dsl.values import Timestamp
from receiver.runtime.decision import Decision
from receiver.runtime.evaluator import evaluate
from receiver.runtime.payload import parse_event
from receiver.runtime.policyset import PolicySet, load_policies
from receiver.runtime.trace import Tracer

EVENT = "message.shouldCreate"
NOW = Timestamp(1_769_860_800.0)


def rule(rule_id: str, action: str = "deny", **fields: Any) -> dict[str, Any]:
    return {"id": rule_id, "events": EVENT, **fields, "action": action}


def load(tmp_path: Path, *rules: dict[str, Any]) -> PolicySet:
    doc = {"policy": "p", "rules": list(rules)}
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return load_policies([tmp_path])


def decide(
    policyset: PolicySet, data: dict[str, Any], *, explain: bool = False, traced: bool = True
) -> Decision:
    tree = policyset.traced_tree(EVENT) if traced else policyset.tree(EVENT)
    return evaluate(tree, parse_event({"eventName": EVENT, "data": data}), NOW, explain=explain)


def steps(decision: Decision) -> list[tuple[str, str, str]]:
    assert decision.trace is not None
    return [(s.rule, s.outcome, s.note) for s in decision.trace]


SWITCHED = tuple(rule(name, when=f'data.kind == "{name}"') for name in "abcd")


def test_explained_evaluation_gives_same_answer_and_traces_each_rule(tmp_path: Path) -> None:
    policyset = load(
        tmp_path,
        rule("tag", "modify", set={"data.t": "1"}),
        rule("quiet", when="len(data.text) > 5"),
        rule("block", when='data.text contains "x"', message="no"),
        rule("never", message="never reached"),
    )
    fast = decide(policyset, {"text": "x"}, traced=False)
    explained = decide(policyset, {"text": "x"}, explain=True)
    assert explained.response() == fast.response() == {"action": "deny", "message": "no"}
    assert explained.trace is not None
    assert [(s.rule, s.outcome) for s in explained.trace] == [
        ("p/tag", "matched"),
        ("p/quiet", "no match"),
        ("p/block", "matched"),
    ]
    assert ('data.text contains "x"', True) in explained.trace[2].values


def test_an_untraced_evaluation_has_no_trace(tmp_path: Path) -> None:
    assert decide(load(tmp_path, *SWITCHED), {"kind": "a"}).trace is None


def test_rules_a_switch_skipped_are_recorded_in_order_with_the_fields_value(
    tmp_path: Path,
) -> None:
    decision = decide(load(tmp_path, *SWITCHED), {"kind": "c"}, explain=True)
    assert steps(decision) == [
        ("p/a", "skipped", 'data.kind is "c"'),
        ("p/b", "skipped", 'data.kind is "c"'),
        ("p/c", "matched", ""),
    ]


def test_rules_skipped_after_the_last_rule_reached_are_recorded_at_the_end(
    tmp_path: Path,
) -> None:
    policyset = load(tmp_path, rule("first", when="data.n > 1"), *SWITCHED)
    decision = decide(policyset, {"kind": "z", "n": 0}, explain=True)
    assert steps(decision) == [("p/first", "no match", "")] + [
        (f"p/{name}", "skipped", 'data.kind is "z"') for name in "abcd"
    ]


def test_a_skipped_rules_note_cuts_a_long_field_value_to_120_characters(tmp_path: Path) -> None:
    decision = decide(load(tmp_path, *SWITCHED), {"kind": "k" * 300}, explain=True)
    assert decision.trace is not None
    note = decision.trace[0].note
    assert note.startswith('data.kind is "kkk') and note.endswith("...")
    assert len(note.removeprefix("data.kind is ")) == 120


def test_a_modify_says_what_it_changed_and_unset(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("tag", "modify", set={"data.t": '"1"'}, unset=["data.u"]))
    decision = decide(policyset, {"u": 1}, explain=True)
    assert steps(decision) == [("p/tag", "matched", 'changed data.t = "1", unset data.u')]


def test_values_after_a_modify_show_the_modified_data(tmp_path: Path) -> None:
    policyset = load(
        tmp_path,
        rule("early", when='data.text == "x"'),
        rule("rewrite", "modify", set={"data.text": '"new"'}),
        rule("late", when='data.text == "x"'),
    )
    decision = decide(policyset, {"text": "old"}, explain=True)
    assert decision.trace is not None
    assert ("data.text", "old") in decision.trace[0].values
    assert ("data.text", "new") in decision.trace[2].values


def test_a_tracer_on_a_tree_that_records_nothing_shows_no_values(tmp_path: Path) -> None:
    decision = decide(load(tmp_path, *SWITCHED), {"kind": "a"}, explain=True, traced=False)
    assert decision.trace is not None and decision.trace[0].values == ()
    assert decision.trace[0].outcome == "matched"


def test_a_tracer_serves_one_evaluation(tmp_path: Path) -> None:
    tree = load(tmp_path, *SWITCHED).traced_tree(EVENT)
    tracer = Tracer(tree)
    tracer.start(tree)
    with pytest.raises(RuntimeError, match="a tracer records one evaluation"):
        tracer.start(tree)


def test_a_failing_rule_is_recorded_as_an_error_at_the_failing_call(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("broken", when="len(data.n) > 1"))
    decision = decide(policyset, {"n": 5}, explain=True)
    path = tmp_path / "p.yaml"
    line = next(
        number
        for number, text in enumerate(path.read_text().splitlines(), start=1)
        if "len(" in text
    )
    column = path.read_text().splitlines()[line - 1].index("len(") + 1
    assert steps(decision) == [
        (
            "p/broken",
            "error",
            f"{path}:{line}:{column}: len() needs a string, list or map, got number; rule skipped",
        )
    ]


def test_a_sub_expression_run_several_times_shows_its_first_value_once(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r", when="count(data.l, it > data.n) > 5"))
    decision = decide(policyset, {"l": [1, -1, -2], "n": 0}, explain=True)
    assert decision.trace is not None
    texts = [text for text, _ in decision.trace[0].values]
    assert texts.count("it > data.n") == 1
    assert ("it > data.n", True) in decision.trace[0].values  # the first item's, not the last
