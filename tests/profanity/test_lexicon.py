"""receiver/profanity/lexicon.py: wordsegment's word counts, looked up in a compact index."""

from __future__ import annotations

import array

import pytest

from receiver.profanity.lexicon import Lexicon, lexicon, table


def test_the_lexicon_holds_every_word_of_the_table_with_its_count() -> None:
    words, counts = table()
    index = lexicon()
    assert len(index) == len(words) > 300_000
    for rank in range(0, len(words), 997):  # a spread sample
        assert index.count(words[rank]) == counts[rank]
        assert words[rank] in index


@pytest.mark.parametrize(
    "word", ["the", "cocktail", "scunthorpe", "matsushita", "middlesex", "penistone", "fuck"]
)
def test_common_words_and_names_are_in_the_lexicon(word: str) -> None:
    assert word in lexicon()


@pytest.mark.parametrize(
    "word", ["", "qzxqzxqzx", "youfuckingidiot", "Cocktail", "ｃｏｃｋｔａｉｌ"]
)
def test_strings_that_are_not_words_have_no_count(word: str) -> None:
    assert word not in lexicon()
    assert lexicon().count(word) == 0


def test_a_small_lexicon_answers_as_its_table() -> None:
    small = Lexicon(["b", "a", "c"], array.array("q", [5, 7, 1]))
    assert [small.count(w) for w in "abcd"] == [7, 5, 1, 0]
    assert small.total == 13
    assert small.floor == 1


def test_words_and_counts_must_pair_up() -> None:
    with pytest.raises(ValueError, match="one count per word"):
        Lexicon(["a", "b"], array.array("q", [1]))
