"""Compiling checked expressions into Python closures.

Stage 3 (compile). Consumes resolved, type-checked expression ASTs
(:mod:`receiver.dsl.ast`, as the checker leaves them); produces closures
``Context -> Value`` (:data:`Fn`) that the evaluator calls per request, each with
the constant it folds to when it has no inputs. Along the way:

- ``event`` is a constant (given at construction), so ``event == "x"`` folds away, as
  does every pure sub-expression without inputs;
- each pure call that occurs more than once (``profane(data.text)`` in three rules)
  gets a memo slot in a shared :class:`MemoPlan` and is computed at most once per
  request; slots that read ``data`` are listed, so that a ``modify`` rule can clear them;
- each call is compiled the way the function table says
  (:data:`~receiver.dsl.functions.Form`): regexes, phrase lists and profanity
  matchers are built here, at load, never per request, and handed to the builders of
  :mod:`receiver.compile.calls`, which hold what each call form runs per request;
- with ``trace=True`` every closure also records its value (for ``--explain``): the
  traced and the fast closures come from this same code.

This module is longer than most (about 650 lines) because the expression compiler is
one recursive visitor whose methods call each other, one per node kind and operator;
splitting the visitor would only scatter the folding, memo and tracing rules that
every one of them follows. The per-request bodies of calls live in ``calls.py``.
Nothing here parses or walks anything per request.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from receiver import profanity
from receiver.check.model import compile_regex
from receiver.compile import calls
from receiver.compile.calls import Fn
from receiver.dsl import ast
from receiver.dsl.analysis import (
    constant_set,
    gives_bool,
    reads,
    static_path,
    structural_key,
    unwrap,
)
from receiver.dsl.context import MISSING, Context
from receiver.dsl.functions import FUNCTIONS, Function
from receiver.dsl.paths import index, lookup_path, member
from receiver.dsl.replace import Replacer
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
    text_op,
    truth,
)
from receiver.errors import EvaluationError
from receiver.text.re2search import searcher

# The second value of compile() for a closure that does not fold to a constant.
NOT_CONST: Any = object()
_NOT_CONST = NOT_CONST
# What constant folding runs closures on: a context (compiled closures check the type of
# their argument) whose fields no constant expression reads.
_CONSTANT_CONTEXT = Context("", {}, {}, Timestamp(0.0), 0)


class MemoPlan:
    """The memo slots of closures that run on one context: which calls share a slot
    (:meth:`plan_sharing`), the slot of each shared value, and the slots whose value
    depends on ``data`` (cleared when a ``modify`` rule changes it). Compilers that
    share a plan (every tree of a rule set) agree on the slot numbers."""

    def __init__(self) -> None:
        self.slots: dict[tuple[object, ...], int] = {}
        self.data_slots: list[int] = []
        self.shared: frozenset[tuple[object, ...]] = frozenset()
        self._read_sets: dict[int, frozenset[str]] = {}

    def reads(self, node: ast.Node) -> frozenset[str]:
        """:func:`~receiver.dsl.analysis.reads`, kept per node: the rules' trees live as
        long as this plan."""
        return reads(node, self._read_sets)

    def plan_sharing(self, exprs: Sequence[ast.Node]) -> None:
        """Pick the sub-expressions worth a memo slot: calls that occur more than once,
        of functions that may be memoised, outside the condition of ``any``/``all``/``count``."""
        counts: Counter[tuple[object, ...]] = Counter()
        for expr in exprs:
            for found in ast.walk(expr):
                node = unwrap(found)
                if (
                    isinstance(node, ast.Call)
                    and FUNCTIONS[node.func].memo
                    and "it" not in self.reads(node)
                ):
                    counts[structural_key(node)] += 1
        self.shared = frozenset(k for k, n in counts.items() if n > 1)

    def slot(self, skey: tuple[object, ...], node: ast.Node) -> int:
        """The memo slot for the value ``skey`` names, computed from ``node``'s inputs."""
        slot = self.slots.get(skey)
        if slot is None:
            slot = self.slots[skey] = len(self.slots)
            if self.reads(node) & {"data", "text"}:
                self.data_slots.append(slot)
        return slot


@dataclass(frozen=True, slots=True, eq=False)
class ExpressionCompiler:
    """Compiles checked expressions to closures, in one mode given at construction.

    ``event`` is the event name that ``event`` folds to; None while compiling rules
    that do not read it, whose closures then serve every event. ``trace``: every
    closure also records its value in the context's trace (``--explain``). ``memo``:
    False when the closures run on a context without memo slots. ``plan`` numbers
    the memo slots; compilers that share one (the trees of a rule set) agree on them.
    ``cache`` (when set) keeps each node's closure so that a node is compiled once
    (macros, and the parts of a condition its gate-free variant reuses); ``known``
    maps nodes to a value assumed at run time (a gate the switch has already checked),
    and ``uncached`` holds the nodes above them, whose closures differ from the cached
    ones. The mode is frozen: a different one is a new compiler (:meth:`assuming`).
    """

    event: str | None
    trace: bool = False
    memo: bool = True
    plan: MemoPlan = field(default_factory=MemoPlan)
    cache: dict[int, tuple[Fn, Value]] | None = None
    known: Mapping[int, Value] = field(default_factory=dict)
    uncached: frozenset[int] = frozenset()

    def assuming(self, known: Mapping[int, Value], uncached: frozenset[int]) -> ExpressionCompiler:
        """A compiler in this one's mode that takes the ``known`` nodes' values as given."""
        return replace(self, known=known, uncached=uncached)

    def reads(self, node: ast.Node) -> frozenset[str]:
        return self.plan.reads(node)

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
        if self.trace and const is _NOT_CONST and not isinstance(unwrap(node), ast.Var):
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
        if const is _NOT_CONST and skey is not None and skey in self.plan.shared:
            fn = self._memoized(fn, skey, node)
        return fn, const

    def _memoized(self, fn: Fn, skey: tuple[object, ...], node: ast.Node) -> Fn:
        slot = self.plan.slot(skey, node)

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
        """``len(X) < N`` and the like, in one closure (:func:`calls.length_order`)."""
        arg = self.fn(measured.args[0])
        impl = FUNCTIONS[measured.func].impl
        if impl is None:  # pragma: no cover - the table gives every "length" call an impl
            raise TypeError(f"{measured.func}() has no implementation")
        fn = calls.length_order(arg, impl, op, limit, call_span=measured.span, span=span)
        return fn, _NOT_CONST

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
        right_node = unwrap(node.right)
        if op == "matches":
            assert isinstance(right_node, ast.Literal)
            pattern = str(right_node.value)
            search = searcher(compile_regex(pattern))
            forms = self._text_forms(node.left, left, lconst)
            return self._fold(calls.matches(forms, search, pattern, span), lconst)
        right, rconst = self.compile(node.right)
        if op in ("in", "not in") and isinstance(right_node, ast.ListRef | ast.ListExpr):
            members = constant_set(right_node)
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
            limit, compare = rconst, calls.ORDER[op]
            measured = unwrap(node.left)
            if (
                isinstance(measured, ast.Call)
                and FUNCTIONS[measured.func].form == "length"
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
        """A call, compiled as the function table says (:data:`~receiver.dsl.functions.Form`).

        The "apply" form is compiled here rather than in a method of its own: nested
        calls recurse through this method, and the depth limit counts their frames.
        """
        func = FUNCTIONS[node.func]
        form = func.form
        if form == "context":
            return self._context_call(func)
        if form == "clock":
            return self._clock_call(node, func)
        if form == "each":
            return self._lambda_call(node, func)
        if form == "profanity":
            return self._profanity_call(node, func)
        if form == "pattern":
            return self._pattern_call(node, func)
        if form == "phrases":
            found = self._phrases_call(node)
            if found is not None:
                return found
        # "apply" ("length" too, and "phrases" of a list known only per request)
        impl = func.impl
        if impl is None:  # pragma: no cover - Function checks this at import
            raise TypeError(f"{func.name}() has no implementation")
        pairs = self.kids(*node.args)
        args = [f for f, _ in pairs]
        consts = [c for _, c in pairs]
        return self._fold(calls.apply(impl, args, node.span), *consts)

    @staticmethod
    def _context_call(func: Function) -> tuple[Fn, Value]:
        """``now()``, ``user_lookup_failed()``...: a field of the request context."""
        field = func.context_field
        if field is None:  # pragma: no cover - Function checks this at import
            raise TypeError(f"{func.name}() names no context field")
        return calls.context_field(field), _NOT_CONST

    def _clock_call(self, node: ast.Call, func: Function) -> tuple[Fn, Value]:
        """``age(x)``: the implementation given the request's time first."""
        impl = func.impl
        if impl is None:  # pragma: no cover - Function checks this at import
            raise TypeError(f"{func.name}() has no implementation")
        args = [self.fn(a) for a in node.args]
        return calls.clock(impl, args, node.span), _NOT_CONST

    def _pattern_call(self, node: ast.Call, func: Function) -> tuple[Fn, Value]:
        """``regex_replace(text, "pattern", repl)``: the pattern compiled once, at load."""
        (position,) = func.literal_args
        pattern = unwrap(node.args[position])
        if not isinstance(pattern, ast.Literal):  # pragma: no cover - the checker requires it
            raise TypeError(f"{func.name}() needs a literal pattern")
        pairs = self.kids(*node.args)
        replace = Replacer(compile_regex(str(pattern.value)), str(pattern.value))
        (text_fn, text_const), (repl_fn, repl_const) = pairs[0], pairs[2]
        fn = calls.pattern(func.name, replace, text_fn, repl_fn, node.span)
        return self._fold(fn, text_const, repl_const)

    def _phrases_call(self, node: ast.Call) -> tuple[Fn, Value] | None:
        """``contains_any(text, list)`` with a constant list: one phrase matcher built at
        load, searching the request's :class:`TextForms` of the text. None when the list
        is not constant (then the implementation runs on the values)."""
        phrases = unwrap(node.args[1])
        if constant_set(phrases) is None:
            return None
        (text_fn, text_const), (_, values) = self.kids(*node.args)
        matcher = PhraseMatcher(str(v) for v in values if v is not None)
        forms = self._text_forms(node.args[0], text_fn, text_const)
        fn = calls.phrases(node.func, matcher, forms, node.span)
        return self._fold(fn, text_const)

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
        slot = self.plan.slot(("text-forms", structural_key(node)), node)

        def forms(ctx: Context) -> Value:
            found = ctx.memo[slot]
            if found is MISSING:
                value = fn(ctx)
                found = ctx.memo[slot] = TextForms(value) if type(value) is str else value
            return found

        return forms

    def _profanity_call(self, node: ast.Call, func: Function) -> tuple[Fn, Value]:
        """``profane``/``censor``: the matcher for the keyword arguments is fetched (built
        once per distinct configuration, shared between policies) here, at load. A call
        that gives a bool asks the matcher whether the text is profane (null: false);
        the other censors it (null: null)."""
        options = {name: unwrap(value) for name, value in node.kwargs}
        strict = options.get("strict")
        engine = profanity.matcher(
            calls.string_items(options.get("words")),
            calls.string_items(options.get("allow")),
            isinstance(strict, ast.Literal) and strict.value is True,
        )
        text_fn, const = self.compile(node.args[0])
        if func.exact_bool:
            fn = calls.on_text(node.func, engine.contains, False, text_fn, node.span)
        else:
            fn = calls.on_text(node.func, engine.censor, None, text_fn, node.span)
        return self._fold(fn, const)

    def _lambda_call(self, node: ast.Call, func: Function) -> tuple[Fn, Value]:
        """``any``/``all``/``count``: the condition runs per element (:func:`calls.each`)."""
        items_fn = self.fn(node.args[0])
        cond = self.fn(node.args[1])
        return calls.each(node.func, func.combine, items_fn, cond, node.span), _NOT_CONST


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


def compile_expression(node: ast.Node, event: str) -> Callable[[Context], Value]:
    """One checked expression as a closure that needs no memo slots in its context (for
    tools and tests; rules use compile_tree)."""
    return ExpressionCompiler(event, memo=False).fn(node)


def compile_expressions(
    nodes: Sequence[ast.Node], event: str
) -> tuple[list[Callable[[Context], Value]], int]:
    """Checked expressions evaluated together on one context (an event's counter keys
    and conditions), sharing memo slots for the calls they repeat; and the number of
    slots their context needs."""
    plan = MemoPlan()
    plan.plan_sharing(nodes)
    compiler = ExpressionCompiler(event, plan=plan)
    fns = [compiler.fn(node) for node in nodes]
    return fns, len(plan.slots)
