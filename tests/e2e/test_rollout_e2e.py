"""End to end: gradual rollout and expiring rules in the real ``receiver serve``, in the
production shape (signed requests, ``--workers 2``, Redis counters, a decision log file).

The service decides with the real clock: a rule that expired yesterday is off, one that
expires next year is on. A rollout rule enforces for exactly the users whose bucket,
computed here in the test process with the documented formula, is inside the rollout,
whichever worker answers; the decision log and ``/metrics`` say which way each went.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from serverproc import Launch, Server, launcher, policy_dir, wait_for

from receiver.runtime.rollout import bucket, enforces

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGHUP"), reason="POSIX signals (process groups) needed"
)

SECRET = "e2e-rollout-secret-0001"
METRICS_TOKEN = "e2e-rollout-metrics-0001"
USERS = [f"user-{n}" for n in range(24)]


def policy() -> str:
    today = datetime.now(UTC).date()
    yesterday, next_year = today - timedelta(days=1), today + timedelta(days=366)
    return f"""\
policy: chat
rules:
  - id: gone
    events: message.shouldCreate
    when: text contains "gone"
    action: deny
    message: expired rule
    expires: {yesterday.isoformat()}
  - id: kept
    events: message.shouldCreate
    when: text contains "kept"
    action: deny
    message: expiring next year
    expires: {next_year.isoformat()}T00:00:00Z
  - id: half
    events: message.shouldCreate
    when: text contains "link"
    action: deny
    message: rolled out
    rollout: 50%
"""


def message(text: str, user: str = "u1") -> dict[str, Any]:
    return {
        "eventName": "message.shouldCreate",
        "data": {"text": text, "channelId": "ch_1"},
        "actor": {"_id": user, "userId": user},
    }


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    with launcher(tmp_path) as start:
        yield start


def test_rollout_and_expiry_in_the_production_shape(
    launch: Launch, tmp_path: Path, redis_url: str
) -> None:
    server: Server = launch(
        "--policies", str(policy_dir(tmp_path, policy())),
        "--counters", "redis", "--redis-url", redis_url,
        "--decision-log", str(tmp_path / "decisions.jsonl"),
        workers=2,
        env={"RECEIVER_SOCIALPLUS_SECRET": SECRET, "RECEIVER_METRICS_TOKEN": METRICS_TOKEN},
    )  # fmt: skip
    assert server.post(message("gone"), SECRET).json() == {"action": "allow"}
    assert server.post(message("kept"), SECRET).json() == {
        "action": "deny",
        "message": "expiring next year",
    }
    inside = {u for u in USERS if enforces(bucket("chat/half", u), 50)}
    assert 0 < len(inside) < len(USERS)  # both ways are exercised
    pids = sorted(server.workers())
    assert len(pids) == 2
    for n, user in enumerate(USERS):  # the workers take turns: each decides half the users
        with server.only(pids[n % 2]):
            answer = server.post(message("a link", user), SECRET).json()
        expected = "deny" if user in inside else "allow"
        assert answer["action"] == expected, user

    def log() -> list[dict[str, Any]]:
        path = tmp_path / "decisions.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    wait_for("every decision in the log", lambda: len(log()) >= 2 + len(USERS), 10)
    lines = log()
    assert len({line.get("decision_id") for line in lines}) == 2 + len(USERS)
    rolled = [line for line in lines if "rollout" in line]
    assert len(rolled) == len(USERS)  # only the rollout rule's decisions carry it
    for line in rolled:
        user = line["actor"]
        assert line["rollout"] == [
            {"rule": "chat/half", "bucket": bucket("chat/half", user), "enforced": user in inside}
        ]
        assert line["shadow"] == (
            [] if user in inside else [{"rule": "chat/half", "action": "deny"}]
        )
    name = "receiver_rollout_decisions_total"
    assert server.metric(name, rule="chat/half", way="enforced") == len(inside)
    assert server.metric(name, rule="chat/half", way="shadow") == len(USERS) - len(inside)
    assert "Traceback" not in server.err()
