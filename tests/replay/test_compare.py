"""Comparing two policy sets on the same records: flip kinds, per-rule counts, samples,
independent counters, and the explanation of a sample's NEW decision."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.observe.records import Record
from receiver.replay.compare import answers_as_recorded, compare, flip_kind
from receiver.replay.samples import explain_new
from receiver.runtime.decision import Decision
from receiver.runtime.payload import Event
from receiver.runtime.policyset import PolicySet, load_policies

D = Decision


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        (D("allow"), D("allow"), None),
        (D("allow"), D("deny", "no"), "allow_to_deny"),
        (D("deny", "no"), D("allow"), "deny_to_allow"),
        (D("deny", "no"), D("deny", "no", rule="other/rule"), None),  # same answer, other rule
        (D("deny", "no"), D("deny", "No."), "message_changed"),
        (D("deny", "no", status=403), D("deny", "no", status=404), "message_changed"),
        (D("allow", data={"text": "a"}), D("allow", data={"text": "b"}), None),  # not modified
        (
            D("allow", data={"text": "a"}, modified_by=["p/m"]),
            D("allow", data={"text": "b"}, modified_by=["p/m"]),
            "data_changed",
        ),
        (D("allow"), D("allow", data={"text": "b"}, modified_by=["p/m"]), "data_changed"),
        (
            D("allow", data={"text": "a"}, modified_by=["p/m"]),
            D("allow", data={"text": "a"}, modified_by=["p/n"]),
            None,
        ),
    ],
)
def test_the_kind_of_a_flip_is_what_the_platform_sees_change(
    old: Decision, new: Decision, kind: str | None
) -> None:
    assert flip_kind(old, new) == kind


MODIFIED = D("allow", data={"text": "a"}, modified_by=["p/m"])


@pytest.mark.parametrize(
    ("recorded", "decision", "same"),
    [
        ({"action": "allow", "modified_by": []}, D("allow"), True),
        ({"action": "allow", "modified_by": []}, D("deny", "x"), False),
        ({"action": "deny", "message": "x"}, D("deny", "x", rule="p/other"), True),
        ({"action": "deny", "message": "x"}, D("deny", "y"), False),
        ({"action": "allow", "modified_by": ["p/m"], "data": {"text": "a"}}, MODIFIED, True),
        ({"action": "allow", "modified_by": ["p/m"], "data": {"text": "b"}}, MODIFIED, False),
        ({"action": "allow", "modified_by": []}, MODIFIED, False),
        ({"action": "allow", "modified_by": ["p/m"]}, MODIFIED, True),  # a decision-log line
        ({"action": "allow", "modified_by": ["p/m"]}, D("allow"), False),
    ],
)
def test_the_baseline_compares_what_the_platform_was_answered(
    recorded: dict[str, object], decision: Decision, same: bool
) -> None:
    assert answers_as_recorded(recorded, decision) is same


OLD = """\
policy: p
counters:
  strikes:
    decisions: [p/bad-word]
    key: actor.userId
    window: 1h
rules:
  - id: repeat
    events: message.shouldCreate
    when: strikes >= 2
    action: deny
    message: too many strikes
  - id: bad-word
    events: message.shouldCreate
    when: contains_any(text, ["darn"])
    action: deny
    message: no darn
  - id: quiet
    events: message.shouldCreate
    when: len(text) > 20
    action: deny
    message: shorter please
  - id: tidy
    events: message.shouldCreate
    when: text != trim(text)
    action: modify
    set: {text: trim(text)}
"""

# NEW: bad-word also catches "heck" (so strikes add up faster on NEW only), the length
# limit moves from 20 to 10, the tidy rule upper-cases, and a shadow rule watches links.
NEW = (
    OLD.replace('["darn"]', '["darn", "heck"]')
    .replace("len(text) > 20", "len(text) > 10")
    .replace("set: {text: trim(text)}", "set: {text: upper(trim(text))}")
    + """\
  - id: watch-links
    events: message.shouldCreate
    when: len(urls(text)) > 0
    action: deny
    message: links
    mode: shadow
"""
)


def policies(tmp_path: Path, name: str, text: str) -> PolicySet:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "p.yaml").write_text(text, encoding="utf-8")
    return load_policies([folder])


def record(number: int, text: str, actor: str = "u1") -> Record:
    return Record(
        decision_id=f"r{number}",
        time=1000.0 + number,
        platform="socialplus",
        event=Event("message.shouldCreate", {"text": text}, {"userId": actor, "_id": actor}),
        user_lookup="not-needed",
        user=None,
        decision={"action": "allow"},
    )


TEXTS = [
    "hi",  # 0: same
    "oh heck",  # 1: NEW denies (bad-word): strike 1 on NEW
    "oh heck again",  # 2: NEW denies (bad-word): strike 2 on NEW
    "hello",  # 3: NEW denies (repeat, 2 strikes); OLD allows
    " spaced ",  # 4: NEW denies (repeat); OLD modifies
    "darn",  # 5: OLD: bad-word (strike 1), NEW: repeat (message changed)
    "see example.org",  # 6: NEW: repeat; OLD allows; shadow on NEW
]


def test_each_side_counts_in_its_own_backend_and_the_flips_are_classified(
    tmp_path: Path,
) -> None:
    old, new = policies(tmp_path, "old", OLD), policies(tmp_path, "new", NEW)
    records = [record(i, t) for i, t in enumerate(TEXTS)]
    result = compare(old, new, records, samples=2)
    assert result.events == 7
    assert result.flips == {
        "allow_to_deny": 5, "deny_to_allow": 0, "message_changed": 1, "data_changed": 0,
    }  # fmt: skip
    rows = {row.rule: (row.old, row.new) for row in result.sorted_rules()}
    assert rows["p/repeat"][0]["decided"] == 0
    assert rows["p/repeat"][1]["decided"] == 4  # strikes only NEW counted
    assert rows["p/bad-word"][0]["decided"] == 1
    assert rows["p/bad-word"][1]["decided"] == 2
    assert rows["p/tidy"][0]["modified"] == 1
    assert rows["p/tidy"][1]["modified"] == 0
    assert rows["p/watch-links"][1]["shadow"] == 0  # repeat ended evaluation first
    first = result.sorted_rules()[0]
    assert first.rule == "p/repeat"  # moved most
    # one event per change of answering rules first (r1: bad-word, r3: repeat), not the
    # first two in time order (r1, r2: both bad-word)
    assert [s.record.decision_id for s in result.samples["allow_to_deny"]] == ["r1", "r3"]
    assert [s.record.decision_id for s in result.samples["message_changed"]] == ["r5"]


def test_the_flips_are_counted_by_the_rules_that_gave_each_answer(tmp_path: Path) -> None:
    # "deny, message changed 352" named no rule: a lead could not tell that 231 of them
    # were one rule whose message was reworded, nor which rule made allows into denies.
    old, new = policies(tmp_path, "old", OLD), policies(tmp_path, "new", NEW)
    result = compare(old, new, [record(i, t) for i, t in enumerate(TEXTS)], samples=0)
    assert result.by_rule == {
        ("allow_to_deny", "(no rule)", "p/bad-word"): 2,
        ("allow_to_deny", "(no rule)", "p/repeat"): 2,
        ("allow_to_deny", "p/tidy", "p/repeat"): 1,  # an allow that p/tidy modified
        ("message_changed", "p/bad-word", "p/repeat"): 1,
    }


def test_data_changed_and_shadow_matches(tmp_path: Path) -> None:
    old, new = policies(tmp_path, "old", OLD), policies(tmp_path, "new", NEW)
    records = [record(1, " x "), record(2, "go to a.io", actor="u2")]
    result = compare(old, new, records)
    assert result.flips["data_changed"] == 1
    rows = {row.rule: row for row in result.sorted_rules()}
    assert rows["p/watch-links"].deltas == {
        "decided": 0,
        "modified": 0,
        "shadow": 1,
        "errors": 0,
        "enforced": 0,
    }
    assert rows["p/tidy"].deltas["modified"] == 0  # both modified, differently


def test_a_sample_is_explained_with_the_counters_the_replay_read(tmp_path: Path) -> None:
    old, new = policies(tmp_path, "old", OLD), policies(tmp_path, "new", NEW)
    records = [record(i, t) for i, t in enumerate(TEXTS)]
    result = compare(old, new, records, samples=5)
    sample = result.samples["allow_to_deny"][2]
    assert sample.record.decision_id == "r3"
    text = explain_new(new, sample)
    assert "p/strikes" in text and "= 2" in text  # the two strikes NEW had counted
    assert "decision: deny by p/repeat: 'too many strikes'" in text
    assert "decided differently" not in text
    again = explain_new(new, sample)
    assert again == text  # explaining counts nothing


def test_progress_is_reported_for_every_event(tmp_path: Path) -> None:
    old = policies(tmp_path, "old", OLD)
    done: list[int] = []
    compare(old, old, [record(i, "hi") for i in range(600)], advance=done.append)
    assert sum(done) == 600
    assert len(done) == 3  # in steps, not per event
