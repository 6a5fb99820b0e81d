"""Tracing an evaluation for explanations: every rule in order, what it did, its values.

Stage 4 (run). Consumed by the evaluation loop (:mod:`receiver.runtime.evaluator`),
which calls a :class:`Tracer` at each rule when one is given; produces the
:class:`~receiver.runtime.decision.TraceStep` list of a decision (``--explain``, the
policy test runner's explanations and coverage). The tracer never decides anything:
it watches the one loop decide with the tree's own closures.
"""

from __future__ import annotations

import contextlib

from receiver.check.model import Target
from receiver.compile.tree import CompiledRule, EventTree, Gate
from receiver.dsl import ast
from receiver.dsl.context import MISSING, Context
from receiver.dsl.paths import lookup_path
from receiver.dsl.values import Value, show
from receiver.runtime.decision import TraceStep
from receiver.text.source import Span


class Tracer:
    """Records one evaluation rule by rule, for explanations (``--explain``, policy tests).

    The evaluation decides with its own tree's closures; the tracer only watches. For
    each rule the loop reaches it records the outcome (matched, no match, error) and,
    to show the values of the rule's sub-expressions, runs the rule's test again from
    ``display``: a tree of the same rules whose closures record their values
    (``PolicySet.traced_tree``, or a copy instrumented for coverage). Those runs share a
    context of their own (the display tree numbers its memo slots its own way) that
    follows the evaluation's data, user and counters, with the display tree's memo (a
    shared call already computed shows its value, not its insides again); what they
    compute is only shown. A matching deny's message and a modify's changes are run
    there too, so that what they compute is recorded as well (list-entry coverage).

    Rules a switch skipped for the value of its field are recorded as skipped, in rule
    order, when the loop reaches a later rule or the end (nothing within a switch
    changes its field, so the value read then is the value the switch read). A tracer
    serves one evaluation.
    """

    __slots__ = ("_ctx", "_data_slots", "_display", "_memo_size", "_next", "_order", "_rules",
                 "trace")  # fmt: skip

    def __init__(self, display: EventTree) -> None:
        self._display = {id(c.rule): c for c in display.rules}
        self._memo_size = display.memo_size
        self._data_slots = display.data_slots
        self.trace: list[TraceStep] = []
        self._rules: tuple[tuple[CompiledRule, Gate | None], ...] = ()
        self._order: dict[int, int] = {}
        self._next = 0
        self._ctx: Context | None = None

    def start(self, tree: EventTree) -> list[TraceStep]:
        """Begin recording an evaluation of ``tree``; the list the steps go into."""
        if self._rules:
            raise RuntimeError("a tracer records one evaluation")
        self._rules = tuple(tree.gate_of())
        self._order = {id(c.rule): i for i, (c, _) in enumerate(self._rules)}
        return self.trace

    def enter(self, compiled: CompiledRule, ctx: Context) -> None:
        """The loop reached ``compiled``: record the rules skipped before it, and bring the
        display context up to the evaluation's current state."""
        index = self._order[id(compiled.rule)]
        self._skipped(index, ctx)
        self._next = index + 1
        shown = self._ctx
        if shown is None:
            shown = self._ctx = Context(ctx.event, ctx.data, ctx.actor, ctx.now,
                                        self._memo_size, decision_id=ctx.decision_id)  # fmt: skip
        elif shown.data is not ctx.data:  # a modify applied: what was computed on data is stale
            shown.data = ctx.data
            memo = shown.memo
            for slot in self._data_slots:
                memo[slot] = MISSING
        shown.user, shown.user_loaded = ctx.user, ctx.user_loaded
        shown.user_failed = ctx.user_failed
        shown.counters, shown.counters_unavailable = ctx.counters, ctx.counters_unavailable
        shown.trace = []

    def finish(self, ctx: Context) -> None:
        """Evaluation went past the last rule: the rules not reached were skipped."""
        self._skipped(len(self._rules), ctx)

    def _skipped(self, until: int, ctx: Context) -> None:
        for compiled, gate in self._rules[self._next : until]:
            note = ""
            if gate is not None:
                value = lookup_path(ctx.data if gate.root == "data" else ctx.actor, gate.keys)
                note = f"{gate.field} is {_show(value)}"
            self.trace.append(_step(compiled, "skipped", note=note))

    def record(self, compiled: CompiledRule, outcome: str, note: str = "") -> None:
        """The outcome of the rule just tested; the values its display closures show."""
        values, spans = self._values(compiled)
        self.trace.append(_step(compiled, outcome, values, note, spans=spans))

    def amend(self, compiled: CompiledRule, outcome: str, note: str) -> None:
        """Replace the last step's outcome and note (what applying a modify did)."""
        last = self.trace[-1]
        self.trace[-1] = _step(compiled, outcome, last.values, note, last.rollout, spans=last.spans)

    def effects(self, compiled: CompiledRule) -> None:
        """Run the display message or changes of a rule that matched (values unused)."""
        display = self._display.get(id(compiled.rule))
        ctx = self._ctx
        if display is None or ctx is None:
            return
        fns = [fn for _, fn in display.sets]
        if compiled.rule.action == "deny" and display.message is not None:
            fns.append(display.message)
        for fn in fns:
            try:
                fn(ctx)
            except Exception:  # the evaluation's own closures report failures
                continue

    def _values(
        self, compiled: CompiledRule
    ) -> tuple[tuple[tuple[str, Value], ...], tuple[Span, ...]]:
        display = self._display.get(id(compiled.rule))
        ctx = self._ctx
        if display is None or ctx is None or display.test is None:
            return (), ()
        with contextlib.suppress(Exception):  # the evaluation's own test reports failures
            display.test(ctx)
        return _trace_values(ctx)

    def rolled_out(self, compiled: CompiledRule, text: str) -> None:
        """Which way the rollout rule just recorded went (shown on its line)."""
        last = self.trace[-1]
        self.trace[-1] = TraceStep(
            last.rule,
            last.action,
            last.mode,
            last.outcome,
            last.values,
            last.note,
            text,
            last.spans,
        )

    def changed(self, compiled: CompiledRule, values: list[tuple[Target, Value]]) -> None:
        """A modify rule's changes were applied: say which."""
        changes = ", ".join(f"{t} = {_show(v)}" for t, v in values)
        changes += "".join(f", unset {t}" for t in compiled.unsets)
        self.amend(compiled, "matched", f"changed {changes}")


def _trace_values(ctx: Context) -> tuple[tuple[tuple[str, Value], ...], tuple[Span, ...]]:
    """The recorded values (source text and value), each once, and where each was written."""
    if not ctx.trace:
        return (), ()
    seen: set[tuple[int, int, int, str]] = set()
    out: list[tuple[str, Value]] = []
    spans: list[Span] = []
    for node, value in ctx.trace:
        assert isinstance(node, ast.Node)
        span = node.span
        text = " ".join(span.text.split())
        ident = (id(span.source), span.line, span.column, text)
        if ident in seen:
            continue
        seen.add(ident)
        out.append((text, value))
        spans.append(span)
    return tuple(out), tuple(spans)


def _step(
    compiled: CompiledRule,
    outcome: str,
    values: tuple[tuple[str, Value], ...] = (),
    note: str = "",
    rollout: str = "",
    *,
    spans: tuple[Span, ...] = (),
) -> TraceStep:
    rule = compiled.rule
    return TraceStep(
        rule.qualified_id, rule.action, rule.mode, outcome, values, note, rollout, spans
    )


def _show(value: Value) -> str:
    text = show(value)
    return text if len(text) <= 120 else text[:117] + "..."
