"""A generated corpus of records for replay tests: chat traffic on the shipped policies
with what makes counters matter (message floods, the same long text pasted by several
users across channels, link bursts, profanity strikes), several users, a few events
without counters, fail-safe answers and decision-log lines."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

START = 1_764_950_400.0  # 2025-12-05T16:00:00Z
USERS = [f"u{n}" for n in range(24)]
RING = 4  # users u0-u3, u4-u7, ... paste the same texts (cross-channel spam rings)
CHANNELS = ["ch_general", "ch_random", "ch_1", "ch_2", "ch_3", "ch_4", "ch_5"]
WORDS = ["hello", "there", "see", "you", "at", "the", "game", "tonight", "great", "idea"]
PASTE = ["check out this amazing offer in {}", "join my server for free prizes at {}"]
LINKS = ["https://example.com/a", "bit.ly/3xYz", "t.co/q9"]
PROFANE = ["shit", "damn", "crap"]
ALLOWED = {
    "action": "allow", "message": None, "rule": None, "modified_by": [], "shadow": [],
    "errors": [], "degraded": False,
}  # fmt: skip


def user_record(rng: random.Random, user: str) -> dict[str, Any]:
    return {
        "role": "member",
        "createdAt": rng.choice(["2023-03-14T09:26:53Z", "2025-12-05T10:00:00Z"]),
        "banned": user == "u23",
    }


def text(rng: random.Random, user: str) -> str:
    kind = rng.choices(["plain", "paste", "link", "profane"], [50, 15, 20, 15])[0]
    words = rng.choices(WORDS, k=rng.randint(1, 6))
    if rng.random() < 0.5:  # what people say apart from a ring's pastes is rarely the same
        words.append(str(rng.randrange(10**6)))
    if kind == "paste":
        return rng.choice(PASTE).format(f"ring {USERS.index(user) // RING}")
    if kind == "link":
        words.append(rng.choice(LINKS))
    elif kind == "profane":
        words.insert(rng.randrange(len(words) + 1), rng.choice(PROFANE))
    return " ".join(words)


def entries(seed: int, count: int) -> list[dict[str, Any]]:
    """``count`` record lines (dicts), in time order, over about an hour."""
    rng = random.Random(seed)
    users = {user: user_record(rng, user) for user in USERS}
    now = START
    out: list[dict[str, Any]] = []
    while len(out) < count:
        user = rng.choice(USERS)
        burst = rng.random() < 0.08  # a flood: many messages within seconds
        for _ in range(rng.randint(12, 16) if burst else 1):
            now += rng.uniform(0.05, 0.5) if burst else rng.uniform(0.5, 20)
            event = rng.choices(
                ["message.shouldCreate", "post.shouldCreate", "channel.shouldJoin"], [80, 12, 8]
            )[0]
            data: dict[str, Any] = {"channelId": rng.choice(CHANNELS)}
            if event != "channel.shouldJoin":
                data["text"] = text(rng, user)
            number = len(out)
            decision = dict(ALLOWED)
            if number % 97 == 5:
                decision |= {"degraded": True, "degraded_reason": "deadline"}
            elif number % 13 == 3:
                decision |= {"action": "deny", "rule": "old/rule", "message": "no"}
            out.append(
                {
                    "record": 1,
                    "decision_id": f"d{number:06d}",
                    "time": round(now, 6),
                    "platform": "socialplus",
                    "revision": "rev-old",
                    "event": event,
                    "actor": {"_id": user, "userId": user},
                    "data": data,
                    "user_lookup": "found",
                    "user": users[user],
                    "decision": decision,
                }
            )
            if len(out) == count:
                break
    return out


def write(path: Path, seed: int, count: int) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in entries(seed, count)), encoding="utf-8")
    return path
