"""The console's feed (receiver/observe/feed.py): a bounded ring of recent decisions and
per-minute counts of one worker, with an injected clock."""

from __future__ import annotations

import threading

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receiver.observe.decisionlog import decision_entry
from receiver.observe.feed import MINUTES, DecisionFeed, disagrees, replay_facts
from receiver.runtime.decision import Decision, RuleFailure, ShadowResult
from receiver.runtime.payload import parse_event

EVENT = parse_event({"eventName": "message.shouldCreate", "data": {"text": "secret words"},
                     "actor": {"userId": "u1"}})  # fmt: skip


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def add(feed: DecisionFeed, decision: Decision, decision_id: str = "d1") -> None:
    entry = decision_entry(
        decision_id=decision_id, platform="socialplus", event=EVENT, decision=decision,
        revision="r1", latency=0.001, log_content=feed.content,
    )  # fmt: skip
    replay = replay_facts(platform="socialplus", event_name=EVENT.name, actor=EVENT.actor,
                          now=1.0, user=None, user_asked=False)  # fmt: skip
    feed.add(entry, decision, replay)


def test_the_ring_keeps_the_last_capacity_decisions_with_growing_sequence_numbers() -> None:
    feed = DecisionFeed(3)
    for n in range(5):
        add(feed, Decision("allow"), f"d{n}")
    items = feed.items()
    assert [entry["decision_id"] for _, entry, _ in items] == ["d2", "d3", "d4"]
    assert [seq for seq, _, _ in items] == [3, 4, 5]
    assert feed.version == 5
    assert feed.find("d3") is not None
    assert feed.find("d0") is None


def test_a_buffer_without_room_is_refused() -> None:
    with pytest.raises(ValueError, match="room"):
        DecisionFeed(0)


def test_without_content_no_message_data_or_replay_is_kept() -> None:
    feed = DecisionFeed(10, content=False)
    add(feed, Decision("deny", message="you said secret words", rule="p/r"))
    (_, entry, replay), = feed.items()  # fmt: skip
    assert replay is None
    assert "message" not in entry and "data" not in entry
    assert b"secret words" not in orjson.dumps(feed.snapshot())


def test_with_content_the_entry_and_what_re_explaining_needs_are_kept() -> None:
    feed = DecisionFeed(10, content=True)
    add(feed, Decision("deny", message="no", rule="p/r"))
    (_, entry, replay), = feed.items()  # fmt: skip
    assert entry["message"] == "no"
    assert entry["data"] == {"text": "secret words"}
    assert replay is not None
    assert replay["event"] == "message.shouldCreate" and replay["actor"] == {"userId": "u1"}
    assert replay["now"] == 1.0


def test_hits_count_the_deciding_and_modifying_rules_and_shadow_matches() -> None:
    clock = Clock()
    feed = DecisionFeed(10, clock=clock)
    add(feed, Decision("deny", message="m", rule="p/deny", modified_by=["p/mod"],
                       shadow=[ShadowResult("p/shadow", "deny", "m")]))  # fmt: skip
    (minute,) = feed.minutes().values()
    assert minute["rules"] == {"p/deny": [1, 0, 0], "p/mod": [1, 0, 0], "p/shadow": [1, 0, 0]}
    assert minute["totals"] == [1, 0, 0]


@pytest.mark.parametrize(
    ("live", "shadow", "differs"),
    [
        (Decision("allow"), ShadowResult("p/s", "deny", "no"), True),
        (Decision("deny", message="no"), ShadowResult("p/s", "deny", "no"), False),
        (Decision("deny", message="no"), ShadowResult("p/s", "deny", "other"), True),
        (Decision("allow"), ShadowResult("p/s", "allow"), False),
        (Decision("modify"), ShadowResult("p/s", "modify"), False),
        (Decision("allow"), ShadowResult("p/s", "modify"), True),
    ],
)
def test_a_shadow_result_disagrees_on_another_action_or_another_deny_message(
    live: Decision, shadow: ShadowResult, differs: bool
) -> None:
    assert disagrees(shadow.action, shadow.message, live) is differs
    feed = DecisionFeed(10)
    add(feed, Decision(live.action, message=live.message, shadow=[shadow]))
    (minute,) = feed.minutes().values()
    assert minute["rules"]["p/s"] == [1, 1 if differs else 0, 0]


def test_rule_failures_and_degraded_answers_are_counted() -> None:
    feed = DecisionFeed(10)
    failure = RuleFailure("p/broken", "no such field", "p.yaml:3:9")
    add(feed, Decision("allow", errors=[failure, failure], degraded=True))
    (minute,) = feed.minutes().values()
    assert minute["totals"] == [1, 1, 2]
    assert minute["rules"]["p/broken"] == [0, 0, 2]


def test_minutes_roll_over_and_leave_the_window_after_an_hour() -> None:
    clock = Clock(60 * 1_000_000.0)
    feed = DecisionFeed(10, clock=clock)
    add(feed, Decision("allow", rule="p/a"))
    clock.now += 60
    add(feed, Decision("allow", rule="p/a"))
    add(feed, Decision("allow", rule="p/a"))
    assert sorted(m["totals"][0] for m in feed.minutes().values()) == [1, 2]
    clock.now += 60 * (MINUTES - 1)  # the first minute is now out of the window
    assert [m["totals"][0] for m in feed.minutes().values()] == [2]
    add(feed, Decision("allow"))  # a new minute drops those that left the window
    assert len(feed._minutes) == 2


def test_the_snapshot_is_json_with_items_and_minutes() -> None:
    feed = DecisionFeed(10, content=True)
    add(feed, Decision("allow", rule="p/a"))
    data = orjson.loads(orjson.dumps(feed.snapshot()))
    assert data["seq"] == 1 and data["capacity"] == 10 and data["content"] is True
    seq, entry, replay = data["items"][0]
    assert seq == 1 and entry["decision_id"] == "d1" and replay["platform"] == "socialplus"
    assert next(iter(data["minutes"].values()))["rules"] == {"p/a": [1, 0, 0]}


def test_adding_from_threads_while_snapshots_are_taken_loses_nothing() -> None:
    feed = DecisionFeed(100_000)
    stop = threading.Event()

    def snapshots() -> None:
        while not stop.is_set():
            feed.snapshot()

    reader = threading.Thread(target=snapshots)
    reader.start()
    try:
        for n in range(2000):
            add(feed, Decision("allow", rule="p/a"), f"d{n}")
    finally:
        stop.set()
        reader.join(10)
    assert len(feed.items()) == 2000
    assert sum(m["rules"]["p/a"][0] for m in feed.minutes().values()) == 2000


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 20), st.integers(0, 60))
def test_the_ring_never_holds_more_than_its_capacity(capacity: int, count: int) -> None:
    feed = DecisionFeed(capacity)
    for n in range(count):
        add(feed, Decision("allow"), f"d{n}")
    items = feed.items()
    assert len(items) == min(capacity, count)
    assert [s for s, _, _ in items] == list(range(count - len(items) + 1, count + 1))
