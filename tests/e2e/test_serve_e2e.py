"""End to end: the real ``receiver serve`` process on a free loopback port, over HTTP.

Signed, unsigned, wrongly signed, rotated-secret, oversized, malformed and
unknown-event requests; ``receiver send`` against the server; SIGHUP reloads (and a
broken set that keeps the old one serving); ``--watch``; ``--workers 2`` with SIGHUP
reaching every worker and ``/metrics`` summing them; graceful shutdown with a slow
request in flight; refusing to start without a secret on a public address, or with
broken policies. Every process is started in its own session and killed (group and
all) when its test ends; every wait is bounded.
"""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from chat_policy import SECRET, answer_message, message, policy
from serverproc import (
    HOOK,
    START_TIMEOUT,
    Launch,
    Server,
    free_port,
    launcher,
    policy_dir,
    wait_for,
)
from slow_policy import slow_policy, words_taking

from receiver import cli

LAST_MESSAGE = "finished after the slow rules"

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGHUP"), reason="POSIX signals (SIGHUP, process groups) needed"
)

OLD_SECRET = "e2e-old-secret-0002"


BROKEN_POLICY = """\
policy: broken
rules:
  - id: bad
    events: message.shouldCreate
    when: len(data.text >
    action: deny
"""


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    with launcher(tmp_path) as start:
        yield start


@pytest.fixture(scope="module")
def signed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the request-level tests: two secrets, a 4 KiB limit, a log file."""
    root = tmp_path_factory.mktemp("signed")
    policies = policy_dir(root, policy("v1"))
    with launcher(root) as start:
        yield start(
            "--policies", str(policies),
            "--max-body", "4096",
            "--decision-log", str(root / "decisions.jsonl"),
            secret=f"{SECRET},{OLD_SECRET}",
        )  # fmt: skip


# -- requests -----------------------------------------------------------------------------------


def test_signed_requests_are_decided(signed_server: Server) -> None:
    for key in (SECRET, OLD_SECRET):
        for header in ("x-amity-signature", "x-signature"):
            response = signed_server.post(message("forbidden"), key, header)
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/json"
            decision_id = response.headers["x-decision-id"]
            assert response.json() == {"action": "deny", "message": f"v1 (ref {decision_id})"}
    response = signed_server.post(message("hello"), SECRET)
    assert response.status_code == 200
    assert response.json() == {"action": "allow"}


@pytest.mark.parametrize(
    ("key", "header", "error"),
    [
        (None, "x-amity-signature", "missing signature (x-amity-signature or x-signature)"),
        ("a-wrong-secret", "x-amity-signature", "the signature does not match"),
        ("a-wrong-secret", "x-signature", "the signature does not match"),
    ],
)
def test_unsigned_or_wrongly_signed_requests_are_401(
    signed_server: Server, key: str | None, header: str, error: str
) -> None:
    response = signed_server.post(message("forbidden"), key, header)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": error}
    assert "x-decision-id" not in response.headers


def test_oversized_malformed_and_unknown_event_requests(signed_server: Server) -> None:
    big = signed_server.post(message("x" * 5000), SECRET)
    assert big.status_code == 413
    assert big.json() == {"error": "the body is larger than the limit of 4096 bytes"}
    bad = signed_server.post(b'{"eventName": "message.shouldCreate", "data": ', SECRET)
    assert bad.status_code == 400
    assert bad.json()["error"].startswith("invalid JSON at line 1")
    envelope = signed_server.post({"eventName": "message.shouldCreate", "data": []}, SECRET)
    assert envelope.status_code == 400
    assert envelope.json() == {"error": "'data' must be a JSON object, not a list"}
    unknown = signed_server.post({"eventName": "comment.shouldCreate", "data": {}}, SECRET)
    assert unknown.status_code == 200
    assert unknown.json() == {"action": "allow"}


def test_probes_and_metrics(signed_server: Server) -> None:
    assert signed_server.get("/healthz").json() == {"status": "ok"}
    ready = signed_server.get("/readyz").json()
    assert ready["status"] == "ready"
    assert ready["policies"] == ["chat"]
    assert signed_server.get(HOOK).status_code == 200
    assert signed_server.client.head(signed_server.base + HOOK).status_code == 200
    assert signed_server.get("/nowhere").json() == {"error": "not found"}
    signed_server.post(message("counted"), None)
    assert signed_server.metric("receiver_signature_failures_total", reason="missing") >= 1
    assert signed_server.metric("receiver_requests_total", status="200") >= 1
    assert signed_server.metric("receiver_policy_revision", revision=ready["revision"]) == 1


def test_the_decision_log_file_gets_one_line_per_decision(signed_server: Server) -> None:
    ids = [signed_server.post(message("log me"), SECRET).headers["x-decision-id"] for _ in range(3)]
    log = signed_server.stdout.parent / "decisions.jsonl"

    def logged() -> list[str]:
        return [json.loads(line)["decision_id"] for line in log.read_text().splitlines()]

    wait_for("the decision log", lambda: set(ids) <= set(logged()), 5)
    assert b"log me" not in log.read_bytes()  # no content without --log-content


def test_receiver_send_signs_and_posts_a_payload(
    signed_server: Server,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RECEIVER_SOCIALPLUS_SECRET", raising=False)
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps(message("forbidden"), indent=2))
    url = signed_server.base + HOOK
    for extra in ([], ["--header", "x-signature"]):
        assert cli.main(["send", str(payload), "--url", url, "--secret", SECRET, *extra]) == 0
        out = capsys.readouterr().out
        head, body = out.splitlines()
        assert head.startswith("HTTP 200  decision ")
        decision_id = head.split()[-1]
        assert json.loads(body) == {"action": "deny", "message": f"v1 (ref {decision_id})"}
    # A URL without a path gets the platform's hook path.
    for base in (signed_server.base, signed_server.base + "/"):
        assert cli.main(["send", str(payload), "--url", base, "--secret", SECRET]) == 0
        assert capsys.readouterr().out.startswith("HTTP 200  decision ")
    # The secret from the environment: the old one of a rotation still works.
    monkeypatch.setenv("RECEIVER_SOCIALPLUS_SECRET", OLD_SECRET)
    assert cli.main(["send", str(payload), "--url", url]) == 0
    assert capsys.readouterr().out.startswith("HTTP 200")
    # Unsigned: the server refuses and send exits 1.
    monkeypatch.delenv("RECEIVER_SOCIALPLUS_SECRET")
    assert cli.main(["send", str(payload), "--url", url]) == 1
    out = capsys.readouterr().out
    assert out.startswith("HTTP 401  decision -")
    assert "missing signature" in out


def test_receiver_send_reports_an_unreachable_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps(message("x")))
    url = f"http://127.0.0.1:{free_port()}{HOOK}"
    assert cli.main(["send", str(payload), "--url", url, "--secret", "s"]) == 1
    assert "receiver send: cannot reach" in capsys.readouterr().err
    assert cli.main(["send", str(tmp_path / "missing.json"), "--url", url]) == 2


# -- reloads ------------------------------------------------------------------------------------


def test_sighup_reloads_and_a_broken_set_keeps_the_old_one(launch: Launch, tmp_path: Path) -> None:
    policies = policy_dir(tmp_path, policy("v1"))
    server = launch("--policies", str(policies))
    assert "NO SIGNATURE SECRET" in server.err()  # loud warning: unsigned requests accepted
    assert answer_message(server) == "v1"
    (policies / "chat.yaml").write_text(policy("v2"))
    server.proc.send_signal(signal.SIGHUP)
    wait_for("the v2 answer", lambda: answer_message(server) == "v2", 10)
    assert server.proc.poll() is None
    (policies / "zz-broken.yaml").write_text(BROKEN_POLICY)
    (policies / "chat.yaml").write_text(policy("v3"))
    server.proc.send_signal(signal.SIGHUP)
    wait_for("the reload failure in the log", lambda: "policy reload failed" in server.err(), 10)
    err = server.err()
    assert "zz-broken.yaml:5:" in err
    assert "error:" in err
    assert answer_message(server) == "v2"
    assert server.metric("receiver_policy_reloads_total", result="failed") == 1
    assert server.metric("receiver_policy_reloads_total", result="ok") == 2
    assert server.proc.poll() is None


def test_watch_reloads_when_a_file_changes(launch: Launch, tmp_path: Path) -> None:
    policies = policy_dir(tmp_path, policy("v1"))
    server = launch("--policies", str(policies), "--watch")
    assert answer_message(server) == "v1"
    (policies / "chat.yaml").write_text(policy("watched"))
    wait_for("the watched answer", lambda: answer_message(server) == "watched", 10)
    assert "change detected in chat.yaml" in server.err()


def test_two_workers_share_the_port_reload_on_sighup_and_sum_metrics(
    launch: Launch, tmp_path: Path
) -> None:
    policies = policy_dir(tmp_path, policy("v1"))
    server = launch(
        "--policies", str(policies), "--workers", "2", "--counters", "memory-per-worker"
    )

    def worker_pids() -> set[str]:
        samples = server.metrics()
        return {labels["pid"] for name, labels, _ in samples if name == "receiver_policy_revision"}

    # /metrics on any worker shows both workers' revision gauges: the values are combined.
    wait_for("both workers to be up", lambda: len(worker_pids()) == 2, START_TIMEOUT)
    requests = 10
    for _ in range(requests):
        assert answer_message(server) == "v1"
    for _ in range(4):  # whichever worker answers /metrics, the total is the same
        total = server.metric("receiver_requests_total", event="message.shouldCreate")
        assert total == requests
    old_revision = server.get("/readyz").json()["revision"]

    (policies / "chat.yaml").write_text(policy("v2"))
    server.proc.send_signal(signal.SIGHUP)

    def reloaded_pids() -> set[str]:
        lines = [line for line in server.err().splitlines() if "policies reloaded" in line]
        return {line.split("[", 1)[1].split("]", 1)[0] for line in lines}

    wait_for("both workers to reload", lambda: reloaded_pids() == worker_pids(), 15)
    for _ in range(10):
        assert answer_message(server) == "v2"
    new_revision = server.get("/readyz").json()["revision"]
    assert new_revision != old_revision
    samples = server.metrics()
    revisions = {
        (labels["pid"], labels["revision"]): value
        for name, labels, value in samples
        if name == "receiver_policy_revision"
    }
    for pid in worker_pids():
        assert revisions[(pid, new_revision)] == 1
        assert revisions.get((pid, old_revision), 0) == 0
    assert server.metric("receiver_policy_reloads_total", result="ok") == 4

    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=20) == 0


# -- shutdown and refusing to start -------------------------------------------------------------


def test_sigterm_lets_the_in_flight_request_finish(launch: Launch, tmp_path: Path) -> None:
    policy = slow_policy(10, LAST_MESSAGE)
    policies = policy_dir(tmp_path, policy, "slow.yaml")
    limits = ("--deadline-ms", "60000", "--max-body", str(64 * 2**20))
    server = launch("--policies", str(policies), *limits)
    # about 2 s in the server: the probe below needs more than its 0.5 s timeout, even
    # when the machine runs twice as fast as while the words were counted
    slow = message("hello " * words_taking(2.0, policy, sample=2000))
    result: dict[str, Any] = {}

    def call() -> None:
        try:
            result["response"] = server.post(slow)
        except Exception as err:  # reported by the assertion below
            result["error"] = err

    thread = threading.Thread(target=call)
    thread.start()
    # Rules are evaluated on the event loop, so while the slow request is being decided
    # the server answers nothing else: a probe that times out means it is in flight.
    deadline = time.monotonic() + 15
    while True:
        assert thread.is_alive(), f"the slow request ended before SIGTERM: {result}"
        assert time.monotonic() < deadline, "the slow request never kept the server busy"
        try:
            server.client.get(server.base + "/healthz", timeout=0.5)
        except httpx.TimeoutException:
            break
        time.sleep(0.05)
    server.proc.send_signal(signal.SIGTERM)
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert "error" not in result, result
    response = result["response"]
    assert response.status_code == 200
    assert response.json() == {"action": "deny", "message": LAST_MESSAGE}
    # uvicorn re-raises the SIGTERM it handled once it has shut down gracefully.
    assert server.proc.wait(timeout=20) in (0, -signal.SIGTERM)
    assert "Finished server process" in server.err()


@pytest.fixture(scope="module")
def refused(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    """Two servers that must refuse to start, launched together to save a start-up."""
    root = tmp_path_factory.mktemp("refused")
    good = policy_dir(root / "good", policy("v1"))
    broken = policy_dir(root / "broken", BROKEN_POLICY, "zz-broken.yaml")
    with launcher(root) as start:
        yield {
            "public": start("--policies", str(good), "--host", "0.0.0.0", ready=False),
            "broken": start("--policies", str(broken), ready=False),
        }


def test_refuses_a_public_address_without_a_secret(refused: dict[str, Server]) -> None:
    server = refused["public"]
    assert server.proc.wait(timeout=START_TIMEOUT) == 1
    err = server.err()
    assert "refusing to listen on 0.0.0.0 without a signature secret" in err
    assert "RECEIVER_SOCIALPLUS_SECRET" in err
    assert "Uvicorn running" not in err
    assert "Traceback" not in err
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("0.0.0.0", server.port))  # nothing was bound


def test_refuses_to_start_with_broken_policies(refused: dict[str, Server]) -> None:
    server = refused["broken"]
    assert server.proc.wait(timeout=START_TIMEOUT) == 1
    err = server.err()
    assert "zz-broken.yaml:5:" in err
    assert "error:" in err
    assert "have errors" in err
    assert "Uvicorn running" not in err
    assert "Traceback" not in err
