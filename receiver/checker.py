"""Checking: policy documents to checked rules, with every static problem collected.

Stage 2 of the pipeline. Consumes the :class:`~receiver.policy.PolicyDoc` list of
the loader; parses each expression (``when``, ``unless``, ``set`` values,
macros, the ``{...}`` parts of messages), resolves names (variables, lists,
macros, functions), inlines macros, infers types, compiles regexes, and checks
event names, ids and reachability. Produces :class:`CheckedRule` objects in
evaluation order (priority high first, then file name, then position), plus
diagnostics. A sub-expression that fails to check gets the ``error`` type, so
one mistake is reported once and checking goes on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Literal

import re2

from receiver import events as ev
from receiver.counters.declare import CheckedCounter, check_counters, counter_ids, resolve_decisions
from receiver.counters.declare import warn_unused as warn_unused_counters
from receiver.diagnostics import Diagnostics, did_you_mean
from receiver.dsl import ast
from receiver.dsl.functions import FUNCTIONS, Function, Keyword, Type
from receiver.dsl.parser import (
    MAX_EXPRESSION_DEPTH,
    RESERVED,
    ExprSource,
    ParseCache,
    parse_expression,
    too_deep_message,
)
from receiver.dsl.template import Template, parse_template
from receiver.policy import Action, Mode, OnError, PolicyDoc, RuleDoc
from receiver.source import Span
from receiver.values import Duration, Timestamp, type_name

ERROR: Type = "error"  # the type of a sub-expression that already failed to check
ORDERED = frozenset({"number", "string", "duration", "time"})
DEFAULT_DENY_MESSAGE = "This action is not allowed by the community rules."


def regex_options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False
    return options


def compile_regex(pattern: str) -> re2._Regexp:
    """Compile an RE2 pattern (linear time; no backreferences or lookaround)."""
    return re2.compile(pattern, regex_options())


@dataclass(frozen=True, slots=True)
class Target:
    """Where a ``set``/``unset`` writes: a path under ``data``, or ``text`` (wherever it is)."""

    kind: Literal["data", "text"]
    path: tuple[str | int, ...]
    span: Span

    def __str__(self) -> str:
        if self.kind == "text":
            return "text"
        out = "data"
        for part in self.path:
            if isinstance(part, int):
                out += f"[{part}]"
            elif part.isidentifier():
                out += f".{part}"
            else:
                out += f'["{part}"]'
        return out


@dataclass(frozen=True, slots=True)
class PolicyInfo:
    name: str
    path: str
    priority: int
    on_error: OnError
    description: str
    lists: dict[str, tuple[object, ...]]


@dataclass(frozen=True, slots=True)
class CheckedRule:
    policy: PolicyInfo
    doc: RuleDoc
    order: int
    when: ast.Node | None
    unless: ast.Node | None
    message: Template | None
    sets: tuple[tuple[Target, ast.Node], ...]
    unsets: tuple[Target, ...]
    # policy/rule-id, kept: every decision a rule makes names it
    qualified_id: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "qualified_id", f"{self.policy.name}/{self.doc.id.value}")

    @property
    def id(self) -> str:
        return self.doc.id.value

    @property
    def action(self) -> Action:
        return self.doc.action.value

    @property
    def mode(self) -> Mode:
        return self.doc.mode

    @property
    def events(self) -> tuple[str, ...]:
        return tuple(e.value for e in self.doc.events)

    def expressions(self) -> Iterable[ast.Node]:
        if self.when is not None:
            yield self.when
        if self.unless is not None:
            yield self.unless
        if self.message is not None:
            yield from (p for p in self.message.parts if isinstance(p, ast.Node))
        yield from (value for _, value in self.sets)

    @property
    def needs_user(self) -> bool:
        return any(
            (isinstance(n, ast.Var) and n.name == "user")
            or (isinstance(n, ast.Call) and n.func == "user_lookup_failed")
            for expr in self.expressions()
            for n in ast.walk(expr)
        )


@dataclass(slots=True)
class CheckResult:
    rules: list[CheckedRule]
    policies: list[PolicyInfo]
    diagnostics: Diagnostics
    documents: list[PolicyDoc] = field(default_factory=list)
    counters: list[CheckedCounter] = field(default_factory=list)


class _Scope:
    """Name resolution and type inference inside one policy."""

    def __init__(self, doc: PolicyDoc, diags: Diagnostics, parsed: ParseCache) -> None:
        self.doc = doc
        self.diags = diags
        self.parsed = parsed  # shared by the policies of one check
        self.lists = {name: tuple(i.value for i in d.items) for name, d in doc.lists.items()}
        self.macro_bodies: dict[str, ast.Node | None] = {}
        self.macro_types: dict[str, Type] = {}
        self.macro_uses_it: dict[str, bool] = {}
        self.visiting: list[str] = []
        self.visiting_depth = 0  # summed parse depths of the macros in `visiting`
        self.used: set[str] = set()
        self.counters = counter_ids(doc)

    # -- names ---------------------------------------------------------------------------

    def candidates(self) -> list[str]:
        return [*ast.VARIABLES, *self.lists, *self.doc.macros, *self.counters]

    def resolve(self, node: ast.Node, in_lambda: bool) -> tuple[ast.Node, Type]:
        """The resolved node (names replaced) and its type."""
        if isinstance(node, ast.Name):
            return self.resolve_name(node, in_lambda)
        if isinstance(node, ast.Literal):
            return node, _literal_type(node.value)
        if isinstance(node, ast.Member):
            obj, obj_type = self.resolve(node.obj, in_lambda)
            out = ast.Member(node.span, obj, node.name)
            if obj_type in ("map", "any", ERROR, "null"):
                return out, ERROR if obj_type == ERROR else "any"
            self.diags.error(
                "type",
                f"cannot read field '{node.name}' of a {obj_type}",
                node.span,
            )
            return out, ERROR
        if isinstance(node, ast.Index):
            obj, obj_type = self.resolve(node.obj, in_lambda)
            idx, idx_type = self.resolve(node.index, in_lambda)
            out_index = ast.Index(node.span, obj, idx)
            want = {"list": "number", "string": "number", "map": "string"}.get(obj_type)
            if obj_type not in ("map", "list", "string", "any", ERROR, "null"):
                self.diags.error("type", f"cannot index into a {obj_type}", node.span)
                return out_index, ERROR
            if want and idx_type not in (want, "any", ERROR):
                self.diags.error(
                    "type", f"a {obj_type} is indexed by a {want}, not a {idx_type}", idx.span
                )
                return out_index, ERROR
            return out_index, "string" if obj_type == "string" else "any"
        if isinstance(node, ast.Call):
            return self.resolve_call(node, in_lambda)
        if isinstance(node, ast.ListExpr):
            items = tuple(self.resolve(i, in_lambda)[0] for i in node.items)
            return ast.ListExpr(node.span, items), "list"
        if isinstance(node, ast.MapExpr):
            pairs = tuple((k, self.resolve(v, in_lambda)[0]) for k, v in node.items)
            return ast.MapExpr(node.span, pairs), "map"
        if isinstance(node, ast.Not):
            operand, t = self.resolve(node.operand, in_lambda)
            self.expect_bool(operand, t, "'not'")
            return ast.Not(node.span, operand), "bool"
        if isinstance(node, ast.Neg):
            operand, t = self.resolve(node.operand, in_lambda)
            if t not in ("number", "duration", "any", ERROR):
                self.diags.error("type", f"cannot negate a {t}", node.span)
                return ast.Neg(node.span, operand), ERROR
            return ast.Neg(node.span, operand), t if t != ERROR else ERROR
        if isinstance(node, ast.BoolOp):
            left, lt = self.resolve(node.left, in_lambda)
            right, rt = self.resolve(node.right, in_lambda)
            self.expect_bool(left, lt, f"'{node.op}'")
            self.expect_bool(right, rt, f"'{node.op}'")
            return ast.BoolOp(node.span, node.op, left, right), "bool"
        if isinstance(node, ast.Compare):
            return self.resolve_compare(node, in_lambda)
        if isinstance(node, ast.Arith):
            return self.resolve_arith(node, in_lambda)
        raise TypeError(f"unexpected node {type(node).__name__}")  # pragma: no cover

    def resolve_name(self, node: ast.Name, in_lambda: bool) -> tuple[ast.Node, Type]:
        name = node.name
        if name == "it":
            if not in_lambda:
                self.diags.error(
                    "unknown-name",
                    "'it' only exists inside the condition of any(), all() or count()",
                    node.span,
                )
                return node, ERROR
            return ast.Var(node.span, "it"), "any"
        if name in ast.VARIABLES:
            types = {"event": "string", "data": "map", "actor": "map", "decision_id": "string"}
            return ast.Var(node.span, name), types.get(name, "any")
        if name in self.lists:
            self.used.add(name)
            return ast.ListRef(node.span, name, self.lists[name]), "list"
        if name in self.doc.macros:
            self.used.add(name)
            body = self.macro(name, node.span)
            if body is None:
                return node, ERROR
            if self.macro_uses_it.get(name) and not in_lambda:
                self.diags.error(
                    "unknown-name",
                    f"macro '{name}' uses 'it', so it can only be used inside any(), all() "
                    "or count()",
                    node.span,
                )
                return node, ERROR
            return ast.Macro(node.span, name, body), self.macro_types[name]
        if name in self.counters:
            self.used.add(name)
            return ast.CounterRef(node.span, name, self.counters[name]), "number"
        if name in FUNCTIONS:
            self.diags.error(
                "not-a-value", f"'{name}' is a function; call it as {name}(...)", node.span
            )
            return node, ERROR
        self.diags.error(
            "unknown-name",
            f"unknown name '{name}'{did_you_mean(name, self.candidates())}"
            + ("" if did_you_mean(name, self.candidates()) else _name_help()),
            node.span,
        )
        return node, ERROR

    def macro(self, name: str, use: Span) -> ast.Node | None:
        if name in self.macro_bodies:
            return self.macro_bodies[name]
        if name in self.visiting:
            cycle = " -> ".join([*self.visiting[self.visiting.index(name) :], name])
            self.diags.error("macro-cycle", f"macros refer to each other in a cycle: {cycle}", use)
            return None
        self.visiting.append(name)
        macro_doc = self.doc.macros[name]
        parsed = parse_expression(macro_doc.expr, self.diags, self.parsed)
        body: ast.Node | None = None
        levels = ast.depth(parsed) if parsed is not None else 0
        if parsed is not None and self.visiting_depth + levels > MAX_EXPRESSION_DEPTH:
            # Resolving would recurse through every macro of the chain at once.
            self.diags.error("too-deep", too_deep_message(macros=True), use)
        elif parsed is not None:
            errors_before = len(self.diags.errors)
            self.visiting_depth += levels
            resolved, t = self.resolve(parsed, in_lambda=True)
            self.visiting_depth -= levels
            if len(self.diags.errors) == errors_before:
                body = resolved
                self.macro_types[name] = t
                self.macro_uses_it[name] = any(
                    isinstance(n, ast.Var) and n.name == "it" for n in _walk_no_lambda(resolved)
                )
        self.visiting.pop()
        self.macro_bodies[name] = body
        return body

    def bounded(self, resolved: ast.Node) -> ast.Node | None:
        """A resolved top-level expression, or None (``too-deep``) when macros nest it too deep.

        Every later stage (compiler, evaluator, explanations, coverage) recurses over
        resolved trees, so none is deeper than MAX_EXPRESSION_DEPTH.
        """
        found = ast.deeper_than(resolved, MAX_EXPRESSION_DEPTH)
        if found is None:
            return resolved
        self.diags.error("too-deep", too_deep_message(macros=True), found[1].span)
        return None

    # -- operators -----------------------------------------------------------------------

    def expect_bool(self, node: ast.Node, t: Type, where: str) -> None:
        if t not in ("bool", "any", ERROR, "null"):
            self.diags.error(
                "type", f"{where} needs true/false values, but this is a {t}", node.span
            )

    def resolve_compare(self, node: ast.Compare, in_lambda: bool) -> tuple[ast.Node, Type]:
        left, lt = self.resolve(node.left, in_lambda)
        right, rt = self.resolve(node.right, in_lambda)
        out = ast.Compare(node.span, node.op, node.op_span, left, right)
        op = node.op
        known = lt not in ("any", ERROR) and rt not in ("any", ERROR)
        if op in ("<", "<=", ">", ">="):
            for side, t in ((left, lt), (right, rt)):
                if t not in ORDERED and t not in ("any", ERROR, "null"):
                    self.diags.error(
                        "type",
                        f"'{op}' compares numbers, strings, durations or times, not a {t}",
                        side.span,
                    )
                    return out, "bool"
            time_like = {"time", "string", "number"}
            if (
                known
                and lt != rt
                and not (("time" in (lt, rt)) and lt in time_like and rt in time_like)
                and "null" not in (lt, rt)
            ):
                self.diags.error(
                    "type", f"cannot compare a {lt} with a {rt} using '{op}'", node.op_span
                )
        elif op in ("==", "!="):
            if known and lt != rt and "null" not in (lt, rt) and "time" not in (lt, rt):
                verdict = "false" if op == "==" else "true"
                self.diags.warning(
                    "always-constant",
                    f"a {lt} is never equal to a {rt}, so this is always {verdict}",
                    node.op_span,
                )
        elif op in ("in", "not in", "contains"):
            container, ct, item, it_ = (
                (right, rt, left, lt) if op != "contains" else (left, lt, right, rt)
            )
            if ct not in ("list", "string", "map", "any", ERROR, "null"):
                self.diags.error(
                    "type", f"'{op}' needs a list, string or map, not a {ct}", container.span
                )
            elif ct in ("string", "map") and it_ not in ("string", "any", ERROR, "null"):
                self.diags.error("type", f"cannot look for a {it_} inside a {ct}", item.span)
        elif op in ("startswith", "endswith"):
            for side, t in ((left, lt), (right, rt)):
                if t not in ("string", "any", ERROR, "null"):
                    self.diags.error("type", f"'{op}' works on strings, not a {t}", side.span)
        elif op == "matches":
            if lt not in ("string", "any", ERROR, "null"):
                self.diags.error("type", f"'matches' works on strings, not a {lt}", left.span)
            self.check_pattern(right, "'matches'")
        return out, "bool"

    def check_pattern(self, node: ast.Node, where: str) -> None:
        literal = node.body if isinstance(node, ast.Macro) else node
        if not (isinstance(literal, ast.Literal) and isinstance(literal.value, str)):
            self.diags.error(
                "pattern-not-literal",
                f'{where} needs a pattern written as a string literal, e.g. "(?i)^free"',
                node.span,
            )
            return
        try:
            compile_regex(literal.value)
        except re2.error as err:
            reason = err.args[0].decode() if err.args and isinstance(err.args[0], bytes) else err
            hint = ""
            if "(?=" in literal.value or "(?!" in literal.value or "(?<" in literal.value:
                hint = "; RE2 has no lookaround (it guarantees linear time)"
            elif "\\1" in literal.value:
                hint = "; RE2 has no backreferences (it guarantees linear time)"
            self.diags.error("regex", f"invalid regular expression: {reason}{hint}", node.span)

    def resolve_arith(self, node: ast.Arith, in_lambda: bool) -> tuple[ast.Node, Type]:
        left, lt = self.resolve(node.left, in_lambda)
        right, rt = self.resolve(node.right, in_lambda)
        out = ast.Arith(node.span, node.op, node.op_span, left, right)
        if ERROR in (lt, rt):
            return out, ERROR
        if "any" in (lt, rt) or "null" in (lt, rt):
            other = rt if lt in ("any", "null") else lt
            if node.op in ("*", "/", "%") and other == "number":
                return out, "any"
            return out, "any"
        result = _ARITH.get((node.op, lt, rt))
        if result is None:
            self.diags.error("type", f"cannot use '{node.op}' on a {lt} and a {rt}", node.op_span)
            return out, ERROR
        return out, result

    def resolve_call(self, node: ast.Call, in_lambda: bool) -> tuple[ast.Node, Type]:
        func = FUNCTIONS.get(node.func)
        if func is None:
            if node.func in self.lists or node.func in self.doc.macros:
                what = "list" if node.func in self.lists else "macro"
                self.diags.error(
                    "not-a-function",
                    f"'{node.func}' is a {what}, not a function; use it without parentheses",
                    node.func_span,
                )
            else:
                self.diags.error(
                    "unknown-function",
                    f"unknown function '{node.func}'{did_you_mean(node.func, FUNCTIONS)}",
                    node.func_span,
                )
            for arg in ast.children(node):
                self.resolve(arg, in_lambda)
            return node, ERROR
        if not func.accepts(len(node.args)):
            got = len(node.args)
            plural = "" if func.arity in ("1", "at least 1") else "s"
            self.diags.error(
                "arity",
                f"{func.name}() takes {func.arity} argument{plural}, got {got}",
                node.span,
            )
            return node, ERROR
        args: list[ast.Node] = []
        failed = False
        for index, arg in enumerate(node.args):
            lambda_here = func.lambda_arg == index
            resolved, t = self.resolve(arg, in_lambda or lambda_here)
            args.append(resolved)
            accepted = func.param(index)
            if t == ERROR:
                failed = True
            elif accepted is not None and t not in accepted and t not in ("any", "null"):
                want = " or ".join(sorted(accepted))
                what = "condition" if lambda_here else "argument"
                self.diags.error(
                    "type",
                    f"{func.name}() {what} {index + 1} must be a {want}, not a {t}",
                    arg.span,
                )
                failed = True
            if index in func.literal_args:
                self.check_pattern(resolved, f"{func.name}()")
        kwargs, kwargs_failed = self.resolve_keywords(func, node, in_lambda)
        out = ast.Call(node.span, node.func, node.func_span, tuple(args), kwargs, node.kwarg_spans)
        return out, ERROR if failed or kwargs_failed else func.returns

    def resolve_keywords(
        self, func: Function, node: ast.Call, in_lambda: bool
    ) -> tuple[tuple[tuple[str, ast.Node], ...], bool]:
        """The call's resolved keyword arguments, and whether any of them is wrong.

        Keyword arguments configure what is built once at load (a profanity matcher),
        so their values must be constants of the kind the function declares.
        """
        out: list[tuple[str, ast.Node]] = []
        failed = False
        name_spans = node.kwarg_spans or tuple(value.span for _, value in node.kwargs)
        for (name, value), name_span in zip(node.kwargs, name_spans, strict=True):
            resolved, t = self.resolve(value, in_lambda)
            out.append((name, resolved))
            spec = func.keyword(name)
            if spec is None:
                names = [k.name for k in func.keywords]
                if not names:
                    message = f"{func.name}() takes no keyword arguments"
                else:
                    hint = did_you_mean(name, names) or f"; it takes {', '.join(names)}"
                    message = f"{func.name}() has no keyword argument '{name}'{hint}"
                self.diags.error("unknown-keyword", message, name_span)
                failed = True
                continue
            if t == ERROR:
                failed = True
                continue
            problem = _keyword_problem(spec, resolved)
            if problem:
                self.diags.error(
                    "keyword-not-constant", f"{func.name}() {name}= {problem}", resolved.span
                )
                failed = True
        return tuple(out), failed


_ARITH: dict[tuple[str, Type, Type], Type] = {
    ("+", "number", "number"): "number",
    ("+", "string", "string"): "string",
    ("+", "list", "list"): "list",
    ("+", "duration", "duration"): "duration",
    ("+", "time", "duration"): "time",
    ("+", "duration", "time"): "time",
    ("-", "number", "number"): "number",
    ("-", "duration", "duration"): "duration",
    ("-", "time", "duration"): "time",
    ("-", "time", "time"): "duration",
    ("-", "time", "string"): "duration",
    ("-", "time", "number"): "duration",
    ("-", "string", "time"): "duration",
    ("-", "number", "time"): "duration",
    ("*", "number", "number"): "number",
    ("*", "duration", "number"): "duration",
    ("*", "number", "duration"): "duration",
    ("/", "number", "number"): "number",
    ("/", "duration", "number"): "duration",
    ("/", "duration", "duration"): "number",
    ("%", "number", "number"): "number",
}


def _keyword_problem(spec: Keyword, node: ast.Node) -> str | None:
    """Why a keyword argument's value does not fit its declared kind, or None."""
    while isinstance(node, ast.Macro):
        node = node.body
    if spec.kind == "bool":
        if isinstance(node, ast.Literal) and isinstance(node.value, bool):
            return None
        return "must be true or false, written as such (it is fixed when the policy loads)"
    if isinstance(node, ast.ListRef):
        values: list[object] = list(node.items)
    elif isinstance(node, ast.ListExpr):
        values = []
        for item in node.items:
            inner = item
            while isinstance(inner, ast.Macro):
                inner = inner.body
            values.append(inner.value if isinstance(inner, ast.Literal) else inner)
    else:
        return (
            'must be a list of strings written in the policy, ["a", "b"] or the name '
            "of one of its lists (it is compiled once when the policy loads)"
        )
    if not all(isinstance(v, str) for v in values):
        return "must be a list of strings (words), written in the policy"
    return None


def _literal_type(value: object) -> Type:
    if isinstance(value, Duration):
        return "duration"
    if isinstance(value, Timestamp):
        return "time"
    return type_name(value)


def _name_help() -> str:
    return (
        "; names are event, data, actor, user, text, it, decision_id, or a list or macro "
        "of this policy"
    )


def _walk_no_lambda(node: ast.Node) -> list[ast.Node]:
    """Nodes outside lambda arguments (where a free `it` would be bound)."""
    out: list[ast.Node] = []
    stack = [node]
    while stack:
        current = stack.pop()
        out.append(current)
        if isinstance(current, ast.Call) and FUNCTIONS.get(current.func) is not None:
            lam = FUNCTIONS[current.func].lambda_arg
            stack.extend(a for i, a in enumerate(current.args) if i != lam)
        else:
            stack.extend(ast.children(current))
    return out


def parse_target(
    src: ExprSource, diags: Diagnostics, cache: ParseCache | None = None
) -> Target | None:
    """A ``set``/``unset`` target: ``text``, ``data``, ``data.a.b``, ``data["k"]``, ``data.a[0]``.

    Parsed with the expression parser; anything but a literal path is an error.
    """
    probe = Diagnostics()
    node = parse_expression(src, probe, cache)
    span = src.span(0, len(src.text))
    if node is None:
        diags.error(
            "bad-target",
            f"'{src.text}' is not a field path; write data.field or data[\"field name\"]",
            span,
        )
        return None
    path: list[str | int] = []
    current = node
    while True:
        if isinstance(current, ast.Member):
            path.append(current.name)
            current = current.obj
        elif (
            isinstance(current, ast.Index)
            and isinstance(current.index, ast.Literal)
            and (
                isinstance(current.index.value, str | int)
                and not isinstance(current.index.value, bool)
            )
        ):
            path.append(current.index.value)
            current = current.obj
        else:
            break
    if isinstance(current, ast.Name) and current.name == "text" and not path:
        return Target("text", (), span)
    if isinstance(current, ast.Name) and current.name == "data":
        return Target("data", tuple(reversed(path)), span)
    diags.error(
        "bad-target",
        f"can only change fields of 'data' (or 'text'), not '{src.text}'; "
        "the platform ignores everything else",
        span,
    )
    return None


def _check_events(rule: RuleDoc, diags: Diagnostics) -> None:
    for located in rule.events:
        problem = ev.event_problem(located.value)
        if problem is not None:
            diags.warning("unknown-event", problem, located.span)


def _check_rule(
    scope: _Scope, policy: PolicyInfo, rule: RuleDoc, order: int, diags: Diagnostics
) -> CheckedRule:
    def condition(src: ExprSource | None, what: str) -> ast.Node | None:
        if src is None:
            return None
        parsed = parse_expression(src, diags, scope.parsed)
        if parsed is None:
            return None
        resolved, t = scope.resolve(parsed, in_lambda=False)
        if scope.bounded(resolved) is None:
            return None
        if t not in ("bool", "any", ERROR):
            diags.error(
                "not-boolean",
                f"'{what}' must be a true/false condition, but this is a {t}"
                + (
                    f"; did you mean len({src.text.strip()}) > 0?"
                    if t in ("string", "list")
                    else ""
                ),
                resolved.span,
            )
        return resolved

    when = condition(rule.when, "when")
    unless = condition(rule.unless, "unless")
    message: Template | None = None
    if rule.message is not None:
        message = parse_template(rule.message, diags, scope.parsed)
        if message is not None:
            parts: list[str | ast.Node] = []
            for part in message.parts:
                if isinstance(part, str):
                    parts.append(part)
                elif (bounded := scope.bounded(scope.resolve(part, False)[0])) is not None:
                    parts.append(bounded)
            message = Template(tuple(parts), message.span)
    sets: list[tuple[Target, ast.Node]] = []
    seen_targets: dict[str, Span] = {}
    for set_doc in rule.sets:
        tspan = set_doc.target.span
        start = tspan.source.offset(tspan.line, tspan.column)
        start += max(0, tspan.text.find(set_doc.target.value))  # skip a YAML quote
        target_src = ExprSource.contiguous(tspan.source, set_doc.target.value, start)
        target = parse_target(target_src, diags, scope.parsed)
        parsed = parse_expression(set_doc.value, diags, scope.parsed)
        if isinstance(parsed, ast.Name) and parsed.name not in scope.candidates():
            diags.error(
                "unknown-name",
                f"unknown name '{parsed.name}'; to set the string \"{parsed.name}\", quote it "
                f"inside the YAML value: '\"{parsed.name}\"' (YAML removes one level of quotes)",
                parsed.span,
            )
            parsed = None
        value = scope.resolve(parsed, in_lambda=False)[0] if parsed is not None else None
        value = scope.bounded(value) if value is not None else None
        if target is not None and value is not None:
            key = str(target)
            if key in seen_targets:
                diags.error("duplicate-target", f"'{key}' is set twice in this rule", target.span)
            seen_targets[key] = target.span
            sets.append((target, value))
    unsets: list[Target] = []
    for located in rule.unsets:
        offset = located.span.source.offset(located.span.line, located.span.column)
        offset += max(0, located.span.text.find(located.value))  # skip a YAML quote
        target_src = ExprSource.contiguous(located.span.source, located.value, offset)
        target = parse_target(target_src, diags, scope.parsed)
        if target is not None:
            if target.kind == "data" and not target.path:
                diags.error("bad-target", "cannot unset the whole of 'data'", target.span)
                continue
            unsets.append(target)
    _check_events(rule, diags)
    return CheckedRule(policy, rule, order, when, unless, message, tuple(sets), tuple(unsets))


def _check_reachability(rules: list[CheckedRule], diags: Diagnostics) -> None:
    """Warn about rules that an earlier unconditional allow/deny always pre-empts."""
    enders: list[CheckedRule] = []
    for rule in rules:
        if not rule.doc.enabled:
            continue
        for ender in enders:
            if all(any(ev.covers(o, i) for o in ender.events) for i in rule.events):
                diags.warning(
                    "unreachable",
                    f"rule '{rule.id}' can never apply: '{ender.qualified_id}' "
                    f"({ender.doc.id.span.path}:{ender.doc.id.span.line}) always "
                    f"{'denies' if ender.action == 'deny' else 'allows'} these events first",
                    rule.doc.id.span,
                )
                break
        if (
            rule.mode == "enforce"
            and rule.action in ("allow", "deny")
            and rule.doc.when is None  # the doc's: a `when` that failed to parse is still there
            and rule.doc.unless is None
        ):
            enders.append(rule)


def check(documents: list[PolicyDoc], diags: Diagnostics) -> CheckResult:
    """Check loaded policy documents; rules come back in evaluation order."""
    names: dict[str, PolicyDoc] = {}
    ordered = sorted(documents, key=lambda d: (-d.priority, PurePath(d.path).name, d.path))
    rules: list[CheckedRule] = []
    policies: list[PolicyInfo] = []
    counters: list[CheckedCounter] = []
    parsed = ParseCache()
    for doc in ordered:
        if doc.name.value in names:
            first = names[doc.name.value]
            diags.error(
                "duplicate-policy",
                f"another file already defines policy '{doc.name.value}' "
                f"({first.path}:{first.name.span.line}); policy names must be unique",
                doc.name.span,
            )
            continue
        names[doc.name.value] = doc
        scope = _Scope(doc, diags, parsed)
        for name, list_doc in doc.lists.items():
            _check_definition_name(name, list_doc.name.span, scope, "list", diags)
        for name, macro_doc in doc.macros.items():
            _check_definition_name(name, macro_doc.name.span, scope, "macro", diags)
            scope.macro(name, macro_doc.name.span)
        info = PolicyInfo(
            doc.name.value, doc.path, doc.priority, doc.on_error, doc.description, scope.lists
        )
        policies.append(info)
        scope.used.clear()
        ids: dict[str, RuleDoc] = {}
        for rule_doc in doc.rules:
            if rule_doc.id.value in ids:
                diags.error(
                    "duplicate-id",
                    f"rule id '{rule_doc.id.value}' is already used on line "
                    f"{ids[rule_doc.id.value].id.span.line}; ids must be unique in a policy",
                    rule_doc.id.span,
                )
                _check_rule(scope, info, rule_doc, -1, diags)  # still report its own problems
                continue
            ids[rule_doc.id.value] = rule_doc
            rules.append(_check_rule(scope, info, rule_doc, len(rules), diags))
        counters.extend(check_counters(scope, doc, diags))
        _mark_macro_uses(scope)
        warn_unused_counters(scope, doc, diags)
        for name, list_doc in doc.lists.items():
            if name not in scope.used:
                diags.warning("unused", f"list '{name}' is never used", list_doc.name.span)
        for name, macro_doc in doc.macros.items():
            if name not in scope.used:
                diags.warning("unused", f"macro '{name}' is never used", macro_doc.name.span)
    _check_reachability(rules, diags)
    counters = resolve_decisions(counters, rules, diags)
    return CheckResult(rules, policies, diags, documents, counters)


def _mark_macro_uses(scope: _Scope) -> None:
    """A list or macro used only by a used macro counts as used."""
    changed = True
    while changed:
        changed = False
        for name in list(scope.used):
            body = scope.macro_bodies.get(name)
            if body is None:
                continue
            for node in ast.walk(body):
                inner = node.name if isinstance(node, ast.ListRef | ast.Macro) else None
                if inner and inner not in scope.used:
                    scope.used.add(inner)
                    changed = True


def _check_definition_name(
    name: str, span: Span, scope: _Scope, what: str, diags: Diagnostics
) -> None:
    if not name.isidentifier() or not name.isascii():
        diags.error(
            "bad-name", f"{what} name '{name}' must be letters, digits and underscores", span
        )
    elif name in RESERVED or name in ast.VARIABLES:
        diags.error("bad-name", f"'{name}' is a reserved word; pick another {what} name", span)
    elif name in FUNCTIONS:
        diags.error("bad-name", f"'{name}' is a built-in function; pick another {what} name", span)
    elif what == "macro" and name in scope.lists:
        diags.error("bad-name", f"'{name}' is both a list and a macro", span)
