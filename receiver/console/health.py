"""Rule health: ``GET /console/api/health`` of ``receiver serve --console``.

Stage: the edge (the console inside the service). Consumes the per-minute counts of
every worker (``served.py``, ``receiver.observe.feed``) and the serving policy set;
produces, per minute over the last hour (oldest first, the current minute last), the
totals (decisions, errors, degraded answers) and per rule its hits, its disagreements
with the live answer (shadow rules and rollout rules; null for the others) and its
failures, summed over the workers. Every rule of the serving revision is listed in
policy order, zeros included; a rule that is no longer served but still has counts in
the window follows with ``"retired": true``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from receiver.check.model import CheckedRule
from receiver.console.served import Served, WorkerFeed
from receiver.observe.feed import DECISIONS, DEGRADED, DISAGREEMENTS, ERRORS, HITS, MINUTES


def health_json(
    served: Served, feeds: list[WorkerFeed], clock: Callable[[], float] = time.time
) -> dict[str, Any]:
    last = int(clock() // 60)
    first = last - MINUTES + 1
    decisions, errors, degraded = [0] * MINUTES, [0] * MINUTES, [0] * MINUTES
    per_rule: dict[str, list[list[int]]] = {}
    for feed in feeds:
        for minute, counts in feed.minutes.items():
            index = minute - first
            if not 0 <= index < MINUTES:
                continue
            totals = counts.get("totals") or [0, 0, 0]
            decisions[index] += int(totals[DECISIONS])
            degraded[index] += int(totals[DEGRADED])
            errors[index] += int(totals[ERRORS])
            for rule, rule_counts in (counts.get("rules") or {}).items():
                series = per_rule.get(rule)
                if series is None:
                    series = per_rule[rule] = [[0] * MINUTES for _ in range(3)]
                for field in (HITS, DISAGREEMENTS, ERRORS):
                    series[field][index] += int(rule_counts[field])
    rules: list[dict[str, Any]] = []
    body: dict[str, Any] = {
        "revision": None,
        "loaded_at": None,
        "policies": [],
        "window": {"start": first * 60, "minutes": MINUTES},
        "totals": {"decisions": decisions, "errors": errors, "degraded": degraded},
        "rules": rules,
    }
    zeros = [[0] * MINUTES for _ in range(3)]
    if served.live.ready:
        snapshot = served.live.current
        body["revision"] = snapshot.revision
        body["loaded_at"] = round(snapshot.loaded_at, 3)
        body["policies"] = [policy.name for policy in snapshot.policies.policies]
        for rule in snapshot.policies.rules:
            rules.append(_rule_json(rule, per_rule.pop(rule.qualified_id, zeros)))
    if per_rule:  # counted in the window, no longer served: described by an older revision
        older = {r.qualified_id: r for s in served.live.held.values() for r in s.policies.rules}
        for name, series in per_rule.items():
            known = older.get(name)
            if known is not None:
                rules.append({**_rule_json(known, series), "retired": True})
            else:
                rules.append({
                    "rule": name, "action": None, "mode": None, "rollout": None,
                    "hits": series[HITS], "disagreements": series[DISAGREEMENTS],
                    "errors": series[ERRORS], "retired": True,
                })  # fmt: skip
    return body


def _rule_json(rule: CheckedRule, series: list[list[int]]) -> dict[str, Any]:
    rollout = rule.doc.rollout.value if rule.doc.rollout is not None else None
    may_differ = rule.mode == "shadow" or rollout is not None
    return {
        "rule": rule.qualified_id,
        "action": rule.action,
        "mode": rule.mode,
        "rollout": rollout,
        "hits": list(series[HITS]),
        "disagreements": list(series[DISAGREEMENTS]) if may_differ else None,
        "errors": list(series[ERRORS]),
    }
