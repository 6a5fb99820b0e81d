"""The content of a diff report, as one JSON document (``receiver diff --format json``).

The edge of replay (``receiver diff``). Consumes a
:class:`~receiver.replay.compare.Comparison`, what each side's policies were
(:class:`~receiver.replay.sources.SourceInfo` and the loaded policy set, for its
revision), the explanations of the samples and the gate's verdict; produces the report
document (:func:`build_report`), which every format renders (text, markdown and HTML read
this document, so that they cannot disagree), and its JSON (:func:`render_json`).

The document's schema, version :data:`REPORT_VERSION`, is documented in docs/replay.md
("Diff", "The JSON report"). New members may be added; existing ones keep their meaning.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Final

from receiver.dsl.parser import ExprSource
from receiver.dsl.times import format_time, parse_time
from receiver.load.documents import RuleDoc
from receiver.observe.records import record_decision
from receiver.replay.answers import KINDS
from receiver.replay.compare import MEASURES, Comparison, Sample
from receiver.replay.gate import Gate, Held
from receiver.replay.sources import SourceInfo
from receiver.replay.summary import rotated_note, sampled_note
from receiver.runtime.policyset import PolicySet

REPORT_VERSION: Final = 1
USER_CONTENT_NOTE: Final = (
    "The samples in this report hold user content (the events' data and actors, as "
    "recorded): share it only where that content may go. --no-samples leaves them out."
)
NO_SAMPLES_NOTE: Final = "Samples left out (--no-samples): this report holds no user content."


def side(info: SourceInfo, policies: PolicySet) -> dict[str, Any]:
    """What one side was: its source and the revision of the policies loaded from it."""
    return {
        "source": info.spec,
        "kind": info.kind,
        "described": info.describe(),
        "revision": policies.revision,
        "commit": info.commit,
        "signature": info.signature,
        "verified": info.verified,
    }


def sample_entry(sample: Sample, explanation: str) -> dict[str, Any]:
    """One sampled event: what it was (user content) and what each side answered."""
    record, event = sample.record, sample.record.event
    return {
        "decision_id": record.decision_id,
        "time": format_time(record.time),
        "platform": record.platform,
        "event": event.name,
        "actor": event.actor,
        "data": event.data,
        "user_lookup": record.user_lookup,
        "source": record.source,
        "old": record_decision(sample.old),
        "new": record_decision(sample.new.decision),
        "explanation": explanation,
    }


def build_report(
    comparison: Comparison,
    old: tuple[SourceInfo, PolicySet],
    new: tuple[SourceInfo, PolicySet],
    *,
    explain: Callable[[Sample], str] | None,
    gate: Gate | None = None,
    held: Sequence[Held] = (),
) -> dict[str, Any]:
    """The report document; ``explain`` None leaves the samples (user content) out."""
    events = comparison.events
    total = comparison.total_flips
    first, last = comparison.first_time, comparison.last_time
    old_rules, new_rules = written_rules(old[1]), written_rules(new[1])
    return {
        "diff": REPORT_VERSION,
        "contains_user_content": explain is not None,
        "note": USER_CONTENT_NOTE if explain is not None else NO_SAMPLES_NOTE,
        "old": side(*old),
        "new": side(*new),
        "events": events,
        "time_span": (
            None
            if first is None or last is None
            else {"first": format_time(first), "last": format_time(last)}
        ),
        "flips": {"total": total, **comparison.flips},
        "share": {
            kind: _share(n, events) for kind, n in (("total", total), *comparison.flips.items())
        },
        "flips_by_event": dict(sorted(comparison.by_event.items())),
        "flips_by_rule": [
            {"kind": kind, "old": before, "new": after, "events": count}
            for (kind, before, after), count in sorted(
                comparison.by_rule.items(), key=lambda item: (-item[1], item[0])
            )
        ],
        "rules": [
            _with_note(
                {
                    "rule": row.rule,
                    "old": dict(row.old),
                    "new": dict(row.new),
                    "delta": row.deltas,
                    "written": {"old": old_rules.get(row.rule), "new": new_rules.get(row.rule)},
                }
            )
            for row in comparison.sorted_rules()
        ],
        "samples": (
            None
            if explain is None
            else {
                kind: [sample_entry(s, explain(s)) for s in comparison.samples[kind]]
                for kind in KINDS
            }
        ),
        "baseline": {
            "recorded_revisions": dict(sorted(comparison.recorded_revisions.items())),
            "old_differs": comparison.recorded_differs,
            "degraded": comparison.recorded_degraded,
            "sampled": comparison.recorded_sampled,
            "sample": comparison.recorded_sample,
            "rotated_out": [
                {
                    "writer": gap.writer,
                    "first_file": gap.first_file,
                    "complete_from": format_time(gap.complete_from),
                }
                for gap in comparison.rotated_out
            ],
        },
        "users_missing": {
            "old": comparison.old_stats.users_missing,
            "new": comparison.new_stats.users_missing,
        },
        "gate": (
            None
            if gate is None
            else {"expression": gate.text, "held": bool(held), "parts": [str(h) for h in held]}
        ),
    }


def written_rules(policies: PolicySet) -> dict[str, dict[str, Any]]:
    """Each rule of a side as written: what it does and how far it applies (the report's
    ``written``; a rule absent from a side is null there)."""
    return {rule.qualified_id: _written_rule(rule.doc) for rule in policies.rules}


def _written_rule(doc: RuleDoc) -> dict[str, Any]:
    def text(source: ExprSource | None) -> str | None:
        return source.text if source is not None else None

    return {
        "action": doc.action.value,
        "mode": doc.mode,
        "enabled": doc.enabled,
        "rollout": doc.rollout.value if doc.rollout is not None else None,
        "expires": format_time(doc.expires.value) if doc.expires is not None else None,
        "events": [e.value for e in doc.events],
        "when": text(doc.when),
        "unless": text(doc.unless),
        "message": text(doc.message),
        "set": {s.target.value: s.value.text for s in doc.sets},
        "unset": [u.value for u in doc.unsets],
        "rollout_key": text(doc.rollout_key),
    }


# Fields of a rule whose text a note names when it changed (their values: `written`).
TEXT_FIELDS: Final = ("events", "when", "unless", "message", "set", "unset", "rollout_key")


def _with_note(row: dict[str, Any]) -> dict[str, Any]:
    row["note"] = rule_note(row)
    return row


def rule_note(row: dict[str, Any]) -> str:
    """What changed in how a report's rule is written, in a few words ("" if nothing):
    ``new rule``, ``removed``, ``rollout 10% -> 50%``, ``shadow -> enforce``..."""
    old, new = row["written"]["old"], row["written"]["new"]
    if old is None or new is None:
        only = new if old is None else old
        what = "new rule" if old is None else "removed"
        if only is not None and only["rollout"] is not None:
            what += f", rollout {_pct(only['rollout'])}"
        return what
    notes = []
    for field in ("action", "mode", "enabled"):
        if old[field] != new[field]:
            notes.append(f"{field} {_word(old[field])} -> {_word(new[field])}")
    before, after = old["rollout"], new["rollout"]
    if before != after:
        notes.append(f"rollout {_pct(before)} -> {_pct(after)}")
    elif after is not None:
        notes.append(f"rollout {_pct(after)}")
    if old["expires"] != new["expires"]:
        notes.append(f"expires {new['expires'] or 'never'}")
    changed = [f for f in TEXT_FIELDS if old.get(f) != new.get(f)]
    if changed:
        notes.append("changed: " + ", ".join(changed))
    return "; ".join(notes)


def unmoved_changes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rules written otherwise on the two sides whose counts did not move: the change
    decides these events as before (a reworded message still flips them, as
    ``message_changed``)."""
    return [
        row for row in rows
        if not any(row["delta"].values())
        and row.get("written", {}).get("old") != row.get("written", {}).get("new")
    ]  # fmt: skip


def _pct(value: float | None) -> str:
    return "100%" if value is None else f"{value:g}%"


def _word(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def users_missing(report: dict[str, Any]) -> str | None:
    """ "N events read a user that was not recorded with them", or None."""
    missing = report["users_missing"]
    count = max(missing["old"], missing["new"])
    if not count:
        return None
    events = "1 event" if count == 1 else f"{count:,} events"
    return f"{events} read a user that was not recorded with {'it' if count == 1 else 'them'}"


def nothing_sampled(report: dict[str, Any]) -> str:
    """What a report says in place of samples when it has none to show."""
    if report["flips"]["total"]:
        return "No event sampled (--samples 0)."
    return "No verdict flipped."


def baseline_warning(report: dict[str, Any]) -> str | None:
    """A sentence when OLD does not answer as the service did, else None."""
    baseline = report["baseline"]
    differs = baseline["old_differs"]
    if not differs:
        return None
    recorded = ", ".join(f"{rev} ({n:,})" for rev, n in baseline["recorded_revisions"].items())
    old = report["old"]["revision"]
    if list(baseline["recorded_revisions"]) == [old]:  # OLD is what recorded them
        warning = (
            f"OLD answers {differs:,} of {report['events']:,} events otherwise than the "
            f"service did when they were recorded, under this very revision ({old}): the "
            "replay lacks something the service had, such as the user records (--users), "
            "the events of record files that are gone or of actors not sampled, or the "
            "counts from before the first record (--counters-seed)."
        )
    else:
        warning = (
            f"OLD answers {differs:,} of {report['events']:,} events otherwise than the "
            f"service did when they were recorded: is OLD (revision {old}) the version "
            f"that was running? The records name revision {recorded}."
        )
    if baseline.get("sampled"):
        note = sampled_note(baseline["sampled"], report["events"], baseline["sample"])
        warning += f" {note}."
    if baseline.get("rotated_out"):
        gaps = [(g["writer"], g["first_file"], parse_time(g["complete_from"]))
                for g in baseline["rotated_out"]]  # fmt: skip
        warning += f" {rotated_note(gaps)}."
    return warning


def _share(count: int, events: int) -> float:
    """A percent of the events, rounded for a stable report."""
    return round(100 * count / events, 4) if events else 0.0


def render_json(report: dict[str, Any]) -> str:
    """The report as indented JSON (stable key order: the order built)."""
    text = json.dumps(report, indent=2, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates in user content: escape them
        text = json.dumps(report, indent=2, ensure_ascii=True)
    return text + "\n"


def safe_text(text: str) -> str:
    """``text`` writable as UTF-8: lone surrogates (possible in user content) escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def shown_measures(rows: list[dict[str, Any]]) -> list[str]:
    """The measures a report's rule tables show: the four every rule has, and
    ``enforced`` only when a rollout rule is in the report."""
    rollout = any(
        side is not None and side["rollout"] is not None
        for row in rows
        for side in row.get("written", {}).values()  # a report of before 'written' has none
    )
    return [m for m in MEASURES if m != "enforced" or rollout]


def changed_measures(row: dict[str, Any]) -> list[str]:
    """The measures of a report's rule row that either side counted."""
    return [m for m in MEASURES if row["old"][m] or row["new"][m]]


def signed(number: int) -> str:
    return f"{number:+,}" if number else "0"


def percent(value: float) -> str:
    return f"{value:.2f}%"
