"""The local cluster end to end: HAProxy, three ``--workers 2`` replicas, Redis, bundles.

``deploy/local/cluster.py`` starts the production shape on loopback (signatures on,
Redis counters, an HTTP user directory, signed policy bundles polled from a bundle
server, HAProxy in front with health checks and retries), and these tests send signed
requests through HAProxy to prove what the cluster promises: a per-user limit and
strikes hold across replicas, an eviction sent to one replica reaches every worker of
every replica, a new bundle reaches every replica within a poll interval, a replica
killed under load loses no answer (nor does a rolling restart of one), and with Redis
stopped every answer still comes within the deadline. The cluster also stops
everything it started, a failed start included; ``cluster.py up`` does so on SIGTERM;
and ``down`` cleans up after an interrupted run without touching a process that merely
reuses a pid.

The tests share one cluster (starting one takes seconds) and run in file order; the
one that stops Redis comes last. Every loop is bounded in time and requests. Skipped
only when ``haproxy`` or ``redis-server`` is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from receiver.adapters.signatures import sign_base64

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy" / "local"))
import cluster as local  # noqa: E402 (deploy/local is not a package: its path comes first)

pytestmark = pytest.mark.skipif(
    shutil.which("haproxy") is None or shutil.which("redis-server") is None,
    reason="the local cluster needs haproxy and redis-server (apt-get install haproxy "
    "redis-server)",
)

POLICIES = ROOT / "tests" / "data" / "cluster_policies"
LIMIT = 5  # messages_per_minute > 5 denies: five messages a minute are allowed
BUNDLE_POLL = 1.0
APPLY = 10.0  # seconds for every worker to fetch, verify, check and compile a small bundle
DEADLINE_MS = 2000
WAIT = 30.0


def message(user: str, text: str = "hello") -> dict[str, Any]:
    return {
        "eventName": "message.shouldCreate",
        "data": {"text": text, "channelId": "ch_1"},
        "actor": {"_id": user, "userId": user},
    }


class Client:
    """Signed requests to the cluster: through HAProxy or to one replica."""

    def __init__(self, running: local.Cluster) -> None:
        self.cluster = running
        # no keep-alive: every request is balanced (and reaches a worker) on its own
        self.http = httpx.Client(timeout=10, limits=httpx.Limits(max_keepalive_connections=0))

    def post(self, payload: Any, base: str | None = None, path: str = local.HOOK) -> httpx.Response:
        body = json.dumps(payload).encode()
        url = (base or self.cluster.url) + path
        return self.http.post(url, content=body, headers=self.cluster.signed(body))

    def decide(self, payload: Any, base: str | None = None) -> dict[str, Any]:
        """The decision for ``payload``; it must be a 200 with an action."""
        response = self.post(payload, base)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        assert answer.get("action") in {"allow", "deny"}, answer
        return answer

    def metric(self, replica: str, name: str, **labels: str) -> float:
        response = self.http.get(self.cluster.replica_url(replica) + "/metrics")
        assert response.status_code == 200, response.text
        return sum(
            sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
        )

    def requests_per_replica(self) -> dict[str, float]:
        return {
            name: self.metric(name, "receiver_requests_total", platform="socialplus")
            for name in self.cluster.replica_names
        }


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[local.Cluster]:
    settings = local.Settings(
        state=tmp_path_factory.mktemp("cluster"), policies=POLICIES, users=None,
        bundle_poll=BUNDLE_POLL, deadline_ms=DEADLINE_MS,
        # a record stays cached for the whole module: only an eviction can refresh it;
        # Redis calls get 1 s, so that a loaded CI machine does not fall back to each
        # worker's own counters (the limits tested here are the shared ones)
        replica_args=("--users-ttl", "600", "--users-negative-ttl", "600",
                      "--redis-timeout-ms", "1000"),
    )  # fmt: skip
    with local.Cluster.running(settings) as running:
        yield running


@pytest.fixture
def client(cluster: local.Cluster) -> Iterator[Client]:
    made = Client(cluster)
    try:
        yield made
    finally:
        made.http.close()


def fresh_user() -> str:
    return f"u-{uuid.uuid4().hex[:12]}"


# -- shared state -------------------------------------------------------------------------------


def test_a_per_user_limit_holds_across_replicas(client: Client) -> None:
    """Fifteen messages at once from one user, balanced over three replicas of two
    workers each: exactly the limit is allowed (per-process counting would allow up to
    six times as many), and every replica answered some of them."""
    before = client.requests_per_replica()
    user = fresh_user()
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: client.decide(message(user)), range(15)))
    actions = Counter(answer["action"] for answer in answers)
    assert actions == {"allow": LIMIT, "deny": 15 - LIMIT}
    after = client.requests_per_replica()
    assert all(after[name] > before[name] for name in before), (before, after)


def test_strikes_are_shared_across_replicas(client: Client) -> None:
    """One user's messages in turn through HAProxy, so each lands on another replica:
    the sixth, seventh and eighth are floods, each a strike; the ninth reads the three
    strikes that three different replicas recorded."""
    user = fresh_user()
    messages = [client.decide(message(user)).get("message") for _ in range(9)]
    assert messages == [None] * LIMIT + ["flood 6", "flood 7", "flood 8", "strikes 3"]


# -- evictions ----------------------------------------------------------------------------------


def test_an_eviction_sent_to_one_replica_reaches_every_worker(
    cluster: local.Cluster, client: Client
) -> None:
    """Every worker of every replica caches the user's record (each fetched it once:
    two directory fetches per replica); the record changes, and the platform's
    ``user.didUpdate`` webhook goes to one replica only. Then every answer from every
    replica reads the new record, and every worker fetched the record again."""
    user = fresh_user()
    cluster.set_user(user, {"userId": user, "role": "member"})
    misses = {
        name: client.metric(name, "receiver_user_lookups_total", result="miss")
        for name in cluster.replica_names
    }

    def fetched(name: str) -> float:
        return client.metric(name, "receiver_user_lookups_total", result="miss") - misses[name]

    def until_every_worker_fetched(name: str, times: int, text: str, role_muted: bool) -> None:
        """Send messages to one replica, new connection by new, until its directory
        fetches reach ``times``; every answer must read the record as ``role_muted`` says.

        The workers share one listening socket and the kernel hands each connection to
        whichever accepts first: on a loaded machine one worker can win 60 in a row (two
        CI runs saw it, before and after the eviction), so keep trying for up to 30 s,
        pausing so the other worker can get one."""
        base = cluster.replica_url(name)
        deadline = time.monotonic() + 30
        while fetched(name) < times and time.monotonic() < deadline:
            answer = client.decide(message(user, text), base)
            assert (answer.get("message") == "muted") == role_muted, (name, answer)
            time.sleep(0.02)

    workers = cluster.settings.workers
    for name in cluster.replica_names:  # warm every worker's cache
        until_every_worker_fetched(name, workers, "warm", role_muted=False)
        assert fetched(name) == workers, f"{name}: not every worker fetched the user"

    cluster.set_user(user, {"userId": user, "role": "muted"})
    webhook = {"event": "user.didUpdate", "data": {"users": [{"userId": user}]}}
    response = client.post(webhook, cluster.replica_url("replica1"), "/hooks/socialplus/events")
    assert response.status_code == 200, response.text
    time.sleep(0.5)  # the broadcast takes milliseconds; a generous bound on a loaded machine

    for name in cluster.replica_names:
        # Every answer reads the new record, from the first: a worker that kept the old
        # one cached would answer "member" and fail the assertion inside.
        answer = client.decide(message(user, "after"), cluster.replica_url(name))
        assert answer.get("message") == "muted", (name, answer)
        until_every_worker_fetched(name, 2 * workers, "after", role_muted=True)
        assert fetched(name) == 2 * workers, f"{name}: a worker kept the user cached"


# -- bundles ------------------------------------------------------------------------------------


def test_a_new_bundle_reaches_every_replica_within_one_poll(
    cluster: local.Cluster, client: Client, tmp_path: Path
) -> None:
    """A new signed bundle on the bundle server: every worker of every replica serves its
    revision within one poll interval plus the time to apply it (each worker fetches,
    verifies, checks the policies in a spawned child and compiles them: about 3 s when
    six workers do it at once on a loaded 2-core machine, so ``APPLY`` allows 10 s),
    every replica's /readyz reports it, and every answer is decided with it, whichever
    replica HAProxy picks."""
    version2 = tmp_path / "v2"
    shutil.copytree(POLICIES, version2)
    (version2 / "words.yaml").write_text(
        "policy: words\nrules:\n  - id: v2\n    events: message.shouldCreate\n"
        '    when: text contains "only-in-v2"\n    action: deny\n    message: v2\n'
    )
    old = set(cluster.revisions().values())
    revision = cluster.publish(version2, wait=False)
    started = time.monotonic()  # the new bundle is in place on the bundle server
    assert {revision} != old
    cluster.wait_revision(revision, timeout=WAIT)
    elapsed = time.monotonic() - started
    assert elapsed < BUNDLE_POLL + APPLY, f"{elapsed:.2f} s for a {BUNDLE_POLL} s poll"
    assert set(cluster.revisions().values()) == {revision}
    answers = [client.decide(message(fresh_user(), "only-in-v2")) for _ in range(6)]
    assert {a.get("message") for a in answers} == {"v2"}


# -- losing a replica ---------------------------------------------------------------------------


class Load:
    """Senders through HAProxy, each a fresh user per request (no limit is met), until
    the block ends; at most ``per_sender`` requests each and ``WAIT`` seconds."""

    def __init__(self, cluster: local.Cluster, senders: int = 4, per_sender: int = 2000) -> None:
        self.cluster = cluster
        self.results: list[tuple[int, str]] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.per_sender = per_sender
        self.threads = [threading.Thread(target=self.send) for _ in range(senders)]

    def send(self) -> None:
        deadline = time.monotonic() + WAIT
        with httpx.Client(timeout=10) as http:
            for _ in range(self.per_sender):
                if self.stop.is_set() or time.monotonic() > deadline:
                    return
                body = json.dumps(message(fresh_user())).encode()
                try:
                    response = http.post(
                        self.cluster.url + local.HOOK, content=body,
                        headers=self.cluster.signed(body),
                    )  # fmt: skip
                    result = (response.status_code, response.text)
                except httpx.HTTPError as err:
                    result = (0, repr(err))
                with self.lock:
                    self.results.append(result)

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=WAIT)

    def check(self) -> None:
        """Every request got a 200 with a decision."""
        failed = [r for r in self.results if r[0] != 200 or '"action"' not in r[1]]
        count = len(self.results)
        assert count and not failed, f"{len(failed)} of {count} failed: {failed[:3]}"


def test_a_replica_killed_under_load_loses_no_answer(
    cluster: local.Cluster, client: Client
) -> None:
    """Four senders through HAProxy for a few seconds; one replica's whole process group
    gets SIGKILL in the middle. Every request gets a 200 with a decision: the requests
    that met the dead replica (refused, or cut off unanswered) were sent again to
    another one. Then the replica comes back and HAProxy sends it traffic again."""
    retries_before = haproxy_retries(cluster)
    try:
        with Load(cluster) as load:
            time.sleep(1.0)
            cluster.kill_replica("replica2")
            time.sleep(2.5)
        load.check()
        assert haproxy_retries(cluster) > retries_before, "no request met the killed replica"
        assert cluster.backend_status()["replica2"].startswith("DOWN")
    finally:  # the tests after this one share the cluster: it gets its third replica back
        if "replica2" not in cluster.children:
            cluster.start_replica("replica2")
    cluster.wait_balanced(timeout=WAIT)
    before = client.requests_per_replica()["replica2"]
    for _ in range(6):
        client.decide(message(fresh_user()))
    assert client.requests_per_replica()["replica2"] > before


def test_a_rolling_restart_under_load_loses_no_answer(
    cluster: local.Cluster, client: Client
) -> None:
    """A replica restarted as a rolling restart does it (drained in HAProxy, stopped
    with SIGTERM, started again, put back) while four senders keep going: every request
    gets a 200 with a decision, and the new replica takes traffic."""
    with Load(cluster) as load:
        time.sleep(0.5)
        cluster.restart_replica("replica3")
        time.sleep(0.5)
    load.check()
    before = client.requests_per_replica()["replica3"]
    for _ in range(6):
        client.decide(message(fresh_user()))
    assert client.requests_per_replica()["replica3"] > before


def haproxy_retries(cluster: local.Cluster) -> int:
    """Retries and redispatches HAProxy made on the replicas' backend."""
    status, body = local.http_get(cluster.stats_url + ";csv")
    assert status == 200
    lines = body.decode().splitlines()
    header = lines[0].lstrip("# ").split(",")
    total = 0
    for line in lines[1:]:
        row = dict(zip(header, line.split(","), strict=False))
        if row["pxname"] == "replicas" and row["svname"] == "BACKEND":
            total += int(row["wretr"] or 0) + int(row["wredis"] or 0)
    return total


# -- losing Redis (last: the cluster runs without it from here on) ------------------------------


def test_with_redis_stopped_every_answer_comes_within_the_deadline(
    cluster: local.Cluster, client: Client
) -> None:
    """Redis stops. Every request through HAProxy is still answered 200 with a decision
    within the deadline; counting goes on in each process's memory
    (``--counters-fallback memory``), so one user's limit now holds per process: at
    least the limit is allowed, and a flood is still refused by the process that counts
    it. Every replica counted its fallbacks."""
    cluster.stop_redis()
    user = fresh_user()
    answers = []
    for _ in range(40):  # more than the limit of all six processes together
        started = time.monotonic()
        answers.append(client.decide(message(user)))
        elapsed = time.monotonic() - started
        assert elapsed < DEADLINE_MS / 1000, f"an answer took {elapsed:.2f} s"
    allowed = sum(answer["action"] == "allow" for answer in answers)
    processes = cluster.settings.replicas * cluster.settings.workers
    assert LIMIT <= allowed <= LIMIT * processes
    assert allowed < len(answers)  # some process saw more than the limit
    for name in cluster.replica_names:
        fallbacks = client.metric(name, "receiver_counter_fallbacks_total", mode="memory")
        assert fallbacks > 0, f"{name} counted no fallback"


# -- starting and stopping ----------------------------------------------------------------------


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[local.Child]:
    """Every process the cluster script starts during the test, in order."""
    children: list[local.Child] = []
    spawn = local.spawn

    def recording(*args: Any, **kwargs: Any) -> local.Child:
        child = spawn(*args, **kwargs)
        children.append(child)
        return child

    monkeypatch.setattr(local, "spawn", recording)
    return children


def assert_all_stopped(children: list[local.Child], state: Path) -> None:
    for child in children:
        assert child.proc.poll() is not None, f"{child.name} still runs"
        with pytest.raises(ProcessLookupError):
            os.killpg(child.pid, 0)
    assert not (state / local.STATE_FILE).exists()


def test_a_failed_start_leaves_no_process(tmp_path: Path, started: list[local.Child]) -> None:
    """A replica that cannot start (memory counters with ``--workers 2``: it refuses)
    fails the start with a message naming its log, and every process started until then
    is stopped."""
    settings = local.Settings(
        state=tmp_path / "state", policies=POLICIES, users=None, replicas=1,
        replica_args=("--counters", "memory"),
    )  # fmt: skip
    refused = pytest.raises(local.ClusterError, match=r"replica1 exited .*replica1\.log")
    with refused, local.Cluster.running(settings):
        pass  # pragma: no cover (the start fails)
    assert [c.name for c in started] == ["redis", "bundles", "users", "replica1"]
    assert_all_stopped(started, settings.state)


def test_policies_with_errors_fail_the_start_before_any_replica(
    tmp_path: Path, started: list[local.Child]
) -> None:
    """A policy folder that does not check is refused by ``receiver bundle build``: the
    start fails with the checker's diagnostic (file, line, column) before any replica
    starts, and what was started until then is stopped."""
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "bad.yaml").write_text("policy: bad\nrules:\n  - id: x\n    when: (\n")
    settings = local.Settings(state=tmp_path / "state", policies=broken, users=None, replicas=1)
    refused = pytest.raises(local.ClusterError, match=r"bad\.yaml:3:5")
    with refused as error, local.Cluster.running(settings):
        pass  # pragma: no cover (the start fails)
    assert "no bundle was written" in str(error.value)
    assert [c.name for c in started] == ["redis", "bundles", "users"]
    assert_all_stopped(started, settings.state)


def test_down_stops_what_an_interrupted_run_left(tmp_path: Path) -> None:
    """``down`` reads the state file of a run that could not stop its children, stops
    the ones still running (process group and all), and leaves alone a process whose pid
    is listed with another start time (the pid was reused)."""
    logs = tmp_path / "logs"
    logs.mkdir()
    root = tmp_path / "www"
    root.mkdir()
    command = [sys.executable, str(local.STATIC_SERVER), "--root", str(root)]
    left = local.spawn("left", command, logs, os.environ)
    other = local.spawn("other", command, logs, os.environ)
    try:
        state = {
            "children": {
                "left": {"pid": left.pid, "started": left.started},
                "other": {"pid": other.pid, "started": "1"},  # a pid someone else has now
            }
        }
        (tmp_path / local.STATE_FILE).write_text(json.dumps(state))
        assert local.down(tmp_path) == [f"left (pid {left.pid})"]
        assert left.proc.wait(timeout=WAIT) is not None
        assert other.alive()
        assert not (tmp_path / local.STATE_FILE).exists()
    finally:
        for child in (left, other):
            child.stop()


def test_up_serves_until_sigterm_then_leaves_nothing_running(tmp_path: Path) -> None:
    """``python deploy/local/cluster.py up``, as an operator runs it (one replica here, to
    keep it short): it prints the addresses, answers a signed request through HAProxy,
    and on SIGTERM stops every process it started, exits 0 and removes its state file."""
    state = tmp_path / "state"
    command = [
        sys.executable, str(ROOT / "deploy" / "local" / "cluster.py"), "up", "--state",
        str(state), "--port", "0", "--stats-port", "0", "--replicas", "1",
        "--policies", str(POLICIES), "--users", str(tmp_path),
    ]  # fmt: skip
    output = tmp_path / "up.log"
    with output.open("wb") as out:
        up = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    children: dict[str, Any] = {}
    try:
        deadline = time.monotonic() + 2 * WAIT
        while "running; Ctrl-C stops everything" not in output.read_text():
            assert up.poll() is None, output.read_text()
            assert time.monotonic() < deadline, output.read_text()
            time.sleep(0.1)
        front = next(
            line.split()[-1]
            for line in output.read_text().splitlines()
            if line.startswith("receiver (HAProxy)")
        )
        children = json.loads((state / local.STATE_FILE).read_text())["children"]
        assert set(children) >= {"redis", "bundles", "users", "replica1", "haproxy"}
        body = json.dumps(message(fresh_user())).encode()
        secret = (state / "secret").read_text()
        headers = {
            "content-type": "application/json",
            "x-amity-signature": sign_base64(secret.encode(), body),
        }
        response = httpx.post(front, content=body, headers=headers, timeout=10)
        assert (response.status_code, response.json()) == (200, {"action": "allow"})

        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=2 * WAIT) == 0, output.read_text()
        for name, child in children.items():
            assert local.start_time(child["pid"]) != child["started"], f"{name} still runs"
        assert not (state / local.STATE_FILE).exists()
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait(timeout=WAIT)
        local.down(state)
