// Rendering a decision from POST /api/decide: the verdict and its rule, the answer JSON,
// the changed data as before/after per path, the trace as a tree of <details> (one node
// per rule considered, its sub-expression values as children), shadow results, errors
// and counters. Built from DOM nodes only: nothing here is parsed as HTML.

import { h } from "./dom.js";

/** "file:line:col" -> {file, line, column}, or null. */
export function parseLocation(text) {
  const m = /^(.*):(\d+):(\d+)$/.exec(text || "");
  return m ? { file: m[1], line: Number(m[2]), column: Number(m[3]) } : null;
}

function shown(value) {
  if (value === undefined) return "(not set)";
  return JSON.stringify(value);
}

// Ids inside a rendered decision start with this prefix ("" in the playground), so that
// several decisions can be on the page at once (the explorer's current and original).
let prefix = "";

function section(id, title, ...body) {
  const own = `${prefix}${id}`;
  return h("section", { class: "out", "aria-labelledby": own }, h("h3", { id: own }, title), ...body);
}

function locationButton(location, reveal, label) {
  const where = parseLocation(location);
  if (!where || !reveal) return null; // no editor to show it in
  return h(
    "button",
    { type: "button", class: "link", onclick: () => reveal(where), title: "Show this rule in the policy editor" },
    label || location,
  );
}

function valueNode(value) {
  const line = [h("code", { class: "expr" }, value.expr), h("span", { class: "arrow", "aria-hidden": "true" }, " → "),
    h("span", { class: "sr" }, " is "), h("code", { class: "value" }, value.value)];
  const children = Array.isArray(value.children) ? value.children : [];
  if (!children.length) return h("li", { class: "leaf" }, line);
  return h("li", {}, h("details", { open: true }, h("summary", {}, line), h("ul", { class: "values" }, children.map(valueNode))));
}

function outcomeClass(outcome) {
  return `outcome outcome-${String(outcome || "").replace(/[^a-z]+/gi, "-").toLowerCase()}`;
}

function ruleNode(step, decidingRule, reveal) {
  const deciding = step.rule === decidingRule && step.outcome === "matched";
  const values = Array.isArray(step.values) ? step.values : [];
  const summary = h(
    "summary",
    {},
    h("span", { class: outcomeClass(step.outcome) }, step.outcome),
    " ",
    h("code", { class: "rule" }, step.rule),
    " ",
    h("span", { class: "action" }, step.action),
    step.mode && step.mode !== "enforce" ? h("span", { class: "mode" }, ` (${step.mode})`) : null,
    deciding ? h("span", { class: "deciding" }, " deciding rule") : null,
  );
  const body = [];
  if (step.note) body.push(h("p", { class: "note" }, step.note));
  if (step.rollout) body.push(h("p", { class: "note" }, step.rollout));
  if (values.length) body.push(h("ul", { class: "values", "aria-label": `values of ${step.rule}` }, values.map(valueNode)));
  else body.push(h("p", { class: "muted" }, step.outcome === "skipped" ? "Not tested: the index skipped it." : "No values recorded."));
  const at = locationButton(step.location, reveal, `Defined at ${step.location}`);
  if (at) body.push(h("p", {}, at));
  return h("li", {}, h("details", { class: deciding ? "rule-step deciding-step" : "rule-step", open: deciding, "data-rule": step.rule }, summary, ...body));
}

function traceSection(trace, decidingRule, reveal) {
  const rules = Array.isArray(trace && trace.rules) ? trace.rules : [];
  if (!rules.length) {
    return section("trace-h", "Trace", h("p", { class: "muted" }, `No rule applies to ${trace && trace.event ? trace.event : "this event"}.`));
  }
  const tree = h("ul", { class: "trace", "aria-label": "Rules considered, in order" }, rules.map((s) => ruleNode(s, decidingRule, reveal)));
  const later = Number(trace.not_reached) || 0;
  const toggle = (open) => () => tree.querySelectorAll("details").forEach((d) => { d.open = open; });
  return section(
    "trace-h",
    "Trace",
    h("p", {}, `Event `, h("code", {}, trace.event || "?"), `: ${rules.length} rule${rules.length === 1 ? "" : "s"} considered. `,
      h("button", { type: "button", class: "small", onclick: toggle(true) }, "Expand all"), " ",
      h("button", { type: "button", class: "small", onclick: toggle(false) }, "Collapse all")),
    tree,
    later ? h("p", { class: "muted" }, `${later} later rule${later === 1 ? " was" : "s were"} not reached: evaluation stopped at the deciding rule.`) : null,
  );
}

function diffSection(diff) {
  const rows = Array.isArray(diff) ? diff : [];
  if (!rows.length) return section("diff-h", "Changed data", h("p", { class: "muted" }, "No data changed."));
  return section(
    "diff-h",
    "Changed data",
    h("table", { class: "diff" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "path"), h("th", { scope: "col" }, "before"), h("th", { scope: "col" }, "after"))),
      h("tbody", {}, rows.map((r) => h("tr", {},
        h("th", { scope: "row" }, h("code", {}, r.path), r.change ? h("span", { class: "muted" }, ` ${r.change}`) : null),
        h("td", { class: "before" }, h("code", {}, shown(r.change === "added" || !("before" in r) ? undefined : r.before))),
        h("td", { class: "after" }, h("code", {}, shown(r.change === "removed" || !("after" in r) ? undefined : r.after))))))),
  );
}

function describe(item) {
  if (item === null || typeof item !== "object") return String(item);
  const parts = [];
  for (const [key, value] of Object.entries(item)) {
    if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) continue;
    parts.push(`${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
  }
  return parts.join(" · ");
}

function listSection(id, title, items, empty) {
  if (!items.length) return empty ? section(id, title, h("p", { class: "muted" }, empty)) : null;
  return section(id, title, h("ul", { class: "plain" }, items.map((i) => h("li", {}, describe(i)))));
}

/**
 * The whole result panel for one decision. `reveal(where)` shows a rule's definition in
 * the policy editor (null: no links to it); `idPrefix` starts every id inside.
 */
export function renderDecision(result, reveal, idPrefix = "") {
  prefix = idPrefix;
  try {
    return renderResult(result, reveal);
  } finally {
    prefix = "";
  }
}

function renderResult(result, reveal) {
  const decision = result.decision || {};
  const action = String(decision.action || (result.answer && result.answer.action) || "?");
  const rule = result.rule || null;
  const rules = (result.trace && Array.isArray(result.trace.rules)) ? result.trace.rules : [];
  const step = rule ? rules.find((s) => s.rule === rule) : null;
  const modifiedBy = Array.isArray(decision.modified_by) ? decision.modified_by.map(String) : [];
  const verdict = h(
    "div",
    { class: "verdict", id: `${prefix}verdict` },
    h("span", { class: `badge badge-${action.replace(/[^a-z]+/gi, "-").toLowerCase()}` }, action.toUpperCase()),
    " ",
    rule ? h("span", {}, "by rule ", h("code", { id: `${prefix}deciding-rule` }, rule)) : h("span", { class: "muted" }, "no rule decided: the default answer"),
    modifiedBy.length ? h("p", { class: "message" }, "Data changed by ", modifiedBy.map((r, i) => [i ? ", " : "", h("code", {}, r)])) : null,
    step ? [" ", locationButton(step.location, reveal, "show in editor")] : null,
    decision.message ? h("p", { class: "message" }, "Message: ", h("q", {}, decision.message)) : null,
    decision.degraded ? h("p", { class: "warn" }, "Degraded: an input (user directory or counters) was unavailable.") : null,
  );
  const shadow = (result.trace && Array.isArray(result.trace.shadow)) ? result.trace.shadow
    : (Array.isArray(decision.shadow) ? decision.shadow : []);
  const errors = (result.trace && Array.isArray(result.trace.errors)) ? result.trace.errors
    : (Array.isArray(decision.errors) ? decision.errors : []);
  const counters = Array.isArray(result.counters) ? result.counters : [];
  return [
    verdict,
    section("answer-h", "Answer", h("pre", { class: "json", tabindex: "0", "aria-label": "Answer JSON" }, JSON.stringify(result.answer, null, 2))),
    diffSection(result.data_diff),
    traceSection(result.trace, rule, reveal),
    listSection("shadow-h", "Shadow rules", shadow, "No shadow rule matched."),
    listSection("errors-h", "Errors", errors, "No rule failed."),
    listSection("counters-h", "Counters", counters, null),
  ];
}
