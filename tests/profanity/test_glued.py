"""receiver/profanity/glued.py: a listed word inside a glued string only when the string
splits into real words with the listed word as one of them."""

from __future__ import annotations

import pytest

from receiver.profanity import StrictMatcher, matcher
from receiver.profanity.glued import MAX_RUN, Splitter
from receiver.profanity.lexicon import lexicon


@pytest.fixture(scope="module")
def strict() -> StrictMatcher:
    engine = matcher(strict=True)
    assert isinstance(engine, StrictMatcher)
    return engine


def listed(run: str, strict: StrictMatcher) -> list[str]:
    return [run[a:b] for a, b in strict.splitter.glued_words(run, strict._listed_ends)]


@pytest.mark.parametrize(
    ("run", "words"),
    [
        ("youfuckingidiot", ["fucking"]),
        ("uglyshitface", ["shit"]),  # ugly|shit|face (shitface is listed too: either is right)
        ("gofuckyourself", ["fuck"]),
        ("dumbcunt", ["cunt"]),
        ("stupidbastardbag", ["bastard"]),
        ("fuckoff", ["fuck"]),
    ],
)
def test_listed_words_glued_to_real_words_are_found(
    strict: StrictMatcher, run: str, words: list[str]
) -> None:
    found = listed(run, strict)
    assert found and all(any(w in f or f in w for f in found) for w in words), found


@pytest.mark.parametrize(
    "run",
    [
        "scunthorpe", "cocktail", "essex", "therapist", "assassin", "matsushita", "shiitake",
        "cumulative", "penistone", "middlesex", "clitheroe", "hitchcock", "cockatoo",
        "therapistoffice", "classicassassin", "middlesexcricket", "cocktailhour",
        "hitchcockfilms", "analisis", "slutsatsen", "sextante",
    ],
)  # fmt: skip
def test_clean_words_and_compounds_are_left_alone(strict: StrictMatcher, run: str) -> None:
    assert listed(run, strict) == []


def test_a_run_without_a_split_into_real_words_is_left_alone(strict: StrictMatcher) -> None:
    assert listed("xqfuckzzq", strict) == []  # xq and zzq are no words


def test_long_runs_are_not_split(strict: StrictMatcher) -> None:
    run = "you" * (MAX_RUN // 3) + "fuck"
    assert len(run) > MAX_RUN
    assert listed(run, strict) == []


def test_a_lone_letter_is_a_word_only_before_another() -> None:
    splitter = Splitter(lexicon())

    def ends(text: str, start: int) -> list[int]:
        return [start + 4] if text[start : start + 4] == "shit" else []

    assert splitter.glued_words("matsushita", ends) == []  # not matsu|shit|a
    assert splitter.glued_words("ashitface", ends) == [(1, 5)]  # a|shit|face


def test_a_text_of_glued_runs_costs_a_bounded_number_of_splits(strict: StrictMatcher) -> None:
    runs = ["youyoufuckyouyou" + "x" * (i % 5) for i in range(200)]
    text = " ".join(runs)
    found = strict.spans(text)
    assert 0 < len(found) <= 40  # the first runs are split, the rest are not looked at
    assert strict.censor(text).startswith("youyou****youyou ")
