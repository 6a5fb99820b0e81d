"""Generate a large, realistic policy directory for benchmarks (used by bench/generated.py).

``write_policies(directory, rules, seed)`` writes several policy files with
priorities. Most rules are gated on a channel (``data.channelId == "ch_K" and
COND``, sometimes ``data.channelId in [...]``) where COND is a length limit, a
phrase list (``contains_any``), an RE2 pattern (``matches``) or a user role;
their ``events`` are one name, a few names or a glob (``message.*``,
``*.shouldCreate``). A per-user policy gates rules on ``actor.userId``. A few
rules are global (no gate), a few are ``modify`` rules and a few run in
``shadow`` mode. Within a policy, global rules come first, as people group them
(``scatter=True`` shuffles them among the gated ones, the index's worst case).

It also describes the generated world (channels, users, phrase words) so that
payloads can hit the rules.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from receiver.dsl import events as ev

EVENTS = ev.SOCIALPLUS_EVENTS
GLOBS = ("message.*", "post.*", "channel.*", "*.shouldCreate", "*.shouldUpdate", "*.shouldFlag")
ROLES = ("member", "moderator", "admin", "vip", "trial", "bot")
SYLLABLES = ("ka", "zu", "mo", "ri", "te", "lo", "pa", "vi", "ne", "su", "da", "xo")
# name, priority, share of the gated rules
POLICIES = (
    ("baseline", 100, 0.05),
    ("channels-a", 60, 0.22),
    ("channels-b", 50, 0.22),
    ("channels-c", 50, 0.20),
    ("per-user", 40, 0.06),
    ("channels-d", 20, 0.15),
    ("experiments", 0, 0.10),
)


@dataclass
class World:
    """What the generated rules refer to, for generating payloads that hit them."""

    channels: list[str]
    users: list[str]
    words: list[str]
    roles: tuple[str, ...] = ROLES
    files: list[Path] = field(default_factory=list)
    rules: int = 0


def _word(rng: random.Random) -> str:
    return "".join(rng.choices(SYLLABLES, k=rng.randint(2, 4)))


def _quote(expr: str) -> str:
    """A YAML single-quoted scalar (backslashes stay literal)."""
    return "'" + expr.replace("'", "''") + "'"


def _events(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.6:
        return rng.choice(EVENTS)
    if roll < 0.85:
        return "[" + ", ".join(rng.sample(EVENTS, rng.randint(2, 3))) + "]"
    return f'"{rng.choice(GLOBS)}"'


def _condition(rng: random.Random, lists: list[str]) -> str:
    roll = rng.random()
    if roll < 0.3:
        return f"len(text) > {rng.choice((280, 500, 1000, 2000, 4000))}"
    if roll < 0.55:
        return f"contains_any(text, {rng.choice(lists)})"
    if roll < 0.75:
        stem = "".join(rng.choices(SYLLABLES, k=2))
        return f'text matches "(?i)\\\\b{stem}[a-z]*[0-9]{{2,}}"'
    if roll < 0.9:
        return f'user.role == "{rng.choice(("trial", "bot", "vip"))}"'
    return f"caps_ratio(text) > 0.{rng.randint(6, 9)} and len(text) > 10"


def write_policies(
    directory: Path, rules: int, seed: int = 1, scatter: bool = False, global_share: float = 0.01
) -> World:
    rng = random.Random(seed)
    channels = [f"ch_{k}" for k in range(max(10, rules // 20))]
    users = [f"u{k}" for k in range(max(10, rules // 50))]
    words = sorted({_word(rng) for _ in range(400)})
    world = World(channels, users, words)
    directory.mkdir(parents=True, exist_ok=True)
    n_global = max(4, int(rules * global_share))
    gated_total = rules - n_global
    counts = [int(gated_total * share) for _, _, share in POLICIES]
    counts[1] += gated_total - sum(counts)
    for number, ((name, priority, _), count) in enumerate(zip(POLICIES, counts, strict=True)):
        lists = {f"words_{k}": rng.sample(words, rng.randint(3, 8)) for k in range(12)}
        names = list(lists)
        body: list[list[str]] = []
        globals_here = n_global // len(POLICIES) + (1 if number < n_global % len(POLICIES) else 0)
        for k in range(globals_here):
            body.append(
                [
                    f"  - id: global-{k}",
                    f"    events: {_events(rng)}",
                    f"    when: {_quote(_condition(rng, names))}",
                    "    action: deny",
                ]
            )
        gated: list[list[str]] = []
        for k in range(count):
            if name == "per-user":
                gate = f'actor.userId == "{rng.choice(users)}"'
            elif rng.random() < 0.1:
                picked = ", ".join(f'"{c}"' for c in rng.sample(channels, rng.randint(2, 4)))
                gate = f"data.channelId in [{picked}]"
            else:
                gate = f'data.channelId == "{rng.choice(channels)}"'
            lines = [
                f"  - id: r{k}",
                f"    events: {_events(rng)}",
                f"    when: {_quote(gate + ' and ' + _condition(rng, names))}",
            ]
            roll = rng.random()
            if roll < 0.03:
                lines.append("    action: modify")
                lines.append("    set:")
                if rng.random() < 0.5:
                    lines.append("      text: lower(text)")
                else:
                    lines.append("      data.reviewed: true")
            elif roll < 0.06:
                lines.append("    action: allow")
            else:
                lines.append("    action: deny")
                if rng.random() < 0.5:
                    lines.append(f'    message: "Not here ({k}): {{len(text)}} characters."')
            if rng.random() < 0.03:
                lines.append("    mode: shadow")
            gated.append(lines)
        if scatter:
            body += gated
            rng.shuffle(body)
        else:
            body += gated
        head = [
            f"policy: {name}",
            f"priority: {priority}",
            "lists:",
            *(f"  {n}: [{', '.join(items)}]" for n, items in lists.items()),
            "rules:",
        ]
        path = directory / f"{number:02d}-{name}.yaml"
        path.write_text("\n".join(head + [line for rule in body for line in rule]) + "\n")
        world.files.append(path)
        world.rules += len(body)
    return world
