// The console's Playground: load the workspace, edit policies with live diagnostics,
// decide a payload and show why. Entry point of the bundle (static/app.js).

import { ApiError, call, forgetToken, messageOf, onTokenNeeded } from "./api.js";
import { byId, fill, h } from "./dom.js";
import { offsetOf, payloadEditor, policyEditor, usersEditor } from "./editors.js";
import { reportsView } from "./reports.js";
import { initExplorer } from "./explorer.js";
import { initHealth } from "./health.js";
import { renderDecision } from "./result.js";
import { testsView } from "./tests.js";
import { askToken } from "./token.js";
import { currentView, registerView, startViews } from "./views.js";

const CHECK_DELAY_MS = 300; // diagnostics are fetched this long after typing pauses

// The views besides the Playground: [workspace feature, tab label, init(panel) -> onShow].
// A view's tab appears when the server's workspace lists its feature.
const VIEWS = [
  ["tests", "Tests", (panel) => testsView(panel, { files: currentFiles })],
  ["explorer", "Decisions", initExplorer],
  ["health", "Rule health", initHealth],
  ["reports", "Replay reports", reportsView],
];

const state = {
  files: [], // [{name, loaded}] in the workspace's order
  current: null, // name of the file in the policy editor
  diagnostics: [], // the last /api/check answer, all files
  examples: [],
  checkTimer: null,
  checkAbort: null,
  checkSeq: 0,
  deciding: false,
  canSave: false,
  features: [], // what the server offers besides the playground (its workspace's `features`)
};

let policy = null;
let payload = null;
let users = null;

function status(text, kind = "info") {
  const el = byId("status");
  el.className = `status status-${kind}`;
  el.textContent = text;
}

function currentFiles() {
  return state.files.map((f) => ({ name: f.name, text: policy.text(f.name, state.current) }));
}

// -- diagnostics --------------------------------------------------------------------

function diagnosticsFor(name) {
  const doc = policy.view.state.doc;
  return state.diagnostics
    .filter((d) => d.file === name)
    .map((d) => {
      const from = offsetOf(doc, d.line, d.column);
      let to = offsetOf(doc, d.end_line || d.line, d.end_column || d.column);
      if (to <= from) to = Math.min(doc.line(Math.min(Math.max(1, d.line), doc.lines)).to, from + 1);
      return {
        from,
        to: Math.max(from, to),
        severity: d.severity === "warning" ? "warning" : "error",
        source: d.code,
        message: d.hint ? `${d.message}\nhint: ${d.hint}` : d.message,
      };
    });
}

function showDiagnostics() {
  policy.mark(diagnosticsFor(state.current));
  const list = byId("diagnostics");
  const count = byId("diag-count");
  const errors = state.diagnostics.filter((d) => d.severity !== "warning").length;
  const warnings = state.diagnostics.length - errors;
  count.textContent = state.diagnostics.length
    ? `${errors} error${errors === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"}`
    : "none";
  if (!state.diagnostics.length) {
    fill(list, h("p", { class: "muted ok" }, "No problems: the policy set checks."));
  } else {
    fill(list, h("ul", { class: "diags" }, state.diagnostics.map((d) => {
      const where = `${d.file}:${d.line}:${d.column}`;
      return h("li", { class: `diag diag-${d.severity === "warning" ? "warning" : "error"}` },
        h("button", { type: "button", class: "link where", onclick: () => reveal({ file: d.file, line: d.line, column: d.column }) }, where),
        " ",
        h("span", { class: "sev" }, d.severity),
        " ",
        h("code", { class: "code" }, d.code),
        " ",
        h("span", { class: "msg" }, d.message),
        d.hint ? h("span", { class: "hint" }, ` hint: ${d.hint}`) : null);
    })));
  }
  renderFileList();
}

function scheduleCheck() {
  clearTimeout(state.checkTimer);
  state.checkTimer = setTimeout(runCheck, CHECK_DELAY_MS);
}

async function runCheck() {
  if (state.checkAbort) state.checkAbort.abort();
  const abort = new AbortController();
  state.checkAbort = abort;
  const seq = ++state.checkSeq;
  byId("diagnostics").setAttribute("aria-busy", "true");
  try {
    const { status: code, body } = await call("POST", "api/check", { files: currentFiles() }, abort.signal);
    if (seq !== state.checkSeq) return;
    if (code === 200 && body && Array.isArray(body.diagnostics)) {
      state.diagnostics = body.diagnostics;
      showDiagnostics();
      status(state.diagnostics.some((d) => d.severity !== "warning") ? "The policy set has errors." : "Checked: no errors.",
        state.diagnostics.some((d) => d.severity !== "warning") ? "error" : "ok");
    } else {
      status(`Checking failed: ${messageOf(body, `the server answered ${code}`)}`, "error");
    }
  } catch (err) {
    if (err && err.name === "AbortError") return;
    status(`Checking failed: ${err.message}`, "error");
  } finally {
    if (seq === state.checkSeq) byId("diagnostics").removeAttribute("aria-busy");
  }
}

// -- files ------------------------------------------------------------------------------

function renderFileList() {
  const list = byId("file-list");
  const focused = list.contains(document.activeElement) ? document.activeElement.dataset.file : null;
  fill(list, state.files.map((f) => {
    const errors = state.diagnostics.filter((d) => d.file === f.name && d.severity !== "warning").length;
    const changed = policy.text(f.name, state.current) !== f.loaded;
    const label = [f.name, changed ? " (changed)" : "", errors ? ` (${errors} error${errors === 1 ? "" : "s"})` : ""].join("");
    return h("li", {}, h("button", {
      type: "button",
      class: `file${f.name === state.current ? " current" : ""}`,
      "aria-current": f.name === state.current ? "true" : undefined,
      "aria-label": label,
      "data-file": f.name,
      onclick: () => openFile(f.name),
    }, h("span", { class: "name" }, f.name), changed ? h("span", { class: "dot", "aria-hidden": "true" }, " •") : null,
    errors ? h("span", { class: "count", "aria-hidden": "true" }, String(errors)) : null));
  }));
  if (focused) {
    const again = [...list.querySelectorAll("button")].find((b) => b.dataset.file === focused);
    if (again) again.focus(); // a check that lands while the list has focus keeps it there
  }
}

function openFile(name) {
  if (name === state.current) return;
  policy.show(state.current, name);
  state.current = name;
  byId("current-file").textContent = name;
  showDiagnostics();
}

function reveal(where) {
  if (!state.files.some((f) => f.name === where.file)) return;
  openFile(where.file);
  policy.reveal(where.line, where.column);
}

// -- deciding ---------------------------------------------------------------------------

function readPayload() {
  const text = payload.state.doc.toString();
  try {
    return { value: JSON.parse(text) };
  } catch (err) {
    return { error: `The payload is not valid JSON (${err.message}). Fix it in the payload editor.` };
  }
}

async function decide() {
  if (state.deciding || !policy) return;
  const out = byId("result");
  const parsed = readPayload();
  if (parsed.error) {
    fill(out, h("p", { class: "error", role: "alert" }, parsed.error));
    return;
  }
  state.deciding = true;
  const button = byId("decide");
  button.disabled = true;
  out.setAttribute("aria-busy", "true");
  status("Deciding…");
  try {
    const body = {
      files: currentFiles(),
      payload: parsed.value,
      users: users.state.doc.toString(),
      now: byId("now").value.trim(),
    };
    const { status: code, body: answer } = await call("POST", "api/decide", body);
    if (code === 200 && answer) {
      fill(out, renderDecision(answer, reveal));
      const action = answer.decision && answer.decision.action ? answer.decision.action : "decided";
      status(`Decided: ${action}${answer.rule ? ` by ${answer.rule}` : ""}.`, "ok");
    } else if (code === 422 && answer && Array.isArray(answer.diagnostics)) {
      state.diagnostics = answer.diagnostics;
      showDiagnostics();
      const n = answer.diagnostics.filter((d) => d.severity !== "warning").length;
      fill(out, h("p", { class: "error", role: "alert" },
        `The policies do not check, so nothing was decided: fix the ${n} error${n === 1 ? "" : "s"} listed under the policy editor.`));
      status("Not decided: the policy set has errors.", "error");
    } else {
      const message = messageOf(answer, `the server answered ${code}`);
      fill(out, h("p", { class: "error", role: "alert" }, `Not decided: ${message}`));
      status(`Not decided: ${message}`, "error");
    }
  } catch (err) {
    fill(out, h("p", { class: "error", role: "alert" }, `Not decided: ${err.message}`));
    status(`Not decided: ${err.message}`, "error");
  } finally {
    state.deciding = false;
    button.disabled = false;
    out.removeAttribute("aria-busy");
    byId("result").parentElement.scrollTop = 0;
  }
}

// -- saving -----------------------------------------------------------------------------

async function save() {
  status("Saving…");
  try {
    const files = currentFiles();
    const { status: code, body } = await call("POST", "api/save", { files });
    if (code === 200) {
      for (const f of state.files) f.loaded = files.find((x) => x.name === f.name).text;
      renderFileList();
      if (body && body.revision) byId("revision").textContent = `revision ${String(body.revision).slice(0, 12)}`;
      status(`Saved ${files.length} files${body && body.revision ? ` (revision ${body.revision})` : ""}.`, "ok");
    } else if (code === 422 && body && Array.isArray(body.diagnostics)) {
      state.diagnostics = body.diagnostics;
      showDiagnostics();
      status("Not saved: the policy set has errors (listed under the editor).", "error");
    } else {
      status(`Not saved: ${messageOf(body, `the server answered ${code}`)}`, "error");
    }
  } catch (err) {
    status(`Not saved: ${err.message}`, "error");
  }
}

// -- start ------------------------------------------------------------------------------

function pickExample(name) {
  const example = state.examples.find((e) => e.name === name);
  if (!example) return;
  const text = JSON.stringify(example.payload, null, 2);
  payload.dispatch({ changes: { from: 0, to: payload.state.doc.length, insert: text } });
}

function showWorkspace(ws) {
  state.files = (ws.files || []).map((f) => ({ name: f.name, loaded: f.text }));
  state.examples = Array.isArray(ws.examples) ? ws.examples : [];
  state.canSave = ws.can_save === true;
  state.features = ws.features;
  byId("revision").textContent = ws.revision
    ? `revision ${String(ws.revision).slice(0, 12)}${ws.bundle ? ` of the bundle ${ws.bundle} (read only)` : ""}`
    : "";
  byId("save").hidden = !state.canSave;
  byId("now").value = ws.now || new Date().toISOString();

  if (!state.files.length) {
    fill(byId("file-list"), h("li", { class: "muted" }, "No policy files in this folder."));
    status("The policy folder has no *.yaml policy files. Add one and reload.", "error");
  }
  for (const f of ws.files || []) policy.load(f.name, f.text);
  if (state.files.length) openFile(state.files[0].name);

  const select = byId("example");
  fill(select, state.examples.length
    ? state.examples.map((e) => h("option", { value: e.name }, e.name))
    : h("option", { value: "" }, "(no example payloads shipped)"));
  select.disabled = !state.examples.length;
  const first = state.examples[0];
  payload.dispatch({ changes: { from: 0, to: payload.state.doc.length,
    insert: first ? JSON.stringify(first.payload, null, 2) : '{\n  "eventName": "message.shouldCreate",\n  "data": {"text": "hello"},\n  "actor": {"userId": "alice"}\n}' } });
  users.dispatch({ changes: { from: 0, to: users.state.doc.length, insert: typeof ws.users === "string" ? ws.users : "" } });
}

async function loadWorkspace() {
  status("Loading the workspace…");
  byId("retry").hidden = true;
  try {
    const { status: code, body } = await call("GET", "api/workspace");
    if (code !== 200 || !body) {
      status(`The workspace did not load: ${messageOf(body, `the server answered ${code}`)}`, "error");
      byId("retry").hidden = false;
      return false;
    }
    showWorkspace(body);
    status(`${state.files.length} policy files loaded.`, "ok");
    return true;
  } catch (err) {
    status(err instanceof ApiError ? err.message : `The workspace did not load: ${err.message}`, "error");
    byId("retry").hidden = false;
    byId("token-button").hidden = !(err instanceof ApiError && err.kind === "unauthorized");
    return false;
  }
}

async function start() {
  onTokenNeeded(askToken);
  policy = policyEditor(byId("policy-editor"), { onChange: () => { scheduleCheck(); renderFileList(); }, onRun: decide });
  payload = payloadEditor(byId("payload-editor"), { doc: "", onRun: decide });
  users = usersEditor(byId("users-editor"), { doc: "", onRun: decide });

  byId("decide").addEventListener("click", decide);
  byId("save").addEventListener("click", save);
  byId("example").addEventListener("change", (e) => pickExample(e.target.value));
  byId("retry").addEventListener("click", () => boot());
  byId("token-button").addEventListener("click", () => { forgetToken(); boot(); });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && !e.defaultPrevented && currentView() === "playground") {
      e.preventDefault();
      decide();
    }
  });
  await boot();
}

let viewsStarted = false;

function startViewsOnce(features) {
  if (viewsStarted) return;
  viewsStarted = true;
  registerView("playground", "Playground");
  for (const [feature, label, init] of VIEWS) {
    if (features.includes(feature)) registerView(feature, label, init(byId(`view-${feature}`)));
  }
  startViews("playground");
}

async function boot() {
  const loaded = await loadWorkspace();
  if (loaded) {
    startViewsOnce(Array.isArray(state.features) ? state.features : []);
    byId("token-button").hidden = true;
    byId("decide").disabled = false;
  }
  // Interactive: the files are in the editor and Decide works; the first check's
  // diagnostics follow (the editor shows them when they come).
  performance.mark("console-ready");
  document.documentElement.dataset.ready = "true";
  if (loaded) await runCheck();
}

start();
