"""Comparing two policy sets on the same records: which verdicts flip, and how each rule moved.

The edge of replay (``receiver diff``). Consumes two
:class:`~receiver.runtime.policyset.PolicySet` values (OLD and NEW) and records in time
order; replays the records through each with :func:`~receiver.replay.engine.replay`
(two independent counter backends, each fed in time order, since counters depend on
decisions through strikes) and produces a :class:`Comparison`:

- the flips, by kind (:data:`KINDS`): ``allow_to_deny``, ``deny_to_allow``,
  ``message_changed`` (deny on both sides with another message, or another brainCloud
  status or reason code), ``data_changed`` (allow on both sides with other data);
- per rule, on each side, how often it decided (``decision.rule``), modified the data
  (``modified_by``), matched in shadow (``shadow``) and failed (``errors``):
  :data:`MEASURES`, kept in one mapping per rule so that a measure is one more name;
- how OLD compares with what was recorded (the revisions the records name, and how
  many events OLD answers otherwise than the service did, fail-safe answers aside): a
  baseline that is not the version that was running shows there;
- the flips by the rules that gave the two answers (:func:`answered_by`: the deciding
  rule, else the modifying ones), so that "deny, message changed" names the rule whose
  message changed, and a flip names the rule that caused it;
- a deterministic sample of each kind of flip (:func:`_chosen`): the first event of each
  change of answering rules, the most frequent first, so that one busy rule does not
  hide the others, then more events in time order; each with both decisions and the
  counter values and user the NEW side read, to be explained
  (:mod:`receiver.replay.samples`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from receiver.counters.memory import MemoryBackend
from receiver.observe.records import Gap, Record, rotated_out
from receiver.replay.answers import KINDS, Kind, answer_view, change
from receiver.replay.engine import ReplayStats, replay
from receiver.runtime.decide import Decided
from receiver.runtime.decision import Decision
from receiver.runtime.inputs import UserLookup
from receiver.runtime.policyset import PolicySet

# ``enforced``: a rollout rule that matched inside its share (outside it, it counts as
# ``shadow``), so that two rollout levels of a rule compare rule by rule.
MEASURES: Final = ("decided", "modified", "shadow", "errors", "enforced")
PROGRESS_STEP: Final = 256  # events between two progress updates


def flip_kind(old: Decision, new: Decision) -> Kind | None:
    """How the answer changed from ``old`` to ``new`` (None: the platform sees the same)."""
    return change(answer_view(old), answer_view(new))


def answers_as_recorded(recorded: dict[str, Any], decision: Decision) -> bool:
    """Whether ``decision`` gives the platform the answer recorded with the event (the
    data is compared when the record holds it: decision-log lines do not)."""
    return change(recorded, answer_view(decision)) is None


def rule_hits(decision: Decision) -> dict[str, list[str]]:
    """The rules a decision counts for each measure."""
    return {
        "decided": [decision.rule] if decision.rule else [],
        "modified": list(decision.modified_by),
        "shadow": [s.rule for s in decision.shadow],
        "errors": sorted({e.rule for e in decision.errors}),
        "enforced": [r.rule for r in decision.rollouts if r.enforced],
    }


@dataclass(slots=True)
class RuleRow:
    """One rule's counts on each side (measure -> count)."""

    rule: str
    old: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MEASURES, 0))
    new: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MEASURES, 0))

    def delta(self, measure: str) -> int:
        return self.new[measure] - self.old[measure]

    @property
    def deltas(self) -> dict[str, int]:
        return {m: self.delta(m) for m in MEASURES}

    @property
    def change(self) -> int:
        """How much the rule moved: the sum of its measures' absolute deltas."""
        return sum(abs(self.delta(m)) for m in MEASURES)


@dataclass(slots=True)
class Sample:
    """One event whose answer flipped, with what both sides decided."""

    kind: Kind
    record: Record
    old: Decision
    new: Decided  # the counter values and user it read, to explain it without counting


@dataclass(slots=True)
class Comparison:
    events: int = 0
    first_time: float | None = None
    last_time: float | None = None
    flips: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    rules: dict[str, RuleRow] = field(default_factory=dict)
    samples: dict[str, list[Sample]] = field(default_factory=lambda: {k: [] for k in KINDS})
    by_event: dict[str, dict[str, int]] = field(default_factory=dict)  # event -> kind -> n
    # (kind, OLD's answering rule, NEW's answering rule) -> flips; see answered_by()
    by_rule: dict[tuple[str, str, str], int] = field(default_factory=dict)
    recorded_revisions: dict[str, int] = field(default_factory=dict)  # revision -> records
    recorded_degraded: int = 0  # recorded answers that were fail-safe: not comparable
    recorded_differs: int = 0  # OLD's answer is not the recorded one (not degraded)
    recorded_sampled: int = 0  # records made under --record-sample below 1
    recorded_sample: float = 1.0  # the smallest of their rates
    rotated_out: list[Gap] = field(default_factory=list)  # writers whose first files are gone
    old_stats: ReplayStats = field(default_factory=ReplayStats)
    new_stats: ReplayStats = field(default_factory=ReplayStats)

    @property
    def total_flips(self) -> int:
        return sum(self.flips.values())

    def sorted_rules(self) -> list[RuleRow]:
        """Every rule of either side, the ones that moved most first."""
        return sorted(self.rules.values(), key=lambda r: (-r.change, r.rule))

    def rule_deltas(self) -> dict[str, dict[str, int]]:
        return {row.rule: row.deltas for row in self.rules.values()}

    def _count(self, decision: Decision, side: str) -> None:
        for measure, rules in rule_hits(decision).items():
            for rule in rules:
                row = self.rules.get(rule)
                if row is None:
                    row = self.rules[rule] = RuleRow(rule)
                counts: dict[str, int] = getattr(row, side)
                counts[measure] += 1


def answered_by(decision: Decision) -> str:
    """The rule(s) behind an answer: the deciding rule, else the rules that modified the
    data, else ``(no rule)`` (an allow nothing decided or changed)."""
    if decision.rule is not None:
        return decision.rule
    if decision.modified_by:
        return ", ".join(decision.modified_by)
    return "(no rule)"


def compare(
    old: PolicySet,
    new: PolicySet,
    records: Sequence[Record],
    *,
    users: UserLookup | None = None,
    old_counters: MemoryBackend | None = None,
    new_counters: MemoryBackend | None = None,
    samples: int = 3,
    advance: Callable[[int], Any] | None = None,
) -> Comparison:
    """Replay ``records`` (time order) through ``old`` and ``new``; see the module docstring.

    ``samples``: how many events to keep per kind of flip (the first ones in time order);
    ``advance(n)``: called as events are done (a progress bar).
    """
    result = Comparison()
    for rule in (*old.rules, *new.rules):  # a rule that never counts is news too
        result.rules.setdefault(rule.qualified_id, RuleRow(rule.qualified_id))
    olds = replay(old, records, users=users, counters=old_counters, stats=result.old_stats)
    news = replay(new, records, users=users, counters=new_counters, stats=result.new_stats)
    pending = 0
    firsts: dict[tuple[str, str, str], Sample] = {}  # the first event of each rule change
    for before, after in zip(olds, news, strict=True):
        record = before.record
        result.events += 1
        if result.first_time is None:
            result.first_time = record.time
        result.last_time = record.time
        old_decision, new_decision = before.decided.decision, after.decided.decision
        revision = record.revision or "unknown"
        result.recorded_revisions[revision] = result.recorded_revisions.get(revision, 0) + 1
        if record.sample < 1:
            result.recorded_sampled += 1
            result.recorded_sample = min(result.recorded_sample, record.sample)
        if record.degraded:
            result.recorded_degraded += 1
        elif not answers_as_recorded(record.decision, old_decision):
            result.recorded_differs += 1
        result._count(old_decision, "old")
        result._count(new_decision, "new")
        kind = flip_kind(old_decision, new_decision)
        if kind is not None:
            result.flips[kind] += 1
            per_event = result.by_event.setdefault(record.event.name, dict.fromkeys(KINDS, 0))
            per_event[kind] += 1
            pair = (kind, answered_by(old_decision), answered_by(new_decision))
            count = result.by_rule.get(pair, 0)
            result.by_rule[pair] = count + 1
            kept = result.samples[kind]
            first_of_pair = count == 0 and samples > 0
            if len(kept) < samples or first_of_pair:
                sample = Sample(kind, record, old_decision, after.decided)
                if len(kept) < samples:
                    kept.append(sample)
                if first_of_pair:
                    firsts[pair] = sample
        pending += 1
        if advance is not None and pending == PROGRESS_STEP:
            advance(pending)
            pending = 0
    if advance is not None and pending:
        advance(pending)
    result.rotated_out = rotated_out(records)
    for kind in KINDS:
        result.samples[kind] = _chosen(kind, result.samples[kind], firsts, result.by_rule, samples)
    return result


def _chosen(
    kind: str,
    earliest: list[Sample],
    firsts: dict[tuple[str, str, str], Sample],
    counts: dict[tuple[str, str, str], int],
    samples: int,
) -> list[Sample]:
    """Up to ``samples`` events of one kind of flip, in time order: the first event of each
    change of answering rules (OLD's rule, NEW's rule), the most frequent changes first,
    then the earliest events (``earliest``: the first ``samples`` in time order)."""
    pairs = sorted((p for p in firsts if p[0] == kind), key=lambda p: (-counts[p], p))
    chosen = [firsts[p] for p in pairs][:samples]
    taken = {id(s.record) for s in chosen}
    for sample in earliest:
        if len(chosen) >= samples:
            break
        if id(sample.record) not in taken:
            chosen.append(sample)
            taken.add(id(sample.record))
    return sorted(chosen, key=lambda s: s.record.time)
