"""``receiver serve --workers 2`` end to end: the real process, in every configuration.

The production shape (a social.plus secret, a brainCloud bridge token, a metrics
token, Redis counters, an HTTP user directory, a decision log file) answers signed
requests correctly from each worker, shares its counters between them, reloads on
SIGHUP in every worker, replaces a worker killed with SIGKILL and leaves nothing in
the temporary folder when it stops. Every configuration users run starts with two
workers and answers from both. Failed starts (broken policies, a port in use,
workers that die at start) exit 1 with a clear message, stop retrying, and leave no
``receiver-metrics-*`` folder behind.

To know that *each* worker answers, all workers but one are stopped with SIGSTOP
while requests are sent: the kernel then hands every new connection on the shared
socket to the one that runs. Redis: ``$RECEIVER_TEST_REDIS_URL`` when set (as in
``.ci/run``), else a ``redis-server`` on a free loopback port started here; tests
that need it skip when there is neither. Every process runs in its own session and
is killed (group and all) when its test ends; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import serverproc
import yaml
from fake_directory import FakeDirectory
from serverproc import wait_for

from receiver.adapters.signatures import sign_base64

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGSTOP"), reason="POSIX signals (SIGSTOP, process groups) needed"
)

SECRET = "workers-secret-1"
BRIDGE_TOKEN = "workers-bridge-token"
METRICS_TOKEN = "workers-metrics-token"
START_TIMEOUT = 60.0
WAIT = 30.0

POLICY = """\
policy: prod
counters:
  messages_per_minute:
    events: message.shouldCreate
    key: data.channelId
    window: 60s
rules:
  - id: banned
    events: message.shouldCreate
    when: user.banned == true
    action: deny
    message: "banned {version}"
  - id: flood
    events: message.shouldCreate
    when: data.channelId != "ch_1" and messages_per_minute > 4
    action: deny
    message: "flood {messages_per_minute}"
  - id: forbidden
    events: message.shouldCreate
    when: text contains "forbidden"
    action: deny
    message: "forbidden {version}"
  - id: bridge-deny
    events: braincloud.pre.test.DENY
    action: deny
    message: "bridge {version}"
"""

USERS = {"u-banned": {"banned": True}, "u-ok": {"banned": False}}


def policy(version: str) -> str:
    return POLICY.replace("{version}", version)


def message(text: str, user: str = "u-ok", channel: str = "ch_1") -> dict[str, Any]:
    return {
        "eventName": "message.shouldCreate",
        "data": {"text": text, "channelId": channel},
        "actor": {"_id": user, "userId": user},
    }


def bridge_envelope(operation: str) -> dict[str, Any]:
    return {
        "version": 1,
        "hookType": "pre",
        "service": "test",
        "operation": operation,
        "profileId": "prof_1",
        "parms": {},
        "message": {},
    }


def metrics_folders(tmp: Path) -> list[Path]:
    return sorted(tmp.glob("receiver-metrics-*"))


# -- the server ---------------------------------------------------------------------------------


class Server(serverproc.Server):
    """The harness's server, with this module's credentials by default."""

    def socialplus(self, payload: dict[str, Any], key: str | None = SECRET) -> httpx.Response:
        return self.post(payload, key)

    def bridge(self, operation: str, token: str | None = BRIDGE_TOKEN) -> httpx.Response:
        headers: dict[str, Any] = {"content-type": "application/json"}
        if token is not None:
            headers["x-receiver-token"] = token.encode()
        body = json.dumps(bridge_envelope(operation)).encode()
        return self.client.post(self.base + "/hooks/braincloud", content=body, headers=headers)


Launch = Callable[..., Server]


@contextlib.contextmanager
def launcher(workdir: Path) -> Iterator[Launch]:
    """Servers of this module: two workers unless told otherwise."""
    with serverproc.launcher(workdir, Server) as start:
        yield functools.partial(start, workers=2)  # type: ignore[misc]


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    with launcher(tmp_path) as start:
        yield start


def policy_dir(root: Path, text: str | None = None) -> Path:
    directory = root / "policies"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "prod.yaml").write_text(policy("v1") if text is None else text)
    return directory


CREDENTIALS = {
    "RECEIVER_SOCIALPLUS_SECRET": SECRET,
    "RECEIVER_BRAINCLOUD_TOKEN": BRIDGE_TOKEN,
    "RECEIVER_METRICS_TOKEN": METRICS_TOKEN,
}


# -- Redis and the user directory ---------------------------------------------------------------


@pytest.fixture(scope="module")
def directory() -> Iterator[FakeDirectory]:
    with FakeDirectory(USERS) as fake:
        yield fake


# -- the production shape -----------------------------------------------------------------------


def production_args(root: Path, redis_url: str, directory: FakeDirectory) -> tuple[str, ...]:
    return (
        "--policies", str(policy_dir(root)),
        "--counters", "redis", "--redis-url", redis_url,
        "--users-url", directory.url,
        "--decision-log", str(root / "decisions.jsonl"),
    )  # fmt: skip


def check_worker_answers(server: Server, version: str) -> None:
    """The answers every worker must give (the caller picks the worker)."""
    hello = server.socialplus(message("hello"))
    assert hello.status_code == 200, hello.text
    assert hello.json() == {"action": "allow"}
    forbidden = server.socialplus(message("forbidden"))
    assert forbidden.json() == {"action": "deny", "message": f"forbidden {version}"}
    assert server.socialplus(message("hello", "u-banned")).json() == {
        "action": "deny",
        "message": f"banned {version}",
    }
    assert server.socialplus(message("hello"), key=None).status_code == 401
    assert server.socialplus(message("hello"), key="wrong").status_code == 401
    assert server.bridge("ALLOW").json() == {"status": 200}
    denied = server.bridge("DENY").json()
    assert denied["status"] != 200 and denied["errorMessage"] == f"bridge {version}"
    assert server.bridge("ALLOW", token=None).status_code == 401
    assert server.bridge("ALLOW", token="wrong").status_code == 401


def test_the_production_shape_answers_from_every_worker_and_shares_counters(
    launch: Launch, tmp_path: Path, redis_url: str, directory: FakeDirectory
) -> None:
    lookups = directory.calls["u-banned"]
    server = launch(*production_args(tmp_path, redis_url, directory), env=CREDENTIALS)
    pids = server.workers()
    assert len(pids) == 2
    for pid in sorted(pids):
        with server.only(pid):
            check_worker_answers(server, "v1")
    # A channel's messages alternate between the workers; the Redis counter sees them all
    # (Redis outlives the server: the channel is new to it).
    channel = f"flood-{os.getpid()}-{time.time_ns()}"
    answers = []
    for n in range(6):
        with server.only(sorted(pids)[n % 2]):
            answers.append(server.socialplus(message("hi", channel=channel)).json())
    assert answers[:4] == [{"action": "allow"}] * 4
    assert answers[4:] == [
        {"action": "deny", "message": "flood 5"},
        {"action": "deny", "message": "flood 6"},
    ]
    # Each worker looked the user up once (its own cache), and wrote its decisions.
    assert directory.calls["u-banned"] - lookups == 2

    def log() -> list[Any]:  # written by each worker's writer thread, a few ms later
        return (tmp_path / "decisions.jsonl").read_text().splitlines()

    wait_for("every decision in the log", lambda: len(log()) >= 2 * 5 + 6, 10)
    assert len(log()) == 2 * 5 + 6  # 3 socialplus + 2 bridge decisions per worker, 6 floods
    # /metrics needs the token and sums both workers; /readyz hides the policy names.
    assert server.get("/metrics", authorized=False).status_code == 401
    assert server.metric("receiver_requests_total", platform="socialplus", status="200") == 12
    assert server.metric("receiver_signature_failures_total") == 2 * 4  # 2 + 2 per worker
    assert set(server.get("/readyz", authorized=False).json()) == {"status", "revision"}
    assert server.get("/readyz").json()["policies"] == ["prod"]
    assert "Traceback" not in server.err()


def test_sighup_reloads_every_worker_of_the_production_shape(
    launch: Launch, tmp_path: Path, redis_url: str, directory: FakeDirectory
) -> None:
    server = launch(*production_args(tmp_path, redis_url, directory), env=CREDENTIALS)
    pids = server.workers()
    before = server.get("/readyz").json()["revision"]
    (tmp_path / "policies" / "prod.yaml").write_text(policy("v2"))
    server.proc.send_signal(signal.SIGHUP)
    wait_for("both reloads", lambda: server.metric("receiver_policy_reloads_total") >= 4)
    assert server.metric("receiver_policy_reloads_total", result="ok") == 4  # 2 starts, 2 reloads
    assert server.metric("receiver_policy_reloads_total", result="failed") == 0
    for pid in sorted(pids):
        with server.only(pid):
            check_worker_answers(server, "v2")
            after = server.get("/readyz").json()["revision"]
            assert after != before
    assert server.workers() == pids  # reloaded, not restarted


def test_a_killed_worker_is_replaced_and_a_clean_stop_leaves_no_files(
    launch: Launch, tmp_path: Path, redis_url: str, directory: FakeDirectory
) -> None:
    server = launch(*production_args(tmp_path, redis_url, directory), env=CREDENTIALS)
    assert len(metrics_folders(server.tmp)) == 1
    pids = server.workers()
    victim = min(pids)
    os.kill(victim, signal.SIGKILL)
    # The other worker answers at once, and a new one takes the dead one's place.
    for _ in range(5):
        assert server.socialplus(message("hello")).json() == {"action": "allow"}
    wait_for("a new worker", lambda: len(server.workers() - pids) == 1, START_TIMEOUT)
    assert victim not in server.workers()
    assert f"worker {victim} exited with code -9" in server.err()
    for pid in sorted(server.workers()):
        with server.only(pid):
            check_worker_answers(server, "v1")
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=60) == 0
    assert metrics_folders(server.tmp) == []
    assert "Traceback" not in server.err()


# -- every configuration ------------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    secret: bool = True
    token: bool = False
    users: bool = False


SP = (("RECEIVER_SOCIALPLUS_SECRET", SECRET),)
BC = (("RECEIVER_BRAINCLOUD_TOKEN", BRIDGE_TOKEN),)

# Memory counters with two workers are refused unless per-worker counting is said.
PER_WORKER = ("--counters", "memory-per-worker")

SETUPS = {
    "secret": Setup(args=PER_WORKER, env=SP),
    "bridge-token": Setup(args=PER_WORKER, env=BC, secret=False, token=True),
    "secret-and-token": Setup(args=PER_WORKER, env=SP + BC, token=True),
    "redis": Setup(args=("--counters", "redis", "--redis-url", "{redis}"), env=SP),
    "users-file": Setup(args=(*PER_WORKER, "--users", "{users_file}"), env=SP, users=True),
    "users-url": Setup(args=(*PER_WORKER, "--users-url", "{users_url}"), env=SP, users=True),
    "config-file": Setup(args=("--config", "{config}"), secret=True, token=True, users=True),
    "watch": Setup(args=(*PER_WORKER, "--watch"), env=SP),
    "decision-log": Setup(args=(*PER_WORKER, "--decision-log", "{log}"), env=SP),
    "signature-fallback": Setup(args=(*PER_WORKER, "--signature-fallback", "compact-json"), env=SP),
    "connection-limits": Setup(
        args=(
            *PER_WORKER,
            "--max-head-bytes",
            "8192",
            "--read-timeout",
            "2",
            "--max-concurrency",
            "64",
            "--max-connections",
            "128",
            "--log-queue",
            "500",
            "--reload-timeout",
            "10",
        ),
        env=SP,
    ),
}


@pytest.mark.parametrize("name", list(SETUPS))
def test_two_workers_start_and_answer_in_every_configuration(
    name: str, launch: Launch, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    setup = SETUPS[name]
    policies = policy_dir(tmp_path)
    users_file = tmp_path / "users.yaml"
    users_file.write_text(yaml.safe_dump(USERS))
    values = {"users_file": str(users_file), "log": str(tmp_path / "decisions.jsonl")}
    if "{redis}" in setup.args:
        values["redis"] = request.getfixturevalue("redis_url")
    if "{users_url}" in setup.args:
        values["users_url"] = request.getfixturevalue("directory").url
    if "{config}" in setup.args:
        (tmp_path / "secret").write_text(SECRET)
        (tmp_path / "bridge").write_text(BRIDGE_TOKEN)
        config = {
            "policies": "policies", "workers": 2, "secret_file": "secret",
            "braincloud_token_file": "bridge", "users": {"file": "users.yaml"},
            "decision_log": "decisions.jsonl", "counters": {"backend": "memory-per-worker"},
        }  # fmt: skip
        (tmp_path / "receiver.yaml").write_text(yaml.safe_dump(config))
        values["config"] = str(tmp_path / "receiver.yaml")
    args = tuple(arg.format(**values) for arg in setup.args)
    if "--config" not in args:
        args = ("--policies", str(policies), *args)
    server = launch(*args, env={**dict(setup.env), "RECEIVER_METRICS_TOKEN": METRICS_TOKEN})
    key = SECRET if setup.secret else None
    ids: list[str] = []
    for pid in sorted(server.workers()):
        with server.only(pid):
            answer = server.socialplus(message("forbidden"), key=key)
            assert answer.json() == {"action": "deny", "message": "forbidden v1"}
            ids.append(answer.headers["x-decision-id"])
            if setup.secret:
                assert server.socialplus(message("forbidden"), key=None).status_code == 401
            if setup.token:
                assert server.bridge("DENY").json()["errorMessage"] == "bridge v1"
                assert server.bridge("DENY", token="wrong").status_code == 401
            if setup.users:
                banned = server.socialplus(message("hi", "u-banned"), key=key).json()
                assert banned == {"action": "deny", "message": "banned v1"}
            if name == "signature-fallback":  # signed over the compact form, sent spaced
                spaced = json.dumps(message("forbidden"), indent=2).encode()
                compact = json.dumps(message("forbidden"), separators=(",", ":")).encode()
                headers = {"x-amity-signature": sign_base64(SECRET.encode(), compact)}
                answer = server.client.post(
                    server.base + "/hooks/socialplus", content=spaced, headers=headers
                )
                assert answer.json() == {"action": "deny", "message": "forbidden v1"}
    if name in ("decision-log", "config-file"):
        log = tmp_path / "decisions.jsonl"
        wait_for("both workers' lines", lambda: all(i in log.read_text() for i in ids), 10)
    if name == "watch":
        (policies / "prod.yaml").write_text(policy("watched"))
        for pid in sorted(server.workers()):
            with server.only(pid):
                wait_for(
                    f"worker {pid} to see the change",
                    lambda: (
                        server.socialplus(message("forbidden")).json()["message"]
                        == "forbidden watched"
                    ),
                )
    assert "Traceback" not in server.err()


# -- failed starts ------------------------------------------------------------------------------


CRASHING_SITE = """\
import os, sys
if os.environ.get("RECEIVER_TEST_CRASH_WORKERS") and any(
    "spawn_main" in arg for arg in sys.orig_argv
):
    os._exit(7)  # every spawned worker dies before it runs anything
"""


def test_workers_that_die_at_start_make_it_give_up_cleanly(launch: Launch, tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(CRASHING_SITE)
    env = {**CREDENTIALS, "PYTHONPATH": str(site), "RECEIVER_TEST_CRASH_WORKERS": "1"}
    started = time.monotonic()
    server = launch("--policies", str(policy_dir(tmp_path)), *PER_WORKER, env=env, ready=False)
    assert server.proc.wait(timeout=60) == 1
    took = time.monotonic() - started
    err = server.err()
    assert "receiver: the workers keep exiting right after they start (5 in a row" in err
    assert "the last with code 7" in err
    assert err.count("exited with code 7") == 5  # then no more starts
    assert "starting a new one in 2.0 s" in err  # the back-off doubles
    assert took >= 0.5 + 1  # restarts waited (both workers crash, each restart counts)
    assert "Traceback" not in err
    assert metrics_folders(server.tmp) == []
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", server.port))  # the port was released


def test_a_port_in_use_fails_clearly_and_leaves_no_files(launch: Launch, tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = launch(
            "--policies",
            str(policy_dir(tmp_path)),
            *PER_WORKER,
            env=CREDENTIALS,
            ready=False,
            port=port,
        )
        assert server.proc.wait(timeout=START_TIMEOUT) == 1
    err = server.err()
    assert "Address already in use" in err
    assert f"receiver: cannot listen on 127.0.0.1:{port}" in err
    assert "Traceback" not in err
    assert metrics_folders(server.tmp) == []


def test_broken_policies_fail_before_any_worker_and_leave_no_files(
    launch: Launch, tmp_path: Path
) -> None:
    broken = policy_dir(tmp_path, "policy: broken\nrules:\n  - id: r\n    when: len(\n")
    server = launch("--policies", str(broken), *PER_WORKER, env=CREDENTIALS, ready=False)
    assert server.proc.wait(timeout=START_TIMEOUT) == 1
    err = server.err()
    assert "have errors" in err
    assert "Traceback" not in err
    assert metrics_folders(server.tmp) == []
