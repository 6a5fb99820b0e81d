"""Helpers shared by the compile tests: policies written as dicts, checked, compiled, decided."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from receiver.check.checker import check
from receiver.check.model import CheckedRule
from receiver.compile.compiler import compile_tree
from receiver.compile.tree import EventTree, Switch
from receiver.dsl.values import Timestamp
from receiver.load.loader import load_text
from receiver.runtime.decision import Decision
from receiver.runtime.evaluator import evaluate
from receiver.runtime.payload import parse_event
from receiver.text.diagnostics import Diagnostics

EVENT = "message.shouldCreate"
NOW = Timestamp(1_769_860_800.0)  # 2026-01-31T12:00:00Z


def rule(rule_id: str, action: str = "deny", **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": rule_id, "events": fields.pop("events", EVENT)}
    out.update(fields)
    out["action"] = action
    return out


def policy_text(name: str, rules: list[dict[str, Any]], **options: Any) -> str:
    doc = {"policy": name, **options, "rules": rules}
    return yaml.safe_dump(doc, sort_keys=False, width=1_000_000)


def checked(*texts: str) -> list[CheckedRule]:
    """Checked rules (in evaluation order) of policy texts named p0.yaml, p1.yaml, ..."""
    diags = Diagnostics()
    documents = [load_text(f"p{i}.yaml", text, diags) for i, text in enumerate(texts)]
    result = check([d for d in documents if d is not None], diags)
    assert not diags.has_errors, [d.render() for d in diags.sorted()]
    return result.rules


def tree_of(*rules: dict[str, Any], event: str = EVENT, **options: Any) -> EventTree:
    return compile_tree(checked(policy_text("p", list(rules), **options)), event)


def decide(
    tree: EventTree,
    data: dict[str, Any],
    actor: dict[str, Any] | None = None,
    users: Mapping[str, Mapping[str, Any]] | None = None,
) -> Decision:
    event = parse_event({"eventName": tree.event, "data": data, "actor": actor or {}})
    records = users or {}
    return evaluate(tree, event, NOW, records.get)


def switches(tree: EventTree) -> list[Switch]:
    return [step for step in tree.steps if isinstance(step, Switch)]


def checked_rules(tree: EventTree) -> list[CheckedRule]:
    return [compiled.rule for compiled in tree.rules]


def outcome(decision: Decision) -> tuple[object, ...]:
    return (
        decision.response(),
        decision.rule,
        decision.modified_by,
        [(s.rule, s.action, s.message, s.changes) for s in decision.shadow],
        [(e.rule, e.message, e.location, e.shadow) for e in decision.errors],
    )
