"""Where the receiver's time per request goes, in process: no sockets, no uvicorn, no wrk.

Run from the repository root::

    python bench/serve_stages.py [--requests 3000] [--rounds 5] [--mix all|no-profanity]

It builds the real Starlette app (``receiver.http.app.create_app``: signature secret, the
shipped policies, ``examples/users.yaml``, decision log to a temporary file) and the
two bare apps of ``bench/bare_app.py`` (Starlette's ``request.json`` and
``JSONResponse``; orjson), and calls them directly as ASGI applications with
the signed payloads of ``bench/serve.py`` (same generator, same seed), alternating
them request by request. Reported:

1. CPU time per request of each app (``time.process_time`` over each round, best
   round), and their ratio: what the HTTP ratio of ``bench/serve.py`` would be if
   uvicorn cost nothing;
2. a breakdown of the receiver's handler: each stage's function is wrapped with a
   timer (``perf_counter_ns``) in a second pass. Stages whose function is not found
   (the code changed) are left out. The wrappers cost a little, so the stages are
   read as shares, not as exact sums.

The numbers are CPU-bound Python: on a busy machine the medians move less than the
means, and the ratio less than either.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import bare_app
import serve as bench_serve
import uvloop
from _asgi import call as asgi_call
from _asgi import start

import receiver as receiver_package
from receiver.adapters.signatures import Secrets
from receiver.http import app as receiver_app
from receiver.http.config import ServiceConfig

# (label, module path, attribute path, is async): the stages of one pre-hook request
STAGES = (
    ("read body (read_body)", "receiver.http.endpoint", "read_body", True),
    ("signature (verify)", "receiver.http.service", "verify", False),
    ("JSON + envelope (parse_request)", "receiver.adapters.socialplus", "parse_request", False),
    ("decision id (new_decision_id)", "receiver.http.service", "new_decision_id", False),
    (
        "decision: counters, users, rules, strikes (decide_async)",
        "receiver.http.service",
        "decide_async",
        True,
    ),
    (
        "counters: backend calls (CounterService.call)",
        "receiver.counters.service",
        "CounterService.call",
        True,
    ),
    ("metrics: observe", "receiver.http.metrics", "Metrics.observe", False),
    ("metrics: count_rules", "receiver.http.metrics", "Metrics.count_rules", False),
    ("decision log: record", "receiver.observe.decisionlog", "DecisionLog.record", False),
    ("decision log: write", "receiver.observe.decisionlog", "DecisionLog.write", False),
    ("response body (response_body)", "receiver.adapters.socialplus", "response_body", False),
)
TOTAL_LABEL = "Service.socialplus (all of the above but read body)"


async def call(app: Any, body: bytes, signature: str) -> None:
    """One request through the ASGI app; raises unless it answers 200."""
    status = await asgi_call(app, body, signature)
    if status != 200:
        raise RuntimeError(f"the app answered {status}")


def wrap_stages(app: Any, samples: dict[str, list[int]]) -> list[str]:
    """Wrap each stage's function with a timer; the labels of those found."""
    found = []
    for route in app.routes:  # the pre-hook route's handler (a bound Service.socialplus)
        endpoint = getattr(route, "endpoint", None)
        if getattr(route, "path", "") == bench_serve.PATH and hasattr(endpoint, "handle"):
            endpoint.handle = timed(endpoint.handle, samples[TOTAL_LABEL], True)
    for label, module_name, attribute, is_async in STAGES:
        module = sys.modules.get(module_name) or __import__(module_name, fromlist=["_"])
        owner: Any = module
        *path, name = attribute.split(".")
        try:
            for part in path:
                owner = getattr(owner, part)
            original = getattr(owner, name)
        except AttributeError:
            continue
        setattr(owner, name, timed(original, samples[label], is_async))
        found.append(label)
    return found


def timed(original: Callable[..., Any], into: list[int], is_async: bool) -> Callable[..., Any]:
    if is_async:

        @functools.wraps(original)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter_ns()
            try:
                return await original(*args, **kwargs)
            finally:
                into.append(time.perf_counter_ns() - started)

        return async_wrapper

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter_ns()
        try:
            return original(*args, **kwargs)
        finally:
            into.append(time.perf_counter_ns() - started)

    return wrapper


async def cpu_per_request(
    apps: Sequence[Any], signed: Sequence[tuple[bytes, str]], requests: int, rounds: int
) -> list[list[float]]:
    """CPU µs per request of each app, per round (apps alternate in blocks of 50)."""
    per_app: list[list[float]] = [[] for _ in apps]
    order = list(range(len(signed)))
    for _ in range(rounds):
        random.shuffle(order)
        spent = [0.0] * len(apps)
        for block in range(0, requests, 50):
            for a, app in enumerate(apps):
                t0 = time.process_time()
                for i in range(block, min(block + 50, requests)):
                    body, signature = signed[order[i % len(order)]]
                    await call(app, body, signature)
                spent[a] += time.process_time() - t0
        for a in range(len(apps)):
            per_app[a].append(spent[a] / requests * 1e6)
    return per_app


async def run(args: argparse.Namespace) -> None:
    compiled = receiver_package.BUILD.startswith("compiled")
    secret = secrets.token_hex(24)
    payloads, templates = bench_serve.make_payloads(args.payloads, args.seed)
    calls = bench_serve.profanity_calls(payloads, args.policies, args.users)
    chosen = [i for i, c in enumerate(calls) if args.mix == "all" or not c]
    signed = [
        (body, bench_serve.sign(secret.encode(), body))
        for body in (bench_serve.compact(payloads[i]) for i in chosen)
    ]
    with tempfile.TemporaryDirectory(prefix="bench-stages-") as tmp:
        config = ServiceConfig(
            policies=args.policies,
            users=args.users,
            secrets=Secrets.parse(secret),
            decision_log=Path(tmp) / "decisions.jsonl",
        )
        receiver = receiver_app.create_app(config)
        await start(receiver)
        for body, signature in signed:  # warm-up, and a check that all answer 200
            await call(receiver, body, signature)
            await call(bare_app.app, body, signature)
            await call(bare_app.orjson_app, body, signature)
        bare_us, strict_us, receiver_us = await cpu_per_request(
            [bare_app.app, bare_app.orjson_app, receiver], signed, args.requests, args.rounds
        )
        gc.collect()
        samples: dict[str, list[int]] = defaultdict(list)
        found: list[str] = []
        requests = args.requests
        if not compiled:  # compiled modules call each other past any wrapper: nothing to time
            found = wrap_stages(receiver, samples)
            for i in range(requests):
                body, signature = signed[i % len(signed)]
                await call(receiver, body, signature)

    print(
        f"bench/serve_stages.py: mix '{args.mix}', {len(signed)} payloads (of {len(payloads)} "
        f"from {templates} examples, seed {args.seed}), {args.requests} requests x "
        f"{args.rounds} rounds per app, in process (ASGI)"
    )
    print("load average: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(f"receiver's request path: {receiver_package.BUILD}")
    best_bare, best_receiver = min(bare_us), min(receiver_us)
    print()
    print(f"{'app':<52} {'CPU us/request (best round)':>28}   rounds")
    apps = (
        ("bare Starlette (request.json + JSONResponse)", bare_us),
        ("bare + orjson (stricter reference)", strict_us),
        ("receiver (signed, policies, users, log file)", receiver_us),
    )
    for label, values in apps:
        rounds = ", ".join(f"{v:.0f}" for v in values)
        print(f"{label:<52} {min(values):>28.1f}   {rounds}")
    print(f"ratio bare / receiver (in process, without HTTP): {best_bare / best_receiver:.1%}"
          f" (stricter reference: {min(strict_us) / best_receiver:.1%})")  # fmt: skip
    print(f"receiver minus bare: {best_receiver - best_bare:.1f} us CPU per request")
    print()
    total_label = TOTAL_LABEL
    total = samples.get(total_label, [])
    total_median = statistics.median(total) if total else float("nan")
    if compiled:
        print("stages: not timed; compiled modules call each other directly, past any timer "
              "wrapped around them.\nAn editable install (pip install -e .) runs them from "
              "source and times them.")  # fmt: skip
        return
    print(f"stages of the receiver's handler, one pass of {requests} requests with timers "
          f"(wall time, us):")  # fmt: skip
    print(f"{'stage':<52} {'median':>8} {'share':>7} {'mean':>8} {'calls':>6}")
    for label in [*found, total_label]:
        values = samples[label]
        if not values:
            continue
        median = statistics.median(values)
        marker = "" if label != total_label else "  <- total"
        print(f"{label:<52} {median / 1000:>8.1f} {median / total_median:>7.1%} "
              f"{sum(values) / len(values) / 1000:>8.1f} {len(values):>6}{marker}")  # fmt: skip
    print("  share: median / median of Service.socialplus (read body runs before it, in the "
          "route handler); means include the machine's slow spells")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=3000, help="per round and app")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--payloads", type=int, default=240)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mix", choices=("all", "no-profanity"), default="all")
    parser.add_argument("--policies", type=Path, default=bench_serve.ROOT / "policies")
    parser.add_argument("--users", type=Path, default=bench_serve.ROOT / "examples/users.yaml")
    args = parser.parse_args(argv)
    random.seed(args.seed)
    uvloop.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
