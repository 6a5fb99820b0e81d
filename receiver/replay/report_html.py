"""A diff report as one self-contained HTML file (``receiver diff --format html``).

The edge of replay. Consumes the report document of :mod:`receiver.replay.report`;
produces one HTML page with everything inline: the CSS, and an SVG bar chart of the
per-rule changes (NEW minus OLD, one bar per measure, drawn by this module: no script,
no external font, image or style sheet), so that the file opens offline, in a mail
attachment or a CI artifact viewer alike. Every piece of text (rule ids, messages, user
content) goes through :func:`html.escape`. Colours keep a contrast of at least 4.5:1
on white; the page fits a 1280x800 window with the chart in the first screen.
"""

from __future__ import annotations

import html
import json
from typing import Any, Final

from receiver.replay.answers import KIND_TITLES, KINDS
from receiver.replay.compare import MEASURES
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

CHART_RULES: Final = 20  # rules drawn; the tables list more
TABLE_RULES: Final = 200
COLOURS: Final = {  # each at least 4.5:1 against white
    "decided": "#1f5fbf",
    "modified": "#7b3fbf",
    "shadow": "#8a5300",
    "errors": "#b3261e",
    "enforced": "#1b6e2e",
}
BAR: Final = 14  # px per bar
BAR_GAP: Final = 3
ROW_GAP: Final = 10
LABEL_WIDTH: Final = 300
PLOT_WIDTH: Final = 760
CHART_WIDTH: Final = LABEL_WIDTH + PLOT_WIDTH + 20
RULE_RIGHT: Final = LABEL_WIDTH + 50  # where the rule names end (text-anchor end)
# The widest a character of the chart's 12px sans-serif text draws (digits, signs and
# lower-case letters are narrower): value labels are given this much room per character
# beside the longest bars, so that none runs over a rule name or off the chart.
CHAR_WIDTH: Final = 7.5

CSS: Final = """
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:#1a1a1a;background:#fff;margin:0 auto;padding:16px 24px;max-width:1240px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:20px 0 8px}
.meta{color:#444;margin:0 0 8px}
.note{background:#fff4e5;border:1px solid #b35c00;color:#5c2e00;padding:6px 10px;margin:8px 0}
.gate{padding:6px 10px;margin:8px 0;border:1px solid}
.gate.held{background:#fdecea;border-color:#b3261e;color:#6b1510}
.gate.passed{background:#e8f5e9;border-color:#2e7d32;color:#1b4d1f}
.cards{display:flex;gap:8px;flex-wrap:wrap;margin:8px 0}
.card{border:1px solid #c8c8c8;border-radius:4px;padding:6px 12px;min-width:150px}
.card b{display:block;font-size:20px}
.card span{color:#444}
table{border-collapse:collapse;margin:6px 0}
th,td{border:1px solid #c8c8c8;padding:3px 8px;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.written{color:#444;font-size:12.5px}
.wide{overflow-x:auto}.wide td>code{white-space:nowrap}
svg{max-width:100%;height:auto}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
pre{background:#f4f4f4;border:1px solid #ddd;padding:8px;overflow-x:auto;white-space:pre-wrap;
word-break:break-word;margin:4px 0}
details{margin:6px 0}summary{cursor:pointer;font-weight:600}
.legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}
svg text{font:12px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:#1a1a1a}
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _title(kind: str) -> str:
    return _arrows(KIND_TITLES[kind])  # type: ignore[index]  # a kind


def _chart(rows: list[dict[str, Any]]) -> str:
    """The SVG bar chart of the rules' deltas, around a zero axis."""
    shown = [row for row in rows if any(row["delta"].values())][:CHART_RULES]
    if not shown:
        return "<p>No rule moved.</p>"
    biggest = max(abs(d) for row in shown for d in row["delta"].values()) or 1
    # Room for the value labels ("+232 decided") beside the longest bar on either side.
    widest = max(len(_value_label(d, m)) for row in shown for m, d in row["delta"].items() if d)
    room = widest * CHAR_WIDTH + 8
    left, right = RULE_RIGHT + 10 + room, CHART_WIDTH - room
    half = (right - left) / 2
    axis = left + half
    bars = [[m for m in MEASURES if row["delta"][m]] for row in shown]
    heights = [len(b) * (BAR + BAR_GAP) + ROW_GAP for b in bars]
    height = sum(heights) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" height="{height}" '
        f'viewBox="0 0 {CHART_WIDTH} {height}" role="img" '
        'aria-label="Per-rule change, NEW minus OLD">',
        f'<line x1="{axis:.1f}" y1="0" x2="{axis:.1f}" y2="{height - 24}" stroke="#555"/>',
        f'<text x="{axis:.1f}" y="{height - 8}" text-anchor="middle">0</text>',
        f'<text x="{axis - half:.1f}" y="{height - 8}" text-anchor="middle">-{biggest:,}</text>',
        f'<text x="{axis + half:.1f}" y="{height - 8}" text-anchor="middle">+{biggest:,}</text>',
    ]
    top = 4
    for row, measures, row_height in zip(shown, bars, heights, strict=True):
        label = row["rule"] if len(row["rule"]) <= 40 else row["rule"][:39] + "\u2026"
        middle = top + (row_height - ROW_GAP) / 2 + 4
        parts.append(
            f'<text x="{RULE_RIGHT}" y="{middle:.1f}" text-anchor="end">'
            f"<title>{esc(row['rule'])}</title>{esc(label)}</text>"
        )
        for slot, measure in enumerate(measures):
            delta = row["delta"][measure]
            y = top + slot * (BAR + BAR_GAP)
            width = max(1.0, abs(delta) / biggest * half)
            x = axis if delta > 0 else axis - width
            end, anchor = (x + width + 4, "start") if delta > 0 else (x - 4, "end")
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{BAR}" '
                f'fill="{COLOURS[measure]}"><title>{esc(row["rule"])} {measure}: '
                f"{row['old'][measure]:,} to {row['new'][measure]:,}</title></rect>"
            )
            parts.append(
                f'<text x="{end:.1f}" y="{y + BAR - 2}" text-anchor="{anchor}">'
                f"{esc(_value_label(delta, measure))}</text>"
            )
        top += row_height
    parts.append("</svg>")
    legend = "".join(
        f'<span><i style="background:{COLOURS[m]}"></i>{m}</span>' for m in shown_measures(rows)
    )
    return f'<div class="legend">{legend}</div>\n' + "\n".join(parts)


def _value_label(delta: int, measure: str) -> str:
    return f"{signed(delta)} {measure}"


def _cards(report: dict[str, Any]) -> str:
    flips, share = report["flips"], report["share"]
    cards = [("all flips", flips["total"], share["total"])]
    cards += [(_title(k), flips[k], share[k]) for k in KINDS]
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><span>{esc(title)}</span><b>{count:,}</b>'
            f"<span>{esc(percent(value))}</span></div>"
            for title, count, value in cards
        )
        + "</div>"
    )


def _event_table(report: dict[str, Any]) -> str:
    events = report["flips_by_event"]
    if not events:
        return ""
    head = "".join(f"<th>{esc(_title(k))}</th>" for k in KINDS)
    body = "".join(
        f"<tr><td><code>{esc(name)}</code></td>"
        + "".join(f'<td class="n">{kinds[k]:,}</td>' for k in KINDS)
        + "</tr>"
        for name, kinds in events.items()
    )
    return f"<h2>Flips by event</h2><table><tr><th>event</th>{head}</tr>{body}</table>"


def _flip_rule_table(report: dict[str, Any]) -> str:
    pairs = report["flips_by_rule"][:TABLE_RULES]
    if not pairs:
        return ""
    body = "".join(
        f"<tr><td>{esc(_title(p['kind']))}</td><td><code>{esc(p['old'])}</code></td>"
        f'<td><code>{esc(p["new"])}</code></td><td class="n">{p["events"]:,}</td></tr>'
        for p in pairs
    )
    return (
        "<h2>Flips by rule</h2><table><tr><th>change</th><th>OLD's rule</th>"
        f"<th>NEW's rule</th><th>events</th></tr>{body}</table>"
    )


def _arrows(text: str) -> str:
    return text.replace("->", "\u2192")


def _unmoved(rows: list[dict[str, Any]]) -> str:
    same = unmoved_changes(rows)[:TABLE_RULES]
    if not same:
        return ""
    listed = ", ".join(
        f'<code>{esc(r["rule"])}</code> <span class="written">({esc(_arrows(r["note"]))})</span>'
        for r in same
    )
    return f"<p>Written otherwise, counts as before: {listed}.</p>"


def _rule_table(rows: list[dict[str, Any]]) -> str:
    moved = [row for row in rows if any(row["delta"].values())][:TABLE_RULES]
    if not moved:
        return "<p>Every rule decided, modified, shadowed and failed as often.</p>" + _unmoved(rows)
    measures = shown_measures(rows)
    head = "".join(f'<th colspan="3">{m}</th>' for m in measures)
    sub = "<th>OLD</th><th>NEW</th><th>change</th>" * len(measures)
    body = []
    for row in moved:
        cells = "".join(
            f'<td class="n">{row["old"][m]:,}</td><td class="n">{row["new"][m]:,}</td>'
            f'<td class="n"><b>{esc(signed(row["delta"][m]))}</b></td>'
            for m in measures
        )
        note = _arrows(row["note"])
        shown = f'<br><span class="written">{esc(note)}</span>' if note else ""
        body.append(f"<tr><td><code>{esc(row['rule'])}</code>{shown}</td>{cells}</tr>")
    table = f'<table><tr><th rowspan="2">rule</th>{head}</tr><tr>{sub}</tr>{"".join(body)}</table>'
    return f'<div class="wide">{table}</div>' + _unmoved(rows)


def _pre(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=1)
    return f"<pre>{esc(text)}</pre>"


def _samples(report: dict[str, Any]) -> str:
    samples = report["samples"]
    if samples is None:
        return f"<p>{esc(report['note'])}</p>"
    out = []
    for kind in KINDS:
        chosen = samples[kind]
        if not chosen:
            continue
        title = _title(kind)
        items = []
        for number, sample in enumerate(chosen, start=1):
            items.append(
                f"<h3>#{number} <code>{esc(sample['event'])}</code> at {esc(sample['time'])}, "
                f"decision <code>{esc(sample['decision_id'])}</code></h3>"
                "<p>Event (user content):</p>"
                f"{_pre({'actor': sample['actor'], 'data': sample['data']})}"
                f"<p>OLD:</p>{_pre(sample['old'])}<p>NEW:</p>{_pre(sample['new'])}"
                f"<p>Why NEW decided so:</p>{_pre(sample['explanation'])}"
            )
        out.append(
            f"<details><summary>{esc(title)}: {len(chosen)} of {report['flips'][kind]:,} "
            f"events</summary>{''.join(items)}</details>"
        )
    return "\n".join(out) or f"<p>{esc(nothing_sampled(report))}</p>"


def _gate(report: dict[str, Any]) -> str:
    gate = report["gate"]
    if gate is None:
        return ""
    expression = f"<code>--fail-on {esc(gate['expression'])}</code>"
    if not gate["held"]:
        return f'<div class="gate passed">Gate {expression}: passed.</div>'
    parts = "".join(f"<li><code>{esc(p)}</code></li>" for p in gate["parts"])
    return (
        f'<div class="gate held">Gate {expression}: <b>held, the diff fails</b>'
        f"<ul>{parts}</ul></div>"
    )


def render_html(report: dict[str, Any]) -> str:
    """The report document as one self-contained HTML page."""
    span = report["time_span"]
    when = f", {span['first']} to {span['last']}" if span else ""
    flips = report["flips"]
    title = (
        f"receiver diff: {flips['total']:,} of {report['events']:,} verdicts flip "
        f"({percent(report['share']['total'])})"
    )
    sides = "".join(
        f"<tr><th>{name.upper()}</th><td>{esc(report[name]['described'])}</td>"
        f"<td><code>{esc(report[name]['revision'])}</code></td></tr>"
        for name in ("old", "new")
    )
    note = (
        f'<div class="note">{esc(report["note"])}</div>' if report["contains_user_content"] else ""
    )
    warning = baseline_warning(report)
    if warning:
        note += f'<div class="note">{esc(warning)}</div>'
    missing = users_missing(report)
    if missing:
        note += (
            f'<div class="note">{esc(missing)} (seen as no such user): pass '
            "<code>--users FILE</code>.</div>"
        )
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<style>{CSS}</style>
</head>
<body>
<h1>{esc(title)}</h1>
<p class="meta">Replayed {report["events"]:,} recorded events{esc(when)}.</p>
{note}
{_gate(report)}
<table>{sides}</table>
{_cards(report)}
<h2>Per-rule change (NEW minus OLD)</h2>
{_chart(report["rules"])}
<h2>Rules that moved</h2>
{_rule_table(report["rules"])}
{_flip_rule_table(report)}
{_event_table(report)}
<h2>Samples</h2>
{_samples(report)}
</body>
</html>
"""
    return safe_text(page)
