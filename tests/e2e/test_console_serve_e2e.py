"""``receiver serve --console`` end to end: the real process in the production shape.

Signed requests to ``/hooks/socialplus`` answered by each of two workers (the others
stopped with SIGSTOP meanwhile, so the kernel hands every connection to the one that
runs), Redis counters, an HTTP user directory; then the console's explorer shows every
decision of both workers within a bounded wait, its filters and cursor work, a decision
is explained again on the current and the original revision after a SIGHUP reload, and
rule health counts what was sent. Without ``--log-content`` nothing of the content is
shown; bound to 0.0.0.0 without a console token the service refuses to start (exit 2),
with one the API needs it (asked from 127.0.0.1 only).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import serverproc
from fake_directory import FakeDirectory
from serverproc import wait_for

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGSTOP"), reason="POSIX signals (SIGSTOP, process groups) needed"
)

SECRET = "console-e2e-secret-1"
CONSOLE_TOKEN = "console-e2e-token-0123456789"
WAIT = 30.0

POLICY = """\
policy: prod
rules:
  - id: banned
    events: message.shouldCreate
    when: user.banned == true
    action: deny
    message: "banned {version}"
  - id: forbidden
    events: message.shouldCreate
    when: text contains "forbidden"
    action: deny
    message: "forbidden {version}"
  - id: maybe
    events: message.shouldCreate
    mode: shadow
    when: text contains "maybe"
    action: deny
    message: "maybe not"
"""
USERS = {"u-banned": {"banned": True}, "u-ok": {"banned": False}}


def message(text: str, user: str = "u-ok") -> dict[str, Any]:
    return {
        "eventName": "message.shouldCreate",
        "data": {"text": text, "channelId": "ch_1"},
        "actor": {"_id": user, "userId": user},
    }


@pytest.fixture(scope="module")
def directory() -> Iterator[FakeDirectory]:
    with FakeDirectory(USERS) as fake:
        yield fake


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[serverproc.Launch]:
    with serverproc.launcher(tmp_path) as start:
        yield start


def production(
    tmp_path: Path, launch: serverproc.Launch, redis_url: str, directory: FakeDirectory,
    *extra: str,
) -> serverproc.Server:  # fmt: skip
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "prod.yaml").write_text(POLICY.replace("{version}", "v1"))
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET)
    return launch(
        "--console", "--policies", str(policies), "--secret-file", str(secret_file),
        "--counters", "redis", "--redis-url", redis_url, "--users-url", directory.url,
        "--decision-log", str(tmp_path / "decisions.jsonl"), *extra,
        workers=2,
    )  # fmt: skip


def console(server: serverproc.Server, path: str, token: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return server.client.get(f"{server.base}/console/api{path}", headers=headers)


def send_from_each_worker(
    server: serverproc.Server, texts: list[tuple[str, str]]
) -> tuple[dict[str, int], dict[str, str]]:
    """Send each (text, user) signed, half through each worker; the decision ids with the
    worker that answered, and the answer's action."""
    pids = sorted(server.workers())
    assert len(pids) == 2
    by_id: dict[str, int] = {}
    actions: dict[str, str] = {}
    for index, (text, user) in enumerate(texts):
        pid = pids[index % 2]
        with server.only(pid):
            answer = server.post(message(text, user), SECRET)
        assert answer.status_code == 200, answer.text
        by_id[answer.headers["x-decision-id"]] = pid
        actions[answer.headers["x-decision-id"]] = answer.json()["action"]
    return by_id, actions


def all_listed(server: serverproc.Server, ids: set[str], query: str = "") -> list[dict[str, Any]]:
    """The explorer's entries once every decision in ``ids`` is listed by each worker (asked
    alone: the others stopped meanwhile). Another worker's decisions show up within a
    second or two (its snapshot); a worker's view only grows after that, so any later
    call, whichever worker answers it, lists them too."""
    seen: list[dict[str, Any]] = []

    def listed(pid: int) -> bool:
        with server.only(pid):
            answer = console(server, f"/decisions{query}")
        assert answer.status_code == 200, answer.text
        seen[:] = answer.json()["entries"]
        return ids <= {e["decision_id"] for e in seen}

    for pid in sorted(server.workers()):
        wait_for(f"every decision in worker {pid}'s explorer", lambda p=pid: listed(p), WAIT)
    return seen


TEXTS = [
    ("hello", "u-ok"), ("forbidden words", "u-ok"), ("hello", "u-banned"),
    ("maybe so", "u-ok"), ("forbidden again", "u-ok"), ("fine", "u-ok"),
    ("maybe later", "u-ok"), ("all good", "u-ok"),
]  # fmt: skip


def test_the_explorer_and_health_show_every_workers_decisions_and_re_explain_after_a_reload(
    tmp_path: Path, launch: serverproc.Launch, redis_url: str, directory: FakeDirectory
) -> None:
    server = production(tmp_path, launch, redis_url, directory, "--log-content")
    assert server.client.get(f"{server.base}/console", follow_redirects=False).status_code == 307
    console(server, "/decisions")  # a viewer: the workers start writing their snapshots
    by_id, actions = send_from_each_worker(server, TEXTS)
    entries = all_listed(server, set(by_id))
    assert {e["decision_id"]: e["worker"] for e in entries} == by_id  # from both workers
    assert len(set(by_id.values())) == 2
    assert all(e["explainable"] and "data" in e and "message" in e for e in entries)
    times = [e["time"] for e in entries]
    assert times == sorted(times, reverse=True)

    denied = {i for i, a in actions.items() if a == "deny"}
    assert len(denied) == 3
    deny = console(server, "/decisions?action=deny").json()["entries"]
    assert {e["decision_id"] for e in deny} == denied
    shadowed = console(server, "/decisions?rule=prod/maybe").json()["entries"]
    assert len(shadowed) == 2
    assert {
        e["decision_id"] for e in console(server, "/decisions?actor=u-banned").json()["entries"]
    } == {i for i, e in zip(by_id, TEXTS, strict=True) if e[1] == "u-banned"}
    assert len(console(server, "/decisions?event=message.*&limit=3").json()["entries"]) == 3
    assert console(server, "/decisions?limit=0").status_code == 400
    assert console(server, "/decisions/nope").status_code == 404

    cursor = console(server, "/decisions").json()["cursor"]
    later, _ = send_from_each_worker(server, [("one more", "u-ok"), ("and another", "u-ok")])
    all_listed(server, set(later), f"?after={cursor}")
    newer = console(server, f"/decisions?after={cursor}").json()["entries"]
    assert {e["decision_id"] for e in newer} == set(later)

    health = console(server, "/health").json()
    hits = {r["rule"]: sum(r["hits"]) for r in health["rules"]}
    assert hits == {"prod/banned": 1, "prod/forbidden": 2, "prod/maybe": 2}
    maybe = next(r for r in health["rules"] if r["rule"] == "prod/maybe")
    assert sum(maybe["disagreements"]) == 2 and maybe["mode"] == "shadow"
    assert sum(health["totals"]["decisions"]) == len(TEXTS) + 2
    old = health["revision"]

    policies = tmp_path / "policies"
    text = POLICY.replace("{version}", "v2").replace('text contains "forbidden"', "false")
    (policies / "prod.yaml").write_text(text)
    os.kill(server.proc.pid, signal.SIGHUP)

    def reloaded(pid: int) -> bool:
        with server.only(pid):  # this worker answers
            return bool(console(server, "/health").json()["revision"] != old)

    for pid in server.workers():
        wait_for(f"the reload in worker {pid}", lambda pid=pid: reloaded(pid), WAIT)
    forbidden = next(i for i, e in zip(by_id, TEXTS, strict=True) if "forbidden" in e[0])
    banned = next(i for i, e in zip(by_id, TEXTS, strict=True) if e[1] == "u-banned")
    for _ in range(4):  # whichever worker answers, from its own memory or the other's file
        body = console(server, f"/decisions/{forbidden}").json()
        explained = body["explain"]
        assert explained["original"]["revision"] == old
        assert explained["original"]["answer"] == {"action": "deny", "message": "forbidden v1"}
        assert explained["current"]["revision"] != old
        assert explained["current"]["answer"] == {"action": "allow"}
        again = console(server, f"/decisions/{banned}").json()["explain"]  # the user record
        assert again["current"]["answer"] == {"action": "deny", "message": "banned v2"}
        assert again["original"]["answer"] == {"action": "deny", "message": "banned v1"}
    assert "forbidden words" not in server.err()


def test_without_log_content_the_explorer_shows_no_message_or_data(
    tmp_path: Path, launch: serverproc.Launch, redis_url: str, directory: FakeDirectory
) -> None:
    server = production(tmp_path, launch, redis_url, directory)
    console(server, "/decisions")
    by_id, _ = send_from_each_worker(server, TEXTS[:4])
    entries = all_listed(server, set(by_id))
    answer = console(server, "/decisions").json()
    assert answer["content"] is False and answer["workers"] == 2
    for entry in entries:
        assert "message" not in entry and "data" not in entry and not entry["explainable"]
    text = json.dumps(answer) + json.dumps(
        console(server, f"/decisions/{entries[0]['decision_id']}").json()
    )
    assert "forbidden words" not in text and "maybe so" not in text
    snapshots = list((server.tmp).glob("receiver-console-*/console.*.json"))
    assert snapshots, "the workers' snapshots are in the run's private directory"
    for snapshot in snapshots:
        assert snapshot.stat().st_mode & 0o777 == 0o600
        assert b"forbidden words" not in snapshot.read_bytes()


def test_off_loopback_the_console_needs_a_token_and_the_api_asks_for_it(
    tmp_path: Path, launch: serverproc.Launch
) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "prod.yaml").write_text(POLICY.replace("{version}", "v1"))
    args = ("--console", "--policies", str(policies), "--host", "0.0.0.0")
    refused = launch(*args, secret=SECRET, ready=False)
    assert refused.proc.wait(timeout=WAIT) == 2
    assert "--console-token-file" in refused.err()
    assert "0.0.0.0" in refused.err()

    server = launch(*args, secret=SECRET, env={"RECEIVER_CONSOLE_TOKEN": CONSOLE_TOKEN})
    assert server.post(message("forbidden words"), SECRET).json()["action"] == "deny"
    for path in ("/decisions", "/health", "/workspace"):
        assert console(server, path).status_code == 401
        assert console(server, path, "x" * 30).status_code == 401
        assert console(server, path, CONSOLE_TOKEN).status_code == 200
    assert server.client.get(f"{server.base}/console/").status_code == 200  # the page: no token
    started = time.monotonic()
    assert console(server, f"/decisions?token={CONSOLE_TOKEN}").status_code == 401
    assert time.monotonic() - started < WAIT
