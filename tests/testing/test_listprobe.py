"""receiver/testing/listprobe.py (with instrument.py): which list entries a case exercised,
read off the recorded evaluation of the production closures."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.dsl.values import Timestamp
from receiver.runtime.evaluator import evaluate
from receiver.runtime.payload import Event
from receiver.runtime.policyset import PolicySet, load_policies
from receiver.testing.instrument import Instrument
from receiver.testing.listprobe import ListProbe

POLICY = """\
policy: p
lists:
  banned: [spam, scam, 7]
  phrases: [buy now, free money]
  vips: [ann, bob]
rules:
  - id: banned-word
    events: message.shouldCreate
    when: data.word in banned
    action: deny
    message: banned
  - id: phrase
    events: message.shouldCreate
    when: contains_any(text, phrases)
    action: deny
    message: phrase
  - id: vip
    events: message.shouldCreate
    when: any(vips, it == actor.userId)
    action: allow
"""

NOW = Timestamp(1_800_000_000)


@pytest.fixture
def policyset(tmp_path: Path) -> PolicySet:
    (tmp_path / "p.yaml").write_text(POLICY, encoding="utf-8")
    return load_policies([tmp_path])


def exercised(policyset: PolicySet, data: dict[str, object], user: str = "u") -> set[str]:
    instrument = Instrument(policyset)
    event = Event("message.shouldCreate", data, {"userId": user})
    with instrument.recording() as runs:
        evaluate(instrument.tree(event.name), event, NOW, explain=True)
    found = ListProbe(policyset).exercised(runs)
    return {f"{name}[{index}]" for _, name, index in found}


def test_in_exercises_the_entry_equal_to_the_value(policyset: PolicySet) -> None:
    assert exercised(policyset, {"word": "scam", "text": ""}) == {"banned[1]"}


def test_a_value_equal_to_no_entry_exercises_nothing(policyset: PolicySet) -> None:
    assert exercised(policyset, {"word": "fine", "text": "hello"}) == set()


def test_contains_any_exercises_every_phrase_found_in_the_text(policyset: PolicySet) -> None:
    found = exercised(policyset, {"word": "ok", "text": "BUY NOW for free money"})
    assert found == {"phrases[0]", "phrases[1]"}


def test_any_exercises_the_entries_its_condition_held_for(policyset: PolicySet) -> None:
    assert exercised(policyset, {"word": "ok", "text": "hi"}, user="bob") == {"vips[1]"}


def test_rules_never_reached_exercise_nothing(policyset: PolicySet) -> None:
    # the deny on "spam" ends evaluation: the phrase and vip rules never run
    found = exercised(policyset, {"word": "spam", "text": "buy now"}, user="ann")
    assert found == {"banned[0]"}


def test_recording_leaves_the_decision_unchanged(policyset: PolicySet) -> None:
    event = Event("message.shouldCreate", {"word": "7", "text": "free money"}, {"userId": "ann"})
    plain = evaluate(policyset.traced_tree(event.name), event, NOW, explain=True)
    instrument = Instrument(policyset)
    with instrument.recording():
        recorded = evaluate(instrument.tree(event.name), event, NOW, explain=True)
    assert (recorded.action, recorded.rule, recorded.message) == (
        plain.action,
        plain.rule,
        plain.message,
    )


def test_outside_recording_the_instrumented_tree_records_nothing(policyset: PolicySet) -> None:
    instrument = Instrument(policyset)
    event = Event("message.shouldCreate", {"word": "spam", "text": ""}, {"userId": "u"})
    tree = instrument.tree(event.name)
    assert instrument.tree(event.name) is tree  # built once per event
    evaluate(tree, event, NOW, explain=True)
    with instrument.recording() as runs:
        pass
    assert runs == []
