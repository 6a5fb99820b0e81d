"""Expression depth: past MAX_EXPRESSION_DEPTH is ``too-deep``; at the limit every stage runs.

The parser builds trees without recursion; the checker, compiler, evaluator,
explanations and coverage recurse once or a few times per level. These tests run
every stage on expressions at the limit with only ``STAGE_FRAMES`` frames of stack
left, and check that one level more is refused with a diagnostic at its position.
"""

from __future__ import annotations

import inspect
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from receiver.cli import main
from receiver.dsl import ast
from receiver.dsl.parser import MAX_EXPRESSION_DEPTH, ExprSource, ParseCache, parse_expression
from receiver.dsl.values import Timestamp
from receiver.errors import PolicyLoadError
from receiver.runtime.evaluator import evaluate
from receiver.runtime.explain import render_explanation
from receiver.runtime.payload import parse_event
from receiver.runtime.policyset import check_paths, load_policies
from receiver.text.diagnostics import Diagnostics
from receiver.text.source import SourceFile

EVENT = "message.shouldCreate"
NOW = Timestamp(1_769_860_800.0)
STAGE_FRAMES = 700  # the stack every stage gets below: 300 of Python's usual 1,000 to spare

# Each shape builds an expression of n nested levels of one construct.
SHAPES: dict[str, Callable[[int], str]] = {
    "or": lambda n: " or ".join(f"data.n == {i}" for i in range(n)),
    "and": lambda n: " and ".join(f"data.n != {i}" for i in range(n)),
    "not": lambda n: "not " * n + "data.flag",
    "calls": lambda n: "lower(" * n + "text" + ")" * n + ' == "x"',
    "arith": lambda n: "data.n" + " + 1" * n + " > 0",
    "lists": lambda n: "len(" + "[" * n + "data.n" + "]" * n + ") > 5",
    "fields": lambda n: "data" + ".a" * n + " == 1",
    "index": lambda n: "data" + '["a"]' * n + " == 1",
}


def parse(text: str) -> tuple[ast.Node | None, Diagnostics]:
    diags = Diagnostics()
    src = ExprSource.contiguous(SourceFile("x.yaml", text), text, 0)
    return parse_expression(src, diags), diags


def at_limit(shape: str) -> str:
    """The shape with the most levels that still parses: MAX_EXPRESSION_DEPTH levels deep."""
    make = SHAPES[shape]
    n = 1
    while (tree := parse(make(n + 1))[0]) is not None and ast.depth(tree) <= MAX_EXPRESSION_DEPTH:
        n += 1
    tree = parse(make(n))[0]
    assert tree is not None
    assert ast.depth(tree) == MAX_EXPRESSION_DEPTH
    return make(n)


def one_deeper(shape: str) -> str:
    make, text = SHAPES[shape], at_limit(shape)
    n = next(n for n in range(1, 10 * MAX_EXPRESSION_DEPTH) if make(n) == text)
    return make(n + 1)


@contextmanager
def stack_of(frames: int) -> Iterator[None]:
    """Run the block with only ``frames`` frames of Python stack above this one."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + frames)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def policy(tmp_path: Path, when: str, **extra: object) -> Path:
    rule = {"id": "r", "events": EVENT, "when": when, "action": "deny"}
    rule["message"] = "no {" + when + "}"  # the same text again: the parse cache's copy
    doc = {"policy": "p", "on_error": "deny", "rules": [rule], **extra}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=10**9), encoding="utf-8")
    return path


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_stage_runs_at_the_limit_with_a_bounded_stack(shape: str, tmp_path: Path) -> None:
    when = at_limit(shape)
    policy(tmp_path, when)
    event = parse_event({"eventName": EVENT, "data": {"n": 3, "flag": True, "text": "x"}})
    with stack_of(STAGE_FRAMES):
        policyset = load_policies([tmp_path])
        plain = evaluate(policyset.tree(EVENT), event, NOW, None)
        traced_tree = policyset.traced_tree(EVENT)
        traced = evaluate(traced_tree, event, NOW, None, explain=True)
        explanation = render_explanation(traced_tree, traced)
    (tmp_path / "p.test.yaml").write_text(
        textwrap.dedent(f"""\
            suite: p
            defaults: {{event: {EVENT}}}
            cases:
              - name: it runs
                data: {{n: 3, flag: true, text: x}}
                expect: {{action: {plain.action}}}
            """),
        encoding="utf-8",
    )
    with stack_of(STAGE_FRAMES):
        status = main(["test", str(tmp_path), "--coverage"])
    assert plain.action == traced.action
    assert "p/r" in explanation
    assert status == 0


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_one_level_more_is_too_deep_at_its_position(shape: str) -> None:
    tree, diags = parse(one_deeper(shape))
    assert tree is None
    (found,) = list(diags)
    assert found.code == "too-deep"
    assert f"more than {MAX_EXPRESSION_DEPTH} levels" in found.message
    assert found.location.startswith("x.yaml:1:")


@pytest.mark.parametrize(
    "text",
    [
        " or ".join(["data.a == 1"] * 1500),
        " and ".join(["data.a == 1"] * 1500),
        "(" * 5000 + "data.a" + ")" * 5000 + " == 1",
        "not " * 5000 + "true",
        "len(" * 2000 + "text" + ")" * 2000 + " > 0",
        "[" * 5000 + "]" * 5000 + " == []",
    ],
    ids=["or-1500", "and-1500", "parens-5000", "not-5000", "calls-2000", "lists-5000"],
)
def test_huge_expressions_are_refused_quickly_without_recursion_error(text: str) -> None:
    started = time.perf_counter()
    with stack_of(100):  # parsing and the depth check never recurse with the depth
        tree, diags = parse(text)
    codes = [d.code for d in diags]
    assert time.perf_counter() - started < 5
    if text.startswith("("):  # brackets alone are no level: (((a))) is a
        assert tree is not None and codes == []
    else:
        assert tree is None and codes == ["too-deep"]


def test_receiver_check_reports_a_1000_term_or_as_too_deep(tmp_path: Path) -> None:
    policy(tmp_path, " or ".join(f"data.n == {i}" for i in range(1000)))
    report = check_paths([tmp_path])
    errors = [d for d in report.diagnostics if d.severity == "error"]
    assert {d.code for d in errors} == {"too-deep"}
    assert all(d.location.startswith(f"{tmp_path / 'p.yaml'}:") for d in errors)


def macro_chain(tmp_path: Path, count: int, levels: int) -> Path:
    """``count`` macros, each ``levels`` deep and using the next one."""
    macros = {}
    for i in range(count):
        inner = f"m{i + 1}" if i + 1 < count else "data.flag"
        macros[f"m{i}"] = "not " * (levels - 1) + inner
    return policy(tmp_path, "m0", macros=macros)


def test_macros_that_inline_too_deep_are_refused_at_the_use(tmp_path: Path) -> None:
    path = macro_chain(tmp_path, count=4, levels=30)  # 4 x (30 + 1 macro node) > 100
    report = check_paths([tmp_path])
    errors = [d for d in report.diagnostics if d.severity == "error"]
    assert errors
    assert {d.code for d in errors} == {"too-deep"}
    assert all("with the macros it uses inlined" in d.message for d in errors)
    lines = path.read_text(encoding="utf-8").splitlines()
    for found in errors:
        line, column = (int(n) for n in found.location.split(":")[-2:])
        assert lines[line - 1][column - 1 :].startswith("m")  # at a macro's name


def test_a_long_chain_of_small_macros_is_refused_without_recursion_error(tmp_path: Path) -> None:
    macro_chain(tmp_path, count=2000, levels=1)
    with stack_of(STAGE_FRAMES), pytest.raises(PolicyLoadError) as caught:
        load_policies([tmp_path])
    codes = {d.code for d in caught.value.diagnostics if d.severity == "error"}
    assert codes == {"too-deep"}


def test_macros_within_the_limit_inline_and_run(tmp_path: Path) -> None:
    macro_chain(tmp_path, count=3, levels=30)  # 3 x 31 = 93 levels inlined
    event = parse_event({"eventName": EVENT, "data": {"flag": True}})
    with stack_of(STAGE_FRAMES):
        policyset = load_policies([tmp_path])
        decision = evaluate(policyset.tree(EVENT), event, NOW, None)
    assert decision.action == "allow"  # 3 x 29 `not`s around true: false, no deny


def test_a_cached_deep_tree_is_copied_without_recursion() -> None:
    text = at_limit("calls")
    cache = ParseCache()
    first = ExprSource.contiguous(SourceFile("a.yaml", text), text, 0)
    second = ExprSource.contiguous(SourceFile("b.yaml", "    " + text), text, 4)
    diags = Diagnostics()
    tree = parse_expression(first, diags, cache)
    with stack_of(50):
        copy = parse_expression(second, diags, cache)
    assert tree is not None and copy is not None
    assert copy.span.column == tree.span.column + 4
    assert ast.depth(copy) == MAX_EXPRESSION_DEPTH
