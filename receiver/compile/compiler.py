"""Compiling checked rules into per-event decision trees.

Stage 3 (compile). Consumes :class:`~receiver.check.model.CheckedRule` objects
(resolved, type-checked ASTs) and produces one :class:`~receiver.compile.tree.EventTree`
per event name. Per event:

- only the rules whose ``events`` match are kept, in evaluation order;
- each rule's expressions become closures (:mod:`receiver.compile.closures`), with
  ``event`` folded to the event's name; a rule whose condition folds to false is dropped;
- memo slots are planned across the whole rule set (:class:`~receiver.compile.closures.MemoPlan`),
  so that the closures of a rule compiled once serve every tree it belongs to;
- runs of rules gated on an equality of the same field become switches
  (:mod:`receiver.compile.index`).

Nothing is parsed or walked per request: evaluation calls the closures built here.
With ``trace=True`` every closure also records its value (for ``--explain``);
the traced and the fast trees come from this same code.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace

from receiver.check.model import CheckedRule
from receiver.compile.calls import Fn
from receiver.compile.closures import NOT_CONST, ExpressionCompiler, MemoPlan
from receiver.compile.index import Gating, Indexer, gate_of
from receiver.compile.tree import CompiledRule, EventTree, Rollout
from receiver.dsl import events as ev
from receiver.dsl.analysis import gives_bool, reads_any
from receiver.dsl.context import Context
from receiver.dsl.template import Template
from receiver.dsl.values import Value, render, truth


def _template(compiler: ExpressionCompiler, template: Template) -> Callable[[Context], str]:
    parts: list[str | Fn] = [p if isinstance(p, str) else compiler.fn(p) for p in template.parts]
    if all(isinstance(p, str) for p in parts):
        text = "".join(p for p in parts if isinstance(p, str))
        return lambda ctx: text

    def render_message(ctx: Context) -> str:
        return "".join(p if isinstance(p, str) else render(p(ctx)) for p in parts)

    return render_message


def _condition(
    compiler: ExpressionCompiler, rule: CheckedRule
) -> tuple[Callable[[Context], bool] | None, bool]:
    """The rule's test (``when and not unless``); None when always true; and whether never."""
    when = compiler.compile(rule.when) if rule.when is not None else None
    unless = compiler.compile(rule.unless) if rule.unless is not None else None
    if when is not None and when[1] is not NOT_CONST and not truth(when[1], "'when'"):
        return None, True
    if unless is not None and unless[1] is not NOT_CONST and truth(unless[1], "'unless'"):
        return None, True
    w = when[0] if when is not None and when[1] is NOT_CONST else None
    u = unless[0] if unless is not None and unless[1] is NOT_CONST else None
    if w is not None and u is not None:
        w_, u_ = w, u
        return (lambda ctx: truth(w_(ctx), "'when'") and not truth(u_(ctx), "'unless'")), False
    if w is not None:
        w_ = w
        if rule.when is not None and gives_bool(rule.when):
            return w_, False  # it returns True or False

        def when_(ctx: Context) -> bool:
            value = w_(ctx)
            if value is True:
                return True
            return False if value is False or value is None else truth(value, "'when'")

        return when_, False
    if u is not None:
        u_ = u
        return (lambda ctx: not truth(u_(ctx), "'unless'")), False
    return None, False


def _until(
    test: Callable[[Context], bool] | None, expires: float | None
) -> Callable[[Context], bool] | None:
    """The rule's test with its ``expires`` folded in: false from that instant on (the
    decision's ``now``, whichever command decides). Rules without ``expires`` keep their
    test as it is, so they pay nothing for the feature."""
    if expires is None:
        return test
    if test is None:
        return lambda ctx: ctx.now.epoch < expires
    test_ = test
    return lambda ctx: ctx.now.epoch < expires and test_(ctx)


def _default_key(ctx: Context) -> Value:
    """``actor.userId``, the default ``rollout_key``."""
    return ctx.actor.get("userId")


def _rollout(compiler: ExpressionCompiler, rule: CheckedRule) -> Rollout | None:
    located = rule.doc.rollout
    if located is None:
        return None
    key: Callable[[Context], Value] = _default_key
    key_text = "actor.userId"
    if rule.rollout_key is not None:
        key = compiler.fn(rule.rollout_key)
        key_text = " ".join(rule.rollout_key.span.text.split())
    percent = located.value
    return Rollout(rule.qualified_id, percent, round(percent * 100), key, key_text)


def _compile_rule(
    compiler: ExpressionCompiler, rule: CheckedRule, needs_user: bool
) -> CompiledRule | None:
    test, never = _condition(compiler, rule)
    if never:
        return None
    message = _template(compiler, rule.message) if rule.message is not None else None
    sets = tuple((target, compiler.fn(value)) for target, value in rule.sets)
    expires = rule.doc.expires.value if rule.doc.expires is not None else None
    return CompiledRule(
        rule, _until(test, expires), message, sets, rule.unsets, needs_user,
        _rollout(compiler, rule), expires,
    )  # fmt: skip


class TreeCompiler:
    """Compiles the event trees of one rule set, each rule once for all its events.

    A rule's closures do not depend on the event unless the rule reads ``event``
    (which folds to a constant per event): those rules are compiled per event, the
    others once, and their compiled form is shared by every tree they belong to.
    Memo slots are numbered across the whole rule set, so shared closures agree on
    them. Trees can be asked for at any time (``PolicySet.tree`` compiles unknown
    event names on first sight); a lock keeps concurrent compilations apart.
    """

    def __init__(self, rules: Sequence[CheckedRule], trace: bool = False) -> None:
        self.source = rules
        self.trace = trace
        self._rules = [(r, r.events) for r in rules if r.doc.enabled]
        self._matching: dict[tuple[tuple[str, ...], str], bool] = {}  # few distinct `events`
        self._plan = MemoPlan()
        self._plan.plan_sharing([e for r, _ in self._rules for e in r.expressions()])
        # Rules that do not read `event`: one compiler (and one closure per node) for all.
        self._any_event = ExpressionCompiler(None, trace=trace, plan=self._plan, cache={})
        self._per_event: dict[str, ExpressionCompiler] = {}  # rules that read `event`
        self._inputs: dict[int, frozenset[str]] = {}  # what each rule reads
        self._gates: dict[int, Gating | None] = {}
        self._compiled: dict[tuple[int, str], CompiledRule | None] = {}
        self._gate_free: dict[tuple[int, str], CompiledRule] = {}
        self._lock = threading.Lock()

    def tree(self, event: str, index: bool = True) -> EventTree:
        """The decision tree for one event name (``index=False``: a flat rule list)."""
        with self._lock:
            return self._tree(event, index)

    def _tree(self, event: str, index: bool) -> EventTree:
        compiled: list[CompiledRule] = []
        dropped: list[CheckedRule] = []
        matching = self._matching
        for rule, patterns in self._rules:
            applies = matching.get((patterns, event))
            if applies is None:
                applies = matching[patterns, event] = any(ev.matches(p, event) for p in patterns)
            if not applies:
                continue
            result = self._rule(rule, event)
            if result is None:
                dropped.append(rule)
            else:
                compiled.append(result)
        if index:
            gatings = [self._gating(r.rule) for r in compiled]
            steps, gates = Indexer(
                compiled, gatings, lambda rule: self._without_gate(rule, event)
            ).build()
        else:
            steps, gates = list(compiled), [None] * len(compiled)
        return EventTree(
            event=event,
            steps=tuple(steps),
            rules=tuple(compiled),
            dropped=tuple(dropped),
            memo_size=len(self._plan.slots),
            data_slots=tuple(self._plan.data_slots),
            needs_user=any(r.needs_user for r in compiled),
            gates=tuple(gates) if any(g is not None for g in gates) else (),
        )

    def _reads(self, rule: CheckedRule) -> frozenset[str]:
        found = self._inputs.get(id(rule))
        if found is None:
            found = self._inputs[id(rule)] = reads_any(rule.expressions())
        return found

    def _compiler(self, rule: CheckedRule, event: str) -> tuple[ExpressionCompiler, str]:
        """The compiler for the rule's closures, and the cache key part of ``event``
        ("" for rules that do not read it: their closures serve every event)."""
        if "event" not in self._reads(rule):
            return self._any_event, ""
        found = self._per_event.get(event)
        if found is None:  # no cache: a node's closure differs per event
            found = ExpressionCompiler(event, trace=self.trace, plan=self._plan)
            self._per_event[event] = found
        return found, event

    def _rule(self, rule: CheckedRule, event: str) -> CompiledRule | None:
        compiler, part = self._compiler(rule, event)
        slot = (id(rule), part)
        if slot not in self._compiled:
            needs_user = "user" in self._reads(rule)
            self._compiled[slot] = _compile_rule(compiler, rule, needs_user)
        return self._compiled[slot]

    def _gating(self, rule: CheckedRule) -> Gating | None:
        if id(rule) not in self._gates:
            self._gates[id(rule)] = gate_of(rule)
        return self._gates[id(rule)]

    def _without_gate(self, compiled: CompiledRule, event: str) -> CompiledRule:
        """The rule tested without its gate, for the branches of a switch that checked it.

        The condition is compiled with the gating conjunct known to be true, so the
        rest of its ``and`` chain runs exactly as before (same order, same errors:
        nothing before a gate can fail, and the gate itself cannot).
        """
        rule = compiled.rule
        if self.trace:
            return compiled  # traced trees show the whole condition
        compiler, part = self._compiler(rule, event)
        slot = (id(rule), part)
        found = self._gate_free.get(slot)
        if found is None:
            gating = self._gating(rule)
            if gating is None:  # pragma: no cover - only gated rules are asked for
                raise ValueError(f"{rule.qualified_id} has no gate")
            assuming = compiler.assuming({id(gating.node): True}, gating.above)
            test, never = _condition(assuming, rule)
            found = replace(compiled, test=_never if never else _until(test, compiled.expires))
            self._gate_free[slot] = found
        return found


def _never(ctx: Context) -> bool:
    return False


def compile_tree(
    rules: Sequence[CheckedRule],
    event: str,
    trace: bool = False,
    index: bool = True,
    *,
    compiler: TreeCompiler | None = None,
) -> EventTree:
    """The decision tree for one event name (``index=False``: a flat rule list, for reference).

    ``compiler``: a :class:`TreeCompiler` made for these same ``rules`` (and ``trace``),
    which compiles each rule once across the trees it is asked for.
    """
    if compiler is None:  # sharing planned among this event's rules only
        applicable = [r for r in rules if any(ev.matches(p, event) for p in r.events)]
        return TreeCompiler(applicable, trace).tree(event, index)
    if compiler.source is not rules or compiler.trace != trace:
        raise ValueError("the tree compiler was made for other rules or another trace setting")
    return compiler.tree(event, index)
