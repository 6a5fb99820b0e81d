"""receiver/runtime/counters.py: running an event's counter plan around its decision.

(Named test_runtime_counters.py: tests/counters/test_counters.py tests the counter
language end to end, and test basenames stay unique across tests/.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from receiver.compile.counters import EMPTY_PLAN, CounterPlan
from receiver.dsl.values import Timestamp
from receiver.runtime.counters import (
    Op,
    Prepared,
    Reading,
    complete,
    key_text,
    may_strike,
    now_ms,
    prepare,
    strike_ops,
    striking_rules,
)
from receiver.runtime.decision import Decision
from receiver.runtime.payload import Event
from receiver.runtime.policyset import load_policies

EVENT = "message.shouldCreate"
NOW = Timestamp(10.0)
POLICY = f"""\
policy: c
counters:
  per_user:
    events: {EVENT}
    key: actor.userId
    window: 60s
  per_text:
    events: {EVENT}
    key: lower(data.text)
    distinct: data.channelId
    window: 10m
    when: len(data.text) > 0
  strikes:
    decisions: [block]
    key: actor.userId
    window: 24h
rules:
  - id: block
    events: {EVENT}
    when: per_user > 3 or strikes > 2 or per_text > 100
    action: deny
"""


@pytest.fixture
def plan(tmp_path: Path) -> CounterPlan:
    (tmp_path / "c.yaml").write_text(POLICY, encoding="utf-8")
    return load_policies([tmp_path]).plan(EVENT)


def event(data: dict[str, Any], actor: dict[str, Any]) -> Event:
    return Event(EVENT, data, actor)


HI = event({"text": "Hi", "channelId": "c1"}, {"userId": "u1"})


def test_key_text() -> None:
    assert key_text("u1") == "u1"
    assert key_text(5) == "5"
    assert key_text({"b": 1, "a": [True]}) == '{"a":[true],"b":1}'
    assert key_text(None) is None
    long = key_text("x" * 5000)
    assert long is not None and long.startswith("sha256:") and len(long) == 71


def test_a_string_key_and_the_same_number_are_the_same_key() -> None:
    assert key_text("5") == key_text(5)


def test_a_long_key_is_its_digest_so_equal_texts_share_it() -> None:
    assert key_text("é" * 300) == key_text("é" * 300) != key_text("e" * 300)


def test_a_key_with_a_lone_surrogate_has_a_digest_too() -> None:
    assert (key_text("\ud800" * 300) or "").startswith("sha256:")


def test_now_ms_is_the_time_in_whole_milliseconds() -> None:
    assert now_ms(Timestamp(1.2345)) == 1234


def test_an_empty_plan_makes_no_operations() -> None:
    prepared = prepare(EMPTY_PLAN, HI, NOW)
    assert prepared.ops == [] and prepared.explain() == []


def test_prepare_adds_to_fed_counters_and_reads_the_strikes(plan: CounterPlan) -> None:
    assert prepare(plan, HI, NOW).ops == [
        Op("c/per_user", 60_000, "u1", add=True),
        # the key lower(data.text) is content: a shared store keeps only its hash
        Op("c/per_text", 600_000, "hi", distinct=True, member="c1", add=True, hash_key=True),
        Op("c/strikes", 86_400_000, "u1"),
    ]


def test_prepare_reads_without_adding_when_the_counters_when_is_false(
    plan: CounterPlan,
) -> None:
    ops = prepare(plan, event({"text": "", "channelId": "c1"}, {"userId": "u1"}), NOW).ops
    assert Op("c/per_text", 600_000, "", distinct=True, hash_key=True) in ops


def test_a_distinct_counter_without_a_member_value_is_read_not_fed(plan: CounterPlan) -> None:
    ops = prepare(plan, event({"text": "Hi"}, {"userId": "u1"}), NOW).ops
    assert Op("c/per_text", 600_000, "hi", distinct=True, hash_key=True) in ops


def test_a_null_key_makes_no_operation_and_reads_zero(plan: CounterPlan) -> None:
    prepared = prepare(plan, event({"text": "Hi", "channelId": "c1"}, {}), NOW)
    assert [op.counter for op in prepared.ops] == ["c/per_text"]
    complete(prepared, [7], "memory")
    assert prepared.values == {"c/per_user": 0, "c/per_text": 7, "c/strikes": 0}


def test_a_failing_key_counts_nothing_reads_zero_and_says_where_it_failed(
    plan: CounterPlan, tmp_path: Path
) -> None:
    prepared = prepare(plan, event({"text": 5}, {"userId": "u1"}), NOW)
    assert [op.counter for op in prepared.ops] == ["c/per_user", "c/strikes"]
    assert prepared.errors == [
        f"counter c/per_text: {tmp_path / 'c.yaml'}:9:10: lower() needs a string, got number"
    ]
    complete(prepared, [1, 0], "memory")
    assert prepared.values["c/per_text"] == 0


def test_complete_gives_each_read_counter_its_answer(plan: CounterPlan) -> None:
    prepared = complete(prepare(plan, HI, NOW), [1, 2, 3], "memory")
    assert prepared.values == {"c/per_user": 1, "c/per_text": 2, "c/strikes": 3}
    assert not prepared.unavailable and prepared.source == "memory"


def test_an_unavailable_backend_makes_the_counters_null(plan: CounterPlan) -> None:
    prepared = complete(prepare(plan, HI, NOW), None, "unknown")
    assert prepared.unavailable
    assert prepared.values == {"c/per_user": None, "c/per_text": None, "c/strikes": None}


def test_without_operations_an_unavailable_backend_is_not_unavailability(
    plan: CounterPlan,
) -> None:
    prepared = complete(prepare(plan, event({"text": 5}, {}), NOW), None, "unknown")
    assert not prepared.unavailable


def test_the_explanation_lists_each_counter_and_the_strikes_recorded(plan: CounterPlan) -> None:
    prepared = complete(prepare(plan, HI, NOW), [1, 2, 3], "memory")
    strike_ops(prepared, Decision("deny", "x", rule="c/block"))
    assert prepared.explain() == [
        "counters (memory):",
        '  c/per_user ["u1"] = 1 (this event counted)',
        '  c/per_text ["hi"] = 2 (this event counted)',
        '  c/strikes ["u1"] = 3 (read; strikes are counted after the decision)',
        '  strike recorded: c/strikes ["u1"] (by c/block)',
    ]


def test_a_reading_of_an_unavailable_backend_says_so() -> None:
    assert (
        Reading("p/c", "k", None).render() == '  p/c ["k"] = unknown (backend unavailable) (read)'
    )


def test_a_reading_of_a_null_key_says_so() -> None:
    reading = Reading("p/c", None, 0, note="key is null or failed: not counted")
    assert reading.render() == "  p/c key null = 0 (read; key is null or failed: not counted)"


def test_an_enforced_deny_strikes_its_rule() -> None:
    assert striking_rules(Decision("deny", "x", rule="c/block")) == {"c/block"}


def test_a_deny_by_a_failing_rule_is_no_strike() -> None:
    assert striking_rules(Decision("deny", "x", rule="c/block", by_error=True)) == set()


def test_a_degraded_decision_is_no_strike() -> None:
    assert striking_rules(Decision("deny", "x", rule="c/block", degraded=True)) == set()


def test_an_allow_strikes_the_rules_whose_changes_applied() -> None:
    decision = Decision("allow", rule="c/ok", modified_by=["c/m1", "c/m2"])
    assert striking_rules(decision) == {"c/m1", "c/m2"}


def test_only_a_deciding_rule_or_a_modification_may_strike() -> None:
    assert not may_strike(Decision("allow"))
    assert may_strike(Decision("allow", rule="c/ok"))
    assert may_strike(Decision("allow", modified_by=["c/m"]))


def test_strike_ops_add_to_the_decision_counters_of_the_striking_rule(
    plan: CounterPlan,
) -> None:
    prepared = complete(prepare(plan, HI, NOW), [1, 2, 3], "memory")
    ops = strike_ops(prepared, Decision("deny", "x", rule="c/block"))
    assert ops == [Op("c/strikes", 86_400_000, "u1", add=True)]


def test_no_strike_for_another_rule_or_a_null_key(plan: CounterPlan) -> None:
    prepared = complete(prepare(plan, HI, NOW), [1, 2, 3], "memory")
    assert strike_ops(prepared, Decision("deny", "x", rule="c/other")) == []
    assert strike_ops(prepared, Decision("allow")) == []
    keyless = complete(prepare(plan, event({"text": "Hi"}, {}), NOW), [0], "memory")
    assert strike_ops(keyless, Decision("deny", "x", rule="c/block")) == []
    assert keyless.strikes == []


def test_readings_before_the_backend_answered_are_unknown(plan: CounterPlan) -> None:
    prepared: Prepared = prepare(plan, HI, NOW)
    assert [(r.counter, r.value, r.counted) for r in prepared.readings] == [
        ("c/per_user", None, False),
        ("c/per_text", None, False),
        ("c/strikes", None, False),
    ]
