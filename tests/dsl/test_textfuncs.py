"""Tests for receiver.dsl.textfuncs: words, phrase matching, text forms and caps."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.dsl import textfuncs
from receiver.dsl.textfuncs import (
    PhraseMatcher,
    TextForms,
    caps_ratio,
    contains_any,
    words,
)

# Text that may contain lone surrogates, as json.loads can produce from "\ud800".
texts_with_surrogates = st.text(
    alphabet=st.one_of(st.characters(), st.characters(categories=["Cs"])),
)
ascii_texts = st.text(alphabet=st.characters(max_codepoint=0x7F))
# A single word: letters and decimal digits only, so it never splits.
plain_words = st.text(alphabet=st.characters(categories=["L", "Nd"]), min_size=1, max_size=8)


# ---------------------------------------------------------------------------- words


def test_words_splits_on_whitespace_and_punctuation() -> None:
    assert words("hello, world!  how\tare\nyou?") == ["hello", "world", "how", "are", "you"]


def test_words_preserves_case() -> None:
    assert words("Free MONEY now") == ["Free", "MONEY", "now"]


def test_words_keeps_internal_apostrophes_straight_and_curly() -> None:
    assert words("don't won’t rock'n'roll") == ["don't", "won’t", "rock'n'roll"]


def test_words_drops_apostrophes_at_word_edges_and_doubled() -> None:
    assert words("'quoted' ’curly’ a''b") == ["quoted", "curly", "a", "b"]


def test_words_includes_underscores_and_digits() -> None:
    assert words("user_name 42 x1") == ["user_name", "42", "x1"]


def test_words_handles_unicode_letters_digits_and_combining_marks() -> None:
    assert words("café 日本語 e\u0301t\u00e9 ١٢٣ Ωμέγα") == [
        "café",
        "日本語",
        "e\u0301t\u00e9",
        "١٢٣",
        "Ωμέγα",
    ]


def test_words_treats_emoji_and_symbols_as_separators() -> None:
    assert words("buy😀now→later$5") == ["buy", "now", "later", "5"]


def test_words_of_text_without_words_is_empty() -> None:
    assert words("") == []
    assert words(" ...!!! 😀 ") == []


def test_words_treats_lone_surrogates_as_separators() -> None:
    assert words("ab\ud800cd \udfff") == ["ab", "cd"]


@given(texts_with_surrogates)
def test_words_never_raises_and_returns_nonempty_substrings(text: str) -> None:
    found = words(text)
    assert all(word and word in text for word in found)


@given(ascii_texts)
def test_words_ascii_fast_path_agrees_with_re2_path(text: str) -> None:
    # An emoji is a separator, and makes the text non-ASCII, forcing the re2 path.
    assert words(text) == words(text + "😀")


@given(ascii_texts)
def test_folded_words_of_ascii_text_are_its_casefolded_words(text: str) -> None:
    expected = tuple(word.casefold() for word in words(text))
    assert textfuncs._fold_words(text) == expected
    assert textfuncs._fold_words(text + "😀") == expected


# ------------------------------------------------------------------- phrase matching


def test_phrase_matcher_matches_across_extra_spaces_and_punctuation() -> None:
    assert PhraseMatcher(["free money"]).search("Free   money!!") == "free money"


def test_phrase_matcher_matches_whole_words_only() -> None:
    matcher = PhraseMatcher(["scam"])
    assert matcher.search("scammer alert") is None
    assert matcher.search("a scam.") == "scam"


def test_phrase_matcher_is_case_insensitive() -> None:
    assert PhraseMatcher(["scam"]).search("SCAM.") == "scam"


def test_phrase_matcher_returns_phrase_as_originally_written() -> None:
    assert PhraseMatcher(["Crypto"]).search("buy crypto now") == "Crypto"


def test_phrase_matcher_casefolds_rather_than_lowercases() -> None:
    assert PhraseMatcher(["straße"]).search("STRASSE closed") == "straße"


def test_phrase_matcher_returns_phrase_at_earliest_position() -> None:
    matcher = PhraseMatcher(["free money", "scam", "Crypto"])
    assert matcher.search("this crypto scam gives free money") == "Crypto"


def test_phrase_matcher_breaks_ties_at_same_position_by_list_order() -> None:
    assert PhraseMatcher(["free", "free money"]).search("free money") == "free"
    assert PhraseMatcher(["free money", "free"]).search("free money") == "free money"


def test_phrase_matcher_requires_all_words_to_be_consecutive() -> None:
    matcher = PhraseMatcher(["free money"])
    assert matcher.search("free stuff and money") is None
    assert matcher.search("it is free") is None


def test_phrase_matcher_falls_back_to_later_phrase_with_same_first_word() -> None:
    matcher = PhraseMatcher(["free money", "free crypto"])
    assert matcher.search("totally free crypto") == "free crypto"


def test_phrase_matcher_ignores_empty_and_wordless_phrases() -> None:
    matcher = PhraseMatcher(["", "  ", "!!!", "😀", "ok"])
    assert matcher.phrases == ("ok",)
    assert matcher.search("!!! 😀") is None


def test_phrase_matcher_without_phrases_never_matches() -> None:
    assert PhraseMatcher([]).search("anything at all") is None


def test_phrase_matcher_keeps_first_of_duplicate_phrases() -> None:
    matcher = PhraseMatcher(["Scam", "scam", "SCAM!"])
    assert matcher.phrases == ("Scam",)
    assert matcher.search("scam") == "Scam"


def test_phrase_matcher_accepts_any_iterable_of_phrases() -> None:
    assert PhraseMatcher(p for p in ["a b"]).search("x a b") == "a b"


def test_phrase_matcher_rejects_a_single_string() -> None:
    with pytest.raises(TypeError):
        PhraseMatcher("scam")


# Words that overlap (as prefixes, suffixes, with apostrophes, in other cases) so that
# the substring prefilter of search_forms meets near misses.
phrase_words = st.sampled_from(["free", "freedom", "ree", "money", "Free", "don't", "t", "ß", "ss"])
phrase_texts = st.lists(
    st.one_of(phrase_words, st.sampled_from([" ", ", ", "'", "’", "!", "  "])), max_size=12
).map("".join)


@given(
    st.lists(st.lists(phrase_words, min_size=1, max_size=3).map(" ".join), max_size=4),
    st.one_of(phrase_texts, texts_with_surrogates),
)
def test_phrase_matcher_search_forms_agrees_with_search(phrases: list[str], text: str) -> None:
    matcher = PhraseMatcher(phrases)
    forms = TextForms(text)
    assert matcher.search_forms(forms) == matcher.search(text)
    assert matcher.search_forms(forms) == matcher.search(text)  # folded words kept: same


@given(texts_with_surrogates)
def test_text_forms_are_the_lowered_ascii_text_and_scrubbed_utf8(text: str) -> None:
    forms = TextForms(text)
    assert forms.lower == (text.lower() if text.isascii() else None)
    assert forms.utf8.decode("utf-8") == "".join(
        "\ufffd" if 0xD800 <= ord(c) < 0xE000 else c for c in text
    )


def test_phrase_matcher_searches_long_texts() -> None:
    text = "filler " * 5000 + "free money"
    assert PhraseMatcher(["free money"]).search(text) == "free money"


def test_contains_any_reports_whether_a_phrase_occurs() -> None:
    assert contains_any("so much FREE money", ["free money", "scam"]) is True
    assert contains_any("nothing here", ("free money", "scam")) is False


def test_contains_any_reuses_a_cached_matcher() -> None:
    textfuncs._matcher_for.cache_clear()
    contains_any("a", ["x", "y"])
    contains_any("b", ["x", "y"])
    assert textfuncs._matcher_for.cache_info().hits == 1


def test_contains_any_rejects_a_single_string() -> None:
    with pytest.raises(TypeError):
        contains_any("scam", "scam")


@given(texts_with_surrogates, st.lists(texts_with_surrogates, max_size=5))
def test_phrase_matcher_search_never_raises(text: str, phrases: list[str]) -> None:
    found = PhraseMatcher(phrases).search(text)
    assert found is None or found in phrases


@given(
    st.lists(plain_words, max_size=6),
    st.lists(plain_words, min_size=1, max_size=3),
    st.lists(plain_words, max_size=6),
    st.lists(st.lists(plain_words, min_size=1, max_size=3).map(" ".join), max_size=4),
)
def test_phrase_matcher_finds_phrase_embedded_among_random_words(
    before: list[str], phrase_words: list[str], after: list[str], others: list[str]
) -> None:
    phrase = " ".join(phrase_words)
    text = " ".join([*before, phrase, *after])
    assert PhraseMatcher([*others, phrase]).search(text) is not None


# ---------------------------------------------------------------------------- caps


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HELLO", 1.0),
        ("hello", 0.0),
        ("HeLLo wORLD", 0.7),
        ("ABC 123 !!!", 1.0),
        ("123 !!!", 0.0),
        ("", 0.0),
        ("ÀÉ àé", 0.5),
        ("ΑΒγδ", 0.5),
        ("ǅ", 0.0),  # titlecase letters are neither upper nor lower
        ("日本語", 0.0),
    ],
)
def test_caps_ratio_is_fraction_of_cased_letters_that_are_uppercase(
    text: str, expected: float
) -> None:
    assert caps_ratio(text) == pytest.approx(expected)


@given(ascii_texts)
def test_caps_ratio_ascii_fast_path_agrees_with_general_path(text: str) -> None:
    assert caps_ratio(text) == caps_ratio(text + "😀")


@given(texts_with_surrogates)
def test_caps_ratio_is_between_zero_and_one(text: str) -> None:
    assert 0.0 <= caps_ratio(text) <= 1.0
