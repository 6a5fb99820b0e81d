// The Rule health view (feature "health", `receiver serve --console` only): the served
// revision and when it was loaded; per rule, its hits per minute over the last hour as a
// small bar chart with the total, and for shadow and rollout rules how often they would
// have answered differently from the live answer; rules with evaluation errors stand out;
// a totals row (decisions, errors, degraded). Each chart says its numbers in its
// aria-label, and "As a table" lists them minute by minute.
//
// Reads `api/health` each time the view is shown and every 5 s while it is shown and
// the tab is visible.

import { ApiError, call, messageOf } from "./api.js";
import { fill, h } from "./dom.js";
import { showView } from "./views.js";

const REFRESH_MS = 5000;
const SVG = "http://www.w3.org/2000/svg";
const BAR = 2; // width of one minute's bar, in SVG units
const GAP = 1;
const HEIGHT = 22;

function numbers(values) {
  return Array.isArray(values) ? values.map((v) => (Number.isFinite(Number(v)) ? Number(v) : 0)) : null;
}

function sum(values) {
  return values ? values.reduce((a, b) => a + b, 0) : 0;
}

function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs || {})) el.setAttribute(name, String(value));
  for (const child of children) if (child) el.appendChild(child);
  return el;
}

/**
 * A bar chart of one series (oldest minute left), with a second series drawn over it
 * when given (disagreements over hits). Scaled to its own largest minute; the aria-label
 * says the numbers.
 */
export function chart(series, label, { kind = "hits", over = null, overKind = "disagree" } = {}) {
  const n = series.length;
  const width = Math.max(1, n * (BAR + GAP) - GAP);
  const top = Math.max(1, ...series, ...(over || []));
  const bars = (values, cls) => svg("g", { class: cls }, ...values.map((v, i) => {
    if (!v) return null;
    const height = Math.max(1.5, (v / top) * HEIGHT);
    return svg("rect", { x: i * (BAR + GAP), y: (HEIGHT - height).toFixed(2), width: BAR, height: height.toFixed(2) });
  }));
  return svg("svg", {
    class: `spark spark-${kind}`, viewBox: `0 0 ${width} ${HEIGHT}`, width: width * 2, height: HEIGHT,
    role: "img", "aria-label": label, preserveAspectRatio: "none", focusable: "false",
  },
  svg("title", {}, document.createTextNode(label)),
  svg("line", { class: "base", x1: 0, y1: HEIGHT - 0.5, x2: width, y2: HEIGHT - 0.5 }),
  bars(series, `bars bars-${kind}`),
  over ? bars(over, `bars bars-${overKind}`) : null);
}

/** "12 hits in the last 60 minutes, at most 5 a minute, 2 this minute". */
function says(what, values, minutes) {
  const total = sum(values);
  if (!total) return `no ${what} in the last ${minutes} minutes`;
  return `${plural(total, what.replace(/s$/, ""), what)} in the last ${minutes} minutes, at most ${Math.max(...values)} in a minute, ${values[values.length - 1]} in the current minute`;
}

function hhmm(seconds) {
  const d = new Date(seconds * 1000);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

function ago(seconds) {
  const s = Math.max(0, Math.round(Date.now() / 1000 - seconds));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  return `${(s / 3600).toFixed(1)} h ago`;
}

/** Build the view in `panel`; returns the callback run each time the view is shown. */
export function initHealth(panel) {
  const state = { timer: null, loading: false, last: null };
  const activeOnly = h("input", { type: "checkbox", id: "health-active-only" });
  activeOnly.addEventListener("change", () => { if (state.last) render(state.last); });
  const summary = h("div", { id: "health-summary", class: "health-summary" }, h("p", { class: "muted" }, "Loading the rule health…"));
  const problem = h("div", { id: "health-problem" });
  const body = h("div", { id: "health-body" });
  const refreshed = h("span", { id: "health-refreshed", class: "muted" });
  fill(panel,
    h("div", { class: "health-head" }, h("h2", { id: "health-h" }, "Rule health"), refreshed,
      h("span", { class: "check" }, activeOnly, h("label", { for: activeOnly.id }, " only rules with hits, disagreements or errors"))),
    problem, summary, body);

  function shown() {
    return !panel.hidden && document.visibilityState === "visible";
  }

  function schedule(delay) {
    clearTimeout(state.timer);
    state.timer = setTimeout(refresh, delay);
  }

  async function refresh() {
    state.timer = null;
    if (!shown() || state.loading) return;
    state.loading = true;
    let next = REFRESH_MS;
    try {
      const { status: code, body: answer } = await call("GET", "api/health");
      if (code === 200 && answer && Array.isArray(answer.rules)) {
        problem.replaceChildren();
        render(answer);
        refreshed.textContent = `refreshed ${new Date().toLocaleTimeString([], { hour12: false })}, every ${REFRESH_MS / 1000} s`;
      } else {
        fill(problem, h("p", { class: "error", role: "alert" },
          `The rule health did not load: ${messageOf(answer, `the service answered ${code}`)}. Trying again.`));
      }
    } catch (err) {
      if (err instanceof ApiError && err.kind === "unauthorized") next = null;
      fill(problem, h("p", { class: "error", role: "alert" },
        err instanceof ApiError ? err.message : `The rule health did not load: ${err.message}`));
    } finally {
      state.loading = false;
    }
    if (next !== null && shown()) schedule(next);
  }

  function render(answer) {
    state.last = answer;
    const minutes = Number(answer.window && answer.window.minutes) || 60;
    const start = Number(answer.window && answer.window.start) || 0;
    const totals = answer.totals || {};
    const decisions = numbers(totals.decisions) || [];
    const errors = numbers(totals.errors) || [];
    const degraded = numbers(totals.degraded) || [];
    const rules = answer.rules.map((r) => ({
      ...r,
      hits: numbers(r.hits) || [],
      disagreements: numbers(r.disagreements),
      errors: numbers(r.errors) || [],
    }));

    fill(summary,
      h("p", { class: "revision-line" }, "Revision ", h("code", { id: "health-revision", title: answer.revision || "" }, String(answer.revision || "?").slice(0, 12)),
        answer.loaded_at ? [", loaded at ", h("time", { datetime: new Date(answer.loaded_at * 1000).toISOString() },
          new Date(answer.loaded_at * 1000).toLocaleString([], { hour12: false })), ` (${ago(answer.loaded_at)})`] : null,
        Array.isArray(answer.policies) && answer.policies.length ? `; ${plural(answer.policies.length, "policy", "policies")}: ${answer.policies.join(", ")}` : null,
        "."),
      sum(decisions) ? null : h("p", { class: "empty", id: "health-empty" }, `No decisions in the last ${minutes} minutes: send a request to `,
        h("code", {}, "/hooks/socialplus"), " or ", h("code", {}, "/hooks/braincloud"), " and its rules' hits show here."));

    const failing = rules.filter((r) => sum(r.errors) > 0);
    const header = h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "rule"), h("th", { scope: "col" }, "action"), h("th", { scope: "col" }, "mode"),
      h("th", { scope: "col" }, `hits per minute, last ${minutes} min`), h("th", { scope: "col", class: "num" }, "hits"),
      h("th", { scope: "col", class: "num" }, "would differ"), h("th", { scope: "col", class: "num" }, "errors")));
    const totalRow = h("tr", { class: "totals", id: "health-totals" },
      h("th", { scope: "row", colspan: "3" }, "All decisions",
        sum(degraded) ? h("span", { class: "warn" }, ` (${sum(degraded)} degraded)`) : null),
      h("td", {}, chart(decisions, `decisions per minute: ${says("decisions", decisions, minutes)}; ${says("errors", errors, minutes)}; ${says("degraded decisions", degraded, minutes)}`,
        { kind: "total", over: errors, overKind: "error" })),
      h("td", { class: "num" }, String(sum(decisions))),
      h("td", { class: "num" }, h("span", { class: "muted" }, "–")),
      h("td", { class: "num" }, sum(errors) ? h("strong", { class: "error" }, `⚠ ${sum(errors)}`) : "0"));
    const quiet = (r) => !sum(r.hits) && !sum(r.errors) && !(r.disagreements && sum(r.disagreements));
    const listed = activeOnly.checked ? rules.filter((r) => !quiet(r)) : rules;
    const rows = listed.map((r) => ruleRow(r, minutes));
    const hidden = rules.length - listed.length;
    fill(body,
      failing.length ? h("p", { class: "error", role: "note", id: "health-failing" },
        `⚠ ${plural(failing.length, "rule")} failed to evaluate in the last ${minutes} minutes: `,
        failing.map((r, i) => [i ? ", " : "", h("code", {}, r.rule)]), ". Their rows are marked; see the Decisions view for the errors.") : null,
      rules.length ? null : h("p", { class: "empty" }, "The served revision has no rules."),
      hidden ? h("p", { class: "help", id: "health-hidden" }, `${plural(hidden, "rule")} without hits, disagreements or errors in the hour ${hidden === 1 ? "is" : "are"} not listed.`) : null,
      h("div", { class: "health-scroll" },
        h("table", { class: "health", id: "health-table", "aria-describedby": "health-legend" },
          h("caption", { class: "sr" }, `Rules of the served revision, in policy order, with their hits per minute over the last ${minutes} minutes`),
          header, h("tbody", {}, totalRow, rows))),
      h("p", { class: "help", id: "health-legend" },
        h("span", { class: "key key-hits", "aria-hidden": "true" }), " hits (matched and decided, or modified; shadow rules: matched) ",
        h("span", { class: "key key-disagree", "aria-hidden": "true" }), " would have answered differently from the live answer (shadow rules, and rollout rules outside their share) ",
        h("span", { class: "key key-error", "aria-hidden": "true" }), " evaluation errors. Each chart is scaled to its own busiest minute."),
      asTable(start, minutes, decisions, errors, degraded, rules));
  }

  return () => {
    if (!state.timer && !state.loading) schedule(0);
  };
}

function ruleRow(r, minutes) {
  const hits = sum(r.hits);
  const errors = sum(r.errors);
  const disagree = r.disagreements ? sum(r.disagreements) : null;
  const mode = String(r.mode || "enforce");
  const rollout = r.rollout === null || r.rollout === undefined ? null : Number(r.rollout);
  const label = [`hits per minute of ${r.rule}: ${says("hits", r.hits, minutes)}`];
  if (r.disagreements) label.push(`would have answered differently: ${says("times", r.disagreements, minutes)}`);
  if (errors) label.push(`${plural(errors, "evaluation error")}`);
  const cls = ["rule-row", errors ? "has-errors" : "", r.retired ? "retired" : ""].filter(Boolean).join(" ");
  return h("tr", { class: cls, "data-rule": r.rule },
    h("th", { scope: "row" }, h("button", {
      type: "button", class: "link rule-link", title: "Show this rule's decisions",
      "aria-label": `${r.rule}: show its decisions`, onclick: () => decisionsOf(r.rule),
    }, r.rule), r.retired ? h("span", { class: "tag" }, " retired") : null),
    h("td", {}, h("span", { class: `badge badge-${String(r.action || "none").replace(/[^a-z]+/gi, "-").toLowerCase()}` }, String(r.action || "?"))),
    h("td", {}, mode === "enforce" ? "enforce" : h("span", { class: "mode" }, mode),
      rollout !== null && Number.isFinite(rollout) ? h("span", { class: "mode" }, ` rollout ${rollout}%`) : null),
    h("td", {}, chart(r.hits, label.join("; "), { kind: "hits", over: r.disagreements || (errors ? r.errors : null), overKind: r.disagreements ? "disagree" : "error" })),
    h("td", { class: "num hits" }, String(hits)),
    h("td", { class: "num" }, disagree === null ? h("span", { class: "muted", title: "only shadow and rollout rules" }, "–")
      : disagree ? h("strong", { class: "disagree" }, `≠ ${disagree}`) : "0"),
    h("td", { class: "num" }, errors ? h("strong", { class: "error" }, `⚠ ${errors}`) : "0"));
}

/** Open the Decisions view filtered on `rule` (explorer.js listens for the event). */
function decisionsOf(rule) {
  document.dispatchEvent(new CustomEvent("console:decisions-of-rule", { detail: { rule } }));
  showView("explorer", { focus: true });
}

/** Minute by minute, the same numbers the charts draw: the totals and every rule with any. */
function asTable(start, minutes, decisions, errors, degraded, rules) {
  const active = rules.filter((r) => sum(r.hits) || sum(r.errors) || (r.disagreements && sum(r.disagreements)));
  const columns = [["decisions", decisions], ["errors", errors], ["degraded", degraded]];
  for (const r of active) {
    columns.push([`${r.rule} hits`, r.hits]);
    if (r.disagreements) columns.push([`${r.rule} would differ`, r.disagreements]);
    if (sum(r.errors)) columns.push([`${r.rule} errors`, r.errors]);
  }
  const rows = [];
  for (let i = minutes - 1; i >= 0; i -= 1) {
    rows.push(h("tr", {}, h("th", { scope: "row" }, start ? hhmm(start + i * 60) : `−${minutes - 1 - i} min`),
      columns.map(([, values]) => h("td", { class: "num" }, String(values[i] || 0)))));
  }
  const quiet = rules.length - active.length;
  return h("details", { class: "as-table", id: "health-as-table" },
    h("summary", {}, "As a table"),
    h("p", { class: "help" }, `Newest minute first.${quiet ? ` ${plural(quiet, "rule")} with no hits, disagreements or errors in the window ${quiet === 1 ? "is" : "are"} left out.` : ""}`),
    h("div", { class: "health-scroll", tabindex: "0", role: "region", "aria-label": "Counts per minute (scrolls sideways)" }, h("table", { class: "minutes" },
      h("caption", { class: "sr" }, "Counts per minute, newest first"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "minute"), columns.map(([name]) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, rows))));
}
