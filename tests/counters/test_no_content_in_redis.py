"""No message text in Redis, end to end: the real ``receiver serve`` in the production shape
(``--workers 2``, signed requests, ``--counters redis`` with ``--redis-key-secret-file``),
the shipped policies plus one whose counters are keyed, distinct and striking by text.
After signed messages with distinctive texts reach both workers, every key in Redis is
read back (``SCAN``, then every member of every sorted set): no text is there, in any
case or trimmed form, while user and channel ids stay readable, and the counts still
hold across the workers (the same text in too many channels is refused).

Without a key secret, the start-up warning is written once, by the supervisor, not by
each worker.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from serverproc import Server, launcher, wait_for

from receiver.counters.keyhash import KeyHasher

ROOT = Path(__file__).resolve().parents[2]
SECRET = "no-content-secret-1"
KEY_SECRET = "redis-key-secret-of-this-test-0123456789"

PROBE = """\
policy: content-probe
description: counters keyed, distinct and striking by message text, never stored as text
counters:
  texts_per_user:
    events: message.shouldCreate
    key: actor.userId
    distinct: lower(trim(text))
    window: 10m
  senders_per_text:
    events: message.shouldCreate
    key: data.text
    distinct: actor.userId
    window: 10m
  text_in_channel:
    events: message.shouldCreate
    key: 'data.channelId + ":" + text'
    window: 10m
  strikes_by_text:
    decisions: [profanity/censor-profanity]
    key: lower(text)
    window: 1h
rules:
  - id: never
    events: message.shouldCreate
    when: >-
      texts_per_user > 1000 or senders_per_text > 1000 or text_in_channel > 1000
      or strikes_by_text > 1000
    action: deny
    message: not reached
"""

# Distinctive texts (at least 20 characters: the shipped channels_per_text counts only
# those), with capitals and surrounding spaces so that lower() and trim() forms differ.
TEXTS = [
    "  Zanzibar Marmalade rendezvous at the old LIGHTHOUSE  ",
    "Quixotic Pelican number 4471 sings at dawn",
    "Hi all, is the Meetup still on for Saturday?",
    "See the Aurora Borealis photos at https://example.org/aurora-7731",
    "What the hell happened to the Tangerine Submarine",  # censored: a strike by text
]
SPAM = "Hazelnut Trampoline Society invites you: join now"  # pasted into many channels
USERS = ["member_sam", "member_lee"]


def forms(text: str) -> set[str]:
    """Every form of a text that must not be found in Redis: as sent, lowercased,
    trimmed, and each distinctive word (eight letters or more) lowercased."""
    words = {w.strip(",.?:").lower() for w in text.split() if len(w.strip(",.?:")) >= 8}
    words.discard("https://example.org/aurora-7731")  # a URL, checked whole below
    return {text, text.lower(), text.strip(), text.strip().lower(), *words}


def message(text: str, user: str, channel: str) -> dict[str, Any]:
    return {
        "eventName": "message.shouldCreate",
        "data": {"text": text, "channelId": channel},
        "actor": {"userId": user},
    }


def stored(client: redis.Redis) -> dict[str, list[str]]:
    """Every key in the database with everything it holds, as text."""
    out: dict[str, list[str]] = {}
    for raw in client.scan_iter(count=500):
        key = raw.decode("utf-8", "replace")
        kind = client.type(raw).decode()
        values: list[Any]
        if kind == "zset":
            values = list(client.zrange(raw, 0, -1))
        elif kind == "string":
            values = [client.get(raw)]
        elif kind == "hash":
            values = [x for pair in client.hgetall(raw).items() for x in pair]
        elif kind == "list":
            values = list(client.lrange(raw, 0, -1))
        elif kind == "set":
            values = list(client.smembers(raw))
        else:
            values = [kind]
        out[key] = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                    for v in values]  # fmt: skip
    return out


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    folder.mkdir()
    for source in (ROOT / "policies").glob("*.yaml"):
        if not source.name.endswith(".test.yaml"):
            shutil.copy(source, folder / source.name)
    (folder / "content-probe.yaml").write_text(PROBE, encoding="utf-8")
    return folder


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    with launcher(tmp_path, Server) as launch:
        yield launch


def test_after_a_run_redis_holds_no_message_text_and_readable_ids(
    start: Any, policies: Path, tmp_path: Path, redis_url: str
) -> None:
    key_file = tmp_path / "redis.key"
    key_file.write_text(KEY_SECRET + "\n")
    server: Server = start(
        "--policies", str(policies), "--users", str(ROOT / "examples/users.yaml"),
        "--counters", "redis", "--redis-url", redis_url,
        "--redis-key-secret-file", str(key_file),
        "--decision-log", str(tmp_path / "decisions.jsonl"),
        secret=SECRET, workers=2,
    )  # fmt: skip
    pids = sorted(server.workers())
    assert len(pids) == 2
    answers: list[dict[str, Any]] = []
    ended = time.monotonic() + 60
    for n, text in enumerate(TEXTS):  # each text from both users, through both workers
        for i, user in enumerate(USERS):
            with server.only(pids[(n + i) % 2]):
                reply = server.post(message(text, user, f"ch_{n}_{i}"), key=SECRET)
                assert reply.status_code == 200, reply.text
                answers.append(reply.json())
        assert time.monotonic() < ended
    censored = [a for a in answers if a.get("action") == "allow" and "data" in a]
    assert censored, answers  # the profane text was censored: a strike keyed by its text
    # The same text in six channels, alternating workers: the fifth channel is over the
    # shipped limit of four, counted in Redis under the text's keyed hash.
    spam = []
    for c in range(6):
        with server.only(pids[c % 2]):
            spam.append(server.post(message(SPAM, USERS[c % 2], f"ch_spam_{c}"), key=SECRET))
    actions = [r.json()["action"] for r in spam]
    assert actions == ["allow"] * 4 + ["deny"] * 2, actions
    assert "already posted in several channels" in spam[4].json()["message"]

    client = redis.Redis.from_url(redis_url)
    try:
        everything = stored(client)
    finally:
        client.close()
    assert everything, "nothing was stored in Redis"
    haystack = "\n".join(f"{k}\n" + "\n".join(v) for k, v in everything.items())
    for text in [*TEXTS, SPAM]:
        for form in forms(text):
            assert form not in haystack, f"{form!r} is in Redis"
            assert form.lower() not in haystack.lower(), f"{form!r} is in Redis (any case)"
    assert "https://example.org/aurora-7731" not in haystack
    # Identifiers stay readable: users as keys, channels as distinct members
    names = list(everything)
    for user in USERS:
        assert any(n.endswith(f"rate-limits/messages_per_minute:60000:c:{user}") for n in names)
        assert any(n.endswith(f"content-probe/texts_per_user:600000:d:{user}") for n in names)
    per_text = [n for n in names if "rate-limits/channels_per_text:600000:d:" in n]
    assert per_text and all(":d:hmac:" in n for n in per_text)
    members = {m for n in per_text for m in everything[n]}
    assert {f"ch_spam_{c}" for c in range(6)} <= members
    senders = [n for n in names if "content-probe/senders_per_text" in n]
    assert senders and set(USERS) <= {m for n in senders for m in everything[n]}
    by_text = [v for n, v in everything.items() if "content-probe/texts_per_user" in n]
    assert by_text and all(m.startswith("hmac:") for v in by_text for m in v)
    strikes = [n for n in names if "content-probe/strikes_by_text" in n]
    assert strikes and all(":c:hmac:" in n for n in strikes)
    # and the decision log, which never held content, still does not
    log = tmp_path / "decisions.jsonl"
    wait_for("the decision log", lambda: len(log.read_text().splitlines()) >= len(answers), 10)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert not any("Marmalade" in json.dumps(line) for line in lines)
    assert "Traceback" not in server.err()


def test_without_a_key_secret_the_supervisor_warns_once(
    start: Any, tmp_path: Path, redis_url: str
) -> None:
    server: Server = start(
        "--policies", str(ROOT / "policies"), "--counters", "redis", "--redis-url", redis_url,
        secret=SECRET, workers=2,
    )  # fmt: skip
    reply = server.post(message(TEXTS[0], "member_sam", "ch_x"), key=SECRET)
    assert reply.status_code == 200
    err = server.err()
    assert err.count("NO REDIS KEY SECRET") == 1, err
    client = redis.Redis.from_url(redis_url)
    try:
        names = [k.decode() for k in client.scan_iter("*channels_per_text*")]
    finally:
        client.close()
    plain = KeyHasher(None)(TEXTS[0].strip().lower())
    assert f"receiver:counter:rate-limits/channels_per_text:600000:d:{plain}" in names
