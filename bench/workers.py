"""Throughput of ``receiver serve --workers 2`` against ``--workers 1``, signed, with wrk.

Run from the repository root::

    python bench/workers.py [--duration 10] [--connections 32] [--rounds 3] [--workers 2]
                            [--redis-url redis://127.0.0.1:6379/0]

Both servers run the way an operator runs them: a random signature secret
(``RECEIVER_SOCIALPLUS_SECRET``), the shipped policies, the example user directory,
the decision log in a file. Counters are ``--counters memory-per-worker`` (said
explicitly: each worker counts on its own, which ``receiver serve`` refuses to do
silently), or with ``--redis-url`` Redis counters shared by every worker, the production
shape. The load is ``bench/serve.py``'s: signed social.plus
pre-hooks generated from ``examples/payloads/*.json``, cycled through by a wrk Lua
script (closed loop). The two servers alternate for ``--rounds`` rounds after a
warm-up each, so that a slow spell of the machine hits both; the figure is the ratio
of the median requests/s of ``--workers N`` to that of ``--workers 1``.

wrk itself runs on the same machine and takes CPU time from the workers: on a
2-core machine the ratio says how much a second worker adds beside a load
generator, not what two cores alone would give. A run with any non-2xx answer or
socket error is reported as INVALID. A benchmark: it exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from serve import (
    ROOT,
    compact,
    free_port,
    http_request,
    make_payloads,
    run_wrk,
    sign,
    stop,
    wait_ready,
    write_lua,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=2, help="wrk warm-up seconds")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="compared with 1 (default 2)")
    parser.add_argument("--payloads", type=int, default=240)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--redis-url", help="Redis counters at this URL (default: memory-per-worker counters)"
    )
    args = parser.parse_args(argv)
    if args.workers < 2:
        parser.error("--workers must be 2 or more (it is compared with 1)")
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2
    secret = secrets.token_hex(24)
    payloads, _ = make_payloads(args.payloads, args.seed)
    signed = [(body, sign(secret.encode(), body)) for body in map(compact, payloads)]
    tmp = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    script = tmp / "signed.lua"
    write_lua(script, signed)
    env = dict(os.environ, RECEIVER_SOCIALPLUS_SECRET=secret)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    bindir = str(Path(sys.executable).parent)
    receiver_bin = shutil.which("receiver", path=bindir)
    base = [receiver_bin] if receiver_bin else [sys.executable, "-m", "receiver"]
    counts = (1, args.workers)
    counters = ["--counters", "memory-per-worker"]
    if args.redis_url:
        counters = ["--counters", "redis", "--redis-url", args.redis_url]
    rps: dict[int, list[float]] = {n: [] for n in counts}
    print(
        f"== receiver serve --workers {args.workers} vs --workers 1: wrk -c{args.connections} "
        f"-d{args.duration:g}s, {args.rounds} rounds, signed requests, shipped policies, "
        f"{counters[1]} counters "
        f"({os.cpu_count()} CPUs)",
        flush=True,
    )
    try:
        for round_ in range(args.rounds):
            for workers in counts if round_ % 2 == 0 else counts[::-1]:
                port = free_port()
                argv_ = [
                    *base, "serve", "--port", str(port), "--workers", str(workers),
                    "--policies", str(ROOT / "policies"),
                    "--users", str(ROOT / "examples/users.yaml"),
                    "--decision-log", str(tmp / f"decisions-{workers}.jsonl"), *counters,
                ]  # fmt: skip
                with (tmp / "server.err").open("ab") as err:
                    proc = subprocess.Popen(
                        argv_, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=ROOT,
                        start_new_session=True,
                    )  # fmt: skip
                try:
                    wait_ready(proc, port, http_request(port, *signed[0]), 60)
                    load = {"connections": args.connections, "threads": 1, "pin": False}
                    run_wrk(wrk, script, port, duration=args.warmup, **load)
                    result = run_wrk(wrk, script, port, duration=args.duration, **load)
                finally:
                    stop(proc)
                status = "" if result.valid else "  INVALID (errors or non-2xx answers)"
                print(
                    f"round {round_ + 1}  --workers {workers}: {result.rps:9.0f} req/s  "
                    f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms{status}",
                    flush=True,
                )
                if result.valid:
                    rps[workers].append(result.rps)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not rps[1] or not rps[args.workers]:
        print("no valid run to compare")
        return 0
    one, many = statistics.median(rps[1]), statistics.median(rps[args.workers])
    print(
        f"median req/s: --workers 1 {one:.0f}, --workers {args.workers} {many:.0f}; "
        f"ratio {many / one:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
