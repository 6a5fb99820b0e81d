// The Replay reports view: the `receiver diff --format json` reports of `receiver console
// --reports DIR` (GET api/reports, api/reports/NAME), or a report file opened from the
// user's disk (read here with FileReader, never sent anywhere). A report shows its two
// sides, the flips by kind and by event, the per-rule deltas as a bar chart (SVG, with
// the same numbers in a table), the samples with both decisions and the explanation, and
// the gate's result. Kinds and measures are named as replay names them (the server's
// api/reports gives KINDS, KIND_TITLES and MEASURES; a report's own keys otherwise).

import { ApiError, call, messageOf } from "./api.js";
import { fill, h } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const MAX_FILE_BYTES = 16 * 1024 * 1024; // as the server's limit

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs || {})) el.setAttribute(name, String(value));
  for (const child of children) {
    if (child === null || child === undefined) continue;
    el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function signed(n) {
  return n > 0 ? `+${n}` : String(n);
}

function titleOf(names, kind) {
  const found = (names.kinds || []).find((k) => k.kind === kind);
  return found ? found.title : kind.replaceAll("_", " ");
}

function kindsOf(names, report) {
  const known = (names.kinds || []).map((k) => k.kind);
  const inReport = Object.keys(report.flips || {}).filter((k) => k !== "total");
  return [...known.filter((k) => inReport.includes(k)), ...inReport.filter((k) => !known.includes(k))];
}

function measuresOf(names, report) {
  const known = names.measures || [];
  const inReport = [...new Set((report.rules || []).flatMap((r) => Object.keys(r.delta || {})))];
  return [...known.filter((m) => inReport.includes(m)), ...inReport.filter((m) => !known.includes(m))];
}

/** The report is one `receiver diff --format json` wrote (version 1)? */
export function isReport(doc) {
  return !!doc && typeof doc === "object" && doc.diff === 1 && doc.flips && typeof doc.flips === "object" && Array.isArray(doc.rules);
}

// -- the parts of a report --------------------------------------------------------------

function sides(report) {
  const side = (label, s) => h("div", { class: "side-card" },
    h("h4", {}, label), h("p", {}, (s && s.described) || "?"),
    h("p", { class: "muted" }, "revision ", h("code", {}, (s && s.revision) || "?")));
  const span = report.time_span ? `, ${report.time_span.first} to ${report.time_span.last}` : "";
  return [
    h("div", { class: "sides" }, side("Old", report.old), h("span", { class: "arrow", "aria-hidden": "true" }, "→"), side("New", report.new)),
    h("p", {}, `${Number(report.events || 0).toLocaleString("en")} events replayed${span}.`),
  ];
}

function gate(report) {
  const g = report.gate;
  if (!g) return h("p", { class: "muted" }, "No gate (receiver diff ran without --fail-on).");
  return h("div", { class: `gate ${g.held ? "gate-held" : "gate-passed"}`, role: "note" },
    h("strong", {}, g.held ? "Gate held: " : "Gate passed: "), h("code", {}, g.expression),
    g.held && g.parts && g.parts.length ? h("ul", {}, g.parts.map((p) => h("li", {}, p))) : null);
}

function flipsTable(names, report) {
  const kinds = kindsOf(names, report);
  const share = report.share || {};
  return h("table", { class: "diff flips", id: "report-flips" },
    h("caption", {}, `Flips: ${report.flips.total} of ${report.events} events (${share.total ?? 0}%)`),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "kind"), h("th", { scope: "col" }, "events"), h("th", { scope: "col" }, "share"))),
    h("tbody", {}, kinds.map((k) => h("tr", { class: report.flips[k] ? "" : "muted" },
      h("th", { scope: "row" }, titleOf(names, k)), h("td", { class: "num" }, String(report.flips[k])), h("td", { class: "num" }, `${share[k] ?? 0}%`)))));
}

function byEventTable(names, report) {
  const events = Object.entries(report.flips_by_event || {});
  if (!events.length) return null;
  const kinds = kindsOf(names, report);
  return h("table", { class: "diff by-event" },
    h("caption", {}, "Flips by event"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "event"), kinds.map((k) => h("th", { scope: "col" }, titleOf(names, k))))),
    h("tbody", {}, events.map(([event, counts]) => h("tr", {},
      h("th", { scope: "row" }, h("code", {}, event)), kinds.map((k) => h("td", { class: "num" }, String(counts[k] ?? 0)))))));
}

/** One bar per rule and measure that changed, from a zero line: right for more, left for fewer. */
function deltaChart(names, report) {
  const measures = measuresOf(names, report);
  const bars = [];
  for (const row of report.rules || []) {
    for (const m of measures) {
      const d = (row.delta || {})[m] || 0;
      if (d) bars.push({ rule: row.rule, measure: m, delta: d });
    }
  }
  if (!bars.length) return h("p", { class: "muted" }, "No rule decided, modified, shadowed or failed differently.");
  const max = Math.max(...bars.map((b) => Math.abs(b.delta)));
  const labelW = 330, barW = 300, rowH = 22, pad = 6;
  const width = labelW + 2 * barW + 60;
  const height = bars.length * rowH + 2 * pad + 16;
  const zero = labelW + barW;
  const chart = svg("svg", { class: "delta-chart", id: "report-chart", viewBox: `0 0 ${width} ${height}`, width, height,
    role: "img", "aria-labelledby": "report-chart-title report-chart-desc" },
  svg("title", { id: "report-chart-title" }, "Per-rule deltas, new minus old"),
  svg("desc", { id: "report-chart-desc" }, "The same numbers are in the table below the chart."),
  svg("line", { x1: zero, x2: zero, y1: pad, y2: height - pad - 14, class: "zero" }));
  bars.forEach((b, i) => {
    const y = pad + i * rowH;
    const len = Math.max(2, Math.round((barW * Math.abs(b.delta)) / max));
    const x = b.delta > 0 ? zero : zero - len;
    chart.appendChild(svg("text", { x: labelW - 8, y: y + rowH / 2 + 4, "text-anchor": "end", class: "bar-label" }, `${b.rule} · ${b.measure}`));
    chart.appendChild(svg("rect", { x, y: y + 3, width: len, height: rowH - 6, class: b.delta > 0 ? "bar-up" : "bar-down" }));
    chart.appendChild(svg("text", { x: b.delta > 0 ? x + len + 4 : x - 4, y: y + rowH / 2 + 4, "text-anchor": b.delta > 0 ? "start" : "end", class: "bar-value" }, signed(b.delta)));
  });
  chart.appendChild(svg("text", { x: zero, y: height - pad, "text-anchor": "middle", class: "bar-axis" }, "0"));
  return chart;
}

function rulesTable(names, report) {
  const measures = measuresOf(names, report);
  return h("details", { class: "rules-table" },
    h("summary", {}, "The per-rule numbers as a table"),
    h("table", { class: "diff", id: "report-rules" },
      h("caption", { class: "sr" }, "Per rule and measure: old, new and the delta"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "rule"), measures.map((m) => h("th", { scope: "col" }, `${m} (old → new, delta)`)))),
      h("tbody", {}, (report.rules || []).map((row) => h("tr", {},
        h("th", { scope: "row" }, h("code", {}, row.rule), row.note ? [h("br"), h("span", { class: "muted rule-note" }, row.note.replaceAll("->", "→"))] : null),
        measures.map((m) => {
          const d = (row.delta || {})[m] || 0;
          return h("td", { class: `num ${d ? "changed" : "muted"}` }, `${(row.old || {})[m] ?? 0} → ${(row.new || {})[m] ?? 0} (${signed(d)})`);
        }))))));
}

function decisionCard(label, d) {
  if (!d) return h("div", { class: "decision-card" }, h("h5", {}, label), h("p", { class: "muted" }, "(none)"));
  return h("div", { class: "decision-card" },
    h("h5", {}, label),
    h("p", {}, h("span", { class: `badge badge-${d.action}` }, d.action), d.rule ? [" by ", h("code", {}, d.rule)] : " (no rule)"),
    d.message ? h("p", { class: "message" }, d.message) : null,
    d.modified_by && d.modified_by.length ? h("p", {}, "modified by ", h("code", {}, d.modified_by.join(", "))) : null,
    d.data !== undefined ? h("pre", { class: "json" }, JSON.stringify(d.data, null, 2)) : null);
}

function samples(names, report) {
  if (!report.samples) return h("p", { class: "muted" }, report.note || "This report has no samples (receiver diff --no-samples).");
  return [
    report.note ? h("p", { class: "warn" }, report.note) : null,
    kindsOf(names, report).map((k) => {
      const list = report.samples[k] || [];
      if (!list.length) return null;
      return h("section", { class: "samples", "aria-label": `Samples: ${titleOf(names, k)}` },
        h("h4", {}, `${titleOf(names, k)}: ${list.length} sample${list.length === 1 ? "" : "s"}`),
        h("ul", { class: "plain" }, list.map((s) => h("li", { class: "sample" },
          h("details", {},
            h("summary", {}, h("code", {}, s.event), " ", h("span", { class: "muted" }, `${s.decision_id} · ${s.time} · ${s.source || ""}`)),
            h("div", { class: "sample-decisions" }, decisionCard("Old", s.old), decisionCard("New", s.new)),
            h("p", {}, "actor ", h("code", {}, JSON.stringify(s.actor))),
            h("pre", { class: "json", "aria-label": "The event's data" }, JSON.stringify(s.data, null, 2)),
            s.explanation ? h("details", {}, h("summary", {}, "Explanation (new side)"), h("pre", { class: "json" }, s.explanation)) : null)))));
    }),
  ];
}

function renderReport(names, report, from) {
  const warn = report.baseline && report.baseline.old_differs
    ? h("p", { class: "warn" }, `OLD answers ${report.baseline.old_differs} events otherwise than the service did when they were recorded: is OLD the version that was running?`)
    : null;
  return h("article", { class: "report", "aria-labelledby": "report-h" },
    h("h3", { id: "report-h" }, `Report ${from}`),
    sides(report), gate(report), warn,
    h("div", { class: "report-grid" }, flipsTable(names, report), byEventTable(names, report)),
    h("h4", {}, "Per-rule deltas (new − old)"),
    deltaChart(names, report), rulesTable(names, report),
    h("h4", {}, "Samples"), samples(names, report));
}

// -- the view ---------------------------------------------------------------------------

/** Build the Replay reports view in `panel`; returns the onShow callback. */
export function reportsView(panel) {
  let names = { kinds: [], measures: [] };
  const list = h("div", { id: "reports-list" }, h("p", { class: "muted" }, "Loading the reports…"));
  const shown = h("div", { id: "report", "aria-live": "polite" },
    h("p", { class: "muted" }, "Open a report: pick one from the folder, or open a file made by ", h("code", {}, "receiver diff --format json -o FILE"), "."));
  const input = h("input", { id: "report-file", type: "file", accept: ".json,application/json", "aria-describedby": "report-file-help" });

  function showError(message) {
    fill(shown, h("p", { class: "error", role: "alert" }, message));
  }

  function show(report, from) {
    if (!isReport(report)) {
      showError(`${from} is not a receiver diff report (version 1): make one with “receiver diff OLD NEW RECORDS --format json -o FILE”.`);
      return;
    }
    fill(shown, renderReport(names, report, from));
  }

  function mark(name) {
    for (const button of list.querySelectorAll("button.report-item")) {
      if (button.dataset.report === name) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
  }

  async function open(name) {
    mark(name);
    fill(shown, h("p", { class: "muted" }, `Opening ${name}…`));
    try {
      const { status, body } = await call("GET", `api/reports/${encodeURIComponent(name)}`);
      if (status === 200) show(body.report, name);
      else showError(`${name} did not open: ${messageOf(body, `the server answered ${status}`)}`);
    } catch (err) {
      showError(err instanceof ApiError ? err.message : `${name} did not open: ${err.message}`);
    }
  }

  input.addEventListener("change", () => {
    const file = input.files && input.files[0];
    if (!file) return;
    if (file.size > MAX_FILE_BYTES) {
      showError(`${file.name} is larger than 16 MiB, the console's limit for a report.`);
      return;
    }
    const reader = new FileReader();
    reader.onerror = () => showError(`${file.name} could not be read.`);
    reader.onload = () => {
      let doc;
      try {
        doc = JSON.parse(String(reader.result));
      } catch {
        showError(`${file.name} is not JSON: is it a receiver diff --format json report?`);
        return;
      }
      mark(null);
      show(doc, `${file.name} (opened from your disk)`);
    };
    reader.readAsText(file);
  });

  fill(panel,
    h("div", { class: "tests-bar" }, h("h2", { id: "reports-h" }, "Replay reports")),
    h("p", { class: "help" }, "What a policy change would have done to recorded traffic: the reports ",
      h("code", {}, "receiver diff OLD NEW RECORDS --format json"), " writes."),
    h("div", { class: "reports-layout" },
      h("nav", { class: "reports-nav", "aria-label": "Reports" },
        h("h3", {}, "In the reports folder"), list,
        h("h3", {}, h("label", { for: "report-file" }, "Open a report file")), input,
        h("p", { id: "report-file-help", class: "help" }, "Read in this browser; it is not uploaded.")),
      shown));

  let loaded = false;
  async function load() {
    try {
      const { status, body } = await call("GET", "api/reports");
      if (status !== 200) {
        fill(list, h("p", { class: "error" }, `The reports did not load: ${messageOf(body, `the server answered ${status}`)}`));
        return;
      }
      names = { kinds: body.kinds || [], measures: body.measures || [] };
      loaded = true;
      if (!body.folder) {
        fill(list, h("p", { class: "muted" }, "No folder: start the console with ", h("code", {}, "--reports DIR"), " to list the reports in DIR."));
      } else if (!body.reports.length) {
        fill(list, h("p", { class: "muted" }, "No receiver diff reports (*.json) in the folder yet."));
      } else {
        fill(list, h("ul", { class: "plain report-list" }, body.reports.map((r) => h("li", {},
          h("button", { type: "button", class: "report-item", "data-report": r.name, onclick: () => open(r.name) },
            h("span", { class: "name" }, r.name),
            h("span", { class: "muted" }, ` ${r.flips} flips in ${r.events} events${r.gate_held === true ? " · gate held" : ""}`))))));
      }
    } catch (err) {
      fill(list, h("p", { class: "error" }, err instanceof ApiError ? err.message : `The reports did not load: ${err.message}`));
    }
  }

  return () => {
    if (!loaded) load();
  };
}
