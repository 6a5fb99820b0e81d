"""RE2 searches on bytes without google-re2's per-call Python wrapper.

Below the stages (text). Consumes a compiled RE2 pattern; produces a function from bytes
(and a start offset) to the span of the first match, or None (:func:`searcher`,
:func:`matcher`, :func:`fullmatcher`).

google-re2's ``search``/``match`` are Python generators around the C++ ``Match``: for
every call they clamp offsets, build a generator and a match object, which costs about
as much as the match itself on a chat message. The hot paths (policy ``matches``, the
profanity prefilters, the URL scan) only want the span of the first match, so they
call ``Match`` directly through the functions made here. The answers are the
wrapper's own (``tests/text/test_re2search.py`` compares them); should a google-re2
release move its internals, the functions fall back to the public API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import re2

Span = tuple[int, int]
Search = Callable[[bytes, int], Span | None]

_NO_MATCH = -1


def _public(method: Callable[..., Any]) -> Search:
    def search(data: bytes, pos: int = 0) -> Span | None:
        found = method(data, pos)
        return None if found is None else found.span()

    return search


def _direct(regex: Any, anchor_name: str) -> Search | None:
    """A search through the C++ ``Match``, when this google-re2 has it."""
    compiled = getattr(regex, "_regexp", None)
    anchor = getattr(getattr(re2, "_Anchor", None), anchor_name, None)
    match = getattr(compiled, "Match", None)
    if match is None or anchor is None:
        return None

    def search(data: bytes, pos: int = 0) -> Span | None:
        size = len(data)
        # the wrapper's clamping: a position past the end searches at the end
        span: Span = match(anchor, data, (pos if pos < size else size) if pos > 0 else 0, size)[0]
        return None if span[0] == _NO_MATCH else span

    return search


def searcher(regex: Any) -> Search:
    """``search(data, pos=0)``: the span of the first match of ``regex`` (a compiled
    google-re2 pattern) in ``data`` at or after byte ``pos``, or None."""
    return _direct(regex, "UNANCHORED") or _public(regex.search)


def matcher(regex: Any) -> Search:
    """``match(data, pos=0)``: the span of a match of ``regex`` starting at ``pos``, or None."""
    return _direct(regex, "ANCHOR_START") or _public(regex.match)


def fullmatcher(regex: Any) -> Search:
    """``fullmatch(data, pos=0)``: the span of a match of ``regex`` covering all of
    ``data`` from ``pos``, or None."""
    return _direct(regex, "ANCHOR_BOTH") or _public(regex.fullmatch)
