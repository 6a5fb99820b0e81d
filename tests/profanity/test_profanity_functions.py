"""profane(), censor() and normalize() in policies: keyword arguments end to end.

Parsing (``f(x, key=value)``), checking (which keywords a function takes, constant
values, did-you-mean, positions), compiling (one matcher per configuration, built at
load; common sub-expressions keep keyword arguments apart) and evaluating.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from receiver import profanity
from receiver.check.checker import check
from receiver.compile.compiler import compile_tree
from receiver.compile.tree import EventTree
from receiver.dsl import ast
from receiver.dsl.analysis import structural_key
from receiver.dsl.parser import ExprSource, parse_expression
from receiver.dsl.values import Timestamp
from receiver.load.loader import load_text
from receiver.runtime.evaluator import evaluate
from receiver.runtime.payload import parse_event
from receiver.runtime.policyset import check_paths
from receiver.text.diagnostics import Diagnostics
from receiver.text.source import SourceFile

EVENT = "message.shouldCreate"
NOW = Timestamp(1_769_860_800.0)


def parse(text: str) -> tuple[ast.Node | None, list[str]]:
    diags = Diagnostics()
    node = parse_expression(ExprSource.contiguous(SourceFile("x", text), text, 0), diags)
    return node, [d.message for d in diags.items]


def policy(*rules: dict[str, Any], lists: dict[str, list[Any]] | None = None) -> str:
    doc: dict[str, Any] = {"policy": "p"}
    if lists:
        doc["lists"] = lists
    doc["rules"] = [{"id": f"r{i}", "events": EVENT, **r} for i, r in enumerate(rules)]
    return yaml.safe_dump(doc, sort_keys=False, width=1_000_000)


def tree(*rules: dict[str, Any], lists: dict[str, list[Any]] | None = None) -> EventTree:
    diags = Diagnostics()
    document = load_text("p.yaml", policy(*rules, lists=lists), diags)
    assert document is not None
    result = check([document], diags)
    assert not diags.has_errors, [d.render() for d in diags.sorted()]
    return compile_tree(result.rules, EVENT)


def answer(compiled: EventTree, text: str) -> dict[str, Any]:
    event = parse_event({"eventName": EVENT, "data": {"text": text}, "actor": {}})
    return dict(evaluate(compiled, event, NOW).response())


def problems(tmp_path: Path, when: str, **lists: list[Any]) -> list[tuple[str, str, str]]:
    """The errors of a one-rule policy; positions as ``+OFFSET`` into ``when``."""
    text = policy({"when": when, "action": "deny"}, lists=lists or None)
    (tmp_path / "p.yaml").write_text(text, encoding="utf-8")
    lines = text.splitlines()
    line = next(i for i, t in enumerate(lines, 1) if t.lstrip().startswith("when: "))
    start = lines[line - 1].index("when: ") + len("when: ") + 1
    return [
        (f"+{d.span.column - start}" if d.span and d.span.line == line else "?", d.code, d.message)
        for d in check_paths([tmp_path]).diagnostics
        if d.severity == "error"
    ]


def column(when: str, part: str) -> str:
    """Where ``part`` starts in ``when``, as :func:`problems` reports positions."""
    return f"+{when.index(part)}"


# -- parsing ------------------------------------------------------------------------------------


def test_keyword_arguments_follow_positional_ones() -> None:
    node, errors = parse("profane(data.text, words=extra, strict=true)")
    assert errors == []
    assert isinstance(node, ast.Call)
    assert [a.span.text for a in node.args] == ["data.text"]
    assert [(k, v.span.text) for k, v in node.kwargs] == [("words", "extra"), ("strict", "true")]
    assert [s.text for s in node.kwarg_spans] == ["words", "strict"]


def test_a_trailing_comma_after_keyword_arguments_is_fine() -> None:
    node, errors = parse("censor(text, allow=['hell'],)")
    assert errors == []
    assert isinstance(node, ast.Call) and [k for k, _ in node.kwargs] == ["allow"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("profane(strict=true, text)", "a positional argument cannot follow keyword arguments"),
        ("profane(text, strict=true, strict=false)", "keyword argument 'strict' is given twice"),
        ("a = b", "'=' is assignment; use '==' to compare"),
        ("[a = 1]", "'=' is assignment; use '==' to compare"),
    ],
)
def test_keyword_argument_syntax_errors(text: str, message: str) -> None:
    node, errors = parse(text)
    assert node is None
    assert len(errors) == 1 and errors[0].startswith(message)


def test_calls_without_keywords_are_as_before() -> None:
    node, _ = parse("len(text)")
    assert isinstance(node, ast.Call) and node.kwargs == () and node.kwarg_spans == ()
    assert ast.children(node) == node.args


# -- checking -----------------------------------------------------------------------------------


def test_an_unknown_keyword_suggests_a_close_one(tmp_path: Path) -> None:
    when = "profane(text, strct=true)"
    assert problems(tmp_path, when) == [
        (
            column(when, "strct"),
            "unknown-keyword",
            "profane() has no keyword argument 'strct'; did you mean 'strict'?",
        )
    ]


def test_an_unknown_keyword_without_a_close_one_lists_them(tmp_path: Path) -> None:
    when = "censor(text, banana=true) == ''"
    [(_, code, message)] = problems(tmp_path, when)
    assert code == "unknown-keyword"
    assert message == "censor() has no keyword argument 'banana'; it takes words, allow, strict"


def test_a_function_without_keywords_says_so(tmp_path: Path) -> None:
    when = "len(text, strict=true) > 1"
    assert problems(tmp_path, when) == [
        (column(when, "strict"), "unknown-keyword", "len() takes no keyword arguments")
    ]


@pytest.mark.parametrize(
    ("when", "bad"),
    [
        ("profane(text, strict=data.strict)", "data.strict"),
        ("profane(text, strict='yes')", "'yes'"),
        ("profane(text, words=data.words)", "data.words"),
        ("profane(text, words=[data.x])", "[data.x]"),
        ("profane(text, words=[1, 2])", "[1, 2]"),
        ("profane(text, allow=numbers)", "numbers"),
    ],
)
def test_keyword_values_must_be_constants_of_their_kind(
    tmp_path: Path, when: str, bad: str
) -> None:
    [(where, code, message)] = problems(tmp_path, when, numbers=[1, 2])
    assert (where, code) == (column(when, bad), "keyword-not-constant")
    assert message.startswith("profane() ")


def test_constant_keyword_values_check_cleanly(tmp_path: Path) -> None:
    when = (
        "profane(text, words=extra, allow=['hell'], strict=true) "
        "and censor(text, strict=false, words=['zorp']) != ''"
    )
    assert problems(tmp_path, when, extra=["frobnitz"]) == []


def test_a_list_used_only_as_a_keyword_argument_is_used(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(
        policy({"when": "profane(text, words=extra)", "action": "deny"}, lists={"extra": ["x"]}),
        encoding="utf-8",
    )
    assert [d.code for d in check_paths([tmp_path]).diagnostics] == []


def test_keyword_values_of_unknown_functions_are_still_checked(tmp_path: Path) -> None:
    codes = [code for _, code, _ in problems(tmp_path, "profain(text, words=nope)")]
    assert codes == ["unknown-function", "unknown-name"]


# -- compiling and evaluating ---------------------------------------------------------------------


def test_policy_words_and_allowed_words() -> None:
    compiled = tree(
        {
            "when": "profane(text, words=extra, allow=local)",
            "action": "deny",
            "message": "no",
        },
        lists={"extra": ["frobnitz"], "local": ["hell"]},
    )
    assert answer(compiled, "what the frobnitz")["action"] == "deny"
    assert answer(compiled, "go to hell")["action"] == "allow"
    assert answer(compiled, "shit")["action"] == "deny"


def test_strict_mode_sees_through_evasions_and_censors_the_original_characters() -> None:
    compiled = tree(
        {
            "when": "profane(text, strict=true)",
            "action": "modify",
            "set": {"text": "censor(text, strict=true)"},
        }
    )
    assert answer(compiled, "hello there") == {"action": "allow"}
    for evasion in ("oh fuuuuck", "oh f.u.c.k", "oh ｆｕｃｋ", "oh fu\u200bck", "oh fuсk"):
        assert answer(compiled, evasion) == {"action": "allow", "data": {"text": "oh ****"}}


def test_normal_mode_keeps_better_profanity_answers() -> None:
    compiled = tree({"when": "profane(text)", "action": "deny", "message": "no"})
    assert answer(compiled, "fuuuuck")["action"] == "allow"  # better-profanity misses it
    assert answer(compiled, "f*ck")["action"] == "deny"


def test_normalize_is_a_function() -> None:
    compiled = tree({"when": 'normalize(text) contains "fuck"', "action": "deny"})
    assert answer(compiled, "ＦＵ\u200bＣＫ")["action"] == "deny"
    assert answer(compiled, "fork")["action"] == "allow"


def test_the_same_call_with_other_keywords_is_another_subexpression() -> None:
    plain, _ = parse("profane(text)")
    strict, _ = parse("profane(text, strict=true)")
    strict_again, _ = parse("profane( text , strict = true )")
    assert plain is not None and strict is not None and strict_again is not None
    assert structural_key(plain) != structural_key(strict)
    assert structural_key(strict) == structural_key(strict_again)
    compiled = tree(
        {"when": "profane(text, strict=true)", "action": "deny", "mode": "shadow"},
        {"when": "profane(text, strict=true) and len(text) > 100", "action": "deny"},
        {"when": "profane(text)", "action": "deny", "message": "plain"},
    )
    assert compiled.memo_size == 1  # the strict call is shared, the plain one is not


def test_matchers_are_built_at_load_not_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = tree(
        {"when": "profane(text, words=['zzyzx'], strict=true)", "action": "deny"},
        {"when": "profane(text, words=['zzyzx'])", "action": "deny"},
    )

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a matcher was built while deciding")

    monkeypatch.setattr(profanity.Matcher, "__init__", refuse)
    monkeypatch.setattr(profanity.StrictMatcher, "__init__", refuse)
    monkeypatch.setattr(profanity, "matcher", refuse)
    assert answer(compiled, "zzyzx")["action"] == "deny"
    assert answer(compiled, "hello")["action"] == "allow"


def test_a_non_string_text_is_a_rule_error() -> None:
    compiled = tree({"when": "profane(data.n, strict=true)", "action": "deny"})
    event = parse_event({"eventName": EVENT, "data": {"n": 5}, "actor": {}})
    decision = evaluate(compiled, event, NOW)
    assert decision.response() == {"action": "allow"}
    assert "profane() needs a string, got number" in str(decision.errors[0])
