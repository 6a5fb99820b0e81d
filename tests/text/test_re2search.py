"""receiver.text.re2search against google-re2's own search and match: the same spans."""

from __future__ import annotations

from typing import Any

import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from receiver.profanity.exact import re2_options
from receiver.text import re2search

PATTERNS = [
    rb"x",
    rb"x*",  # empty matches, at the end too
    rb"(?i)\b(discord\.gg/|t\.me/)[A-Za-z0-9_-]{2,}",
    rb"[0-9]{3}[ .-]?[0-9]{4}",
    rb"(a)|(b)",  # groups that do not take part
    rb"^ab",
    rb"b$",
    rb"\bcat\b",
    "caf\u00e9|\u00fcber".encode(),
]

texts = st.binary(max_size=40) | st.text(
    alphabet="abx cat.09-é/\u00fcdiscord.gg/t.me", max_size=40
).map(lambda t: t.encode())


def utf8_options() -> Any:
    options = re2.Options()
    options.log_errors = False
    return options


COMPILED = [re2.compile(p, utf8_options()) for p in PATTERNS] + [
    re2.compile(p, re2_options())
    for p in PATTERNS  # Latin-1 mode, as the profanity prefilter
]


def valid_for(regex: Any, data: bytes) -> bytes:
    """UTF-8 patterns are only ever given valid UTF-8 (the callers encode str)."""
    if regex.options.encoding == re2.Options.Encoding.UTF8:
        return data.decode("utf-8", "replace").encode()
    return data


def span(found: Any) -> tuple[int, int] | None:
    return None if found is None else found.span()


@settings(max_examples=300)
@given(st.sampled_from(COMPILED), texts, st.integers(min_value=-3, max_value=50))
def test_searcher_agrees_with_search(regex: Any, data: bytes, pos: int) -> None:
    data = valid_for(regex, data)
    assert re2search.searcher(regex)(data, pos) == span(regex.search(data, pos))


@settings(max_examples=300)
@given(st.sampled_from(COMPILED), texts, st.integers(min_value=-3, max_value=50))
def test_matcher_agrees_with_match(regex: Any, data: bytes, pos: int) -> None:
    data = valid_for(regex, data)
    assert re2search.matcher(regex)(data, pos) == span(regex.match(data, pos))


@settings(max_examples=300)
@given(st.sampled_from(COMPILED), texts, st.integers(min_value=-3, max_value=50))
def test_fullmatcher_agrees_with_fullmatch(regex: Any, data: bytes, pos: int) -> None:
    data = valid_for(regex, data)
    assert re2search.fullmatcher(regex)(data, pos) == span(regex.fullmatch(data, pos))


def test_the_default_position_is_the_start() -> None:
    regex = re2.compile(rb"b+")
    assert re2search.searcher(regex)(b"abba") == (1, 3)
    assert re2search.matcher(regex)(b"abba") is None


class _PublicOnly:
    """A compiled pattern as a google-re2 without the internals would give it."""

    def __init__(self, pattern: bytes) -> None:
        self._wrapped = re2.compile(pattern)

    def search(self, data: bytes, pos: int = 0) -> Any:
        return self._wrapped.search(data, pos)

    def match(self, data: bytes, pos: int = 0) -> Any:
        return self._wrapped.match(data, pos)

    def fullmatch(self, data: bytes, pos: int = 0) -> Any:
        return self._wrapped.fullmatch(data, pos)


@pytest.mark.parametrize(("data", "pos"), [(b"abba", 0), (b"abba", 3), (b"xyz", 0)])
def test_without_the_internals_the_public_api_answers(data: bytes, pos: int) -> None:
    regex = _PublicOnly(rb"b+")
    assert re2search.searcher(regex)(data, pos) == span(regex.search(data, pos))
    assert re2search.matcher(regex)(data, pos) == span(regex.match(data, pos))
