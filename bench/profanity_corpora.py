"""Writes the evasion and clean-text corpora that ``bench/profanity.py --evasion`` measures.

    python bench/profanity_corpora.py        # rewrites tests/data/profanity_*.txt

Both files are committed (the tests read them too), so figures do not move when this
script changes; rerun it only to change the corpora on purpose.

- ``profanity_evasion.txt``: messages that hide a listed word from a filter, one per
  line: 40 common entries of better-profanity's list, each through 16 techniques users
  rely on (full-width letters, zero-width characters, diacritics, Cyrillic and Greek
  look-alikes, stretched letters, separators inside the word, mathematical and small
  capital letters, regional indicators, ``! |`` for ``i``, emphasis, and mixes of
  them), in short message templates. Every line should be caught.
- ``profanity_clean.txt``: messages that should not be caught: sentences with words that
  contain a listed word (``classic``, ``assassin``, ``Scunthorpe``), chat with
  stretched letters, dotted abbreviations and emphasis, text in other languages and
  scripts, and plain English prose (sentences of the Python standard library's own
  documentation strings, a large, stable, clean source).
"""

from __future__ import annotations

import importlib
import random
import re
import sys
import unicodedata
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"

BASE_WORDS = (
    "fuck", "shit", "bitch", "cunt", "asshole", "dick", "pussy", "bastard", "whore",
    "slut", "cock", "motherfucker", "bullshit", "piss", "twat", "wanker", "fucking",
    "fucker", "dickhead", "douchebag", "jackass", "prick", "tosser", "arsehole",
    "shithead", "nigger", "faggot", "retard", "dumbass", "skank", "tits", "boobs",
    "penis", "vagina", "porn", "blowjob", "handjob", "cum", "dildo", "horny",
)  # fmt: skip
TEMPLATES = (
    "{w}",
    "you {w}",
    "what the {w}",
    "{w} off",
    "such a {w}!!",
    "omg {w} this game",
    "lol {w}.",
    "stop being a {w}, seriously",
)
CYRILLIC = dict(zip("aceopxyis", "асеорхуіѕ", strict=True))
GREEK = {"a": "α", "o": "ο", "i": "ι", "k": "κ", "t": "τ", "u": "υ", "v": "ν", "n": "η"}
ACCENTS = {"a": "á", "e": "é", "i": "í", "o": "ö", "u": "ü", "c": "ç", "n": "ñ", "s": "ş"}
INVISIBLE = ("\u200b", "\u200c", "\u200d", "\u2060", "\u00ad", "\ufeff")
SEPARATORS = (".", "-", " ", "_", "*", "/", "~", "💩", ". ", "|")
SMALL_CAPS = dict(zip("abcdefghijklmnopqrstuvwxyz", "ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘǫʀꜱᴛᴜᴠᴡxʏᴢ", strict=True))


def fullwidth(w: str, rng: random.Random) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalpha() else c for c in w)


def zero_width(w: str, rng: random.Random) -> str:
    cut = rng.randrange(1, len(w))
    return w[:cut] + rng.choice(INVISIBLE) + w[cut:]


def zero_width_everywhere(w: str, rng: random.Random) -> str:
    return rng.choice(INVISIBLE).join(w)


def diacritics(w: str, rng: random.Random) -> str:
    spots = [i for i, c in enumerate(w) if c in ACCENTS] or [0]
    i = rng.choice(spots)
    return w[:i] + ACCENTS.get(w[i], w[i] + "\u0301") + w[i + 1 :]


def combining(w: str, rng: random.Random) -> str:
    return "".join(c + rng.choice(("\u0301", "\u0308", "\u0336")) for c in w)


def cyrillic(w: str, rng: random.Random) -> str:
    return "".join(CYRILLIC.get(c, c) if rng.random() < 0.7 else c for c in w)


def greek(w: str, rng: random.Random) -> str:
    out = "".join(GREEK.get(c, c) if rng.random() < 0.7 else c for c in w)
    return out if out != w else cyrillic(w, rng)


def stretched(w: str, rng: random.Random) -> str:
    i = rng.randrange(len(w))
    return w[:i] + w[i] * rng.randint(3, 7) + w[i + 1 :]


def stretched_all(w: str, rng: random.Random) -> str:
    return "".join(c * rng.randint(1, 4) for c in w)


def separated(w: str, rng: random.Random) -> str:
    return rng.choice(SEPARATORS).join(w)


def split_once(w: str, rng: random.Random) -> str:
    cut = rng.randrange(1, len(w))
    return w[:cut] + rng.choice((" ", ".", "-", "_", " . ")) + w[cut:]


def math_bold(w: str, rng: random.Random) -> str:
    base = rng.choice((0x1D41A, 0x1D44E, 0x1D4EA, 0x1D5BA, 0x1D68A))  # bold, italic, ...

    def letter(c: str) -> str:
        code = base + ord(c) - ord("a")
        return chr(code) if unicodedata.name(chr(code), "") else c  # italic h is a hole

    return "".join(letter(c) if "a" <= c <= "z" else c for c in w)


def small_caps(w: str, rng: random.Random) -> str:
    return "".join(SMALL_CAPS.get(c, c) for c in w)


def regional(w: str, rng: random.Random) -> str:
    return "".join(chr(0x1F1E6 + ord(c) - ord("a")) if "a" <= c <= "z" else c for c in w)


def bang_leet(w: str, rng: random.Random) -> str:
    for old, new in (("i", rng.choice("!|")), ("l", "|"), ("t", "+"), ("a", "@"), ("s", "$")):
        w = w.replace(old, new)
    return w.replace("u", "v") if w.isalpha() else w


def emphasis(w: str, rng: random.Random) -> str:
    return rng.choice(("*{}*", "'{}'", '"{}"', "_{}_", "**{}**")).format(w)


def mixed(w: str, rng: random.Random) -> str:
    first, second = rng.sample(
        [fullwidth, zero_width, diacritics, cyrillic, stretched, separated, math_bold], 2
    )
    if first is separated:
        first, second = second, first
    return second(first(w, rng), rng)


TECHNIQUES = (
    fullwidth,
    zero_width,
    zero_width_everywhere,
    diacritics,
    combining,
    cyrillic,
    greek,
    stretched,
    stretched_all,
    separated,
    split_once,
    math_bold,
    small_caps,
    regional,
    bang_leet,
    emphasis,
    mixed,
)


def evasions(seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    lines: list[str] = []
    for word in BASE_WORDS:
        for technique in TECHNIQUES:
            hidden = technique(word, rng)
            if rng.random() < 0.3:
                hidden = hidden.upper() if technique in (stretched, separated) else hidden
            lines.append(rng.choice(TEMPLATES).format(w=hidden))
    return lines


CLEAN_HANDWRITTEN = """\
That was a classic move by the assassin in the last level.
We drove through Scunthorpe and Penistone on the way to Essex.
My therapist says the analysis of the cocktail party went well.
The butterfly landed on a shell by the grape vines.
Sussex and Middlesex are counties; so is Essex.
He plays bass in a band with a passion for class.
The cucumber sandwich document is titled Cumulative Circumstances.
Hancock flew the cockpit past the peacock at Arsenal.
Please pass the shiitake mushrooms and the scrapbook.
The assistant will assess the assignment on Tuesday.
A cockatoo and a cockroach met a cocker spaniel.
Title IX covers this; see the titles at the bottom.
Dickens wrote about the Dickensian era of Middlesex.
I need to analyse the analytics before the analyst call.
The hotel manager mentioned the document is in the sextant case.
She is a specialist in documentation and compass repair.
Let's grab a Coke at the Shell station near Cockermouth.
The raccoon hid behind the bassoon in the classroom.
Matsushita and Hitachi sell pitchers, kitchens and sushi.
We built a class hierarchy with a pass-through method.
sooo good!!! thanks everyone
yesss we won the match
nooooo my internet died
gooood morning team
helloooo is anyone there
that was cooool
it's sooooo hot today
wow that's amaaazing
see you at 5 p.m. in the U.S.A. office, e.g. room 4
p.s. the meeting moved, i.e. it starts at 3
N.A.S.A. and the F.B.I. were mentioned in the doc
*really* important: read the *whole* thread
I said 'hello' and she said "hi"
_emphasis_ and **bold** both work here
b e a u t i f u l day today
c-o-o-l, see you later
Great game, GG everyone!
Can someone help me with the homework for class?
The new update fixed the lag, thanks devs.
Happy birthday! Have a great day.
I'll be late, traffic is terrible.
Does anyone know when the event starts?
Welcome to the server, please read the rules.
Привет, как дела? Всё хорошо, спасибо.
Сегодня хорошая погода, пойдём гулять.
Я купил новый телефон и он отлично работает.
Γεια σου, τι κάνεις; Όλα καλά.
Καλημέρα σε όλους, καλή εβδομάδα.
Hola, ¿cómo estás? Muy bien, gracias.
La película fue fantástica y el público aplaudió.
Bonjour à tous, je suis très content aujourd'hui.
Ça va bien, merci beaucoup pour votre aide.
Guten Morgen, wie geht es dir? Mir geht es gut.
Die Straße ist heute sehr voll.
Merhaba, nasılsın? Çok iyiyim, teşekkürler.
Dzień dobry, jak się masz? Wszystko w porządku.
Olá, tudo bem? Estou ótimo, obrigado.
Ciao, come stai? Sto benissimo, grazie.
こんにちは、元気ですか？
你好，今天天气很好。
안녕하세요, 반갑습니다.
مرحبا، كيف حالك؟
שלום, מה שלומך?
नमस्ते, आप कैसे हैं?
Xin chào, bạn khỏe không?
Hej, hur mår du? Jag mår bra.
ｆｕｌｌ ｗｉｄｔｈ ｔｅｘｔ ｉｓ ｆｉｎｅ ｔｏｏ
𝐛𝐨𝐥𝐝 𝐦𝐚𝐭𝐡 𝐥𝐞𝐭𝐭𝐞𝐫𝐬 𝐡𝐞𝐫𝐞
ꜱᴍᴀʟʟ ᴄᴀᴘꜱ ᴀʀᴇ ᴄᴜᴛᴇ
🇫🇷 🇩🇪 🇺🇸 flags for the teams
café naïve résumé coöperate façade
zero\u200bwidth joiners in emoji 👨\u200d👩\u200d👧 are normal
"""

DOC_MODULES = (
    "argparse", "asyncio", "collections", "contextlib", "csv", "dataclasses", "datetime",
    "decimal", "difflib", "email", "enum", "fractions", "functools", "heapq", "http.client",
    "inspect", "ipaddress", "itertools", "json", "logging", "pathlib", "pickle", "queue",
    "random", "shutil", "socket", "statistics", "string", "subprocess", "tarfile",
    "textwrap", "threading", "unittest", "urllib.parse", "uuid", "zipfile",
)  # fmt: skip


def documentation_sentences(count: int, seed: int = 2) -> list[str]:
    """Plain English sentences from standard-library docstrings."""
    found: dict[str, None] = {}
    for name in DOC_MODULES:
        module = importlib.import_module(name)
        texts = [module.__doc__ or ""]
        for attribute in sorted(vars(module)):
            doc = getattr(getattr(module, attribute), "__doc__", None)
            if isinstance(doc, str) and not attribute.startswith("_"):
                texts.append(doc)
        for text in texts:
            flat = " ".join(text.split())
            for sentence in re.split(r"(?<=[.!?])\s+", flat):
                plain = not re.search(r"[<>{}\[\]=|\\`]|>>>|\.\.\.|__|http", sentence)
                if plain and 40 <= len(sentence) <= 200 and sentence[0].isupper():
                    found[sentence] = None
    sentences = sorted(found)
    random.Random(seed).shuffle(sentences)
    return sentences[:count]


def clean() -> list[str]:
    return CLEAN_HANDWRITTEN.splitlines() + documentation_sentences(900)


def main() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    (DATA / "profanity_evasion.txt").write_text("\n".join(evasions()) + "\n", encoding="utf-8")
    (DATA / "profanity_clean.txt").write_text("\n".join(clean()) + "\n", encoding="utf-8")
    print(f"wrote {len(evasions())} evasions and {len(clean())} clean lines to {DATA}")


if __name__ == "__main__":
    sys.exit(main())
