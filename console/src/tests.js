// The Tests view: run the policy folder's *.test.yaml files against the policies as
// edited (POST api/test, the runner of `receiver test`), then show the summary, the
// failures first with what differs (expected and got, per field), the cases that
// passed, broken test files, and the coverage: rules per policy, hit or not and by which
// cases, and the list entries no case exercised. Built from DOM nodes only.

import { ApiError, call, messageOf } from "./api.js";
import { fill, h } from "./dom.js";
import { currentView, showView } from "./views.js";

function shown(value) {
  if (value === null || value === undefined) return "(none)";
  if (typeof value === "string") return value;
  return JSON.stringify(value, null, 2);
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function location(c) {
  return `${c.file}:${c.line}`;
}

/** The case's lines in its test file, numbered from the line it starts on. */
function caseSource(c) {
  if (!c.source) return null;
  const lines = c.source.split("\n");
  return h("details", { class: "case-source" },
    h("summary", {}, `The case in ${location(c)}`),
    h("pre", { class: "source", "aria-label": `${c.file} from line ${c.line}` },
      lines.map((text, i) => h("span", { class: "source-line" },
        h("span", { class: "ln", "aria-hidden": "true" }, String(c.line + i).padStart(4, " ")), ` ${text}\n`))));
}

/** What differs, one row per expectation: the field and what receiver test says of it,
 * then expected and got side by side (and the line-by-line diff of a long value). */
function mismatchTable(c) {
  return h("table", { class: "diff expect" },
    h("caption", { class: "sr" }, `What differs in “${c.name}”`),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "field"), h("th", { scope: "col" }, "expected"), h("th", { scope: "col" }, "got"))),
    h("tbody", {}, c.failures.map((m) => {
      const detail = Array.isArray(m.detail) && m.detail.length > 2
        ? h("pre", { class: "detail", "aria-label": `${m.field}: the difference, line by line` },
          m.detail.map((line) => h("span", { class: line.startsWith("- ") ? "del" : line.startsWith("+ ") ? "ins" : "" }, `${line}\n`)))
        : null;
      return [
        h("tr", { class: "mismatch" },
          h("th", { scope: "row" }, h("code", {}, m.field), h("div", { class: "mismatch-summary" }, m.summary)),
          h("td", { class: "before" }, h("pre", { class: "cell" }, shown(m.expected))),
          h("td", { class: "after" }, h("pre", { class: "cell" }, shown(m.actual)))),
        detail ? h("tr", {}, h("td", { colspan: "3" }, detail)) : null,
      ];
    })));
}

function failedCase(c) {
  return h("li", { class: "case case-failed" },
    h("details", { open: true },
      h("summary", {}, h("span", { class: "badge badge-deny" }, "FAIL"), " ", h("span", { class: "case-name" }, c.name),
        " ", h("span", { class: "muted" }, `${location(c)} · ${c.event}`)),
      mismatchTable(c),
      h("p", { class: "answer-line" }, "Answer: ", h("code", {}, JSON.stringify(c.response))),
      caseSource(c),
      c.explain ? h("details", { class: "explain" }, h("summary", {}, "Explanation (as receiver test prints it)"),
        h("pre", { class: "json" }, c.explain)) : null));
}

function passedCase(c) {
  return h("li", { class: "case case-passed" },
    h("span", { class: "ok" }, "✓ "), h("span", { class: "case-name" }, c.name), " ",
    h("span", { class: "muted" }, location(c)));
}

function brokenFile(f) {
  return h("li", { class: "case case-broken" },
    h("p", {}, h("span", { class: "badge badge-deny" }, "ERROR"), " ", h("code", {}, f.file),
      ": the test file has errors, its cases did not run"),
    h("ul", { class: "diags" }, f.diagnostics.map((d) =>
      h("li", { class: "diag diag-error" }, `${d.file}:${d.line}:${d.column} `, h("span", { class: "sev" }, d.severity), ` ${d.code} ${d.message}`))));
}

// -- coverage -------------------------------------------------------------------------

function meter(label, covered, total, id) {
  const percent = total ? Math.round((1000 * covered) / total) / 10 : 100;
  return h("div", { class: "cov-meter" },
    h("label", { for: id }, `${label}: ${covered} of ${total} (${percent}%)`),
    h("meter", { id, min: "0", max: String(Math.max(total, 1)), value: String(covered), low: String(0.6 * total), high: String(0.9 * total), optimum: String(total) }, `${percent}%`));
}

function ruleNode(item) {
  const hit = item.matched > 0;
  const hows = ["decided", "modified", "shadow"].filter((k) => item[k]).map((k) => `${k} ${item[k]}`);
  const rule = item.rule.includes("/") ? item.rule.slice(item.rule.indexOf("/") + 1) : item.rule;
  const mark = hit ? h("span", { class: "ok mark" }, "✓ hit") : h("span", { class: "error mark" }, "✗ not hit");
  if (!hit) return h("li", { class: "cov-rule cov-miss" }, mark, " ", h("code", {}, rule), " ", h("span", { class: "muted" }, "no case reaches it"));
  return h("li", { class: "cov-rule" },
    h("details", {},
      h("summary", {}, mark, " ", h("code", {}, rule), " ",
        h("span", { class: "muted" }, `matched in ${plural(item.matched, "case")}${hows.length ? ` (${hows.join(", ")})` : ""}`)),
      h("ul", { class: "plain rule-cases" }, (item.cases || []).map((id) => h("li", {}, id)),
        item.matched > (item.cases || []).length ? h("li", { class: "muted" }, `… and ${item.matched - item.cases.length} more`) : null)));
}

function coverageNode(coverage) {
  const sets = (coverage && coverage.sets) || [];
  if (!sets.length) return h("p", { class: "muted" }, "No case ran, so there is no coverage.");
  return sets.map((set, n) => {
    const byPolicy = new Map();
    for (const item of set.rules.items) {
      const policy = item.rule.includes("/") ? item.rule.slice(0, item.rule.indexOf("/")) : "(no policy)";
      if (!byPolicy.has(policy)) byPolicy.set(policy, []);
      byPolicy.get(policy).push(item);
    }
    const missed = set.lists.items
      .map((l) => ({ ...l, missing: l.entries.filter((e) => !e.exercised) }))
      .filter((l) => l.missing.length);
    return h("div", { class: "cov-set" },
      meter("Rules hit", set.rules.covered, set.rules.total, `cov-rules-${n}`),
      meter("List entries exercised", set.lists.exercised, set.lists.total, `cov-lists-${n}`),
      h("h4", {}, "Rules by policy"),
      h("ul", { class: "plain cov-policies" }, [...byPolicy].map(([policy, items]) => {
        const hit = items.filter((i) => i.matched > 0).length;
        return h("li", { class: "cov-policy" },
          h("details", { open: hit < items.length },
            h("summary", {}, h("strong", {}, policy), " ",
              h("span", { class: hit < items.length ? "error" : "muted" }, `${hit} of ${items.length} rules hit`)),
            h("ul", { class: "plain cov-rules" }, items.map(ruleNode))));
      })),
      h("h4", {}, "List entries no case exercised"),
      missed.length
        ? h("ul", { class: "plain cov-lists" }, missed.map((l) => h("li", {},
          h("details", {}, h("summary", {}, h("code", {}, `${l.policy}/${l.list}`), " ",
            h("span", { class: "muted" }, `${l.missing.length} of ${l.entries.length} not exercised`)),
          h("ul", { class: "chips" }, l.missing.map((e) => h("li", {}, h("code", {}, shown(e.value)))))))))
        : h("p", { class: "ok" }, "Every list entry was exercised by some case."));
  });
}

// -- the view -------------------------------------------------------------------------

/**
 * Build the Tests view in `panel`. `files()` gives the policy files as edited (the
 * Playground's editors). Returns the onShow callback.
 */
export function testsView(panel, { files }) {
  const summary = h("p", { id: "tests-summary", class: "tests-summary", role: "status", "aria-live": "polite" },
    "Not run yet.");
  const run = h("button", { id: "run-tests", type: "button", class: "primary", "aria-keyshortcuts": "Control+Shift+Enter Meta+Shift+Enter" }, "Run tests");
  const results = h("div", { id: "tests-results", class: "tests-results" },
    h("p", { class: "muted" }, "Press Run tests (Ctrl+Shift+Enter) to run the folder's *.test.yaml files against the policies as they are in the editor, saved or not."));
  const coverage = h("div", { id: "tests-coverage" }, h("p", { class: "muted" }, "The coverage shows after a run."));
  const stale = h("p", { id: "tests-stale", class: "warn", hidden: true }, "The policies changed since this run: run the tests again.");
  let running = false;
  let ranOn = null;

  fill(panel,
    h("div", { class: "tests-bar" },
      h("h2", { id: "tests-h" }, "Tests"), run, summary),
    h("p", { class: "help" }, "Runs every *.test.yaml of the policy folder, as ", h("code", {}, "receiver test --coverage"),
      " does, on the policies as edited in the Playground (nothing is saved). Ctrl+Shift+Enter (⌘+Shift+Enter) runs them from this view."),
    stale,
    h("div", { class: "tests-layout" },
      h("section", { class: "tests-cases", "aria-labelledby": "tests-cases-h" }, h("h3", { id: "tests-cases-h" }, "Cases"), results),
      h("section", { class: "tests-cov", "aria-labelledby": "tests-cov-h" }, h("h3", { id: "tests-cov-h" }, "Coverage"), coverage)));

  function showError(message, { diagnostics } = {}) {
    summary.className = "tests-summary error";
    summary.textContent = message;
    fill(results, h("div", { class: "state-error", role: "alert" },
      h("p", {}, message),
      diagnostics ? h("ul", { class: "diags" }, diagnostics.slice(0, 10).map((d) =>
        h("li", { class: `diag diag-${d.severity}` }, `${d.file}:${d.line}:${d.column} `, h("span", { class: "sev" }, d.severity), ` ${d.code} ${d.message}`))) : null,
      diagnostics ? h("button", { type: "button", class: "link", id: "tests-to-playground", onclick: () => showView("playground", { focus: true }) },
        "Show the diagnostics in the Playground") : null));
    fill(coverage, h("p", { class: "muted" }, "No coverage: the tests did not run."));
  }

  function showResult(out) {
    const s = out.summary;
    const cases = out.cases || [];
    if (!out.files.length) {
      summary.className = "tests-summary";
      summary.textContent = "No test files in the policy folder.";
      fill(results, h("div", { class: "state-empty" },
        h("p", {}, "The policy folder has no test files. Add one beside the policies, named ", h("code", {}, "NAME.test.yaml"), ", for example:"),
        h("pre", { class: "json" }, [
          "suite: my-policy",
          "now: 2026-11-22T12:00:00Z",
          "users: ../examples/users.yaml",
          "cases:",
          "  - name: a long message is refused",
          "    event: message.shouldCreate",
          "    user: member_sam",
          "    data: {text: \"...\"}",
          "    expect: deny",
        ].join("\n")),
        h("p", {}, "Then run the tests again (", h("code", {}, "receiver test --help"), " says more).")));
      fill(coverage, h("p", { class: "muted" }, "No coverage: there are no cases."));
      return;
    }
    const parts = [`${s.passed} passed`, `${s.failed} failed`];
    if (s.broken_files) parts.push(plural(s.broken_files, "broken test file"));
    if (s.not_run) parts.push(`${s.not_run} not run`);
    summary.className = `tests-summary ${s.failed || s.broken_files ? "error" : "ok"}`;
    summary.textContent = `${parts.join(", ")} (${plural(s.files, "test file")}).`;
    const failed = cases.filter((c) => c.status !== "passed");
    const passed = cases.filter((c) => c.status === "passed");
    const broken = out.files.filter((f) => f.broken);
    fill(results,
      s.stopped ? h("p", { class: "warn" }, `${s.stopped}: ${s.not_run} cases did not run.`) : null,
      broken.length ? h("ul", { class: "plain cases" }, broken.map(brokenFile)) : null,
      failed.length ? h("ul", { class: "plain cases", "aria-label": "Failed cases" }, failed.map(failedCase)) : null,
      passed.length ? h("details", { class: "passed", open: !failed.length },
        h("summary", {}, `${passed.length} passed`),
        h("ul", { class: "plain cases" }, passed.map(passedCase))) : null);
    fill(coverage, coverageNode(out.coverage));
  }

  async function runTests() {
    if (running) return;
    running = true;
    run.disabled = true;
    summary.className = "tests-summary";
    summary.textContent = "Running the tests…";
    const sent = files();
    try {
      const { status, body } = await call("POST", "api/test", { files: sent });
      ranOn = JSON.stringify(sent);
      stale.hidden = true;
      if (status === 200) showResult(body);
      else if (status === 422) {
        const n = (body.diagnostics || []).filter((d) => d.severity !== "warning").length;
        showError(`The policy set does not check (${plural(n, "error")}), so the tests can't run: fix the policies first.`, { diagnostics: body.diagnostics || [] });
      } else showError(`The tests did not run: ${messageOf(body, `the server answered ${status}`)}`);
    } catch (err) {
      showError(err instanceof ApiError ? err.message : `The tests did not run: ${err.message}`);
    } finally {
      running = false;
      run.disabled = false;
    }
  }

  run.addEventListener("click", runTests);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && e.shiftKey && (e.ctrlKey || e.metaKey) && currentView() === "tests") {
      e.preventDefault();
      runTests();
    }
  });

  return () => {
    stale.hidden = ranOn === null || ranOn === JSON.stringify(files());
  };
}
