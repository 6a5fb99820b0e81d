"""The replay engine: the production decision path at the recorded time, counters fed in
time order, and the user captured with each record (or a directory instead)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from receiver.observe.records import Record
from receiver.replay.engine import ReplayStats, fresh_counters, replay
from receiver.runtime.payload import Event
from receiver.runtime.policyset import load_policies

POLICY = """\
policy: p
counters:
  per_minute:
    events: [message.shouldCreate]
    key: actor.userId
    window: 60s
rules:
  - id: failed
    events: [message.shouldCreate]
    when: user_lookup_failed()
    action: deny
  - id: flood
    events: [message.shouldCreate]
    when: per_minute > 2
    action: deny
  - id: banned
    events: [message.shouldCreate]
    when: user.banned == true
    action: deny
"""


def record(at: float, state: str = "found", user: Any = None, actor: str = "u1") -> Record:
    return Record(
        decision_id=f"d{at}",
        time=at,
        platform="socialplus",
        event=Event("message.shouldCreate", {"text": "hi"}, {"userId": actor, "_id": actor}),
        user_lookup=state,  # type: ignore[arg-type]
        user=user if state == "found" else None,
        decision={"action": "allow"},
    )


def test_each_event_sees_the_user_captured_with_it(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(POLICY, encoding="utf-8")
    policies = load_policies([tmp_path])
    records = [
        record(1000.0, "found", {"banned": True}),
        record(1100.0, "found", {"banned": False}),
        record(1200.0, "failed"),
        record(1300.0, "none"),
    ]
    got = [(r.decided.decision.action, r.decided.decision.rule) for r in replay(policies, records)]
    assert got == [("deny", "p/banned"), ("allow", None), ("deny", "p/failed"), ("allow", None)]


def test_a_directory_answers_instead_of_the_captured_records(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(POLICY, encoding="utf-8")
    policies = load_policies([tmp_path])
    directory = {"u1": {"banned": True}}
    [one] = replay(policies, [record(1000.0, "found", {"banned": False})], users=directory.get)
    assert one.decided.decision.rule == "p/banned"


def test_counters_are_fed_in_order_at_the_recorded_times(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(POLICY, encoding="utf-8")
    policies = load_policies([tmp_path])
    times = [1000.0, 1001.0, 1002.0, 1003.0, 1100.0]  # the last one is a minute later
    replayed = replay(policies, [record(t, "none") for t in times])
    decided = [r.decided.decision.rule for r in replayed]
    assert decided == [None, None, "p/flood", "p/flood", None]
    seeded = fresh_counters(policies, {"per_minute": {"u1": 5}}, 1000.0, "seed")
    [first] = replay(policies, [record(1000.0, "none")], counters=seeded)
    assert first.decided.decision.rule == "p/flood"


def test_a_record_without_a_captured_user_is_counted(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(POLICY, encoding="utf-8")
    policies = load_policies([tmp_path])
    stats = ReplayStats()
    records = [record(1.0, "unknown"), record(2.0, "not-needed")]
    results = list(replay(policies, records, stats=stats))
    assert [r.decided.decision.action for r in results] == ["allow", "allow"]
    assert (stats.events, stats.users_missing, stats.by_platform) == (2, 2, {"socialplus": 2})


def test_an_event_recorded_while_counters_could_not_answer_is_decided_as_then(
    tmp_path: Path,
) -> None:
    (tmp_path / "p.yaml").write_text(
        POLICY + "  - id: down\n    events: [message.shouldCreate]\n"
        "    when: counters_unavailable()\n    action: deny\n",
        encoding="utf-8",
    )
    policies = load_policies([tmp_path])
    records = [record(t, "none") for t in (1000.0, 1001.0, 1002.0, 1003.0)]
    records[2] = records[2]._replace(counters="unavailable")
    stats = ReplayStats()
    decided = [r.decided.decision.rule for r in replay(policies, records, stats=stats)]
    # the third saw no counters (and was denied for it, as the service denied it); it was
    # still counted, so the fourth is the fourth message of the minute
    assert decided == [None, None, "p/down", "p/flood"]
    assert stats.counters_unavailable == 1


def test_a_rule_expires_in_a_replay_at_the_recorded_instant(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(
        "policy: p\nrules:\n  - id: holiday-freeze\n    events: [message.shouldCreate]\n"
        "    action: deny\n    expires: 2025-12-05T16:00:00Z\n",
        encoding="utf-8",
    )
    policies = load_policies([tmp_path])
    instant = 1764950400.0  # 2025-12-05T16:00:00Z, the rule's expiry
    records = [record(instant - 0.001, "none"), record(instant, "none")]
    decided = [r.decided.decision.action for r in replay(policies, records)]
    assert decided == ["deny", "allow"]  # the same code path as serve, eval and test


STRIKES = """\
policy: p
counters:
  strikes:
    decisions: [p/spam]
    key: actor.userId
    window: 1h
  per_minute:
    events: [message.shouldCreate]
    key: actor.userId
    window: 60s
rules:
  - id: repeat
    events: [message.shouldCreate]
    when: strikes >= 1
    action: deny
  - id: spam
    events: [message.shouldCreate]
    when: text == "spam"
    action: deny
  - id: flood
    events: [message.shouldCreate]
    when: per_minute > 3
    action: deny
"""


def test_a_fail_safe_answer_strikes_nothing_as_in_the_service(tmp_path: Path) -> None:
    # A spam message whose rules ran out of the deadline was answered the fail-safe allow
    # and struck nothing in the service; the replay decided it in full, struck, and then
    # refused the user's next message as a repeat offender, which the service had allowed.
    (tmp_path / "p.yaml").write_text(STRIKES, encoding="utf-8")
    policies = load_policies([tmp_path])
    spam = Event("message.shouldCreate", {"text": "spam"}, {"userId": "u1", "_id": "u1"})
    hello = Event("message.shouldCreate", {"text": "hello"}, {"userId": "u1", "_id": "u1"})
    timed_out = {"action": "allow", "degraded": True, "degraded_reason": "deadline"}
    not_ready = {"action": "allow", "degraded": True, "degraded_reason": "not-ready"}
    records = [
        Record("d1", 1000.0, "socialplus", spam, "not-needed", None, timed_out),
        Record("d2", 1001.0, "socialplus", hello, "not-needed", None, {"action": "allow"}),
        Record("d3", 1002.0, "socialplus", hello, "not-needed", None, not_ready),
        Record("d4", 1003.0, "socialplus", hello, "not-needed", None, {"action": "allow"}),
    ]
    decided = [r.decided.decision for r in replay(policies, records)]
    assert decided[0].degraded and decided[0].rule is None  # no rule ran: nothing struck
    assert decided[1].rule is None  # allowed, as the service allowed it
    assert decided[2].degraded
    # d1 and d2 were counted, d3 (no policies yet in the service) was not: d4 is the
    # third of the minute, not over the limit of 3
    assert decided[3].rule is None
