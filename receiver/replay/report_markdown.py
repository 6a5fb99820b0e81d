"""A diff report as Markdown, for a pull-request comment (``receiver diff --format markdown``).

The edge of replay. Consumes the report document of :mod:`receiver.replay.report`;
produces GitHub-flavoured Markdown: a summary table of the flips, a table of the rules
that moved, and the samples folded in ``<details>`` blocks. Policy and rule ids are
escaped for table cells; user content only ever appears inside fenced code blocks whose
fence is longer than any run of backticks in it, so that it cannot end the block, and
HTML in it is never rendered.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any, Final

from receiver.replay.answers import KIND_TITLES, KINDS
from receiver.replay.report import (
    baseline_warning,
    nothing_sampled,
    percent,
    safe_text,
    shown_measures,
    signed,
    unmoved_changes,
    users_missing,
)

MAX_RULES: Final = 50
# GitHub refuses a comment over 65,536 characters; the rest is room for what CI adds.
COMMENT_LIMIT: Final = 60_000
CUT_NOTE: Final = (
    "{what} left out to keep this comment within GitHub's 65,536 characters: "
    "`--format html` or `--format text` has them all."
)
ARROW: Final = "\u2192"


def cell(text: str) -> str:
    """``text`` as inline code in a table cell (pipes, backticks and HTML neutralised)."""
    text = text.replace("\n", " ").replace("|", "\\|")
    fence = "`" * (max((len(r) for r in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def fenced(text: str, language: str = "") -> str:
    """``text`` in a fenced code block that nothing in it can close."""
    longest = max((len(r) for r in re.findall(r"`{3,}", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def _title(kind: str) -> str:
    return KIND_TITLES[kind].replace("->", ARROW)  # type: ignore[index]  # a kind


def _summary(report: dict[str, Any]) -> list[str]:
    flips, share = report["flips"], report["share"]
    lines = [
        "| change | events | share |",
        "|---|---:|---:|",
    ]
    for kind in KINDS:
        lines.append(f"| {_title(kind)} | {flips[kind]:,} | {percent(share[kind])} |")
    lines.append(f"| **all flips** | **{flips['total']:,}** | **{percent(share['total'])}** |")
    return lines


def _by_event(report: dict[str, Any]) -> list[str]:
    events = report["flips_by_event"]
    if not events:
        return []
    lines = ["| event | " + " | ".join(_title(k) for k in KINDS) + " |",
             "|---|" + "---:|" * len(KINDS)]  # fmt: skip
    for name, kinds in events.items():
        lines.append(f"| {cell(name)} | " + " | ".join(f"{kinds[k]:,}" for k in KINDS) + " |")
    return lines


def _by_rule(report: dict[str, Any]) -> list[str]:
    pairs = report["flips_by_rule"]
    if not pairs:
        return []
    lines = ["| change | OLD's rule | NEW's rule | events |", "|---|---|---|---:|"]
    for pair in pairs[:MAX_RULES]:
        lines.append(
            f"| {_title(pair['kind'])} | {cell(pair['old'])} | {cell(pair['new'])} | "
            f"{pair['events']:,} |"
        )
    if len(pairs) > MAX_RULES:
        lines += ["", f"_{len(pairs) - MAX_RULES:,} more in the JSON report._"]
    return lines


def _sides(report: dict[str, Any]) -> list[str]:
    lines = ["| | policies | revision |", "|---|---|---|"]
    for name in ("old", "new"):
        side = report[name]
        lines.append(f"| {name.upper()} | {cell(side['described'])} | {cell(side['revision'])} |")
    return lines


def _rules(report: dict[str, Any]) -> list[str]:
    moved = [row for row in report["rules"] if any(row["delta"].values())]
    if not moved:
        lines = ["No rule moved: each decided, modified, shadowed and failed as often."]
        return lines + _unmoved(report)
    measures = shown_measures(report["rules"])
    head = " | ".join(measures)
    lines = [f"| rule | {head} |", "|---|" + "---:|" * len(measures)]
    for row in moved[:MAX_RULES]:
        cells = []
        for m in measures:
            old, new, delta = row["old"][m], row["new"][m], row["delta"][m]
            cells.append(f"{old:,} {ARROW} {new:,} (**{signed(delta)}**)" if delta else f"{new:,}")
        note = row["note"].replace("->", ARROW)
        name = cell(row["rule"]) + (f"<br>*{note}*" if note else "")  # note: no user text
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if len(moved) > MAX_RULES:
        lines.append(f"\n{len(moved) - MAX_RULES} more rules moved (`--format json` lists all).")
    return lines + _unmoved(report)


def _unmoved(report: dict[str, Any]) -> list[str]:
    same = unmoved_changes(report["rules"])[:MAX_RULES]
    if not same:
        return []
    listed = ", ".join(f"{cell(r['rule'])} (*{r['note'].replace('->', ARROW)}*)" for r in same)
    return [f"\nWritten otherwise, counts as before: {listed}."]


def _decision(decision: dict[str, Any]) -> str:
    shown = {k: decision.get(k) for k in ("action", "rule", "message", "modified_by")}
    if decision.get("data") is not None:
        shown["data"] = decision["data"]
    return json.dumps(shown, ensure_ascii=False)


def _samples(report: dict[str, Any], detail: str = "full") -> list[str]:
    """The samples folded per kind; ``detail`` "short" leaves the explanations out, and
    "none" the samples (what fits a comment, :func:`render_markdown`)."""
    samples = report["samples"]
    if samples is None:
        return [f"_{report['note']}_"]
    if detail == "none":
        return [f"_{CUT_NOTE.format(what='The samples are')}_"]
    lines: list[str] = []
    if detail == "short":
        lines += [f"_{CUT_NOTE.format(what='Their explanations are')}_", ""]
    for kind in KINDS:
        chosen = samples[kind]
        if not chosen:
            continue
        lines += [
            "<details>",
            f"<summary>{html.escape(_title(kind))}: {len(chosen)} of "
            f"{report['flips'][kind]:,} events</summary>",
            "",
        ]
        for number, sample in enumerate(chosen, start=1):
            lines += [
                f"**#{number}** {cell(sample['event'])} at {sample['time']}, decision "
                f"{cell(sample['decision_id'])}",
                "",
                "Event (user content):",
                "",
                fenced(
                    json.dumps(
                        {"actor": sample["actor"], "data": sample["data"]},
                        ensure_ascii=False,
                        indent=1,
                    ),
                    "json",
                ),
                "",
                "OLD:",
                "",
                fenced(_decision(sample["old"]), "json"),
                "",
                "NEW:",
                "",
                fenced(_decision(sample["new"]), "json"),
                "",
            ]
            if detail == "full":
                lines += ["Why NEW decided so:", "", fenced(sample["explanation"], "text"), ""]
        lines += ["</details>", ""]
    return lines or [nothing_sampled(report)]


def _gate(report: dict[str, Any]) -> list[str]:
    gate = report["gate"]
    if gate is None:
        return []
    expression = cell(gate["expression"])
    if not gate["held"]:
        return [f"**Gate** {expression}: passed."]
    return [f"**Gate** {expression}: **held, the diff fails**:", ""] + [
        f"- {cell(part)}" for part in gate["parts"]
    ]


def render_markdown(report: dict[str, Any], limit: int = COMMENT_LIMIT) -> str:
    """The report document as Markdown for a pull-request comment: within ``limit``
    characters if leaving out the samples' explanations, then the samples, can make it
    fit (a longer comment is refused by GitHub)."""
    for detail in ("full", "short"):
        text = _render(report, detail)
        if len(text) <= limit:
            return text
    return _render(report, "none")


def _render(report: dict[str, Any], detail: str) -> str:
    span = report["time_span"]
    when = f", {span['first']} to {span['last']}" if span else ""
    flips = report["flips"]
    lines = [
        f"### receiver diff: {flips['total']:,} of {report['events']:,} verdicts flip "
        f"({percent(report['share']['total'])})",
        "",
        f"Replayed {report['events']:,} recorded events{when}.",
        "",
    ]
    if report["contains_user_content"]:
        lines += [f"> **Warning:** {report['note']}", ""]
    warning = baseline_warning(report)
    if warning:
        lines += [f"> **Warning:** {warning}", ""]
    missing = users_missing(report)
    if missing:
        lines += [f"> {missing}: pass `--users`.", ""]
    lines += [*_sides(report), "", *_summary(report), ""]
    by_event = _by_event(report)
    if by_event:
        lines += ["#### Flips by event", "", *by_event, ""]
    by_rule = _by_rule(report)
    if by_rule:
        lines += ["#### Flips by rule", "", *by_rule, ""]
    gate = _gate(report)
    if gate:
        lines += [*gate, ""]
    lines += ["#### Rules that moved", "", *_rules(report), "", "#### Samples", ""]
    lines += _samples(report, detail)
    return safe_text("\n".join(lines).rstrip("\n") + "\n")
