"""A seeded generator of texts on which the fast matcher must agree with better-profanity.

Not a test module: ``tests/profanity/test_agreement.py`` imports it (pytest puts
``tests/`` on the path). Every category aims at a part of better-profanity's walk that
is easy to get wrong:

- ``prose``: clean sentences, with words that contain listed words (``classic``,
  ``Scunthorpe``) and pairs that join into one (``pen is``);
- ``entries``: every listed entry in turn, with random leetspeak stand-ins
  (``@ $ * 0 1 3 4 5 7``), mixed case, glued to punctuation or inside a sentence;
- ``split``: entries cut by separators (spaces, underscores, punctuation, several in a
  row), multi-word entries with their own and other separators, letter-by-letter
  spellings, and the end-of-text cases (a last one-character word);
- ``unicode``: better-profanity's Unicode word letters next to entries, characters
  whose lower case is another length or another letter (``İ``, the Kelvin sign ``K``,
  ``Σ``), zero-width characters, emoji, CJK, lone surrogates;
- ``edge``: empty, whitespace-only and one-character texts, ``****``, separators only;
- ``random``: random mixes of all of the above.
"""

from __future__ import annotations

import gzip
import json
import multiprocessing
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import better_profanity
from better_profanity import profanity

from receiver.profanity.wordlist import CHARS_MAPPING, WORD_CHARACTERS, default_words

CLEAN_WORDS = [
    "the",
    "a",
    "an",
    "and",
    "or",
    "but",
    "if",
    "then",
    "so",
    "as",
    "is",
    "it",
    "in",
    "on",
    "at",
    "to",
    "of",
    "for",
    "with",
    "by",
    "from",
    "up",
    "out",
    "hello",
    "world",
    "good",
    "game",
    "great",
    "stuff",
    "nice",
    "thanks",
    "please",
    "check",
    "new",
    "update",
    "team",
    "classic",
    "assassin",
    "Scunthorpe",
    "cocktail",
    "Essex",
    "Sussex",
    "Middlesex",
    "grape",
    "therapist",
    "analysis",
    "butterfly",
    "shell",
    "hello",
    "passion",
    "bass",
    "class",
    "mass",
    "cucumber",
    "document",
    "title",
    "Dickens",
    "shiitake",
    "Penistone",
    "arsenal",
    "cockpit",
    "peacock",
    "Hancock",
    "cumulative",
    "circumstance",
    "pen",
    "is",
    "an",
    "us",
    "as",
    "soon",
    "hell",
    "o",
    "night",
    "shift",
    "ho",
    "me",
    "bit",
    "ch",
    "sex",
    "tant",
    "god",
    "dess",
    "pot",
    "ato",
    "fat",
    "her",
    "ass",
    "ment",
    "con",
    "dom",
    "tit",
    "le",
    "cum",
    "in",
    "pu",
    "ssy",
    "willow",
]
SEPARATORS = (
    " ", "  ", "\t", "\n", "_", "-", ".", ",", "!", "?", "+", "/", "#", "~", "(", ")",
    "...", " - ", "_ _", ". ", "!!", "\u200b", "\u00a0", "😀", "中", "—", "’",
)  # fmt: skip
# Unicode characters that better-profanity treats as word letters, and some it does not.
UNICODE = (
    "é", "ß", "ø", "ñ", "ü", "Ж", "ж", "Σ", "σ", "ς", "İ", "ı", "\u212a", "\u212b", "ǅ",
    "ﬀ", "ａ", "Ａ", "中", "😀", "\u0301", "\u200d", "\ufeff", "\ud800", "\U0001d41f",
)  # fmt: skip
_UNICODE_LETTERS = sorted(c for c in WORD_CHARACTERS if not c.isascii())


def leet(rng: random.Random, word: str, rate: float) -> str:
    """``word`` with some characters swapped for a stand-in and some case changed."""
    out: list[str] = []
    for char in word:
        roll = rng.random()
        if char in CHARS_MAPPING and roll < rate:
            out.append(rng.choice(CHARS_MAPPING[char]))
        elif roll < rate * 1.5:
            out.append(char.upper())
        else:
            out.append(char)
    return "".join(out)


def _entry(rng: random.Random) -> str:
    return rng.choice(default_words())


def _sep(rng: random.Random) -> str:
    return rng.choice(SEPARATORS)


def prose(rng: random.Random) -> str:
    words = [rng.choice(CLEAN_WORDS) for _ in range(rng.randint(1, 8))]
    if rng.random() < 0.3:
        words = [w.capitalize() if rng.random() < 0.5 else w.upper() for w in words]
    text = " ".join(words)
    return text + rng.choice(("", ".", "!", "?", " ", "..."))


def entries(rng: random.Random, word: str | None = None) -> str:
    word = leet(rng, word or _entry(rng), rng.choice((0.0, 0.2, 0.5)))
    shape = rng.randrange(7)
    if shape == 0:
        return word
    if shape == 1:
        return f"{rng.choice(CLEAN_WORDS)} {word}{rng.choice(('', '!', '.', '?'))}"
    if shape == 2:
        return f"{word} {rng.choice(CLEAN_WORDS)}"
    if shape == 3:  # glued to punctuation
        left, right = rng.choice((("(", ")"), ("#", ""), ("", "!!"), ('"', '"'), ("'", "'")))
        return f"{left}{word}{right}"
    if shape == 4:
        return word + rng.choice(("s", "ing", "er", "'s", "y"))
    if shape == 5:
        return f"{rng.choice(CLEAN_WORDS)}{rng.choice(('', '-', '_'))}{word}"
    return f"{word}{_sep(rng)}{_entry(rng)}{rng.choice(('', ' ', '.'))}"


def split(rng: random.Random) -> str:
    word = leet(rng, _entry(rng), rng.choice((0.0, 0.2)))
    shape = rng.randrange(5)
    if shape == 0:  # letter by letter
        sep = _sep(rng)
        text = sep.join(word)
    elif shape == 1:  # one or two cuts
        cuts = sorted(rng.sample(range(1, len(word)), min(len(word) - 1, rng.randint(1, 2))))
        pieces = [word[i:j] for i, j in zip([0, *cuts], [*cuts, len(word)], strict=True)]
        text = "".join(p + _sep(rng) for p in pieces[:-1]) + pieces[-1]
    elif shape == 2:  # multi-word entries with other separators
        multi = [w for w in default_words() if any(c not in WORD_CHARACTERS for c in w)]
        chosen = leet(rng, rng.choice(multi), 0.1)
        text = "".join(_sep(rng) if c not in WORD_CHARACTERS else c for c in chosen)
        if rng.random() < 0.5:
            text = chosen
    elif shape == 3:  # words joined without separators
        text = word.replace(" ", rng.choice(("", "_", "  ", " ")))
    else:
        text = f"{rng.choice(CLEAN_WORDS)}{_sep(rng)}{word}{_sep(rng)}{rng.choice(CLEAN_WORDS)}"
    tail = rng.choice(("", "", " ", "!", f" {rng.choice('abcxyz')}", f" {rng.choice(CLEAN_WORDS)}"))
    head = rng.choice(("", "", " ", "  ", "> "))
    return head + text + tail


def unicode(rng: random.Random) -> str:
    word = leet(rng, _entry(rng), 0.2)
    extra = rng.choice(UNICODE) if rng.random() < 0.7 else rng.choice(_UNICODE_LETTERS)
    shape = rng.randrange(6)
    if shape == 0:
        return extra + word
    if shape == 1:
        return word + extra
    if shape == 2:
        cut = rng.randrange(1, max(2, len(word)))
        return word[:cut] + extra + word[cut:]
    if shape == 3:
        return f"{word} {extra}{rng.choice(CLEAN_WORDS)}"
    if shape == 4:
        return f"{extra} {word}{extra}"
    return "".join(rng.choice((*UNICODE, *_UNICODE_LETTERS[:50], " ", "a"))) * rng.randint(1, 3)


def edge(rng: random.Random) -> str:
    return rng.choice(
        (
            "",
            " ",
            "   ",
            "\n\t ",
            "a",
            "x ",
            " x",
            "****",
            "*** *",
            "!!!",
            "?",
            "...",
            "@",
            "$",
            "'",
            '"',
            "ass",
            " ass",
            "ass ",
            "f",
            "s-o-b",
            "s-o-b ",
            rng.choice(default_words()),
            " " * rng.randint(0, 5) + rng.choice("abcxyz@$*") + " " * rng.randint(0, 2),
        )
    )


def random_mix(rng: random.Random) -> str:
    parts: list[str] = []
    for _ in range(rng.randint(0, 6)):
        roll = rng.random()
        if roll < 0.3:
            parts.append(leet(rng, _entry(rng), 0.3))
        elif roll < 0.4:
            word = _entry(rng)
            cut = rng.randint(0, len(word))
            parts.append(word[:cut] + _sep(rng) + word[cut:])
        elif roll < 0.5:
            parts.append(rng.choice(UNICODE))
        else:
            parts.append(rng.choice(CLEAN_WORDS))
        parts.append(_sep(rng) if rng.random() < 0.7 else " ")
    text = "".join(parts)
    return text.rstrip() if rng.random() < 0.5 else text


CATEGORIES: dict[str, Callable[[random.Random], str]] = {
    "prose": prose,
    "entries": entries,
    "split": split,
    "unicode": unicode,
    "edge": edge,
    "random": random_mix,
}
# Share of the corpus per category; "entries" also goes through the whole list once
# whenever the corpus is large enough.
WEIGHTS = {"prose": 1, "entries": 4, "split": 3, "unicode": 2, "edge": 1, "random": 3}


def corpus(size: int, seed: int) -> Iterator[tuple[str, str]]:
    """``size`` (category, text) pairs, the same for the same seed."""
    rng = random.Random(seed)
    total = sum(WEIGHTS.values())
    produced = 0
    for name, weight in WEIGHTS.items():
        count = size * weight // total if name != "random" else size - produced
        make = CATEGORIES[name]
        every = list(default_words()) if name == "entries" and count >= len(default_words()) else []
        for i in range(count):
            if i < len(every):
                yield name, entries(rng, every[i])
            else:
                yield name, make(rng)
        produced += count


REFERENCE = Path(__file__).parent / "data" / "profanity_reference.jsonl.gz"
REFERENCE_SEED = 20261122


def _answer(text: str) -> tuple[str, bool]:
    return profanity.censor(text), bool(profanity.contains_profanity(text))


def record(size: int, seed: int = REFERENCE_SEED, path: Path = REFERENCE) -> None:
    """Write better-profanity's answers for ``corpus(size, seed)`` (slow: it is the library)."""
    items = list(corpus(size, seed))
    with multiprocessing.Pool() as pool:
        answers = pool.map(_answer, [text for _, text in items], chunksize=64)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as out:
        header = {"better_profanity": better_profanity.__version__, "seed": seed, "size": size}
        out.write(json.dumps(header) + "\n")
        for (category, text), (censored, profane) in zip(items, answers, strict=True):
            out.write(json.dumps([category, text, censored, profane]) + "\n")


def load_reference(path: Path = REFERENCE) -> tuple[dict[str, object], list[list[object]]]:
    """The recorded header and rows ``[category, text, censored, profane]``."""
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        header = json.loads(next(lines))
        return header, [json.loads(line) for line in lines]


if __name__ == "__main__":
    # python tests/profanity_corpus.py 24000: record better-profanity's answers.
    record(int(sys.argv[1]) if len(sys.argv) > 1 else 24_000)
