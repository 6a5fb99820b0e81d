// The Decisions view (feature "explorer", `receiver serve --console` only): the service's
// last decisions, newest first, updated live, filtered on the server; opening one shows
// its log entry and, when content was kept (`--log-content`), the event decided again on
// the current revision and on the revision that decided it, drawn by the playground's
// renderer (result.js).
//
// Live: while the view is shown and the tab visible, it polls `api/decisions?after=CURSOR`
// about once a second and puts what is new on top. Paused, it keeps asking but holds the
// new rows back and counts them; Resume shows them. Hidden (another view, another tab),
// it asks nothing.

import { ApiError, call, messageOf } from "./api.js";
import { fill, h } from "./dom.js";
import { renderDecision } from "./result.js";

const POLL_MS = 1000; // between two polls while shown
const RETRY_MS = 5000; // after a failed poll
const FILTER_DELAY_MS = 400; // typing in a filter pauses this long before it is sent
const KEEP = 300; // rows kept in the table (the server keeps its own last N)
const FILTERS = ["action", "rule", "event", "actor"];
const DETAIL_RETRIES = 4; // a 404 for an opened decision is asked again this many times
const DETAIL_RETRY_MS = 750;

/** "a1b2c3d4e5f6..." -> "a1b2c3d4" (the full one goes in a title). */
function short(revision) {
  return revision ? String(revision).slice(0, 8) : "";
}

/**
 * An entry's `time` in epoch milliseconds. The decision log writes epoch seconds with
 * millisecond decimals (1796562617.101); a value that large in seconds would be past the
 * year 5000, so anything below 1e11 is taken as seconds and anything above as ms.
 */
function epochMs(value) {
  const n = Number(value);
  if (!Number.isFinite(n)) return NaN;
  return n < 1e11 ? n * 1000 : n;
}

function clock(time) {
  const d = new Date(epochMs(time));
  if (Number.isNaN(d.getTime())) return "?";
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function isoTime(time) {
  const d = new Date(epochMs(time));
  return Number.isNaN(d.getTime()) ? String(time) : d.toISOString();
}

function badgeClass(action) {
  return `badge badge-${String(action || "none").replace(/[^a-z]+/gi, "-").toLowerCase()}`;
}

function modified(entry) {
  return Array.isArray(entry.modified_by) && entry.modified_by.length > 0;
}

function latency(ms) {
  const n = Number(ms);
  return Number.isFinite(n) ? `${n < 10 ? n.toFixed(2) : n.toFixed(1)} ms` : "?";
}

/** Build the view in `panel`; returns the callback run each time the view is shown. */
export function initExplorer(panel) {
  const state = {
    cursor: null, // the server's, from its last answer (null: ask for the newest)
    entries: new Map(), // decision_id -> entry, for the rows on screen
    held: [], // new entries received while paused, newest first
    heldCount: 0, // how many arrived while paused (held keeps the newest KEEP of them)
    paused: false,
    timer: null,
    running: false, // a poll loop is scheduled or on its way (see the end of initExplorer)
    generation: 0, // bumped when the filters change: answers to older asks are dropped
    content: null, // does the server keep content (--log-content)?
    buffer: null,
    workers: null,
    opened: null, // decision_id shown below the table
    filterTimer: null,
    failed: false,
  };

  // -- the controls --------------------------------------------------------------------
  const field = (name, label, control, help) => h("div", { class: "filter" },
    h("label", { for: `explorer-${name}` }, label), control, help || null);
  const action = h("select", { id: "explorer-action", name: "action" },
    h("option", { value: "" }, "any"), h("option", { value: "allow" }, "allow"),
    h("option", { value: "deny" }, "deny"));
  const text = (name, placeholder) => h("input", {
    id: `explorer-${name}`, name, type: "text", spellcheck: "false", autocomplete: "off", placeholder,
  });
  const rule = text("rule", "policy/rule-id");
  const event = text("event", "message.* or exact");
  const actor = text("actor", "user id");
  const rules = h("datalist", { id: "explorer-rules" });
  rule.setAttribute("list", rules.id);
  const clear = h("button", { type: "button", id: "explorer-clear" }, "Clear filters");
  const pause = h("button", { type: "button", id: "explorer-pause", "aria-pressed": "false" }, "Pause");
  const held = h("span", { id: "explorer-held", class: "held", hidden: true });
  const live = h("span", { id: "explorer-live", class: "muted" }, "");
  const said = h("p", { id: "explorer-said", class: "sr", role: "status", "aria-live": "polite" });
  const form = h("form", { class: "filters", id: "explorer-filters", "aria-label": "Filter the decisions" },
    field("action", "Action", action),
    field("rule", "Rule", rule), rules,
    field("event", "Event", event),
    field("actor", "Actor", actor),
    h("div", { class: "filter buttons" }, clear, pause, held),
    h("button", { type: "submit", hidden: true, tabindex: "-1" }, "Apply"));

  const banner = h("div", { id: "explorer-banner" });
  const caption = h("caption", { class: "sr" }, "Decisions, newest first. Open one to see it and its explanation.");
  const body = h("tbody", { id: "explorer-rows" });
  const table = h("table", { class: "decisions", id: "explorer-table" }, caption,
    h("thead", {}, h("tr", {}, ["time", "platform", "event", "actor", "action", "deciding rule", "latency", "revision"]
      .map((c) => h("th", { scope: "col" }, c)))),
    body);
  const empty = h("div", { id: "explorer-empty", class: "empty", hidden: true });
  const detail = h("section", { id: "explorer-detail", class: "explorer-detail", "aria-labelledby": "explorer-detail-h", tabindex: "-1" },
    h("h2", { id: "explorer-detail-h" }, "Decision"),
    h("p", { class: "muted" }, "Open a decision (click its row, or Tab to its time and press Enter) to see it here."));

  fill(panel,
    h("div", { class: "explorer-top" },
      h("div", { class: "explorer-head" }, h("h2", { id: "explorer-h" }, "Decisions"), live),
      form, said, banner),
    h("div", { class: "explorer-list", role: "region", "aria-labelledby": "explorer-h", tabindex: "-1" }, table, empty),
    detail);

  // -- asking the server ---------------------------------------------------------------

  function filters() {
    const out = {};
    const values = { action: action.value, rule: rule.value.trim(), event: event.value.trim(), actor: actor.value.trim() };
    for (const name of FILTERS) if (values[name]) out[name] = values[name];
    return out;
  }

  function query(extra) {
    const params = new URLSearchParams({ ...filters(), ...extra });
    const text = params.toString();
    return `api/decisions${text ? `?${text}` : ""}`;
  }

  function shown() {
    return !panel.hidden && document.visibilityState === "visible";
  }

  function schedule(delay) {
    clearTimeout(state.timer);
    state.timer = setTimeout(poll, delay);
    state.running = true;
  }

  async function poll() {
    state.timer = null;
    if (!shown()) {
      state.running = false; // onShow or the tab becoming visible starts it again
      return;
    }
    const generation = state.generation;
    let next = POLL_MS;
    try {
      const first = state.cursor === null;
      const { status: code, body: answer } = await call("GET", query(first ? { limit: String(KEEP) } : { after: state.cursor }));
      if (generation !== state.generation) return; // the filters changed meanwhile: a newer loop runs
      if (code === 200 && answer && Array.isArray(answer.entries)) {
        state.failed = false;
        receive(answer, first);
      } else if (code === 400 && !first) {
        state.cursor = null; // a cursor the server no longer knows (restarted): start again
        next = 0;
      } else {
        next = RETRY_MS;
        failure(`The decisions did not load: ${messageOf(answer, `the service answered ${code}`)}. Trying again.`);
      }
    } catch (err) {
      if (generation !== state.generation) return;
      if (err instanceof ApiError && err.kind === "unauthorized") {
        state.running = false;
        failure(err.message);
        return;
      }
      next = RETRY_MS;
      failure(`${err instanceof ApiError ? err.message : `The decisions did not load: ${err.message}.`} Trying again every ${RETRY_MS / 1000} s.`);
    }
    if (generation === state.generation) schedule(next);
  }

  function restart() {
    state.generation += 1;
    state.cursor = null;
    state.held = [];
    state.heldCount = 0;
    state.entries.clear();
    body.replaceChildren();
    showHeld();
    schedule(0);
  }

  function failure(message) {
    state.failed = true;
    fill(banner, h("p", { class: "error", role: "alert" }, message));
    live.textContent = "not updating";
  }

  // -- showing -------------------------------------------------------------------------

  function receive(answer, first) {
    state.cursor = typeof answer.cursor === "string" ? answer.cursor : state.cursor;
    state.content = answer.content === true;
    state.buffer = Number(answer.buffer) || null;
    state.workers = Number(answer.workers) || null;
    showBanner();
    const fresh = answer.entries.filter((e) => e && typeof e.decision_id === "string" && !state.entries.has(e.decision_id));
    if (state.paused && !first) {
      state.held = fresh.concat(state.held).slice(0, KEEP);
      state.heldCount += fresh.length;
      showHeld();
    } else {
      prepend(fresh, !first);
    }
    const workers = state.workers ? ` from ${state.workers} worker${state.workers === 1 ? "" : "s"}` : "";
    live.textContent = `${state.paused ? "paused" : "live"} · ${state.entries.size} shown${workers} · checked ${clock(Date.now() / 1000).slice(0, 8)}`;
    showEmpty();
  }

  // New rows go in by time, not simply on top: another worker's decision reaches the
  // worker that answers a second or two late, after newer ones of its own were shown.
  function prepend(entries, mark) {
    if (!entries.length) return;
    const sorted = entries.slice().sort((a, b) => epochMs(b.time) - epochMs(a.time));
    let at = 0; // rows before this index are newer than every entry still to place
    for (const e of sorted) {
      state.entries.set(e.decision_id, e);
      const when = epochMs(e.time);
      while (at < body.rows.length && Number(body.rows[at].dataset.time) > when) at += 1;
      body.insertBefore(row(e, mark), body.rows[at] || null);
      at += 1;
      rememberRule(e);
    }
    while (body.rows.length > KEEP) {
      const last = body.rows[body.rows.length - 1];
      state.entries.delete(last.dataset.id);
      last.remove();
    }
  }

  const seenRules = new Set();
  function rememberRule(entry) {
    addRules([entry.rule, ...(Array.isArray(entry.modified_by) ? entry.modified_by : []),
      ...(Array.isArray(entry.shadow) ? entry.shadow.map((s) => s && s.rule) : [])]);
  }

  // The Rule filter suggests every rule of the served revision (from api/health, once)
  // and any other rule a decision names.
  let rulesAsked = false;
  async function suggestRules() {
    if (rulesAsked) return;
    rulesAsked = true;
    try {
      const { status: code, body: answer } = await call("GET", "api/health");
      if (code === 200 && answer && Array.isArray(answer.rules)) addRules(answer.rules.map((r) => r && r.rule));
      else rulesAsked = false;
    } catch {
      rulesAsked = false; // suggestions only: asked again when the view is shown again
    }
  }

  function addRules(names) {
    for (const name of names) {
      if (typeof name !== "string" || !name || seenRules.has(name)) continue;
      seenRules.add(name);
      rules.appendChild(h("option", { value: name }));
    }
  }

  function row(entry, fresh) {
    const act = String(entry.action || "?");
    const open = h("button", {
      type: "button", class: "link", "aria-label": `Open the ${act} of ${entry.event || "?"} at ${clock(entry.time)}`,
      onclick: (e) => { e.stopPropagation(); openDecision(entry.decision_id); },
    }, clock(entry.time));
    const tr = h("tr", {
      class: `${fresh ? "fresh " : ""}${entry.decision_id === state.opened ? "opened" : ""}`.trim() || undefined,
      "data-id": entry.decision_id, "data-action": act, "data-time": String(epochMs(entry.time)),
      "aria-current": entry.decision_id === state.opened ? "true" : undefined,
      onclick: () => openDecision(entry.decision_id),
    },
    h("td", { title: isoTime(entry.time) }, open),
    h("td", {}, entry.platform || ""),
    h("td", {}, h("code", {}, entry.event || "")),
    h("td", {}, entry.actor === null || entry.actor === undefined ? h("span", { class: "muted" }, "none") : String(entry.actor)),
    h("td", {}, h("span", { class: badgeClass(act) }, act), modified(entry) ? h("span", { class: "tag" }, " modified") : null,
      entry.degraded ? h("span", { class: "tag warn" }, " degraded") : null,
      Array.isArray(entry.errors) && entry.errors.length ? h("span", { class: "tag error" }, " error") : null),
    h("td", {}, entry.rule ? h("code", {}, entry.rule) : h("span", { class: "muted" }, "default")),
    h("td", { class: "num" }, latency(entry.latency_ms)),
    h("td", { title: entry.revision || "" }, h("code", {}, short(entry.revision))));
    return tr;
  }

  function showHeld() {
    const n = state.heldCount;
    held.hidden = !state.paused;
    held.textContent = n ? `${n} new decision${n === 1 ? "" : "s"}` : "no new decisions";
  }

  function showBanner() {
    if (state.content === false) {
      fill(banner, h("p", { class: "note-box", id: "explorer-no-content" },
        "Content is not kept: this service runs without ", h("code", {}, "--log-content"),
        ", so the explorer shows who, what and which rule, but not the message or the data, and cannot decide a decision again. Start ",
        h("code", {}, "receiver serve --console --log-content"),
        " to keep them (in memory only, for the last decisions)."));
    } else {
      banner.replaceChildren();
    }
  }

  function showEmpty() {
    const none = state.entries.size === 0;
    empty.hidden = !none;
    if (!none) return;
    const filtered = Object.keys(filters()).length > 0;
    const kept = state.buffer ? ` (it keeps the last ${state.buffer} per worker)` : "";
    fill(empty, filtered
      ? h("p", {}, `No decision matches these filters among those the service keeps${kept}. `,
        h("button", { type: "button", class: "small", onclick: clearFilters }, "Clear filters"))
      : h("p", {}, "No decisions yet: send a request to one of the service's hooks (",
        h("code", {}, "/hooks/…"), ") and it appears here within a second or two."));
  }

  // -- pausing and filtering -----------------------------------------------------------

  function setPaused(on) {
    state.paused = on;
    pause.textContent = on ? "Resume" : "Pause";
    pause.setAttribute("aria-pressed", on ? "true" : "false");
    if (!on && state.held.length) prepend(state.held.filter((e) => !state.entries.has(e.decision_id)), true);
    if (!on) {
      state.held = [];
      state.heldCount = 0;
    }
    showHeld();
    showEmpty();
    said.textContent = on ? "Paused: new decisions are counted, not shown." : "Live again.";
  }

  function clearFilters() {
    form.reset();
    restart();
    said.textContent = "Filters cleared.";
  }

  pause.addEventListener("click", () => setPaused(!state.paused));
  clear.addEventListener("click", clearFilters);
  action.addEventListener("change", restart);
  for (const input of [rule, event, actor]) {
    input.addEventListener("input", () => {
      clearTimeout(state.filterTimer);
      state.filterTimer = setTimeout(restart, FILTER_DELAY_MS);
    });
  }
  form.addEventListener("submit", (e) => {
    e.preventDefault(); // nothing goes in a URL of the page: the filters are sent by poll()
    clearTimeout(state.filterTimer);
    restart();
  });
  // Rule health's rule names open this view filtered on the rule.
  document.addEventListener("console:decisions-of-rule", (e) => {
    if (!e.detail || typeof e.detail.rule !== "string") return;
    form.reset();
    rule.value = e.detail.rule;
    clearTimeout(state.filterTimer);
    restart();
    said.textContent = `Decisions of ${e.detail.rule}.`;
  });
  document.addEventListener("visibilitychange", () => {
    if (shown() && !state.running) schedule(0);
  });

  // -- one decision --------------------------------------------------------------------

  async function openDecision(id) {
    state.opened = id;
    for (const tr of body.rows) {
      const on = tr.dataset.id === id;
      tr.classList.toggle("opened", on);
      if (on) tr.setAttribute("aria-current", "true");
      else tr.removeAttribute("aria-current");
    }
    const entry = state.entries.get(id);
    fill(detail, h("h2", { id: "explorer-detail-h" }, "Decision ", h("code", {}, id)),
      h("p", { class: "muted", "aria-busy": "true" }, "Loading its explanation…"));
    detail.focus();
    let code;
    let answer;
    try {
      // A decision of another worker reaches the worker that answers within a second or
      // two (each shares a snapshot of its buffer): one the table shows may not be there
      // yet, so a 404 is asked again a few times before it is believed.
      for (let attempt = 0; ; attempt += 1) {
        ({ status: code, body: answer } = await call("GET", `api/decisions/${encodeURIComponent(id)}`));
        if (code !== 404 || attempt >= DETAIL_RETRIES || state.opened !== id) break;
        await new Promise((resolve) => { setTimeout(resolve, DETAIL_RETRY_MS); });
      }
    } catch (err) {
      if (state.opened !== id) return;
      fill(detail, h("h2", { id: "explorer-detail-h" }, "Decision ", h("code", {}, id)),
        entry ? entryList(entry) : null,
        h("p", { class: "error", role: "alert" }, `The explanation did not load: ${err.message}`));
      return;
    }
    if (state.opened !== id) return; // another one was opened meanwhile
    if (code === 200 && answer && answer.entry) {
      fill(detail, h("h2", { id: "explorer-detail-h" }, "Decision ", h("code", {}, id)),
        entryList(answer.entry), explanation(answer.entry, answer.explain || {}));
    } else if (code === 404) {
      fill(detail, h("h2", { id: "explorer-detail-h" }, "Decision ", h("code", {}, id)),
        entry ? entryList(entry) : null,
        h("p", { class: "note-box" }, "This decision is no longer kept by the service: newer ones took its place in its buffer. ",
          "Its log line (above) is what the table held."));
    } else {
      fill(detail, h("h2", { id: "explorer-detail-h" }, "Decision ", h("code", {}, id)),
        entry ? entryList(entry) : null,
        h("p", { class: "error", role: "alert" }, `The explanation did not load: ${messageOf(answer, `the service answered ${code}`)}`));
    }
  }

  // One poll loop at most: `running` stays true from schedule() until a poll finds the
  // view hidden (a poll on its way has no timer, so the timer alone cannot tell).
  return () => {
    if (!state.running) schedule(0);
    suggestRules();
  };
}

// -- the opened decision -------------------------------------------------------------------

const FIELDS = [
  ["time", "time", (v) => isoTime(v)],
  ["platform", "platform"],
  ["event", "event"],
  ["actor", "actor"],
  ["action", "action"],
  ["rule", "deciding rule"],
  ["modified_by", "modified by"],
  ["shadow", "shadow rules"],
  ["rollout", "rollout"],
  ["errors", "errors"],
  ["degraded", "degraded"],
  ["degraded_reason", "why degraded"],
  ["latency_ms", "latency", (v) => latency(v)],
  ["revision", "revision"],
  ["worker", "worker (pid)"],
  ["message", "message"],
];

function fieldText(value) {
  if (value === null || value === undefined || (Array.isArray(value) && !value.length)) return "none";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

/** The decision log's line for one decision, as a definition list. */
function entryList(entry) {
  const items = [];
  for (const [key, label, format] of FIELDS) {
    if (!(key in entry)) continue;
    const value = entry[key];
    if (Array.isArray(value) && !value.length && key !== "modified_by") continue;
    items.push(h("div", { class: `entry-field field-${key}` }, h("dt", {}, label), h("dd", {}, key === "action"
      ? h("span", { class: badgeClass(value) }, String(value))
      : h("code", {}, format ? format(value) : fieldText(value)))));
  }
  const data = "data" in entry
    ? h("details", { class: "entry-data" }, h("summary", {}, "Data (as received)"),
      h("pre", { class: "json", tabindex: "0", "aria-label": "The event's data" }, JSON.stringify(entry.data, null, 2)))
    : null;
  return h("section", { class: "entry", "aria-labelledby": "explorer-entry-h" },
    h("h3", { id: "explorer-entry-h" }, "Log entry"), h("dl", { class: "entry-fields" }, items), data);
}

function outcome(result) {
  const decision = (result && result.decision) || {};
  const act = String(decision.action || (result && result.answer && result.answer.action) || "?");
  return { action: act, rule: (result && result.rule) || null, message: decision.message || null };
}

function sameOutcome(a, b) {
  return a.action === b.action && a.rule === b.rule && a.message === b.message;
}

function describeOutcome(o) {
  return `${o.action}${o.rule ? ` by ${o.rule}` : " (no rule: the default)"}`;
}

/** The re-explanation: current and original side by side, or the note saying why not. */
function explanation(entry, explain) {
  const note = typeof explain.note === "string" && explain.note ? explain.note : "";
  const current = explain.current || null;
  const original = explain.original || null;
  const heading = h("h3", { id: "explorer-explain-h" }, "Decided again");
  if (!entry.explainable && !current && !original) {
    return h("section", { class: "explain", "aria-labelledby": "explorer-explain-h" }, heading,
      h("p", { class: "note-box", id: "explorer-explain-note" }, "Not decided again: the content of this event was not kept. ",
        note || "Start serve with --log-content to keep content and re-explain."));
  }
  const same = current && original && current.revision === original.revision;
  const columns = [];
  if (same) {
    columns.push(side("current", `On revision ${short(current.revision)}: the current one, and the one that decided it`, current, null));
  } else {
    columns.push(side("current", `On the current revision${current && current.revision ? ` ${short(current.revision)}` : ""}`, current,
      note || "It could not be decided on the current revision."));
    columns.push(side("original", `On the revision that decided it${entry.revision ? ` ${short(entry.revision)}` : ""}`, original,
      note || "The revision that decided it is no longer held."));
  }
  let verdict = null;
  if (current && original && !same) {
    const [a, b] = [outcome(current), outcome(original)];
    verdict = sameOutcome(a, b)
      ? h("p", { class: "compare same", id: "explorer-compare" }, `Both revisions decide the same: ${describeOutcome(a)}.`)
      : h("p", { class: "compare differ", id: "explorer-compare" },
        `The revisions decide differently: the current one ${describeOutcome(a)}, the original ${describeOutcome(b)}.`);
  }
  return h("section", { class: "explain", "aria-labelledby": "explorer-explain-h" }, heading,
    note ? h("p", { class: "muted", id: "explorer-explain-note" }, note) : null,
    verdict,
    h("div", { class: `explain-sides${columns.length > 1 ? " two" : ""}` }, columns));
}

function side(which, title, result, missing) {
  const id = `explorer-${which}-h`;
  return h("section", { class: `explain-side side-${which}`, id: `explorer-${which}`, "aria-labelledby": id },
    h("h4", { id }, title),
    result ? renderDecision(result, null, `${which}-`) : h("p", { class: "note-box missing" }, missing));
}
