"""Instrumented policy trees: what each sub-expression computed, in which state.

Stage: testing (policy tests), coverage. Consumes a :class:`~receiver.runtime.policyset.PolicySet`
and produces copies of its traced per-event trees (:class:`Instrument`) whose rule
closures, while a case runs inside :meth:`Instrument.recording`, note a :class:`Record`
for every sub-expression the trace records: its value and the state (``it``, ``data``,
``actor``, ``user``) it was computed in. The values come from the traced tree, the same
closures ``receiver eval --explain`` runs; the closures themselves, and the decision,
are untouched. :mod:`receiver.testing.listprobe` reads the records to find the list
entries a case exercised.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from receiver.check.model import CheckedRule
from receiver.compile.tree import CompiledRule, EventTree, map_rules
from receiver.dsl.context import Context
from receiver.dsl.values import Value
from receiver.runtime.policyset import PolicySet


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
