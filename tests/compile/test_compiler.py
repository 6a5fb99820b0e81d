"""Tests for receiver.compile.compiler: constant folding, shared sub-expressions and indexing.

The differential property test checks that the indexed tree, the flat tree
(``index=False``) and the traced tree (``trace=True``) decide every generated
payload identically.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from receiver.check.checker import check
from receiver.check.model import CheckedRule, compile_regex
from receiver.compile.compiler import TreeCompiler, compile_tree
from receiver.compile.tree import CompiledRule, EventTree, Switch, render_tree
from receiver.dsl.regexfilter import required_literals
from receiver.dsl.values import Timestamp
from receiver.load.loader import load_text
from receiver.profanity import Matcher
from receiver.runtime.decision import Decision
from receiver.runtime.evaluator import evaluate
from receiver.runtime.payload import parse_event
from receiver.text.diagnostics import Diagnostics

EVENT = "message.shouldCreate"
NOW = Timestamp(1_769_860_800.0)  # 2026-01-31T12:00:00Z


# -- helpers -----------------------------------------------------------------------------


def rule(rule_id: str, action: str = "deny", **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": rule_id, "events": fields.pop("events", EVENT)}
    out.update(fields)
    out["action"] = action
    return out


def policy_text(name: str, rules: list[dict[str, Any]], **options: Any) -> str:
    doc = {"policy": name, **options, "rules": rules}
    return yaml.safe_dump(doc, sort_keys=False, width=1_000_000)


def checked(*texts: str) -> list[CheckedRule]:
    """Checked rules (in evaluation order) of policy texts named p0.yaml, p1.yaml, ..."""
    diags = Diagnostics()
    documents = [load_text(f"p{i}.yaml", text, diags) for i, text in enumerate(texts)]
    result = check([d for d in documents if d is not None], diags)
    assert not diags.has_errors, [d.render() for d in diags.sorted()]
    return result.rules


def tree_of(*rules: dict[str, Any], event: str = EVENT, **options: Any) -> EventTree:
    return compile_tree(checked(policy_text("p", list(rules), **options)), event)


def decide(
    tree: EventTree,
    data: dict[str, Any],
    actor: dict[str, Any] | None = None,
    users: Mapping[str, Mapping[str, Any]] | None = None,
) -> Decision:
    event = parse_event({"eventName": tree.event, "data": data, "actor": actor or {}})
    records = users or {}
    return evaluate(tree, event, NOW, records.get)


def switches(tree: EventTree) -> list[Switch]:
    return [step for step in tree.steps if isinstance(step, Switch)]


# -- constant folding --------------------------------------------------------------------


def test_event_comparison_folds_to_always_true_for_its_event() -> None:
    rules = checked(
        policy_text("p", [rule("r", events="message.*", when='event == "message.shouldCreate"')])
    )
    tree = compile_tree(rules, "message.shouldCreate")
    (compiled,) = tree.rules
    assert compiled.test is None
    assert tree.dropped == ()


def test_rule_whose_condition_folds_to_false_is_dropped_for_that_event() -> None:
    rules = checked(
        policy_text(
            "p",
            [rule("r", events="message.*", when='event == "message.shouldCreate" and data.x')],
        )
    )
    tree = compile_tree(rules, "message.shouldUpdate")
    assert tree.rules == ()
    assert [r.qualified_id for r in tree.dropped] == ["p/r"]


def test_constant_subexpressions_fold_away() -> None:
    tree = tree_of(rule("r", when='len("abc") == 3 and lower("X") == "x"'))
    (compiled,) = tree.rules
    assert compiled.test is None


def test_unless_folding_to_true_drops_the_rule() -> None:
    tree = tree_of(rule("r", when="data.x", unless='event startswith "message."'))
    assert [r.qualified_id for r in tree.dropped] == ["p/r"]


def test_failing_constant_expression_is_not_folded_but_fails_at_run_time() -> None:
    tree = tree_of(rule("r", when="1 / 0 > 1"))
    decision = decide(tree, {})
    assert decision.action == "allow"
    assert [e.message for e in decision.errors] == ["division by zero"]


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


# -- regex prefilter ---------------------------------------------------------------------


def literals(pattern: str) -> tuple[tuple[str, ...], bool] | None:
    found = required_literals(pattern)
    return None if found is None else (found.literals, found.ignore_case)


def test_required_literals_of_plain_patterns() -> None:
    assert literals(r"(?i)\bkaka[a-z]*[0-9]{2,}") == (("kaka",), True)
    assert literals(r"^hello+") == (("hello",), False)
    assert literals(r"hello?") == (("hell",), False)
    assert literals(r"kaka+S") == (("kaka",), False)  # after a repeat, "S" need not follow one "a"
    assert literals(r"ka(ka){1}S") == (("ka",), False)
    assert literals(r"\d+abc") == (("abc",), False)
    assert literals(r"[+]1 ?[0-9]{3}") == (("+1",), False)


def test_required_literals_of_alternations() -> None:
    assert literals(r"ab|cd") == (("ab", "cd"), False)
    assert literals(r"(?i)\b(admins?|administrators?|moderators?|official)\b") == (
        ("administrator", "moderator", "official", "admin"),
        True,
    )
    invite = (
        r"(?i)\b(discord\.gg/|discord(app)?\.com/invite/|t\.me/(joinchat/|[+])"
        r"|chat\.whatsapp\.com/)[A-Za-z0-9_-]{2,}"
    )
    assert literals(invite) == (
        ("chat.whatsapp.com/", ".com/invite/", "discord.gg/", "t.me/"),
        True,
    )


@pytest.mark.parametrize(
    "pattern",
    [r"(?s)abcd", r"abcd(?i)e", r"ab*", r"ab|c", r"a|", r"(?i:abc)", r"\Qabc\E", r"(abc", r"abc)",
     r"x{,3}abc", "\u00e9t\u00e9", r"a.b.c"],
)  # fmt: skip
def test_no_required_literals_when_unsure_or_too_short(pattern: str) -> None:
    assert required_literals(pattern) is None


PATTERN_PARTS = st.tuples(
    st.sampled_from(["", "(?i)"]),
    st.sampled_from(["", "^", "\\b", "^\\b"]),
    st.sampled_from(["kaka", "Kas", "sKy1", "ab_c", "xyz", "(ka|sky)", "(?:ab|c\\.z)+", "k[a]s"]),
    st.sampled_from(["", "*", "?", "+", "{0,2}", "{2,}", "{1}", "+?"]),
    st.sampled_from(["", "[a-z]*", "[0-9]{2,}", "\\b", "|q", "|qz", ".", "(x|yz)?", "S"]),
)
REGEX_TEXTS = st.lists(
    st.sampled_from(["ka", "kaka", "KAKA", "a", "s", "sky", "sKy1", "Kas", "ab_c", "qz", "q",
                     "xyz", "yz", " ", ".", "ab", "c.z", "x", "S", "1", "-", "\u00e9", "\u212a",
                     "\u017f"]),
    max_size=6,
).map("".join)  # fmt: skip


@settings(max_examples=600, deadline=None)
@given(parts=PATTERN_PARTS, data=st.data())
def test_a_regex_match_always_contains_a_required_literal(
    parts: tuple[str, str, str, str, str], data: st.DataObject
) -> None:
    pattern = "".join(parts)
    found = required_literals(pattern)
    if found is None:
        return
    # texts the pattern matches (drawn from the pattern itself, Python's syntax being the
    # same here), or texts made of the pieces patterns are made of
    text = data.draw(st.from_regex(pattern) | REGEX_TEXTS)
    if compile_regex(pattern).search(text) is None:
        return
    if found.ignore_case:
        assert not text.isascii() or any(lit in text.lower() for lit in found.literals)
    else:
        assert any(lit in text for lit in found.literals)


def test_matches_with_a_required_literal_decides_like_the_regex() -> None:
    tree = tree_of(rule("r", when=r'text matches "(?i)\\bkaka[a-z]*[0-9]{2,}"', message="m"))
    assert decide(tree, {"text": "hi KAKAbu12"}).action == "deny"
    assert decide(tree, {"text": "hi kaka1"}).action == "allow"
    assert decide(tree, {"text": "hi kak12"}).action == "allow"
    kelvin = tree_of(rule("r", when='text matches "(?i)kaka"', message="m"))
    assert decide(kelvin, {"text": "\u212aaka"}).action == "deny"  # RE2 folds the Kelvin sign


# -- shared sub-expressions ----------------------------------------------------------------


def profane_policy() -> tuple[dict[str, Any], ...]:
    return (
        rule("a", when='profane(data.text) and data.channelId == "kids"', message="kids"),
        rule("b", "modify", mode="shadow", when="profane(data.text)", set={"data.flag": "true"}),
        rule("c", when="profane(data.text) and len(data.text) > 100", message="long"),
    )


def test_call_repeated_in_three_rules_gets_one_memo_slot() -> None:
    tree = tree_of(*profane_policy())
    assert tree.memo_size == 1
    assert tree.data_slots == (0,)


def test_shared_call_is_computed_once_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = Matcher.contains

    def counting(self: Matcher, text: str) -> bool:
        calls.append(text)
        return original(self, text)

    # Patched before compiling: the compiler binds the matcher's method at load time.
    monkeypatch.setattr(Matcher, "contains", counting)
    tree = tree_of(*profane_policy())
    decision = decide(tree, {"text": "what the shit", "channelId": "general"})
    assert decision.shadow[0].rule == "p/b"
    assert calls == ["what the shit"]
    decide(tree, {"text": "hello", "channelId": "general"})
    assert calls == ["what the shit", "hello"]


def test_call_used_once_gets_no_memo_slot() -> None:
    tree = tree_of(rule("a", when="profane(data.text)"), rule("b", when="len(data.text) > 3"))
    assert tree.memo_size == 0


def test_length_is_taken_again_rather_than_memoized() -> None:
    tree = tree_of(rule("a", when="len(data.text) > 3"), rule("b", when="len(data.text) > 5"))
    assert tree.memo_size == 0
    assert decide(tree, {"text": "four"}).rule == "p/a"


def test_memo_slot_not_reading_data_survives_modifications() -> None:
    tree = tree_of(
        rule("a", when='lower(actor.name) == "x"'),
        rule("b", when='lower(actor.name) == "y"'),
    )
    assert tree.memo_size == 1
    assert tree.data_slots == ()


def test_memo_slot_reading_data_is_cleared_after_modify() -> None:
    tree = tree_of(
        rule("short", when="len(trim(data.text)) > 10", message="too long at first"),
        rule("grow", "modify", set={"data.text": '"a much longer text than before"'}),
        rule("long", when="len(trim(data.text)) > 10", message="{len(data.text)} characters now"),
    )
    assert tree.memo_size == 1
    decision = decide(tree, {"text": "short"})
    assert decision.response() == {"action": "deny", "message": "30 characters now"}


def test_memo_slot_reading_text_is_cleared_after_modify() -> None:
    tree = tree_of(
        rule("a", when="upper(text) == 'HELLO'", message="first"),
        rule("m", "modify", set={"text": '"hello"'}),
        rule("b", when="upper(text) == 'HELLO'", message="after change"),
    )
    assert tree.data_slots == (0,)
    assert decide(tree, {"data": {"text": "bye"}}).message == "after change"


def test_calls_reading_it_are_not_memoized() -> None:
    tree = tree_of(
        rule("a", when='any(words(data.text), lower(it) == "x")'),
        rule("b", when='any(words(data.text), lower(it) == "y")'),
    )
    assert tree.memo_size == 1  # words(data.text) only
    assert decide(tree, {"text": "a Y b"}).rule == "p/b"


# -- indexing ----------------------------------------------------------------------------


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


def checked_rules(tree: EventTree) -> list[CheckedRule]:
    return [compiled.rule for compiled in tree.rules]


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


def outcome(decision: Decision) -> tuple[object, ...]:
    return (
        decision.response(),
        decision.rule,
        decision.modified_by,
        [(s.rule, s.action, s.message, s.changes) for s in decision.shadow],
        [(e.rule, e.message, e.location, e.shadow) for e in decision.errors],
    )


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


# -- regex_replace -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "replacement", "text", "expected"),
    [
        ("[^\\\\p{L}]+", "", "Héllo, wörld! 42", "Héllowörld"),  # per character (translate)
        ("[aeiou]", "é", "banana", "bénéné"),  # non-ASCII replacement, per character
        ("na", "ñ€", "banana", "bañ€ñ€"),  # non-ASCII replacement through RE2's sub
        ("\\\\s+", "\\\\1", "a  b", "a\\1b"),  # backslashes are literal
    ],
)
def test_regex_replace_writes_its_replacement_literally(
    pattern: str, replacement: str, text: str, expected: str
) -> None:
    tree = tree_of(
        rule(
            "r",
            "modify",
            set={"data.out": f'regex_replace(data.text, "{pattern}", "{replacement}")'},
        )
    )
    decision = decide(tree, {"text": text})
    assert decision.data is not None and decision.data["out"] == expected
