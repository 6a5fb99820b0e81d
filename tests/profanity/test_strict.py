"""receiver/profanity/strict.py: strict matching catches evasions, leaves clean text alone and
masks the characters the user typed. (normalize() is tested in test_normalize.py.)"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receiver.profanity import Matcher, StrictMatcher, matcher

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture(scope="module")
def strict() -> StrictMatcher:
    engine = matcher(strict=True)
    assert isinstance(engine, StrictMatcher)
    return engine


@pytest.fixture(scope="module")
def exact() -> Matcher:
    engine = matcher()
    assert isinstance(engine, Matcher)
    return engine


def families(name: str) -> dict[str, list[str]]:
    """A corpus file by family: ``# family: NAME`` lines start one (bench/profanity_corpora.py)."""
    found: dict[str, list[str]] = {}
    current = "unlabelled"
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        if line.startswith("# family: "):
            current = line.removeprefix("# family: ")
        elif line:
            found.setdefault(current, []).append(line)
    return found


def lines(name: str) -> list[str]:
    return [line for family in families(name).values() for line in family]


# -- strict matching ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "fuuuuck you",
        "shiiiiit",
        "a$$$ hole",
        "f.u.c.k",
        "f u c k",  # also at the very end, which better-profanity misses
        "f-u-c-k off",
        "f💩u💩c💩k",
        "fu\u200bck",
        "ｆｕｃｋ",
        "fück",
        "f\u0308u\u0336ck",
        "fuсk",  # Cyrillic es
        "fυcκ",  # Greek upsilon, kappa
        "𝐟𝐮𝐜𝐤",
        "ꜰᴜᴄᴋ",
        "🇫🇺🇨🇰",
        "sh!t",
        "$h|+",
        "*fuck*",
        "'fuck'",
        "b*i*t*c*h",
        "FUUUCK",
    ],
)
def test_strict_mode_catches_evasions(strict: StrictMatcher, text: str) -> None:
    assert strict.contains(text)


@pytest.mark.parametrize(
    "text",
    [
        "classic assassin in Scunthorpe",
        "a cocktail in Essex",
        "the therapist's analysis",
        "good game",
        "gooood morning",
        "noob",
        "sooo cool",
        "see you at 5 p.m. in the U.S.A.",
        "e.g. this, i.e. that",
        "*really* important",
        "Привет, как дела?",
        "Καλημέρα σε όλους",
        "café naïve",
        "hello",
        "",
    ],
)
def test_strict_mode_leaves_clean_text_alone(strict: StrictMatcher, text: str) -> None:
    assert not strict.contains(text)
    assert strict.censor(text) == text


def test_strict_mode_finds_everything_better_profanity_finds(
    strict: StrictMatcher, exact: Matcher
) -> None:
    for text in ["f*ck", "pen is", "2 girls 1 cup", "sh1t", "what the fuck", "s.h.i.t."]:
        assert exact.contains(text)
        assert strict.contains(text)


@pytest.mark.parametrize(
    ("text", "censored"),
    [
        ("oh fu\u200bck!", "oh ****!"),  # the zero-width space is masked with the word
        ("oh ｆｕｃｋ!", "oh ****!"),  # the original full-width letters are replaced
        ("oh f.u.c.k!", "oh ****!"),
        ("oh fuuuuck it", "oh **** it"),
        ("*fuck* this", "****** this"),  # the emphasis stars stay
        ("Straße fuсk", "Straße ****"),  # a character that normalizes to two stays whole
        ("f*ck and fuuuck", "**** and ****"),  # exact and strict matches together
    ],
)
def test_strict_censor_masks_the_original_characters(
    strict: StrictMatcher, text: str, censored: str
) -> None:
    assert strict.censor(text) == censored


# -- the corpora measured by bench/profanity.py ---------------------------------------------------


# The evasions strict mode lets through on purpose or does not see yet (README, "Known
# misses"): skeletons with common rivals (sht: shot, sheet; dck: deck, duck; cnt: count;
# vgn: vegan; prn, tts, bbs, rtrd, tssr: abbreviations or other words), one doubled
# letter of a three-letter word (ccum, like noob), a symbol after the last letter, "|"
# read as "l" rather than "i", a zero-width character inside a starred word, and glued
# strings that are a frequent word of their own (bigtits) or glued to a three-letter
# entry (littlecum).
KNOWN_MISSES = frozenset(
    (
        "what the sht",
        "cnt off",
        "what the dck",
        "lol slt.",
        "you pss",
        "you twt",
        "tts off",
        "lol vgina.",
        "stop being a vgn, seriously",
        "sknk",
        "lol rtrd.",
        "such a retrd!!",
        "lol TSSR.",
        "lol TSSER.",
        "what the whor",
        "such a pns!!",
        "stop being a BBS, seriously",
        "what the PRN",
        "ccum off",
        "whor·",
        "what the VAGIN•",
        "w|h|o|r|e",
        "what the t|w|a|t",
        "such a p*o*r*\u200c*n!!",
        "BIGTITS off",
        "you littlecum",
        "such a Bigcum!!",
    )
)


def test_strict_mode_catches_97_percent_of_the_evasion_corpus(
    strict: StrictMatcher, exact: Matcher
) -> None:
    evasions = lines("profanity_evasion.txt")
    assert len(evasions) >= 1000
    missed = {t for t in evasions if not strict.contains(t)}
    assert missed <= KNOWN_MISSES, sorted(missed - KNOWN_MISSES)
    assert len(missed) <= 0.03 * len(evasions)
    assert len(evasions) - len(missed) >= 2 * sum(map(exact.contains, evasions))


@pytest.mark.parametrize(
    "family",
    [
        "doubled letters",
        "dropped vowels",
        "symbol for a vowel",
        "glued words",
        "number leetspeak",
        "ph for f",
    ],
)
def test_every_family_of_issue_24_is_in_the_corpus_and_mostly_caught(
    strict: StrictMatcher, family: str
) -> None:
    texts = families("profanity_evasion.txt")[family]
    assert len(texts) >= 20
    caught = sum(map(strict.contains, texts))
    assert caught >= 0.7 * len(texts), [t for t in texts if not strict.contains(t)]


def test_strict_mode_false_positives_stay_at_better_profanitys_level(
    strict: StrictMatcher, exact: Matcher
) -> None:
    clean = lines("profanity_clean.txt")
    assert len(clean) >= 1000
    flagged_exact = [t for t in clean if exact.contains(t)]
    flagged_strict = [t for t in clean if strict.contains(t)]
    assert len(flagged_strict) <= len(flagged_exact), set(flagged_strict) - set(flagged_exact)


@pytest.mark.parametrize(
    "family",
    [
        "listed words inside words",
        "glued compounds of clean words",
        "abbreviations and vowel-less names",
        "the Scunthorpe list",
    ],
)
def test_strict_mode_flags_no_clean_trap_that_better_profanity_leaves_alone(
    strict: StrictMatcher, exact: Matcher, family: str
) -> None:
    texts = families("profanity_clean.txt")[family]
    assert len(texts) >= 15
    extra = [t for t in texts if strict.contains(t) and not exact.contains(t)]
    assert extra == []


# -- the families of issue 24, one table each: caught, and the clean look-alikes kept ---------

FAMILIES: dict[str, tuple[list[str], list[str]]] = {
    "doubled letters": (
        ["ffuucckk", "FFUUCCKK off", "you bbiittcchh", "sshhiitt", "fuckk you", "biitch",
         "ffuucccckkk", "wwhhoorree"],
        ["good game", "noob", "too cool", "assess the class", "committee", "bookkeeper",
         "Mississippi", "balloon", "coffee"],
    ),
    "dropped vowels": (
        ["fck", "fck you", "what the fck", "btch", "fcking idiot", "fckng", "bstrd",
         "mthrfckr", "FCKR"],
        ["st", "fk", "ck", "pt", "Mr Dck", "5th st and main", "pt 2", "CK One", "fk constraint",
         "sht", "cnt", "FCK Kaiserslautern", "qty 3 pcs, dept of mgmt", "pls thx", "idk tbh"],
    ),
    "symbol for a vowel": (
        ["f💥ck", "sh#t", "sh%t", "b¡tch", "f•cking", "c°ck", "f👁️ck off", "what the sh?t"],
        ["AT&T", "Q&A", "R&D", "b&w", "w/o", "and/or", "e-mail", "co-op", "24/7",
         "fish & chips", "5 p.m.", "hello :)", "#1 fan"],
    ),
    "glued words": (
        ["youfuckingidiot", "uglyshitface", "gofuckyourself", "#dumbcunt", "SHUTUPBITCH",
         "stupidbastardbag"],
        ["Scunthorpe", "cocktail", "Essex", "therapist", "assassin", "Matsushita",
         "shiitake", "cumulative", "Penistone", "Middlesex", "Clitheroe", "Hitchcock",
         "#classicassassin", "therapistoffice", "cocktailhour", "@middlesexcricket",
         "Sexta-feira, sextou!"],
    ),
    "number leetspeak": (
        ["5h17", "8itch", "b17ch", "d1ck", "c0ck", "a55hole", "wh0r3", "f4990t"],
        ["b4", "gr8", "m8", "l8r", "2nite", "4ever", "h8", "911", "route 66"],
    ),
    "ph for f": (
        ["phuck", "phucking idiot", "phag", "phaggot", "motherphucker"],
        ["phat beats", "phone", "photo", "philosophy", "graph", "Phoebe"],
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    ("family", "text"),
    [(family, text) for family, (caught, _) in FAMILIES.items() for text in caught],
)
def test_strict_mode_catches_each_family(strict: StrictMatcher, family: str, text: str) -> None:
    assert strict.contains(text), family
    assert strict.censor(text) != text


@pytest.mark.parametrize(
    ("family", "text"),
    [(family, text) for family, (_, clean) in FAMILIES.items() for text in clean],
)
def test_strict_mode_leaves_each_familys_look_alikes_alone(
    strict: StrictMatcher, family: str, text: str
) -> None:
    assert not strict.contains(text), (family, strict.censor(text))
    assert strict.censor(text) == text


@pytest.mark.parametrize(
    ("text", "censored"),
    [
        ("oh f💥ck!", "oh ****!"),  # the emoji in the vowel's place is masked with the word
        ("oh f👁️ck!", "oh ****!"),  # and its variation selector
        ("you ffuucckk", "you ****"),
        ("youfuckingidiot", "you****idiot"),  # only the listed word of a glued string
        ("5h17 happens", "**** happens"),
        ("fck this", "**** this"),
    ],
)
def test_strict_censor_masks_what_the_user_typed_for_the_new_families(
    strict: StrictMatcher, text: str, censored: str
) -> None:
    assert strict.censor(text) == censored


# -- properties -------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_censor_masks_exactly_the_found_spans_of_the_typed_text(text: str) -> None:
    engine = matcher(strict=True)
    assert isinstance(engine, StrictMatcher)
    spans = engine.spans(text)
    assert all(0 <= a < b <= len(text) for a, b in spans)
    assert all(b1 <= a2 for (_, b1), (a2, _) in itertools.pairwise(spans))
    censored = engine.censor(text)
    # everything outside the spans is the typed text, each span one ****
    rebuilt: list[str] = []
    done = 0
    for a, b in spans:
        rebuilt.append(text[done:a])
        rebuilt.append("****")
        done = b
    rebuilt.append(text[done:])
    assert censored == "".join(rebuilt)
    assert engine.contains(text) == bool(spans) or engine.exact.contains(text)


WORDS = st.sampled_from(
    ["fuck", "shit", "bitch", "you", "idiot", "the", "class", "good", "noob", "hello", "cock",
     "tail", "ass", "assassin", "sex", "essex", "fck", "btch", "5h17", "f💥ck", "ffuucckk"]
)  # fmt: skip
SEPARATORS = st.sampled_from(["", " ", "  ", ".", "-", "#", "💥", "\u200b", "!", "?", ", "])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(WORDS, SEPARATORS), max_size=8))
def test_strict_finds_everything_normal_mode_finds(parts: list[tuple[str, str]]) -> None:
    text = "".join(w + s for w, s in parts)
    engine = matcher(strict=True)
    assert isinstance(engine, StrictMatcher)
    if engine.exact.contains(text):
        assert engine.contains(text)
    for a, b in engine.exact.spans(text):  # each exact span lies inside a strict one
        assert any(x <= a and b <= y for x, y in engine.spans(text))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_strict_mode_answers_any_unicode_text(text: str) -> None:
    engine = matcher(strict=True)
    assert isinstance(engine, StrictMatcher)
    assert isinstance(engine.contains(text), bool)
    assert isinstance(engine.censor(text), str)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=60))
def test_glued_split_ranges_lie_inside_the_run(run: str) -> None:
    engine = matcher(strict=True)
    assert isinstance(engine, StrictMatcher)
    found = engine.splitter.glued_words(run, engine._listed_ends)
    assert all(0 <= a < b <= len(run) for a, b in found)
    assert found == sorted(found)
