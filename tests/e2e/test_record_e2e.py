"""``receiver serve --record DIR`` end to end: replay equals the service.

The production shape (a social.plus secret, a brainCloud bridge token, ``--workers 2``,
Redis counters, an HTTP user directory) decides a few hundred varied requests sent one
after another: the example payloads, and generated messages from several users, with
profanity (strikes), floods (rate limits), the same text pasted across channels, links,
an unknown user and an event without an actor, then the brainCloud examples through the
bridge's route, with a policy reload (SIGHUP) half way. The service is stopped with
SIGTERM; its records, read back with ``read_records`` and replayed through the shipped
policies (``receiver.replay.engine.replay``), give for every decision id the answer the
service sent and the decision it recorded. The decision log written with
``--log-content`` by the same run replays without errors. With ``--record-sample 0.5``
the recorded actors are the ones the documented hash picks, the same in two runs.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import serverproc
import yaml
from fake_directory import FakeDirectory
from serverproc import Launch, Server, launcher, wait_for

from receiver.adapters import braincloud, socialplus
from receiver.cli import main
from receiver.observe.records import read_records, record_decision
from receiver.observe.sampling import actor_share
from receiver.replay.engine import ReplayStats, replay
from receiver.runtime.policyset import load_policies

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="POSIX process groups")

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
PAYLOADS = ROOT / "examples" / "payloads"
SECRET = "record-e2e-secret-21"
BRIDGE_TOKEN = "record-e2e-bridge-token"
BRAINCLOUD = ROOT / "examples" / "braincloud"
WAIT = 30.0

MEMBERS = [f"member_{n:02d}" for n in range(30)]  # added to the directory's examples
USERS = ["member_sam", "member_lee", "recent_rita", "new_nina", "mod_maya", "ghost_gus", *MEMBERS]
TEXTS = [
    "Hi all, is the meetup still on for Saturday?",
    "what the hell is going on here",
    "this is damn annoying, honestly",
    "STOP SHOUTING AT EVERYONE IN THIS CHANNEL RIGHT NOW",
    "look at https://bit.ly/3xYzAbC for the schedule",
    "join us at https://discord.gg/abcdef tonight",
    "free crypto for everyone who replies",
    "call me on +1 415 555 0100 after six",
    "ok",
    "thanks!",
]
PASTED = "Selling concert tickets cheap, message me for details"


def directory_records() -> dict[str, Any]:
    """examples/users.yaml as a JSON user service answers it (times as ISO strings)."""
    raw = yaml.safe_load((ROOT / "examples" / "users.yaml").read_text(encoding="utf-8"))

    def text(value: Any) -> Any:
        if isinstance(value, dt.datetime):
            return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        raise TypeError(type(value).__name__)

    records: dict[str, Any] = json.loads(json.dumps(raw, default=text))
    for n, name in enumerate(MEMBERS):
        records[name] = {
            "role": "member", "createdAt": f"2025-{n % 12 + 1:02d}-15T10:00:00Z",
            "banned": False, "ageVerified": n % 2 == 0,
        }  # fmt: skip
    return records


def message(user: str | None, text: str, channel: str = "ch_general") -> dict[str, Any]:
    payload: dict[str, Any] = {
        "eventName": "message.shouldCreate",
        "data": {"text": text, "channelId": channel, "attachments": [], "metadata": {}},
    }
    if user is not None:
        payload["actor"] = {"_id": user, "userId": user}
    return payload


def traffic(seed: int = 21) -> list[dict[str, Any]]:
    """A few hundred varied requests, the same for a seed."""
    rng = random.Random(seed)
    examples = [json.loads(p.read_text()) for p in sorted(PAYLOADS.glob("*.json"))]
    sent: list[dict[str, Any]] = list(examples)
    for n in range(120):  # everyday chatter from every user, in three channels
        user = rng.choice(USERS)
        sent.append(message(user, rng.choice(TEXTS), f"ch_{rng.choice('abc')}"))
        if n % 20 == 0:
            sent.append(message(None, "a message from nobody in particular"))
    sent.extend(message("new_nina", f"flood message number {n}") for n in range(14))
    sent.extend(message("member_lee", "what the hell, seriously, hell") for _ in range(5))
    sent.extend(message(MEMBERS[n], PASTED, f"ch_paste_{n}") for n in range(8))
    sent.extend(rng.sample(examples, 20))
    for n in range(60):  # a second round, after the counters have filled
        sent.append(message(rng.choice(USERS), rng.choice(TEXTS), f"ch_{n % 4}"))
    return sent


def send_all(server: Server, requests: list[dict[str, Any]]) -> dict[str, bytes]:
    """Each request, signed, one after another: the answer body by decision id."""
    answers: dict[str, bytes] = {}
    for payload in requests:
        response = server.post(payload, SECRET)
        assert response.status_code == 200, response.text
        decision_id = response.headers["x-decision-id"]
        assert decision_id not in answers
        answers[decision_id] = response.content
    return answers


def send_braincloud(server: Server, rounds: int = 3) -> dict[str, tuple[str, bytes]]:
    """The brainCloud examples through the bridge's route: hook type and answer by id."""
    answers: dict[str, tuple[str, bytes]] = {}
    headers = {"content-type": "application/json", "x-receiver-token": BRIDGE_TOKEN}
    for _ in range(rounds):
        for path in sorted(BRAINCLOUD.glob("*.json")):
            body = path.read_bytes()
            response = server.client.post(
                server.base + "/hooks/braincloud", content=body, headers=headers
            )
            assert response.status_code == 200, response.text
            hook_type = braincloud.parse_request(body).hook_type
            answers[response.headers["x-decision-id"]] = (hook_type, response.content)
    return answers


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    with launcher(tmp_path) as start:
        yield start


@pytest.fixture
def directory() -> Iterator[FakeDirectory]:
    with FakeDirectory(directory_records()) as fake:
        yield fake


def serve(launch: Launch, redis_url: str, directory: FakeDirectory, *args: str) -> Server:
    redis.Redis.from_url(redis_url, socket_timeout=5).flushdb()  # counters start empty
    return launch(
        "--policies", str(POLICIES), "--counters", "redis", "--redis-url", redis_url,
        "--users-url", directory.url, "--deadline-ms", "10000",
        # a Redis call past its time reads counters as unavailable, which the record says
        # and the replay reproduces (a worker's fallback counters, the default, could not
        # be replayed exactly); the time is generous so that the limits this traffic is
        # written to reach are reached on a loaded CI machine too
        "--counters-fallback", "unknown", "--redis-timeout-ms", "2000", *args,
        secret=SECRET, workers=2, env={"RECEIVER_BRAINCLOUD_TOKEN": BRIDGE_TOKEN},
    )  # fmt: skip


def test_replaying_the_records_gives_every_answer_the_service_gave(
    launch: Launch, tmp_path: Path, redis_url: str, directory: FakeDirectory
) -> None:
    records_dir, decision_log = tmp_path / "records", tmp_path / "decisions.jsonl"
    server = serve(
        launch, redis_url, directory, "--record", str(records_dir),
        "--decision-log", str(decision_log), "--log-content",
    )  # fmt: skip
    requests = traffic()
    half = len(requests) // 2
    answers = send_all(server, requests[:half])
    os.kill(server.proc.pid, signal.SIGHUP)  # a reload in each worker: recording goes on
    wait_for(
        "both workers' reloads",
        lambda: server.metric("receiver_policy_reloads_total", result="ok") == 2,
        WAIT,
    )
    answers.update(send_all(server, requests[half:]))
    bridged = send_braincloud(server)
    serverproc.stop(server.proc)  # SIGTERM: each worker writes out what it queued
    assert server.proc.returncode == 0, server.err()
    assert "Traceback" not in server.err()

    files = sorted(records_dir.glob("*.jsonl"))
    assert len({f.name.split(".")[1] for f in files}) == 2  # one writer per worker
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    records = read_records([records_dir])
    assert len(records) == len(requests) + len(bridged)
    assert {r.decision_id for r in records} == set(answers) | set(bridged)
    assert not [r.decision_id for r in records if r.degraded]
    policies = load_policies([POLICIES])
    stats = ReplayStats()
    outcomes: dict[str, int] = {}
    for replayed in replay(policies, records, stats=stats):
        decision = replayed.decided.decision
        record = replayed.record
        if record.platform == "braincloud":
            hook_type, answer = bridged[record.decision_id]
            assert braincloud.response_body(hook_type, decision) == answer, record
        else:
            assert socialplus.response_body(decision) == answers[record.decision_id], record
        assert record_decision(decision) == record.decision, record
        key = f"{decision.action}:{decision.rule or '-'}"
        outcomes[key] = outcomes.get(key, 0) + 1
    assert stats.events == len(records) and stats.users_missing == 0
    # the traffic reached what it was written for: limits, strikes, paste, links, allows
    for rule in ("message-flood", "repeat-offender", "same-text-many-channels"):
        assert any(rule in key for key in outcomes), json.dumps(outcomes)
    assert outcomes.get("allow:-", 0) > 50

    # the command a writer runs says the same: every answer compared, none differs
    summary_path = tmp_path / "summary.json"
    code = main(["replay", str(POLICIES), str(records_dir), "-o", str(tmp_path / "out.jsonl"),
                 "--summary-json", str(summary_path)])  # fmt: skip
    summary = json.loads(summary_path.read_text())
    assert (code, summary["events"], summary["compared"]) == (0, len(records), len(records))
    assert summary["differing"] == 0, summary
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(lines) == len(records) and all(line["same"] for line in lines)

    # the decision log with --log-content is read as records and replays without errors
    users = directory_records()
    logged = read_records([decision_log])
    assert len(logged) == len(records)
    for replayed in replay(policies, logged, users=users.get):
        assert not replayed.decided.decision.errors


def test_a_sample_records_the_actors_the_documented_hash_picks_in_every_run(
    launch: Launch, tmp_path: Path, redis_url: str, directory: FakeDirectory
) -> None:
    actors = [f"sampled_{n}" for n in range(40)]
    requests = [message(actor, "hello there") for actor in actors for _ in range(3)]
    picked = {a for a in actors if actor_share(a) < 0.5}
    assert 0 < len(picked) < len(actors)
    seen: list[set[str]] = []
    for run in range(2):
        records_dir = tmp_path / f"run{run}"
        server = serve(launch, redis_url, directory, "--record", str(records_dir),
                       "--record-sample", "50%")  # fmt: skip
        send_all(server, requests)
        wait_for(
            "every record written or skipped",
            lambda s=server: (
                s.metric("receiver_records_total", outcome="written")
                + s.metric("receiver_records_total", outcome="unsampled")
                == len(requests)
            ),
            WAIT,
        )
        assert server.metric("receiver_records_total", outcome="dropped") == 0
        serverproc.stop(server.proc)
        records = read_records([records_dir])
        assert len(records) == 3 * len(picked)  # a sampled actor's whole history
        seen.append({r.event.actor["userId"] for r in records})
    assert seen == [picked, picked]
