"""Tests for receiver.dsl.analysis: facts about checked expressions, one helper each."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from receiver.check.checker import check
from receiver.dsl import ast
from receiver.dsl.analysis import (
    constant_items,
    constant_set,
    gives_bool,
    own_reads,
    reads,
    reads_any,
    static_path,
    structural_key,
    unwrap,
)
from receiver.dsl.functions import FUNCTIONS
from receiver.load.loader import load_text
from receiver.text.diagnostics import Diagnostics

MACROS = {
    "inner": 'data.kind == "x"',
    "outer": "inner",
    "pattern": '"(?i)spam"',
    "again": "pattern",
}


def expression(text: str, **lists: list[Any]) -> ast.Node:
    """The checked (resolved) form of ``text``, as the value of a modify rule."""
    doc = {
        "policy": "p",
        "lists": lists or {"unused": ["x"]},
        "macros": MACROS,
        "rules": [
            {"id": "r", "events": "message.shouldCreate", "action": "modify",
             "set": {"data.out": text}},
        ],
    }  # fmt: skip
    diags = Diagnostics()
    document = load_text("p.yaml", yaml.safe_dump(doc, sort_keys=False), diags)
    assert document is not None
    result = check([document], diags)
    assert not diags.has_errors, [d.render() for d in diags.sorted()]
    return result.rules[0].sets[0][1]


def test_unwrap_sees_through_a_macro_of_a_macro() -> None:
    node = expression("outer")
    assert isinstance(node, ast.Macro) and isinstance(node.body, ast.Macro)
    assert isinstance(unwrap(node), ast.Compare)


def test_unwrap_leaves_other_nodes_alone() -> None:
    node = expression("data.kind")
    assert unwrap(node) is node


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("data.kind", {"data"}),
        ("text", {"text"}),
        ("now()", {"now"}),
        ("age(data.at) > 1h", {"now", "data"}),
        ("user_lookup_failed()", {"user"}),
        ("user.role", {"user"}),
        ("counters_unavailable()", {"counters"}),
        ("any(words(text), it == event)", {"text", "it", "event"}),
        ('lower("X")', set()),
        ("outer", {"data"}),
    ],
)
def test_reads_names_every_input_an_expression_reads(text: str, expected: set[str]) -> None:
    assert reads(expression(text)) == expected


def test_what_a_call_reads_comes_from_the_function_table() -> None:
    for name, func in FUNCTIONS.items():
        call = ast.Call(None, name, None, (), (), ())  # type: ignore[arg-type]
        assert own_reads(call) == func.reads


def test_own_reads_leaves_the_arguments_out() -> None:
    node = unwrap(expression("age(data.at)"))
    assert own_reads(node) == {"now"}
    assert reads(node) == {"now", "data"}


def test_reads_keeps_every_visited_node_in_its_cache() -> None:
    node = expression("lower(data.a) == actor.b")
    cache: dict[int, frozenset[str]] = {}
    assert reads(node, cache) == {"data", "actor"}
    assert len(cache) == len(ast.walk(node))
    cache[id(node)] = frozenset({"sentinel"})
    assert reads(node, cache) == {"sentinel"}


def test_reads_any_joins_several_expressions() -> None:
    assert reads_any([expression("data.a"), expression("user.b")]) == {"data", "user"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('data.kind == "x"', True),
        ("not data.flag", True),
        ("data.a and data.b", True),
        ("outer", True),
        ('contains_any(text, ["a"])', True),
        ("profane(text)", True),
        ("censor(text)", False),
        ("data.flag", False),
        ("user_lookup_failed()", False),
    ],
)
def test_gives_bool(text: str, expected: bool) -> None:
    assert gives_bool(expression(text)) is expected


def test_calls_that_give_bool_are_the_ones_the_table_marks() -> None:
    marked = {name for name, f in FUNCTIONS.items() if f.exact_bool}
    assert marked == {"contains_any", "profane"}
    assert all(FUNCTIONS[name].returns == "bool" for name in marked)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("data.a.b", ("data", ("a", "b"))),
        ('actor["x"]', ("actor", ("x",))),
        ("data.items[0].name", ("data", ("items", 0, "name"))),
        ("user.role", ("user", ("role",))),
        ("text", ("text", ())),
        ("data[data.k]", None),
        ("data.items[1.5]", None),
        ("merge(data.a, data.b).c", None),
        ("event", None),
    ],
)
def test_static_path(text: str, expected: tuple[str, tuple[str | int, ...]] | None) -> None:
    assert static_path(expression(text)) == expected


def test_structural_key_ignores_spans_and_macros() -> None:
    assert structural_key(expression("outer")) == structural_key(expression('data.kind == "x"'))
    assert structural_key(expression("lower(data.a)")) == structural_key(
        expression("lower( data.a )")
    )
    assert structural_key(expression("lower(data.a)")) != structural_key(
        expression("lower(data.b)")
    )
    assert structural_key(expression("1")) != structural_key(expression("1.0"))


def test_constant_items_and_set_of_list_literals_and_named_lists() -> None:
    literal = unwrap(expression('data.a in ["x", 1, again]')).right  # type: ignore[attr-defined]
    assert constant_items(literal) == ["x", 1, "(?i)spam"]
    named = unwrap(expression("data.a in staff", staff=["mod", "admin"])).right  # type: ignore[attr-defined]
    assert constant_set(named) == {"mod", "admin"}


def test_a_list_with_a_computed_or_unhashable_item_is_not_constant() -> None:
    computed = unwrap(expression('data.a in ["x", data.b]')).right  # type: ignore[attr-defined]
    assert constant_items(computed) is None and constant_set(computed) is None
    nested = unwrap(expression('data.a in [["x"]]')).right  # type: ignore[attr-defined]
    assert constant_items(nested) is None  # a list literal is not a literal
    assert constant_set(unwrap(expression("data.a"))) is None
