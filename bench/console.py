"""How fast the policy console answers ``POST /api/check`` (and ``/api/decide``).

Run from the repository root with the project's virtual environment::

    python bench/console.py              # a few seconds
    python bench/console.py --calls 200

Measures, on the shipped policy files (sent as the page sends them):

- in process: ``receiver.console.checking.check_json`` (load and check from texts, what
  ``/api/check`` runs), median and p90 of ``--calls`` calls after one warm-up;
- over HTTP: a real ``receiver console`` process on a free loopback port, one
  keep-alive client, ``POST /api/check`` and ``POST /api/decide`` (a chat message that
  is too long; the compiled set is kept by revision, so this is the decide path, not a
  compile), median and p90 of ``--calls`` calls each after a warm-up call.

Target (issue 22): diagnostics within 200 ms of a pause in typing, so ``/api/check``
over HTTP well under 200 ms. Prints PASS/MISS; exit code 0 either way.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from receiver.console.checking import check_json

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "policies"
PAYLOAD = ROOT / "examples" / "payloads" / "message-create-too-long.json"
TARGET_MS = 200.0


def files() -> list[dict[str, str]]:
    return [
        {"name": p.name, "text": p.read_text(encoding="utf-8")}
        for p in sorted(POLICIES.glob("*.yaml"))
        if not p.name.endswith((".test.yaml", ".users.yaml"))
    ]


def timed(call: Callable[[], object], calls: int) -> list[float]:
    call()
    out = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        out.append((time.perf_counter() - start) * 1000)
    return out


def line(what: str, ms: list[float]) -> str:
    p90 = statistics.quantiles(ms, n=10)[-1] if len(ms) >= 2 else ms[0]
    verdict = (
        "" if "decide" in what else ("  PASS" if statistics.median(ms) < TARGET_MS else "  MISS")
    )
    return f"{what:<36} median {statistics.median(ms):7.1f} ms   p90 {p90:7.1f} ms{verdict}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=50, help="timed calls per measure")
    args = parser.parse_args()
    body = {"files": files()}
    sources = [(f["name"], f["text"]) for f in body["files"]]
    print(f"{len(sources)} policy files, {sum(len(t) for _, t in sources):,} characters")
    print(line("check_json (in process)", timed(lambda: check_json(sources), args.calls)))

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECEIVER_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "receiver", "console", "--port", str(port),
         "--policies", str(POLICIES)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=30) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    client.get(base + "/")
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        print("the console did not start", file=sys.stderr)
                        return 1
                    time.sleep(0.1)
            check = lambda: client.post(base + "/api/check", json=body).raise_for_status()  # noqa: E731
            print(line("POST /api/check (HTTP, keep-alive)", timed(check, args.calls)))
            decide_body = body | {"payload": json.loads(PAYLOAD.read_text()), "now": None}
            decide = lambda: client.post(base + "/api/decide", json=decide_body).raise_for_status()  # noqa: E731
            print(line("POST /api/decide (HTTP, keep-alive)", timed(decide, args.calls)))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
