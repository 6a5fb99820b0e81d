"""Pure text helpers behind the policy language's built-in functions.

Stage 1 (the language itself), called at run time by the built-ins
(:mod:`receiver.dsl.functions`) and the compiled closures. Consumes strings; produces
words, links, hosts, phrase matches and ratios. The time and duration helpers live in
:mod:`receiver.dsl.times` (below the runtime values); they stay importable from here.

Stage: dsl (run-time helpers of the built-ins). Consumes the strings and numbers a
compiled rule passes to a built-in (``words``, ``urls``, ``domain``, ``contains_any``,
``caps_ratio``, ``parse_time``/``format_time``, ``format_duration``) and produces plain
values: lists of words or URLs, a host, a bool, a ratio, epoch seconds, text. Its
callers are the built-in table (:mod:`receiver.dsl.functions`) and the value types
(:mod:`receiver.dsl.values` prints times and durations with it); it sits in ``dsl/``,
below ``compile/``, because compiled closures call it at run time. Nothing here does
I/O or keeps state beyond small caches of pure results.

In file order: the UTF-8/RE2 plumbing; words; URLs; domain; phrase matching
(:class:`PhraseMatcher`, also used by policy-test coverage); caps; time; durations.
The text sections (words to caps) are one thing: they share the byte-level matching
described below and the same notion of a word, and ``contains_any`` and ``words`` must
agree on it. The time and duration helpers (about 130 lines at the end) share nothing
with them but the "built-in helper" role; they are the part to move into a module of
its own (e.g. ``dsl/timefuncs.py``), together with the other duration parsers, when
this module next changes.

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
import re
from collections.abc import Iterable, Sequence
from typing import Any, Final

import re2

from receiver.dsl.times import format_duration, format_time, parse_duration, parse_time
from receiver.text.re2search import fullmatcher, matcher, searcher

__all__ = [
    "COMMON_TLDS",
    "PhraseMatcher",
    "caps_ratio",
    "contains_any",
    "domain",
    "format_duration",
    "format_time",
    "parse_duration",
    "parse_time",
    "urls",
    "words",
]


def _compile(pattern: str) -> Any:
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


# Lone surrogates -> U+FFFD.  Both encode to three UTF-8 bytes (the surrogate under
# "surrogatepass"), so byte offsets into the two encodings line up exactly.
_SURROGATE_TO_REPLACEMENT: Final[dict[int, int]] = dict.fromkeys(range(0xD800, 0xE000), 0xFFFD)


def _encode(text: str) -> tuple[bytes, bytes]:
    """Return ``(scan, raw)``: valid UTF-8 to match on, and bytes to slice results from."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        scan = text.translate(_SURROGATE_TO_REPLACEMENT).encode("utf-8")
        return scan, text.encode("utf-8", "surrogatepass")
    return data, data


def _decode(raw: bytes, start: int, end: int) -> str:
    return raw[start:end].decode("utf-8", "surrogatepass")


# --------------------------------------------------------------------------- words

_WORD_CHARS: Final = r"\p{L}\p{N}\p{M}_"
_WORD_RE: Final = _compile(rf"[{_WORD_CHARS}]+(?:['’][{_WORD_CHARS}]+)*")


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
    scan, raw = _encode(text)
    if scan is raw:
        return tuple(match.decode("utf-8") for match in _WORD_RE.findall(scan))
    return tuple(_decode(raw, m.start(), m.end()) for m in _WORD_RE.finditer(scan))


def words(text: str) -> list[str]:
    """The Unicode words of ``text`` in order, case preserved.

    A word is a run of letters, digits, combining marks and underscores, optionally
    joined by internal apostrophes (``'`` or ``’``): "don't" is one word.  Anything
    else (punctuation, symbols, emoji, whitespace) separates words.
    """
    return list(_word_tuple(text))


# ---------------------------------------------------------------------------- urls

# fmt: off
COMMON_TLDS: Final[frozenset[str]] = frozenset({
    # generic
    "com", "net", "org", "info", "biz", "xyz", "edu", "gov",
    # popular with link shorteners and spam
    "io", "ly", "co", "me", "app", "dev", "gg", "tv", "ai", "so", "sh", "to", "cc", "ws",
    "la", "fm", "am", "su", "tk", "ml", "ga", "cf", "gq", "pw",
    # country codes
    "us", "uk", "de", "fr", "ru", "cn", "jp", "in", "br", "au", "ca", "eu", "nl", "it",
    "es", "pl", "se", "ch", "be", "at", "dk", "no", "fi", "ie", "nz", "za", "mx", "ar",
    "cl", "kr", "tw", "hk", "sg", "my", "id", "ph", "th", "vn", "tr", "il", "ae", "sa",
    "ir", "pk", "ng", "ke", "eg",
    # new generic
    "link", "site", "online", "top", "club", "shop", "store", "live", "news", "blog",
    "cloud", "tech", "space", "website", "page", "one", "art", "fun", "icu", "vip", "win",
    "bid", "loan", "click",
})
# fmt: on

# Characters that may appear in a URL found in running text: anything except
# separators (\p{Z}), control and invisible format characters, and the delimiters
# that usually bracket a URL in markup.
_URL_BODY: Final = r'[^\p{Z}\p{Cc}\p{Cf}<>"]'
_LABEL: Final = rf"[{_WORD_CHARS}-]+"
_HOST: Final = rf"{_LABEL}(?:\.{_LABEL})+"

# One alternative per kind, tried in this order at each position (RE2 is
# leftmost-first, like Perl):
#   1. scheme URL      http(s)://...
#   2. e-mail address  local@host -- consumed so its domain is not reported as a URL
#   3. host            a.b(.c...) -- accepted as www. host or bare domain in Python
# The host alternative's label class includes every word character, so a match can
# never start in the middle of a word: it would have started earlier.
_URL_CANDIDATE_RE: Final = _compile(
    rf"(?i:https?)://{_URL_BODY}+"
    rf"|[{_WORD_CHARS}.+%'-]*@{_HOST}"
    rf"|{_HOST}"
)
# Port and path after an accepted host; matched anchored at the end of the host.
_URL_TAIL_RE: Final = _compile(rf"(?::[0-9]{{1,5}})?(?:[/?#]{_URL_BODY}*)?")
_url_candidate: Final = searcher(_URL_CANDIDATE_RE)
_url_tail: Final = matcher(_URL_TAIL_RE)

_TRAILING_PUNCTUATION: Final = frozenset(".,;:!?)]}'\"`*>’”»…。，；：！？、")
_OPENER_FOR: Final[dict[str, str]] = {")": "(", "]": "[", "}": "{"}


def _strip_trailing(url: str) -> str:
    """Drop trailing punctuation; a closing bracket stays if it balances an opener."""
    end = len(url)
    balance: dict[str, int] | None = None  # openers minus closers in url[:end]
    while end:
        char = url[end - 1]
        if char not in _TRAILING_PUNCTUATION:
            break
        opener = _OPENER_FOR.get(char)
        if opener is not None:
            if balance is None:
                balance = {
                    c: url.count(o, 0, end) - url.count(c, 0, end) for c, o in _OPENER_FOR.items()
                }
            if balance[char] >= 0:
                break
            balance[char] += 1
        end -= 1
    return url[:end]


def _is_accepted_host(host: str) -> bool:
    labels = host.split(".")
    if len(labels) >= 3 and labels[0].lower() == "www":
        return True
    return labels[-1].lower() in COMMON_TLDS


# Every URL the scan can find has "://", or a host accepted by _is_accepted_host: its
# first label is "www" (in any case: only "W" lower-cases to "w") or its last label is
# one of COMMON_TLDS, whose first character lower-cases to an ASCII letter, so it is
# never whitespace, a digit or a dot. A text with neither pattern, most chat messages
# ("0.1 BTC", "wait... ok", "Thanks. See you"), has no URL: checked without RE2, whose
# scan costs microseconds even on short texts. (Python's re is fine here: the pattern
# starts with a literal ".", which it finds with a fast scan, and checks one character
# after it or the three before it: nothing to backtrack into.)
_MAYBE_HOST: Final = re.compile(r"\.(?:[^\s\d.]|(?<=[wW][wW][wW]\.))")


def urls(text: str) -> list[str]:
    """URLs in ``text``, in order, as written (minus trailing punctuation).

    Finds ``http://``/``https://`` URLs (any case), ``www.`` hosts and bare domains
    whose last label is in :data:`COMMON_TLDS` (``bit.ly/abc``, ``example.com``),
    each with its port, path, query and fragment.  Hosts may be internationalised.
    A domain directly preceded by ``@`` (an e-mail address or a handle) is not a URL.
    """
    if "://" not in text and _MAYBE_HOST.search(text) is None:
        return []
    last = _last_scan[0]  # one read: another thread may replace it
    if last[0] is text:
        return list(last[1])
    found = _scan_urls(text)
    _last_scan[0] = (text, tuple(found))
    return found


# The last text scanned and its URLs. A request's counters ask urls(text) before its
# rules ask it again (rate-limits: links_per_hour and link-burst) of the very same str
# object; the scan is the expensive part of both. Identity, not equality, decides, so
# a stale answer is impossible (a str cannot change) and the check costs nothing.
_last_scan: list[tuple[str, tuple[str, ...]]] = [("", ())]


def _scan_urls(text: str) -> list[str]:
    scan, raw = _encode(text)
    found: list[str] = []
    pos = 0
    size = len(scan)
    while pos < size:
        match = _url_candidate(scan, pos)
        if match is None:
            break
        start, end = match
        head: bytes = scan[start : start + 8]
        if head.find(b"://") >= 0:  # (bytes.find: ``in`` tries an int first, see jsoncodec)
            url = _strip_trailing(_decode(raw, start, end))
            scheme_end = url.find("://")  # -1 when trailing punctuation took it ("0.0://")
            if scheme_end >= 0 and len(url) > scheme_end + 3:
                found.append(url)
        elif scan.find(b"@", start, end) < 0 and _is_accepted_host(_decode(scan, start, end)):
            tail = _url_tail(scan, end)
            if tail is not None:
                end = tail[1]
            found.append(_strip_trailing(_decode(raw, start, end)))
        pos = end
    return found


# -------------------------------------------------------------------------- domain

_HOST_RE: Final = _compile(rf"{_LABEL}(?:\.{_LABEL})*")
_host_fullmatch: Final = fullmatcher(_HOST_RE)
_MAX_HOST_CHARS: Final = 253
_MAX_PORT_DIGITS: Final = 5
_SCHEME_SEARCH_CHARS: Final = 40
_AUTHORITY_TERMINATORS: Final = "/?#\\"  # browsers treat "\" like "/" in http(s) URLs
_IPV6_CHARS: Final = frozenset("0123456789abcdef:.")


def _is_scheme(candidate: str) -> bool:
    return (
        bool(candidate)
        and candidate.isascii()
        and candidate[0].isalpha()
        and all(c.isalnum() or c in "+-." for c in candidate)
    )


def _is_port(port: str) -> bool:
    return not port or (port.isascii() and port.isdigit() and len(port) <= _MAX_PORT_DIGITS)


def domain(url: str) -> str | None:
    """The lowercased host of a URL or bare domain, or ``None`` if there is none.

    The scheme is optional; userinfo, port, a trailing dot and one leading ``www.``
    are removed.  Surrounding whitespace is ignored, but any other whitespace, an
    empty or malformed host, or a host without a dot (other than ``localhost``)
    gives ``None``.  An IPv6 literal is returned without its brackets.
    """
    if not isinstance(url, str):
        return None
    text = url.strip()
    if not text or len(text.split(maxsplit=1)) != 1:
        return None

    rest = text
    marker = text.find("://", 0, _SCHEME_SEARCH_CHARS)
    if marker != -1 and _is_scheme(text[:marker]):
        rest = text[marker + 3 :]
    elif text.startswith("//"):
        rest = text[2:]

    end = len(rest)
    for terminator in _AUTHORITY_TERMINATORS:
        found = rest.find(terminator, 0, end)
        if found != -1:
            end = found
    authority = rest[:end]
    authority = authority[authority.rfind("@") + 1 :]  # drop userinfo (last "@" wins)

    if authority.startswith("["):
        close = authority.find("]")
        after = authority[close + 1 :]
        if close == -1 or (after and (after[0] != ":" or not _is_port(after[1:]))):
            return None
        address = authority[1:close].lower()
        if ":" not in address or not set(address) <= _IPV6_CHARS:
            return None
        return address

    host, _, port = authority.partition(":")
    if not _is_port(port):
        return None
    host = host.removesuffix(".").lower()
    if not host or len(host) > _MAX_HOST_CHARS:
        return None
    if "." not in host:
        return host if host == "localhost" else None
    scan, _raw = _encode(host)
    if _host_fullmatch(scan, 0) is None:
        return None
    if host.startswith("www.") and "." in host[4:]:
        host = host[4:]
    return host


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
