"""Tests for receiver.compile.index: gates, and rules grouped into switches on a field."""

from __future__ import annotations

from typing import Any

from compile_policies import (
    EVENT,
    NOW,
    checked,
    checked_rules,
    decide,
    outcome,
    policy_text,
    rule,
    switches,
    tree_of,
)

from receiver.compile.compiler import compile_tree
from receiver.compile.index import gate_of, touches
from receiver.compile.tree import CompiledRule, Switch, render_tree
from receiver.runtime.evaluator import evaluate
from receiver.runtime.payload import parse_event


def fifty_channel_rules() -> list[dict[str, Any]]:
    return [
        rule(f"r{n}", when=f'data.channelId == "ch_{n}" and len(data.text) > {n}', message=f"{n}")
        for n in range(50)
    ]


def test_fifty_rules_gated_on_one_field_form_one_switch() -> None:
    tree = tree_of(*fifty_channel_rules())
    (switch,) = tree.steps
    assert isinstance(switch, Switch)
    assert switch.field == "data.channelId"
    assert len(switch.rules) == 50
    assert len(switch.table) == 50


def test_switch_tests_only_the_rules_for_the_field_value() -> None:
    tree = tree_of(*fifty_channel_rules())
    text = "x" * 40
    assert decide(tree, {"channelId": "ch_37", "text": text}).message == "37"
    assert decide(tree, {"channelId": "ch_45", "text": text}).action == "allow"
    assert decide(tree, {"channelId": "ch_99", "text": text}).action == "allow"
    assert decide(tree, {"text": text}).action == "allow"


def test_unindexed_tree_is_a_flat_rule_list() -> None:
    rules = checked(policy_text("p", fifty_channel_rules()))
    tree = compile_tree(rules, EVENT, index=False)
    assert switches(tree) == []
    assert len(tree.steps) == 50


def test_in_list_gates_join_the_switch_under_each_value() -> None:
    tree = tree_of(
        rule("ab", when='data.channelId in ["a", "b"]', message="ab"),
        rule("b", when='"b" == data.channelId', message="b"),
    )
    (switch,) = switches(tree)
    assert {k: [r.rule.id for r in v] for k, v in switch.table.items()} == {
        "a": ["ab"],
        "b": ["ab", "b"],
    }


def test_switch_keys_keep_language_equality_of_numbers_and_bools() -> None:
    tree = tree_of(
        rule("one", when="data.level == 1", message="one"),
        rule("yes", when="data.level == true", message="yes"),
    )
    assert len(switches(tree)) == 1
    assert decide(tree, {"level": 1.0}).message == "one"
    assert decide(tree, {"level": True}).message == "yes"
    assert decide(tree, {"level": "1"}).action == "allow"


def test_modify_changing_the_gate_field_ends_the_switch_run() -> None:
    tree = tree_of(
        rule("in-x", when='data.channelId == "x"', message="x"),
        rule("move", "modify", when='data.channelId == "a"', set={"data.channelId": '"b"'}),
        rule("in-b", when='data.channelId == "b"', message="moved to b"),
    )
    (switch,) = switches(tree)
    assert [r.rule.id for r in switch.rules] == ["in-x", "move"]
    assert decide(tree, {"channelId": "a"}).message == "moved to b"


def test_gate_after_a_conjunct_that_may_fail_is_not_indexed() -> None:
    tree = tree_of(
        rule("a", when='len(data.n) > 0 and data.channelId == "a"'),
        rule("b", when='data.channelId == "b"'),
        on_error="deny",
    )
    decision = decide(tree, {"n": 5, "channelId": "c"})
    assert decision.action == "deny"
    assert [e.rule for e in decision.errors] == ["p/a"]


def test_gate_after_conjuncts_that_cannot_fail_is_indexed() -> None:
    tree = tree_of(
        rule("a", when='data.kind != "bot" and data.channelId == "a"', message="a"),
        rule("b", when='data.channelId == "b"', message="b"),
    )
    assert len(switches(tree)) == 1
    assert decide(tree, {"kind": "human", "channelId": "a"}).message == "a"


def test_actor_fields_can_gate_a_switch() -> None:
    tree = tree_of(
        rule("a", when='actor.role == "guest"', message="guest"),
        rule("b", when='actor.role == "banned"', message="banned"),
    )
    assert switches(tree)[0].field == "actor.role"
    assert decide(tree, {}, actor={"role": "banned"}).message == "banned"


def test_ungated_rules_join_the_switch_region_in_every_branch() -> None:
    tree = tree_of(
        rule("a", when='data.channelId == "a"', message="a"),
        rule("long", when="len(data.text) > 3", message="long"),
        rule("b", when='data.channelId == "b"', message="b"),
    )
    (switch,) = tree.steps
    assert isinstance(switch, Switch)
    assert [r.rule.id for r in switch.rules] == ["a", "long", "b"]
    assert {k: [s.rule.id for s in v] for k, v in switch.table.items()} == {  # type: ignore[union-attr]
        "a": ["a", "long"],
        "b": ["long", "b"],
    }
    assert switch.table["a"][1] is switch.default[0]  # ungated rules are shared
    assert decide(tree, {"channelId": "b", "text": "hello"}).message == "long"
    assert decide(tree, {"channelId": "b", "text": "hi"}).message == "b"
    assert decide(tree, {"channelId": "c", "text": "hi"}).action == "allow"


def test_branch_rules_are_tested_without_their_gate() -> None:
    tree = tree_of(
        rule("a", when='data.channelId == "a" and len(data.text) > 3', message="a"),
        rule("b", when='data.channelId == "b"', message="b"),
    )
    (switch,) = switches(tree)
    gated_a, full_a = switch.table["a"][0], tree.rules[0]
    assert isinstance(gated_a, CompiledRule) and gated_a.rule is full_a.rule
    assert gated_a.test is not full_a.test
    assert switch.table["b"][0].test is None  # type: ignore[union-attr]  # gate was all
    assert decide(tree, {"channelId": "a", "text": "hello"}).message == "a"
    assert decide(tree, {"channelId": "b"}).message == "b"


def test_gate_free_test_keeps_the_error_of_a_non_boolean_rest() -> None:
    tree = tree_of(
        rule("a", when='data.channelId == "a" and data.n', message="a"),
        rule("b", when='data.channelId == "b"', message="b"),
    )
    flat = compile_tree(checked_rules(tree), EVENT, index=False)
    for data in ({"channelId": "a", "n": 5}, {"channelId": "a", "n": True}, {"channelId": "b"}):
        assert outcome(decide(tree, data)) == outcome(decide(flat, data))


def test_actor_run_nested_in_a_channel_switch_is_split_around_a_channel_rule() -> None:
    tree = tree_of(
        rule("c1", when='data.channelId == "c1"', message="c1"),
        rule("u1", when='actor.userId == "u1" and data.n > 1', message="u1"),
        rule("c2", when='data.channelId == "c2"', action="modify", set={"data.n": "5"}),
        rule("u2", when='actor.userId == "u1" and data.n > 2', message="u2"),
        rule("c3", when='data.channelId == "c3"', message="c3"),
    )
    (switch,) = tree.steps
    assert isinstance(switch, Switch) and switch.field == "data.channelId"
    (nested,) = [s for s in switch.default if isinstance(s, Switch)]
    assert nested.field == "actor.userId" and len(nested.rules) == 2
    assert nested in switch.table["c1"] and nested in switch.table["c3"]
    assert nested not in switch.table["c2"]  # c2 runs between u1 and u2
    assert decide(tree, {"channelId": "c2", "n": 0}, {"userId": "u1"}).message == "u2"
    assert decide(tree, {"channelId": "c3", "n": 0}, {"userId": "u1"}).message == "c3"
    rendered = render_tree(tree)
    assert "switch on data.channelId (3 rules, 3 values; 2 others run for every value)" in rendered
    assert "switch on actor.userId (2 rules, 1 value)" in rendered


def test_time_written_into_the_gated_field_is_matched_as_its_text() -> None:
    """Modifications store JSON values, so the switch sees the time's text."""
    tree = tree_of(
        rule("stamp", "modify", set={"data.channelId": "now()"}),
        rule("a", when='data.channelId == "2026-01-31T12:00:00Z"', message="stamped"),
        rule("b", when='data.channelId == "b"', message="b"),
    )
    assert len(switches(tree)) == 1
    assert decide(tree, {"channelId": "x"}).message == "stamped"


def test_explanation_lists_skipped_rules_in_order() -> None:
    rules = checked(
        policy_text(
            "p",
            [
                rule("a", when='data.channelId == "a"'),
                rule("long", when="len(data.text) > 3"),
                rule("b", when='data.channelId == "b"'),
                rule("c", when='data.channelId == "c"'),
            ],
        )
    )
    traced = compile_tree(rules, EVENT, trace=True)
    event = parse_event({"eventName": EVENT, "data": {"channelId": "b", "text": "hi"}})
    decision = evaluate(traced, event, NOW, explain=True)
    assert [(s.rule, s.outcome) for s in decision.trace or []] == [
        ("p/a", "skipped"),
        ("p/long", "no match"),
        ("p/b", "matched"),
    ]
    assert (decision.trace or [])[0].note == 'data.channelId is "b"'


# -- gate_of and touches, on their own -----------------------------------------------------


def only_rule(**fields: Any) -> Any:
    (found,) = checked(policy_text("p", [rule("r", **fields)], lists={"chans": ["a", "b"]}))
    return found


def test_gate_of_finds_the_equality_that_must_hold() -> None:
    gating = gate_of(only_rule(when='len(text) > 1 and "x" == data.channelId'))
    assert gating is None  # len() may fail before the gate: skipping would hide that
    gating = gate_of(only_rule(when='data.kind == "k" and data.channelId in chans'))
    assert gating is not None
    assert (gating.gate.root, gating.gate.keys, gating.gate.values) == ("data", ("kind",), {"k"})
    assert gating.gate.text == 'data.kind == "k"'


def test_gate_of_reads_in_lists_and_refuses_computed_ones() -> None:
    gating = gate_of(only_rule(when="actor.role in chans"))
    assert gating is not None and gating.gate.values == {"a", "b"}
    assert gate_of(only_rule(when="data.kind in [data.a]")) is None
    assert gate_of(only_rule(when="data.kind == null")) is None
    assert gate_of(only_rule()) is None


def test_touches_says_whether_an_enforced_modify_may_change_the_field() -> None:
    setting = only_rule(action="modify", set={"data.channelId": '"x"'})
    assert touches(setting, ("data", ("channelId",)))
    assert not touches(setting, ("data", ("kind",)))
    assert not touches(setting, ("actor", ("channelId",)))
    whole = only_rule(action="modify", set={"data.meta": "{}"})
    assert touches(whole, ("data", ("meta", "channelId")))
    text = only_rule(action="modify", set={"text": '"x"'})
    assert touches(text, ("data", ("data", "text"))) and touches(text, ("data", ("text",)))
    shadow = only_rule(action="modify", mode="shadow", set={"data.channelId": '"x"'})
    assert not touches(shadow, ("data", ("channelId",)))
