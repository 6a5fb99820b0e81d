"""The fast matcher agrees with better-profanity 0.7.0, character for character.

Differential tests against the real library on seeded generated texts
(``tests/profanity_corpus.py`` says what each category aims at):

- a live run: better-profanity and the matcher on ``RECEIVER_PROFANITY_CORPUS`` texts
  (default 300, a few seconds: better-profanity takes milliseconds per word) with seed
  ``RECEIVER_PROFANITY_SEED`` (default 1). A larger run is one variable away::

      RECEIVER_PROFANITY_CORPUS=100000 RECEIVER_PROFANITY_SEED=7 \\
          pytest tests/profanity/test_agreement.py -k live

- the recorded run: ``tests/data/profanity_reference.jsonl.gz`` holds better-profanity's
  answers for 24,000 texts (``python tests/profanity_corpus.py 24000`` records them; it
  takes minutes). Every run checks the matcher against all of them, and re-asks the
  installed library about a sample, so the recording cannot silently go stale.

Zero differences are allowed: ``censor`` output and ``profane`` verdict both.
"""

from __future__ import annotations

import os
import random

import better_profanity
import pytest
from better_profanity import Profanity, profanity
from profanity_corpus import CATEGORIES, REFERENCE_SEED, corpus, load_reference

from receiver.profanity import Matcher, default_words, matcher

SIZE = int(os.environ.get("RECEIVER_PROFANITY_CORPUS", "300"))
SEED = int(os.environ.get("RECEIVER_PROFANITY_SEED", "1"))


def differences(engine: Matcher, reference: Profanity, texts: list[str]) -> list[str]:
    found: list[str] = []
    for text in texts:
        expected = (reference.censor(text), bool(reference.contains_profanity(text)))
        actual = (engine.censor(text), engine.contains(text))
        if actual != expected:
            found.append(f"{text!r}: better-profanity {expected!r}, matcher {actual!r}")
    return found


def test_live_agreement_on_the_generated_corpus() -> None:
    texts = [text for _, text in corpus(SIZE, SEED)]
    engine = matcher()
    assert isinstance(engine, Matcher)
    found = differences(engine, profanity, texts)
    assert not found, f"{len(found)} of {len(texts)} differ:\n" + "\n".join(found[:20])


@pytest.fixture(scope="module")
def reference() -> tuple[dict[str, object], list[list[object]]]:
    return load_reference()


def test_the_recording_is_of_the_installed_library_and_large_enough(
    reference: tuple[dict[str, object], list[list[object]]],
) -> None:
    header, rows = reference
    assert header["better_profanity"] == better_profanity.__version__
    assert header["seed"] == REFERENCE_SEED
    assert len(rows) == header["size"]
    assert len(rows) >= 20_000
    assert {row[0] for row in rows} == set(CATEGORIES)
    assert sum(1 for row in rows if row[3]) > len(rows) // 4  # plenty of matches
    assert sum(1 for row in rows if not row[3]) > len(rows) // 10  # and of clean texts


def test_agreement_on_the_recorded_corpus(
    reference: tuple[dict[str, object], list[list[object]]],
) -> None:
    engine = matcher()
    assert isinstance(engine, Matcher)
    found: list[str] = []
    for category, text, censored, profane in reference[1]:
        assert isinstance(text, str)
        actual = (engine.censor(text), engine.contains(text))
        if actual != (censored, profane):
            found.append(f"[{category}] {text!r}: recorded {(censored, profane)!r}, got {actual!r}")
    assert not found, f"{len(found)} of {len(reference[1])} differ:\n" + "\n".join(found[:20])


def test_the_recording_still_matches_the_library(
    reference: tuple[dict[str, object], list[list[object]]],
) -> None:
    sample = random.Random(SEED).sample(reference[1], 60)
    for _category, text, censored, profane in sample:
        assert isinstance(text, str)
        assert (profanity.censor(text), profanity.contains_profanity(text)) == (censored, profane)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "a",
        "ass",
        " ass",
        "ass ",
        "x ass",
        "s-o-b",  # a last one-character word is never joined
        "s-o-b ",
        "f u c k",
        "f u c k!",
        "what the f u c k is this",
        "hand job",
        "2 girls 1 cup",
        "2  girls 1 cup",
        "sh!t",
        "sh!t ",
        "fuck-ass",
        "****",
        "f*ck",
        "@$$",
        "Fuck\u212a",  # the Kelvin sign lower-cases to "k"
        "fuc\u212a you",
        "fuck\u00e9",  # Unicode letters are part of the word
        "fuck\u4e2d",  # CJK is not: a separator
        "\u0130ass",  # "İ".lower() is two characters
        "ΑΣΣ",
        "fuck\ud800shit",  # a lone surrogate separates
        "classic assassin Scunthorpe",
        "pen is",
        "an us",
        "fu\u200bck you",
    ],
)
def test_known_corners_agree(text: str) -> None:
    engine = matcher()
    assert isinstance(engine, Matcher)
    assert not differences(engine, profanity, [text])


def test_policy_words_and_allowed_words_agree_with_the_library() -> None:
    extra = ["frobnitz", "zorp zorp", "gl!tch", "Qux"]
    allow = ["hell", "GOD", "ass"]
    reference = Profanity()
    reference.load_censor_words([*default_words(), *extra], whitelist_words=list(allow))
    engine = matcher(extra, allow)
    assert isinstance(engine, Matcher)
    rng = random.Random(SEED)
    texts = [
        "go to hell",
        "oh my god",
        "kiss my ass",
        "fuck this",
        "frobnitz!",
        "fr0bn1tz",
        "zorp zorp",
        "zorp  zorp",
        "zorpzorp now",
        "gl!tch here",
        "qux",
        "QUX?",
        "he11",
    ]
    texts += [f"{rng.choice(texts)} {rng.choice(texts)}" for _ in range(40)]
    found = differences(engine, reference, texts)
    assert not found, "\n".join(found)


def test_words_whose_lower_case_is_longer_agree_without_the_prefilter() -> None:
    # "İ".lower() is two characters: such an entry turns the RE2 prefilter off and the
    # walk reads every word.
    extra = ["İstanbul", "gİt"]
    reference = Profanity()
    reference.load_censor_words([*default_words(), *extra])
    engine = matcher(extra)
    assert isinstance(engine, Matcher) and engine.prefilter is None
    texts = ["İstanbul", "istanbul", "i̇stanbul!", "go gİt now", "git", "fuck İstanbul", "a b"]
    assert not differences(engine, reference, texts)


def test_matchers_are_built_once_per_configuration() -> None:
    assert matcher() is matcher()
    assert matcher(["b", "a"], ["x"]) is matcher(("a", "b"), ("x",))
    assert matcher(["a"]) is not matcher()
    strict = matcher(strict=True)
    assert strict is matcher(strict=True)
    assert strict is not matcher()
