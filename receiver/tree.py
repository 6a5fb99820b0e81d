"""Decision-tree data: what the compiler produces for one event, and how it prints.

An :class:`EventTree` is a sequence of steps. A step is either one
:class:`CompiledRule` or a :class:`Switch`: a run of consecutive rules gated on an
equality of the same field, looked up by the field's value instead of being
tested one by one. ``receiver tree DIR EVENT`` prints it with :func:`render_tree`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from receiver.values import Value

if TYPE_CHECKING:
    from receiver.checker import CheckedRule, Target
    from receiver.context import Context


@dataclass(frozen=True, slots=True, eq=False)
class CompiledRule:
    rule: CheckedRule
    test: Callable[[Context], bool] | None  # None: always matches
    message: Callable[[Context], str] | None
    sets: tuple[tuple[Target, Callable[[Context], Value]], ...]
    unsets: tuple[Target, ...]
    needs_user: bool


@dataclass(frozen=True, slots=True)
class Gate:
    root: str
    keys: tuple[str | int, ...]
    values: frozenset[object]
    text: str


@dataclass(frozen=True, slots=True, eq=False)
class Switch:
    root: str  # "data" or "actor"
    keys: tuple[str | int, ...]
    table: dict[object, tuple[CompiledRule, ...]]
    rules: tuple[CompiledRule, ...]

    @property
    def field(self) -> str:
        out = self.root
        for k in self.keys:
            out += f"[{k}]" if isinstance(k, int) else f".{k}"
        return out


Step = CompiledRule | Switch


@dataclass(frozen=True, slots=True, eq=False)
class EventTree:
    event: str
    steps: tuple[Step, ...]
    rules: tuple[CompiledRule, ...]
    dropped: tuple[CheckedRule, ...] = ()
    memo_size: int = 0
    data_slots: tuple[int, ...] = ()
    needs_user: bool = False
    extra: dict[str, object] = field(default_factory=dict)


def _describe(compiled: CompiledRule, number: int) -> list[str]:
    rule = compiled.rule
    tags = []
    if rule.mode == "shadow":
        tags.append("shadow")
    if compiled.needs_user:
        tags.append("reads user")
    if rule.policy.on_error == "deny":
        tags.append("on_error: deny")
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
    for target, _ in rule.sets:
        value = next(v for t, v in rule.sets if t is target)
        lines.append(f"       set    {target} = {' '.join(value.span.text.split())}")
    for target in rule.unsets:
        lines.append(f"       unset  {target}")
    lines.append(f"       at     {rule.doc.id.span}")
    return lines


def render_tree(tree: EventTree) -> str:
    policies = {r.rule.policy.name for r in tree.rules}
    switches = sum(1 for s in tree.steps if isinstance(s, Switch))
    out = [
        f"event {tree.event}: {len(tree.rules)} rule{'s' if len(tree.rules) != 1 else ''} "
        f"from {len(policies)} polic{'ies' if len(policies) != 1 else 'y'}, "
        f"{switches} indexed switch{'es' if switches != 1 else ''}, "
        f"{tree.memo_size} shared sub-expression{'s' if tree.memo_size != 1 else ''}"
        + (", user lookup when a rule that reads user is reached" if tree.needs_user else "")
    ]
    if not tree.rules:
        out.append("  (no rules apply: every request is allowed)")
    number = 0
    for step in tree.steps:
        if isinstance(step, Switch):
            out.append(
                f"  switch on {step.field} ({len(step.rules)} rules, {len(step.table)} values)"
            )
            for compiled in step.rules:
                number += 1
                out.extend("  " + line for line in _describe(compiled, number))
        else:
            number += 1
            out.extend(_describe(step, number))
    for rule in tree.dropped:
        out.append(f"  dropped: {rule.qualified_id} (its condition is always false for this event)")
    out.append("  otherwise -> allow")
    return "\n".join(out)
