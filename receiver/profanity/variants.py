"""The spellings strict mode adds to the word list: vowels dropped, ``ph`` for ``f``.

Below the stages (profanity, under dsl), under the strict matcher. Consumes the strict
entries and the :class:`~.lexicon.Lexicon` (with its table); produces the extra entries
(:func:`extra_entries`, each mapped to the listed entry it spells). Everything here runs
once, when a strict matcher is built: a request only walks the automaton these entries
are compiled into.

**Dropped vowels.** ``fck``, ``btch``, ``fckng``: a reader fills the vowels in only when
the consonants leave no other reading. For each listed entry of letters only, its
*skeleton* (the entry without the vowels ``a e i o u`` after its first letter) is
weighed against the lexicon's word counts: the other words with the same skeleton that
are not listed themselves are its rivals (``dck``: deck, duck, dock). The skeleton is
taken when

- it keeps at least three letters (``fk``, ``ck``, ``st``, ``pt`` never match), and is
  not an ordinary word of its own (see :func:`ordinary`: ``cnt`` is written for
  "count" more than a tenth as often as "cunt" is written at all);
- with three letters, the listed words sharing it are at least ten times as frequent as
  all rivals together (``fck``: fuck against feck; ``cck``: cock against cuckoo); with
  more, they are more frequent than the most frequent rival (``btch``: bitch against
  batch).

So ``sht`` (shot, sheet, shut, shoot), ``dck`` (deck, duck, dock), ``cnt`` (count,
cent, can't), ``slt``, ``whr`` and ``tts`` stay ordinary text. An entry whose skeleton
is taken is also matched with any single vowel dropped (``fcking``, ``fuckng``), when
that spelling is not an ordinary word (``penis`` -> ``pens`` is not).

**ph for f.** Each ``f`` of an entry may be written ``ph`` (``phuck``, ``phaggot``),
when the result is not an ordinary word (``phat``).
"""

from __future__ import annotations

from collections.abc import Iterable

import re2

from receiver.profanity.lexicon import Lexicon, raw_text

VOWELS = frozenset("aeiou")
_DROP_VOWELS = str.maketrans("", "", "aeiou")
_MIN_SKELETON = 3
_SHORT_DOMINANCE = 10  # a three-letter skeleton's listed words against all its rivals
_OWN_SHARE = 10  # a spelling written a tenth as often as its word is a word of its own
_OWN_COUNT = 1_000_000  # and so is one this frequent (the least frequent word: ~12,700)


def skeleton(word: str) -> str:
    """``word`` without the vowels after its first letter (``fuck`` -> ``fck``)."""
    return word[:1] + word[1:].translate(_DROP_VOWELS)


def ordinary(spelling: str, word_count: int, lexicon: Lexicon) -> bool:
    """Whether ``spelling`` is a word of its own rather than a way of writing a listed word
    written ``word_count`` times: it is written at least a tenth as often, or a million
    times (``cnt``, ``pens``, ``phat``; not ``fck``, ``fcking``)."""
    count = lexicon.count(spelling)
    return count > 0 and (count * _OWN_SHARE >= word_count or count >= _OWN_COUNT)


def skeleton_rivals(listed: frozenset[str], wanted: Iterable[str]) -> dict[str, list[int]]:
    """Skeleton -> the counts of the table's words with that skeleton that are not listed,
    for the ``wanted`` skeletons (one RE2 scan of the table file)."""
    alternatives = sorted(
        bones[0] + "".join(f"[aeiou]*{c}" for c in bones[1:]) + "[aeiou]*" for bones in wanted
    )
    if not alternatives:
        return {}
    pattern = re2.compile("(?m)^(" + "|".join(alternatives) + ")\t([0-9]+)$", re2.Options())
    rivals: dict[str, list[int]] = {}
    for found in pattern.finditer(raw_text()):
        word = found.group(1)
        bones = skeleton(word)
        # the skeleton written as it is (fck) is the spelling weighed, not a rival
        if word not in listed and word != bones:
            rivals.setdefault(bones, []).append(int(found.group(2)))
    return rivals


def readable_skeletons(entries: Iterable[str], lexicon: Lexicon) -> dict[str, str]:
    """Skeleton -> the listed entry it stands for, for the skeletons a reader can read."""
    letters = [e for e in entries if e.isascii() and e.isalpha()]
    listed = frozenset(letters)
    weight: dict[str, int] = {}
    owner: dict[str, str] = {}
    for entry in letters:
        bones = skeleton(entry)
        if bones == entry:
            continue
        weight[bones] = weight.get(bones, 0) + lexicon.count(entry)
        owner.setdefault(bones, entry)
    candidates = {
        bones
        for bones in owner
        if len(bones) >= _MIN_SKELETON
        and bones not in listed
        and not ordinary(bones, weight[bones], lexicon)
    }
    rivals = skeleton_rivals(listed, candidates)
    taken: dict[str, str] = {}
    for bones in sorted(candidates):
        entry = owner[bones]
        others = rivals.get(bones, [])
        mine = weight[bones]
        if len(bones) == _MIN_SKELETON:
            readable = mine >= _SHORT_DOMINANCE * sum(others) and (mine > 0 or not others)
        else:
            readable = mine > max(others, default=0) or not others
        if readable:
            taken[bones] = entry
    return taken


def extra_entries(entries: Iterable[str], lexicon: Lexicon) -> dict[str, str]:
    """Spelling -> listed entry: the readable skeletons, single dropped vowels, ``ph`` for ``f``."""
    entries = tuple(entries)
    listed = frozenset(entries)
    skeletons = readable_skeletons(entries, lexicon)
    extra: dict[str, str] = {}

    def add(spelling: str, entry: str) -> None:
        if spelling in listed or spelling in extra:
            return
        if not ordinary(spelling, lexicon.count(entry), lexicon):
            extra[spelling] = entry

    for bones, entry in skeletons.items():
        add(bones, entry)
    for entry in entries:
        if skeleton(entry) in skeletons:
            for i in range(1, len(entry)):
                if entry[i] in VOWELS:
                    add(entry[:i] + entry[i + 1 :], entry)
    for entry in entries:
        if "f" in entry and entry.isascii() and entry.isalpha():
            add(entry.replace("f", "ph"), entry)
    return extra
