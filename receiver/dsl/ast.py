"""The AST of the condition language.

Below the stages (dsl): the parser (:mod:`receiver.dsl.parser`) produces these nodes from
expression text; the checker (stage 2) consumes and resolves them, and the compiler (stage
3) consumes the resolved trees.

Every node is a frozen dataclass with the :class:`~receiver.text.source.Span` of the
text it came from (a position in the policy YAML file). The parser builds
:class:`Name` nodes; the checker resolves them into :class:`Var`,
:class:`ListRef` and inlined macro bodies, so the compiler only ever sees
resolved trees.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from typing import Literal as TLiteral

from receiver.dsl.values import Value
from receiver.text.source import Span

VarName = TLiteral["event", "data", "actor", "user", "text", "it", "decision_id"]
VARIABLES: tuple[VarName, ...] = ("event", "data", "actor", "user", "text", "it", "decision_id")


@dataclass(frozen=True, slots=True)
class Node:
    span: Span


@dataclass(frozen=True, slots=True)
class Literal(Node):
    value: Value


@dataclass(frozen=True, slots=True)
class Name(Node):
    """An unresolved name, as parsed."""

    name: str


@dataclass(frozen=True, slots=True)
class Var(Node):
    """A built-in variable: ``event``, ``data``, ``actor``, ``user``, ``text`` or ``it``."""

    name: VarName


@dataclass(frozen=True, slots=True)
class ListRef(Node):
    """A reference to a named constant list of the policy."""

    name: str
    items: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class CounterRef(Node):
    """A read of a declared counter of the policy; ``counter`` is its id, ``policy/name``."""

    name: str
    counter: str


@dataclass(frozen=True, slots=True)
class Macro(Node):
    """An inlined macro: the use site's span and the macro's resolved body."""

    name: str
    body: Node


@dataclass(frozen=True, slots=True)
class Member(Node):
    obj: Node
    name: str


@dataclass(frozen=True, slots=True)
class Index(Node):
    obj: Node
    index: Node


@dataclass(frozen=True, slots=True)
class Call(Node):
    """``func(args..., name=value...)``; ``kwarg_spans`` are the spans of the keyword names."""

    func: str
    func_span: Span
    args: tuple[Node, ...]
    kwargs: tuple[tuple[str, Node], ...] = ()
    kwarg_spans: tuple[Span, ...] = ()


@dataclass(frozen=True, slots=True)
class ListExpr(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class MapExpr(Node):
    items: tuple[tuple[str, Node], ...]


@dataclass(frozen=True, slots=True)
class Not(Node):
    operand: Node


@dataclass(frozen=True, slots=True)
class Neg(Node):
    operand: Node


@dataclass(frozen=True, slots=True)
class BoolOp(Node):
    op: TLiteral["and", "or"]
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Compare(Node):
    """``== != < <= > >= in not-in contains startswith endswith matches``."""

    op: str
    op_span: Span
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Arith(Node):
    op: TLiteral["+", "-", "*", "/", "%"]
    op_span: Span
    left: Node
    right: Node


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-expressions of a node."""
    get = _CHILDREN.get(type(node))
    return () if get is None else get(node)


def _call_children(node: Call) -> tuple[Node, ...]:
    return node.args + tuple(value for _, value in node.kwargs) if node.kwargs else node.args


# By exact node class (the classes are never subclassed): one lookup instead of a chain
# of isinstance tests, since compiling walks every tree several times.
_CHILDREN: dict[type[Node], Callable[[Any], tuple[Node, ...]]] = {
    Member: lambda node: (node.obj,),
    Not: lambda node: (node.operand,),
    Neg: lambda node: (node.operand,),
    Index: lambda node: (node.obj, node.index),
    Call: _call_children,
    ListExpr: lambda node: node.items,
    MapExpr: lambda node: tuple(value for _, value in node.items),
    BoolOp: lambda node: (node.left, node.right),
    Compare: lambda node: (node.left, node.right),
    Arith: lambda node: (node.left, node.right),
    Macro: lambda node: (node.body,),
}


def walk(node: Node) -> list[Node]:
    """All nodes of a tree, parents before children."""
    out: list[Node] = []
    stack = [node]
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(reversed(children(current)))
    return out


def depth(node: Node) -> int:
    """Levels of nodes from the root to the deepest leaf (a leaf alone is 1); no recursion."""
    deepest = 0
    stack = [(node, 1)]
    while stack:
        current, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children(current))
    return deepest


def deeper_than(node: Node, limit: int) -> tuple[Node, Node] | None:
    """A node more than ``limit`` levels down, and where to report it; None if none is.

    Where to report is the node itself, or the outermost inlined macro on its path
    (the name where the rule uses it). No recursion, whatever the depth.
    """
    stack: list[tuple[Node, int, Node | None]] = [(node, 1, None)]
    while stack:
        current, level, macro = stack.pop()
        if level > limit:
            return current, macro or current
        if macro is None and isinstance(current, Macro):
            macro = current
        stack.extend((child, level + 1, macro) for child in children(current))
    return None


def with_spans(node: Node, move: Callable[[Span], Span]) -> Node:
    """A copy of a tree with every span in it (nodes, operators, names) replaced by ``move``.

    Builds the copies children first, from a list of the nodes, so that no recursion
    follows the depth of the tree.
    """
    copies: dict[int, Node] = {}
    for current in reversed(walk(node)):
        cls: Callable[..., Node] = type(current)
        names = _FIELD_NAMES.get(cls)
        if names is None:
            names = _FIELD_NAMES[cls] = tuple(field.name for field in dataclasses.fields(current))
        copies[id(current)] = cls(
            *[_with_spans(getattr(current, name), move, copies) for name in names]
        )
    return copies[id(node)]


_FIELD_NAMES: dict[Callable[..., Node], tuple[str, ...]] = {}  # by node class


def _with_spans(value: object, move: Callable[[Span], Span], copies: dict[int, Node]) -> object:
    if isinstance(value, Span):
        return move(value)
    if isinstance(value, Node):
        copied = copies.get(id(value))
        return with_spans(value, move) if copied is None else copied
    if isinstance(value, tuple):  # arguments, keyword arguments and their spans, map items
        return tuple(_with_spans(item, move, copies) for item in value)
    return value
