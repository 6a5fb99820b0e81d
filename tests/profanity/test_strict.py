"""receiver/profanity/strict.py: strict matching catches evasions, leaves clean text alone and
masks the characters the user typed. (normalize() is tested in test_normalize.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.profanity import Matcher, StrictMatcher, matcher

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture(scope="module")
def strict() -> StrictMatcher:
    engine = matcher(strict=True)
    assert isinstance(engine, StrictMatcher)
    return engine


@pytest.fixture(scope="module")
def exact() -> Matcher:
    engine = matcher()
    assert isinstance(engine, Matcher)
    return engine


def lines(name: str) -> list[str]:
    return (DATA / name).read_text(encoding="utf-8").splitlines()


# -- strict matching ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "fuuuuck you",
        "shiiiiit",
        "a$$$ hole",
        "f.u.c.k",
        "f u c k",  # also at the very end, which better-profanity misses
        "f-u-c-k off",
        "f💩u💩c💩k",
        "fu\u200bck",
        "ｆｕｃｋ",
        "fück",
        "f\u0308u\u0336ck",
        "fuсk",  # Cyrillic es
        "fυcκ",  # Greek upsilon, kappa
        "𝐟𝐮𝐜𝐤",
        "ꜰᴜᴄᴋ",
        "🇫🇺🇨🇰",
        "sh!t",
        "$h|+",
        "*fuck*",
        "'fuck'",
        "b*i*t*c*h",
        "FUUUCK",
    ],
)
def test_strict_mode_catches_evasions(strict: StrictMatcher, text: str) -> None:
    assert strict.contains(text)


@pytest.mark.parametrize(
    "text",
    [
        "classic assassin in Scunthorpe",
        "a cocktail in Essex",
        "the therapist's analysis",
        "good game",
        "gooood morning",
        "noob",
        "sooo cool",
        "see you at 5 p.m. in the U.S.A.",
        "e.g. this, i.e. that",
        "*really* important",
        "Привет, как дела?",
        "Καλημέρα σε όλους",
        "café naïve",
        "hello",
        "",
    ],
)
def test_strict_mode_leaves_clean_text_alone(strict: StrictMatcher, text: str) -> None:
    assert not strict.contains(text)
    assert strict.censor(text) == text


def test_strict_mode_finds_everything_better_profanity_finds(
    strict: StrictMatcher, exact: Matcher
) -> None:
    for text in ["f*ck", "pen is", "2 girls 1 cup", "sh1t", "what the fuck", "s.h.i.t."]:
        assert exact.contains(text)
        assert strict.contains(text)


@pytest.mark.parametrize(
    ("text", "censored"),
    [
        ("oh fu\u200bck!", "oh ****!"),  # the zero-width space is masked with the word
        ("oh ｆｕｃｋ!", "oh ****!"),  # the original full-width letters are replaced
        ("oh f.u.c.k!", "oh ****!"),
        ("oh fuuuuck it", "oh **** it"),
        ("*fuck* this", "****** this"),  # the emphasis stars stay
        ("Straße fuсk", "Straße ****"),  # a character that normalizes to two stays whole
        ("f*ck and fuuuck", "**** and ****"),  # exact and strict matches together
    ],
)
def test_strict_censor_masks_the_original_characters(
    strict: StrictMatcher, text: str, censored: str
) -> None:
    assert strict.censor(text) == censored


# -- the corpora measured by bench/profanity.py ---------------------------------------------------


def test_strict_mode_catches_far_more_evasions(strict: StrictMatcher, exact: Matcher) -> None:
    evasions = lines("profanity_evasion.txt")
    assert len(evasions) >= 500
    caught_exact = sum(map(exact.contains, evasions))
    caught_strict = sum(map(strict.contains, evasions))
    assert caught_strict >= 0.9 * len(evasions)
    assert caught_strict >= 2 * caught_exact


def test_strict_mode_false_positives_stay_at_better_profanitys_level(
    strict: StrictMatcher, exact: Matcher
) -> None:
    clean = lines("profanity_clean.txt")
    assert len(clean) >= 500
    flagged_exact = [t for t in clean if exact.contains(t)]
    flagged_strict = [t for t in clean if strict.contains(t)]
    assert len(flagged_strict) <= len(flagged_exact), set(flagged_strict) - set(flagged_exact)
