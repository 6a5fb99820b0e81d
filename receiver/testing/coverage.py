"""Rule and list-entry coverage of policy tests, read off the production trees.

**Rules.** A rule is covered when, in at least one case, it decided (a matching
``allow``/``deny`` ended evaluation), changed the data (``modify``), or matched in
shadow mode. This comes straight from the :class:`~receiver.runtime.decision.Decision` and
its trace. A rule that only failed at run time is not covered. Coverage is counted
per rule (the ``--fail-under`` number) and shown per event.

**List entries.** An entry of a named list is exercised when, in some case, the
engine ran a membership test against the list and the value tested was that entry:

- ``x in LIST`` / ``x not in LIST`` / ``LIST contains x``: the entries equal to the
  value of ``x`` (with the language's equality);
- ``contains_any(s, LIST)``: every phrase of the list that occurs in ``s`` (found
  with the production phrase matcher, so the same whole-word, any-case rules apply);
- ``any(LIST, cond)``, ``all(LIST, cond)``, ``count(LIST, cond)``: the entries for
  which ``cond`` was true.

Other uses of a list (``len(LIST)``, ``LIST[0]``, ``LIST + [...]``) exercise no entry,
and a test the engine never ran (a rule not reached, a short-circuited ``and``)
exercises nothing. The values come from the traced tree, the same closures
``receiver eval --explain`` runs: :class:`Instrument` wraps each compiled rule's
closures so that, while they run, the context's trace list also notes the state
(``it``, ``data``, ``actor``, ``user``) at each recorded sub-expression. The
closures themselves, and the decision, are untouched.
"""

from __future__ import annotations

import contextlib
import math
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from receiver.check.model import CheckedRule
from receiver.compile.tree import CompiledRule, EventTree, map_rules
from receiver.dsl import ast
from receiver.dsl.analysis import unwrap as _unwrap
from receiver.dsl.context import Context
from receiver.dsl.paths import text_of
from receiver.dsl.textfuncs import PhraseMatcher
from receiver.dsl.values import Timestamp, Value, equals, key
from receiver.runtime.decision import Decision
from receiver.runtime.policyset import PolicySet

LAMBDAS = ("any", "all", "count")


@dataclass(frozen=True, slots=True)
class Record:
    """A recorded sub-expression value and the state it was computed in."""

    node: object
    value: Value
    it: Value
    data: Value
    actor: Value
    user: Value
    decision_id: str


class _Recorder(list[tuple[object, Value]]):
    """Stands in for ``ctx.trace`` during one rule: a list that also keeps the state."""

    def __init__(self, ctx: Context, rule: CheckedRule, sink: list[Record]) -> None:
        super().__init__()
        self.ctx = ctx
        self.rule = rule
        self.sink = sink

    def append(self, item: tuple[object, Value]) -> None:
        ctx = self.ctx
        node, value = item
        self.sink.append(
            Record(node, value, ctx.it, ctx.data, ctx.actor, ctx.user, ctx.decision_id)
        )
        super().append(item)


class Instrument:
    """Instrumented copies of a policy set's traced trees, recording for one case at a time."""

    def __init__(self, policyset: PolicySet) -> None:
        self.policyset = policyset
        self._trees: dict[str, EventTree] = {}
        self._runs: list[tuple[CheckedRule, list[Record]]] | None = None

    def tree(self, event: str) -> EventTree:
        tree = self._trees.get(event)
        if tree is None:
            tree = self._trees[event] = self._instrument(self.policyset.traced_tree(event))
        return tree

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[tuple[CheckedRule, list[Record]]]]:
        """Collect, per rule evaluated, the records of the evaluations run inside."""
        runs: list[tuple[CheckedRule, list[Record]]] = []
        self._runs = runs
        try:
            yield runs
        finally:
            self._runs = None

    def _attach(self, ctx: Context, rule: CheckedRule) -> None:
        trace = ctx.trace
        if self._runs is None or trace is None:
            return
        if isinstance(trace, _Recorder) and trace.rule is rule:
            return
        sink: list[Record] = []
        self._runs.append((rule, sink))
        recorder = _Recorder(ctx, rule, sink)
        list.extend(recorder, trace)
        ctx.trace = recorder

    def _wrap(self, fn: Callable[[Context], Any], rule: CheckedRule) -> Callable[[Context], Any]:
        attach = self._attach

        def probe(ctx: Context) -> Any:
            attach(ctx, rule)
            return fn(ctx)

        return probe

    def _instrument(self, tree: EventTree) -> EventTree:
        def copy(compiled: CompiledRule) -> CompiledRule:
            rule = compiled.rule
            return replace(
                compiled,
                test=self._wrap(compiled.test, rule) if compiled.test is not None else None,
                message=(
                    self._wrap(compiled.message, rule) if compiled.message is not None else None
                ),
                sets=tuple((t, self._wrap(fn, rule)) for t, fn in compiled.sets),
            )

        return map_rules(tree, copy)


# -- which list entries a case exercised ------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Membership:
    listref: ast.ListRef
    operand: ast.Node
    kind: str  # "in" (key equality), "contains" (==), "phrase" (contains_any)


def _membership(node: object) -> _Membership | None:
    if isinstance(node, ast.Compare):
        right, left = _unwrap(node.right), _unwrap(node.left)
        if node.op in ("in", "not in") and isinstance(right, ast.ListRef):
            return _Membership(right, node.left, "in")
        if node.op == "contains" and isinstance(left, ast.ListRef):
            return _Membership(left, node.right, "contains")
    if isinstance(node, ast.Call) and node.func == "contains_any" and len(node.args) == 2:
        phrases = _unwrap(node.args[1])
        if isinstance(phrases, ast.ListRef):
            return _Membership(phrases, node.args[0], "phrase")
    return None


def _var_value(name: str, record: Record) -> Value:
    if name == "text":
        return text_of(record.data) if isinstance(record.data, dict) else None
    return {
        "data": record.data,
        "actor": record.actor,
        "user": record.user,
        "it": record.it,
        "decision_id": record.decision_id,
    }.get(name)


_NOT_FOUND: Any = object()


def _operand(records: list[Record], index: int, operand: ast.Node) -> Value:
    """The value the membership test at ``records[index]`` tested, or ``_NOT_FOUND``."""
    inner = _unwrap(operand)
    if isinstance(inner, ast.Var):
        return _var_value(inner.name, records[index])
    if isinstance(inner, ast.Literal):
        return inner.value
    if index > 0 and records[index - 1].node is operand:  # the operand is computed last
        return records[index - 1].value
    return _NOT_FOUND  # e.g. a memoized call answered from its slot: counted when computed


class _Matchers:
    def __init__(self) -> None:
        self._phrases: dict[str, PhraseMatcher] = {}

    def phrase(self, entry: object) -> PhraseMatcher:
        text = str(entry)
        matcher = self._phrases.get(text)
        if matcher is None:
            matcher = self._phrases[text] = PhraseMatcher([text])
        return matcher


def _entry_hit(kind: str, entry: object, value: Value, matchers: _Matchers) -> bool:
    """Whether the membership test of ``value`` was decided by ``entry`` (as the engine tests)."""
    if value is None:
        return False
    if kind == "phrase":
        return isinstance(value, str) and matchers.phrase(entry).search(value) is not None
    if kind == "contains" or type(value) is Timestamp:
        return equals(entry, value)
    try:
        return bool(key(value) == key(entry))
    except TypeError:
        return False


class ListProbe:
    """Finds the list entries exercised in recorded evaluations of one policy set."""

    def __init__(self, policyset: PolicySet) -> None:
        self._members: dict[int, _Membership | None] = {}
        self._lambda_conds: dict[int, tuple[str, ast.ListRef]] = {}
        self._matchers = _Matchers()
        for rule in policyset.rules:
            for expr in rule.expressions():
                for node in ast.walk(expr):
                    if (
                        isinstance(node, ast.Call)
                        and node.func in LAMBDAS
                        and len(node.args) == 2
                        and isinstance(_unwrap(node.args[0]), ast.ListRef)
                    ):
                        listref = _unwrap(node.args[0])
                        assert isinstance(listref, ast.ListRef)
                        self._lambda_conds[id(node.args[1])] = (node.func, listref)

    def _membership(self, node: object) -> _Membership | None:
        ident = id(node)
        if ident not in self._members:
            self._members[ident] = _membership(node)
        return self._members[ident]

    def exercised(self, runs: list[tuple[CheckedRule, list[Record]]]) -> set[tuple[str, str, int]]:
        """``(policy, list, entry index)`` of every entry a recorded test was decided by."""
        out: set[tuple[str, str, int]] = set()
        for rule, records in runs:
            policy = rule.policy.name
            for index, record in enumerate(records):
                found = self._membership(record.node)
                if found is not None:
                    value = _operand(records, index, found.operand)
                    if value is _NOT_FOUND:
                        continue
                    for position, entry in enumerate(found.listref.items):
                        if _entry_hit(found.kind, entry, value, self._matchers):
                            out.add((policy, found.listref.name, position))
                    continue
                cond = self._lambda_conds.get(id(record.node))
                if cond is not None and record.value is True:
                    for position, entry in enumerate(cond[1].items):
                        if _entry_hit("in", entry, record.it, self._matchers):
                            out.add((policy, cond[1].name, position))
        return out


# -- accumulating coverage over the cases of a run --------------------------------------


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
