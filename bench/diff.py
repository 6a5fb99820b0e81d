"""Speed of ``receiver diff`` on the shipped policies: two replays per event.

Run from the repository root::

    python bench/diff.py [--records 4000] [--rounds 3] [--users 60] [--seed 1]

Generates a record corpus (the payload generator of ``bench/decide.py``: the 12
social.plus events, known, unknown and missing users, texts with links, invites, spam,
shouting, Unicode and swear words), recorded as a service running ``policies/`` would
record it: each event decided at its time (a few per second, in time order, counters
fed), with the user it read. NEW is a copy of ``policies/`` with a realistic change (the
message length limit 2000 -> 300, the spam message reworded). Then, best of ``--rounds``:

(a) ``replay()`` of the records through OLD alone: one replay, the reference;
(b) ``compare()``: the two replays of a diff, side by side, each with its own counters;
(c) ``receiver diff OLD NEW RECORDS --format json`` in process, through ``main(argv)``:
    reading the records, both replays, the samples explained, the report written.

Reported: events per second of each, per core (one process), and (b) and (c) against (a).
A diff decides every event twice, so (b) near 2x the time of (a) means its own work
(comparing, counting per rule) costs little. No target: the figure for docs/replay.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import header
from decide import make_payload, make_users

from receiver.cli import main as receiver_main
from receiver.counters.memory import MemoryBackend
from receiver.dsl import events as ev
from receiver.dsl.values import Timestamp
from receiver.observe.records import read_records, record_entry
from receiver.replay.compare import compare
from receiver.replay.engine import replay
from receiver.runtime.decide import decide
from receiver.runtime.payload import parse_event
from receiver.runtime.policyset import load_policies

ROOT = Path(__file__).resolve().parents[1]
START = 1_748_736_000.0  # 2025-06-01T00:00:00Z


def write_new(old: Path, new: Path) -> None:
    """NEW: the shipped policies, the message length limit 2000 -> 300, spam reworded."""
    shutil.copytree(old, new)
    length = new / "content-length.yaml"
    text = length.read_text(encoding="utf-8").replace("len(text) > 2000", "len(text) > 300")
    length.write_text(text.replace("up to 2000", "up to 300"), encoding="utf-8")
    spam = new / "spam.yaml"
    spam.write_text(
        spam.read_text(encoding="utf-8").replace("This looks like spam", "This may be spam"),
        encoding="utf-8",
    )
    for test in new.glob("*.test.yaml"):  # tests are not policies; keep NEW a policy set
        test.unlink()


def write_records(path: Path, policies: Path, count: int, users: int, seed: int) -> None:
    rng = random.Random(seed)
    directory = make_users(rng, users)
    policyset = load_policies([policies])
    backend = MemoryBackend()
    names = list(ev.SOCIALPLUS_EVENTS)
    at = START
    with path.open("w", encoding="utf-8") as out:
        for number in range(count):
            at += rng.uniform(0.05, 0.5)
            _, payload = make_payload(rng, names[number % len(names)], users)
            event = parse_event(payload)
            decided = decide(policyset, event, Timestamp(at), users=directory.get, counters=backend)
            entry = record_entry(
                decision_id=f"d{number}", now=at, platform="socialplus", event=event,
                user_answer=decided.user, user_asked=decided.user_asked,
                decision=decided.decision, revision=policyset.revision,
            )  # fmt: skip
            out.write(json.dumps(entry) + "\n")


def best(rounds: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=4000, help="corpus size (default 4000)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds, best kept")
    parser.add_argument("--users", type=int, default=60, help="users in the directory")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    print(header("bench/diff.py", records=args.records, rounds=args.rounds, seed=args.seed))
    with tempfile.TemporaryDirectory(prefix="bench-diff-") as temp:
        root = Path(temp)
        old, new = root / "old", root / "new"
        shutil.copytree(ROOT / "policies", old, ignore=shutil.ignore_patterns("*.test.yaml"))
        write_new(old, new)
        file = root / "records.jsonl"
        write_records(file, old, args.records, args.users, args.seed)
        records = read_records([file])
        old_set, new_set = load_policies([old]), load_policies([new])
        count = len(records)

        def one() -> None:
            for _ in replay(old_set, records):
                pass

        def two() -> None:
            compare(old_set, new_set, records)

        def cli() -> None:
            code = receiver_main(
                ["diff", str(old), str(new), str(file), "--format", "json", "-o", os.devnull]
            )
            if code != 0:
                raise SystemExit(f"receiver diff exited {code}")

        one()  # warm-up: trees compiled, caches filled
        result = compare(old_set, new_set, records)
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115  # the CLI's "wrote" line
        try:
            timed = {"(a) replay, OLD only": best(args.rounds, one)}
            timed["(b) compare(): OLD and NEW"] = best(args.rounds, two)
            timed["(c) receiver diff --format json"] = best(args.rounds, cli)
        finally:
            sys.stderr.close()
            sys.stderr = sys.__stderr__
    print(f"{count:,} records; {result.total_flips:,} flip ({dict(result.flips)})")
    reference = timed["(a) replay, OLD only"]
    for label, seconds in timed.items():
        print(
            f"{label:<34} {count / seconds:>10,.0f} events/s   {seconds:6.3f} s   "
            f"x{seconds / reference:.2f} of (a)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
