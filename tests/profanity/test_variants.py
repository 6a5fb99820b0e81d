"""receiver/profanity/variants.py: which spellings strict mode adds, decided at build time."""

from __future__ import annotations

import pytest

from receiver.profanity import default_words
from receiver.profanity.lexicon import lexicon
from receiver.profanity.strict import strict_entry
from receiver.profanity.variants import extra_entries, readable_skeletons, skeleton


@pytest.fixture(scope="module")
def spellings() -> dict[str, str]:
    entries = tuple(dict.fromkeys(e for w in default_words() if (e := strict_entry(w))))
    return extra_entries(entries, lexicon())


def test_a_skeleton_keeps_the_first_letter_and_the_consonants() -> None:
    assert skeleton("fuck") == "fck"
    assert skeleton("asshole") == "asshl"
    assert skeleton("bitch") == "btch"


@pytest.mark.parametrize(
    ("spelling", "entry"),
    [
        ("fck", "fuck"),  # fuck against feck: unambiguous
        ("btch", "bitch"),  # four letters: bitch is more frequent than batch
        ("fcking", "fucking"),  # one vowel dropped from an entry whose skeleton is taken
        ("fckng", "fucking"),
        ("bstrd", "bastard"),
        ("mthrfckr", "motherfucker"),
        ("phaggot", "faggot"),  # ph for f
        ("phag", "fag"),
    ],
)
def test_readable_spellings_are_added(spellings: dict[str, str], spelling: str, entry: str) -> None:
    # the entry it spells, or a listed spelling of it with the same skeleton (fcuking)
    assert skeleton(spellings[spelling]) == skeleton(entry)


@pytest.mark.parametrize(
    "spelling",
    [
        "st", "fk", "ck", "pt",  # fewer than three letters
        "sht",  # shot, sheet, shut, shoot
        "dck",  # deck, duck, dock (and a surname)
        "cnt",  # count, cent, can't; and "cnt" is written for count
        "slt", "whr", "tts",
        "pens",  # penis with a vowel dropped is an ordinary word
        "phat",  # fat with ph is a word of its own
    ],
)  # fmt: skip
def test_ambiguous_spellings_are_not_added(spellings: dict[str, str], spelling: str) -> None:
    assert spelling not in spellings


def test_no_added_spelling_is_a_listed_entry(spellings: dict[str, str]) -> None:
    listed = {strict_entry(w) for w in default_words()}
    assert not set(spellings) & listed
    assert set(spellings.values()) <= listed


def test_a_skeleton_without_rivals_is_readable_even_when_the_lexicon_lacks_the_word() -> None:
    assert readable_skeletons(["fuckface"], lexicon()) == {"fckfc": "fuckface"}
