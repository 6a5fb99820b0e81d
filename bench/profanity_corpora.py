"""Writes the evasion and clean-text corpora that ``bench/profanity.py --evasion`` measures.

    python bench/profanity_corpora.py          # rewrites tests/data/profanity_*.txt
    python bench/profanity_corpora.py --check  # exit 1 if the committed files differ

The dropped-vowel family reads symspellpy's English word list (a dev dependency).

Both files are committed (the tests read them too), so figures do not move when this
script changes; rerun it only to change the corpora on purpose.

Both files are one message per line, in sections: a line ``# family: NAME`` starts the
messages of that family (for the clean file, of that kind of trap), and the bench and the
tests report per family. A file without such lines is one family, ``unlabelled``.

- ``profanity_evasion.txt``: messages that hide a listed word from a filter: 40 common
  entries of better-profanity's list, each through 16 techniques users rely on
  (full-width letters, zero-width characters, diacritics, Cyrillic and Greek look-alikes,
  stretched letters, separators inside the word, mathematical and small capital
  letters, regional indicators, ``! |`` for ``i``, emphasis, and mixes of them), in short
  message templates; then the families of issue 24 (doubled letters, dropped vowels, a
  symbol or emoji for a vowel, listed words glued into longer strings, number
  leetspeak, ``ph`` for ``f``). Every line should be caught; the README lists what is
  not (known misses).
- ``profanity_clean.txt``: messages that should not be caught: sentences with words that
  contain a listed word (``classic``, ``assassin``, ``Scunthorpe``), chat with
  stretched letters, dotted abbreviations and emphasis, text in other languages and
  scripts, plain English prose (sentences of the Python standard library's own
  documentation strings, a large, stable, clean source); then the traps of issue 24:
  listed words inside common words of several languages, glued compounds of clean words
  (hashtags, user names), abbreviations and names that look like a word with its vowels
  dropped (``st``, ``fk``, ``ck``, ``pt``, ``Dck``), and the Scunthorpe list.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import importlib.resources
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


def evasions(seed: int = 1) -> dict[str, list[str]]:
    """Family name -> its evasion messages."""
    rng = random.Random(seed)
    families: dict[str, list[str]] = {t.__name__.replace("_", " "): [] for t in TECHNIQUES}
    for word in BASE_WORDS:
        for technique in TECHNIQUES:
            hidden = technique(word, rng)
            if rng.random() < 0.3:
                hidden = hidden.upper() if technique in (stretched, separated) else hidden
            families[technique.__name__.replace("_", " ")].append(
                rng.choice(TEMPLATES).format(w=hidden)
            )
    families.update(issue_24_evasions(seed))
    return families


# -- the families of issue 24 (a generator of their own, so the lines above do not move) ---

VOWELS = "aeiou"
# What people type in place of a vowel (one character, or an emoji with its selector).
VOWEL_SYMBOLS = (
    "#", "%", "^", "&", "?", "~", "¡", "•", "·", "°", "¤", "§", "💥", "❤️", "👁️", "⭐",
    "☆", "○", "◯", "🔥", "💀", "🍆", "♡", "√",
)  # fmt: skip
NUMBER_LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7", "b": "8", "g": "9"}
GLUE_BEFORE = (
    "you", "ugly", "stupid", "dumb", "total", "big", "fat", "lazy", "little", "such",
    "what", "shut", "go", "this", "old", "your", "silly", "crazy",
)  # fmt: skip
GLUE_AFTER = (
    "face", "head", "idiot", "you", "off", "bag", "brain", "show", "boy", "life",
    "hole", "fest", "storm", "lord", "machine",
)  # fmt: skip
PH_WORDS = ("fuck", "fucking", "fucker", "motherfucker", "faggot", "fag", "fucked", "fuk")


def doubled(w: str, rng: random.Random) -> str:
    """Every letter twice (``ffuucckk``), sometimes a letter three or four times."""
    return "".join(c * (2 if rng.random() < 0.8 else rng.randint(3, 4)) for c in w)


def doubled_one(w: str, rng: random.Random) -> str:
    """One letter doubled (``fuckk``, ``biitch``)."""
    i = rng.randrange(len(w))
    return w[:i] + w[i] + w[i:]


def dropped_vowels(w: str, rng: random.Random) -> str:
    """Every vowel after the first letter dropped (``fck``, ``btch``, ``mthrfckr``)."""
    return w[0] + "".join(c for c in w[1:] if c not in VOWELS)


def dropped_vowel(w: str, rng: random.Random) -> str:
    """One vowel dropped (``fckin``, ``bastrd``)."""
    spots = [i for i, c in enumerate(w) if c in VOWELS and i > 0]
    i = rng.choice(spots)
    return w[:i] + w[i + 1 :]


def reader_sees(hidden: str) -> bool:
    """Whether a reader can still see a listed word in a dropped-vowel form: it keeps three
    letters or more and is not an ordinary word (``penis`` -> ``pens``, ``boobs`` ->
    ``bobs``, ``cum`` -> ``cm`` are not evasions)."""
    return len(hidden) >= 3 and hidden not in english_words()


@functools.cache
def english_words() -> frozenset[str]:
    """The words of symspellpy's English frequency dictionary."""
    data = importlib.resources.files("symspellpy") / "frequency_dictionary_en_82_765.txt"
    return frozenset(line.split()[0] for line in data.read_text(encoding="utf-8").splitlines())


def symbol_vowel(w: str, rng: random.Random) -> str:
    """One vowel replaced by a symbol or an emoji (``f💥ck``, ``sh#t``)."""
    spots = [i for i, c in enumerate(w) if c in VOWELS and i > 0] or [
        i for i, c in enumerate(w) if c in VOWELS
    ]
    i = rng.choice(spots)
    return w[:i] + rng.choice(VOWEL_SYMBOLS) + w[i + 1 :]


def glued(w: str, rng: random.Random) -> str:
    """The word glued to ordinary words (``youfuckingidiot``, ``uglyshitface``)."""
    shape = rng.randrange(3)
    before, after = rng.choice(GLUE_BEFORE), rng.choice(GLUE_AFTER)
    text = (before + w, w + after, before + w + after)[shape]
    return rng.choice((text, text, "#" + text, text.capitalize()))


def number_leet(w: str, rng: random.Random) -> str:
    """Digits for letters (``5h17``, ``8itch``; words without such letters are left out)."""
    out = "".join(NUMBER_LEET.get(c, c) if rng.random() < 0.75 else c for c in w)
    return out if out != w else "".join(NUMBER_LEET.get(c, c) for c in w)


def ph_for_f(w: str, rng: random.Random) -> str:
    """``ph`` for ``f`` (``phuck``), with another trick sometimes."""
    out = w.replace("f", "ph")
    return (
        out if rng.random() < 0.6 else rng.choice((stretched, doubled_one, symbol_vowel))(out, rng)
    )


ISSUE_24 = {
    "doubled letters": (doubled, doubled_one),
    "dropped vowels": (dropped_vowels, dropped_vowel),
    "symbol for a vowel": (symbol_vowel,),
    "glued words": (glued, glued),
    "number leetspeak": (number_leet,),
}


def issue_24_evasions(seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed + 24)
    families: dict[str, list[str]] = {name: [] for name in ISSUE_24}
    for name, techniques in ISSUE_24.items():
        for word in BASE_WORDS:
            for technique in techniques:
                if technique is dropped_vowel and sum(c in VOWELS for c in word[1:]) < 2:
                    continue  # one vowel dropped from a one-vowel word: that is dropped_vowels
                if technique is number_leet and not set(word) & set(NUMBER_LEET):
                    continue
                hidden = technique(word, rng)
                if technique in (dropped_vowels, dropped_vowel) and not reader_sees(hidden):
                    continue
                if rng.random() < 0.2:
                    hidden = hidden.upper()
                families[name].append(rng.choice(TEMPLATES).format(w=hidden))
    families["ph for f"] = [
        rng.choice(TEMPLATES).format(w=ph_for_f(word, rng)) for word in PH_WORDS for _ in range(3)
    ]
    return families


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


# Clean traps of issue 24: listed words (or their skeletons) inside ordinary text.
CLEAN_INSIDE_WORDS = """\
The classic assassin passed the class assessment with a passionate speech.
Scunthorpe, Penistone, Middlesex and Essex all appear on the old railway map.
A cocktail of shiitake, cucumber and cumulative therapy notes from the therapist.
Matsushita shipped the analysis to Hitchcock, Hancock and Babcock by Tuesday.
The peacock in the cockpit of the shuttlecock factory was a cockatoo.
Sussex cricket club plays at Hove; the Wessex trains stop at Dorchester.
Our titular character holds the title; the titmouse and the titanium bike were stolen.
The documentation describes circumstances of a cumbersome accumulator.
Pass the scrapbook and the grapefruit, and mind the drapes.
Bassist, bassoonist and classicist walked into the embassy.
Butterscotch, button and buttress: the butler knows them all.
He is a specialist in Dickensian literature and pickled cucumbers.
Die Analyse der Dickichte im Fahrtenbuch ergab nichts; der Schiffsrumpf ist dicht.
Hast du das Klassenbuch gesehen? Die Passage ist assoziativ.
Slutet av filmen var bra, och slutsatsen är tydlig.
Jeg kjørte i full fart gjennom byen, fartsgrensen var 50.
Je kunt het dak zien vanaf de dikke boom in de klas.
Le conseil municipal a voté pour le concours de pétanque.
La passata di pomodoro e il basso continuo della classe.
El análisis de la clase de assamblea fue fantástico.
A análise dos documentos foi feita pelo assistente na sexta-feira.
Sexta-feira, sextou! Seis semanas de sextante e sexteto.
Il sesso degli angeli e la cassata siciliana.
Shitake and Shiitake are both spelled on the menu at Matsushita's restaurant.
Pissarro painted Pontoise; Dick Van Dyke danced; Moby-Dick sailed.
"""

CLEAN_GLUED = """\
#classicassassin was trending after the match
follow @grapejuicelover and @therapistoffice for updates
#cocktailhour at the #shellfishbar tonight
my username is passwordreset_helper, please add me
we use the hashtag #analysisparalysis for slow teams
#ThrowbackThursday to the #ButterflyEffect tour
visit scrapbookingsupplies.com for the sale
#titleholder again, what a season for the peacockfeathers crew
classroomassistant and documentupload are the new bots
#pissarroexhibit opens at the musée next week
#hitchcockfilms marathon this weekend
bassguitarlessons every Monday at the community centre
#shiitakerecipes and #cumulativescores from yesterday
#middlesexcricket beat #essexcricket by three wickets
the file is named cockpitchecklist_final_v2.pdf
"""

CLEAN_ABBREVIATIONS = """\
meet me at 5th st and main
see pt 2 of the guide, then pt 3
the fk constraint on the orders table failed
I bought a bottle of CK One at the airport
Mr Dck and Ms Dck signed the lease
pls send the pdf asap, thx
idk tbh, ngl it was fine
the cnt column counts the rows
qty 3 pcs, dept of mgmt, bldg 4
the mtg is tmrw at 10
St. Louis and St. Paul are on the list
CK and FK are both in the schema diagram
Pt. Reyes is beautiful in spring
the btw and fyi in the chat are fine
our dck file format stores the deck layout
smh lol brb gtg
FCK Nürnberg? No, 1. FC Kaiserslautern is called FCK.
the hr dept sent the pto policy
sht and sts are the sheet and sheets tabs in the spreadsheet app
"""

SCUNTHORPE = (
    "Scunthorpe", "cocktail", "Essex", "therapist", "assassin", "Matsushita", "shiitake",
    "cumulative", "Penistone", "Middlesex", "Sussex", "Cockermouth", "Clitheroe",
    "Arsenal", "analysis", "class", "grape", "document", "title", "Dickens", "Hancock",
    "Hitchcock", "peacock", "shuttlecock", "butterfly", "passion", "pass", "bass",
    "assume", "cucumber", "circumstance", "scrap", "sextant", "Sextus", "hello", "shell",
    "pistachio", "therapists", "assassinate", "cocktails", "Lightwater", "Penistone Road",
)  # fmt: skip


def clean() -> dict[str, list[str]]:
    """Kind of clean text -> its messages."""
    return {
        "chat, other languages and scripts": CLEAN_HANDWRITTEN.splitlines(),
        "listed words inside words": CLEAN_INSIDE_WORDS.splitlines(),
        "glued compounds of clean words": CLEAN_GLUED.splitlines(),
        "abbreviations and vowel-less names": CLEAN_ABBREVIATIONS.splitlines(),
        "the Scunthorpe list": [f"{word}" for word in SCUNTHORPE]
        + [f"I live near {word} and love it." for word in SCUNTHORPE],
        "prose": documentation_sentences(900),
    }


def render(families: dict[str, list[str]]) -> str:
    """The corpus file: each family's lines after a ``# family: NAME`` line."""
    out: list[str] = []
    for name, lines in families.items():
        out.append(f"# family: {name}")
        out.extend(lines)
    return "\n".join(out) + "\n"


def read(path: Path) -> dict[str, list[str]]:
    """A corpus file as :func:`render` writes it (lines before any header: ``unlabelled``)."""
    families: dict[str, list[str]] = {}
    current = "unlabelled"
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# family: "):
            current = line.removeprefix("# family: ").strip()
            families.setdefault(current, [])
        elif line:
            families.setdefault(current, []).append(line)
    return families


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the committed corpora differ from what this script makes",
    )
    args = parser.parse_args()
    caught, kept = evasions(), clean()
    texts = {"profanity_evasion.txt": render(caught), "profanity_clean.txt": render(kept)}
    if args.check:
        stale = [n for n, t in texts.items() if (DATA / n).read_text(encoding="utf-8") != t]
        for name in stale:
            print(f"{DATA / name} differs from what bench/profanity_corpora.py makes")
        return 1 if stale else 0
    DATA.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (DATA / name).write_text(text, encoding="utf-8")
    count = sum(map(len, caught.values())), sum(map(len, kept.values()))
    print(f"wrote {count[0]} evasions and {count[1]} clean lines to {DATA}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
