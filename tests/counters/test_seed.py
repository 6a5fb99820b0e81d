"""receiver/counters/seed.py: counter values given before an event (``--counters-seed``,
``counters:`` in policy test files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.counters.memory import MemoryBackend
from receiver.counters.seed import (
    SeedError,
    check_value,
    find_counter,
    read_seed_file,
    seed_mapping,
)
from receiver.dsl.values import Timestamp
from receiver.runtime.decide import decide
from receiver.runtime.payload import Event
from receiver.runtime.policyset import PolicySet, load_policies

NOW = Timestamp(1_800_000_000)
MESSAGE = Event("message.shouldCreate", {"text": "hi", "channelId": "c1"}, {"userId": "u1"})


@pytest.fixture
def policyset(policies: Path) -> PolicySet:
    return load_policies([policies])


def reads(policyset: PolicySet, backend: MemoryBackend) -> dict[str, object]:
    counted = decide(policyset, MESSAGE, NOW, counters=backend).counters
    assert counted is not None
    return dict(counted.values)


def test_find_counter_takes_the_bare_name_or_policy_slash_name(policyset: PolicySet) -> None:
    by_name = find_counter(policyset.counters, "strikes")
    by_id = find_counter(policyset.counters, "rate/strikes")
    assert not isinstance(by_name, str) and by_name.id == "rate/strikes"
    assert by_id == by_name


def test_find_counter_explains_an_unknown_name_with_a_suggestion(policyset: PolicySet) -> None:
    assert (
        find_counter(policyset.counters, "strike") == "no counter 'strike'; did you mean 'strikes'?"
    )
    found = find_counter(policyset.counters, "zzz")
    assert isinstance(found, str) and found.startswith("no counter 'zzz'; the counters are ")
    assert find_counter([], "x") == "no counter 'x'; the policies declare none"


def test_find_counter_asks_for_policy_slash_name_when_two_policies_share_a_name(
    policies: Path,
) -> None:
    other = (
        (policies / "rate.yaml")
        .read_text(encoding="utf-8")
        .replace("policy: rate", "policy: other")
    )
    (policies / "other.yaml").write_text(other, encoding="utf-8")
    counters = load_policies([policies]).counters
    found = find_counter(counters, "strikes")
    assert isinstance(found, str)
    assert "several policies have a counter 'strikes'" in found
    assert "write policy/name" in found
    assert not isinstance(find_counter(counters, "other/strikes"), str)


@pytest.mark.parametrize(("value", "expected"), [(0, 0), (7, 7), (-1, None), (True, None),
                                                 (1.5, None), ("3", None)])  # fmt: skip
def test_check_value_takes_whole_numbers_from_zero(value: object, expected: int | None) -> None:
    assert check_value(value) == expected


def test_a_seed_is_the_value_before_the_events_own_increment(policyset: PolicySet) -> None:
    backend = MemoryBackend()
    seed_mapping(backend, policyset.counters, {"messages_per_minute": {"u1": 5}}, NOW, "seeds")
    assert reads(policyset, backend)["rate/messages_per_minute"] == 6


def test_seeds_of_other_keys_do_not_change_this_key(policyset: PolicySet) -> None:
    backend = MemoryBackend()
    seed_mapping(backend, policyset.counters, {"rate/strikes": {"u2": 3}}, NOW, "seeds")
    assert reads(policyset, backend)["rate/strikes"] == 0


@pytest.mark.parametrize(
    ("seeds", "message"),
    [
        (["a"], "seeds.yaml: the seeds must be a mapping {counter: {key: value}}"),
        ({"nope": {"u1": 1}}, "seeds.yaml: no counter 'nope'"),
        ({"strikes": 3}, "seeds.yaml: counter 'strikes' needs a mapping {key: value}"),
        ({"strikes": {"u1": -2}}, "seeds.yaml: strikes[u1] must be a whole number >= 0"),
    ],
)
def test_bad_seeds_raise_a_seed_error_that_says_where(
    policyset: PolicySet, seeds: object, message: str
) -> None:
    with pytest.raises(SeedError) as caught:
        seed_mapping(MemoryBackend(), policyset.counters, seeds, NOW, "seeds.yaml")  # type: ignore[arg-type]
    assert str(caught.value).startswith(message)


def test_read_seed_file_reads_yaml_and_an_empty_file_is_no_seeds(tmp_path: Path) -> None:
    path = tmp_path / "seeds.yaml"
    path.write_text("strikes: {u1: 2}\n", encoding="utf-8")
    assert read_seed_file(path) == {"strikes": {"u1": 2}}
    path.write_text("", encoding="utf-8")
    assert read_seed_file(path) == {}


def test_read_seed_file_reports_a_missing_file_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="cannot read the counter seeds"):
        read_seed_file(tmp_path / "missing.yaml")
    path = tmp_path / "bad.yaml"
    path.write_text("strikes: {u1: 2\n", encoding="utf-8")
    with pytest.raises(SeedError, match=r"bad\.yaml:\d+:\d+: YAML syntax error"):
        read_seed_file(path)
