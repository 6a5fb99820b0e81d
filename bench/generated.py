"""Load time and decision time of a large generated policy set.

Run from the repository root::

    python bench/generated.py [--rules 10000] [--payloads 500] [--rounds 3] [--seed 1]
                              [--scatter] [--keep DIR]

Writes N rules (``bench/policygen.py``: channel-gated rules, per-user rules, a few
global, modify and shadow rules, seven policy files with priorities) into a
temporary directory, then:

1. times ``load_policies`` once, end to end, against the spec target (10 s for
   10,000 rules), with the time of each stage measured inside that same call
   (reading + YAML per file, checking, compiling the event trees);
2. decides random payloads with the compiled (indexed) trees, with flat
   non-indexed trees (``compile_tree(rules, event, index=False)``) as reference,
   and with ``json.dumps(json.loads(raw))`` as the machine-independent reference
   that the ratio columns divide by; target: median decision under 50 µs.
   The indexed and flat decisions are checked to be identical.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _common import Result, header, json_reference, measure, table, verdict
from policygen import World, write_policies

from receiver.compile.compiler import compile_tree
from receiver.compile.tree import EventTree, Switch
from receiver.dsl import events as ev
from receiver.dsl.values import Timestamp
from receiver.runtime import policyset as policyset_module
from receiver.runtime.decision import Decision
from receiver.runtime.evaluator import evaluate
from receiver.runtime.payload import parse_event
from receiver.runtime.policyset import PolicySet, load_policies
from receiver.users.static import StaticDirectory

NOW = Timestamp(1_748_736_000.0)  # 2025-06-01T00:00:00Z
TARGET_LOAD_S = 10.0
TARGET_DECISION_US = 50.0
# fmt: off
FILLER = [
    "hello", "team", "see", "you", "later", "great", "game", "thanks", "for", "the", "update",
    "ok", "sure",
]
# fmt: on

# The functions load_policies reaches through receiver.runtime.policyset, timed per stage.
STAGES = {"load_file": "read + YAML", "check": "check", "compile_tree": "compile trees"}


@contextmanager
def stage_timers() -> Iterator[dict[str, list[float]]]:
    """Wrap the stage functions as receiver.runtime.policyset sees them; [wall, cpu, calls] each."""
    totals: dict[str, list[float]] = {}
    saved: dict[str, Callable[..., Any]] = {}
    for name, label in STAGES.items():
        fn = getattr(policyset_module, name, None)
        if fn is None:  # the module was reorganised: that stage is simply not shown
            continue
        saved[name] = fn
        totals[label] = [0.0, 0.0, 0]

        def timed(*args: Any, _fn: Any = fn, _acc: Any = totals[label], **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return _fn(*args, **kwargs)
            finally:
                _acc[0] += time.perf_counter() - wall
                _acc[1] += time.process_time() - cpu
                _acc[2] += 1

        setattr(policyset_module, name, timed)
    try:
        yield totals
    finally:
        for name, fn in saved.items():
            setattr(policyset_module, name, fn)


def make_users(world: World, rng: random.Random) -> StaticDirectory:
    records: dict[str, dict[str, Any]] = {}
    for user in world.users:
        record: dict[str, Any] = {"createdAt": "2024-01-01T00:00:00Z"}
        if rng.random() < 0.9:
            record["role"] = rng.choice(world.roles)
        records[user] = record
    return StaticDirectory(records)


def make_text(world: World, rng: random.Random) -> str:
    size = rng.choices([3, 12, 40, 150, 300], [30, 30, 20, 15, 5])[0]
    parts = rng.choices(FILLER, k=rng.randint(1, size))
    for _ in range(rng.randint(0, 3)):  # words of the generated phrase lists
        parts.insert(rng.randint(0, len(parts)), rng.choice(world.words))
    if rng.random() < 0.2:  # something the generated patterns look for
        parts.insert(rng.randint(0, len(parts)), rng.choice(world.words) + str(rng.randint(10, 99)))
    text = " ".join(parts)
    return text.upper() if rng.random() < 0.1 else text


def make_payload(world: World, rng: random.Random) -> dict[str, Any]:
    event = rng.choice(ev.SOCIALPLUS_EVENTS)
    data: dict[str, Any] = {}
    if rng.random() < 0.95:
        known = rng.random() < 0.9
        data["channelId"] = rng.choice(world.channels) if known else f"ch_x{rng.randint(1, 99)}"
    if rng.random() < 0.85:
        text = make_text(world, rng)
        if rng.random() < 0.5:
            data["text"] = text
        else:
            data["data"] = {"text": text}
    payload: dict[str, Any] = {"eventName": event, "data": data}
    if rng.random() < 0.95:
        user = rng.choice(world.users) if rng.random() < 0.8 else f"ghost{rng.randint(1, 99)}"
        payload["actor"] = {"_id": f"id-{user}", "userId": user}
    return payload


def same(a: object, b: object) -> bool:
    assert isinstance(a, Decision) and isinstance(b, Decision)
    return a.summary() == b.summary() and a.response() == b.response()


def describe_trees(policyset: PolicySet) -> str:
    sizes = [len(t.rules) for t in policyset.trees.values()]
    steps = [len(t.steps) for t in policyset.trees.values()]
    switches = [sum(isinstance(s, Switch) for s in t.steps) for t in policyset.trees.values()]
    return (
        f"{len(policyset.trees)} event trees: {min(sizes)}-{max(sizes)} rules each, "
        f"{min(steps)}-{max(steps)} steps at the top level "
        f"({min(switches)}-{max(switches)} indexed switches)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", type=int, default=10_000, help="rules to generate")
    parser.add_argument("--payloads", type=int, default=500, help="random payloads to decide")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds over the payloads")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--scatter", action="store_true", help="shuffle global rules among gated ones"
    )
    parser.add_argument("--keep", type=Path, help="write the policies here and keep them")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    print(header("bench/generated.py", rules=args.rules, payloads=args.payloads, seed=args.seed))
    with tempfile.TemporaryDirectory(prefix="receiver-bench-") as tmp:
        directory = args.keep or Path(tmp)
        t0 = time.perf_counter()
        world = write_policies(directory, args.rules, args.seed, scatter=args.scatter)
        size = sum(p.stat().st_size for p in world.files)
        print(
            f"generated {world.rules} rules in {len(world.files)} files ({size / 1e6:.1f} MB), "
            f"{len(world.channels)} channels, {len(world.users)} users "
            f"in {time.perf_counter() - t0:.2f} s"
        )
        with stage_timers() as stages:
            wall, cpu = time.perf_counter(), time.process_time()
            policyset = load_policies([directory])
            load_wall, load_cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(describe_trees(policyset))
    print()
    print("load_policies, by stage (wall s, cpu s, calls):")
    rest_wall, rest_cpu = load_wall, load_cpu
    for label, (s_wall, s_cpu, calls) in stages.items():
        print(f"  {label:<15} {s_wall:7.2f} {s_cpu:7.2f} {int(calls):>6}")
        rest_wall -= s_wall
        rest_cpu -= s_cpu
    print(f"  {'other':<15} {rest_wall:7.2f} {rest_cpu:7.2f}")
    print(f"  {'total':<15} {load_wall:7.2f} {load_cpu:7.2f}")
    if load_wall > 1.5 * load_cpu:
        print("  (wall well above cpu: other processes compete for the cores)")

    t0, c0 = time.perf_counter(), time.process_time()
    gc.disable()  # as load_policies does; the reference trees are not what is measured
    try:
        flat = {name: compile_tree(policyset.rules, name, index=False) for name in policyset.trees}
    finally:
        gc.enable()
    print(
        f"flat reference trees compiled in {time.perf_counter() - t0:.2f} s wall, "
        f"{time.process_time() - c0:.2f} s cpu (not part of the load)"
    )

    rng = random.Random(args.seed)
    users = make_users(world, rng)
    lookup = users.get
    payloads = [make_payload(world, rng) for _ in range(args.payloads)]
    raws = [json.dumps(p) for p in payloads]

    def flat_tree(name: str) -> EventTree:
        tree = flat.get(name)
        return tree if tree is not None else policyset.tree(name)

    def decider(tree_of: Callable[[str], EventTree]) -> Callable[[int], Decision]:
        def decide(i: int) -> Decision:
            event = parse_event(payloads[i])
            return evaluate(tree_of(event.name), event, NOW, lookup)

        return decide

    # The flat trees walk a thousand rules or more per decision (milliseconds): timed
    # call by call next to the others, each of their calls would leave the CPU caches
    # cold for the next case's. They are timed in rounds of their own instead; the
    # reference and the indexed trees stay interleaved call by call.
    cases = {"ref": json_reference(raws), "indexed": decider(policyset.tree)}
    indices = range(len(payloads))
    results = measure(cases, indices, args.rounds, args.seed, warmup=1, keep=True)
    results.update(measure({"flat": decider(flat_tree)}, indices, 1, args.seed, keep=True))
    indexed, flat_result = results["indexed"], results["flat"]
    for i, decided in indexed.outputs.items():
        if not same(decided, flat_result.outputs[i]):
            print(f"error: the indexed and flat trees disagree on payload {i}: {raws[i]}")
            return 1
    outcomes = Counter(
        d.action + (" (modified)" if d.modified_by else "")
        for d in indexed.outputs.values()
        if isinstance(d, Decision)
    )
    print(f"decisions: {dict(sorted(outcomes.items()))}; indexed == flat for every payload")
    print()
    print(
        f"decisions: {len(payloads)} random payloads x {args.rounds} rounds "
        f"(the flat trees: 1 round, on their own)"
    )
    rows: list[tuple[str, Result]] = [
        ("json loads+dumps (reference)", results["ref"]),
        ("decide, indexed trees", indexed),
        ("decide, flat trees (reference)", flat_result),
    ]
    print(table([(label, len(r.samples), r) for label, r in rows], results["ref"]))
    print(
        f"flat/indexed median ratio: {flat_result.median_us / indexed.median_us:.1f}x "
        f"(what the index saves)"
    )
    print()
    print(verdict(f"load_policies, {world.rules} rules (wall)", load_wall, TARGET_LOAD_S, "s"))
    print(
        verdict("median decision, indexed trees", indexed.median_us, TARGET_DECISION_US, "µs")
        + f"; p99 {indexed.p99_us:.2f} µs"
    )
    print(f"total run time {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
