"""profane()/censor(): the receiver's matcher side by side with better-profanity 0.7.0.

Run from the repository root::

    python bench/profanity.py                 # speed, build time, memory
    python bench/profanity.py --evasion       # also the evasion / false-positive rates
    python bench/profanity.py --rounds 7 --seed 3

Speed: each message is censored by better-profanity (``profanity.censor``; its
``contains_profanity`` is ``censor`` plus a comparison) and by the receiver's matcher
(``censor`` and ``contains``), interleaved in the same process, round after round, in a
seeded random order. The matcher's calls are repeated many times per sample (they take
microseconds) and averaged; the ratio is better-profanity's median over the matcher's.
Messages: 70 characters and 2 KB, clean and with profanity, plus a 2 KB message with
accented and non-Latin text.

Start-up: building ``Matcher(default list)`` from scratch (median of several builds),
and ``StrictMatcher`` on top of it. Memory: in a fresh interpreter, the growth of the
resident set size (RSS) from importing ``receiver.profanity`` to a built matcher that
has then censored thousands of varied texts (RE2's automata grow as they see text), and
the Python heap allocated by the build (tracemalloc).

Evasion (``--evasion``): the share of ``tests/data/profanity_evasion.txt`` (listed
words hidden by full-width letters, zero-width characters, accents, look-alikes,
stretched letters, separators, doubled letters, dropped vowels, glued words, ...) that
each anchor (better-profanity 0.7.0 and alt-profanity-check, a scikit-learn model),
``profane(text)`` and ``profane(text, strict=true)`` catch, per family and in all, and
the share of ``tests/data/profanity_clean.txt`` each flags (false positives), per kind
of trap. ``bench/profanity_corpora.py`` wrote both files; ``--evasion-file`` and
``--clean-file`` measure others (one message per line; ``# family: NAME`` lines start
a family, optional). Without alt-profanity-check installed (``pip install -e '.[bench]'``)
its column says why it is missing.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from better_profanity import profanity as better_profanity

from receiver.profanity import Matcher, StrictMatcher, default_words, matcher

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"

SHORT_CLEAN = "Hey everyone, check out the new update for the game, it is great stuff"
SHORT_PROFANE = "Hey everyone, check out this fucking update, the new map is total shit"
SENTENCES = (
    "Thanks for the quick reply, I will try that tonight and report back.",
    "The new patch fixed the login bug but the lobby still lags on weekends.",
    "Does anyone know if the tournament starts at six or at seven this time?",
    "I think the second boss is much easier if you bring two healers along.",
    "Please read the pinned message before posting questions in this channel.",
    "My internet was down all morning, so I missed the raid, sorry everyone.",
    "We should organise a meetup next month, maybe somewhere in the city centre.",
    "The classic maps were better, but the assassin class is fun to play now.",
    "Has anybody tried the analysis tool that the moderators shared yesterday?",
    "Congratulations to the winners, that final round was incredibly close.",
)
PROFANE_BITS = ("what the fuck", "this is shit", "you absolute bastard", "damn it")
UNICODE_BITS = (
    "Café au lait, s'il vous plaît, et une crêpe.",
    "Привет всем, как дела сегодня?",
    "Καλημέρα σε όλους τους φίλους.",
    "今日はいい天気ですね。",
    "Grüße aus München und Zürich!",
)


def two_kb(rng: random.Random, extra: tuple[str, ...] = (), every: int = 0) -> str:
    parts: list[str] = []
    while sum(len(p) + 1 for p in parts) < 2000:
        parts.append(rng.choice(SENTENCES))
        if every and len(parts) % every == 0:
            parts.append(rng.choice(extra))
    return " ".join(parts)[:2048]


def messages(seed: int) -> dict[str, str]:
    rng = random.Random(seed)
    return {
        "70 chars, clean": SHORT_CLEAN,
        "70 chars, profane": SHORT_PROFANE,
        "2 KB, clean": two_kb(rng),
        "2 KB, profane": two_kb(rng, PROFANE_BITS, every=8),
        "2 KB, mixed scripts": two_kb(rng, UNICODE_BITS, every=3),
    }


def per_call(fn: Callable[[str], object], text: str, repeat: int) -> float:
    """Seconds per call of ``fn(text)``, averaged over ``repeat`` calls."""
    started = time.perf_counter()
    for _ in range(repeat):
        fn(text)
    return (time.perf_counter() - started) / repeat


def speed(rounds: int, seed: int) -> list[str]:
    texts = messages(seed)
    fast = matcher()
    assert isinstance(fast, Matcher)
    strict = matcher(strict=True)
    for text in texts.values():  # same answers, and everything warmed up
        assert fast.censor(text) == better_profanity.censor(text)
        assert fast.contains(text) == better_profanity.contains_profanity(text)
    names = list(texts)
    cases: dict[str, dict[str, list[float]]] = {
        n: {
            "better-profanity censor": [],
            "matcher censor": [],
            "matcher contains": [],
            "strict censor": [],
        }
        for n in names
    }
    rng = random.Random(seed)
    for _ in range(rounds):
        rng.shuffle(names)
        for name in names:
            text = texts[name]
            gc.collect()
            cases[name]["better-profanity censor"].append(
                per_call(better_profanity.censor, text, 1)
            )
            gc.collect()
            cases[name]["matcher censor"].append(per_call(fast.censor, text, 200))
            gc.collect()
            cases[name]["matcher contains"].append(per_call(fast.contains, text, 200))
            gc.collect()
            # short texts take tens of µs: 200 calls keep one sample above a few ms, so a
            # scheduler hiccup on a busy machine does not make the whole sample
            repeat = 200 if len(text) < 200 else 20
            cases[name]["strict censor"].append(per_call(strict.censor, text, repeat))
    head = f"{'message':<22} {'better-profanity':>17} {'matcher censor':>15} "
    head += f"{'matcher contains':>17} {'speed-up':>10} {'strict censor':>14}"
    lines = [head, "-" * len(head)]
    ratios: dict[str, float] = {}
    for name in texts:
        slow = statistics.median(cases[name]["better-profanity censor"])
        censor = statistics.median(cases[name]["matcher censor"])
        contains = statistics.median(cases[name]["matcher contains"])
        ratios[name] = slow / max(censor, contains)
        strict_censor = statistics.median(cases[name]["strict censor"])
        lines.append(
            f"{name:<22} {slow * 1e3:>14.2f} ms {censor * 1e6:>12.2f} µs "
            f"{contains * 1e6:>14.2f} µs {ratios[name]:>9.0f}x {strict_censor * 1e6:>11.0f} µs"
        )
    lines.append(
        "(medians; speed-up = better-profanity / the slower of censor and contains; "
        "strict censor: censor(text, strict=true))"
    )
    lines.append(
        verdict("70 chars", min(ratios["70 chars, clean"], ratios["70 chars, profane"]), 200)
    )
    two = min(v for k, v in ratios.items() if k.startswith("2 KB"))
    lines.append(verdict("2 KB", two, 1000))
    strict_ratios = {
        name: statistics.median(cases[name]["better-profanity censor"])
        / statistics.median(cases[name]["strict censor"])
        for name in texts
    }
    short = min(strict_ratios["70 chars, clean"], strict_ratios["70 chars, profane"])
    lines.append(verdict("strict, 70 chars", short, 200))
    lines.append(
        verdict(
            "strict, 2 KB", min(v for k, v in strict_ratios.items() if k.startswith("2 KB")), 1000
        )
    )
    return lines


def verdict(label: str, ratio: float, target: float) -> str:
    status = "PASS" if ratio >= target else "MISS"
    return f"{status}  {label}: {ratio:,.0f}x faster (target at least {target:,.0f}x)"


def build_times(builds: int) -> list[str]:
    """Wall-clock and CPU time of building the matchers (CPU time is what a busy machine
    does not inflate: on a shared machine, wall time includes waiting for a core)."""
    words = default_words()
    exact: list[tuple[float, float]] = []
    strict: list[tuple[float, float]] = []
    for _ in range(builds):
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        built = Matcher(words)
        exact.append((time.perf_counter() - wall, time.process_time() - cpu))
        wall, cpu = time.perf_counter(), time.process_time()
        StrictMatcher(built)
        strict.append((time.perf_counter() - wall, time.process_time() - cpu))
    wall = statistics.median(w for w, _ in exact)
    cpu = statistics.median(c for _, c in exact)
    strict_wall = statistics.median(w for w, _ in strict)
    strict_cpu = statistics.median(c for _, c in strict)
    status = "PASS" if min(wall, cpu) < 1 else "MISS"
    return [
        f"{status}  build Matcher(default list) again: {wall * 1e3:.0f} ms wall, "
        f"{cpu * 1e3:.0f} ms CPU (median of {builds}; target under 1 s)",
        f"      build StrictMatcher on top of it: {strict_wall * 1e3:.0f} ms wall, "
        f"{strict_cpu * 1e3:.0f} ms CPU",
    ]


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096  # resident pages


def memory_child() -> None:
    """In a fresh interpreter: RSS growth and traced Python allocations of a matcher."""
    import receiver.profanity as profanity_package  # noqa: PLC0415 - measured import

    gc.collect()
    before = rss_bytes()
    wall, cpu = time.perf_counter(), time.process_time()
    built = Matcher(profanity_package.default_words())
    first = (time.perf_counter() - wall, time.process_time() - cpu)
    wall, cpu = time.perf_counter(), time.process_time()
    strict = StrictMatcher(built)  # reads wordsegment's table into the lexicon too
    first_strict = (time.perf_counter() - wall, time.process_time() - cpu)
    tracemalloc.start()
    again = Matcher(profanity_package.default_words())  # the Python heap of one build
    traced = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del again
    rng = random.Random(1)
    words = list(profanity_package.default_words())
    for _ in range(5000):  # let RE2's lazily built automata grow on varied text
        text = " ".join(
            rng.choice(words) if rng.random() < 0.2 else rng.choice(SENTENCES).split()[0]
            for _ in range(20)
        )
        built.censor(text)
        strict.censor(text)
    gc.collect()
    print(
        json.dumps(
            {
                "rss": rss_bytes() - before,
                "traced": traced,
                "first": first,
                "first_strict": first_strict,
            }
        )
    )


def memory() -> list[str]:
    if not Path("/proc/self/statm").exists():
        return ["memory: not measured (needs /proc)"]
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    rss = found["rss"] / 2**20
    status = "PASS" if rss < 50 else "MISS"
    wall, cpu = found["first"]
    strict_wall, strict_cpu = found["first_strict"]
    both_wall, both_cpu = wall + strict_wall, cpu + strict_cpu
    return [
        f"{'PASS' if min(wall, cpu) < 1 else 'MISS'}  first build in a fresh process: "
        f"{wall * 1e3:.0f} ms wall, {cpu * 1e3:.0f} ms CPU (target under 1 s)",
        f"{'PASS' if min(both_wall, both_cpu) < 1 else 'MISS'}  first strict build in a fresh "
        f"process (Matcher, the lexicon from wordsegment's table, StrictMatcher): "
        f"{both_wall * 1e3:.0f} ms wall, {both_cpu * 1e3:.0f} ms CPU (target under 1 s)",
        f"{status}  memory: RSS grows {rss:.1f} MB from import to a built, exercised matcher "
        f"and strict matcher (target under 50 MB); Python heap of one build "
        f"{found['traced'] / 2**20:.1f} MB",
    ]


def _better_profanity_flags(text: str) -> bool:
    return bool(better_profanity.contains_profanity(text))


def read_corpus(path: Path) -> dict[str, list[str]]:
    """Family -> messages of a corpus file (``# family: NAME`` lines; else ``unlabelled``)."""
    families: dict[str, list[str]] = {}
    current = "unlabelled"
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# family: "):
            current = line.removeprefix("# family: ").strip()
        elif line:
            families.setdefault(current, []).append(line)
    return families


def alt_profanity_check() -> tuple[Callable[[list[str]], list[bool]] | None, str]:
    """alt-profanity-check's ``predict`` over a list of texts, or None and why not."""
    try:
        from profanity_check import predict  # noqa: PLC0415 - optional, heavy (scikit-learn)
    except Exception as err:
        return (
            None,
            f"not installed here ({type(err).__name__}: {err}); pip install alt-profanity-check",
        )

    def flags(texts: list[str]) -> list[bool]:
        return [bool(x) for x in predict(texts)] if texts else []

    return flags, "alt-profanity-check (ML)"


def rate(caught: list[bool]) -> str:
    return f"{sum(caught):>4} / {len(caught):<4} {sum(caught) / max(len(caught), 1):>6.1%}"


def evasion(jobs: int, evasion_file: Path, clean_file: Path) -> list[str]:
    """Caught and flagged per family and per anchor (columns) for the two corpora."""
    evasions = read_corpus(evasion_file)
    clean = read_corpus(clean_file)
    all_evasions = [t for lines in evasions.values() for t in lines]
    all_clean = [t for lines in clean.values() for t in lines]
    texts = all_evasions + all_clean
    exact = matcher()
    strict = matcher(strict=True)
    started = time.perf_counter()
    with multiprocessing.Pool(jobs) as pool:
        reference = pool.map(_better_profanity_flags, texts, chunksize=16)
    slow = time.perf_counter() - started
    model, model_label = alt_profanity_check()
    columns: dict[str, dict[str, bool] | None] = {
        "better-profanity 0.7.0": dict(zip(texts, reference, strict=True)),
        model_label: None if model is None else dict(zip(texts, model(texts), strict=True)),
        "profane(text)": {t: exact.contains(t) for t in texts},
        "profane(text, strict=true)": {t: strict.contains(t) for t in texts},
    }
    lines: list[str] = []
    for title, families, every in (
        ("evasions caught", evasions, all_evasions),
        ("clean messages flagged", clean, all_clean),
    ):
        head = f"{title:<36}" + "".join(f" {label[:26]:>26}" for label in columns)
        lines += [head, "-" * len(head)]
        for family, group in [*families.items(), ("all", every)]:
            row = f"{family[:36]:<36}"
            for answers in columns.values():
                row += (
                    f" {'-':>26}"
                    if answers is None
                    else f" {rate([answers[t] for t in group]):>26}"
                )
            lines.append(row)
        lines.append("")
    if model is None:
        lines.append(f"alt-profanity-check: {model_label}")
    agree = columns["better-profanity 0.7.0"] == columns["profane(text)"]
    lines.append(
        f"profane(text) agrees with better-profanity on every line: {'yes' if agree else 'NO'}"
        f" (better-profanity took {slow:.0f} s for the {len(texts)} lines)"
    )
    strict_flags = columns["profane(text, strict=true)"]
    reference_flags = columns["better-profanity 0.7.0"]
    assert strict_flags is not None and reference_flags is not None
    caught = sum(strict_flags[t] for t in all_evasions) / max(len(all_evasions), 1)
    lines.append(verdict_share("strict: evasions caught", caught, 0.97))
    flagged = sum(strict_flags[t] for t in all_clean)
    reference_flagged = sum(reference_flags[t] for t in all_clean)
    status = "PASS" if flagged <= reference_flagged else "MISS"
    lines.append(
        f"{status}  strict: clean messages flagged {flagged}, better-profanity "
        f"{reference_flagged} (target: no more)"
    )
    return lines


def verdict_share(label: str, share: float, target: float) -> str:
    status = "PASS" if share >= target else "MISS"
    return f"{status}  {label}: {share:.1%} (target at least {target:.0%})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--builds", type=int, default=5, help="matcher builds timed")
    parser.add_argument("--evasion", action="store_true", help="also measure the corpora")
    parser.add_argument("--jobs", type=int, default=2, help="processes for better-profanity")
    parser.add_argument(
        "--evasion-file",
        type=Path,
        default=DATA / "profanity_evasion.txt",
        help="evasion corpus (default: %(default)s)",
    )
    parser.add_argument(
        "--clean-file",
        type=Path,
        default=DATA / "profanity_clean.txt",
        help="clean corpus (default: %(default)s)",
    )
    parser.add_argument("--skip-speed", action="store_true", help="only --evasion (no timing)")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child()
        return 0
    python = f"Python {sys.version.split()[0]}"
    if not args.skip_speed:
        print(f"== profanity matching ({python}, rounds={args.rounds}, seed={args.seed})")
        for line in [*speed(args.rounds, args.seed), "", *build_times(args.builds), *memory()]:
            print(line)
    if args.evasion or args.skip_speed:
        print("\n== evasion and false positives, per family")
        for line in evasion(args.jobs, args.evasion_file, args.clean_file):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
