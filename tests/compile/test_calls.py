"""Tests for receiver.compile.calls: the per-request closures of the call forms, built
from closures of their arguments (the expression compiler's part is in test_closures)."""

from __future__ import annotations

from typing import Any

import pytest

from receiver.compile import calls
from receiver.dsl.context import Context
from receiver.dsl.functions import FUNCTIONS
from receiver.dsl.values import Timestamp
from receiver.errors import EvaluationError

SPAN: Any = "the call's span"


def ctx(**data: Any) -> Context:
    return Context("message.shouldCreate", data, {}, Timestamp(100.0), 0)


def arg(name: str) -> calls.Fn:
    return lambda c: c.data.get(name)


@pytest.mark.parametrize(
    ("combine", "expected"), [("any", True), ("all", False), ("count", 2), (None, 2)]
)
def test_each_combines_the_conditions_results(combine: Any, expected: object) -> None:
    fn = calls.each("f", combine, arg("xs"), lambda c: c.it > 1, SPAN)
    assert fn(ctx(xs=[1, 2, 3])) == expected


def test_each_restores_it_and_refuses_a_non_list() -> None:
    fn = calls.each("any", "any", arg("xs"), lambda c: c.it == 1, SPAN)
    context = ctx(xs=[1])
    context.it = "outer"
    assert fn(context) is True and context.it == "outer"
    assert fn(ctx(xs=None)) is False
    with pytest.raises(EvaluationError, match=r"any\(\) needs a list, got string"):
        fn(ctx(xs="abc"))


def test_apply_puts_the_calls_position_on_errors() -> None:
    impl = FUNCTIONS["lower"].impl
    assert impl is not None
    fn = calls.apply(impl, [arg("a")], SPAN)
    assert fn(ctx(a="AB")) == "ab"
    with pytest.raises(EvaluationError) as caught:
        fn(ctx(a=5))
    assert caught.value.span == SPAN


def test_length_order_takes_string_lengths_directly_and_else_the_impl() -> None:
    impl = FUNCTIONS["len"].impl
    assert impl is not None
    fn = calls.length_order(arg("a"), impl, ">", 2, call_span="len", span="op")
    assert fn(ctx(a="abc")) is True
    assert fn(ctx(a=[1])) is False
    assert fn(ctx(a=None)) is False  # null length: order() treats null as not comparable
    with pytest.raises(EvaluationError) as caught:
        fn(ctx(a=5))
    assert caught.value.span == "len"


def test_context_field_and_clock() -> None:
    assert calls.context_field("now")(ctx()) == Timestamp(100.0)
    age = FUNCTIONS["age"].impl
    assert age is not None
    assert str(calls.clock(age, [arg("at")], SPAN)(ctx(at=40))) == "1m"


def test_on_text_gives_null_for_null_and_refuses_other_types() -> None:
    fn = calls.on_text("censor", str.upper, None, arg("t"), SPAN)
    assert fn(ctx(t="ab")) == "AB"
    assert fn(ctx(t=None)) is None
    with pytest.raises(EvaluationError, match=r"censor\(\) needs a string, got number"):
        fn(ctx(t=1))
