"""receiver/profanity/exact.py: the fast matcher, on small word lists whose answers can be
read off by hand. (Agreement with better-profanity on large corpora: test_agreement.py.)"""

from __future__ import annotations

import pytest
from better_profanity import Profanity

from receiver.profanity.exact import Matcher, replace_spans

# "s.h.o.o.t" has four separators: up to four following words are joined to a word
WORDS = ["darn", "heck", "2 girls", "s.h.o.o.t"]


@pytest.fixture(scope="module")
def darn() -> Matcher:
    return Matcher(WORDS)


def test_a_listed_word_is_masked_and_the_rest_kept(darn: Matcher) -> None:
    assert darn.censor("well darn it") == "well **** it"
    assert darn.contains("well darn it")
    assert darn.spans("well darn it") == [(5, 9)]


def test_matching_ignores_case(darn: Matcher) -> None:
    assert darn.censor("DaRn") == "****"


def test_leetspeak_stand_ins_match(darn: Matcher) -> None:
    assert darn.censor("d4rn and h3ck") == "**** and ****"


def test_a_listed_word_inside_a_longer_word_is_not_matched(darn: Matcher) -> None:
    assert darn.censor("darned heckle") == "darned heckle"
    assert not darn.contains("darned heckle")


def test_letters_split_by_separators_are_joined_and_masked_whole(darn: Matcher) -> None:
    assert darn.censor("you d a r n fool") == "you **** fool"


def test_an_entry_with_a_separator_matches_as_written(darn: Matcher) -> None:
    assert darn.censor("2 girls here") == "**** here"


def test_clean_text_and_empty_text_are_unchanged(darn: Matcher) -> None:
    for text in ("", "hello there", "!!!"):
        assert darn.censor(text) == text
        assert not darn.contains(text)
        assert darn.spans(text) == []


def test_allowed_words_are_left_out_of_the_list() -> None:
    matcher = Matcher(["darn", "heck"], allow=["HECK"])
    assert matcher.censor("darn heck") == "**** heck"


def test_replace_spans_puts_the_replacement_in_each_span() -> None:
    assert replace_spans("a bad and worse day", [(2, 5), (10, 15)]) == "a **** and **** day"
    assert replace_spans("nothing", []) == "nothing"


@pytest.mark.parametrize(
    "text",
    ["you d a r n fool", "well darn it", "d4rn and h3ck", "darned heckle", "2 girls here",
     "s.h.o.o.t", "s.h.o.o.t!", "darn d", "heck, heck"],
)  # fmt: skip
def test_every_answer_here_is_better_profanitys(darn: Matcher, text: str) -> None:
    reference = Profanity()
    reference.load_censor_words(WORDS)
    assert darn.censor(text) == reference.censor(text)
