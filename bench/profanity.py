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
stretched letters, separators, ...) that each of better-profanity, the matcher and
the strict matcher catches, and the share of ``tests/data/profanity_clean.txt`` that
each flags (false positives). ``bench/profanity_corpora.py`` wrote both files.
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
            cases[name]["strict censor"].append(per_call(strict.censor, text, 20))
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
        "strict censor: censor(text, strict=true), not part of the targets)"
    )
    lines.append(
        verdict("70 chars", min(ratios["70 chars, clean"], ratios["70 chars, profane"]), 200)
    )
    two = min(v for k, v in ratios.items() if k.startswith("2 KB"))
    lines.append(verdict("2 KB", two, 1000))
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
    strict = StrictMatcher(built)
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
    print(json.dumps({"rss": rss_bytes() - before, "traced": traced, "first": first}))


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
    return [
        f"{'PASS' if min(wall, cpu) < 1 else 'MISS'}  first build in a fresh process: "
        f"{wall * 1e3:.0f} ms wall, {cpu * 1e3:.0f} ms CPU (target under 1 s)",
        f"{status}  memory: RSS grows {rss:.1f} MB from import to a built, exercised matcher "
        f"and strict matcher (target under 50 MB); Python heap of one build "
        f"{found['traced'] / 2**20:.1f} MB",
    ]


def _better_profanity_flags(text: str) -> bool:
    return bool(better_profanity.contains_profanity(text))


def evasion(jobs: int) -> list[str]:
    evasions = (DATA / "profanity_evasion.txt").read_text(encoding="utf-8").splitlines()
    clean = (DATA / "profanity_clean.txt").read_text(encoding="utf-8").splitlines()
    exact = matcher()
    strict = matcher(strict=True)
    started = time.perf_counter()
    with multiprocessing.Pool(jobs) as pool:
        reference_evasions = pool.map(_better_profanity_flags, evasions, chunksize=16)
        reference_clean = pool.map(_better_profanity_flags, clean, chunksize=16)
    slow = time.perf_counter() - started
    rows = [
        ("better-profanity 0.7.0", reference_evasions, reference_clean),
        ("profane(text)", list(map(exact.contains, evasions)), list(map(exact.contains, clean))),
        (
            "profane(text, strict=true)",
            [strict.contains(t) for t in evasions],
            [strict.contains(t) for t in clean],
        ),
    ]
    head = f"{'':<28} {'evasions caught':>18} {'clean text flagged':>20}"
    lines = [head, "-" * len(head)]
    for label, caught, flagged in rows:
        lines.append(
            f"{label:<28} {sum(caught):>6} / {len(evasions)} {sum(caught) / len(evasions):>6.1%}"
            f" {sum(flagged):>7} / {len(clean)} {sum(flagged) / len(clean):>6.1%}"
        )
    agree = rows[0][1] == rows[1][1] and rows[0][2] == rows[1][2]
    lines.append(
        f"profane(text) agrees with better-profanity on every line: {'yes' if agree else 'NO'}"
        f" (better-profanity took {slow:.0f} s for the {len(evasions) + len(clean)} lines)"
    )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--builds", type=int, default=5, help="matcher builds timed")
    parser.add_argument("--evasion", action="store_true", help="also measure the corpora")
    parser.add_argument("--jobs", type=int, default=2, help="processes for better-profanity")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child()
        return 0
    python = f"Python {sys.version.split()[0]}"
    print(f"== profanity matching ({python}, rounds={args.rounds}, seed={args.seed})")
    for line in [*speed(args.rounds, args.seed), "", *build_times(args.builds), *memory()]:
        print(line)
    if args.evasion:
        print("\n== evasion and false positives")
        for line in evasion(args.jobs):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
