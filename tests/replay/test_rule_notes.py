"""How a diff report says a rule is written on each side (report.py: ``written`` and
``rule_note``): new and removed rules, rollout levels, modes, expiry and the fields whose
text changed, so a reader sees why a rule's counts moved."""

from __future__ import annotations

from typing import Any

import pytest

from receiver.replay.report import rule_note, shown_measures, unmoved_changes, written_rules
from receiver.runtime.policyset import load_sources

BASE = """\
policy: p
rules:
  - id: r
    events: [message.shouldCreate]
    when: text contains "spam"
    action: deny
    message: "no spam"
"""


def row(old: str | None, new: str | None) -> dict[str, Any]:
    """A report row of rule p/r between two texts of the policy (None: no such rule)."""
    sides = {}
    for name, text in (("old", old), ("new", new)):
        rules = written_rules(load_sources([("p.yaml", text)])) if text is not None else {}
        sides[name] = rules.get("p/r")
    return {"rule": "p/r", "written": sides}


@pytest.mark.parametrize(
    ("new", "note"),
    [
        (BASE, ""),
        (BASE + "    rollout: 20%\n", "rollout 100% -> 20%"),
        (BASE + "    mode: shadow\n", "mode enforce -> shadow"),
        (BASE + "    enabled: false\n", "enabled true -> false"),
        (BASE.replace("action: deny", "action: allow"), "action deny -> allow; changed: message"),
        (BASE.replace('"spam"', '"scam"'), "changed: when"),
        (BASE.replace("no spam", "no scams"), "changed: message"),
        (
            BASE.replace("[message.shouldCreate]", "[message.shouldCreate, post.shouldCreate]"),
            "changed: events",
        ),
        (BASE + "    expires: 2027-01-31T00:00:00Z\n", "expires 2027-01-31T00:00:00Z"),
    ],
)
def test_a_rule_written_otherwise_says_how(new: str, note: str) -> None:
    if "action: allow" in new:
        new = new.replace('    message: "no spam"\n', "")
    assert rule_note(row(BASE, new)) == note


def test_a_rule_on_one_side_only_is_new_or_removed_with_its_rollout() -> None:
    assert rule_note(row(None, BASE)) == "new rule"
    assert rule_note(row(None, BASE + "    rollout: 5%\n")) == "new rule, rollout 5%"
    assert rule_note(row(BASE, None)) == "removed"


def test_the_rollout_of_a_rule_shows_even_when_it_did_not_change() -> None:
    level = BASE + "    rollout: 12.5%\n"
    assert rule_note(row(level, level)) == "rollout 12.5%"
    assert rule_note(row(level, BASE + "    rollout: 50%\n")) == "rollout 12.5% -> 50%"


def test_enforced_is_shown_when_a_rollout_rule_is_in_the_report() -> None:
    plain, rolling = row(BASE, BASE), row(BASE, BASE + "    rollout: 20%\n")
    for r in (plain, rolling):
        r["old"] = r["new"] = {"decided": 0, "enforced": 0}
    assert "enforced" not in shown_measures([plain])
    assert "enforced" in shown_measures([plain, rolling])


def test_rules_written_otherwise_whose_counts_did_not_move_are_listed_apart() -> None:
    still = {"decided": 3}
    reworded = row(BASE, BASE.replace("no spam", "no spam, please"))
    same = row(BASE, BASE)
    moved = row(BASE, BASE.replace('"spam"', '"scam"'))
    for r, delta in ((reworded, 0), (same, 0), (moved, -3)):
        r["old"], r["new"], r["delta"] = still, still, {"decided": delta}
    assert unmoved_changes([reworded, same, moved]) == [reworded]
