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
verify and compile the bundle: each replica polls on its own clock.

    python bench/cluster.py [--bundle-poll 2] [--rounds 5] [--policies policies]

With ``--scenario replica-loss`` and ``--scenario redis-loss`` (repeatable; the default
is ``convergence`` alone) it also sends signed messages through HAProxy from
``--senders`` threads for ``--seconds``, and a third of the way in SIGKILLs one
replica's process group (then starts it again), or stops Redis (then starts it again):
it prints how many requests got no 200 decision (the target is none), the latency
overall and in the second after the loss, and HAProxy's retries or the replicas'
counter fallbacks.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

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


def convergence(cluster: local.Cluster, args: argparse.Namespace, work: Path) -> None:
    rng = random.Random(args.seed)
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


def load(cluster: local.Cluster, seconds: float, senders: int, event: Callable[[], None]) -> None:
    """``senders`` threads post signed messages (a fresh user each) through HAProxy for
    ``seconds``; ``event`` runs a third of the way in. Prints what came back."""
    results: list[tuple[float, float, int, str]] = []  # (sent at, seconds, status, body)
    lock = threading.Lock()
    started = time.monotonic()
    end = started + seconds

    def send() -> None:
        with httpx.Client(timeout=10) as http:
            while time.monotonic() < end:
                user = f"bench-{random.getrandbits(48):012x}"
                body = json.dumps(
                    {"eventName": "message.shouldCreate", "actor": {"userId": user},
                     "data": {"text": "hello", "channelId": "ch_1"}}
                ).encode()  # fmt: skip
                sent = time.monotonic()
                try:
                    response = http.post(
                        cluster.url + local.HOOK, content=body, headers=cluster.signed(body)
                    )
                    status, text = response.status_code, response.text
                except httpx.HTTPError as err:
                    status, text = 0, repr(err)
                with lock:
                    results.append((sent - started, time.monotonic() - sent, status, text))

    threads = [threading.Thread(target=send) for _ in range(senders)]
    for thread in threads:
        thread.start()
    time.sleep(seconds / 3)
    at = time.monotonic() - started
    event()
    for thread in threads:
        thread.join(timeout=seconds + 30)
    failed = [r for r in results if r[2] != 200 or '"action"' not in r[3]]
    after = sorted(r[1] for r in results if at <= r[0] < at + 1.0)
    every = sorted(r[1] for r in results)
    print(
        f"{len(results)} requests by {senders} senders in {seconds:g} s, "
        f"{len(failed)} without a 200 decision"
    )
    print(
        f"latency: p50 {quantile(every, 0.5):.1f} ms, p99 {quantile(every, 0.99):.1f} ms, "
        f"max {every[-1] * 1000:.1f} ms; in the second after: p50 {quantile(after, 0.5):.1f} "
        f"ms, max {(after[-1] if after else 0) * 1000:.1f} ms ({len(after)} requests)"
    )


def quantile(ordered: list[float], q: float) -> float:
    """In milliseconds; nan for no samples."""
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def replica_loss(cluster: local.Cluster, args: argparse.Namespace) -> None:
    before = retries(cluster)
    print("replica2 gets SIGKILL (its whole process group) under load:")
    load(cluster, args.seconds, args.senders, lambda: cluster.kill_replica("replica2"))
    print(f"HAProxy retried {retries(cluster) - before} requests on another replica")
    cluster.start_replica("replica2")
    cluster.wait_balanced()


def redis_loss(cluster: local.Cluster, args: argparse.Namespace) -> None:
    print(f"Redis stops under load (--counters-fallback {cluster.settings.counters_fallback}):")
    load(cluster, args.seconds, args.senders, cluster.stop_redis)
    fallbacks = 0.0
    for name in cluster.replica_names:
        _, body = local.http_get(cluster.replica_url(name) + "/metrics")
        for line in body.decode().splitlines():
            if line.startswith("receiver_counter_fallbacks_total{"):
                fallbacks += float(line.rsplit(" ", 1)[1])
    print(f"counter fallbacks counted by the replicas: {fallbacks:.0f}")
    cluster.start_redis()


def retries(cluster: local.Cluster) -> int:
    _, body = local.http_get(cluster.stats_url + ";csv")
    lines = body.decode().splitlines()
    header = lines[0].lstrip("# ").split(",")
    for line in lines[1:]:
        row = dict(zip(header, line.split(","), strict=False))
        if row["pxname"] == "replicas" and row["svname"] == "BACKEND":
            return int(row["wretr"] or 0) + int(row["wredis"] or 0)
    return 0


SCENARIOS = ("convergence", "replica-loss", "redis-loss")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle-poll", type=float, default=2.0, help="seconds (default 2)")
    parser.add_argument("--rounds", type=int, default=5, help="publications (default 5)")
    parser.add_argument("--policies", type=Path, default=ROOT / "policies", help="policy folder")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--scenario", choices=SCENARIOS, action="append",
        help="what to measure, repeatable (default: convergence only)",
    )  # fmt: skip
    parser.add_argument("--seconds", type=float, default=6.0, help="load per loss scenario")
    parser.add_argument("--senders", type=int, default=4, help="concurrent senders")
    args = parser.parse_args()
    scenarios = args.scenario or ["convergence"]
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as scratch:
        work = Path(scratch)
        settings = local.Settings(
            state=work / "state", policies=args.policies, users=None,
            bundle_poll=args.bundle_poll,
        )  # fmt: skip
        with local.Cluster.running(settings) as cluster:
            print(f"{len(cluster.replica_names)} replicas x --workers {settings.workers}, "
                  f"signed bundles, --bundle-poll {args.bundle_poll:g} s")  # fmt: skip
            for scenario in SCENARIOS:
                if scenario in scenarios:
                    {"convergence": lambda: convergence(cluster, args, work),
                     "replica-loss": lambda: replica_loss(cluster, args),
                     "redis-loss": lambda: redis_loss(cluster, args)}[scenario]()  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
