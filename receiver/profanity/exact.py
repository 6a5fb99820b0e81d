"""Fast matching with exactly better-profanity 0.7.0's meaning of a match.

Below the stages (profanity, under dsl): the matching used by the built-ins. Consumes a word
list and text; produces better-profanity's answers (:class:`Matcher`: ``contains``,
``censor``, ``spans``).

better-profanity (``Profanity._hide_swear_words``) walks the text word by word, where
a *word* is a maximal run of its word characters (:data:`WORD_CHARACTERS`) and
everything else separates words. For every word it asks, comparing each string with
each of the ~900 entries in Python (that is why it takes milliseconds per message):

1. when the word is followed by a separator: does the word joined with the next 1, 2,
   ... up to ``MAX_NUMBER_COMBINATIONS`` words form an entry, either glued together
   (``"f u c k"`` -> ``"fuck"``) or with the separators between them kept
   (``"2 girls 1 cup"``, ``"sh!t"``)? The first (shortest) such run becomes ``****``,
   separators inside it included, and the walk goes on after it. A one-character word
   at the very end of the text is never one of the "next" words;
2. otherwise, is the word itself an entry? It becomes ``****``.

Strings are lower-cased piece by piece (``str.lower()``, as the library does) and an
entry matches a string of the same length whose every character is the entry's
character or one of its leetspeak stand-ins (``a`` -> ``a @ * 4``, ...). A text whose
first word character is its last character (or that has none) is returned unchanged.

This module gives the same answers in microseconds:

- the entries form one deterministic automaton over text characters (a trie of the
  entries, with every character standing for the listed ones it may replace), so a
  lookup is one dict access per character, and joining the next word continues the
  walk where it stopped, which also stops the joining as soon as no entry can follow;
- a single RE2 scan over the whole text (linear time, no Python per character) finds
  the only places where a match can start: every entry, with any run of separators
  allowed between its characters, between word boundaries. Text without such a place
  (most messages) is answered by that one scan; elsewhere the walk above runs exactly,
  word by word, from each place found, and the scan resumes after it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence

import re2

from receiver.profanity.wordlist import (
    CHARS_MAPPING,
    REPLACEMENT,
    WORD_CHARACTERS,
    char_class,
    lower_sources,
    max_combinations,
    prepare_words,
    python_class,
)
from receiver.text.re2search import Search, searcher

_SIGMAS = frozenset("σςΣ")
# ASCII word characters of better-profanity; their complement is a superset of the
# separators, which is all the prefilter needs (it may only over-approximate).
_ASCII_WORD = "".join(sorted(c for c in WORD_CHARACTERS if c.isascii()))
_SEPARATOR_BYTE = f"[^{char_class(_ASCII_WORD)}]"


def re2_options(max_mem: int = 32 << 20) -> re2.Options:
    options = re2.Options()
    options.log_errors = False
    options.max_mem = max_mem
    options.encoding = re2.Options.Encoding.LATIN1
    return options


# A word of better-profanity: one character class repeated, so the standard library's
# engine runs it in linear time too, and it works on str offsets without re-encoding
# the text for every call as the RE2 wrapper does.
_WORD_RUN = re.compile(f"[{python_class(WORD_CHARACTERS)}]+")


class ScanBytes:
    """The UTF-8 bytes the prefilter scans, and conversions between their offsets and str's."""

    __slots__ = ("ascii", "raw", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.ascii = text.isascii()
        # Lone surrogates (from JSON escapes) encode to three bytes >= 0x80: separators.
        self.raw = text.encode("utf-8", "surrogatepass")

    def to_str(self, offset: int) -> int:
        if self.ascii:
            return offset
        raw = self.raw
        while offset > 0 and offset < len(raw) and raw[offset] & 0xC0 == 0x80:
            offset -= 1  # back to the first byte of a character
        return len(raw[:offset].decode("utf-8", "surrogatepass"))

    def to_bytes(self, offset: int) -> int:
        if self.ascii:
            return offset
        return len(self.text[:offset].encode("utf-8", "surrogatepass"))


class WordSet:
    """Membership as better-profanity's ``text in CENSOR_WORDSET`` (leetspeak variants included).

    The entries form a trie over their characters; a text character may stand for
    several listed characters (``*`` for any vowel, ``1`` for ``i`` or ``l``), so the
    trie is turned into a deterministic automaton over text characters (subset
    construction, built once). A lookup is one dict access per character, and a walk
    can be continued where it stopped, which is how words are joined.
    """

    __slots__ = ("accepting", "transitions", "words")

    def __init__(
        self, words: Iterable[str], mapping: Mapping[str, Iterable[str]] | None = None
    ) -> None:
        stand_ins = {
            k: tuple(v) for k, v in (CHARS_MAPPING if mapping is None else mapping).items()
        }
        self.words = tuple(words)
        children: list[dict[str, int]] = [{}]
        terminal: list[bool] = [False]
        for word in self.words:
            node = 0
            for char in word:
                nxt = children[node].get(char)
                if nxt is None:
                    nxt = children[node][char] = len(children)
                    children.append({})
                    terminal.append(False)
                node = nxt
            terminal[node] = True
        # Subset construction: a state is the set of trie nodes a text prefix can reach.
        ids: dict[frozenset[int], int] = {frozenset([0]): 0}
        pending = [frozenset([0])]
        transitions: list[dict[str, int]] = [{}]
        accepting: list[bool] = [terminal[0]]
        while pending:
            state = pending.pop()
            targets: dict[str, set[int]] = {}
            for node in state:
                for listed, child in children[node].items():
                    for char in stand_ins.get(listed, (listed,)):
                        targets.setdefault(char, set()).add(child)
            out = transitions[ids[state]]
            for char, nodes in targets.items():
                target = frozenset(nodes)
                index = ids.get(target)
                if index is None:
                    index = ids[target] = len(transitions)
                    transitions.append({})
                    accepting.append(any(terminal[n] for n in target))
                    pending.append(target)
                out[char] = index
        self.transitions = transitions
        self.accepting = accepting

    def walk(self, state: int, text: str) -> int:
        """The state after reading ``text`` from ``state`` (0: the start), or -1 for none."""
        transitions = self.transitions
        for char in text:
            state = transitions[state].get(char, -1)
            if state < 0:
                return -1
        return state

    def accepts(self, state: int) -> bool:
        return state >= 0 and self.accepting[state]

    def __contains__(self, text: str) -> bool:
        return self.accepts(self.walk(0, text))


def byte_alternatives(chars: set[str]) -> str:
    """A Latin-1-mode RE2 pattern matching the UTF-8 encoding of any of ``chars``."""
    ascii_part = "".join(c for c in chars if c.isascii())
    others = sorted(
        "".join(f"\\x{b:02x}" for b in c.encode("utf-8", "surrogatepass"))
        for c in chars
        if not c.isascii()
    )
    alternatives = ([f"[{char_class(ascii_part)}]"] if ascii_part else []) + others
    return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"


def trie_pattern(entries: Iterable[Sequence[str]], item: str, boundary: str) -> str:
    """One RE2 alternation of many entries, emitted as a trie (shared prefixes once).

    Each entry is a sequence of pattern parts (one per character). ``item`` formats a
    part (``"{}"``, or ``"(?:{})+"`` to let it repeat); parts are glued by
    ``boundary*`` (any run of possible separators) and an entry ends with a boundary or
    the end of the text. A trie keeps the automaton RE2 builds small: the text is read
    once whatever the number of entries.
    """
    root = _Trie()
    for parts in entries:
        node = root
        for part in parts:
            node = node.setdefault(part, _Trie())
        node[""] = _Trie()  # the end of an entry

    def emit(node: _Trie) -> str:
        branches: list[str] = []
        for part, child in node.items():
            if part == "":
                branches.append(f"(?:{boundary}|$)")
                continue
            glue = "" if list(child) == [""] else f"{boundary}*"
            branches.append(item.format(part) + glue + emit(child))
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    if not root:
        return "[^\\x00-\\xff]"  # matches nothing
    return f"(?:^|{boundary}){emit(root)}"


class _Trie(dict[str, "_Trie"]):
    pass


def _prefilter_pattern(words: Sequence[str], mapping: Mapping[str, Sequence[str]]) -> str:
    """An RE2 pattern over UTF-8 bytes that matches wherever better-profanity could censor.

    Over-approximates: each entry, character by character (every character whose
    lower-case form stands for the listed one), with any run of possible separators
    between characters, between a start (text start or possible separator) and an end.
    A "possible separator" is any byte but an ASCII word character, so every non-ASCII
    character counts as one. The pattern is meant for Latin-1 mode (one byte, one
    character), which keeps RE2's automaton small.
    """
    sources = lower_sources()

    @functools.cache
    def part(char: str) -> str:
        chars: set[str] = set()
        for stand_in in mapping.get(char, (char,)):
            chars.add(stand_in)
            chars.update(sources.get(stand_in, ()))
        if chars & _SIGMAS:
            chars |= _SIGMAS  # str.lower() picks the final form by context
        return byte_alternatives(chars)

    return trie_pattern(([part(c) for c in word] for word in words), "{}", _SEPARATOR_BYTE)


def replace_spans(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """``text`` with each ``(start, end)`` range (in order, disjoint) replaced by ``****``."""
    if not spans:
        return text
    out: list[str] = []
    done = 0
    for start, end in spans:
        out.append(text[done:start])
        out.append(REPLACEMENT)
        done = end
    out.append(text[done:])
    return "".join(out)


class Matcher:
    """better-profanity's ``censor`` / ``contains_profanity`` over a fixed word list.

    ``Matcher(words, allow)`` answers as ``Profanity()`` after
    ``load_censor_words(words, whitelist_words=allow)``.
    """

    def __init__(self, words: Iterable[str], allow: Iterable[str] = ()) -> None:
        self.words = prepare_words(words, allow)
        self.wordset = WordSet(self.words)
        self.lookahead = max_combinations(self.words)
        # The prefilter is exact enough only when lower-casing keeps one character per
        # character; an entry containing U+0307 (from "İ".lower()) turns it off.
        # What the last contains() found, for a censor() of the same text right after
        # it: a rule asks profane(text), then sets censor(text), and the walk is the
        # expensive part of both. censor() takes it (so a later call walks again).
        self._found: tuple[str, list[tuple[int, int]]] | None = None
        self.prefilter: re2._Regexp | None = None
        self._search: Search | None = None
        if not any("\u0307" in w for w in self.words):
            self.prefilter = re2.compile(
                _prefilter_pattern(self.words, CHARS_MAPPING).encode("ascii"), re2_options()
            )
            self._search = searcher(self.prefilter)

    # -- public ------------------------------------------------------------------------------

    def censor(self, text: str) -> str:
        """``Profanity.censor(text)``: every match becomes ``****``."""
        found, self._found = self._found, None  # one read: another thread may set it
        if found is not None and (found[0] is text or found[0] == text):
            return replace_spans(text, found[1])
        return replace_spans(text, self.spans(text))

    def contains(self, text: str) -> bool:
        """``Profanity.contains_profanity(text)``: whether censoring changes the text."""
        spans = self.spans(text)
        self._found = (text, spans)
        # As the library: a "****" that is replaced by "****" changes nothing.
        return bool(spans) and replace_spans(text, spans) != text

    def spans(self, text: str) -> list[tuple[int, int]]:
        """The ``(start, end)`` ranges of ``text`` that better-profanity replaces, in order."""
        if len(text) < 2:
            return []
        search = self._search
        if search is None:
            return self._walk(text, 0, None)
        scan = ScanBytes(text)
        hit = search(scan.raw, 0)
        if hit is None:
            return []
        return self._walk(text, scan.to_str(hit[0]), (search, scan))

    # -- the walk ---------------------------------------------------------------------------

    def _walk(
        self, text: str, pos: int, prefilter: tuple[Search, ScanBytes] | None
    ) -> list[tuple[int, int]]:
        """better-profanity's walk from ``pos``, jumping to the prefilter's next hit."""
        n = len(text)
        search = _WORD_RUN.search
        first = search(text)
        if first is None or first.start() >= n - 1:
            return []  # better-profanity returns such a text untouched
        found: list[tuple[int, int]] = []
        while pos < n:
            word = search(text, pos)
            if word is None:
                break
            start, end = word.span()
            if start > 0 and text[start - 1] in WORD_CHARACTERS:
                resume = end  # the prefilter hit inside a word: no match starts there
            else:
                matched = self._match_at(text, start, end)
                if matched is not None:
                    found.append((start, matched))
                    resume = matched
                else:
                    resume = end
            if resume >= n:
                break
            if prefilter is None:
                pos = resume
                continue
            next_hit, scan = prefilter
            hit = next_hit(scan.raw, scan.to_bytes(resume))
            if hit is None:
                break
            pos = max(resume, scan.to_str(hit[0]))
        return found

    def _match_at(self, text: str, start: int, end: int) -> int | None:
        """Where the match starting with the word ``text[start:end]`` ends, if there is one."""
        n = len(text)
        words = self.wordset
        walk = words.walk
        accepting = words.accepting
        current = walk(0, text[start:end].lower())
        if current < 0:
            return None  # no entry starts with this word, alone or joined
        if end < n:
            joined = joined_with_separators = current
            previous_end = end
            for _ in range(self.lookahead):
                following = _WORD_RUN.search(text, previous_end)
                if following is None or following.start() >= n - 1:
                    break  # a last one-character word is never a "next word"
                next_start, next_end = following.span()
                if joined >= 0:
                    joined = walk(joined, text[next_start:next_end].lower())
                if joined_with_separators >= 0:
                    joined_with_separators = walk(
                        joined_with_separators, text[previous_end:next_end].lower()
                    )
                if (joined >= 0 and accepting[joined]) or (
                    joined_with_separators >= 0 and accepting[joined_with_separators]
                ):
                    return next_end
                if joined < 0 and joined_with_separators < 0:
                    break
                previous_end = next_end
        return end if accepting[current] else None
