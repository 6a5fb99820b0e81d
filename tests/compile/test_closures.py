"""Tests for receiver.compile.closures: constant folding, call forms, memo slots.

Expressions are compiled inside rules (the closures' usual home) and decided; the
expression compiler itself is also driven directly where its mode is the subject.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from compile_policies import EVENT, checked, decide, policy_text, rule, tree_of

from receiver.compile.closures import ExpressionCompiler, MemoPlan, compile_expression
from receiver.compile.compiler import compile_tree
from receiver.dsl.context import Context
from receiver.dsl.values import Timestamp
from receiver.profanity import Matcher

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


# -- the expression compiler's mode ------------------------------------------------------


def set_expression(text: str) -> Any:
    rules = checked(policy_text("p", [rule("r", "modify", set={"data.out": text})]))
    return rules[0].sets[0][1]


def test_the_mode_is_given_at_construction_and_cannot_be_changed() -> None:
    compiler = ExpressionCompiler(EVENT, trace=True)
    for name, value in (("event", "other"), ("trace", False), ("memo", False), ("cache", {})):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(compiler, name, value)


def test_assuming_is_a_new_compiler_in_the_same_mode_sharing_plan_and_cache() -> None:
    node = set_expression("data.a and data.b")
    compiler = ExpressionCompiler(EVENT, plan=MemoPlan(), cache={})
    assuming = compiler.assuming({id(node.left): True}, frozenset({id(node)}))
    assert assuming is not compiler and compiler.known == {}
    assert (assuming.event, assuming.trace, assuming.memo) == (EVENT, False, True)
    assert assuming.plan is compiler.plan and assuming.cache is compiler.cache
    fn = assuming.fn(node)
    assert fn(Context(EVENT, {"a": False, "b": True}, {}, Timestamp(0.0), 0)) is True
    assert (
        compiler.fn(node)(Context(EVENT, {"a": False, "b": True}, {}, Timestamp(0.0), 0)) is False
    )


def test_event_folds_to_the_compilers_event() -> None:
    node = set_expression('event == "message.shouldCreate"')
    assert ExpressionCompiler(EVENT).compile(node)[1] is True
    assert ExpressionCompiler("post.shouldCreate").compile(node)[1] is False
    with pytest.raises(RuntimeError, match="without an event name"):
        ExpressionCompiler(None).compile(node)


def test_traced_closures_record_their_values() -> None:
    node = set_expression("lower(data.a)")
    ctx = Context(EVENT, {"a": "X"}, {}, Timestamp(0.0), 0)
    ctx.trace = []
    assert ExpressionCompiler(EVENT, trace=True, memo=False).fn(node)(ctx) == "x"
    assert [value for _, value in ctx.trace] == ["X", "x"]
    ctx.trace = []
    ExpressionCompiler(EVENT, memo=False).fn(node)(ctx)
    assert ctx.trace == []


def test_memo_plan_shares_calls_the_table_lets_it_memoise() -> None:
    plan = MemoPlan()
    plan.plan_sharing(
        [
            set_expression(t)
            for t in ("lower(data.a)", "lower(data.a)", "len(data.a)", "len(data.a)")
        ]
    )
    assert len(plan.shared) == 1  # len() is not memoised (Function.memo)
    assert plan.slots == {}  # slots are numbered as compiling asks for them


def test_compile_expression_needs_no_memo_slots() -> None:
    fn = compile_expression(set_expression("lower(data.a) + lower(data.a)"), EVENT)
    assert fn(Context(EVENT, {"a": "Ab"}, {}, Timestamp(0.0), 0)) == "abab"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("user_lookup_failed()", True),  # form "context": the context's field
        ("age(data.at)", "1m"),  # form "clock"
        ('regex_replace(data.a, "[0-9]", "#")', "a#"),  # form "pattern"
        ('contains_any(data.a, ["a1"])', True),  # form "phrases", constant list
        ("contains_any(data.a, data.list)", False),  # form "phrases", list per request
        ("censor(data.a)", "a1"),  # form "profanity"
        ("count(data.list, it == 'x')", 1),  # form "each"
    ],
)
def test_each_call_form_compiles(text: str, expected: object) -> None:
    ctx = Context(EVENT, {"a": "a1", "at": 0, "list": ["x", "y"]}, {}, Timestamp(60.0), 0)
    ctx.user_failed = True
    value = compile_expression(set_expression(text), EVENT)(ctx)
    assert (str(value) if text.startswith("age") else value) == expected
