"""receiver/profanity/wordlist.py: better-profanity's data read as it is, and the
character classes built from it."""

from __future__ import annotations

import re

import re2
from better_profanity import Profanity

from receiver.profanity.wordlist import (
    CHARS_MAPPING,
    REPLACEMENT,
    WORD_CHARACTERS,
    char_class,
    default_words,
    lower_sources,
    max_combinations,
    prepare_words,
    python_class,
)


def test_the_default_words_are_better_profanitys_list_in_file_order() -> None:
    words = default_words()
    assert len(words) > 800
    reference = Profanity()
    reference.load_censor_words()
    assert set(prepare_words(words)) == {str(w) for w in reference.CENSOR_WORDSET}


def test_the_mapping_and_replacement_are_better_profanitys() -> None:
    assert "@" in CHARS_MAPPING["a"]
    assert REPLACEMENT == "****"
    assert {"a", "Z", "0", "@", "$", "*", '"', "'"} <= WORD_CHARACTERS
    assert " " not in WORD_CHARACTERS and "." not in WORD_CHARACTERS


def test_prepare_words_lower_cases_drops_allowed_words_and_duplicates() -> None:
    assert prepare_words(["Darn", "heck", "DARN", "", "Gosh"], allow=["GOSH"]) == ("darn", "heck")


def test_max_combinations_counts_the_separators_inside_an_entry() -> None:
    assert max_combinations([]) == 1
    assert max_combinations(["plain"]) == 1
    assert max_combinations(["p.u.s.s.y.", "a b"]) == 5


def test_lower_sources_lists_every_character_that_lower_cases_to_one() -> None:
    sources = lower_sources()
    assert sources["k"] == frozenset({"K", "\u212a"})  # and the Kelvin sign
    assert "\u0130" not in {c for chars in sources.values() for c in chars}  # İ: two characters


def test_char_class_matches_exactly_the_given_characters_in_re2_and_re() -> None:
    chars = set("abcdxyz09.-]\\^") | {"é", "\u212a"}
    probe = [chr(c) for c in range(0x3000)]
    for pattern in (re2.compile(f"[{char_class(chars)}]"), re.compile(f"[{python_class(chars)}]")):
        assert {c for c in probe if pattern.fullmatch(c)} == chars
