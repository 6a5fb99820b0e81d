"""Tests for receiver.compile.compiler: per-event trees, rules compiled once per rule set.

The differential property test checks that the indexed tree, the flat tree
(``index=False``) and the traced tree (``trace=True``) decide every generated
payload identically.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from compile_policies import (
    EVENT,
    NOW,
    checked,
    decide,
    outcome,
    policy_text,
    rule,
    switches,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from receiver.compile.compiler import TreeCompiler, compile_tree
from receiver.runtime.evaluator import evaluate
from receiver.runtime.payload import parse_event


def test_tree_compiler_compiles_a_rule_once_for_all_its_events() -> None:
    rules = checked(
        policy_text(
            "p",
            [
                rule("a", events="message.*", when="len(data.text) > 3"),
                rule("b", events="message.*", when='event == "message.shouldCreate" and data.x'),
            ],
        )
    )
    compiler = TreeCompiler(rules)
    create = compile_tree(rules, "message.shouldCreate", compiler=compiler)
    update = compile_tree(rules, "message.shouldUpdate", compiler=compiler)
    assert create.rules[0] is update.rules[0]
    assert [r.rule.id for r in update.rules] == ["a"]
    assert [r.id for r in update.dropped] == ["b"]
    assert decide(create, {"x": True, "text": "hi"}).rule == "p/b"
    assert decide(update, {"x": True, "text": "hi"}).rule is None


def test_tree_compiler_is_refused_for_other_rules() -> None:
    rules = checked(policy_text("p", [rule("a")]))
    with pytest.raises(ValueError, match="other rules"):
        compile_tree(list(rules), EVENT, compiler=TreeCompiler(rules))


# -- differential property test -------------------------------------------------------------

GATES = [
    'data.channelId == "c0"',
    'data.channelId == "c1"',
    '"c2" == data.channelId',
    'data.channelId in ["c0", "c2"]',
    "data.channelId in chans",
    "data.channelId == 3",
    'data.channelId == "2026-01-31T12:00:00Z"',
    'actor.role == "mod"',
    'actor.userId == "u1"',
    'actor.userId in ["u1", "u2"]',
    'data.kind == "a"',
    'data.kind in ["a", "b"]',
]
CONDITIONS = [
    "data.n > 2",
    "len(data.n) > 0",
    "data.flag",
    "profane(data.text)",
    'data.text contains "x"',
    'user.role == "mod"',
    "len(data.text) > 3",
    'data.channelId != "c1"',
    'data.channelId not in ["c0"]',
]
EFFECTS: list[dict[str, Any]] = [
    {"action": "deny", "message": "denied {data.channelId} {data.n}"},
    {"action": "deny"},
    {"action": "allow"},
    {"action": "modify", "set": {"data.channelId": '"c1"'}},
    {"action": "modify", "set": {"data.channelId": '"c0"', "data.n": "data.n + 1"}},
    {"action": "modify", "set": {"text": "upper(text)"}},
    {"action": "modify", "unset": ["data.channelId"]},
    {"action": "modify", "set": {"data.n": "len(data.text)"}},
    {"action": "modify", "set": {"data.kind": '"b"'}},
    {"action": "modify", "unset": ["data.kind"]},
    {"action": "modify", "set": {"data.channelId": "now()"}},
    {"action": "modify", "set": {"data.kind": "data.channelId", "data.channelId": '"c2"'}},
]


# Weighted choices for each part of a generated rule (repeats make a choice likelier).
GATE_CHOICES: list[str | None] = [None, None, *GATES, *GATES[:5], *GATES[:5]]  # mostly channels
CONDITION_CHOICES: list[str | None] = [None] * 9 + CONDITIONS
UNLESS_CHOICES: list[str | None] = [None] * 6 + ["data.n == 1", 'data.text == "skip"']
EFFECT_CHOICES = [*EFFECTS, *EFFECTS[:3], *EFFECTS[:3], *(EFFECTS[3:5] * 2), EFFECTS[6]]
MODE_CHOICES = ["enforce", "enforce", "enforce", "shadow"]


@st.composite
def rule_shapes(draw: st.DrawFn) -> dict[str, Any]:
    """A rule's fields: a gate and another condition (either order), unless, effect, mode."""
    parts = [draw(st.sampled_from(GATE_CHOICES)), draw(st.sampled_from(CONDITION_CHOICES))]
    if draw(st.booleans()):
        parts.reverse()
    shape: dict[str, Any] = {"events": EVENT}
    when = " and ".join(p for p in parts if p is not None)
    if when:
        shape["when"] = when
    unless = draw(st.sampled_from(UNLESS_CHOICES))
    if unless is not None:
        shape["unless"] = unless
    effect = draw(st.sampled_from(EFFECT_CHOICES))
    return {**shape, **effect, "mode": draw(st.sampled_from(MODE_CHOICES))}


def _yaml_rule(rule_id: str, shape: dict[str, Any]) -> str:
    """One rule as YAML text (JSON strings are YAML double-quoted scalars)."""
    lines = [f"  - id: {rule_id}"]
    for field, value in shape.items():
        if isinstance(value, dict):
            lines.append(f"    {field}:")
            lines.extend(f"      {k}: {json.dumps(v)}" for k, v in value.items())
        else:
            lines.append(f"    {field}: {json.dumps(value)}")
    return "\n".join(lines) + "\n"


@st.composite
def policy_sets(draw: st.DrawFn) -> list[str]:
    texts = []
    for p in range(draw(st.integers(1, 2))):
        shapes = draw(st.lists(rule_shapes(), min_size=1, max_size=12))
        priority = draw(st.integers(0, 2))
        on_error = draw(st.sampled_from(["skip", "deny"]))
        header = (
            f"policy: pol{p}\npriority: {priority}\non_error: {on_error}\n"
            "lists:\n  chans: [c1, c2]\nrules:\n"
        )
        texts.append(header + "".join(_yaml_rule(f"r{i}", s) for i, s in enumerate(shapes)))
    return texts


MISSING = object()
payloads = st.fixed_dictionaries(
    {
        "channelId": st.sampled_from(
            [MISSING, "c0", "c1", "c2", "c0", "c1", "c2", 3, 3.0, True, None, ["c0"], {"c": 1}]
        ),
        "n": st.sampled_from([MISSING, 0, 1, 5, "s"]),
        "text": st.sampled_from([MISSING, "hello", "x marks", "shit happens", "skip"]),
        "flag": st.sampled_from([MISSING, True, False, "yes"]),
        "kind": st.sampled_from([MISSING, "a", "b", "c", ["a"]]),
    }
).map(lambda d: {k: v for k, v in d.items() if v is not MISSING})
actors = st.sampled_from([{}, {"userId": "u1", "role": "mod"}, {"userId": "u2"}])
USERS = {"u1": {"role": "mod"}, "u2": {"role": "member"}}


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(texts=policy_sets(), cases=st.lists(st.tuples(payloads, actors), min_size=4, max_size=16))
def test_indexed_flat_and_traced_trees_decide_identically(
    texts: list[str], cases: list[tuple[dict[str, Any], dict[str, Any]]]
) -> None:
    rules = checked(*texts)
    indexed = compile_tree(rules, EVENT, index=True)
    flat = compile_tree(rules, EVENT, index=False)
    traced = compile_tree(rules, EVENT, trace=True)
    for data, actor in cases:
        expected = outcome(decide(flat, data, actor, USERS))
        assert outcome(decide(indexed, data, actor, USERS)) == expected
        assert outcome(decide(traced, data, actor, USERS)) == expected
        explained = parse_event({"eventName": EVENT, "data": data, "actor": actor})
        decision = evaluate(traced, explained, NOW, USERS.get, explain=True)
        assert outcome(decision) == expected
        order = {c.rule.qualified_id: n for n, c in enumerate(traced.rules)}
        listed = [order[step.rule] for step in decision.trace or []]
        assert listed == list(range(len(listed)))  # every rule considered, in order


def test_differential_generator_produces_switches() -> None:
    rules = checked(
        policy_text(
            "p",
            [rule("a", when=GATES[0]), rule("b", when=f"{GATES[1]} and {CONDITIONS[0]}")],
            lists={"chans": ["c1", "c2"]},
        )
    )
    assert len(switches(compile_tree(rules, EVENT))) == 1
