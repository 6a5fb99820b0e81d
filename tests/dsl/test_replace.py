"""regex_replace's fast path (receiver/dsl/replace.py) against RE2's own ``sub``.

Differential: for single-class patterns the substitution is a ``str.translate`` whose
table RE2 fills character by character; other patterns use google-re2's ``sub``. Both
must give the text between RE2's own matches (``finditer``, lone surrogates scrubbed)
joined with the literal replacement, for any text and replacement.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receiver.check.model import compile_regex
from receiver.dsl import replace as replace_module
from receiver.dsl.replace import Replacer

SINGLE_CLASS = [
    r"[^\p{L}]+", r"[^a-z]+", r"[a-z]", r"(?i)[a-z]+", r"\p{L}", r"\P{L}+", r"\pN", r"\d+",
    r"\s", r"\W+", r".", r"(?s).", r"[\]x]", r"[[:alpha:]]+", r"[^[:^digit:]]", r"[-_.]+",
    r"\p{Greek}+", r"[\p{Lu}\d]",
]  # fmt: skip
OTHER = [r"ab", r"a|b", r"[a-z]*", r"\s+$", r"x+y", r"[]a]", r"(a)", r"\bword\b"]
SCRUB = dict.fromkeys(range(0xD800, 0xE000), 0xFFFD)

texts = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("aAzZ09 _-.!\n\t]xéÉßΩωΣ日本\u0301\u00a0\u200b👍")),
        st.characters(),
        st.characters(categories=["Cs"]),
    ),
    max_size=40,
)
replacements = st.sampled_from(["", "x", " ", "\\", "\\1", "$0", "ÿ", "ab"])


def reference(pattern: str, text: str, replacement: str) -> str:
    """The text between RE2's matches, joined with the literal replacement."""
    regex = compile_regex(pattern)
    text = text.translate(SCRUB)
    pieces, end = [], 0
    for match in regex.finditer(text):
        pieces += [text[end : match.start()], replacement]
        end = match.end()
    return "".join([*pieces, text[end:]])


@pytest.mark.parametrize("pattern", SINGLE_CLASS)
def test_single_class_patterns_take_the_fast_path(pattern: str) -> None:
    assert Replacer(compile_regex(pattern), pattern).per_character


@pytest.mark.parametrize("pattern", OTHER)
def test_other_patterns_use_re2_sub(pattern: str) -> None:
    assert not Replacer(compile_regex(pattern), pattern).per_character


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(SINGLE_CLASS + OTHER), st.lists(st.tuples(texts, replacements), max_size=6))
def test_replacements_agree_with_re2_sub(pattern: str, calls: list[tuple[str, str]]) -> None:
    # several calls on one Replacer: its table fills up as texts come in
    replacer = Replacer(compile_regex(pattern), pattern)
    for text, replacement in calls:
        assert replacer(text, replacement) == reference(pattern, text, replacement)


def test_limits_fall_back_to_re2_sub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replace_module, "MAX_CLASSIFIED", 5)
    monkeypatch.setattr(replace_module, "MAX_TABLES", 1)
    replacer = Replacer(compile_regex(r"[^a-z]+"), r"[^a-z]+")
    assert replacer("abc!", "") == "abc"
    assert replacer("the quick brown fox!", "") == "thequickbrownfox"  # too many characters
    assert replacer("a!b", "-") == "a-b"  # "+" with a replacement: runs, so RE2's sub
    assert replacer("a!b", "") == "ab"
    assert Replacer(compile_regex("[!]"), "[!]")("a!b!", "-") == "a-b-"
