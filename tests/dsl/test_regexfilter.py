"""Tests for receiver.dsl.regexfilter: the literals every match of a pattern must hold."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receiver.check.model import compile_regex
from receiver.dsl.regexfilter import required_literals


def literals(pattern: str) -> tuple[tuple[str, ...], bool] | None:
    found = required_literals(pattern)
    return None if found is None else (found.literals, found.ignore_case)


def test_required_literals_of_plain_patterns() -> None:
    assert literals(r"(?i)\bkaka[a-z]*[0-9]{2,}") == (("kaka",), True)
    assert literals(r"^hello+") == (("hello",), False)
    assert literals(r"hello?") == (("hell",), False)
    assert literals(r"kaka+S") == (("kaka",), False)  # after a repeat, "S" need not follow one "a"
    assert literals(r"ka(ka){1}S") == (("ka",), False)
    assert literals(r"\d+abc") == (("abc",), False)
    assert literals(r"[+]1 ?[0-9]{3}") == (("+1",), False)


def test_required_literals_of_alternations() -> None:
    assert literals(r"ab|cd") == (("ab", "cd"), False)
    assert literals(r"(?i)\b(admins?|administrators?|moderators?|official)\b") == (
        ("administrator", "moderator", "official", "admin"),
        True,
    )
    invite = (
        r"(?i)\b(discord\.gg/|discord(app)?\.com/invite/|t\.me/(joinchat/|[+])"
        r"|chat\.whatsapp\.com/)[A-Za-z0-9_-]{2,}"
    )
    assert literals(invite) == (
        ("chat.whatsapp.com/", ".com/invite/", "discord.gg/", "t.me/"),
        True,
    )


@pytest.mark.parametrize(
    "pattern",
    [r"(?s)abcd", r"abcd(?i)e", r"ab*", r"ab|c", r"a|", r"(?i:abc)", r"\Qabc\E", r"(abc", r"abc)",
     r"x{,3}abc", "\u00e9t\u00e9", r"a.b.c"],
)  # fmt: skip
def test_no_required_literals_when_unsure_or_too_short(pattern: str) -> None:
    assert required_literals(pattern) is None


PATTERN_PARTS = st.tuples(
    st.sampled_from(["", "(?i)"]),
    st.sampled_from(["", "^", "\\b", "^\\b"]),
    st.sampled_from(["kaka", "Kas", "sKy1", "ab_c", "xyz", "(ka|sky)", "(?:ab|c\\.z)+", "k[a]s"]),
    st.sampled_from(["", "*", "?", "+", "{0,2}", "{2,}", "{1}", "+?"]),
    st.sampled_from(["", "[a-z]*", "[0-9]{2,}", "\\b", "|q", "|qz", ".", "(x|yz)?", "S"]),
)
REGEX_TEXTS = st.lists(
    st.sampled_from(["ka", "kaka", "KAKA", "a", "s", "sky", "sKy1", "Kas", "ab_c", "qz", "q",
                     "xyz", "yz", " ", ".", "ab", "c.z", "x", "S", "1", "-", "\u00e9", "\u212a",
                     "\u017f"]),
    max_size=6,
).map("".join)  # fmt: skip


@settings(max_examples=600, deadline=None)
@given(parts=PATTERN_PARTS, data=st.data())
def test_a_regex_match_always_contains_a_required_literal(
    parts: tuple[str, str, str, str, str], data: st.DataObject
) -> None:
    pattern = "".join(parts)
    found = required_literals(pattern)
    if found is None:
        return
    # texts the pattern matches (drawn from the pattern itself, Python's syntax being the
    # same here), or texts made of the pieces patterns are made of
    text = data.draw(st.from_regex(pattern) | REGEX_TEXTS)
    if compile_regex(pattern).search(text) is None:
        return
    if found.ignore_case:
        assert not text.isascii() or any(lit in text.lower() for lit in found.literals)
    else:
        assert any(lit in text for lit in found.literals)
