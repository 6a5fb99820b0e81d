"""Facts about checked expressions, shared by the checkers and the compiler.

Stage 2 and 3 helpers (check, compile), below both so that they agree. Consumes AST
nodes (:mod:`receiver.dsl.ast`, usually resolved: macros inlined as
:class:`~receiver.dsl.ast.Macro` nodes, names as variables, lists and counters);
produces plain facts about them: the node under any macro wrappers (:func:`unwrap`),
the request inputs an expression reads (:func:`reads`), whether it gives exactly a
bool (:func:`gives_bool`), the field path it reads (:func:`static_path`), a key
equal for structurally equal expressions (:func:`structural_key`), and the keys of a
constant list (:func:`constant_set`). What a built-in call reads or gives comes from
the function table (:data:`~receiver.dsl.functions.FUNCTIONS`).
"""

from __future__ import annotations

from collections.abc import Iterable

from receiver.dsl import ast
from receiver.dsl.functions import FUNCTIONS
from receiver.dsl.values import Value, key

# The variables a field path may start from (``event`` and ``decision_id`` are strings).
PATH_ROOTS = frozenset({"data", "actor", "user", "it", "text"})


def unwrap(node: ast.Node) -> ast.Node:
    """The node under any inlined macros (a macro's body may be another macro)."""
    while isinstance(node, ast.Macro):
        node = node.body
    return node


def _call_reads(func: str) -> frozenset[str]:
    found = FUNCTIONS.get(func)
    return frozenset(found.reads) if found is not None else frozenset()


# By function name: what a call reads besides its arguments (names come from the table).
_CALL_READS: dict[str, frozenset[str]] = {name: _call_reads(name) for name in FUNCTIONS}


def own_reads(node: ast.Node) -> frozenset[str]:
    """What the node itself reads, its children aside: a variable's name, or the inputs
    its function reads besides its arguments (:attr:`~receiver.dsl.functions.Function.reads`)."""
    if isinstance(node, ast.Var):
        return frozenset((str(node.name),))
    if isinstance(node, ast.Call):
        return _CALL_READS.get(node.func, frozenset())
    return frozenset()


def reads(node: ast.Node, cache: dict[int, frozenset[str]] | None = None) -> frozenset[str]:
    """What an expression reads of the request: the variables it names (``data``,
    ``user``, ``it``...) and the inputs its calls read besides their arguments
    (``now`` for ``now()`` and ``age()``, ``user`` for ``user_lookup_failed()``,
    ``counters`` for ``counters_unavailable()``). Counter references are not inputs here.

    ``cache`` keeps the answer for every node visited, by id (for nodes that outlive it).
    """
    if cache is not None:
        found = cache.get(id(node))
        if found is not None:
            return found
    out = own_reads(node)
    for child in ast.children(node):
        out |= reads(child, cache)
    if cache is not None:
        cache[id(node)] = out
    return out


def reads_any(
    exprs: Iterable[ast.Node], cache: dict[int, frozenset[str]] | None = None
) -> frozenset[str]:
    """:func:`reads` of several expressions together (a rule's ``when``, ``set``...)."""
    out: frozenset[str] = frozenset()
    for expr in exprs:
        out |= reads(expr, cache)
    return out


def gives_bool(node: ast.Node) -> bool:
    """Whether the node's closure always returns True or False (so truth() is a no-op)."""
    node = unwrap(node)
    if isinstance(node, ast.Compare | ast.BoolOp | ast.Not):
        return True
    if isinstance(node, ast.Call):
        func = FUNCTIONS.get(node.func)
        return func is not None and func.exact_bool
    return False


def static_path(node: ast.Node) -> tuple[str, tuple[str | int, ...]] | None:
    """``(root, keys)`` for paths such as ``data.a.b`` or ``actor["x"]`` (literal keys only)."""
    keys: list[str | int] = []
    current = unwrap(node)
    while True:
        if isinstance(current, ast.Member):
            keys.append(current.name)
            current = unwrap(current.obj)
        elif isinstance(current, ast.Index):
            index = unwrap(current.index)
            if not isinstance(index, ast.Literal) or not (
                isinstance(index.value, str | int) and not isinstance(index.value, bool)
            ):
                return None
            keys.append(index.value)
            current = unwrap(current.obj)
        else:
            break
    if isinstance(current, ast.Var) and current.name in PATH_ROOTS:
        return current.name, tuple(reversed(keys))
    return None


def structural_key(node: ast.Node) -> tuple[object, ...]:
    """Equal for structurally identical expressions (spans and macro wrappers ignored)."""
    node = unwrap(node)
    if isinstance(node, ast.Literal):
        return ("lit", type(node.value).__name__, repr(node.value))
    if isinstance(node, ast.Var):
        return ("var", node.name)
    if isinstance(node, ast.ListRef):
        return ("list", node.name, repr(node.items))
    if isinstance(node, ast.CounterRef):
        return ("counter", node.counter)
    if isinstance(node, ast.Member):
        return ("member", node.name, structural_key(node.obj))
    if isinstance(node, ast.Call):
        keywords = tuple((k, structural_key(v)) for k, v in sorted(node.kwargs))
        return ("call", node.func, *(structural_key(a) for a in node.args), *keywords)
    if isinstance(node, ast.MapExpr):
        return ("map", *((k, structural_key(v)) for k, v in node.items))
    extra: tuple[object, ...] = ()
    if isinstance(node, ast.Compare | ast.Arith | ast.BoolOp):
        extra = (node.op,)
    return (type(node).__name__, *extra, *(structural_key(c) for c in ast.children(node)))


def constant_items(node: ast.Node) -> list[Value] | None:
    """The values of a list known when the policy loads: a named list, or a list literal
    of literals (macros inlined); None for anything else."""
    if isinstance(node, ast.ListRef):
        return list(node.items)
    if isinstance(node, ast.ListExpr):
        values: list[Value] = []
        for item in node.items:
            inner = unwrap(item)
            if not isinstance(inner, ast.Literal):
                return None
            values.append(inner.value)
        return values
    return None


def constant_set(node: ast.Node) -> frozenset[object] | None:
    """The membership keys (:func:`~receiver.dsl.values.key`) of a constant list, or None
    when the node is not one or one of its values has no key (a list or map)."""
    values = constant_items(node)
    if values is None:
        return None
    try:
        return frozenset(key(v) for v in values)
    except TypeError:
        return None
