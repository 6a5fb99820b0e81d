"""Replay speed: events per second per core of ``receiver replay`` on the shipped policies.

Run from the repository root::

    python bench/replay.py [--events 20000] [--rounds 3] [--seed 1] [--keep FILE]

Generates a realistic record corpus (the payloads of ``bench/decide.py``: the 12
social.plus events, known, unknown and missing users captured with each record, texts
with links, invites, spam phrases, profanity, shouting, Unicode; plus message floods from
one user within seconds and spam rings pasting one text across channels), spread over an
hour, with the recorded decisions those events get from the shipped policies (1 % of them
changed, so that the comparison finds differences), and writes it as a record file.
Then, in rounds, interleaved:

- ``decide() loop (reference)``: the bare :func:`~receiver.runtime.decide.decide` loop over
  the already-read events, counters in one memory backend, the captured users: what
  replaying costs at the least;
- ``(a) engine``: :func:`~receiver.replay.engine.replay` over the same records;
- ``(b) read, decide, write``: the whole CLI path in this process: ``read_records`` of the
  file, :func:`~receiver.replay.run.run_replay` with the output lines written to a file
  (the summary included; policies loaded once, outside the timing);
- ``(c) --jobs 1`` and ``--jobs 2``: the ``receiver replay`` command itself, in a new
  process each time (start-up and policy loading included), wall time.

Prints, per case, the wall time and events/s, the CPU time (of this process and the
processes it started) and events per CPU second ("per core": what one core replays while
it works, steadier than wall time on a shared machine), and the ratio of CPU time to the
reference. Then how the records grouped by shared counter keys (the largest group is
replayed by one process, which bounds what ``--jobs`` gains) and the wall-time speed-up of
``--jobs 2``. Target: (b) at least 10,000 events/s per core.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import header
from decide import make_payload, make_users

from receiver.dsl import events as ev
from receiver.dsl.values import Timestamp
from receiver.observe.records import Record, read_records, record_decision
from receiver.replay.engine import (
    UNLIMITED_KEYS,
    ReplayStats,
    captured_user,
    fresh_counters,
    replay,
)
from receiver.replay.run import Inputs, reading, run_replay
from receiver.runtime.decide import decide
from receiver.runtime.payload import parse_event
from receiver.runtime.policyset import PolicySet, load_policies

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "policies"
START = 1_748_736_000.0  # 2025-06-01T00:00:00Z, bench/decide.py's NOW
TARGET_PER_CORE = 10_000
USERS = 400
PASTES = [
    "Check out my new channel, link in bio for free followers",
    "Join the giveaway now, only the first hundred get a prize",
    "Selling cheap game accounts, message me for the price list",
]
RINGS = 12  # spam rings: a few accounts of their own, each ring pasting its own text
RING_SIZE = 5


def corpus(policies: PolicySet, events: int, seed: int) -> list[dict[str, Any]]:
    """Record lines (dicts) in time order, over about an hour, recorded decisions
    included (as the shipped policies decide them, 1 % changed)."""
    rng = random.Random(seed)
    directory = make_users(rng, USERS)
    names = sorted(ev.SOCIALPLUS_EVENTS)
    weights = [40 if n == "message.shouldCreate" else 4 for n in names]
    now = START
    entries: list[dict[str, Any]] = []
    while len(entries) < events:
        kind = rng.choices(["one", "flood", "ring"], [94, 3, 3])[0]
        if kind == "one":
            _, payload = make_payload(rng, rng.choices(names, weights)[0], USERS)
            batch = [payload]
        elif kind == "flood":  # one user, 12 to 20 messages within seconds
            _, first = make_payload(rng, "message.shouldCreate", USERS)
            batch = [first]
            for _ in range(rng.randint(11, 19)):
                _, more = make_payload(rng, "message.shouldCreate", USERS)
                more["actor"] = first.get("actor", {})
                batch.append(more)
        else:  # a spam ring: its accounts paste its text across channels
            ring = rng.randrange(RINGS)
            text = f"{PASTES[ring % len(PASTES)]} #{ring}"
            batch = []
            for _ in range(rng.randint(4, 8)):
                _, payload = make_payload(rng, "message.shouldCreate", USERS)
                account = f"ring{ring}_{rng.randrange(RING_SIZE)}"
                payload["actor"] = {"_id": f"id-{account}", "userId": account}
                payload["data"]["text"] = text
                payload["data"]["channelId"] = f"ch_{rng.randint(1, 30)}"
                batch.append(payload)
        for payload in batch:
            now += rng.uniform(0.01, 0.3)
            user_id = payload.get("actor", {}).get("userId")
            user = directory.get(user_id) if isinstance(user_id, str) else None
            entries.append(
                {
                    "record": 1,
                    "decision_id": f"d{len(entries):07d}",
                    "time": round(now, 6),
                    "platform": "socialplus",
                    "revision": "recorded",
                    "event": payload["eventName"],
                    "actor": payload.get("actor", {}),
                    "data": payload["data"],
                    "user_lookup": "found" if user is not None else "none",
                    "user": user,
                    "decision": {"action": "allow"},
                }
            )
    entries = entries[:events]
    records = [_record(e) for e in entries]
    counters = fresh_counters(policies, None, START, "", max_keys=UNLIMITED_KEYS)
    for entry, done in zip(entries, replay(policies, records, counters=counters), strict=True):
        entry["decision"] = record_decision(done.decided.decision)
        if rng.random() < 0.01:  # recorded under other policies
            flipped = "deny" if entry["decision"]["action"] == "allow" else "allow"
            entry["decision"] = {"action": flipped, "message": "old", "rule": "old/rule"}
    return entries


def _record(entry: dict[str, Any]) -> Record:
    event = parse_event({"eventName": entry["event"], "data": entry["data"],
                         "actor": entry["actor"]})  # fmt: skip
    return Record(entry["decision_id"], entry["time"], "socialplus", event,
                  entry["user_lookup"], entry["user"], entry["decision"])  # fmt: skip


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """Wall seconds, and CPU seconds of this process and of the children it waited for
    (on a shared machine, CPU time is the steadier figure)."""

    def cpu() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    wall, used = time.perf_counter(), cpu()
    fn()
    return time.perf_counter() - wall, cpu() - used


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="also write the corpus to FILE")
    args = parser.parse_args(argv)
    print(header("replay", events=args.events, rounds=args.rounds, seed=args.seed))
    policies = load_policies([POLICIES])
    entries = corpus(policies, args.events, args.seed)
    with tempfile.TemporaryDirectory() as temp:
        path = Path(temp) / "records.jsonl"
        path.write_bytes(b"".join(json.dumps(e).encode() + b"\n" for e in entries))
        if args.keep is not None:
            args.keep.write_bytes(path.read_bytes())
        records = read_records([path])
        out = Path(temp) / "out.jsonl"
        size = path.stat().st_size
        print(f"corpus: {len(records):,} records, {size / 1e6:.1f} MB, "
              f"{records[-1].time - records[0].time:.0f} s of traffic")  # fmt: skip

        def reference() -> None:
            backend = fresh_counters(policies, None, START, "", max_keys=UNLIMITED_KEYS)
            stats = ReplayStats()
            for record in records:
                decide(policies, record.event, Timestamp(record.time),
                       users=captured_user(record, stats), counters=backend,
                       decision_id=record.decision_id)  # fmt: skip

        def engine() -> None:
            backend = fresh_counters(policies, None, START, "", max_keys=UNLIMITED_KEYS)
            for _ in replay(policies, records, counters=backend):
                pass

        def whole_path() -> None:
            with reading([path]) as read, out.open("wb") as stream:
                inputs = Inputs(POLICIES, seed_time=read[0].time, revision=policies.revision)
                run_replay(policies, read, inputs, stream)

        def command(jobs: int) -> Callable[[], None]:
            argv = [sys.executable, "-m", "receiver", "replay", str(POLICIES), str(path),
                    "-o", os.devnull, "--jobs", str(jobs)]  # fmt: skip

            def run() -> None:
                subprocess.run(argv, check=True, stderr=subprocess.DEVNULL, timeout=600)

            return run

        cases: dict[str, tuple[Callable[[], None], int]] = {
            "decide() loop (reference)": (reference, 1),
            "(a) engine": (engine, 1),
            "(b) read, decide, write": (whole_path, 1),
            "(c) receiver replay --jobs 1": (command(1), 1),
            "(c) receiver replay --jobs 2": (command(2), 2),
        }
        walls: dict[str, list[float]] = {name: [] for name in cases}
        cpus: dict[str, list[float]] = {name: [] for name in cases}
        engine()  # warm up: every event's tree compiled
        for number in range(args.rounds):
            names = list(cases)
            shift = number % len(names)
            for name in names[shift:] + names[:shift]:
                wall, cpu = timed(cases[name][0])
                walls[name].append(wall)
                cpus[name].append(cpu)
        check = io.BytesIO()
        inputs = Inputs(POLICIES, seed_time=records[0].time, revision=policies.revision)
        summary = run_replay(policies, records, inputs, check, jobs=2)
    count = len(records)
    reference = statistics.median(cpus["decide() loop (reference)"])
    print(f"groups sharing counter keys: {summary.groups:,}, the largest "
          f"{summary.largest_group:,} records ({summary.largest_group / count:.0%})")  # fmt: skip
    print(f"{'case':<30} {'wall s':>7} {'events/s':>9} {'cpu s':>7} {'per core':>9} "
          f"{'cpu/ref':>8}")  # fmt: skip
    for name in cases:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        print(f"{name:<30} {wall:>7.3f} {count / wall:>9,.0f} {cpu:>7.3f} "
              f"{count / cpu:>9,.0f} {cpu / reference:>7.2f}x")  # fmt: skip
    one = statistics.median(walls["(c) receiver replay --jobs 1"])
    two = statistics.median(walls["(c) receiver replay --jobs 2"])
    print(f"--jobs 2 against --jobs 1 (wall): {one / two:.2f}x the speed")
    print(f"differences found: {summary.differing:,} of {summary.compared:,} compared "
          "(the corpus records about 1 % under other policies, on purpose)")  # fmt: skip
    per_core = count / statistics.median(cpus["(b) read, decide, write"])
    status = "PASS" if per_core >= TARGET_PER_CORE else "MISS"
    print(f"{status}  (b) read, decide, write: {per_core:,.0f} events/s per core "
          f"(target >= {TARGET_PER_CORE:,})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
