"""Words people write, with their frequencies: what strict mode calls a real word.

Below the stages (profanity, under dsl), under the strict matcher. Consumes the unigram
table that wordsegment ships (``unigrams.txt``: the 333,333 most frequent words of
Google's web corpus with their counts, names of places, firms and people included);
produces :class:`Lexicon` (``count``, ``__contains__``), read once per process
(:func:`lexicon`), and the table itself for build-time decisions (:func:`raw_text`).

Strict mode uses it when a matcher is built (which words may be written without their
vowels, see :mod:`.variants`) and, per request, only to look words up: how a glued
string splits into real words (:mod:`.glued`) and whether a word with doubled letters is
an ordinary word (``good`` is not ``god``).

The table is kept compact: one sorted array of 64-bit integers, each the word's hash
(its high 44 bits) with the word's rank in the table (the low 20 bits), and the counts in
rank order (about 5 MB in all, against some 30 MB for a dict of the words); a lookup is
one binary search. Two words share 44 bits of hash with a probability of a few in a
thousand over the whole table, and then one of them reads the other's count: harmless
for frequencies. The hashes are the process's own ``hash()``, so the index is built in
the process that uses it.
"""

from __future__ import annotations

import array
import bisect
import functools
import importlib.resources
import itertools
import operator
from typing import Final

_PACKAGE: Final = "wordsegment"
_DATA: Final = "unigrams.txt"
_RANK_BITS: Final = 20
_RANK_MASK: Final = (1 << _RANK_BITS) - 1


def table() -> tuple[list[str], array.array[int]]:
    """The words of the table, most frequent first, and their counts.

    Raises ``ValueError`` when the file is not ``word<TAB>count`` lines (a wordsegment
    release that changed it: pin the version that last worked in pyproject.toml).
    """
    text = importlib.resources.files(_PACKAGE).joinpath(_DATA).read_text(encoding="utf-8")
    tokens = text.split()
    if len(tokens) % 2 or len(tokens) // 2 > _RANK_MASK:
        raise ValueError(f"{_PACKAGE}/{_DATA}: expected 'word<TAB>count' lines")
    return tokens[::2], array.array("q", map(int, tokens[1::2]))


def raw_text() -> str:
    """The table file as it is (``word<TAB>count`` lines), for build-time scans."""
    return importlib.resources.files(_PACKAGE).joinpath(_DATA).read_text(encoding="utf-8")


def _key(word: str) -> int:
    return (hash(word) >> _RANK_BITS) << _RANK_BITS


class Lexicon:
    """Words and their counts; ``word in lexicon`` and ``count(word)`` are binary searches."""

    __slots__ = ("_counts", "_keys", "floor", "total")

    _counts: array.array[int]
    _keys: array.array[int]
    floor: int
    total: int

    def __init__(self, words: list[str], counts: array.array[int]) -> None:
        if len(words) != len(counts):
            raise ValueError("one count per word")
        shift = itertools.repeat(_RANK_BITS)
        # All in C: (hash(word) >> 20 << 20) | rank, for every word.
        keys = map(
            operator.or_,
            map(operator.lshift, map(operator.rshift, map(hash, words), shift), shift),
            range(len(words)),
        )
        self._keys = array.array("q", sorted(keys))
        self._counts = counts
        self.total = max(sum(counts), 1)
        self.floor = min(counts, default=1)  # the count of the rarest word

    def count(self, word: str) -> int:
        """The word's count, 0 for a word not in the table."""
        keys = self._keys
        key = _key(word)
        i = bisect.bisect_left(keys, key)
        if i < len(keys) and keys[i] & ~_RANK_MASK == key:
            return self._counts[keys[i] & _RANK_MASK]
        return 0

    def __contains__(self, word: str) -> bool:
        return self.count(word) > 0

    def __len__(self) -> int:
        return len(self._keys)


@functools.cache
def lexicon() -> Lexicon:
    """The lexicon of wordsegment's table (built once per process)."""
    return Lexicon(*table())
