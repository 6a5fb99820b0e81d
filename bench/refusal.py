"""What refusing a forged request costs, against deciding the same body correctly signed.

Run from the repository root::

    python bench/refusal.py [--rounds 30] [--seed 1]

It builds the real Starlette app (``receiver.http.app.create_app``: a signature secret, the
shipped policies, the decision log to a temporary file) and calls it in process as an
ASGI application (no sockets: uvicorn and the kernel would add the same cost to both
sides) with two bodies of about 250 KB, each a ``message.shouldCreate`` event:

- ``objects``: thousands of small objects in ``data.meta`` (orjson reads it);
- ``digit-runs``: 4,000-digit integers in ``data.meta`` (the standard library reads
  it, and writing such integers back as text is slow: the costliest body to parse).

For each body, interleaved call by call in a rotating order (so a slow spell of the
machine hits every case alike):

- ``signed``: the correctly signed body, decided (200): the reference;
- ``forged``: the same body with a wrong signature (401), in the default settings;
- ``forged, fallback unbounded``: the same, with the compact-JSON fallback on and no
  size limit or budget, which was the default before: what refusing used to cost.

Printed: the median time of each case and its ratio to ``signed`` (the target: a
forged body refused in under half the time the signed one is decided), PASS or MISS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _asgi import call, start
from _common import header, verdict

import receiver as receiver_package
from receiver.adapters.signatures import FallbackSettings, Secrets, sign_base64
from receiver.http import app as receiver_app
from receiver.http.config import ServiceConfig, shipped_policies

TARGET = 0.5


def bodies() -> dict[str, bytes]:
    """The two 250 KB bodies (compact JSON, as the platform would send them)."""
    objects = [{"k": i, "v": "x" * 20, "f": 1.5} for i in range(4800)]
    sys.set_int_max_str_digits(0)  # the script's own json.dumps of the long integers
    digits = [int("1" + "7" * 3999)] * 62
    return {
        name: json.dumps(
            {
                "eventName": "message.shouldCreate",
                "data": {"text": "hello there", "channelId": "ch_1", "meta": meta},
                "actor": {"_id": "u1", "userId": "u1"},
            },
            separators=(",", ":"),
        ).encode()
        for name, meta in (("objects", objects), ("digit-runs", digits))
    }


async def run(args: argparse.Namespace) -> int:
    # Every refusal logs a warning, as in the service; written, but not to the terminal.
    logging.basicConfig(stream=open(os.devnull, "w"), level=logging.INFO)  # noqa: SIM115
    secret = secrets.token_hex(24)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="bench-refusal-") as tmp:
        base = ServiceConfig(
            policies=shipped_policies(),
            secrets=Secrets.parse(secret),
            decision_log=Path(tmp) / "decisions.jsonl",
        )
        default = receiver_app.create_app(base)
        unbounded = receiver_app.create_app(
            ServiceConfig(
                policies=base.policies,
                secrets=base.secrets,
                decision_log=Path(tmp) / "decisions-unbounded.jsonl",
                signature_fallback=FallbackSettings(max_body=1 << 30, rate=1e9),
            )
        )
        await start(default)
        await start(unbounded)
        results: dict[str, dict[str, list[int]]] = {}
        for name, body in bodies().items():
            good = sign_base64(secret.encode(), body)
            forged = sign_base64(b"not-the-secret", body)
            cases = [
                ("signed", default, good, 200),
                ("forged", default, forged, 401),
                ("forged, fallback unbounded", unbounded, forged, 401),
            ]
            samples: dict[str, list[int]] = {label: [] for label, *_ in cases}
            for round_ in range(args.rounds + 1):  # the first round is a warm-up
                shift = rng.randrange(len(cases))
                for k in range(len(cases)):
                    label, app, signature, expected = cases[(k + shift) % len(cases)]
                    t0 = time.perf_counter_ns()
                    status = await call(app, body, signature)
                    elapsed = time.perf_counter_ns() - t0
                    if status != expected:
                        raise RuntimeError(f"{name}/{label}: answered {status}, not {expected}")
                    if round_:
                        samples[label].append(elapsed)
            results[name] = samples

    print(header("bench/refusal.py", rounds=args.rounds, seed=args.seed))
    print(f"receiver's request path: {receiver_package.BUILD}")
    print("load average: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print()
    print(f"{'body':<11}  {'case':<27}  {'median ms':>9}  {'ratio to signed':>15}")
    lines = []
    for name, samples in results.items():
        reference = statistics.median(samples["signed"])
        for label, values in samples.items():
            median = statistics.median(values)
            print(f"{name:<11}  {label:<27}  {median / 1e6:>9.3f}  {median / reference:>15.3f}")
        ratio = statistics.median(samples["forged"]) / reference
        lines.append(verdict(f"{name}: refusing a forged body / deciding it", ratio, TARGET, "x"))
    print()
    print("\n".join(lines))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30, help="timed calls per case and body")
    parser.add_argument("--seed", type=int, default=1, help="seed of the case order")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
