"""better-profanity 0.7.0 as the source of truth: its word list, leetspeak map and word characters.

Below the stages (profanity, under dsl), under the matchers. Consumes better-profanity's
data; produces the prepared word list (:func:`default_words`, :func:`prepare_words`), the
character map and the character classes the matchers build their patterns from.

Nothing here re-states better-profanity's data: the word list is read from the file
the library ships, the character map from its default ``Profanity`` instance and the
word characters from ``better_profanity.constants.ALLOWED_CHARACTERS`` (ASCII letters,
digits, ``@ $ * " '`` and the letters of its ``alphabetic_unicode.json``). Upgrading
better-profanity therefore changes what matches, and the differential test
(``tests/profanity/test_agreement.py``) says whether the fast matcher still agrees.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Iterable, Mapping

from better_profanity import profanity as _default_profanity
from better_profanity.constants import ALLOWED_CHARACTERS as _ALLOWED
from better_profanity.utils import get_complete_path_of_file, read_wordlist

#: Characters better-profanity reads as part of a word; everything else separates words.
WORD_CHARACTERS: frozenset[str] = frozenset(_ALLOWED)

#: Listed character -> the characters that may stand for it (``a`` -> ``a @ * 4``).
CHARS_MAPPING: Mapping[str, tuple[str, ...]] = {
    str(k): tuple(str(c) for c in v) for k, v in _default_profanity.CHARS_MAPPING.items()
}

#: The text better-profanity puts in place of a listed word.
REPLACEMENT = "****"

#: Characters that can lower-case into a different, single character (cased letters live
#: in the first two planes; checked once, lazily).
_CASED_PLANES = 0x20000


@functools.cache
def default_words() -> tuple[str, ...]:
    """The entries of better-profanity's default word list, in file order."""
    path = get_complete_path_of_file("profanity_wordlist.txt")
    return tuple(str(w) for w in read_wordlist(path))


@functools.cache
def lower_sources() -> Mapping[str, frozenset[str]]:
    """Character -> every character whose ``str.lower()`` is that one character.

    Only characters with at least one other source are present (``"k"`` has ``"K"`` and
    the Kelvin sign). ``"İ"`` lower-cases to two characters and is in no entry.
    """
    found: dict[str, set[str]] = {}
    for code in range(_CASED_PLANES):
        char = chr(code)
        low = char.lower()
        if low != char and len(low) == 1:
            found.setdefault(low, set()).add(char)
    return {k: frozenset(v) for k, v in found.items()}


def prepare_words(words: Iterable[str], allow: Iterable[str] = ()) -> tuple[str, ...]:
    """The entries as better-profanity stores them: lower-cased, minus the allowed words.

    Mirrors ``Profanity._populate_words_to_wordset``: every entry is lower-cased and an
    entry whose lower-case form is in ``allow`` (lower-cased too) is left out.
    """
    allowed = {w.lower() for w in allow}
    out: dict[str, None] = {}
    for word in words:
        low = word.lower()
        if low and low not in allowed:
            out[low] = None
    return tuple(out)


def max_combinations(words: Iterable[str]) -> int:
    """How many following words better-profanity joins to the current one (at least 1).

    It is the largest number of non-word characters in any entry (``p.u.s.s.y.`` has
    five), as ``Profanity.MAX_NUMBER_COMBINATIONS``.
    """
    most = 1
    for word in words:
        most = max(most, sum(1 for c in word if c not in WORD_CHARACTERS))
    return most


def _ranges(chars: Iterable[str]) -> list[tuple[int, int]]:
    codes = sorted({ord(c) for c in chars})
    out: list[tuple[int, int]] = []
    for code in codes:
        if out and out[-1][1] == code - 1:
            out[-1] = (out[-1][0], code)
        else:
            out.append((code, code))
    return out


def char_class(chars: Iterable[str]) -> str:
    """An RE2 character class body (without brackets) matching exactly ``chars``."""
    return "".join(
        _escape(lo) if lo == hi else f"{_escape(lo)}-{_escape(hi)}" for lo, hi in _ranges(chars)
    )


def python_class(chars: Iterable[str]) -> str:
    """The same for the standard library's ``re`` (ranges: it tests them one by one)."""
    return "".join(
        re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}"
        for lo, hi in _ranges(chars)
    )


def _escape(code: int) -> str:
    if chr(code).isascii() and chr(code).isalnum():
        return chr(code)
    return f"\\x{{{code:x}}}"


assert sys.maxunicode >= _CASED_PLANES
