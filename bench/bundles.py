"""Bundle convergence: time from publishing a new policy bundle until every worker of a
``receiver serve --workers N --policies http://...`` serves it.

Run from the repository root::

    python bench/bundles.py [--rounds 5] [--poll 1] [--workers 2]

The local cluster's static server (``deploy/local/static_server.py``, in a thread of
this process: ETag, 304s) serves signed bundles of a small policy from a folder; the
service runs as in production (a signature secret, ``--bundle-public-key``, the decision
log in a file). Each round publishes a bundle with a new revision and polls ``/metrics``
every 20 ms until every live worker's ``receiver_policy_revision`` gauge shows it: the
figure is that wait, which is at most one poll interval (the poll's phase is random)
plus one download, verification, child-process check and build per worker. The two
workers do that at once on a 2-core machine. The last line counts the workers' polls by
result (``receiver_bundle_fetches_total``). A benchmark: it prints figures and exits 0
(1 only when a round never converges).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from receiver.bundles import keys
from receiver.bundles.build import build_bundle
from receiver.runtime.policyset import check_paths

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy" / "local"))
import static_server  # noqa: E402 (deploy/local is not a package: its path comes first)

POLICY = """\
policy: chat
rules:
  - id: forbidden
    events: message.shouldCreate
    when: text contains "forbidden"
    action: deny
    message: "version {n}"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def by_label(client: httpx.Client, port: int, name: str, label: str) -> dict[str, int]:
    """The samples ``name`` of the service's /metrics, summed over its workers by ``label``:
    workers per revision (``receiver_policy_revision`` is 1 for the one a worker serves),
    polls per result (``receiver_bundle_fetches_total``)."""
    text = client.get(f"http://127.0.0.1:{port}/metrics").text
    out: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                key = sample.labels[label]
                out[key] = out.get(key, 0) + int(sample.value)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--poll", type=float, default=1.0, help="--bundle-poll SECONDS")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=60.0, help="per round")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench-bundles-"))
    key = keys.generate()
    public = work / "public.pem"
    public.write_bytes(keys.public_pem(key.public_key()))
    www = work / "www"
    www.mkdir()
    hub = static_server.make_server(www)
    threading.Thread(target=hub.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()

    def publish(n: int) -> str:
        source = work / f"v{n}"
        source.mkdir()
        (source / "chat.yaml").write_text(POLICY.replace("{n}", str(n)))
        built = build_bundle(source, check_paths([source]).files, key)
        (www / "b.tar.gz.new").write_bytes(built.data)
        (www / "b.tar.gz.new").replace(www / "b.tar.gz")  # atomic: a poll sees old or new
        return built.manifest.revision

    first = publish(0)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECEIVER_", "PROMETHEUS_"))}
    env["RECEIVER_SOCIALPLUS_SECRET"] = secrets.token_hex(16)
    command = [
        sys.executable, "-m", "receiver", "serve", "--port", str(port),
        "--workers", str(args.workers), "--policies", f"http://127.0.0.1:{hub.server_address[1]}/b.tar.gz",
        "--bundle-public-key", str(public), "--bundle-poll", str(args.poll),
        "--decision-log", str(work / "decisions.jsonl"), "--log-level", "warning",
        "--counters", "memory-per-worker",  # the chat policy counts nothing; no Redis needed
    ]  # fmt: skip
    with (work / "server.err").open("wb") as err:
        proc = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=err, env=env, start_new_session=True
        )
    client = httpx.Client(timeout=5, limits=httpx.Limits(max_keepalive_connections=0))
    times: list[float] = []
    fetches: dict[str, int] = {}
    failed = False
    try:
        deadline = time.monotonic() + args.timeout
        while workers_on_safe(client, port).get(first, 0) < args.workers:
            if time.monotonic() > deadline or proc.poll() is not None:
                print("the service never served the first bundle", file=sys.stderr)
                return 1
            time.sleep(0.1)
        for n in range(1, args.rounds + 1):
            revision = publish(n)
            started = time.monotonic()
            while workers_on_safe(client, port).get(revision, 0) < args.workers:
                if time.monotonic() - started > args.timeout:
                    print(f"round {n}: no convergence in {args.timeout:g} s", file=sys.stderr)
                    failed = True
                    break
                time.sleep(0.02)
            else:
                times.append(time.monotonic() - started)
                print(
                    f"round {n}: all {args.workers} workers on {revision} after {times[-1]:.2f} s"
                )
        with contextlib.suppress(httpx.HTTPError):
            fetches = by_label(client, port, "receiver_bundle_fetches_total", "result")
    finally:
        client.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        hub.shutdown()
        hub.server_close()
        shutil.rmtree(work, ignore_errors=True)
    if times:
        print(
            f"bundle convergence, --workers {args.workers}, --bundle-poll {args.poll:g}: "
            f"median {statistics.median(times):.2f} s, max {max(times):.2f} s over "
            f"{len(times)} rounds; bundle polls by result: "
            + (", ".join(f"{k} {v}" for k, v in sorted(fetches.items()) if v) or "unknown")
        )
    return 1 if failed else 0


def workers_on_safe(client: httpx.Client, port: int) -> dict[str, int]:
    try:
        return by_label(client, port, "receiver_policy_revision", "revision")
    except httpx.HTTPError:
        return {}


if __name__ == "__main__":
    raise SystemExit(main())
