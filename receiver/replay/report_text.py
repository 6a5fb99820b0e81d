"""A diff report for the terminal (``receiver diff``, the default ``--format text``).

The edge of replay. Consumes the report document of :mod:`receiver.replay.report`;
produces plain text: the two sides, the flips by kind, the rules that moved (each
measure either side counted, OLD -> NEW and the change), the samples with both answers
and the explanation of the NEW one, and the gate's verdict.
"""

from __future__ import annotations

import json
from typing import Any, Final

from receiver.replay.answers import KIND_TITLES, KINDS
from receiver.replay.report import (
    baseline_warning,
    changed_measures,
    nothing_sampled,
    percent,
    safe_text,
    signed,
    unmoved_changes,
    users_missing,
)

MAX_RULES: Final = 40  # rules listed; the JSON report has them all


def _side(name: str, side: dict[str, Any]) -> str:
    return f"  {name}: {side['described']}, revision {side['revision']}"


def _flips(report: dict[str, Any]) -> list[str]:
    events, flips, share = report["events"], report["flips"], report["share"]
    lines = [
        f"Verdicts that flip: {flips['total']:,} of {events:,} events ({percent(share['total'])})"
    ]
    width = max(len(t) for t in KIND_TITLES.values())
    for kind in KINDS:
        lines.append(
            f"  {KIND_TITLES[kind]:<{width}}  {flips[kind]:>8,}  {percent(share[kind]):>8}"
        )
    return lines


def _by_event(report: dict[str, Any]) -> list[str]:
    events = report["flips_by_event"]
    if not events:
        return []
    lines = ["Flips by event"]
    width = max(len(name) for name in events)
    for name, kinds in events.items():
        parts = [f"{KIND_TITLES[k]} {kinds[k]:,}" for k in KINDS if kinds[k]]
        lines.append(f"  {name:<{width}}  " + "; ".join(parts))
    return lines


def _by_rule(report: dict[str, Any]) -> list[str]:
    pairs = report["flips_by_rule"]
    if not pairs:
        return []
    shown = pairs[:MAX_RULES]
    lines = [f"Flips by rule (OLD's rule -> NEW's rule), most first: {len(shown)} of {len(pairs)}"]
    width = max(len(KIND_TITLES[p["kind"]]) for p in shown)
    for pair in shown:
        lines.append(
            f"  {KIND_TITLES[pair['kind']]:<{width}}  {pair['events']:>7,}  "
            f"{pair['old']} -> {pair['new']}"
        )
    return lines


def _rules(report: dict[str, Any]) -> list[str]:
    rows = report["rules"]
    moved = [row for row in rows if any(row["delta"].values())]
    lines = [f"Rules that moved (OLD -> NEW), most first: {len(moved)} of {len(rows)}"]
    if not moved:
        lines.append("  none: every rule decided, modified, shadowed and failed as often")
    width = max((len(row["rule"]) for row in moved[:MAX_RULES]), default=0)
    for row in moved[:MAX_RULES]:
        parts = [
            f"{m} {row['old'][m]:,} -> {row['new'][m]:,} ({signed(row['delta'][m])})"
            for m in changed_measures(row)
        ]
        note = row["note"]
        lines.append(
            f"  {row['rule']:<{width}}  " + "   ".join(parts) + (f"   [{note}]" if note else "")
        )
    if len(moved) > MAX_RULES:
        lines.append(f"  ... and {len(moved) - MAX_RULES} more (--format json lists them all)")
    same = unmoved_changes(rows)
    if same:
        lines.append(f"Written otherwise, counts as before: {len(same)}")
        width = max(len(row["rule"]) for row in same[:MAX_RULES])
        lines += [f"  {row['rule']:<{width}}  [{row['note']}]" for row in same[:MAX_RULES]]
    return lines


def _decision(decision: dict[str, Any]) -> str:
    if decision["action"] == "deny":
        return f"deny by {decision['rule']}: {json.dumps(decision['message'], ensure_ascii=False)}"
    text = "allow" + (f" by {decision['rule']}" if decision["rule"] else "")
    if decision.get("modified_by"):
        text += f", modified by {', '.join(decision['modified_by'])}"
        text += f", data {json.dumps(decision.get('data'), ensure_ascii=False)}"
    return text


def _samples(report: dict[str, Any]) -> list[str]:
    samples = report["samples"]
    if samples is None:
        return [report["note"]]
    lines = [
        "Samples (the first event of each rule change, the most frequent first; in time order)"
    ]
    for kind in KINDS:
        chosen = samples[kind]
        if not chosen:
            continue
        lines.append(f"  {KIND_TITLES[kind]}: {len(chosen)} of {report['flips'][kind]:,}")
        for number, sample in enumerate(chosen, start=1):
            actor = sample["actor"].get("userId", sample["actor"].get("_id", "?"))
            lines += [
                f"  #{number} {sample['event']} at {sample['time']}, actor {actor}, "
                f"decision {sample['decision_id']} ({sample['source']})",
                f"     data: {json.dumps(sample['data'], ensure_ascii=False)}",
                f"     OLD: {_decision(sample['old'])}",
                f"     NEW: {_decision(sample['new'])}",
                "     why NEW:",
            ]
            lines += [f"       {line}" for line in sample["explanation"].splitlines()]
    if len(lines) == 1:
        lines.append(f"  {nothing_sampled(report)}")
    return lines


def _gate(report: dict[str, Any]) -> list[str]:
    gate = report["gate"]
    if gate is None:
        return []
    if not gate["held"]:
        return [f"Gate --fail-on {gate['expression']!r}: passed (did not hold)"]
    return [f"Gate --fail-on {gate['expression']!r}: HELD, the diff fails:"] + [
        f"  {part}" for part in gate["parts"]
    ]


def render_text(report: dict[str, Any]) -> str:
    """The report document as terminal text."""
    span = report["time_span"]
    when = f" from {span['first']} to {span['last']}" if span else ""
    lines = [f"receiver diff: {report['events']:,} recorded events{when}"]
    lines += [_side("OLD", report["old"]), _side("NEW", report["new"])]
    if report["contains_user_content"]:
        lines.append(report["note"])
    warning = baseline_warning(report)
    if warning:
        lines.append(f"Warning: {warning}")
    missing = users_missing(report)
    if missing:
        lines.append(f"Note: {missing} (seen as no such user); pass --users FILE")
    blocks = (
        _flips(report), _by_event(report), _by_rule(report), _rules(report), _samples(report),
        _gate(report),
    )  # fmt: skip
    for block in blocks:
        if block:
            lines += ["", *block]
    return safe_text("\n".join(lines) + "\n")
