"""Bundle convergence time: how long a new policy bundle takes to reach every replica.

Not a test: a figure for docs/deploy.md. Starts the local cluster
(``deploy/local/cluster.py``: Redis, three ``--workers 2`` replicas polling a bundle
server every ``--bundle-poll`` seconds, HAProxy), then, ``--rounds`` times: waits a
random part of a poll interval (so that publishing falls anywhere between two polls),
publishes a new signed bundle (the policies plus a one-rule file that changes the
revision), and reads every replica's per-worker revision gauges (``/metrics``) every
10 ms until all its workers serve the new revision. Prints, per round, when each
replica switched and when the last one did (the convergence time), then the median
and maximum over the rounds.

Expect convergence to be spread over about one poll interval plus the time to fetch,
verify and compile the bundle: each replica polls on its own clock. Without
``receiver bundle`` (an older receiver) the cluster publishes by replacing a policy
folder and sending SIGHUP, and the figure is the reload time instead; the output says
which.

    python bench/cluster.py [--bundle-poll 2] [--rounds 5] [--policies policies]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "deploy" / "local"))
import cluster as local  # noqa: E402 (deploy/local is not a package: its path comes first)

ROUND_POLICY = """\
policy: bench-round
description: a rule that never fires; its text changes the revision in round {n}
rules:
  - id: never
    events: message.shouldCreate
    when: text == "bench-round-{n}-never"
    action: deny
    message: never
"""
POLL_EVERY = 0.01  # seconds between /readyz rounds over the replicas


def converge(cluster: local.Cluster, folder: Path, timeout: float) -> tuple[float, list[float]]:
    """Publish ``folder``; (time until every replica serves it, each replica's time)."""
    revision = cluster.publish(folder, wait=False)
    published = time.monotonic()  # from the moment the bundle is in place
    switched: dict[str, float] = {}
    deadline = published + timeout
    while len(switched) < len(cluster.replica_names) and time.monotonic() < deadline:
        for name, seen in cluster.worker_revisions().items():
            if seen == {revision} and name not in switched:
                switched[name] = time.monotonic() - published
        time.sleep(POLL_EVERY)
    if len(switched) < len(cluster.replica_names):
        raise SystemExit(f"not every replica reached revision {revision} in {timeout:.0f} s")
    times = [switched[name] for name in cluster.replica_names]
    return max(times), times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle-poll", type=float, default=2.0, help="seconds (default 2)")
    parser.add_argument("--rounds", type=int, default=5, help="publications (default 5)")
    parser.add_argument("--policies", type=Path, default=ROOT / "policies", help="policy folder")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as scratch:
        work = Path(scratch)
        settings = local.Settings(
            state=work / "state", policies=args.policies, users=None,
            bundle_poll=args.bundle_poll,
        )  # fmt: skip
        with local.Cluster.running(settings) as cluster:
            mode = "signed bundles" if cluster.bundles else "policy folder + SIGHUP"
            print(f"{len(cluster.replica_names)} replicas x --workers {settings.workers}, "
                  f"{mode}, --bundle-poll {args.bundle_poll:g} s")  # fmt: skip
            totals = []
            for n in range(1, args.rounds + 1):
                folder = work / f"round{n}"
                shutil.copytree(args.policies, folder)
                (folder / "bench-round.yaml").write_text(ROUND_POLICY.format(n=n))
                time.sleep(rng.uniform(0, args.bundle_poll))
                total, each = converge(cluster, folder, timeout=10 * args.bundle_poll + 30)
                totals.append(total)
                replicas = "  ".join(f"{t * 1000:6.0f}" for t in each)
                print(f"round {n}: every replica after {total * 1000:6.0f} ms   (each: {replicas})")
            print(
                f"convergence over {len(totals)} rounds: p50 {statistics.median(totals) * 1000:.0f}"
                f" ms, max {max(totals) * 1000:.0f} ms (poll interval {args.bundle_poll:g} s)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
