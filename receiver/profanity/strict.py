"""Strict matching: better-profanity's matches plus the evasions it does not see.

Below the stages (profanity, under dsl): the strict mode of the built-ins. Consumes a word
list and text; produces the strict matches (:class:`StrictMatcher`: ``contains``,
``censor``, ``spans``).

A strict match is either a match of the exact engine (:class:`~.exact.Matcher`) on
the original text, or a match found on the normalized text (:func:`.normalize`), where
a match is a run of one or more consecutive words that together spell a listed entry:

- words are runs of better-profanity's word characters plus ``! | +``; a ``!`` at
  either end of a word is punctuation, not part of it, and a word wrapped in ``*``,
  ``'`` or ``"`` (``*word*``, ``'word'``) is the word; a word with a star between every
  letter (``b*i*t*c*h``) is the letters;
- the words are joined without what separates them (``f.u.c.k``, ``f u c k``,
  ``sh-it``, ``f💩u💩c💩k``), and so are the entries (``2 girls 1 cup`` is ``2girls1cup``);
- better-profanity's leetspeak stand-ins apply, plus ``!`` and ``|`` for ``i``/``l``
  and ``+`` for ``t``;
- a character repeated three or more times may stand for a run of any length of that
  listed character (``fuuuuck``, ``shiiiit``, ``a$$$``), while a doubled character
  only stands for a double one (``good`` is not ``god``, ``noob`` is not ``nob``), and
  a stretched common word stays that word (``gooood`` is ``good``: see
  :data:`STRETCHED_WORDS`);
- of several matches starting at the same word, the longest is taken;
- the evasions of issue 24: letters doubled (``ffuucckk``; see :meth:`_doubles_allowed`),
  vowels dropped and ``ph`` for ``f`` where a reader still reads the word (extra entries
  decided when the matcher is built: :mod:`.variants`), a symbol or emoji in place of a
  vowel (``f💥ck``, ``sh#t``: a separator of at most four characters without a space,
  between the letters of a word, may stand for one vowel), digits for more letters
  (``8`` for ``b``, ``9`` and ``6`` for ``g``), and listed words glued into longer
  strings (``youfuckingidiot``) when the whole string splits into real words
  (:mod:`.glued`).

Censoring replaces each match, mapped back to the characters the user typed (zero-width
characters and all), with ``****``; overlapping matches are merged first.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator

import re2

from receiver.profanity.exact import (
    Matcher,
    ScanBytes,
    WordSet,
    byte_alternatives,
    re2_options,
    replace_spans,
    trie_pattern,
)
from receiver.profanity.glued import Splitter
from receiver.profanity.lexicon import Lexicon, lexicon
from receiver.profanity.normalize import normalize, normalize_with_origins
from receiver.profanity.variants import VOWELS, extra_entries
from receiver.profanity.wordlist import CHARS_MAPPING, WORD_CHARACTERS, python_class
from receiver.text.re2search import searcher

#: Extra stand-ins of strict mode, on top of better-profanity's.
EXTRA_STAND_INS: dict[str, tuple[str, ...]] = {
    "i": ("!", "|"),
    "l": ("|", "!"),
    "t": ("+",),
    "b": ("8",),
    "g": ("9", "6"),
}

_EDGE_PUNCTUATION = "!"
_WRAPPERS = "*'\""
STRICT_WORD_CHARACTERS = WORD_CHARACTERS | {"!", "|", "+"}
_STRICT_WORD = re.compile(f"[{python_class(STRICT_WORD_CHARACTERS)}]+")
# Bytes that may precede or follow a strict word (over-approximated: every byte but the
# ASCII letters, digits, "@" and "$" of the normalized, case-folded text).
_BOUNDARY_BYTE = "[^a-z0-9@$]"
_MAX_JOIN = 24  # words joined at most
_MAX_JOIN_LENGTH = 80  # characters joined at most
# A separator that may stand for a vowel (f💥ck, sh#t): a few characters, no space.
_SLOT = "\x01"
_MAX_SLOT = 4
_VOWEL_LIST = tuple(sorted(VOWELS))
# Shorter entries are not looked for inside glued strings: "sex", "ass", "tit", "cum" sit
# inside too many words of too many languages (Portuguese "sextou", "sextante").
_MIN_GLUED_ENTRY = 4
# Glued runs split per text at most (a split costs up to a millisecond: a text made of
# nothing but glued runs must not cost more than a few tens of them).
_MAX_GLUED_RUNS = 32
_ACRONYM_LENGTH = 3
_DOUBLED = re.compile(r"(.)\1", re.DOTALL)
_TRIPLED = re.compile(r"(.)\1\1", re.DOTALL)
# A word written this often is an ordinary word: its doubled letters stay doubled.
_ORDINARY_COUNT = 1_000_000


def _strict_mapping() -> dict[str, tuple[str, ...]]:
    mapping = {k: tuple(v) for k, v in CHARS_MAPPING.items()}
    for listed, extra in EXTRA_STAND_INS.items():
        mapping[listed] = tuple(dict.fromkeys(mapping.get(listed, (listed,)) + extra))
    return mapping


def strict_entry(word: str) -> str:
    """An entry as strict mode spells it: normalized, separators removed."""
    return "".join(c for c in normalize(word) if c in STRICT_WORD_CHARACTERS)


# A stretched common word stays that word: "gooood" is "good", not the listed "god".
# (Runs of three or more letters are compared with these after shrinking them to two.)
STRETCHED_WORDS = frozenset((
    "good", "food", "mood", "wood", "hood", "cool", "pool", "fool", "tool", "too", "zoo",
    "boo", "moo", "moon", "soon", "noon", "door", "floor", "poor", "book", "look", "took",
    "cook", "hook", "room", "boom", "doom", "zoom", "loop", "hoop", "see", "bee", "fee",
    "free", "tree", "three", "feel", "heel", "peel", "been", "seen", "need", "feed", "seed",
    "weed", "deep", "keep", "sleep", "sheep", "beer", "deer", "peer", "sweet", "meet",
    "feet", "street", "week", "seek", "yes", "yess", "all", "well", "hell", "bell", "tell",
    "sell", "still", "will", "kill", "fill", "hill", "ill", "off", "staff", "stuff", "buzz",
    "jazz", "fuzz", "pass", "mass", "class", "grass", "boss", "less", "miss", "kiss", "mess",
    "guess", "yeah", "yay", "wow", "hmm",
))  # fmt: skip


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    """A word's bounds without edge ``!`` and without wrapping ``*...*``, ``'...'``, ``"..."``."""
    while start < end and text[start] in _EDGE_PUNCTUATION:
        start += 1
    while end > start and text[end - 1] in _EDGE_PUNCTUATION:
        end -= 1
    while end - start > 2 and text[start] == text[end - 1] and text[start] in _WRAPPERS:
        start += 1
        end -= 1
    return start, end


def _word(text: str) -> str:
    """A word as strict mode reads it: ``b*i*t*c*h`` (stars between every letter) is ``bitch``."""
    if len(text) >= 5 and text[1::2] == "*" * (len(text) // 2) and "*" not in text[::2]:
        return text[::2]
    return text


def _shrunk(text: str) -> str:
    """``text`` with every run of three or more equal characters shrunk to two."""
    out: list[str] = []
    for char in text:
        if len(out) >= 2 and out[-1] == char and out[-2] == char:
            continue
        out.append(char)
    return "".join(out)


def _prefilter_pattern(entries: Iterable[str], mapping: dict[str, tuple[str, ...]]) -> str:
    """Over-approximation of strict matches on normalized UTF-8 bytes (Latin-1 mode).

    A vowel of an entry with two consonants or more may be missing (a symbol in its
    place is a separator, which the pattern allows between any two characters).
    """
    part = functools.cache(lambda c: byte_alternatives(set(mapping.get(c, (c,)))))

    def parts(entry: str) -> list[str]:
        optional = sum(c not in VOWELS for c in entry) >= 2
        return [f"(?:{part(c)})*" if optional and c in VOWELS else f"(?:{part(c)})+" for c in entry]

    return trie_pattern(map(parts, entries), "{}", _BOUNDARY_BYTE)


def _glued_pattern(entries: Iterable[str], mapping: dict[str, tuple[str, ...]]) -> str:
    """Where a listed word may sit inside a longer run of letters (a substring search)."""
    part = functools.cache(lambda c: byte_alternatives(set(mapping.get(c, (c,)))))
    alternatives = sorted({"".join(part(c) for c in entry) for entry in entries})
    return "(?:" + "|".join(alternatives) + ")" if alternatives else "[^\\x00-\\xff]"


def _separator_is_slot(separator: str) -> bool:
    """Whether the separator between two words may stand for one vowel (``f💥ck``)."""
    return 0 < len(separator) <= _MAX_SLOT and not any(c.isspace() for c in separator)


class StrictMatcher:
    """Strict ``profane``/``censor`` over the entries of an exact :class:`Matcher`."""

    def __init__(self, exact: Matcher, words: Lexicon | None = None) -> None:
        self.exact = exact
        self.mapping = _strict_mapping()
        self.lexicon = lexicon() if words is None else words
        #: The listed entries as strict mode spells them.
        self.listed = tuple(dict.fromkeys(e for w in exact.words if (e := strict_entry(w))))
        #: Extra spellings (vowels dropped, ph for f) -> the listed entry each spells.
        self.spellings = extra_entries(self.listed, self.lexicon)
        self.entries = (*self.listed, *self.spellings)
        self.wordset = WordSet(self.entries, self.mapping)
        self.max_run = max((len(e) for e in self.entries), default=1)
        self._search = searcher(
            re2.compile(
                _prefilter_pattern(self.entries, self.mapping).encode("ascii"), re2_options()
            )
        )
        glued = [e for e in self.entries if len(e) >= _MIN_GLUED_ENTRY and e.isalnum()]
        self._glued_search = searcher(
            re2.compile(_glued_pattern(glued, self.mapping).encode("ascii"), re2_options())
        )
        self.splitter = Splitter(self.lexicon)

    def contains(self, text: str) -> bool:
        return self.exact.contains(text) or bool(self.normalized_spans(normalize(text), text))

    def censor(self, text: str) -> str:
        return replace_spans(text, self.spans(text))

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Ranges of the original text to mask: exact matches and strict ones, merged."""
        found = list(self.exact.spans(text))
        normalized = normalize(text)
        strict = self.normalized_spans(normalized, text)
        if strict:
            normalized, origins = normalize_with_origins(text)
            found.extend((origins[a], origins[b - 1] + 1) for a, b in strict)
        if not found:
            return []
        found.sort()
        merged = [found[0]]
        for start, end in found[1:]:
            last_start, last_end = merged[-1]
            if start < last_end:
                merged[-1] = (last_start, max(last_end, end))
            else:
                merged.append((start, end))
        return merged

    def normalized_spans(
        self, normalized: str, original: str | None = None
    ) -> list[tuple[int, int]]:
        """Strict matches in already normalized text, as ranges of that text.

        As in the exact engine, the prefilter's hits are the only places where a match
        can start; words are read only around them. ``original``, the text before
        normalizing, tells acronyms: a three-letter spelling without vowels typed in
        capitals (``FCK``, the football club) is not read as a listed word.
        """
        scan = ScanBytes(normalized)
        found: list[tuple[int, int]] = []
        resume = 0
        while resume < len(normalized):
            hit = self._search(scan.raw, scan.to_bytes(resume))
            if hit is None:
                break
            pos = max(resume, scan.to_str(hit[0]))
            first, end = self._longest_at(normalized, self._words_from(normalized, pos), original)
            if first is None:
                break
            if end is not None:
                found.append((first[0], end))
            resume = first[1] if end is None else end
        glued = self._glued_spans(normalized, scan, found)
        return sorted(found + glued) if glued else found

    def _glued_spans(
        self, text: str, scan: ScanBytes, found: list[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        """Listed words inside longer runs of letters that split into real words."""
        out: list[tuple[int, int]] = []
        n = len(text)
        resume = 0
        budget = _MAX_GLUED_RUNS
        while resume < n and budget > 0:
            hit = self._glued_search(scan.raw, scan.to_bytes(resume))
            if hit is None:
                break
            at = scan.to_str(hit[0])
            start = end = at
            while start > 0 and text[start - 1] in STRICT_WORD_CHARACTERS:
                start -= 1
            while end < n and text[end] in STRICT_WORD_CHARACTERS:
                end += 1
            resume = max(end, at + 1)
            start, end = _strip(text, start, end)
            if end <= start or any(a < end and start < b for a, b in found):
                continue
            budget -= 1
            for a, b in self.splitter.glued_words(text[start:end], self._listed_ends):
                out.append((start + a, start + b))
        return out

    def _listed_ends(self, text: str, start: int) -> list[int]:
        """Ends of the entries (leetspeak included) that start at ``start`` of ``text``."""
        transitions = self.wordset.transitions
        accepting = self.wordset.accepting
        state = 0
        ends: list[int] = []
        for i in range(start, len(text)):
            state = transitions[state].get(text[i], -1)
            if state < 0:
                break
            if accepting[state]:
                ends.append(i + 1)
        return ends

    @staticmethod
    def _words_from(text: str, pos: int) -> Iterator[tuple[int, int]]:
        """The words that may join a match starting at the first word beginning at ``pos``
        or later (a word that began before ``pos`` cannot start one: the prefilter would
        have stopped there), read one by one as the match asks for them."""
        start = pos
        while start > 0 and text[start - 1] in STRICT_WORD_CHARACTERS:
            start -= 1  # read whole words
        count = 0
        for match in _STRICT_WORD.finditer(text, start):
            bounds = _strip(text, *match.span())
            if bounds[0] >= bounds[1] or (not count and bounds[0] < pos):
                continue
            yield bounds
            count += 1
            if count == _MAX_JOIN:
                return

    def _longest_at(
        self, text: str, words: Iterator[tuple[int, int]], original: str | None = None
    ) -> tuple[tuple[int, int] | None, int | None]:
        """The first word's bounds, and the end of the longest match starting with it (or
        None); (None, None) when there is no word."""
        joined = ""  # the words without separators
        walked = ""  # the same with a slot for each separator that may stand for a vowel
        first: tuple[int, int] | None = None
        best: int | None = None
        previous_end = 0
        accepting = self.wordset.accepting
        for start, end in words:
            word = _word(text[start:end])
            if first is None:
                first = (start, end)
            elif _separator_is_slot(text[previous_end:start]):
                walked += _SLOT
            previous_end = end
            joined += word
            walked += word
            if len(joined) > _MAX_JOIN_LENGTH:
                break
            states = self._walk_runs(walked, self._doubles_allowed(joined))
            if not states:
                break
            if (
                any(accepting[s] for s in states)
                and not self._stretched_word(joined)
                and not (first == (start, end) and self._acronym(joined, original, start, end))
            ):
                best = end
        return first, best

    def _acronym(self, word: str, original: str | None, start: int, end: int) -> bool:
        """Whether ``word`` (``normalized[start:end]``) is a three-letter spelling without
        vowels typed in capitals."""
        if original is None or len(word) != _ACRONYM_LENGTH or word not in self.spellings:
            return False
        if len(original) != len(normalize(original)):  # rare: map back character by character
            _, origins = normalize_with_origins(original)
            return original[origins[start] : origins[end - 1] + 1].isupper()
        return original[start:end].isupper()

    def _doubles_allowed(self, text: str) -> bool:
        """Whether a doubled letter of ``text`` may stand for a single one (``ffuucckk``).

        Not in an ordinary word (written at least :data:`_ORDINARY_COUNT` times: ``good`` is
        not ``god``, ``assess`` stays), and only with two doubled letters or more, or when
        what is left keeps four letters (``fuckk``, ``shiit``; ``noob`` is not ``nob``).
        """
        if _DOUBLED.search(text) is None:
            return False  # most words: one scan in C
        doubled = sum(1 for i in range(1, len(text)) if text[i] == text[i - 1])
        if self.lexicon.count(text) >= _ORDINARY_COUNT:
            return False
        return doubled >= 2 or len(text) - 1 >= 4

    def _stretched_word(self, text: str) -> bool:
        """Whether ``text`` is a stretched common word that is not itself listed."""
        if _TRIPLED.search(text) is None:
            return False  # nothing stretched (most words): one scan in C
        shrunk = _shrunk(text)
        return shrunk != text and shrunk in STRETCHED_WORDS and shrunk not in self.wordset

    def _walk_runs(self, text: str, doubles: bool = False) -> set[int]:
        """Automaton states after ``text``, a run of 3+ equal characters standing for any run.

        With ``doubles``, a doubled character also stands for a single one. A slot
        (:data:`_SLOT`) stands for one vowel or for nothing.
        """
        transitions = self.wordset.transitions
        states = {0}
        i = 0
        n = len(text)
        while i < n and states:
            char = text[i]
            if char == _SLOT:
                states = states | {
                    t
                    for state in states
                    for vowel in _VOWEL_LIST
                    if (t := transitions[state].get(vowel, -1)) >= 0
                }
                i += 1
                continue
            j = i + 1
            while j < n and text[j] == char:
                j += 1
            run = j - i
            following: set[int] = set()
            for state in states:
                current = state
                for k in range(1, min(run, self.max_run) + 1):
                    current = transitions[current].get(char, -1)
                    if current < 0:
                        break
                    if run < 3 and k < run and not (doubles and run == 2):
                        continue  # a single or doubled character stands for itself only
                    following.add(current)
            states = following
            i = j
        return states
