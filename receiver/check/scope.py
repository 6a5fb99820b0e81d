"""Name resolution and type inference inside one policy.

Stage 2 (check). :class:`Scope` resolves the names of a parsed expression (variables,
lists, macros, counters, functions), inlines macros, and infers each sub-expression's
type, collecting diagnostics; a sub-expression that fails gets the ``error`` type so
that one mistake is reported once. Used by the rule checker and the counter checker.

Longer than 400 lines as one cohesive thing: the resolver is one recursive walk with a
case per node kind (names, members, operators, calls and their keywords, macros), all
reading and writing the same scope (the policy's lists, macro bodies and types, the
macros being expanded); split up, each part would need that state passed around.
"""

from __future__ import annotations

import re2

from receiver.check.model import ERROR, ORDERED, compile_regex
from receiver.dsl import ast
from receiver.dsl.analysis import unwrap
from receiver.dsl.functions import FUNCTIONS, Function, Keyword, Type
from receiver.dsl.parser import (
    MAX_EXPRESSION_DEPTH,
    ParseCache,
    parse_expression,
    too_deep_message,
)
from receiver.dsl.values import Duration, Timestamp, type_name
from receiver.load.counters import counter_ids
from receiver.load.documents import PolicyDoc
from receiver.text.diagnostics import Diagnostics, did_you_mean
from receiver.text.source import Span


class Scope:
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
        literal = unwrap(node)
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
    node = unwrap(node)
    if spec.kind == "bool":
        if isinstance(node, ast.Literal) and isinstance(node.value, bool):
            return None
        return "must be true or false, written as such (it is fixed when the policy loads)"
    if isinstance(node, ast.ListRef):
        values: list[object] = list(node.items)
    elif isinstance(node, ast.ListExpr):
        values = []
        for item in node.items:
            inner = unwrap(item)
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
