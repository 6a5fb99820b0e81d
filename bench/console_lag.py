"""How late another worker's decisions reach the console of ``receiver serve --console``.

Run from the repository root::

    python bench/console_lag.py [--decisions 10] [--workers 2]

Starts ``receiver serve --console --workers N`` (memory-per-worker counters, a random
signature secret, a one-rule policy) on a free loopback port with its own ``TMPDIR``,
asks the explorer once (a viewer: the workers start writing their snapshots), then
sends signed decisions one at a time, each to one worker (the others stopped with
SIGSTOP meanwhile, so the kernel hands the connection to the one that runs; the
harness of ``tests/serverproc.py``), and times how long each takes to appear in that
worker's snapshot file: what any other worker answering a console call reads. The
page polls once a second on top of it. Every wait is bounded; the server is stopped
(its process group) at the end. A benchmark: it exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import serverproc  # noqa: E402  # the tests' harness for real server processes

SECRET = "console-lag-secret-0123"
POLICY = """\
policy: p
rules:
  - id: r
    events: message.shouldCreate
    when: text contains "x"
    action: deny
    message: no
"""
GIVE_UP = 10.0  # seconds: a decision not seen by then counts as this late


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-console-lag-"))
    policies = tmp / "policies"
    policies.mkdir()
    (policies / "p.yaml").write_text(POLICY)
    lags: list[float] = []
    with serverproc.launcher(tmp) as launch:
        server = launch(
            "--console", "--policies", str(policies), "--counters", "memory-per-worker",
            secret=SECRET, workers=args.workers,
        )  # fmt: skip
        pids = sorted(server.workers())
        server.client.get(f"{server.base}/console/api/decisions")  # a viewer looks
        for index in range(args.decisions):
            pid = pids[index % len(pids)]
            payload = {"eventName": "message.shouldCreate", "data": {"text": f"t{index}"},
                       "actor": {"userId": "u"}}  # fmt: skip
            with server.only(pid):
                answer = server.post(payload, SECRET)
            decision_id = answer.headers["x-decision-id"].encode()
            started = time.monotonic()
            while time.monotonic() - started < GIVE_UP:
                found = list(server.tmp.glob(f"receiver-console-*/console.{pid}.json"))
                try:
                    if found and decision_id in found[0].read_bytes():
                        break
                except OSError:  # replaced just now
                    pass
                time.sleep(0.01)
            lags.append(time.monotonic() - started)
            time.sleep(0.3)
    shown = ", ".join(f"{lag:.2f}" for lag in lags)
    median, worst = statistics.median(lags), max(lags)
    print(f"serve --console --workers {args.workers}: a decision reaches its worker's snapshot "
          f"after median {median:.2f} s, max {worst:.2f} s ({shown})")  # fmt: skip
    print("the page polls every second on top of it: another worker's decisions show within "
          "about 1-2 s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
