"""Grouping records for parallel replay: every record once, time order within a group,
records sharing a counter key's session together, and bins of about equal size."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from receiver.observe.records import Record
from receiver.replay.groups import Touch, connected, partition, sessions, spread
from receiver.runtime.payload import Event
from receiver.runtime.policyset import load_policies

ROOT = Path(__file__).resolve().parents[2]

keysets = st.lists(st.lists(st.integers(0, 30), max_size=4), max_size=60)


@given(keysets)
def test_grouping_keeps_every_record_once_in_time_order(keys: list[list[int]]) -> None:
    groups = connected(keys)
    flat = [position for group in groups for position in group]
    assert sorted(flat) == list(range(len(keys)))
    for group in groups:
        assert group == sorted(group)
    group_of = {position: number for number, group in enumerate(groups) for position in group}
    for a, a_keys in enumerate(keys):
        for b, b_keys in enumerate(keys):
            if set(a_keys) & set(b_keys):
                assert group_of[a] == group_of[b]


@given(keysets)
def test_groups_share_no_key(keys: list[list[int]]) -> None:
    owners: dict[int, int] = {}
    for number, group in enumerate(connected(keys)):
        for position in group:
            for key in keys[position]:
                assert owners.setdefault(key, number) == number


@given(st.lists(st.integers(1, 50), max_size=40), st.integers(1, 8))
def test_bins_hold_every_position_once_and_stay_balanced(sizes: list[int], bins: int) -> None:
    groups, start = [], 0
    for size in sizes:
        groups.append(list(range(start, start + size)))
        start += size
    packed = spread(groups, bins)
    assert len(packed) <= bins
    assert sorted(p for b in packed for p in b) == list(range(start))
    assert all(b == sorted(b) for b in packed)
    if len(packed) == bins:  # largest first into the smallest: within one group's size
        lengths = [len(b) for b in packed]
        assert max(lengths) - min(lengths) <= max(sizes)


def rec(at: float) -> Record:
    return Record("d", at, "socialplus", Event("message.shouldCreate", {}, {}), "none", None, {})


WINDOW = 60_000
K = ("p/c", "u1")


def test_an_add_after_a_full_window_starts_a_new_session() -> None:
    records = [rec(0.0), rec(59.999), rec(119.999), rec(200.0)]
    touches = [[Touch(K, WINDOW, True)]] * 4
    links = sessions(records, touches)
    assert links == [[(K, 0)], [(K, 0)], [(K, 1)], [(K, 2)]]
    assert connected(links) == [[0, 1], [2], [3]]


def test_a_read_links_only_to_adds_still_in_the_window() -> None:
    records = [rec(0.0), rec(30.0), rec(61.0), rec(62.0)]
    touches = [
        [Touch(K, WINDOW, True)],
        [Touch(K, WINDOW, False)],  # reads the add at 0 s
        [Touch(K, WINDOW, False)],  # the add at 0 s left the window: reads 0 anywhere
        [Touch(K, WINDOW, True)],
    ]
    assert connected(sessions(records, touches)) == [[0, 1], [2], [3]]


def test_without_counters_every_record_is_a_group_of_its_own(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(
        "policy: p\nrules:\n  - id: r\n    events: [message.shouldCreate]\n"
        "    when: text == 'x'\n    action: deny\n",
        encoding="utf-8",
    )
    policies = load_policies([tmp_path])
    assert partition(policies, [rec(1.0), rec(2.0), rec(3.0)]) == [[0], [1], [2]]


def test_the_shipped_rate_limits_link_a_user_s_flood_and_a_shared_text(tmp_path: Path) -> None:
    policies = load_policies([ROOT / "policies"], eager=False)

    def message(at: float, user: str, text: str) -> Record:
        actor = {"userId": user, "_id": user}
        event = Event("message.shouldCreate", {"text": text, "channelId": "c"}, actor)
        return Record("d", at, "socialplus", event, "none", None, {"action": "allow"})

    paste = "the same long text pasted everywhere"
    records = [
        message(0.0, "a", "hi"),
        message(1.0, "a", "hello"),
        message(2.0, "b", "hey"),
        message(3.0, "c", paste),
        message(4.0, "b", paste),
        message(5.0, "d", "yo"),
    ]
    assert partition(policies, records) == [[0, 1], [2, 3, 4], [5]]
