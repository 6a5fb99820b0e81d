"""Compiling checked rules into per-event decision trees of Python closures.

Stage 3 of the pipeline. Consumes :class:`~receiver.check.model.CheckedRule` objects
(resolved, type-checked ASTs) and produces one :class:`~receiver.compile.tree.EventTree`
per event name. Per event:

- only the rules whose ``events`` match are kept, in evaluation order;
- ``event`` is a constant, so ``event == "x"`` folds away, as does every pure
  sub-expression without inputs; a rule whose condition folds to false is dropped;
- each pure sub-expression that occurs more than once (``profane(data.text)`` in
  three rules) gets a memo slot and is computed at most once per request; slots
  that read ``data`` are cleared when a ``modify`` rule changes it;
- runs of consecutive rules gated on an equality of the same field
  (``data.channelId == "ch_42" and ...``) become one :class:`~receiver.compile.tree.Switch`:
  the field is read once and only the rules for its value are tested.

Nothing is parsed or walked per request: evaluation calls the closures built here.
With ``trace=True`` every closure also records its value (for ``--explain``);
the traced and the fast trees come from this same code.
"""

from __future__ import annotations

import bisect
import operator
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from receiver import profanity
from receiver.check.model import CheckedRule, compile_regex
from receiver.compile.tree import CompiledRule, EventTree, Gate, Step, Switch
from receiver.dsl import ast
from receiver.dsl import events as ev
from receiver.dsl.context import MISSING, Context
from receiver.dsl.functions import FUNCTIONS, age
from receiver.dsl.regexfilter import required_literals
from receiver.dsl.replace import Replacer
from receiver.dsl.template import Template
from receiver.dsl.textfuncs import PhraseMatcher, TextForms
from receiver.dsl.values import (
    Timestamp,
    Value,
    arithmetic,
    contains,
    equals,
    key,
    negate,
    order,
    render,
    text_op,
    truth,
    type_name,
)
from receiver.errors import EvaluationError
from receiver.text.re2search import Search, searcher

Fn = Callable[[Context], Value]
_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_NOT_CONST: Any = object()
# What constant folding runs closures on: a context (compiled closures check the type of
# their argument) whose fields no constant expression reads.
_CONSTANT_CONTEXT = Context("", {}, {}, Timestamp(0.0), 0)
# Calls never given a memo slot: their value changes within a request, or computing it
# again (the length of a value at hand) is cheaper than the slot's lookup.
_NOT_SHARED = frozenset({"now", "user_lookup_failed", "len"})


def text_of(data: dict[str, Value]) -> Value:
    """``text``: ``data.text`` if it is a string, else ``data.data.text``, else null."""
    value = data.get("text")
    if isinstance(value, str):
        return value
    inner = data.get("data")
    if isinstance(inner, dict):
        value = inner.get("text")
        if isinstance(value, str):
            return value
    return None


def _unwrap(node: ast.Node) -> ast.Node:
    while isinstance(node, ast.Macro):
        node = node.body
    return node


# Functions whose closures return exactly True or False (null text gives False).
_BOOL_CALLS = frozenset({"contains_any", "profane"})


def gives_bool(node: ast.Node) -> bool:
    """Whether the node's closure always returns True or False (so truth() is a no-op)."""
    node = _unwrap(node)
    return isinstance(node, ast.Compare | ast.BoolOp | ast.Not) or (
        isinstance(node, ast.Call) and node.func in _BOOL_CALLS
    )


def static_path(node: ast.Node) -> tuple[str, tuple[str | int, ...]] | None:
    """``(root, keys)`` for paths such as ``data.a.b`` or ``actor["x"]`` (literal keys only)."""
    keys: list[str | int] = []
    current = _unwrap(node)
    while True:
        if isinstance(current, ast.Member):
            keys.append(current.name)
            current = _unwrap(current.obj)
        elif isinstance(current, ast.Index):
            index = _unwrap(current.index)
            if not isinstance(index, ast.Literal) or not (
                isinstance(index.value, str | int) and not isinstance(index.value, bool)
            ):
                return None
            keys.append(index.value)
            current = _unwrap(current.obj)
        else:
            break
    if isinstance(current, ast.Var) and current.name in ("data", "actor", "user", "it", "text"):
        return current.name, tuple(reversed(keys))
    return None


def structural_key(node: ast.Node) -> tuple[object, ...]:
    """Equal for structurally identical expressions (spans ignored)."""
    node = _unwrap(node)
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


def _reads(node: ast.Node, cache: dict[int, frozenset[str]] | None = None) -> frozenset[str]:
    """The variables an expression reads (``now`` counts as one). ``cache`` keeps the
    answer for every node visited, by id (for nodes that outlive it)."""
    if cache is not None:
        found = cache.get(id(node))
        if found is not None:
            return found
    out: frozenset[str]
    if isinstance(node, ast.Var):
        out = frozenset((str(node.name),))
    elif isinstance(node, ast.Call) and node.func in ("now", "age"):
        out = frozenset(("now",))
    elif isinstance(node, ast.Call) and node.func == "user_lookup_failed":
        out = frozenset(("user",))
    else:
        out = frozenset()
    for child in ast.children(node):
        out |= _reads(child, cache)
    if cache is not None:
        cache[id(node)] = out
    return out


class _ExprCompiler:
    """Compiles the expressions of a rule set, sharing memo slots between its rules.

    ``event`` is the event name that ``event`` folds to; None while compiling rules
    that do not read it, whose closures then serve every event. ``cache`` (when set)
    keeps each node's closure so that a node is compiled once (macros, and the parts
    of a condition its gate-free variant reuses); ``known`` maps nodes to a value
    assumed at run time (a gate the switch has already checked), and ``uncached``
    holds the nodes above them, whose closures differ from the cached ones.
    """

    def __init__(self, event: str | None, trace: bool, memo: bool = True) -> None:
        self.event = event
        self.trace = trace
        self.memo = memo  # False: no memo slots (closures run on a context without any)
        self.slots: dict[tuple[object, ...], int] = {}
        self.data_slots: list[int] = []
        self.shared: set[tuple[object, ...]] = set()
        self.cache: dict[int, tuple[Fn, Value]] | None = None
        self.known: dict[int, Value] = {}
        self.uncached: frozenset[int] = frozenset()
        self._read_sets: dict[int, frozenset[str]] = {}

    def reads(self, node: ast.Node) -> frozenset[str]:
        """:func:`_reads`, kept per node: the rules' trees live as long as this compiler."""
        return _reads(node, self._read_sets)

    def plan_sharing(self, exprs: Sequence[ast.Node]) -> None:
        """Pick the sub-expressions worth a memo slot: calls that occur more than once."""
        counts: Counter[tuple[object, ...]] = Counter()
        for expr in exprs:
            for found in ast.walk(expr):
                node = _unwrap(found)
                if (
                    isinstance(node, ast.Call)
                    and node.func not in _NOT_SHARED
                    and "it" not in self.reads(node)
                ):
                    counts[structural_key(node)] += 1
        self.shared = {k for k, n in counts.items() if n > 1}

    # -- entry points ----------------------------------------------------------------------

    def compile(self, node: ast.Node) -> tuple[Fn, Value]:
        """A closure for the node and, when it folds to a constant, that constant."""
        ident = id(node)
        if ident in self.known:
            value = self.known[ident]
            return (lambda ctx: value), value
        cache = self.cache if ident not in self.uncached else None
        if cache is not None:
            found = cache.get(ident)
            if found is not None:
                return found
        fn, const = self._compile(node)
        if self.trace and const is _NOT_CONST and not isinstance(_unwrap(node), ast.Var):
            fn = _traced(fn, node)
        if cache is not None:
            cache[ident] = (fn, const)
        return fn, const

    def fn(self, node: ast.Node) -> Fn:
        return self.compile(node)[0]

    # -- nodes ------------------------------------------------------------------------------

    def _compile(self, node: ast.Node) -> tuple[Fn, Value]:
        if isinstance(node, ast.Macro):
            return self.compile(node.body)
        if isinstance(node, ast.Literal):
            value = node.value
            return (lambda ctx: value), value
        if isinstance(node, ast.ListRef):
            items = list(node.items)
            return (lambda ctx: items), items
        if isinstance(node, ast.Var):
            return self._var(node)
        if isinstance(node, ast.CounterRef):
            counter = node.counter
            return (lambda ctx: ctx.counters.get(counter)), _NOT_CONST
        path = static_path(node)
        if path is not None:
            return self._path(*path), _NOT_CONST
        skey = structural_key(node) if isinstance(node, ast.Call) else None
        fn, const = self._compile_inner(node)
        if const is _NOT_CONST and skey is not None and skey in self.shared:
            fn = self._memoized(fn, skey, node)
        return fn, const

    def _slot(self, skey: tuple[object, ...], node: ast.Node) -> int:
        """The memo slot for the value ``skey`` names, computed from ``node``'s inputs."""
        slot = self.slots.get(skey)
        if slot is None:
            slot = self.slots[skey] = len(self.slots)
            if self.reads(node) & {"data", "text"}:
                self.data_slots.append(slot)
        return slot

    def _memoized(self, fn: Fn, skey: tuple[object, ...], node: ast.Node) -> Fn:
        slot = self._slot(skey, node)

        def memo(ctx: Context) -> Value:
            value = ctx.memo[slot]
            if value is MISSING:
                value = ctx.memo[slot] = fn(ctx)
            return value

        return memo

    def _var(self, node: ast.Var) -> tuple[Fn, Value]:
        name = node.name
        if name == "event":
            event = self.event
            if event is None:  # the caller said this rule does not read `event`
                raise RuntimeError("compiling `event` without an event name")
            return (lambda ctx: event), event
        if name == "data":
            return (lambda ctx: ctx.data), _NOT_CONST
        if name == "actor":
            return (lambda ctx: ctx.actor), _NOT_CONST
        if name == "user":
            return (lambda ctx: ctx.user), _NOT_CONST
        if name == "it":
            return (lambda ctx: ctx.it), _NOT_CONST
        if name == "decision_id":
            return (lambda ctx: ctx.decision_id), _NOT_CONST

        def text(ctx: Context) -> Value:  # text_of(ctx.data), inlined: read by most rules
            data = ctx.data
            value = data.get("text")
            if isinstance(value, str):
                return value
            inner = data.get("data")
            if isinstance(inner, dict):
                value = inner.get("text")
                if isinstance(value, str):
                    return value
            return None

        return text, _NOT_CONST

    def _path(self, root: str, keys: tuple[str | int, ...]) -> Fn:
        base = self._var(ast.Var(None, root))[0]  # type: ignore[arg-type]
        if len(keys) == 1 and isinstance(keys[0], str) and root in ("data", "actor"):
            k0 = keys[0]
            if root == "data":  # the roots read directly: one call less per path

                def data1(ctx: Context) -> Value:
                    obj = ctx.data
                    return obj.get(k0) if type(obj) is dict else None

                return data1

            def actor1(ctx: Context) -> Value:
                obj = ctx.actor
                return obj.get(k0) if type(obj) is dict else None

            return actor1
        if len(keys) == 1 and isinstance(keys[0], str) and root == "user":  # `user.role`
            k0 = keys[0]

            def user1(ctx: Context) -> Value:
                obj = ctx.user
                return obj.get(k0) if type(obj) is dict else None

            return user1
        if len(keys) == 1 and isinstance(keys[0], str):
            k0 = keys[0]

            def get1(ctx: Context) -> Value:
                obj = base(ctx)
                return obj.get(k0) if type(obj) is dict else None

            return get1
        if len(keys) == 2 and isinstance(keys[0], str) and isinstance(keys[1], str):
            k0, k1 = str(keys[0]), str(keys[1])

            def get2(ctx: Context) -> Value:
                obj = base(ctx)
                if type(obj) is not dict:
                    return None
                obj = obj.get(k0)
                return obj.get(k1) if type(obj) is dict else None

            return get2

        def get(ctx: Context) -> Value:
            return lookup_path(base(ctx), keys)

        return get

    def _compile_inner(self, node: ast.Node) -> tuple[Fn, Value]:
        if isinstance(node, ast.Member):
            ((obj, c0),) = self.kids(node.obj)
            name = node.name
            return self._fold(lambda ctx: member(obj(ctx), name), c0)
        if isinstance(node, ast.Index):
            (obj, c0), (idx, c1) = self.kids(node.obj, node.index)
            return self._fold(lambda ctx: index(obj(ctx), idx(ctx)), c0, c1)
        if isinstance(node, ast.ListExpr):
            pairs = self.kids(*node.items)
            items = [f for f, _ in pairs]
            return self._fold(lambda ctx: [f(ctx) for f in items], *(c for _, c in pairs))
        if isinstance(node, ast.MapExpr):
            kv = self.kids(*(v for _, v in node.items))
            entries = [(k, f) for (k, _), (f, _) in zip(node.items, kv, strict=True)]
            return self._fold(lambda ctx: {k: f(ctx) for k, f in entries}, *(c for _, c in kv))
        if isinstance(node, ast.Not):
            ((operand, c0),) = self.kids(node.operand)
            return self._fold(lambda ctx: not truth(operand(ctx), "'not' operand"), c0)
        if isinstance(node, ast.Neg):
            ((operand, c0),) = self.kids(node.operand)
            span = node.span

            def neg(ctx: Context) -> Value:
                try:
                    return negate(operand(ctx))
                except EvaluationError as err:
                    raise err.at(span) from None

            return self._fold(neg, c0)
        if isinstance(node, ast.BoolOp):
            return self._boolop(node)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.Arith):
            (left, c0), (right, c1) = self.kids(node.left, node.right)
            op = node.op
            span = node.op_span

            def arith(ctx: Context) -> Value:
                try:
                    return arithmetic(op, left(ctx), right(ctx))
                except EvaluationError as err:
                    raise err.at(span) from None

            return self._fold(arith, c0, c1)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise TypeError(f"cannot compile {type(node).__name__}")  # pragma: no cover

    def kids(self, *nodes: ast.Node) -> list[tuple[Fn, Value]]:
        return [self.compile(n) for n in nodes]

    @staticmethod
    def _fold(fn: Fn, *consts: Value) -> tuple[Fn, Value]:
        """Fold to a constant when every child is constant and evaluation succeeds."""
        if all(c is not _NOT_CONST for c in consts):
            try:
                value = fn(_CONSTANT_CONTEXT)  # constant closures read nothing of it
            except Exception:
                return fn, _NOT_CONST
            return (lambda ctx: value), value
        return fn, _NOT_CONST

    def _len_order(
        self, measured: ast.Call, op: str, limit: int | float, span: Any
    ) -> tuple[Fn, Value]:
        """``len(X) < N`` and the like, in one closure: the length of a string is taken
        directly; anything else goes through ``len()`` and the general comparison, as
        the two separate closures would."""
        arg = self.fn(measured.args[0])
        impl = FUNCTIONS["len"].impl
        assert impl is not None
        call_span, compare = measured.span, _ORDER[op]

        def len_order(ctx: Context) -> Value:
            value = arg(ctx)
            if type(value) is str:
                return compare(len(value), limit)
            try:
                size = impl(value)
            except EvaluationError as err:
                raise err.at(call_span) from None
            if type(size) is type(limit):
                return compare(size, limit)
            try:
                return order(op, size, limit)
            except EvaluationError as err:
                raise err.at(span) from None

        return len_order, _NOT_CONST

    def _boolop(self, node: ast.BoolOp) -> tuple[Fn, Value]:
        left, lconst = self.compile(node.left)
        right, rconst = self.compile(node.right)
        lname, rname = f"left side of '{node.op}'", f"right side of '{node.op}'"
        if node.op == "and":
            if lconst is not _NOT_CONST:
                if not truth(lconst, lname):
                    return (lambda ctx: False), False
                return self._as_bool(right, rconst, rname, node.right)
            if rconst is not _NOT_CONST and truth(rconst, rname):
                return self._as_bool(left, lconst, lname, node.left)

            def and_(ctx: Context) -> Value:
                # truth() inlined for the common true/false/null cases: this is the hot path
                a = left(ctx)
                if a is not True and (a is False or a is None or not truth(a, lname)):
                    return False
                b = right(ctx)
                if b is True:
                    return True
                return False if b is False or b is None else truth(b, rname)

            return and_, _NOT_CONST
        if lconst is not _NOT_CONST:
            if truth(lconst, lname):
                return (lambda ctx: True), True
            return self._as_bool(right, rconst, rname, node.right)
        if rconst is not _NOT_CONST and not truth(rconst, rname):
            return self._as_bool(left, lconst, lname, node.left)

        def or_(ctx: Context) -> Value:
            a = left(ctx)
            if a is True or (a is not False and a is not None and truth(a, lname)):
                return True
            b = right(ctx)
            if b is True:
                return True
            return False if b is False or b is None else truth(b, rname)

        return or_, _NOT_CONST

    @staticmethod
    def _as_bool(fn: Fn, const: Value, what: str, node: ast.Node) -> tuple[Fn, Value]:
        if const is not _NOT_CONST:
            value = truth(const, what)
            return (lambda ctx: value), value
        if gives_bool(node):
            return fn, _NOT_CONST

        def as_bool(ctx: Context) -> Value:  # truth() inlined for true, false and null
            value = fn(ctx)
            if value is True:
                return True
            return False if value is False or value is None else truth(value, what)

        return as_bool, _NOT_CONST

    def _compare(self, node: ast.Compare) -> tuple[Fn, Value]:
        op = node.op
        span = node.op_span
        left, lconst = self.compile(node.left)
        right_node = _unwrap(node.right)
        if op == "matches":
            assert isinstance(right_node, ast.Literal)
            pattern = str(right_node.value)
            search = searcher(compile_regex(pattern))
            forms = self._text_forms(node.left, left, lconst)
            return self._fold(self._matches(forms, search, pattern, span), lconst)
        right, rconst = self.compile(node.right)
        if op in ("in", "not in") and isinstance(right_node, ast.ListRef | ast.ListExpr):
            members = _constant_set(right_node)
            if members is not None:
                negated = op == "not in"

                def in_set(ctx: Context) -> Value:
                    value = left(ctx)
                    if value is None:
                        return False
                    if type(value) is Timestamp:  # equal to time strings and epochs: no key
                        return contains(rconst, value) != negated
                    try:
                        found = key(value) in members
                    except TypeError:
                        found = False
                    return found != negated

                return self._fold(in_set, lconst)
        fn: Fn
        if op in ("==", "!=") and type(rconst) is str:  # the common `x == "literal"`
            text, negated = rconst, op == "!="

            def eq_text(ctx: Context) -> Value:
                a = left(ctx)
                return (a == text if type(a) is str else equals(a, text)) != negated

            return self._fold(eq_text, lconst)
        if op in ("<", "<=", ">", ">=") and type(rconst) in (int, float):  # `len(x) > 280`
            limit, compare = rconst, _ORDER[op]
            measured = _unwrap(node.left)
            if (
                isinstance(measured, ast.Call)
                and measured.func == "len"
                and lconst is _NOT_CONST
                and not self.trace  # --explain shows the length on its own
            ):
                return self._len_order(measured, op, limit, span)

            def order_number(ctx: Context) -> Value:
                a = left(ctx)
                if type(a) is type(limit):
                    return compare(a, limit)
                try:
                    return order(op, a, limit)
                except EvaluationError as err:
                    raise err.at(span) from None

            return self._fold(order_number, lconst)
        if op == "==":
            fn = lambda ctx: equals(left(ctx), right(ctx))  # noqa: E731
        elif op == "!=":
            fn = lambda ctx: not equals(left(ctx), right(ctx))  # noqa: E731
        elif op in ("<", "<=", ">", ">="):

            def fn(ctx: Context) -> Value:
                a, b = left(ctx), right(ctx)
                if type(a) is type(b) and type(a) in (int, float):
                    return (
                        a < b
                        if op == "<"
                        else a <= b
                        if op == "<="
                        else a > b
                        if op == ">"
                        else a >= b
                    )
                try:
                    return order(op, a, b)
                except EvaluationError as err:
                    raise err.at(span) from None

        elif op in ("in", "not in", "contains"):
            negated = op == "not in"
            swap = op == "contains"

            def fn(ctx: Context) -> Value:
                a, b = left(ctx), right(ctx)
                if swap:
                    a, b = b, a
                if a is None or b is None:
                    return False
                try:
                    return contains(b, a) != negated
                except EvaluationError as err:
                    raise err.at(span) from None

        else:

            def fn(ctx: Context) -> Value:
                try:
                    return text_op(op, left(ctx), right(ctx))
                except EvaluationError as err:
                    raise err.at(span) from None

        return self._fold(fn, lconst, rconst)

    def _call(self, node: ast.Call) -> tuple[Fn, Value]:
        func = FUNCTIONS[node.func]
        span = node.span
        if node.func == "user_lookup_failed":
            return (lambda ctx: ctx.user_failed), _NOT_CONST
        if node.func == "counters_unavailable":
            return (lambda ctx: ctx.counters_unavailable), _NOT_CONST
        if node.func == "now":
            return (lambda ctx: ctx.now), _NOT_CONST
        if node.func == "age":
            arg = self.fn(node.args[0])

            def age_(ctx: Context) -> Value:
                try:
                    return age(ctx.now, arg(ctx))
                except EvaluationError as err:
                    raise err.at(span) from None

            return age_, _NOT_CONST
        if func.lambda_arg is not None:
            return self._lambda_call(node)
        if node.func in ("profane", "censor"):
            return self._profanity_call(node)
        pairs = self.kids(*node.args)
        args = [f for f, _ in pairs]
        consts = [c for _, c in pairs]
        impl = func.impl
        if node.func == "regex_replace":
            pattern = _unwrap(node.args[1])
            assert isinstance(pattern, ast.Literal)
            replace = Replacer(compile_regex(str(pattern.value)), str(pattern.value))
            text_fn, repl_fn = args[0], args[2]

            def regex_replace(ctx: Context) -> Value:
                text, repl = text_fn(ctx), repl_fn(ctx)
                if text is None:
                    return None
                if not isinstance(text, str) or not isinstance(repl, str):
                    raise EvaluationError("regex_replace() needs strings", span)
                return replace(text, repl)

            return self._fold(regex_replace, consts[0], consts[2])
        assert impl is not None
        if node.func == "contains_any":
            phrases = _unwrap(node.args[1])
            if (
                isinstance(phrases, ast.ListRef | ast.ListExpr)
                and _constant_set(phrases) is not None
            ):
                values = consts[1]
                matcher = PhraseMatcher(str(v) for v in values if v is not None)
                forms = self._text_forms(node.args[0], args[0], consts[0])

                def contains_any(ctx: Context) -> Value:
                    found = forms(ctx)
                    if type(found) is TextForms:
                        return matcher.search_forms(found) is not None
                    if found is None:
                        return False
                    raise EvaluationError("contains_any() needs a string", span)

                return self._fold(contains_any, consts[0])
        if len(args) == 1:
            (a0,) = args

            def call1(ctx: Context) -> Value:
                try:
                    return impl(a0(ctx))
                except EvaluationError as err:
                    raise err.at(span) from None

            return self._fold(call1, *consts)

        def call(ctx: Context) -> Value:
            try:
                return impl(*[a(ctx) for a in args])
            except EvaluationError as err:
                raise err.at(span) from None

        return self._fold(call, *consts)

    def _text_forms(self, node: ast.Node, fn: Fn, const: Value) -> Fn:
        """A closure giving the :class:`TextForms` of ``node``'s value; a value that is
        not a string comes back as it is (null, or an error each caller reports its own
        way). The forms are made once per request (a memo slot per distinct expression)
        unless the value may change within a request (``it``), is a constant, or the
        closures are traced or run without memo slots: then on every call."""
        if const is not _NOT_CONST or not self.memo or self.trace or "it" in self.reads(node):

            def fresh(ctx: Context) -> Value:
                value = fn(ctx)
                return TextForms(value) if type(value) is str else value

            return fresh
        slot = self._slot(("text-forms", structural_key(node)), node)

        def forms(ctx: Context) -> Value:
            found = ctx.memo[slot]
            if found is MISSING:
                value = fn(ctx)
                found = ctx.memo[slot] = TextForms(value) if type(value) is str else value
            return found

        return forms

    @staticmethod
    def _matches(forms: Fn, search: Search, pattern: str, span: Any) -> Fn:
        """``TEXT matches PATTERN`` on the request's :class:`TextForms` of TEXT: the
        literals one of which any match holds are looked for in the text (or its lowered
        ASCII form) first, and RE2 runs on UTF-8 bytes encoded once for every pattern
        (given a str, google-re2's wrapper encodes it and maps offsets back, several
        times the cost of a match)."""
        prefilter = required_literals(pattern)
        literals = prefilter.literals if prefilter is not None else ()
        ignore_case = prefilter is not None and prefilter.ignore_case

        def matches(ctx: Context) -> Value:
            found = forms(ctx)
            if type(found) is not TextForms:
                if found is None:
                    return False
                raise EvaluationError(f"'matches' needs a string, got {type_name(found)}", span)
            if literals:  # no match without one of them: skip the regex (usual case)
                hay = found.lower if ignore_case else found.text
                if hay is not None:
                    for literal in literals:
                        if literal in hay:
                            break
                    else:
                        return False
            return search(found.utf8, 0) is not None

        return matches

    def _profanity_call(self, node: ast.Call) -> tuple[Fn, Value]:
        """``profane``/``censor``: the matcher for the keyword arguments is fetched (built
        once per distinct configuration, shared between policies) here, at load."""
        options = {name: _unwrap(value) for name, value in node.kwargs}
        strict = options.get("strict")
        engine = profanity.matcher(
            _string_items(options.get("words")),
            _string_items(options.get("allow")),
            isinstance(strict, ast.Literal) and strict.value is True,
        )
        text_fn, const = self.compile(node.args[0])
        name = node.func
        span = node.span

        def on_text(apply: Callable[[str], Value], null: Value) -> Fn:
            def call(ctx: Context) -> Value:
                text = text_fn(ctx)
                if type(text) is str:
                    return apply(text)
                if text is None:
                    return null
                raise EvaluationError(f"{name}() needs a string, got {type_name(text)}", span)

            return call

        if name == "profane":
            return self._fold(on_text(engine.contains, False), const)
        return self._fold(on_text(engine.censor, None), const)

    def _lambda_call(self, node: ast.Call) -> tuple[Fn, Value]:
        items_fn = self.fn(node.args[0])
        cond = self.fn(node.args[1])
        name = node.func
        span = node.span

        def each(ctx: Context) -> Value:
            items = items_fn(ctx)
            if items is None:
                items = []
            if not isinstance(items, list | tuple):
                raise EvaluationError(f"{name}() needs a list, got {type_name(items)}", span)
            saved = ctx.it
            try:
                if name == "any":
                    for item in items:
                        ctx.it = item
                        if truth(cond(ctx), f"condition of {name}()"):
                            return True
                    return False
                if name == "all":
                    for item in items:
                        ctx.it = item
                        if not truth(cond(ctx), f"condition of {name}()"):
                            return False
                    return True
                total = 0
                for item in items:
                    ctx.it = item
                    if truth(cond(ctx), f"condition of {name}()"):
                        total += 1
                return total
            finally:
                ctx.it = saved

        return each, _NOT_CONST


def _string_items(node: ast.Node | None) -> tuple[str, ...]:
    """The strings of a constant list argument (checked by the checker); () for none."""
    if isinstance(node, ast.ListRef):
        return tuple(str(v) for v in node.items)
    if isinstance(node, ast.ListExpr):
        return tuple(str(i.value) for i in map(_unwrap, node.items) if isinstance(i, ast.Literal))
    return ()


def _constant_set(node: ast.Node) -> frozenset[object] | None:
    if isinstance(node, ast.ListRef):
        values: list[Value] = list(node.items)
    elif isinstance(node, ast.ListExpr):
        values = []
        for item in node.items:
            inner = _unwrap(item)
            if not isinstance(inner, ast.Literal):
                return None
            values.append(inner.value)
    else:
        return None
    try:
        return frozenset(key(v) for v in values)
    except TypeError:
        return None


def member(obj: Value, name: str) -> Value:
    return obj.get(name) if type(obj) is dict else None


def index(obj: Value, idx: Value) -> Value:
    if isinstance(obj, dict):
        return obj.get(idx) if isinstance(idx, str) else None
    if (
        isinstance(obj, list | str)
        and isinstance(idx, int)
        and not isinstance(idx, bool)
        and -len(obj) <= idx < len(obj)
    ):
        return obj[idx]
    return None


def lookup_path(obj: Value, keys: tuple[str | int, ...]) -> Value:
    for k in keys:
        obj = obj.get(k) if type(obj) is dict and isinstance(k, str) else index(obj, k)
        if obj is None:
            return None
    return obj


def _traced(fn: Fn, node: ast.Node) -> Fn:
    def traced(ctx: Context) -> Value:
        value = fn(ctx)
        # Any: a generic call, so that a list subclass's append (the policy tests' coverage
        # recorder) runs even where this module is compiled (mypyc calls list.append directly)
        trace: Any = ctx.trace
        if trace is not None:
            trace.append((node, value))
        return value

    return traced


# -- rules and trees ----------------------------------------------------------------------


def _template(compiler: _ExprCompiler, template: Template) -> Callable[[Context], str]:
    parts: list[str | Fn] = [p if isinstance(p, str) else compiler.fn(p) for p in template.parts]
    if all(isinstance(p, str) for p in parts):
        text = "".join(p for p in parts if isinstance(p, str))
        return lambda ctx: text

    def render_message(ctx: Context) -> str:
        return "".join(p if isinstance(p, str) else render(p(ctx)) for p in parts)

    return render_message


def _condition(
    compiler: _ExprCompiler, rule: CheckedRule
) -> tuple[Callable[[Context], bool] | None, bool]:
    """The rule's test (``when and not unless``); None when always true; and whether never."""
    when = compiler.compile(rule.when) if rule.when is not None else None
    unless = compiler.compile(rule.unless) if rule.unless is not None else None
    if when is not None and when[1] is not _NOT_CONST and not truth(when[1], "'when'"):
        return None, True
    if unless is not None and unless[1] is not _NOT_CONST and truth(unless[1], "'unless'"):
        return None, True
    w = when[0] if when is not None and when[1] is _NOT_CONST else None
    u = unless[0] if unless is not None and unless[1] is _NOT_CONST else None
    if w is not None and u is not None:
        w_, u_ = w, u
        return (lambda ctx: truth(w_(ctx), "'when'") and not truth(u_(ctx), "'unless'")), False
    if w is not None:
        w_ = w
        if rule.when is not None and gives_bool(rule.when):
            return w_, False  # it returns True or False

        def when_(ctx: Context) -> bool:
            value = w_(ctx)
            if value is True:
                return True
            return False if value is False or value is None else truth(value, "'when'")

        return when_, False
    if u is not None:
        u_ = u
        return (lambda ctx: not truth(u_(ctx), "'unless'")), False
    return None, False


@dataclass(frozen=True, slots=True)
class _Gating:
    """A rule's gate, with where it sits in the condition (for the gate-free variant)."""

    gate: Gate
    node: ast.Node  # the gating conjunct
    above: frozenset[int]  # ids of the nodes between the ``when`` root and it (macros too)


def _gate(rule: CheckedRule) -> _Gating | None:
    """An equality on a data/actor field that must hold for the rule to match."""
    if rule.when is None:
        return None
    conjuncts: list[tuple[ast.Node, frozenset[int]]] = []
    stack: list[tuple[ast.Node, frozenset[int]]] = [(rule.when, frozenset())]
    while stack:
        node, above = stack.pop()
        while isinstance(node, ast.Macro):
            above |= {id(node)}
            node = node.body
        if isinstance(node, ast.BoolOp) and node.op == "and":
            inner = above | {id(node)}
            stack.extend([(node.right, inner), (node.left, inner)])
        else:
            conjuncts.append((node, above))
    for position, (node, above) in enumerate(conjuncts):
        if not isinstance(node, ast.Compare) or node.op not in ("==", "in"):
            continue
        left, right = _unwrap(node.left), _unwrap(node.right)
        if node.op == "==" and isinstance(left, ast.Literal):
            left, right = right, left
        path = static_path(left)
        if path is None or path[0] not in ("data", "actor"):
            continue
        if node.op == "==" and isinstance(right, ast.Literal):
            values: tuple[Value, ...] = (right.value,)
        elif node.op == "in" and isinstance(right, ast.ListRef | ast.ListExpr):
            if _constant_set(right) is None:
                continue
            values = tuple(
                right.items
                if isinstance(right, ast.ListRef)
                else (_unwrap(i).value for i in right.items)  # type: ignore[attr-defined]
            )
        else:
            continue
        if any(v is None or isinstance(v, list | dict) for v in values):
            continue
        if not all(_cannot_fail(c) for c, _ in conjuncts[:position]):
            return None  # an earlier conjunct may fail: skipping the rule would hide that
        gate = Gate(path[0], path[1], frozenset(key(v) for v in values), node.span.text)
        return _Gating(gate, node, above)
    return None


def _cannot_fail(node: ast.Node) -> bool:
    """Whether a conjunct never raises: ``==``/``!=``/constant ``in`` of names, paths, literals."""
    node = _unwrap(node)
    if not isinstance(node, ast.Compare):
        return False
    left, right = _unwrap(node.left), _unwrap(node.right)
    plain = isinstance(left, ast.Literal | ast.Var) or static_path(left) is not None
    if node.op in ("==", "!="):
        return plain and (isinstance(right, ast.Literal | ast.Var) or bool(static_path(right)))
    if node.op in ("in", "not in") and isinstance(right, ast.ListRef | ast.ListExpr):
        return plain and _constant_set(right) is not None
    return False


FieldRef = tuple[str, tuple[str | int, ...]]  # ("data", ("channelId",))


def _touches(rule: CheckedRule, ref: FieldRef) -> bool:
    """Whether an enforced modify rule may change the field ``ref``."""
    root, keys = ref
    if rule.action != "modify" or rule.mode != "enforce" or root != "data":
        return False
    for target in [t for t, _ in rule.sets] + list(rule.unsets):
        paths = [target.path] if target.kind == "data" else [("text",), ("data", "text")]
        for path in paths:
            n = min(len(path), len(keys))
            if path[:n] == keys[:n]:
                return True
    return False


def _compile_rule(
    compiler: _ExprCompiler, rule: CheckedRule, needs_user: bool | None = None
) -> CompiledRule | None:
    test, never = _condition(compiler, rule)
    if never:
        return None
    message = _template(compiler, rule.message) if rule.message is not None else None
    sets = tuple((target, compiler.fn(value)) for target, value in rule.sets)
    if needs_user is None:
        needs_user = rule.needs_user
    return CompiledRule(rule, test, message, sets, rule.unsets, needs_user)


def _inputs(rule: CheckedRule) -> tuple[bool, bool]:
    """Whether the rule reads ``event``, and whether it reads ``user`` (one walk for both)."""
    event = user = False
    for expr in rule.expressions():
        for n in ast.walk(expr):
            if isinstance(n, ast.Var):
                event = event or n.name == "event"
                user = user or n.name == "user"
            elif isinstance(n, ast.Call) and n.func == "user_lookup_failed":
                user = True
    return event, user


class TreeCompiler:
    """Compiles the event trees of one rule set, each rule once for all its events.

    A rule's closures do not depend on the event unless the rule reads ``event``
    (which folds to a constant per event): those rules are compiled per event, the
    others once, and their compiled form is shared by every tree they belong to.
    Memo slots are numbered across the whole rule set, so shared closures agree on
    them. Trees can be asked for at any time (``PolicySet.tree`` compiles unknown
    event names on first sight); a lock keeps concurrent compilations apart.
    """

    def __init__(self, rules: Sequence[CheckedRule], trace: bool = False) -> None:
        self.source = rules
        self.trace = trace
        self._rules = [(r, r.events) for r in rules if r.doc.enabled]
        self._matching: dict[tuple[tuple[str, ...], str], bool] = {}  # few distinct `events`
        self._exprs = _ExprCompiler(None, trace)
        self._exprs.plan_sharing([e for r, _ in self._rules for e in r.expressions()])
        self._cache: dict[int, tuple[Fn, Value]] = {}
        self._inputs: dict[int, tuple[bool, bool]] = {}  # reads event, reads user
        self._gates: dict[int, _Gating | None] = {}
        self._compiled: dict[tuple[int, str], CompiledRule | None] = {}
        self._gate_free: dict[tuple[int, str], CompiledRule] = {}
        self._lock = threading.Lock()

    def tree(self, event: str, index: bool = True) -> EventTree:
        """The decision tree for one event name (``index=False``: a flat rule list)."""
        with self._lock:
            return self._tree(event, index)

    def _tree(self, event: str, index: bool) -> EventTree:
        compiled: list[CompiledRule] = []
        dropped: list[CheckedRule] = []
        matching = self._matching
        for rule, patterns in self._rules:
            applies = matching.get((patterns, event))
            if applies is None:
                applies = matching[patterns, event] = any(ev.matches(p, event) for p in patterns)
            if not applies:
                continue
            result = self._rule(rule, event)
            if result is None:
                dropped.append(rule)
            else:
                compiled.append(result)
        if index:
            steps, gates = _Indexer(self, event, compiled).build()
        else:
            steps, gates = list(compiled), [None] * len(compiled)
        return EventTree(
            event=event,
            steps=tuple(steps),
            rules=tuple(compiled),
            dropped=tuple(dropped),
            memo_size=len(self._exprs.slots),
            data_slots=tuple(self._exprs.data_slots),
            needs_user=any(r.needs_user for r in compiled),
            gates=tuple(gates) if any(g is not None for g in gates) else (),
        )

    def _for_event(self, rule: CheckedRule, event: str) -> str:
        """The cache key part of ``event``: "" for rules that do not read it."""
        reads = self._reads(rule)[0]
        exprs = self._exprs
        exprs.event = event if reads else None
        exprs.cache = None if reads else self._cache  # closures of `event` differ per event
        return event if reads else ""

    def _reads(self, rule: CheckedRule) -> tuple[bool, bool]:
        found = self._inputs.get(id(rule))
        if found is None:
            found = self._inputs[id(rule)] = _inputs(rule)
        return found

    def _rule(self, rule: CheckedRule, event: str) -> CompiledRule | None:
        slot = (id(rule), self._for_event(rule, event))
        if slot not in self._compiled:
            self._compiled[slot] = _compile_rule(self._exprs, rule, self._reads(rule)[1])
        return self._compiled[slot]

    def gating(self, rule: CheckedRule) -> _Gating | None:
        if id(rule) not in self._gates:
            self._gates[id(rule)] = _gate(rule)
        return self._gates[id(rule)]

    def gate_free(self, compiled: CompiledRule, event: str) -> CompiledRule:
        """The rule tested without its gate, for the branches of a switch that checked it.

        The condition is compiled with the gating conjunct known to be true, so the
        rest of its ``and`` chain runs exactly as before (same order, same errors:
        nothing before a gate can fail, and the gate itself cannot).
        """
        rule = compiled.rule
        if self.trace:
            return compiled  # traced trees show the whole condition
        slot = (id(rule), self._for_event(rule, event))
        found = self._gate_free.get(slot)
        if found is None:
            gating = self.gating(rule)
            if gating is None:  # pragma: no cover - only gated rules are asked for
                raise ValueError(f"{rule.qualified_id} has no gate")
            exprs = self._exprs
            exprs.known, exprs.uncached = {id(gating.node): True}, gating.above
            try:
                test, never = _condition(exprs, rule)
            finally:
                exprs.known, exprs.uncached = {}, frozenset()
            found = replace(compiled, test=_never if never else test)
            self._gate_free[slot] = found
        return found


def _never(ctx: Context) -> bool:
    return False


class _Indexer:
    """Groups one event's compiled rules into switches (see :mod:`receiver.compile.tree`).

    The most common gate field (``data.channelId``) dispatches regions: a region ends
    with a rule that may change the field. A region with at least two rules gated on
    the field becomes a :class:`Switch` whose branches merge each value's gated rules
    (gate-free) with the region's other steps. Those other steps, and every region
    without such a switch, group runs of consecutive rules gated on another field
    into smaller switches of gated rules only; a run that a gated rule of some value
    falls into is split, for that value's branch, around the rule.
    """

    def __init__(self, owner: TreeCompiler, event: str, rules: list[CompiledRule]) -> None:
        self.owner = owner
        self.event = event
        self.rules = rules
        self.gatings = [owner.gating(r.rule) for r in rules]
        self.used: list[Gate | None] = [None] * len(rules)  # the gate each rule is indexed by
        self.pieces: dict[tuple[int, ...], list[Step]] = {}

    def build(self) -> tuple[list[Step], list[Gate | None]]:
        counts = Counter(_ref(g.gate) for g in self.gatings if g is not None)
        if not counts:
            return list(self.rules), self.used
        main = counts.most_common(1)[0][0]
        steps: list[Step] = []
        start = 0
        while start < len(self.rules):
            end = start + 1
            while end < len(self.rules) and not _touches(self.rules[end - 1].rule, main):
                end += 1
            steps.extend(self._region(list(range(start, end)), main))
            start = end
        return steps, self.used

    def _on(self, position: int, ref: FieldRef) -> bool:
        gating = self.gatings[position]
        return gating is not None and _ref(gating.gate) == ref

    def _region(self, positions: list[int], main: FieldRef) -> list[Step]:
        gated = [p for p in positions if self._on(p, main)]
        if len(gated) < 2:
            return [step for step, _ in self._others(positions)]
        others = [p for p in positions if not self._on(p, main)]
        parts = self._others(others)
        owner: list[int] = []  # index into parts of each entry of `others`
        for number, (_, span) in enumerate(parts):
            owner.extend([number] * (span[1] - span[0]))

        def segment(a: int, b: int) -> list[Step]:
            """The steps for others[a:b], reusing whole parts and splitting cut ones."""
            out: list[Step] = []
            k = a
            while k < b:
                step, (s, e) = parts[owner[k]]
                if s == k and e <= b:
                    out.append(step)
                else:
                    out.extend(self._piece(tuple(others[k : min(e, b)])))
                k = min(e, b)
            return out

        by_value: dict[object, list[int]] = {}
        for p in gated:
            gating = self.gatings[p]
            assert gating is not None
            self.used[p] = gating.gate
            for k in gating.gate.values:
                by_value.setdefault(k, []).append(p)
        table: dict[object, tuple[Step, ...]] = {}
        for k, chosen in by_value.items():
            steps: list[Step] = []
            cursor = 0
            for p in chosen:
                cut = bisect.bisect_left(others, p)
                steps.extend(segment(cursor, cut))
                steps.append(self.owner.gate_free(self.rules[p], self.event))
                cursor = cut
            steps.extend(segment(cursor, len(others)))
            table[k] = tuple(steps)
        root, keys = main
        return [
            Switch(
                root=root,
                keys=keys,
                table=table,
                default=tuple(step for step, _ in parts),
                rules=tuple(self.rules[p] for p in positions),
                gated=len(gated),
            )
        ]

    def _piece(self, positions: tuple[int, ...]) -> list[Step]:
        """The steps of part of a run (memoized: many values cut a run at the same place)."""
        found = self.pieces.get(positions)
        if found is None:
            found = self.pieces[positions] = [step for step, _ in self._others(list(positions))]
        return found

    def _others(self, positions: list[int]) -> list[tuple[Step, tuple[int, int]]]:
        """Steps for rules at ``positions`` (in order), each with the slice it covers:
        runs of at least two consecutive rules gated on the same field become a switch
        of those rules (a run ends with a rule that may change its field)."""
        out: list[tuple[Step, tuple[int, int]]] = []
        i = 0
        while i < len(positions):
            gating = self.gatings[positions[i]]
            j = i + 1
            if gating is not None:
                ref = _ref(gating.gate)
                if not _touches(self.rules[positions[i]].rule, ref):
                    while j < len(positions) and self._on(positions[j], ref):
                        j += 1
                        if _touches(self.rules[positions[j - 1]].rule, ref):
                            break
            if gating is None or j - i < 2:
                out.append((self.rules[positions[i]], (i, i + 1)))
            else:
                out.append((self._run(tuple(positions[i:j])), (i, j)))
            i = j
        return out

    def _run(self, positions: tuple[int, ...]) -> Switch:
        table: dict[object, list[Step]] = {}
        gate: Gate | None = None
        for p in positions:
            gating = self.gatings[p]
            assert gating is not None
            gate = self.used[p] = gating.gate
            free = self.owner.gate_free(self.rules[p], self.event)
            for k in gate.values:
                table.setdefault(k, []).append(free)
        assert gate is not None
        return Switch(
            root=gate.root,
            keys=gate.keys,
            table={k: tuple(v) for k, v in table.items()},
            default=(),
            rules=tuple(self.rules[p] for p in positions),
            gated=len(positions),
        )


def _ref(gate: Gate) -> FieldRef:
    return gate.root, gate.keys


def compile_tree(
    rules: Sequence[CheckedRule],
    event: str,
    trace: bool = False,
    index: bool = True,
    *,
    compiler: TreeCompiler | None = None,
) -> EventTree:
    """The decision tree for one event name (``index=False``: a flat rule list, for reference).

    ``compiler``: a :class:`TreeCompiler` made for these same ``rules`` (and ``trace``),
    which compiles each rule once across the trees it is asked for.
    """
    if compiler is None:  # sharing planned among this event's rules only
        applicable = [r for r in rules if any(ev.matches(p, event) for p in r.events)]
        return TreeCompiler(applicable, trace).tree(event, index)
    if compiler.source is not rules or compiler.trace != trace:
        raise ValueError("the tree compiler was made for other rules or another trace setting")
    return compiler.tree(event, index)


def compile_expression(node: ast.Node, event: str) -> Callable[[Context], Value]:
    """One checked expression as a closure that needs no memo slots in its context (for
    tools and tests; rules use compile_tree)."""
    return _ExprCompiler(event, trace=False, memo=False).fn(node)


def compile_expressions(
    nodes: Sequence[ast.Node], event: str
) -> tuple[list[Callable[[Context], Value]], int]:
    """Checked expressions evaluated together on one context (an event's counter keys
    and conditions), sharing memo slots for the calls they repeat; and the number of
    slots their context needs."""
    compiler = _ExprCompiler(event, trace=False)
    compiler.plan_sharing(nodes)
    fns = [compiler.fn(node) for node in nodes]
    return fns, len(compiler.slots)
