"""Character-level normalization that sees through the usual filter-evasion tricks.

Below the stages (profanity, under dsl): used by strict matching and ``normalize()``.
Consumes text; produces the normalized text (:func:`normalize`) and, with
:func:`normalize_with_origins`, the index of each output character's origin.

``normalize(text)`` maps every character on its own (so each output character comes
from exactly one input character, and strict-mode matches can be mapped back to the
characters the user typed):

- invisible characters are removed: format characters (zero-width space, joiners,
  word joiner, soft hyphen, byte-order mark, direction marks), combining marks
  (diacritics, variation selectors, the combining grapheme joiner) and the blank
  "letters" used as fillers (Hangul fillers, braille blank);
- compatibility forms are folded (NFKC): full-width ``ｆｕｃｋ``, mathematical
  ``𝐟𝐮𝐜𝐤``, circled ``ⓕ``, ligatures ``ﬀ``, superscripts, non-breaking spaces;
- Latin letters with a diacritic or a stroke become the base letter (``é`` -> ``e``,
  ``ø`` -> ``o``, ``ł`` -> ``l``), as do small capitals (``ꜰᴜᴄᴋ``), squared and
  negative squared letters and regional-indicator letters (``🇫``);
- Cyrillic and Greek look-alikes become the Latin letter they look like (``а`` ->
  ``a``, ``о`` -> ``o``, ``с`` -> ``c``, ``ν`` -> ``v``, uppercase ``Η`` -> ``h``);
- the result is case-folded.

Stretched letters (``fuuuck``) and separators inside a word (``f.u.c.k``) are not
changed here; strict matching handles them (see :mod:`receiver.profanity.strict`).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

# Look-alikes by shape, applied before case folding (uppercase Greek Eta looks like H,
# lowercase eta like n). Sources: Unicode's confusables.txt, narrowed to letters that
# are used to spell Latin words, plus the "faux Cyrillic" letters (Я for R, И for N).
_CONFUSABLES: Final[dict[str, str]] = {
    # Cyrillic
    "А": "a", "а": "a", "В": "b", "в": "b", "Ь": "b", "ь": "b", "С": "c", "с": "c",
    "Ԁ": "d", "ԁ": "d", "Е": "e", "е": "e", "Ё": "e", "ё": "e", "Һ": "h", "һ": "h",
    "Н": "h", "н": "h", "І": "i", "і": "i", "Ї": "i", "ї": "i", "Ј": "j", "ј": "j",
    "К": "k", "к": "k", "Ӏ": "l", "ӏ": "l", "М": "m", "м": "m", "И": "n", "и": "n",
    "П": "n", "п": "n", "О": "o", "о": "o", "Р": "p", "р": "p", "Ԛ": "q", "ԛ": "q",
    "Я": "r", "я": "r", "Г": "r", "г": "r", "Ѕ": "s", "ѕ": "s", "Т": "t", "т": "t",
    "Ц": "u", "ц": "u", "Ѵ": "v", "ѵ": "v", "Ш": "w", "ш": "w", "Ԝ": "w", "ԝ": "w",
    "Х": "x", "х": "x", "У": "y", "у": "y", "Ү": "y", "ү": "y", "Ꙅ": "s", "ꙅ": "s",
    # Greek
    "Α": "a", "α": "a", "Β": "b", "β": "b", "Ε": "e", "ε": "e", "Ζ": "z", "Η": "h",
    "η": "n", "Ι": "i", "ι": "i", "Κ": "k", "κ": "k", "Μ": "m", "μ": "u", "Ν": "n",
    "ν": "v", "Ο": "o", "ο": "o", "Ρ": "p", "ρ": "p", "Τ": "t", "τ": "t", "Υ": "y",
    "υ": "u", "Χ": "x", "χ": "x", "γ": "y", "ω": "w", "Ϲ": "c", "ϲ": "c", "Ϳ": "j",
    "ϳ": "j",
    # Latin letters that do not decompose and have no single-letter name
    "ɑ": "a", "ɡ": "g", "ı": "i", "ȷ": "j", "ɩ": "i", "ʋ": "u", "ꞵ": "b", "ſ": "s",
}  # fmt: skip

# Blank "letters" used as invisible fillers.
_BLANKS: Final = frozenset("\u115f\u1160\u3164\uffa0\u2800")

_LATIN_NAME: Final = re.compile(
    r"(?:NEGATIVE )?(?:SQUARED |CIRCLED |PARENTHESIZED )?LATIN (?:CAPITAL |SMALL )?"
    r"LETTER (?:SMALL CAPITAL )?(?:DOTLESS )?([A-Z])(?: WITH .*)?"
    r"|REGIONAL INDICATOR SYMBOL LETTER ([A-Z])"
)
_DROP_CATEGORIES: Final = frozenset({"Cf", "Mn", "Me"})
# At most this many distinct non-ASCII characters are remembered (an attacker can send
# every character there is; past the limit they are worked out each time).
_CACHE_LIMIT: Final = 20_000


def normalize_char(char: str) -> str:
    """The normalized form of one character (possibly empty, possibly several characters)."""
    if char.isascii():
        return char.lower()
    if char in _BLANKS or unicodedata.category(char) in _DROP_CATEGORIES:
        return ""
    if char in _CONFUSABLES:
        return _CONFUSABLES[char]
    folded = unicodedata.normalize("NFKC", char)
    if not (len(folded) == 1 and folded.isascii()):
        match = _LATIN_NAME.fullmatch(unicodedata.name(char, ""))
        if match is not None:
            return (match.group(1) or match.group(2)).lower()
    out: list[str] = []
    for piece in folded:
        if piece in _CONFUSABLES:
            out.append(_CONFUSABLES[piece])
            continue
        decomposed = unicodedata.normalize("NFD", piece)
        kept = "".join(c for c in decomposed if unicodedata.category(c) not in _DROP_CATEGORIES)
        out.append(kept if kept != decomposed else piece)
    return "".join(out).casefold()


class _Table(dict[int, str]):
    """``str.translate`` table that works characters out on first sight."""

    def __missing__(self, code: int) -> str:
        value = normalize_char(chr(code))
        if len(self) < _CACHE_LIMIT:
            self[code] = value
        return value


_TABLE: Final = _Table({code: chr(code).lower() for code in range(128)})


def normalize(text: str) -> str:
    """``text`` without invisible characters, with look-alikes, widths, accents and case folded."""
    if text.isascii():
        return text.lower()
    return text.translate(_TABLE)


def normalize_with_origins(text: str) -> tuple[str, list[int]]:
    """The normalized text and, for each of its characters, the index of its source character."""
    if text.isascii():
        return text.lower(), list(range(len(text)))
    pieces: list[str] = []
    origins: list[int] = []
    table = _TABLE
    for index, char in enumerate(text):
        piece = table[ord(char)]
        if piece:
            pieces.append(piece)
            origins.extend([index] * len(piece))
    return "".join(pieces), origins
