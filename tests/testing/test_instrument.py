"""Tests for receiver.testing.instrument: copies of a policy set's traced trees that record,
per rule evaluated inside ``recording()``, each sub-expression's value and its state."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.dsl.values import Timestamp
from receiver.runtime.decision import Decision
from receiver.runtime.evaluator import evaluate
from receiver.runtime.payload import Event
from receiver.runtime.policyset import PolicySet, load_policies
from receiver.testing.instrument import Instrument

POLICY = """\
policy: p
lists:
  vips: [ann, bob]
rules:
  - id: long
    events: message.shouldCreate
    when: len(text) > 3
    action: deny
    message: "too long ({len(text)})"
  - id: loud
    events: message.shouldCreate
    when: caps_ratio(text) > 0.5
    action: modify
    set: {text: lower(text)}
  - id: vip
    events: channel.shouldJoin
    when: any(vips, it == actor.userId)
    action: allow
"""

NOW = Timestamp(1_800_000_000)


@pytest.fixture
def policyset(tmp_path: Path) -> PolicySet:
    (tmp_path / "p.yaml").write_text(POLICY, encoding="utf-8")
    return load_policies([tmp_path])


def message(text: str) -> Event:
    return Event("message.shouldCreate", {"text": text}, {"userId": "u1"})


def decide(instrument: Instrument, event: Event) -> Decision:
    return evaluate(instrument.tree(event.name), event, NOW, explain=True, decision_id="d1")


def test_each_rule_evaluated_gives_one_run_in_order(policyset: PolicySet) -> None:
    instrument = Instrument(policyset)
    with instrument.recording() as runs:
        decide(instrument, message("HI"))
    assert [rule.id for rule, _ in runs] == ["long", "loud"]


def test_a_run_records_every_sub_expression_value_of_test_message_and_sets(
    policyset: PolicySet,
) -> None:
    instrument = Instrument(policyset)
    with instrument.recording() as runs:
        decide(instrument, message("HI"))
        decide(instrument, message("hello"))
    values = [[record.value for record in records] for _, records in runs]
    assert values == [
        [2, False],  # long: len(text), the comparison
        [1.0, True, "hi"],  # loud: caps_ratio(text), the comparison, then lower(text)
        [5, True, 5],  # long again: the test, then len(text) in the message
    ]


def test_records_carry_the_state_they_were_computed_in(policyset: PolicySet) -> None:
    instrument = Instrument(policyset)
    with instrument.recording() as runs:
        decide(instrument, message("HI"))
    record = runs[0][1][0]
    assert (record.data, record.actor, record.user, record.it, record.decision_id) == (
        {"text": "HI"},
        {"userId": "u1"},
        None,
        None,
        "d1",
    )


def test_records_inside_a_macro_carry_its_it(policyset: PolicySet) -> None:
    instrument = Instrument(policyset)
    event = Event("channel.shouldJoin", {}, {"userId": "bob"})
    with instrument.recording() as runs:
        decide(instrument, event)
    ((rule, records),) = runs
    assert rule.id == "vip"
    # per entry: actor.userId, then `it == actor.userId`, each with that entry as `it`
    assert [(r.it, r.value) for r in records if r.it is not None] == [
        ("ann", "bob"),
        ("ann", False),
        ("bob", "bob"),
        ("bob", True),
    ]


def test_nothing_is_recorded_outside_recording(policyset: PolicySet) -> None:
    instrument = Instrument(policyset)
    with instrument.recording() as runs:
        pass
    decide(instrument, message("HI"))  # runs without a recorder
    assert runs == []


def test_recording_ends_when_its_block_raises(policyset: PolicySet) -> None:
    instrument = Instrument(policyset)
    with pytest.raises(RuntimeError), instrument.recording() as runs:
        raise RuntimeError("a case blew up")
    decide(instrument, message("HI"))
    assert runs == []


def test_the_instrumented_tree_decides_like_the_policy_sets(policyset: PolicySet) -> None:
    instrument = Instrument(policyset)
    for text in ("hi", "HI", "hello", "HELLO"):
        event = message(text)
        plain = evaluate(policyset.tree(event.name), event, NOW, decision_id="d1")
        with instrument.recording():
            recorded = decide(instrument, event)
        assert recorded.summary() == plain.summary()
        assert recorded.response() == plain.response()


def test_an_events_tree_is_instrumented_once(policyset: PolicySet) -> None:
    instrument = Instrument(policyset)
    first = instrument.tree("message.shouldCreate")
    assert instrument.tree("message.shouldCreate") is first
    assert instrument.tree("channel.shouldJoin") is not first
