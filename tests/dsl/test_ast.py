"""receiver/dsl/ast.py: the AST nodes and the walks over them (children, walk, depth,
deeper_than, with_spans), none of which recurse."""

from __future__ import annotations

from receiver.dsl import ast
from receiver.dsl.parser import ExprSource, parse_expression
from receiver.text.diagnostics import Diagnostics
from receiver.text.source import SourceFile, Span

FILE = SourceFile("p.yaml", "when: x\n")
SPAN = FILE.span(6, 7)


def parse(text: str) -> ast.Node:
    diags = Diagnostics()
    node = parse_expression(ExprSource.contiguous(SourceFile("p.yaml", text), text, 0), diags)
    assert node is not None, list(diags)
    return node


def lit(value: object) -> ast.Literal:
    return ast.Literal(SPAN, value)


def test_a_leaf_has_no_children() -> None:
    assert ast.children(lit(1)) == () and ast.children(ast.Var(SPAN, "data")) == ()


def test_a_calls_children_are_its_arguments_then_its_keyword_values() -> None:
    a, b, c = lit(1), lit(2), lit(3)
    call = ast.Call(SPAN, "f", SPAN, (a, b), (("k", c),), (SPAN,))
    assert ast.children(call) == (a, b, c)


def test_a_maps_children_are_its_values() -> None:
    one, two = lit(1), lit(2)
    assert ast.children(ast.MapExpr(SPAN, (("a", one), ("b", two)))) == (one, two)


def test_a_macros_child_is_its_body() -> None:
    body = lit(True)
    assert ast.children(ast.Macro(SPAN, "m", body)) == (body,)


def test_walk_lists_parents_before_children_left_to_right() -> None:
    tree = parse("a.b + c * 2")
    assert [type(n).__name__ for n in ast.walk(tree)] == [
        "Arith", "Member", "Name", "Arith", "Name", "Literal",
    ]  # fmt: skip


def test_depth_counts_levels_and_a_leaf_alone_is_one() -> None:
    assert ast.depth(lit(1)) == 1
    assert ast.depth(parse("a.b + c * 2")) == 3


def test_deeper_than_finds_nothing_within_the_limit() -> None:
    assert ast.deeper_than(parse("a.b + c * 2"), 3) is None


def test_deeper_than_finds_a_node_past_the_limit_and_reports_it_there() -> None:
    found = ast.deeper_than(parse("a.b + c * 2"), 2)
    assert found is not None
    node, where = found
    assert node is where and ast.depth(node) == 1


def test_deeper_than_reports_a_node_inside_a_macro_at_the_macros_use() -> None:
    use = ast.Macro(SPAN, "m", ast.Not(SPAN, ast.Not(SPAN, lit(True))))
    found = ast.deeper_than(ast.Not(SPAN, use), 3)
    assert found is not None and found[1] is use


def test_a_deep_tree_is_walked_without_recursion() -> None:
    node: ast.Node = lit(1)
    for _ in range(50_000):
        node = ast.Not(SPAN, node)
    assert ast.depth(node) == 50_001 and len(ast.walk(node)) == 50_001


def test_with_spans_moves_every_span_and_keeps_the_shape() -> None:
    tree = parse('f(a, k=[1, {"x": b}])')
    moved = ast.with_spans(tree, lambda span: SPAN)
    spans = [node.span for node in ast.walk(moved)]
    assert spans and all(span is SPAN for span in spans)
    assert isinstance(moved, ast.Call)
    assert moved.func_span is SPAN and moved.kwarg_spans == (SPAN,)
    assert [type(n) for n in ast.walk(moved)] == [type(n) for n in ast.walk(tree)]


def test_with_spans_leaves_the_original_untouched() -> None:
    tree = parse("a + 1")
    before = [node.span for node in ast.walk(tree)]
    ast.with_spans(tree, lambda span: SPAN)
    assert [node.span for node in ast.walk(tree)] == before


def test_with_spans_copies_a_shared_sub_tree_once() -> None:
    shared = ast.Var(SPAN, "data")
    tree = ast.BoolOp(SPAN, "and", shared, shared)
    other = FILE.span(0, 4)
    moved = ast.with_spans(tree, lambda span: other)
    assert isinstance(moved, ast.BoolOp) and moved.left is moved.right
    assert moved.left.span is other


def test_nodes_are_frozen_values_equal_by_content() -> None:
    assert lit(1) == lit(1) and hash(lit(1)) == hash(lit(1))
    assert ast.Var(SPAN, "data") != ast.Var(SPAN, "actor")


def test_every_variable_name_is_listed_once() -> None:
    assert len(set(ast.VARIABLES)) == len(ast.VARIABLES)
    assert {"data", "actor", "user", "text", "it"} <= set(ast.VARIABLES)


def test_spans_of_a_parsed_tree_point_into_its_source() -> None:
    tree = parse("a + 1")
    assert all(isinstance(node.span, Span) for node in ast.walk(tree))
    assert [node.span.text for node in ast.walk(tree)] == ["a + 1", "a", "1"]
