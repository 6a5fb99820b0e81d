"""End to end: ``receiver serve --policies http://.../bundle.tar.gz`` in the production
shape (signatures on, ``--workers 2``, Redis counters, a signed bundle and its public
key, ``--bundle-poll 1``) against a real static HTTP server in this process.

- a new bundle reaches both workers (readyz, metrics, decisions) within a poll or two;
- polls are conditional (If-None-Match, 304);
- tampered, unsigned, foreign-signed and broken bundles are refused and counted, each
  failure logged once per worker, while the serving revision keeps answering;
- the bundle server going down disturbs nothing, and its next bundle still arrives;
- SIGHUP polls at once in every worker;
- a cold start with the bundle server down: the service runs, /readyz says why it is
  not ready (503), hooks get the fail-safe answer inside the deadline, counted; when the
  server comes up the service becomes ready.
Every wait is bounded; the servers are stopped by process group at the end.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bundlecraft import Member, members_of, targz
from bundleserver import BundleServer
from chat_policy import SECRET, answer_message, message, policy
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from serverproc import Launch, Server, launcher, wait_for

from receiver.bundles import keys
from receiver.bundles.build import build_bundle
from receiver.runtime.policyset import check_paths

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGHUP"), reason="POSIX signals (SIGHUP, process groups) needed"
)

POLL = 1.0
CONVERGE = 20.0  # seconds allowed for a poll, the child-process check and the build (2 cores)


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    with launcher(tmp_path) as start:
        yield start


@pytest.fixture
def signing(tmp_path: Path) -> tuple[Ed25519PrivateKey, Path]:
    key = keys.generate()
    public = tmp_path / "bundle-public.pem"
    public.write_bytes(keys.public_pem(key.public_key()))
    return key, public


def bundle(
    tmp_path: Path, version: str, key: Ed25519PrivateKey | None, text: str | None = None
) -> tuple[bytes, str]:
    """A bundle of the chat policy answering ``version`` (or of ``text``), and its revision.
    Built without the check when ``text`` is given, so that a broken set can be bundled."""
    directory = tmp_path / f"src-{version}"
    directory.mkdir()
    (directory / "chat.yaml").write_text(text if text is not None else policy(version))
    report = check_paths([directory])
    built = build_bundle(directory, report.files, key)
    return built.data, built.manifest.revision


def revisions(server: Server) -> dict[int, str]:
    """The revision each live worker serves (its receiver_policy_revision gauge)."""
    return {
        int(labels["pid"]): labels["revision"]
        for name, labels, value in server.metrics()
        if name == "receiver_policy_revision" and value == 1 and "pid" in labels
    }


def fetches(server: Server, result: str) -> float:
    return server.metric("receiver_bundle_fetches_total", result=result)


def serving(server: Server, revision: str, workers: int = 2) -> bool:
    seen = revisions(server)
    return len(seen) == workers and set(seen.values()) == {revision}


def answers_per_worker(server: Server) -> dict[int, str]:
    out = {}
    for pid in sorted(revisions(server)):
        with server.only(pid):
            out[pid] = answer_message(server, SECRET)
    return out


@pytest.fixture
def hub() -> Iterator[BundleServer]:
    """A bundle server, not started yet (a test starts it when it means to)."""
    server = BundleServer()
    try:
        yield server
    finally:
        server.stop()


def start(
    launch: Launch,
    hub: BundleServer,
    public: Path,
    redis_url: str,
    poll: float = POLL,
    **kw: object,
) -> Server:
    return launch(
        "--policies", hub.url(), "--bundle-public-key", str(public),
        "--bundle-poll", f"{poll:g}", "--counters", "redis", "--redis-url", redis_url,
        "--deadline-ms", "500",
        secret=SECRET, workers=2, **kw,
    )  # fmt: skip


def test_new_bundles_reach_both_workers_and_bad_ones_never_replace_the_good_one(
    launch: Launch,
    tmp_path: Path,
    signing: tuple[Ed25519PrivateKey, Path],
    redis_url: str,
    hub: BundleServer,
) -> None:
    key, public = signing
    v1, rev1 = bundle(tmp_path, "v1", key)
    hub.put(v1)
    hub.start()
    server = start(launch, hub, public, redis_url)
    wait_for("both workers on v1", lambda: serving(server, rev1), CONVERGE)
    assert server.get("/readyz").json()["revision"] == rev1
    assert set(answers_per_worker(server).values()) == {"v1"}

    # conditional polls: the ETag comes back, the server answers 304
    wait_for("304 answers", lambda: hub.not_modified >= 4, 10)
    assert any("If-None-Match" in c for c in hub.conditions)

    # a new bundle: both workers within a poll (plus the check and the build)
    v2, rev2 = bundle(tmp_path, "v2", key)
    put_at = time.monotonic()
    hub.put(v2)
    wait_for("both workers on v2", lambda: serving(server, rev2), CONVERGE)
    converged = time.monotonic() - put_at
    fetched = sorted(t - put_at for t in hub.downloads if t >= put_at)
    assert len(fetched) >= 2  # one download per worker ...
    assert fetched[1] <= 2 * POLL + 1  # ... each within a poll interval (and some slack)
    assert set(answers_per_worker(server).values()) == {"v2"}
    print(
        f"--bundle-poll {POLL:g}: both workers downloaded v2 after {fetched[1]:.2f} s, "
        f"served it after {converged:.2f} s"
    )

    # bad bundles: refused or rejected, counted, logged once each, v2 keeps serving
    members = members_of(v2)
    tampered = targz(
        [Member(m.name, m.data + b"# x\n") if m.name.endswith(".yaml") else m for m in members]
    )
    unsigned, _ = bundle(tmp_path, "unsigned", None)
    foreign, _ = bundle(tmp_path, "foreign", Ed25519PrivateKey.generate())
    broken, _ = bundle(tmp_path, "broken", key, "policy: chat\nrules:\n  - id: x\n")
    cases = [
        (tampered, "refused", "does not match its SHA-256"),
        (unsigned, "refused", "the bundle is unsigned"),
        (foreign, "refused", "does not verify with the public key"),
        (broken, "rejected", "do not load"),
    ]
    for data, result, why in cases:
        before = fetches(server, result)
        hub.put(data)
        wait_for(
            f"{why}: counted by both workers",
            lambda r=result, b=before: fetches(server, r) >= b + 2,
            CONVERGE,
        )
        time.sleep(2 * POLL)  # more polls of the same bad bundle: not logged again
        assert server.err().count(why) == 2, server.err()[-3000:]  # once per worker
        assert serving(server, rev2)
        assert set(answers_per_worker(server).values()) == {"v2"}
        assert server.get("/readyz").status_code == 200

    # the bundle server goes down: serving goes on; it comes back (same port) with v3
    hub.stop()
    before = fetches(server, "unreachable")
    wait_for("unreachable polls", lambda: fetches(server, "unreachable") >= before + 2, 10)
    assert set(answers_per_worker(server).values()) == {"v2"}
    v3, rev3 = bundle(tmp_path, "v3", key)
    hub.put(v3)
    hub.start()
    wait_for("both workers on v3", lambda: serving(server, rev3), CONVERGE)
    assert set(answers_per_worker(server).values()) == {"v3"}
    assert server.metric("receiver_bundle_last_success_timestamp_seconds") > time.time() - 10
    assert "Traceback" not in server.err()


def test_a_cold_start_with_the_bundle_server_down_waits_answers_fail_safe_then_serves(
    launch: Launch,
    tmp_path: Path,
    signing: tuple[Ed25519PrivateKey, Path],
    redis_url: str,
    hub: BundleServer,
) -> None:
    key, public = signing
    # the hub is not started: nothing listens on its port yet
    server = start(launch, hub, public, redis_url, ready=False)  # decision log: stdout

    def waiting() -> bool:
        try:
            answer = server.get("/readyz")
        except Exception:
            return False
        return answer.status_code == 503 and "reason" in answer.json()

    wait_for("/readyz 503 with a reason", waiting, 30)
    body = server.get("/readyz").json()
    assert body["status"] == "waiting-for-bundle"
    assert "cannot reach the bundle server" in body["reason"]
    for _ in range(6):  # both workers answer fail-safe, fast, never a 500
        started = time.monotonic()
        answer = server.post(message("forbidden"), SECRET)
        assert answer.status_code == 200
        assert answer.json() == {"action": "allow"}
        assert time.monotonic() - started < 0.5
    wait_for(
        "not-ready answers counted",
        lambda: server.metric("receiver_degraded_answers_total", reason="not-ready") >= 6,
        10,
    )
    unreachable = "cannot reach the bundle server"
    wait_for("both workers up", lambda: server.err().count(unreachable) == 2, 30)
    v1, rev1 = bundle(tmp_path, "v1", key)
    hub.put(v1)
    hub.start()
    wait_for("ready on v1", lambda: server.get("/readyz").status_code == 200, CONVERGE)
    wait_for("both workers on v1", lambda: serving(server, rev1), CONVERGE)
    assert set(answers_per_worker(server).values()) == {"v1"}

    def decisions() -> list[dict[str, object]]:  # the decision log (stdout), written async
        lines = [json.loads(line) for line in server.stdout.read_text().splitlines() if line]
        return [line for line in lines if "decision_id" in line]

    wait_for("v1 decisions logged", lambda: len(decisions()) >= 8, 10)
    not_ready = [d for d in decisions() if d.get("degraded_reason") == "not-ready"]
    assert len(not_ready) == 6
    assert {d["revision"] for d in not_ready} == {"none"}
    assert {d["revision"] for d in decisions()[6:]} == {rev1}
    assert server.err().count(unreachable) == 2  # once per worker, not at every retry
    assert "HTTP Request: GET" not in server.err()  # no log line per poll


def test_sighup_polls_at_once_in_every_worker(
    launch: Launch,
    tmp_path: Path,
    signing: tuple[Ed25519PrivateKey, Path],
    redis_url: str,
    hub: BundleServer,
) -> None:
    key, public = signing
    v1, rev1 = bundle(tmp_path, "v1", key)
    hub.put(v1)
    hub.start()
    server = start(launch, hub, public, redis_url, poll=600)
    wait_for("both workers on v1", lambda: serving(server, rev1), CONVERGE)
    v2, rev2 = bundle(tmp_path, "v2", key)
    hub.put(v2)
    time.sleep(1)
    assert serving(server, rev1)  # no poll for ten minutes ...
    server.proc.send_signal(signal.SIGHUP)  # ... but a SIGHUP polls now, in each worker
    wait_for("both workers on v2", lambda: serving(server, rev2), CONVERGE)
    assert set(answers_per_worker(server).values()) == {"v2"}
