"""Words, phrases and caps: the text built-ins of the policy language, on one notion of a word.

Stage: dsl (run-time helpers of the built-ins). Consumes the strings a compiled rule
passes to ``words``, ``contains_any`` and ``caps_ratio`` and produces plain values: a
list of words, a bool (or the phrase that matched), a ratio. Its callers are the
built-in table (:mod:`receiver.dsl.functions`), the compiled closures (which keep a
request's :class:`TextForms` of a text and ask :class:`PhraseMatcher` about them) and
policy-test coverage (:mod:`receiver.testing.listprobe`). It sits in ``dsl/``, below
``compile/``, because compiled closures call it at run time. Nothing here does I/O or
keeps state beyond small caches of pure results.

In file order: the UTF-8/RE2 plumbing; words; phrase matching (:class:`FoldedText`,
:class:`TextForms`, :class:`PhraseMatcher`, ``contains_any``); caps. The plumbing and
:data:`WORD_CHARS` are public because the URL finder (:mod:`receiver.dsl.links`)
matches host labels with the same word characters, on the same bytes. Times and
durations live in :mod:`receiver.dsl.times`.

Every regular expression here runs on attacker-controlled text, so all of them use
google-re2 (linear time, no backtracking) and are compiled once at import.  RE2 has no
lookaround and no backreferences, and its ``\\b``/``\\w``/``\\s`` are ASCII-only, so the
patterns spell out Unicode classes (``\\p{L}`` and friends) and do boundary checks in
Python where needed.

Matching is done on UTF-8 bytes: the ``re2`` wrapper re-encodes a ``str`` on every
call, while ``bytes`` are passed straight through, so we encode once per call and map
byte spans back to ``str`` slices ourselves.  Python strings may hold lone surrogates
(``json.loads('"\\ud800"')`` produces one) which cannot be encoded as UTF-8; those are
replaced by U+FFFD for matching (same UTF-8 length as a surrogate under
``surrogatepass``), and results are sliced out of the original text, so every string
returned is a substring of the input.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any, Final

import re2

__all__ = [
    "WORD_CHARS",
    "FoldedText",
    "PhraseMatcher",
    "TextForms",
    "caps_ratio",
    "compile_re2",
    "contains_any",
    "decode_span",
    "encode_for_scan",
    "words",
]


def compile_re2(pattern: str) -> Any:
    """An RE2 pattern compiled quietly (no logging of bad patterns: ours are fixed)."""
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


# Lone surrogates -> U+FFFD.  Both encode to three UTF-8 bytes (the surrogate under
# "surrogatepass"), so byte offsets into the two encodings line up exactly.
_SURROGATE_TO_REPLACEMENT: Final[dict[int, int]] = dict.fromkeys(range(0xD800, 0xE000), 0xFFFD)


def encode_for_scan(text: str) -> tuple[bytes, bytes]:
    """Return ``(scan, raw)``: valid UTF-8 to match on, and bytes to slice results from."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        scan = text.translate(_SURROGATE_TO_REPLACEMENT).encode("utf-8")
        return scan, text.encode("utf-8", "surrogatepass")
    return data, data


def decode_span(raw: bytes, start: int, end: int) -> str:
    """``raw[start:end]`` as text; a span of :func:`encode_for_scan`'s ``scan`` bytes."""
    return raw[start:end].decode("utf-8", "surrogatepass")


# --------------------------------------------------------------------------- words

WORD_CHARS: Final = r"\p{L}\p{N}\p{M}_"
_WORD_RE: Final = compile_re2(rf"[{WORD_CHARS}]+(?:['’][{WORD_CHARS}]+)*")


# ASCII fast path (the common case), equivalent to _WORD_RE: the re2 wrapper costs a
# few microseconds per match, a byte translation costs nanoseconds per character.
# Every byte that is not an ASCII letter, digit, "_" or "'" becomes a space.
_ASCII_WORD_BYTES: Final = bytes(
    c if chr(c).isascii() and (chr(c).isalnum() or chr(c) in "_'") else 0x20 for c in range(256)
)


def _ascii_words(text: str) -> tuple[str, ...]:
    pieces = text.encode("ascii").translate(_ASCII_WORD_BYTES).decode("ascii").split()
    if "'" not in text:
        return tuple(pieces)
    found: list[str] = []
    for piece in pieces:
        if "'" not in piece:
            found.append(piece)
            continue
        # Runs of word characters joined by single apostrophes; "''" or an apostrophe
        # at either end separates.
        joined: list[str] = []
        for segment in piece.split("'"):
            if segment:
                joined.append(segment)
            elif joined:
                found.append("'".join(joined))
                joined = []
        if joined:
            found.append("'".join(joined))
    return tuple(found)


def _word_tuple(text: str) -> tuple[str, ...]:
    if text.isascii():
        return _ascii_words(text)
    scan, raw = encode_for_scan(text)
    if scan is raw:
        return tuple(match.decode("utf-8") for match in _WORD_RE.findall(scan))
    return tuple(decode_span(raw, m.start(), m.end()) for m in _WORD_RE.finditer(scan))


def words(text: str) -> list[str]:
    """The Unicode words of ``text`` in order, case preserved.

    A word is a run of letters, digits, combining marks and underscores, optionally
    joined by internal apostrophes (``'`` or ``’``): "don't" is one word.  Anything
    else (punctuation, symbols, emoji, whitespace) separates words.
    """
    return list(_word_tuple(text))


# ---------------------------------------------------------------- phrase matching


class FoldedText:
    """A text's casefolded words, in order and as a set: what :class:`PhraseMatcher`
    compares phrases with. Folding once serves every matcher asked about the text."""

    __slots__ = ("word_set", "words")

    def __init__(self, text: str) -> None:
        self.words = _folded_words(text)
        self.word_set = frozenset(self.words)


class TextForms:
    """The forms of one text that several policy functions need, each made on first use
    and kept for the rest of the request (the compiler gives each text a memo slot):
    ``lower`` (the text lowered when it is ASCII, else None), its folded words and its
    UTF-8 bytes."""

    __slots__ = ("_folded", "_utf8", "lower", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.lower = text.lower() if text.isascii() else None
        self._folded: FoldedText | None = None
        self._utf8: bytes | None = None

    @property
    def folded(self) -> FoldedText:
        found = self._folded
        if found is None:
            found = self._folded = FoldedText(self.text)
        return found

    @property
    def utf8(self) -> bytes:
        """The text as UTF-8; lone surrogates (from JSON escapes) become U+FFFD."""
        found = self._utf8
        if found is None:
            try:
                found = self.text.encode()
            except UnicodeEncodeError:
                found = self.text.translate(_SURROGATE_TO_REPLACEMENT).encode()
            self._utf8 = found
        return found


class PhraseMatcher:
    """Finds whole-word, case-insensitive occurrences of any of a fixed set of phrases.

    Phrases and text are both split with :func:`words` and casefolded, so a phrase of
    *k* words matches *k* consecutive words of the text whatever the punctuation,
    spacing or case between them: ``"Free   money!!"`` matches ``"free money"``, and
    ``"scammer"`` does not match ``"scam"``.  Phrases without words are ignored.
    """

    __slots__ = ("_ascii_firsts", "_index", "phrases")

    def __init__(self, phrases: Iterable[str]) -> None:
        if isinstance(phrases, str):
            raise TypeError("PhraseMatcher takes an iterable of phrases, not a single string")
        kept: list[str] = []
        seen: set[tuple[str, ...]] = set()
        index: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for phrase in phrases:
            tokens = tuple(token.casefold() for token in _word_tuple(phrase))
            if not tokens or tokens in seen:
                continue
            seen.add(tokens)
            kept.append(phrase)
            index.setdefault(tokens[0], []).append((tokens, phrase))
        self.phrases: tuple[str, ...] = tuple(kept)
        self._index = index
        self._ascii_firsts = tuple(first for first in index if first.isascii())

    def __repr__(self) -> str:
        return f"PhraseMatcher({list(self.phrases)!r})"

    def search(self, text: str) -> str | None:
        """The phrase (as originally written) occurring earliest in ``text``, or ``None``.

        When several phrases start at the same word, the one listed first wins.
        """
        index = self._index
        if not index:
            return None
        tokens = _folded_words(text)
        # The usual case, decided at C speed; against a set, isdisjoint walks the smaller
        # side (this matcher's first words), not every word of a long text.
        if index.keys().isdisjoint(_folded_word_set(text, tokens)):
            return None
        return self._find(tokens)

    def search_forms(self, text: TextForms) -> str | None:
        """:meth:`search` on a request's :class:`TextForms` of the text.

        For ASCII text, a phrase whose first word is not even a substring of the
        lowered text cannot match (casefolding is lowering there, and every word of
        the text is a substring of it): when that holds for all phrases, the text is
        never split into words at all, the usual case.
        """
        index = self._index
        if not index:
            return None
        lower = text.lower
        if lower is not None:
            for first in self._ascii_firsts:
                if first in lower:
                    break
            else:
                return None
        folded = text.folded
        if index.keys().isdisjoint(folded.word_set):
            return None
        return self._find(folded.words)

    def _find(self, tokens: tuple[str, ...]) -> str | None:
        index = self._index
        for position, token in enumerate(tokens):
            candidates = index.get(token)
            if candidates is None:
                continue
            for phrase_tokens, phrase in candidates:
                size = len(phrase_tokens)
                if size == 1 or tokens[position : position + size] == phrase_tokens:
                    return phrase
        return None


# Several rules usually test the same message field; cache its folded words.  Only
# short texts are cached so the cache cannot pin much memory.
_FOLD_CACHE_MAX_CHARS: Final = 8192


def _fold_words(text: str) -> tuple[str, ...]:
    if text.isascii():  # casefold is lower for ASCII, and lowering keeps word boundaries
        return _ascii_words(text.lower())
    return tuple(token.casefold() for token in _word_tuple(text))


@functools.lru_cache(maxsize=64)
def _cached_folded_words(text: str) -> tuple[str, ...]:
    return _fold_words(text)


def _folded_words(text: str) -> tuple[str, ...]:
    if len(text) <= _FOLD_CACHE_MAX_CHARS:
        return _cached_folded_words(text)
    return _fold_words(text)


@functools.lru_cache(maxsize=64)
def _cached_word_set(text: str) -> frozenset[str]:
    return frozenset(_cached_folded_words(text))


def _folded_word_set(text: str, tokens: tuple[str, ...]) -> frozenset[str]:
    """``frozenset(tokens)``, ``tokens`` being ``_folded_words(text)``, cached like it."""
    if len(text) <= _FOLD_CACHE_MAX_CHARS:
        return _cached_word_set(text)
    return frozenset(tokens)


@functools.lru_cache(maxsize=256)
def _matcher_for(phrases: tuple[str, ...]) -> PhraseMatcher:
    return PhraseMatcher(phrases)


def contains_any(text: str, phrases: Sequence[str]) -> bool:
    """Whether any of ``phrases`` occurs in ``text`` (see :class:`PhraseMatcher`)."""
    if isinstance(phrases, str):
        raise TypeError("contains_any takes a sequence of phrases, not a single string")
    return _matcher_for(tuple(phrases)).search(text) is not None


# ---------------------------------------------------------------------------- caps


_NOT_ASCII_UPPER: Final = bytes(c for c in range(256) if not chr(c).isupper() or c >= 0x80)
_NOT_ASCII_LOWER: Final = bytes(c for c in range(256) if not chr(c).islower() or c >= 0x80)


def caps_ratio(text: str) -> float:
    """Fraction of the cased letters in ``text`` that are uppercase (0.0 if none)."""
    if text.isascii():
        data = text.encode("ascii")
        upper = len(data.translate(None, _NOT_ASCII_UPPER))
        cased = upper + len(data.translate(None, _NOT_ASCII_LOWER))
    else:
        upper = sum(map(str.isupper, text))
        cased = upper + sum(map(str.islower, text))
    return upper / cased if cased else 0.0
