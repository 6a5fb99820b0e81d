"""Profanity matching for ``profane()``, ``censor()`` and ``normalize()``.

better-profanity 0.7.0 stays the source of the word list and of what a match is;
:class:`Matcher` gives its answers character for character, thousands of times
faster (see ``exact.py`` for how, ``tests/profanity/test_agreement.py`` for the
proof and ``bench/profanity.py`` for the figures). :class:`StrictMatcher` adds what
better-profanity does not see (look-alike letters, zero-width characters, accents,
stretched and doubled letters, separators inside words, dropped vowels, a symbol for a
vowel, listed words glued into longer strings; see ``strict.py``).

Matchers are built once per distinct configuration (:func:`matcher`) and shared: the
policy compiler asks for them at load time, never per request.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from receiver.profanity.exact import Matcher
from receiver.profanity.normalize import normalize
from receiver.profanity.strict import StrictMatcher
from receiver.profanity.wordlist import REPLACEMENT, default_words

__all__ = [
    "REPLACEMENT",
    "Matcher",
    "StrictMatcher",
    "default_words",
    "matcher",
    "normalize",
]


def matcher(
    words: Iterable[str] = (), allow: Iterable[str] = (), strict: bool = False
) -> Matcher | StrictMatcher:
    """The shared matcher for the default list plus ``words``, minus ``allow``.

    It answers as better-profanity's ``Profanity`` after
    ``load_censor_words(default_words() + words, whitelist_words=allow)``; with
    ``strict`` it also sees through evasions.
    """
    return _cached(_key(words), _key(allow), strict)


def _key(words: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({str(w) for w in words}))


@functools.lru_cache(maxsize=64)
def _cached(
    words: tuple[str, ...], allow: tuple[str, ...], strict: bool
) -> Matcher | StrictMatcher:
    if strict:
        base = _cached(words, allow, False)
        assert isinstance(base, Matcher)
        return StrictMatcher(base)
    return Matcher((*default_words(), *words), allow)
