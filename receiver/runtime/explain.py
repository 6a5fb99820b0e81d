"""Rendering a decision's trace for people (``receiver eval --explain``).

Consumes a :class:`~receiver.runtime.decision.Decision` evaluated with ``explain=True``
and prints each rule considered in order: whether it matched, the values of its
sub-expressions (outermost first), shadow results, failures, and the decision.
"""

from __future__ import annotations

from collections.abc import Sequence

from receiver.compile.tree import EventTree
from receiver.dsl.values import show
from receiver.runtime.decision import Decision


def _value(value: object) -> str:
    text = show(value)
    return text if len(text) <= 160 else text[:157] + "..."


def render_explanation(tree: EventTree, decision: Decision, counters: Sequence[str] = ()) -> str:
    """``counters``: the counter lines of receiver/compile/counters.py (``Prepared.explain``)."""
    count = len(tree.rules)
    lines = [f"event {tree.event}: {count} rule{'s apply' if count != 1 else ' applies'}"]
    lines.extend(counters)
    for number, step in enumerate(decision.trace or [], start=1):
        mode = " (shadow)" if step.mode == "shadow" else ""
        rollout = f"; {step.rollout}" if step.rollout else ""
        lines.append(f"{number:>3}. {step.rule}  {step.action}{mode}: {step.outcome}{rollout}")
        for text, value in reversed(step.values):
            lines.append(f"       {text} = {_value(value)}")
        if step.note:
            lines.append(f"       -> {step.note}")
    considered = len(decision.trace or [])
    if considered < count:
        lines.append(f"     ({count - considered} later rule(s) not reached)")
    for shadow in decision.shadow:
        detail = f": {shadow.message!r}" if shadow.message else ""
        if shadow.changes:
            detail = ": " + ", ".join(f"{k} = {_value(v)}" for k, v in shadow.changes.items())
        lines.append(f"shadow: {shadow.rule} would {shadow.action}{detail}")
    for failure in decision.errors:
        lines.append(f"error: {failure.rule}: {failure.location}: {failure.message}")
    if decision.action == "deny":
        lines.append(f"decision: deny by {decision.rule}: {decision.message!r}")
    else:
        by = f" by {decision.rule}" if decision.rule else " (no rule ended evaluation)"
        mods = f"; data modified by {', '.join(decision.modified_by)}" if decision.modified else ""
        lines.append(f"decision: allow{by}{mods}")
    return "\n".join(lines)
