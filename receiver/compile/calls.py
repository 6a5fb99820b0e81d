"""The closures that built-in calls run per request, one builder per call form.

Stage 3 (compile), run at stage 4 (evaluate). The expression compiler
(:mod:`receiver.compile.closures`) decides how to compile a call from the function
table's :data:`~receiver.dsl.functions.Form`, compiles its arguments and builds
whatever is built once at load (a regex, a phrase matcher, a profanity matcher); it
then calls a builder here, which consumes those and produces the closure
``Context -> Value`` that runs per request. The ``matches`` operator is here too: it
shares the text forms (:class:`~receiver.dsl.textfuncs.TextForms`) that ``contains_any``
searches. Every error a closure raises carries the position of its call.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any

from receiver.dsl import ast
from receiver.dsl.analysis import unwrap
from receiver.dsl.context import Context
from receiver.dsl.functions import Combine
from receiver.dsl.regexfilter import required_literals
from receiver.dsl.replace import Replacer
from receiver.dsl.textfuncs import PhraseMatcher, TextForms
from receiver.dsl.values import Value, order, truth, type_name
from receiver.errors import EvaluationError
from receiver.text.re2search import Search

Fn = Callable[[Context], Value]
ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def apply(impl: Callable[..., Value], args: Sequence[Fn], span: Any) -> Fn:
    """Form "apply": the implementation on the argument values."""
    if len(args) == 1:
        (a0,) = args

        def call1(ctx: Context) -> Value:
            try:
                return impl(a0(ctx))
            except EvaluationError as err:
                raise err.at(span) from None

        return call1

    def call(ctx: Context) -> Value:
        try:
            return impl(*[a(ctx) for a in args])
        except EvaluationError as err:
            raise err.at(span) from None

    return call


def length_order(
    arg: Fn, impl: Callable[..., Value], op: str, limit: int | float, *, call_span: Any, span: Any
) -> Fn:
    """Form "length" compared with a number (``len(X) < N``), in one closure: the length
    of a string is taken directly; anything else goes through the implementation and
    the general comparison, as the two separate closures would."""
    compare = ORDER[op]

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

    return len_order


def context_field(field: str) -> Fn:
    """Form "context" (``now()``, ``user_lookup_failed()``...): a field of the context."""
    return attrgetter(field)


def clock(impl: Callable[..., Value], args: Sequence[Fn], span: Any) -> Fn:
    """Form "clock" (``age(x)``): the implementation given the request's time first."""
    if len(args) == 1:
        (a0,) = args

        def clock1(ctx: Context) -> Value:
            try:
                return impl(ctx.now, a0(ctx))
            except EvaluationError as err:
                raise err.at(span) from None

        return clock1

    def clock_n(ctx: Context) -> Value:  # pragma: no cover - no such built-in today
        try:
            return impl(ctx.now, *[a(ctx) for a in args])
        except EvaluationError as err:
            raise err.at(span) from None

    return clock_n


def pattern(name: str, replace: Replacer, text_fn: Fn, repl_fn: Fn, span: Any) -> Fn:
    """Form "pattern" (``regex_replace(text, "pattern", repl)``), the pattern compiled."""

    def regex_replace(ctx: Context) -> Value:
        text, repl = text_fn(ctx), repl_fn(ctx)
        if text is None:
            return None
        if not isinstance(text, str) or not isinstance(repl, str):
            raise EvaluationError(f"{name}() needs strings", span)
        return replace(text, repl)

    return regex_replace


def phrases(name: str, matcher: PhraseMatcher, forms: Fn, span: Any) -> Fn:
    """Form "phrases" with a constant list: the matcher searches the text's forms."""

    def contains_any(ctx: Context) -> Value:
        found = forms(ctx)
        if type(found) is TextForms:
            return matcher.search_forms(found) is not None
        if found is None:
            return False
        raise EvaluationError(f"{name}() needs a string", span)

    return contains_any


def matches(forms: Fn, search: Search, pattern_text: str, span: Any) -> Fn:
    """``TEXT matches PATTERN`` on the request's :class:`TextForms` of TEXT: the
    literals one of which any match holds are looked for in the text (or its lowered
    ASCII form) first, and RE2 runs on UTF-8 bytes encoded once for every pattern
    (given a str, google-re2's wrapper encodes it and maps offsets back, several
    times the cost of a match)."""
    prefilter = required_literals(pattern_text)
    literals = prefilter.literals if prefilter is not None else ()
    ignore_case = prefilter is not None and prefilter.ignore_case

    def matches_(ctx: Context) -> Value:
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

    return matches_


def on_text(name: str, apply_: Callable[[str], Value], null: Value, text_fn: Fn, span: Any) -> Fn:
    """Form "profanity": a matcher's method on the text; ``null`` for a null text."""

    def call(ctx: Context) -> Value:
        text = text_fn(ctx)
        if type(text) is str:
            return apply_(text)
        if text is None:
            return null
        raise EvaluationError(f"{name}() needs a string, got {type_name(text)}", span)

    return call


def string_items(node: ast.Node | None) -> tuple[str, ...]:
    """The strings of a constant list argument (checked by the checker); () for none."""
    if isinstance(node, ast.ListRef):
        return tuple(str(v) for v in node.items)
    if isinstance(node, ast.ListExpr):
        return tuple(str(i.value) for i in map(unwrap, node.items) if isinstance(i, ast.Literal))
    return ()


def each(name: str, combine: Combine | None, items_fn: Fn, cond: Fn, span: Any) -> Fn:
    """Form "each" (``any``/``all``/``count``): the condition runs per element with
    ``it`` bound to it; ``combine`` says what the results give."""

    def each_(ctx: Context) -> Value:
        items = items_fn(ctx)
        if items is None:
            items = []
        if not isinstance(items, list | tuple):
            raise EvaluationError(f"{name}() needs a list, got {type_name(items)}", span)
        saved = ctx.it
        try:
            if combine == "any":
                for item in items:
                    ctx.it = item
                    if truth(cond(ctx), f"condition of {name}()"):
                        return True
                return False
            if combine == "all":
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

    return each_
