"""Listed words glued into longer strings (``youfuckingidiot``), without Scunthorpe.

Below the stages (profanity, under dsl), under the strict matcher. Consumes one run of
letters (already normalized) and a way to recognise listed words in it; produces the
ranges of the listed words in the run's most likely reading (:func:`glued_words`), or
nothing.

A listed word inside a longer string is a match only when the *whole* string splits
into real words and the most likely split has a listed word as one of its words:

- the split is the most probable one under the lexicon's word frequencies (each word's
  count over the total, multiplied), as word segmenters do: a string that is itself a
  frequent word stays that word (``cocktail``, ``therapist``, ``assassin``,
  ``Scunthorpe``, ``Matsushita``, ``Middlesex``, ``Penistone``: the lexicon has the
  names of places and firms), and ``therapistoffice`` is ``therapist office``, not
  ``the rapist office``;
- every piece must be a real word: a listed word (counted as the lexicon counts it, or
  as its rarest word when the lexicon does not have it), or a common word, the shorter
  the more common (:data:`MIN_COUNT`: ``of``, ``to``, ``go`` but not ``ta``; ``old``,
  ``big``, ``you`` but not ``sen``, so Swedish ``slutsatsen`` is not ``sluts at sen``),
  or ``a`` / ``i`` before another piece.

The work per request is one lookup for a run that is a common word (most of them: a
count of at least :data:`COMMON_COUNT`) and, for the others, a split over at most
:data:`MAX_RUN` characters.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from receiver.profanity.lexicon import Lexicon

MAX_RUN = 48  # longer runs are not split (user names, hashes, URLs)
MAX_WORD = 20  # longest piece tried
#: Least count of a piece that is not listed, by length (longer pieces: the last one).
MIN_COUNT = (0, 0, 400_000_000, 10_000_000, 1_000_000)
COMMON_COUNT = 1_000_000  # a run this frequent is that word
_SINGLE_LETTERS = frozenset("ai")

#: ``ends(text, start)``: the ends of the listed words that start at ``start`` of ``text``.
ListedEnds = Callable[[str, int], list[int]]


class Splitter:
    """Splits glued runs with one lexicon; built once per strict matcher."""

    __slots__ = ("_floor", "_lexicon", "_log_total")

    def __init__(self, lexicon: Lexicon) -> None:
        self._lexicon = lexicon
        self._log_total = math.log(lexicon.total)
        self._floor = math.log(lexicon.floor)

    def _score(self, word: str) -> float | None:
        """log P(word) if ``word`` is a clean real word, else None."""
        count = self._lexicon.count(word)
        if not count or count < MIN_COUNT[min(len(word), len(MIN_COUNT) - 1)]:
            return None
        if len(word) == 1 and word not in _SINGLE_LETTERS:
            return None
        return math.log(count) - self._log_total

    def glued_words(self, run: str, listed_ends: ListedEnds) -> list[tuple[int, int]]:
        """Ranges of ``run`` holding listed words, in its most likely split into real words.

        Empty when ``run`` is itself a word, has no split into real words, or its most
        likely split has no listed word.
        """
        n = len(run)
        if n > MAX_RUN or self._lexicon.count(run) >= COMMON_COUNT:
            return []
        # best[i]: (log probability, start of the last piece, whether it is listed) of
        # the most likely split of run[:i].
        best: list[tuple[float, int, bool] | None] = [None] * (n + 1)
        best[0] = (0.0, 0, False)
        for start in range(n):
            here = best[start]
            if here is None:
                continue
            listed = set(listed_ends(run, start))
            for end in range(start + 1, min(n, start + MAX_WORD) + 1):
                piece = run[start:end]
                if end in listed:
                    count = self._lexicon.count(piece)
                    score: float | None = (
                        max(math.log(count) if count else self._floor, self._floor)
                        - self._log_total
                    )
                    is_listed = True
                elif start == 0 and end == n:
                    count = self._lexicon.count(run)  # the run itself, however rare
                    score = math.log(count) - self._log_total if count else None
                    is_listed = False
                else:
                    score = self._score(piece)
                    is_listed = False
                    if score is not None and len(piece) == 1 and end == n:
                        score = None  # "a" or "i" only before another word
                if score is None:
                    continue
                total = here[0] + score
                current = best[end]
                if current is None or total > current[0]:
                    best[end] = (total, start, is_listed)
        if best[n] is None:
            return []
        found: list[tuple[int, int]] = []
        end = n
        while end > 0:
            step = best[end]
            if step is None:  # cannot happen: a reachable end has a reachable start
                return []
            if step[2]:
                found.append((step[1], end))
            end = step[1]
        found.reverse()
        return found
