"""``regex_replace(text, pattern, replacement)``: RE2 substitution, fast for the usual idiom.

Below the stages (dsl), built at stage 3 (compile) and called at stage 4 (run). Consumes a
compiled RE2 pattern and its text (:class:`Replacer`), then per call a text and a
replacement; produces the replaced text.

google-re2's ``sub`` is written in Python around one RE2 call per match: a few
microseconds per match, so stripping the punctuation out of one chat message
(``regex_replace(text, "[^\\p{L}]+", "")``) took about 100 µs. Policies mostly use
``regex_replace`` that way: to delete or map single characters. When the pattern is
one character class (``[...]``, ``\\p{L}``, ``\\d``, ``.``, ...; optionally with flags
such as ``(?i)``) and either has no quantifier or is followed by ``+`` with an empty
replacement, every character either matches the pattern on its own or not, and the
substitution is a ``str.translate``. Its table is filled lazily: each distinct
character is classified once, by RE2 itself (so the semantics are RE2's), and
remembered. Any other pattern, a text with lone surrogates, or a pattern that has
already classified :data:`MAX_CLASSIFIED` characters uses RE2's ``sub``. The
replacement is literal: backslashes are not group references, and non-ASCII
replacements stay intact (google-re2's template expansion garbles them, "ÿ" came out
as "Ã¿", so the replacement is passed as a function).
"""

from __future__ import annotations

import re
from typing import Any, Final

MAX_CLASSIFIED: Final = 20_000  # distinct characters remembered per pattern
MAX_TABLES: Final = 8  # replacement strings with their own table, per pattern

# One character class as RE2 writes it, with optional leading flags and a trailing
# "+". Bracket expressions may hold escapes and [:posix:] classes; a "]" or "[" that
# is not part of those makes the pattern fall back to RE2's sub (never wrong, only
# slower).
_SINGLE_CLASS: Final = re.compile(
    r"""
    (?:\(\?[imsU]+\))?                      # flags
    (?P<cls>
        \[\^?(?:\\.|\[:\^?[a-z]+:\]|[^\]\\\[])+\]   # [...] or [^...]
      | \\[pP](?:\{\^?[A-Za-z_]+\}|[A-Za-z])      # \p{Greek}, \pL, \P{L}
      | \\[dDsSwW]                               # Perl classes
      | \.                                        # any character but newline
    )
    (?P<plus>\+)?
    """,
    re.VERBOSE,
)
_SURROGATE_MIN, _SURROGATE_MAX = 0xD800, 0xDFFF
_SCRUB: Final = dict.fromkeys(range(_SURROGATE_MIN, _SURROGATE_MAX + 1), 0xFFFD)


class Replacer:
    """The substitution of one compiled RE2 pattern (its source is ``pattern``)."""

    __slots__ = ("_classified", "_members", "_plus", "_regex", "_tables", "per_character")

    def __init__(self, regex: Any, pattern: str) -> None:
        self._regex = regex
        shape = _SINGLE_CLASS.fullmatch(pattern)
        self.per_character = shape is not None
        self._plus = shape is not None and shape["plus"] is not None
        self._classified: set[str] = set()
        self._members: set[str] = set()
        self._tables: dict[str, dict[int, str | None]] = {}

    def __call__(self, text: str, replacement: str) -> str:
        if self.per_character and not (self._plus and replacement):
            table = self._table(text, replacement)
            if table is not None:
                return text.translate(table)
        return self._sub(text, replacement)

    def _sub(self, text: str, replacement: str) -> str:
        # A function as the replacement keeps it literal: a template string would go
        # through google-re2's escape decoding, which garbles non-ASCII characters.
        literal = lambda _match: replacement  # noqa: E731
        try:
            result: str = self._regex.sub(literal, text)
        except UnicodeEncodeError:  # lone surrogates from JSON escapes: RE2 takes UTF-8
            result = self._regex.sub(literal, text.translate(_SCRUB))
        return result

    def _table(self, text: str, replacement: str) -> dict[int, str | None] | None:
        """The translate table covering ``text``'s characters, or None to use RE2's sub."""
        table = self._tables.get(replacement)
        if table is None:
            if len(self._tables) >= MAX_TABLES:
                return None
            value = replacement or None  # None deletes
            table = self._tables[replacement] = {ord(c): value for c in self._members}
        unseen = set(text) - self._classified
        if unseen:
            if len(self._classified) + len(unseen) > MAX_CLASSIFIED:
                return None
            if any(_SURROGATE_MIN <= ord(c) <= _SURROGATE_MAX for c in unseen):
                return None
            for char in unseen:
                if self._regex.fullmatch(char) is not None:
                    self._members.add(char)
                    for repl, other in self._tables.items():
                        other[ord(char)] = repl or None
                self._classified.add(char)
        return table
