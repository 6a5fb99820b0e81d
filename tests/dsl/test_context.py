"""receiver/dsl/context.py: the per-request context compiled closures read."""

from __future__ import annotations

import pytest

from receiver.dsl.context import MISSING, NO_COUNTERS, Context
from receiver.dsl.values import Timestamp

NOW = Timestamp(1_769_860_800.0)


def context(actor: dict[str, object] | None = None, memo_size: int = 0) -> Context:
    return Context("message.shouldCreate", {"text": "hi"}, actor or {}, NOW, memo_size)


@pytest.mark.parametrize(
    ("user_id", "expected"),
    [("u1", "u1"), ("", ""), (42, "42"), (-1, "-1"), (True, None), (1.5, None), (None, None)],
)
def test_the_user_id_is_the_actors_string_or_integer_user_id(
    user_id: object, expected: str | None
) -> None:
    assert context({"userId": user_id}).user_id == expected


def test_an_actor_without_a_user_id_has_none() -> None:
    assert context({"_id": "x"}).user_id is None


def test_a_new_context_has_every_memo_slot_empty() -> None:
    ctx = context(memo_size=3)
    assert len(ctx.memo) == 3 and all(slot is MISSING for slot in ctx.memo)


def test_a_new_context_has_no_user_counters_or_trace_yet() -> None:
    ctx = context()
    assert ctx.user is None and not ctx.user_loaded and not ctx.user_failed
    assert ctx.counters is NO_COUNTERS and not ctx.counters_unavailable
    assert ctx.it is None and ctx.trace is None and ctx.decision_id == ""


def test_a_context_keeps_the_event_and_its_parts() -> None:
    data = {"text": "hi"}
    ctx = Context("e", data, {"userId": "u"}, NOW, 0, decision_id="d1")
    assert (ctx.event, ctx.data, ctx.now, ctx.decision_id) == ("e", data, NOW, "d1")
    assert ctx.data is data


def test_the_shared_empty_counters_cannot_be_written() -> None:
    with pytest.raises(TypeError):
        NO_COUNTERS["p/c"] = 1  # type: ignore[index]


def test_contexts_do_not_share_memo_tables() -> None:
    first, second = context(memo_size=1), context(memo_size=1)
    first.memo[0] = 5
    assert second.memo[0] is MISSING
