"""Rule and list-entry coverage of policy tests: counted over a run, rendered as text or JSON.

Stage: testing (policy tests), coverage. Consumes, per case, the event, its
:class:`~receiver.runtime.decision.Decision` and the list entries it exercised
(:mod:`receiver.testing.listprobe`, from the records of :mod:`receiver.testing.instrument`),
and produces per policy folder a :class:`SetCoverage`, rendered by :func:`render_text`
(``receiver test --coverage``) and :func:`to_json`.

**Rules.** A rule is covered when, in at least one case, it decided (a matching
``allow``/``deny`` ended evaluation), changed the data (``modify``), or matched in
shadow mode. This comes straight from the :class:`~receiver.runtime.decision.Decision` and
its trace. A rule that only failed at run time is not covered. Coverage is counted
per rule (the ``--fail-under`` number) and shown per event.

**List entries.** An entry counts as exercised when a membership test against its list
was decided by it (see :mod:`receiver.testing.listprobe` for exactly which tests count).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from receiver.check.model import CheckedRule
from receiver.runtime.decision import Decision
from receiver.runtime.policyset import PolicySet


@dataclass(slots=True)
class RuleHits:
    decided: int = 0
    modified: int = 0
    shadow: int = 0
    matched: int = 0  # cases in which the rule matched at all (any of the above, or more)

    def add(self, kind: str) -> None:
        if kind == "decided":
            self.decided += 1
        elif kind == "modified":
            self.modified += 1
        elif kind == "shadow":
            self.shadow += 1

    def describe(self) -> str:
        parts = [
            f"{name} {count}"
            for name, count in (
                ("decided", self.decided),
                ("modified", self.modified),
                ("shadow", self.shadow),
            )
            if count
        ]
        other = self.matched - self.decided - self.modified - self.shadow
        if other > 0:
            parts.append(f"matched {other}")
        return ", ".join(parts) if parts else "never"

    def to_json(self) -> dict[str, int]:
        return {
            "matched": self.matched,
            "decided": self.decided,
            "modified": self.modified,
            "shadow": self.shadow,
        }


def rule_hits(decision: Decision) -> dict[str, str]:
    """The rules a decision shows matching, with how: decided, modified, shadow or matched."""
    hits: dict[str, str] = {}
    for step in decision.trace or ():
        if step.outcome == "matched":
            hits[step.rule] = "matched"
    for rule in decision.modified_by:
        hits[rule] = "modified"
    for shadow in decision.shadow:
        hits[shadow.rule] = "shadow"
    if decision.rule is not None and not decision.by_error:
        hits[decision.rule] = "decided"
    return hits


@dataclass(slots=True)
class SetCoverage:
    """Coverage of one policy set (one policy folder) by the cases run against it."""

    label: str
    policyset: PolicySet
    cases: int = 0
    events: Counter[str] = field(default_factory=Counter)
    by_event: dict[str, dict[str, RuleHits]] = field(default_factory=dict)
    entries: Counter[tuple[str, str, int]] = field(default_factory=Counter)

    def add(self, event: str, decision: Decision, exercised: set[tuple[str, str, int]]) -> None:
        self.cases += 1
        self.events[event] += 1
        hits = self.by_event.setdefault(event, {})
        for rule, kind in rule_hits(decision).items():
            stats = hits.setdefault(rule, RuleHits())
            stats.matched += 1
            stats.add(kind)
        self.entries.update(exercised)

    # -- views --------------------------------------------------------------------------

    @property
    def rules(self) -> list[CheckedRule]:
        return [r for r in self.policyset.rules if r.doc.enabled]

    def totals(self) -> dict[str, RuleHits]:
        out = {r.qualified_id: RuleHits() for r in self.rules}
        for hits in self.by_event.values():
            for rule, stats in hits.items():
                total = out.setdefault(rule, RuleHits())
                total.matched += stats.matched
                total.decided += stats.decided
                total.modified += stats.modified
                total.shadow += stats.shadow
        return out

    def covered(self) -> tuple[int, int]:
        totals = self.totals()
        ids = [r.qualified_id for r in self.rules]
        return sum(1 for i in ids if totals[i].matched), len(ids)

    def event_names(self) -> list[str]:
        names = {name for name, tree in self.policyset.trees.items() if tree.rules}
        names.update(self.events)
        return sorted(names, key=lambda n: (n.split(".")[0], n))

    def event_rules(self, event: str) -> tuple[list[str], list[str]]:
        """The rule ids of an event's tree, and those dropped from it (never true there)."""
        tree = self.policyset.tree(event)
        return [c.rule.qualified_id for c in tree.rules], [r.qualified_id for r in tree.dropped]

    def lists(self) -> list[tuple[str, str, tuple[object, ...], list[int]]]:
        """``(policy, list, entries, times each entry was exercised)``, in file order."""
        out = []
        for policy in self.policyset.policies:
            for name, items in policy.lists.items():
                counts = [self.entries[(policy.name, name, i)] for i in range(len(items))]
                out.append((policy.name, name, items, counts))
        return out


def _count(n: int, word: str, plural: str = "") -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


def percent(covered: int, total: int) -> float:
    return 100.0 if total == 0 else 100.0 * covered / total


def shown_percent(value: float) -> str:
    """One decimal, rounded down: 99.96% shows as 99.9%, never as a misleading 100.0%."""
    return f"{math.floor(value * 10) / 10:.1f}%"


def render_entry(entry: object) -> str:
    return str(entry) if isinstance(entry, str) else repr(entry)


def render_text(sets: list[SetCoverage]) -> str:
    lines: list[str] = []
    for cov in sets:
        covered, total = cov.covered()
        policies = len(cov.policyset.policies)
        lines.append(
            f"coverage of {cov.label} ({_count(policies, 'policy', 'policies')}, "
            f"{_count(total, 'rule')}, {_count(cov.cases, 'case')})"
        )
        lines.append(
            f"  rules: {covered} of {total} decided or matched in at least one case "
            f"({shown_percent(percent(covered, total))})"
        )
        totals = cov.totals()
        never = [r.qualified_id for r in cov.rules if not totals[r.qualified_id].matched]
        if never:
            lines.append("  never matched in any case:")
            lines.extend(f"    {rule}" for rule in never)
        lines.append("")
        lines.append("  by event (ok: the rule decided or matched in a case of that event):")
        for event in cov.event_names():
            rules, dropped = cov.event_rules(event)
            hits = cov.by_event.get(event, {})
            hit = sum(1 for r in rules if r in hits)
            cases = cov.events[event]
            tally = f"{hit} of {_count(len(rules), 'rule')}" if rules else "no rules apply"
            lines.append(f"    {event}: {tally}, {_count(cases, 'case')}")
            width = max((len(r) for r in rules), default=0)
            for rule in rules:
                stats = hits.get(rule)
                mark = "ok   " if stats is not None else "never"
                detail = stats.describe() if stats is not None else ""
                lines.append(f"      {mark}  {rule:<{width}}  {detail}".rstrip())
            for rule in dropped:
                lines.append(
                    f"      -      {rule}  (dropped: its condition is false for this event)"
                )
        entries = cov.lists()
        if entries:
            hit = sum(1 for *_, counts in entries for c in counts if c)
            count = sum(len(counts) for *_, counts in entries)
            lines.append("")
            lines.append(
                f"  list entries: {hit} of {count} exercised by a membership test "
                f"({shown_percent(percent(hit, count))})"
            )
            for policy, name, items, counts in entries:
                done = sum(1 for c in counts if c)
                line = f"    {policy}/{name}: {done} of {len(items)}"
                missing = [render_entry(e) for e, c in zip(items, counts, strict=True) if not c]
                if missing:
                    line += "; never: " + ", ".join(missing)
                lines.append(line)
        lines.append("")
    covered = sum(c.covered()[0] for c in sets)
    total = sum(c.covered()[1] for c in sets)
    if len(sets) > 1:
        lines.append(
            f"rule coverage over {len(sets)} policy folders: {covered} of {total} "
            f"({shown_percent(percent(covered, total))})"
        )
    return "\n".join(lines).rstrip("\n")


def total_percent(sets: list[SetCoverage]) -> float:
    covered = sum(c.covered()[0] for c in sets)
    total = sum(c.covered()[1] for c in sets)
    return percent(covered, total)


def to_json(sets: list[SetCoverage]) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    for cov in sets:
        covered, total = cov.covered()
        totals = cov.totals()
        events = []
        for event in cov.event_names():
            rules, dropped = cov.event_rules(event)
            hits = cov.by_event.get(event, {})
            events.append(
                {
                    "event": event,
                    "cases": cov.events[event],
                    "rules": [{"rule": r, **hits.get(r, RuleHits()).to_json()} for r in rules],
                    "dropped": dropped,
                }
            )
        lists: list[dict[str, Any]] = [
            {
                "policy": policy,
                "list": name,
                "entries": [
                    {"value": entry, "exercised": count}
                    for entry, count in zip(items, counts, strict=True)
                ],
            }
            for policy, name, items, counts in cov.lists()
        ]
        entry_total = sum(len(counts) for *_, counts in cov.lists())
        entry_hit = sum(1 for *_, counts in cov.lists() for c in counts if c)
        out.append(
            {
                "policies": cov.label,
                "cases": cov.cases,
                "rules": {
                    "covered": covered,
                    "total": total,
                    "percent": round(percent(covered, total), 2),
                    "items": [
                        {"rule": r.qualified_id, **totals[r.qualified_id].to_json()}
                        for r in cov.rules
                    ],
                },
                "events": events,
                "lists": {
                    "exercised": entry_hit,
                    "total": entry_total,
                    "percent": round(percent(entry_hit, entry_total), 2),
                    "items": lists,
                },
            }
        )
    covered = sum(c.covered()[0] for c in sets)
    total = sum(c.covered()[1] for c in sets)
    return {
        "sets": out,
        "rules": {
            "covered": covered,
            "total": total,
            "percent": round(percent(covered, total), 2),
        },
    }
