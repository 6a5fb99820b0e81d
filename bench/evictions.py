"""Eviction fan-out: from a user webhook at one replica until every worker of every replica
has dropped the user (Redis pub/sub, ``receiver.users.broadcast``).

Run from the repository root::

    python bench/evictions.py [--replicas 3] [--workers 2] [--evictions 100]
                              [--redis-url redis://127.0.0.1:6379/0]

Starts, on loopback only: a ``redis-server`` on a free port (unless ``--redis-url``),
the user directory of the tests (``tests/fake_directory.py``, its own process),
``--replicas`` real ``receiver serve --workers W`` processes on that one Redis (a random
signature secret, Redis counters, the HTTP user directory) and waits until every worker
has subscribed to the eviction channel. Then, ``--evictions`` times, one after the
other: a signed ``user.didUpdate`` webhook for a fresh user goes to one replica (in
turn), and the script polls every replica's ``/metrics`` until
``receiver_user_eviction_messages_total{result="peer"}`` (summed over the replica's
workers) has grown by as many workers as should have received it (W - 1 at the
replica that got the webhook, which evicted locally before answering; W elsewhere).
A worker applies a message synchronously when it arrives, so "received" is "dropped".

Two figures, p50 / p99 / max over the evictions:

- **until all dropped (polled)**: from sending the webhook until the last replica's
  count had grown. It includes the webhook's HTTP round trip (the answer comes after
  the publish) and the polling, a few milliseconds per round on a busy machine: an
  upper bound.
- **fan-out per delivery (histogram)**: ``receiver_user_eviction_fanout_seconds``,
  each worker's receive time minus the message's publish time, estimated from the
  histogram buckets over all deliveries (as ``histogram_quantile`` does), and its mean.

Target (issue 20): under 100 ms on loopback, for the polled figure's p99. Stops every
process it started, by PID (process group). A benchmark: it exits 0 whatever the
figures (1 when the set-up fails or an eviction never arrives).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import hmac
import http.client
import json
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import percentile
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
FAKE = ROOT / "tests" / "fake_directory.py"
sys.path.insert(0, str(ROOT / "tests"))
from redisproc import RedisProcess  # noqa: E402 (tests/ is not a package: its path comes first)

TARGET_MS = 100.0
POLICY = """\
policy: bench
rules:
  - id: echo
    events: message.shouldCreate
    action: deny
    message: "hello {user.role}"
"""
PEER = "receiver_user_eviction_messages_total"
FANOUT = "receiver_user_eviction_fanout_seconds"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL to the process's own group (each runs in its own session)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


@dataclass
class Replica:
    proc: subprocess.Popen[bytes]
    port: int
    conn: http.client.HTTPConnection

    def get(self, path: str) -> tuple[int, bytes]:
        for attempt in range(2):  # a kept-alive connection the server closed: once more
            try:
                self.conn.request("GET", path)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (OSError, http.client.HTTPException):
                self.conn.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        self.conn.request("POST", path, body=body, headers=headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def metrics(self) -> dict[str, float]:
        """Samples by name, plus ``name{le}`` for buckets and ``name{result}`` for results."""
        status, body = self.get("/metrics")
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        out: dict[str, float] = {}
        for family in text_string_to_metric_families(body.decode()):
            for sample in family.samples:
                key = sample.name
                if "le" in sample.labels:
                    key += "{" + sample.labels["le"] + "}"
                elif "result" in sample.labels:
                    key += "{" + sample.labels["result"] + "}"
                elif "origin" in sample.labels:
                    key += "{" + sample.labels["origin"] + "}"
                out[key] = out.get(key, 0.0) + sample.value
        return out


def wait_until(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, http.client.HTTPException, RuntimeError):
            if check():
                return
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}")


@contextlib.contextmanager
def redis_server(given: str | None, workdir: Path) -> Iterator[str]:
    if given:
        yield given
        return
    try:
        server = RedisProcess(workdir)
    except FileNotFoundError as err:
        raise RuntimeError(f"{err}, or pass --redis-url") from err
    try:
        server.start()
        yield server.url
    finally:
        server.stop()


@contextlib.contextmanager
def directory() -> Iterator[str]:
    fake = subprocess.Popen(
        [sys.executable, str(FAKE), "--users", "100"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert fake.stdout is not None
        port = int(fake.stdout.readline())
        yield f"http://127.0.0.1:{port}/v1/users/{{userId}}"
    finally:
        if fake.stdin is not None:
            fake.stdin.close()
        try:
            fake.wait(20)
        except subprocess.TimeoutExpired:
            stop(fake)


@contextlib.contextmanager
def replicas(
    count: int, workers: int, *, redis_url: str, users_url: str, secret: str, workdir: Path
) -> Iterator[list[Replica]]:
    policies = workdir / "policies"
    policies.mkdir()
    (policies / "bench.yaml").write_text(POLICY)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECEIVER_", "PROMETHEUS_"))}
    env["RECEIVER_SOCIALPLUS_SECRET"] = secret
    started: list[Replica] = []
    try:
        for n in range(count):
            port = free_port()
            argv = [
                sys.executable, "-m", "receiver", "serve", "--port", str(port),
                "--workers", str(workers), "--policies", str(policies),
                "--counters", "redis", "--redis-url", redis_url, "--users-url", users_url,
                "--decision-log", str(workdir / f"decisions{n}.jsonl"),
            ]  # fmt: skip
            with (workdir / f"replica{n}.err").open("wb") as err:
                proc = subprocess.Popen(
                    argv, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=workdir,
                    start_new_session=True,
                )  # fmt: skip
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            started.append(Replica(proc, port, conn))
        for n, replica in enumerate(started):

            def subscribed(r: Replica = replica, n: int = n) -> bool:
                if r.proc.poll() is not None:
                    raise SystemExit(f"replica {n} exited: see {workdir}/replica{n}.err")
                subs = r.metrics().get("receiver_user_eviction_subscriptions_total", 0)
                return subs >= workers

            wait_until(f"replica {n}'s {workers} subscriptions", subscribed, 60)
        yield started
    finally:
        for replica in started:
            replica.conn.close()
            stop(replica.proc)


def bucket_quantile(buckets: dict[float, float], q: float) -> float:
    """histogram_quantile over cumulative bucket counts (upper bound -> count)."""
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    if total <= 0:
        return math.nan
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            span = count - lower_count
            share = (rank - lower_count) / span if span else 1.0
            return lower_bound + (bound - lower_bound) * share
        lower_bound, lower_count = bound, count
    return bounds[-1]


def run(args: argparse.Namespace, workdir: Path) -> int:
    secret = secrets.token_hex(16)
    with (
        redis_server(args.redis_url, workdir) as redis_url,
        directory() as users_url,
        replicas(
            args.replicas,
            args.workers,
            redis_url=redis_url,
            users_url=users_url,
            secret=secret,
            workdir=workdir,
        ) as reps,
    ):
        before = [r.metrics() for r in reps]
        expected = [b.get(PEER + "{peer}", 0.0) for b in before]
        polled: list[float] = []
        missed = 0
        for k in range(args.evictions):
            target = k % len(reps)
            body = json.dumps(
                {"event": "user.didUpdate", "data": {"users": [{"userId": f"bench-{k}"}]}}
            ).encode()
            signature = base64.b64encode(
                hmac.new(secret.encode(), body, hashlib.sha256).digest()
            ).decode()
            headers = {"content-type": "application/json", "x-amity-signature": signature}
            for n in range(len(reps)):
                expected[n] += args.workers - 1 if n == target else args.workers
            started = time.perf_counter()
            status, answer = reps[target].post("/hooks/socialplus/events", body, headers)
            if status != 200:
                raise SystemExit(f"the webhook answered {status}: {answer!r}")
            waiting = set(range(len(reps)))
            deadline = started + args.timeout
            done = math.nan
            while waiting and time.perf_counter() < deadline:
                for n in sorted(waiting):
                    if reps[n].metrics().get(PEER + "{peer}", 0.0) >= expected[n]:
                        waiting.discard(n)
                if not waiting:
                    done = time.perf_counter() - started
            if waiting:
                missed += 1
                expected = [r.metrics().get(PEER + "{peer}", 0.0) for r in reps]  # resync
            else:
                polled.append(done)
            time.sleep(args.pause)
        after = [r.metrics() for r in reps]

    def delta(key: str) -> float:
        return sum(a.get(key, 0.0) - b.get(key, 0.0) for a, b in zip(after, before, strict=True))

    buckets: dict[float, float] = {}
    for key in after[0]:
        if key.startswith(FANOUT + "_bucket{"):
            bound = float(key[len(FANOUT + "_bucket{") : -1])
            buckets[bound] = delta(key)
    deliveries = delta(FANOUT + "_count")
    mean = delta(FANOUT + "_sum") / deliveries if deliveries else math.nan
    failures = delta("receiver_user_eviction_publish_failures_total")
    per = args.replicas * args.workers - 1
    print(
        f"{args.evictions} evictions, {args.replicas} replicas x --workers {args.workers} "
        f"on one Redis (loopback); each eviction reaches {per} other workers"
    )
    print(f"host load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    if polled:
        p50, p99, top = (percentile(polled, q) * 1000 for q in (50, 99, 100))
        print(
            f"until all dropped (polled, upper bound): p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
            f"max {top:.1f} ms over {len(polled)} evictions"
        )
        verdict = "PASS" if p99 < TARGET_MS else "MISS"
        print(f"target p99 < {TARGET_MS:.0f} ms on loopback: {verdict}")
    if buckets and deliveries:
        q50, q99 = (bucket_quantile(buckets, q) * 1000 for q in (0.5, 0.99))
        print(
            f"fan-out per delivery (histogram, {deliveries:.0f} deliveries): mean "
            f"{mean * 1000:.2f} ms, p50 ~{q50:.2f} ms, p99 ~{q99:.2f} ms (bucket estimates)"
        )
    print(f"publish failures {failures:.0f}; evictions that never reached every worker {missed}")
    return 1 if missed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="per replica")
    parser.add_argument("--evictions", type=int, default=100)
    parser.add_argument("--pause", type=float, default=0.02, help="seconds between evictions")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per eviction")
    parser.add_argument("--redis-url", help="use this Redis instead of starting one")
    args = parser.parse_args(argv)
    if args.replicas < 1 or args.workers < 1 or args.evictions < 1:
        parser.error("--replicas, --workers and --evictions must be 1 or more")
    with tempfile.TemporaryDirectory(prefix="bench-evictions-") as tmp:
        return run(args, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
