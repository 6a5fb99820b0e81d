"""Decision-tree data: what the compiler produces for one event, and how it prints.

Stage 3 (compile), its output. :class:`EventTree` (of :class:`CompiledRule` and
:class:`Switch` steps, with their :class:`Gate` objects) is what the compiler produces from
checked rules and what stage 4 (run) consumes; :func:`render_tree` produces its text.

An :class:`EventTree` is a sequence of steps. A step is either one
:class:`CompiledRule` or a :class:`Switch`: a region of consecutive rules in which
some are gated on an equality of one field (``data.channelId == "ch_42" and ...``).
The switch reads the field once and picks the steps for its value: the rules gated
on that value merged, in order, with the region's other steps (ungated rules and
nested switches on other fields, shared by reference between the branches), or
the ``default`` steps when no rule is gated on the value. Rules reached through a
branch are tested without their gate (it is known to hold). Nothing in a region
changes the field before its last rule, so one read serves the whole region.
``receiver tree DIR EVENT`` prints a tree with :func:`render_tree`.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass, field, replace

from receiver.check.model import CheckedRule, Target
from receiver.dsl.context import Context
from receiver.dsl.times import format_time
from receiver.dsl.values import Value, key


@dataclass(frozen=True, slots=True, eq=False)
class Rollout:
    """A rule's ``rollout:``: its percentage and the closure of its ``rollout_key``
    (the bucket of a key: :mod:`receiver.runtime.rollout`)."""

    rule_id: str  # policy/rule, hashed with the key
    percent: float
    threshold: int  # round(percent * 100): the buckets below it enforce
    key: Callable[[Context], Value]
    key_text: str  # the key expression as written, for explanations


@dataclass(frozen=True, slots=True, eq=False)
class CompiledRule:
    rule: CheckedRule
    test: Callable[[Context], bool] | None  # None: always matches (expiry included in test)
    message: Callable[[Context], str] | None
    sets: tuple[tuple[Target, Callable[[Context], Value]], ...]
    unsets: tuple[Target, ...]
    needs_user: bool
    rollout: Rollout | None = None  # enforces for some keys only, shadow for the others
    expires: float | None = None  # epoch seconds from which the rule is off


def field_name(root: str, keys: tuple[str | int, ...]) -> str:
    out = root
    for k in keys:
        out += f"[{k}]" if isinstance(k, int) else f".{k}"
    return out


@dataclass(frozen=True, slots=True)
class Gate:
    """An equality on a ``data``/``actor`` field that must hold for a rule to match."""

    root: str  # "data" or "actor"
    keys: tuple[str | int, ...]
    values: frozenset[object]  # values.key() of the literals
    text: str

    @property
    def field(self) -> str:
        return field_name(self.root, self.keys)

    def admits(self, value: Value) -> bool:
        """Whether a switch on this gate's field runs the rule for ``value``."""
        return dispatch_key(value, self.values) is not _REJECT


class _Reject:
    def __repr__(self) -> str:
        return "REJECT"


_REJECT = _Reject()
ODD = object()  # a value whose key equality may differ from ``==`` (times, durations)


def dispatch_key(value: Value, table: Container[object]) -> object:
    """How a switch files ``value``: its key when in ``table``, :data:`ODD` for a value
    that needs every rule's full test, else a rejection (the value gates no rule).

    Strings, numbers and booleans have hashable keys with the language's ``==``
    (:func:`receiver.dsl.values.key`); ``null`` equals no gate literal; lists and maps equal
    no gate literal either, and their keys (JSON text) never collide with a scalar's.
    Times and durations equal strings and numbers under ``==`` without sharing a key
    (data holds JSON values only, modifications included, so this is a safety net).
    """
    if value is None:
        return _REJECT
    kind = type(value)
    if kind is str:
        return value if value in table else _REJECT
    if kind is int or kind is float or kind is bool:
        k = key(value)
        return k if k in table else _REJECT
    if kind is list or kind is dict:
        return _REJECT
    return ODD


@dataclass(frozen=True, slots=True, eq=False)
class Switch:
    """A region of rules dispatched on one field (see the module docstring)."""

    root: str  # "data" or "actor"
    keys: tuple[str | int, ...]
    table: dict[object, tuple[Step, ...]]  # key of a gated value -> the region's steps for it
    default: tuple[Step, ...]  # the steps for any other value (no gated rule among them)
    rules: tuple[CompiledRule, ...]  # the region's rules in order, full tests: for ODD values
    gated: int  # how many of the region's rules are gated on the field

    @property
    def field(self) -> str:
        return field_name(self.root, self.keys)

    def select(self, value: Value) -> tuple[Step, ...]:
        """The steps to run when the field holds ``value``."""
        if type(value) is str:
            return self.table.get(value, self.default)
        k = dispatch_key(value, self.table)
        if k is ODD:
            return self.rules
        return self.default if k is _REJECT else self.table[k]


Step = CompiledRule | Switch


@dataclass(frozen=True, slots=True, eq=False)
class EventTree:
    event: str
    steps: tuple[Step, ...]
    rules: tuple[CompiledRule, ...]  # every rule, in evaluation order, with its full test
    dropped: tuple[CheckedRule, ...] = ()
    memo_size: int = 0
    data_slots: tuple[int, ...] = ()
    needs_user: bool = False
    extra: dict[str, object] = field(default_factory=dict)
    gates: tuple[Gate | None, ...] = ()  # per rule: the gate a switch indexes it by, if any

    def gate_of(self) -> Iterator[tuple[CompiledRule, Gate | None]]:
        """Each rule in order with the gate of the switch that indexes it (or None)."""
        gates = self.gates or (None,) * len(self.rules)
        yield from zip(self.rules, gates, strict=True)


def switches(steps: tuple[Step, ...]) -> list[Switch]:
    """Every switch reachable from ``steps`` (nested ones included), each once."""
    seen: dict[int, Switch] = {}
    todo = [s for s in steps if isinstance(s, Switch)]
    while todo:
        switch = todo.pop()
        if id(switch) in seen:
            continue
        seen[id(switch)] = switch
        for branch in (switch.default, *switch.table.values()):
            todo.extend(s for s in branch if isinstance(s, Switch))
    return list(seen.values())


def map_rules(tree: EventTree, fn: Callable[[CompiledRule], CompiledRule]) -> EventTree:
    """The tree with every compiled rule (branch copies too) replaced by ``fn(rule)``;
    what was shared stays shared."""
    rules: dict[int, CompiledRule] = {}
    done: dict[int, Switch] = {}

    def rule(compiled: CompiledRule) -> CompiledRule:
        found = rules.get(id(compiled))
        if found is None:
            found = rules[id(compiled)] = fn(compiled)
        return found

    def steps(items: tuple[Step, ...]) -> tuple[Step, ...]:
        return tuple(rule(s) if isinstance(s, CompiledRule) else switch(s) for s in items)

    def switch(s: Switch) -> Switch:
        found = done.get(id(s))
        if found is None:
            found = done[id(s)] = replace(
                s,
                table={k: steps(v) for k, v in s.table.items()},
                default=steps(s.default),
                rules=tuple(rule(r) for r in s.rules),
            )
        return found

    return replace(tree, steps=steps(tree.steps), rules=tuple(rule(r) for r in tree.rules))


def _describe(compiled: CompiledRule, number: int, gate: Gate | None) -> list[str]:
    rule = compiled.rule
    tags = []
    if gate is not None:
        tags.append(f"indexed: {gate.field}")
    if rule.mode == "shadow":
        tags.append("shadow")
    if compiled.needs_user:
        tags.append("reads user")
    if rule.policy.on_error == "deny":
        tags.append("on_error: deny")
    if compiled.rollout is not None:
        tags.append(f"rollout {compiled.rollout.percent:g}% by {compiled.rollout.key_text}")
    if compiled.expires is not None:
        tags.append(f"expires {format_time(compiled.expires)}")
    head = f"{number:>3}. {rule.qualified_id}  ->  {rule.action}"
    if tags:
        head += f"  [{', '.join(tags)}]"
    lines = [head]
    if rule.when is not None:
        lines.append(f"       when   {' '.join(rule.when.span.text.split())}")
    if rule.unless is not None:
        lines.append(f"       unless {' '.join(rule.unless.span.text.split())}")
    if compiled.test is None:
        lines.append("       (always matches)")
    for target, value in rule.sets:
        lines.append(f"       set    {target} = {' '.join(value.span.text.split())}")
    for target in rule.unsets:
        lines.append(f"       unset  {target}")
    lines.append(f"       at     {rule.doc.id.span}")
    return lines


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _header(switch: Switch) -> str:
    others = len(switch.rules) - switch.gated
    return (
        f"switch on {switch.field} ({_plural(switch.gated, 'rule', 'rules')}, "
        f"{_plural(len(switch.table), 'value', 'values')}"
        + (f"; {others} other{'s' if others != 1 else ''} run for every value" if others else "")
        + ")"
    )


def render_tree(tree: EventTree) -> str:
    policies = {r.rule.policy.name for r in tree.rules}
    every = switches(tree.steps)
    out = [
        f"event {tree.event}: {_plural(len(tree.rules), 'rule', 'rules')} "
        f"from {_plural(len(policies), 'policy', 'policies')}, "
        f"{_plural(len(every), 'indexed switch', 'indexed switches')}, "
        f"{_plural(tree.memo_size, 'memo slot', 'memo slots')} for shared sub-expressions"
        + (", user lookup when a rule that reads user is reached" if tree.needs_user else "")
    ]
    if not tree.rules:
        out.append("  (no rules apply: every request is allowed)")
    gates = {id(compiled): gate for compiled, gate in tree.gate_of()}
    nested = {
        id(inner.rules[0]): inner
        for top in tree.steps
        if isinstance(top, Switch)
        for inner in switches(top.default)
    }
    number = 0
    for step in tree.steps:
        if isinstance(step, Switch):
            out.append("  " + _header(step))
            for compiled in step.rules:
                if id(compiled) in nested:
                    out.append("    " + _header(nested[id(compiled)]))
                number += 1
                out.extend("  " + line for line in _describe(compiled, number, gates[id(compiled)]))
        else:
            number += 1
            out.extend(_describe(step, number, None))
    for rule in tree.dropped:
        out.append(f"  dropped: {rule.qualified_id} (its condition is always false for this event)")
    out.append("  otherwise -> allow")
    return "\n".join(out)
