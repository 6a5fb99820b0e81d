"""Links in text: the ``urls`` and ``domain`` built-ins of the policy language.

Stage: dsl (run-time helpers of the built-ins). Consumes the strings a compiled rule
passes to ``urls`` (running text, attacker-controlled) and ``domain`` (a URL or a bare
host) and produces plain values: the URLs found, as written minus trailing
punctuation, and a lowercased host or ``None``. Its callers are the built-in table
(:mod:`receiver.dsl.functions`) and, through it, the compiled closures and the
counters that count links; it sits in ``dsl/``, below ``compile/``, because compiled
closures call it at run time. It matches host labels with the word characters of
:mod:`receiver.dsl.textfuncs` (so a URL never starts inside a word) on the same UTF-8
bytes, with the same RE2 plumbing. Nothing here does I/O; the one piece of state is
the last scan's answer (see ``_last_scan``).

In file order: :data:`COMMON_TLDS` and the URL scan (``urls``); ``domain``.
"""

from __future__ import annotations

import re
from typing import Final

from receiver.dsl.textfuncs import WORD_CHARS, compile_re2, decode_span, encode_for_scan
from receiver.text.re2search import fullmatcher, matcher, searcher

__all__ = ["COMMON_TLDS", "domain", "urls"]


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
_LABEL: Final = rf"[{WORD_CHARS}-]+"
_HOST: Final = rf"{_LABEL}(?:\.{_LABEL})+"

# One alternative per kind, tried in this order at each position (RE2 is
# leftmost-first, like Perl):
#   1. scheme URL      http(s)://...
#   2. e-mail address  local@host -- consumed so its domain is not reported as a URL
#   3. host            a.b(.c...) -- accepted as www. host or bare domain in Python
# The host alternative's label class includes every word character, so a match can
# never start in the middle of a word: it would have started earlier.
_URL_CANDIDATE_RE: Final = compile_re2(
    rf"(?i:https?)://{_URL_BODY}+"
    rf"|[{WORD_CHARS}.+%'-]*@{_HOST}"
    rf"|{_HOST}"
)
# Port and path after an accepted host; matched anchored at the end of the host.
_URL_TAIL_RE: Final = compile_re2(rf"(?::[0-9]{{1,5}})?(?:[/?#]{_URL_BODY}*)?")
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
    scan, raw = encode_for_scan(text)
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
            url = _strip_trailing(decode_span(raw, start, end))
            scheme_end = url.find("://")  # -1 when trailing punctuation took it ("0.0://")
            if scheme_end >= 0 and len(url) > scheme_end + 3:
                found.append(url)
        elif scan.find(b"@", start, end) < 0 and _is_accepted_host(decode_span(scan, start, end)):
            tail = _url_tail(scan, end)
            if tail is not None:
                end = tail[1]
            found.append(_strip_trailing(decode_span(raw, start, end)))
        pos = end
    return found


# ---------------------------------------------------------------------------- domain

_HOST_RE: Final = compile_re2(rf"{_LABEL}(?:\.{_LABEL})*")
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
    scan, _raw = encode_for_scan(host)
    if _host_fullmatch(scan, 0) is None:
        return None
    if host.startswith("www.") and "." in host[4:]:
        host = host[4:]
    return host
