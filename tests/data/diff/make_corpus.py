"""Write tests/data/diff/records.jsonl: recorded traffic for the receiver diff tests.

    python tests/data/diff/make_corpus.py        # rewrite records.jsonl
    python tests/data/diff/make_corpus.py --check  # exit 1 if it differs from the file

Deterministic (a seeded generator, fixed times): tests/replay/test_diff_golden.py checks
that the committed file is what this script makes. The records are what a service running
the OLD policies (tests/data/diff/old) would have recorded: each event is decided by OLD
with ``decide()`` at its time, with counters fed in time order, and written with
``record_entry`` (the format of ``serve --record``). The traffic: members chatting, new
accounts posting links, a flooder, a spammer collecting strikes, long texts around both
length limits, invite links, shouting, stray spaces, and text that tries to break the
reports (HTML, Markdown fences, pipes, a lone surrogate).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

from receiver.counters.memory import MemoryBackend
from receiver.dsl.times import format_time
from receiver.dsl.values import Timestamp
from receiver.observe.records import record_entry
from receiver.runtime.decide import decide
from receiver.runtime.payload import Event
from receiver.runtime.policyset import load_policies

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "records.jsonl"
START = 1_764_950_400.0  # 2025-12-05T16:00:00Z
SEED = 21
EVENTS = 420

CHATTER = [
    "hello everyone", "see you at the match tonight", "thanks for the update!",
    "who is up for a game later?", "great stream yesterday", "I agree with that",
    "can someone help me with the quest?", "lol that was close", "good morning",
    "anyone tried the new map?", "brb", "nice one", "the patch notes are out",
]  # fmt: skip
SPAM = [
    "FREE crypto for everyone, claim your prize now", "double your money in a week",
    "whatsapp me for the deal", "claim your prize at the link in my bio",
]  # fmt: skip
LINKS = ["check https://example.org/guide", "pics at www.example.com/album", "see bit.ly/abc12"]
INVITES = ["join us at discord.gg/abcXYZ", "our server: https://discord.gg/Gamers42"]
SHOUTS = ["WHY IS NOBODY ANSWERING ME", "THIS GAME IS AMAZING!!!", "STOP CAMPING THE SPAWN"]
HOSTILE = [
    "<script>alert('x')</script> & <b>bold</b>",
    "```\n| col | col |\n``` end of fence",
    "pipes | and `ticks` and **stars** <!-- comment -->",
    "lone surrogate \ud800 here",
]


def users(rng: random.Random) -> dict[str, dict[str, Any]]:
    """Members with their records: most old accounts, some from the last days."""
    out: dict[str, dict[str, Any]] = {}
    for number in range(24):
        days = rng.choice([400, 200, 90, 30, 10]) if number % 4 else rng.choice([0.3, 1.5, 2.5])
        out[f"user_{number:02d}"] = {
            "createdAt": format_time(START - days * 86_400),
            "roles": ["member"],
        }
    return out


def text_for(rng: random.Random, kind: str) -> str:
    if kind == "chat":
        return rng.choice(CHATTER)
    if kind == "long":
        return " ".join(rng.choice(CHATTER) for _ in range(40))[: rng.randint(240, 460)]
    if kind == "spaced":
        return (
            "  " + rng.choice(CHATTER) + "   and  more "
            if rng.random() < 0.5
            else (rng.choice(CHATTER).replace(" ", "  ", 1))
        )
    table = {"spam": SPAM, "link": LINKS, "invite": INVITES, "shout": SHOUTS, "hostile": HOSTILE}
    return rng.choice(table[kind])


def events(rng: random.Random, members: list[str]) -> list[tuple[float, Event]]:
    """The traffic, in time order."""
    kinds = ["chat"] * 10 + ["long"] * 3 + ["spaced"] * 2 + ["link"] * 2 + ["invite", "shout"]
    kinds += ["spam", "hostile"]
    out: list[tuple[float, Event]] = []
    at = START
    for number in range(EVENTS):
        at += rng.uniform(0.5, 6.0)
        if 100 <= number < 110:  # a flooder: ten messages within seconds
            actor, kind = "user_05", "chat"
            at += 0.2
        elif number % 37 == 0:  # a spammer collecting strikes
            actor, kind = "user_13", "spam"
        else:
            actor, kind = rng.choice(members), rng.choice(kinds)
        name = "message.shouldUpdate" if rng.random() < 0.1 else "message.shouldCreate"
        data = {"text": text_for(rng, kind), "channelId": rng.choice(["ch_general", "ch_games"])}
        out.append((round(at, 3), Event(name, data, {"userId": actor, "_id": actor})))
    return out


def build() -> bytes:
    """The corpus as the bytes of records.jsonl."""
    rng = random.Random(SEED)
    directory = users(rng)
    policies = load_policies([HERE / "old"])
    backend = MemoryBackend()
    lines = []
    for number, (at, event) in enumerate(events(rng, sorted(directory))):
        decided = decide(
            policies, event, Timestamp(at), users=directory.get, counters=backend,
            decision_id=f"rec-{number:04d}",
        )  # fmt: skip
        entry = record_entry(
            decision_id=f"rec-{number:04d}", now=at, platform="socialplus", event=event,
            user_answer=decided.user, user_asked=decided.user_asked,
            decision=decided.decision, revision=policies.revision,
        )  # fmt: skip
        lines.append(json.dumps(entry, ensure_ascii=True, separators=(",", ":")))
    return ("\n".join(lines) + "\n").encode("ascii")


def main(argv: list[str]) -> int:
    data = build()
    if "--check" in argv:
        same = OUTPUT.exists() and OUTPUT.read_bytes() == data
        print(f"{OUTPUT}: {'up to date' if same else 'differs: rerun without --check'}")
        return 0 if same else 1
    OUTPUT.write_bytes(data)
    print(f"wrote {OUTPUT}: {len(data.splitlines())} records")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
