"""Sampling of ``serve --record-sample`` (receiver/observe/sampling.py): the rate as written,
and a stable, keyed choice of actors."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.observe.sampling import (
    SAMPLE_KEY,
    ActorSample,
    RateError,
    actor_id,
    actor_share,
    parse_rate,
)


@pytest.mark.parametrize(
    ("written", "rate"),
    [
        ("0.1", 0.1),
        ("10%", 0.1),
        (" 50 % ", 0.5),
        ("1", 1.0),
        ("100%", 1.0),
        (0.25, 0.25),
        (1, 1.0),
    ],
)
def test_a_rate_is_a_fraction_or_a_percentage(written: object, rate: float) -> None:
    assert parse_rate(written) == pytest.approx(rate)


@pytest.mark.parametrize(
    "written", ["0", "0%", "-0.1", "1.5", "101%", "nan", "inf", "ten", "", True]
)
def test_a_rate_outside_zero_to_one_is_refused_with_the_accepted_forms(written: object) -> None:
    with pytest.raises(RateError, match="record sample"):
        parse_rate(written)


@given(st.text(max_size=20))
def test_any_text_is_a_rate_or_a_rate_error(written: str) -> None:
    try:
        rate = parse_rate(written)
    except RateError:
        return
    assert 0 < rate <= 1


def test_the_share_is_the_documented_keyed_blake2b() -> None:
    digest = hashlib.blake2b(b"u1", key=SAMPLE_KEY, digest_size=8).digest()
    assert actor_share("u1") == int.from_bytes(digest, "big") / 2**64


@given(st.text(min_size=1), st.floats(min_value=0.001, max_value=1.0))
def test_an_actor_is_sampled_the_same_way_every_time(identity: str, rate: float) -> None:
    sample = ActorSample(rate, chance=lambda: 0.0)
    actor = {"userId": identity}
    assert sample(actor) == sample(dict(actor)) == (actor_share(identity) < rate or rate >= 1)


@given(st.text(min_size=1), st.floats(min_value=0.01, max_value=0.99))
def test_a_sampled_actor_stays_sampled_at_a_higher_rate(identity: str, rate: float) -> None:
    if ActorSample(rate)({"userId": identity}):
        assert ActorSample(min(1.0, rate * 1.5))({"userId": identity})


def test_about_the_rate_of_actors_is_sampled() -> None:
    sample = ActorSample(0.1)
    chosen = sum(sample({"userId": f"user-{n}"}) for n in range(20_000))
    assert 1800 < chosen < 2200


def test_events_without_an_actor_id_are_sampled_at_random_at_the_rate() -> None:
    draws = iter([0.05, 0.5, 0.09, 0.95])
    sample = ActorSample(0.1, chance=lambda: next(draws))
    assert [sample({}) for _ in range(4)] == [True, False, True, False]


def test_the_actor_id_is_user_id_else_underscore_id() -> None:
    assert actor_id({"userId": "a", "_id": "b"}) == "a"
    assert actor_id({"_id": "b"}) == "b"
    assert actor_id({"userId": 7}) == "7"
    assert actor_id({"userId": "", "_id": None}) is None
    assert actor_id({"userId": True}) is None
