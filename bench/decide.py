"""Decision time of the shipped policies (policies/) over a generated corpus of payloads.

Run from the repository root::

    python bench/decide.py [--payloads 600] [--rounds 30] [--budget 8] [--seed 1]

A decision is ``PolicySet.tree(name)`` + ``parse_event`` + ``evaluate`` of an
already-parsed payload dict, with users from a generated ``StaticDirectory``. The
corpus covers the 12 social.plus events, both text shapes (``data.text`` and
``data.data.text``), several channels, known, unknown and missing actors, and
texts of many kinds (short, long, links, invites, phone numbers, spam, shouting,
Unicode, swear words). Reported:

(a) payloads whose decision makes no profanity call (``profane``/``censor``). The
    spec target (median under 20 µs) applies here. Which payloads those are is
    found by counting calls of better-profanity's ``contains_profanity``/``censor``
    and, when the receiver has its own engine (``receiver.profanity``), of its
    matchers' ``contains``/``censor``, in a separate copy of the policies compiled
    while the counters are in place;
(b) all payloads (as many rounds as fit in ``--budget`` seconds; a random sample
    for one round if profanity checks are too slow for that), and (b') those of
    them that make profanity calls.

Each table has, timed in the same process and interleaved call by call: the
decision with the compiled (indexed) trees, the decision with flat non-indexed
trees (``compile_tree(rules, event, index=False)``), and ``json.dumps(json.loads(raw))``
of the payload, the machine-independent reference that the ratio columns divide by.
"""

from __future__ import annotations

import argparse
import importlib
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _common import Result, header, json_reference, measure, table, verdict
from better_profanity import profanity

from receiver.compile.compiler import compile_tree
from receiver.compile.tree import EventTree
from receiver.dsl import events as ev
from receiver.dsl.values import Timestamp
from receiver.runtime.decision import Decision
from receiver.runtime.evaluator import evaluate
from receiver.runtime.payload import parse_event
from receiver.runtime.policyset import load_policies
from receiver.users.static import StaticDirectory

ROOT = Path(__file__).resolve().parents[1]
NOW = Timestamp(1_748_736_000.0)  # 2025-06-01T00:00:00Z
TARGET_NO_PROFANITY_US = 20.0

# fmt: off
VOCAB = [
    "hello", "there", "thanks", "see", "you", "at", "the", "game", "tonight", "who", "is",
    "coming", "lol", "ok", "sure", "what", "time", "does", "it", "start", "meet", "me", "near",
    "station", "bring", "snacks", "great", "idea", "love", "this", "photo", "nice", "work",
    "team", "check", "new", "update", "release", "notes", "please", "read", "rules", "before",
    "posting", "welcome", "everyone", "happy", "friday", "weekend", "plans", "anyone", "want",
    "to", "join", "us", "coffee", "later", "sounds", "good", "maybe", "next", "week",
]
# fmt: on
UNICODE_BITS = ["héllo", "wörld", "café", "naïve", "👋", "🎉", "日本語", "привет", "مرحبا"]
UNICODE_BITS += ["straße", "Ωmega"]
PROFANE = ["shit", "damn", "bastard", "sh1t", "a$$hole", "crap"]
LINKS = [
    "bit.ly/3xYz",
    "https://bit.ly/abc?x=1",
    "t.co/q9",
    "www.tinyurl.com/k2",
    "https://example.com/page",
    "docs.python.org/3/",
    "http://www.news.site/article/42",
]
INVITES = ["discord.gg/abc123", "https://t.me/joinchat/XyZ12", "chat.whatsapp.com/Hq7"]
PHONES = ["+44 20 7946 0958", "415-555-0134", "(415) 555-0134", "415.555.0134"]
SPAM = ["free crypto", "Double your money", "claim your prize", "whatsapp me"]
# Generic channels, plus the special ones the shipped policies name.
CHANNELS = ["ch_general", "ch_random", "ch_1", "ch_2", "ch_3"]
SPECIAL_CHANNELS = ["ch_after_dark", "ch_nsfw_art", "ch_mod_room", "ch_announcements"]
SPECIAL_CHANNELS += ["ch_newcomers", "ch_kids_corner"]
FLAG_REASONS = ["SpamOrScams", "spam or scams", "harassment_or_bullying", "Others", "bogus"]
CHANNEL_NAMES = ["Weekend plans", "Book club", "ab", "Official News", "x" * 70, "damn fools"]


def make_users(rng: random.Random, count: int) -> StaticDirectory:
    records: dict[str, dict[str, Any]] = {}
    for n in range(count):
        record: dict[str, Any] = {"displayName": f"User {n}"}
        role = rng.choices(["member", "moderator", "admin", None], [70, 8, 4, 18])[0]
        if role is not None:
            record["role"] = role
        if rng.random() < 0.04:
            record["banned"] = True
        if rng.random() < 0.3:
            record["ageVerified"] = True
        created = rng.choice(["old", "old", "new", "ms", "none"])
        if created == "old":
            record["createdAt"] = "2023-03-14T09:26:53Z"
        elif created == "new":
            record["createdAt"] = "2025-05-30T12:00:00Z"
        elif created == "ms":
            record["createdAt"] = int((NOW.epoch - rng.randint(1, 60) * 86400) * 1000)
        records[f"u{n}"] = record
    return StaticDirectory(records)


def make_text(rng: random.Random) -> tuple[str, str]:
    kinds = ["short", "medium", "long", "link", "invite", "phone", "spam", "caps", "unicode"]
    kind = rng.choices([*kinds, "profane"], [40, 12, 4, 10, 3, 4, 4, 5, 6, 8])[0]
    parts = rng.choices(VOCAB, k=rng.randint(1, 10))
    extra = {
        "link": LINKS,
        "invite": INVITES,
        "phone": PHONES,
        "spam": SPAM,
        "unicode": UNICODE_BITS,
        "profane": PROFANE,
    }.get(kind)
    if extra is not None:
        parts.insert(rng.randint(0, len(parts)), rng.choice(extra))
    elif kind == "medium":
        parts = rng.choices(VOCAB, k=rng.randint(15, 60))
    elif kind == "caps":
        parts = [w.upper() for w in rng.choices(VOCAB, k=rng.randint(3, 10))]
    elif kind == "long":
        parts = rng.choices(VOCAB, k=rng.randint(400, 550))  # 2000 to 3000 characters
    return kind, " ".join(parts) + rng.choice(["", "", "!", "?", "."])


def make_payload(rng: random.Random, event: str, users: int) -> tuple[str, dict[str, Any]]:
    family, _, action = event.partition(".should")
    data: dict[str, Any] = {}
    if rng.random() < 0.8:
        data["channelId"] = rng.choice(CHANNELS if rng.random() < 0.75 else SPECIAL_CHANNELS)
    if family == "post":
        data["postId"] = f"p{rng.randint(1, 10**6)}"
        data["targetId"] = rng.choice(["comm_books", "comm_games", "comm_after_dark", "u1"])
    elif family == "message":
        data["messageId"] = f"m{rng.randint(1, 10**6)}"
    elif action in ("Create", "Update"):
        if rng.random() < 0.8:
            data["displayName" if rng.random() < 0.7 else "name"] = rng.choice(CHANNEL_NAMES)
        data["type"] = rng.choice(["community", "community", "broadcast", "conversation"])
    if action in ("Flag", "Unflag") and rng.random() < 0.8:
        data["reason" if rng.random() < 0.7 else "flagReason"] = rng.choice(FLAG_REASONS)
    with_text = family in ("message", "post") and action in ("Create", "Update")
    kind, shape = "no text", "-"
    if with_text or rng.random() < 0.2:
        kind, text = make_text(rng)
        if rng.random() < 0.5:
            data["text"], shape = text, "data.text"
        else:
            data["data"], shape = {"text": text, "type": "text"}, "data.data.text"
    payload: dict[str, Any] = {"eventName": event, "data": data}
    actor = rng.choices(["known", "unknown", "none"], [85, 10, 5])[0]
    if actor == "known":
        user_id = f"u{rng.randrange(users)}"
        payload["actor"] = {"_id": f"id-{user_id}", "userId": user_id}
    elif actor == "unknown":
        payload["actor"] = {"_id": "id-x", "userId": f"ghost{rng.randint(1, 99)}"}
    return f"{kind} ({shape})", payload


def profanity_entry_points() -> list[tuple[Any, str]]:
    """Where profanity checks can be counted.

    better-profanity's shared instance, and the receiver's own engine when it has one
    (``receiver.profanity``: ``Matcher`` and ``StrictMatcher``, whose methods the
    compiler binds into the closures at load).
    """
    points: list[tuple[Any, str]] = [(profanity, "contains_profanity"), (profanity, "censor")]
    try:
        engine = importlib.import_module("receiver.profanity")
    except ImportError:
        return points
    for cls_name in ("Matcher", "StrictMatcher"):
        cls = getattr(engine, cls_name, None)
        if isinstance(cls, type):
            points += [(cls, name) for name in ("contains", "censor") if name in vars(cls)]
    return points


@contextmanager
def counting_profanity() -> Iterator[Counter[str]]:
    """Count calls of every profanity entry point (calls go through unchanged).

    Policies compiled inside the block bind the counting wrappers; load them there.
    """
    counts: Counter[str] = Counter()
    restore: list[tuple[Any, str, Any]] = []

    def counted(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counts[label] += 1
            return fn(*args, **kwargs)

        return wrapper

    for owner, name in profanity_entry_points():
        if isinstance(owner, type):  # a class: wrap the function, self comes first
            restore.append((owner, name, vars(owner)[name]))
            setattr(owner, name, counted(f"{owner.__name__}.{name}", vars(owner)[name]))
        else:  # better-profanity's instance: shadow the method with an attribute
            restore.append((owner, name, None))
            setattr(owner, name, counted(f"better_profanity.{name}", getattr(owner, name)))
    try:
        yield counts
    finally:
        for owner, name, original in reversed(restore):
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


def same(a: object, b: object) -> bool:
    assert isinstance(a, Decision) and isinstance(b, Decision)
    return a.summary() == b.summary() and a.response() == b.response()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payloads", type=int, default=600, help="corpus size (default 600)")
    parser.add_argument("--rounds", type=int, default=30, help="timed rounds of (a) (default 30)")
    parser.add_argument(
        "--budget", type=float, default=8.0, help="seconds to spend on (b) (default 8)"
    )
    parser.add_argument("--users", type=int, default=60, help="users in the directory")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--policies", type=Path, default=ROOT / "policies")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    print(header("bench/decide.py", payloads=args.payloads, rounds=args.rounds, seed=args.seed))

    rng = random.Random(args.seed)
    policyset = load_policies([args.policies])
    users = make_users(rng, args.users)
    lookup = users.get
    events = list(ev.SOCIALPLUS_EVENTS)
    kinds: list[str] = []
    payloads: list[dict[str, Any]] = []
    for n in range(args.payloads):
        kind, payload = make_payload(rng, events[n % len(events)], args.users)
        kinds.append(kind)
        payloads.append(payload)
    raws = [json.dumps(p) for p in payloads]

    flat: dict[str, EventTree] = {}

    def flat_tree(name: str) -> EventTree:
        tree = flat.get(name)
        if tree is None:
            tree = flat[name] = compile_tree(policyset.rules, name, index=False)
        return tree

    def decider(tree_of: Callable[[str], EventTree]) -> Callable[[int], Decision]:
        def decide(i: int) -> Decision:
            event = parse_event(payloads[i])
            return evaluate(tree_of(event.name), event, NOW, lookup)

        return decide

    cases = {
        "ref": json_reference(raws),
        "indexed": decider(policyset.tree),
        "flat": decider(flat_tree),
    }

    # Which payloads make a profanity call: decided once with a second copy of the
    # policies compiled while the counting wrappers are in place (the timed trees
    # above keep the plain methods). That pass also tells what (b) will cost.
    clean: list[int] = []
    with counting_profanity() as counts:
        counting = load_policies([args.policies])
        count_case = decider(counting.tree)
        pass_time = time.perf_counter()
        for i in range(len(payloads)):
            before = counts.total()
            count_case(i)
            if counts.total() == before:
                clean.append(i)
        pass_time = time.perf_counter() - pass_time
    calls = set(range(len(payloads))) - set(clean)
    print(
        f"policies: {len(policyset.rules)} rules in {len(policyset.policies)} policies; "
        f"corpus: {len(payloads)} payloads over {len(events)} events, {len(users)} users"
    )
    by_event = Counter(payloads[i]["eventName"] for i in calls)
    print(
        f"{len(calls)} payloads make profanity calls ("
        + ", ".join(f"{e} {n}" for e, n in sorted(by_event.items()))
        + f"); (a) the other {len(clean)}; calls: {dict(sorted(counts.items()))}"
    )

    a = measure(cases, clean, args.rounds, args.seed, warmup=1, keep=True)
    # (b): all payloads for as many rounds as fit in --budget seconds (one round of
    # the three cases costs about 2.2 classification passes); if one round does not
    # fit (slow profanity checks), a random sample of payloads for one round.
    per_round = 2.2 * pass_time
    rounds_b = max(1, min(args.rounds, int(args.budget / per_round)))
    size_b = min(len(payloads), max(50, int(len(payloads) * args.budget / per_round)))
    sample = random.Random(args.seed + 1).sample(range(len(payloads)), size_b)
    b = measure(cases, sample, rounds_b, args.seed + 2, warmup=1 if rounds_b > 1 else 0, keep=True)
    c = {name: result.only(calls) for name, result in b.items()}
    for results in (a, b):
        for i, decided in results["indexed"].outputs.items():
            if not same(decided, results["flat"].outputs[i]):
                print(f"error: the indexed and flat trees disagree on payload {i}: {raws[i]}")
                return 1
    outcomes = Counter(
        d.action + (" (modified)" if d.modified_by else "")
        for d in b["indexed"].outputs.values()
        if isinstance(d, Decision)
    )
    print(f"(b) sample decisions: {dict(sorted(outcomes.items()))}; indexed == flat for all")

    def show(title: str, results: dict[str, Result]) -> None:
        print()
        print(title)
        rows = [
            ("json loads+dumps (reference)", results["ref"]),
            ("decide, indexed trees", results["indexed"]),
            ("decide, flat trees (reference)", results["flat"]),
        ]
        print(table([(label, len(r.samples), r) for label, r in rows], results["ref"]))
        ratio = results["indexed"].median_us / results["flat"].median_us
        print(f"indexed/flat median ratio: {ratio:.2f}")

    show(f"(a) no profanity call: {len(clean)} payloads x {args.rounds} rounds", a)
    what = "all" if size_b == len(payloads) else f"random sample of {size_b}"
    show(f"(b) all payloads: {what} x {rounds_b} rounds", b)
    if c["indexed"].samples:
        n_calls = len(calls & set(sample))
        show(f"(b') of which making profanity calls: {n_calls} payloads x {rounds_b}", c)
    print()
    print(
        verdict(
            "(a) median decision, no profanity call",
            a["indexed"].median_us,
            TARGET_NO_PROFANITY_US,
            "µs",
        )
        + f"; p99 {a['indexed'].p99_us:.2f} µs"
    )
    print(
        f"info  (b) median decision, all payloads: {b['indexed'].median_us:.2f} µs; "
        f"p99 {b['indexed'].p99_us:.2f} µs (no target)"
    )
    print(f"total run time {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
