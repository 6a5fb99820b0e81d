"""The console's page in a real browser: Playwright drives Debian's chromium (headless,
through ``executable_path``; never a browser of Playwright's own) against the real
``receiver console`` process, started on a free loopback port on a copy of policies/.

Covered: a typo typed into a condition shows its diagnostic under its line; deciding a
payload shows the deny and its rule; the trace expands; keyboard-only deciding; the
token asked for, refused and accepted off loopback; the API-down and 422 states; text
contrast; and no Content-Security-Policy violation in any test (each page records them).
Screenshots go to ``test-artifacts/console/`` (ignored by git; the path is printed).
The time to interactive and the diagnostics latency are measured in the browser and
printed, not asserted (run with ``-s`` to see them).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from serverproc import clean_env, free_port, stop, wait_for

playwright_sync = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "console"
TOKEN = "browser-test-console-token-0123456789abcdef"
NOW = "2026-11-22T12:00:00Z"
TIMEOUT_MS = 15_000
# A condition of links.yaml, and the same condition with a name misspelt.
CONDITION = "when: has_shortener and account_age < 7d"
TYPO = " and has_shortnr"


# -- the console process -----------------------------------------------------------------


@dataclass
class Console:
    proc: subprocess.Popen[bytes]
    port: int
    policies: Path
    stderr: Path

    @property
    def url(self) -> str:
        # Always loopback: a console bound to 0.0.0.0 is still reached at 127.0.0.1.
        return f"http://127.0.0.1:{self.port}/"

    def up(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(
                f"receiver console exited with {self.proc.returncode}:\n"
                + self.stderr.read_text(errors="replace")
            )
        try:
            return httpx.get(self.url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


@contextlib.contextmanager
def console(tmp: Path, *args: str) -> Iterator[Console]:
    """``receiver console --policies COPY --port P ARGS`` until the block ends."""
    policies = tmp / "policies"
    if not policies.exists():
        shutil.copytree(ROOT / "policies", policies)
    port = free_port()
    stderr = tmp / f"console-{port}.err"
    with stderr.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "receiver", "console", "--policies", str(policies),
             "--port", str(port), *args],
            stdout=err, stderr=err, env=clean_env(), cwd=tmp, start_new_session=True,
        )  # fmt: skip
    server = Console(proc, port, policies, stderr)
    try:
        wait_for("receiver console to answer", server.up)
        yield server
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def loopback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with console(tmp_path_factory.mktemp("console"), "--host", "127.0.0.1") as server:
        yield server


# -- the browser ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


# Installed before the page's own scripts (not subject to its CSP): records violations.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
});
"""


@dataclass
class Page:
    page: Any
    console_lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def violations(self) -> list[str]:
        found = [line for line in self.console_lines if "Content Security Policy" in line]
        with contextlib.suppress(Exception):  # a page closed or navigating has none to give
            found += self.page.evaluate("window.__csp || []")
        return found

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        print(f"screenshot: {path}")


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    """Open pages at 1280x800; after the test, none may have met a CSP violation or a
    script error."""
    opened: list[tuple[Any, Page]] = []

    def open_page(url: str, *, ready: bool = True) -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        record = Page(page)
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", lambda m: record.console_lines.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: record.errors.append(str(e)))
        page.on("request", lambda r: record.requests.append(r.url))
        opened.append((context, record))
        page.goto(url)
        if ready:
            page.wait_for_selector("html[data-ready='true']")
        return record

    yield open_page
    for context, record in opened:
        violations = record.violations()
        context.close()
        assert not violations, f"Content-Security-Policy violations: {violations}"
        assert not record.errors, f"script errors on the page: {record.errors}"
        for url in record.requests:
            assert url.startswith(("http://127.0.0.1:", "data:")), f"a request left loopback: {url}"


# The element with the focus, inside the editors' shadow roots too.
FOCUSED = """(() => {
  let el = document.activeElement;
  while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
  return el;
})()"""

# From the last keystroke to the first error marker in the policy editor (its shadow root).
MEASURE_LATENCY = """() => {
  const root = document.querySelector("#policy-editor").shadowRoot;
  window.__lat = { last: 0, shown: 0 };
  document.addEventListener("keydown", () => { window.__lat.last = performance.now(); }, true);
  new MutationObserver((_, observer) => {
    if (root.querySelector(".cm-lintRange-error")) {
      window.__lat.shown = performance.now();
      observer.disconnect();
    }
  }).observe(root, { subtree: true, childList: true, attributes: true });
}"""


def decide_example(p: Page, example: str) -> None:
    p.page.select_option("#example", example)
    p.page.fill("#now", NOW)
    p.page.click("#decide")
    p.page.wait_for_selector("#verdict")


# -- tests -----------------------------------------------------------------------------------


def test_the_page_loads_the_workspace_and_is_interactive(loopback: Console, new_page: Any) -> None:
    p = new_page(loopback.url)
    page = p.page
    files = page.locator("#file-list button").all_inner_texts()
    assert "links.yaml" in " ".join(files)
    assert not any(name.strip().endswith(".test.yaml") for name in files)
    assert page.locator("#example option").count() >= 10
    page.wait_for_selector("#diagnostics .ok")  # the shipped policies check clean
    assert page.get_attribute(".cm-content", "aria-label") == "Policy file (YAML)"
    # CodeMirror's styles went in under the CSP (constructed style sheets): its gutter
    # takes the theme's background, and a highlighted token has its colour.
    gutter = page.eval_on_selector(".cm-gutters", "e => getComputedStyle(e).backgroundColor")
    assert gutter == "rgb(243, 244, 246)"
    interactive = page.evaluate(
        "performance.getEntriesByName('console-ready')[0].startTime"
    )  # fmt: skip
    print(f"time to interactive: {interactive:.0f} ms (navigation start to workspace shown)")
    p.shot("loaded")


def test_a_typo_in_a_condition_shows_its_diagnostic_under_its_line(
    loopback: Console, new_page: Any
) -> None:
    text = (loopback.policies / "links.yaml").read_text(encoding="utf-8")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if CONDITION in t)
    p = new_page(loopback.url)
    page = p.page
    page.click("#file-list button[data-file='links.yaml']")
    page.click(f".cm-line:has-text('{CONDITION}')")
    page.keyboard.press("End")
    page.evaluate(MEASURE_LATENCY)
    page.keyboard.type(TYPO, delay=20)
    page.wait_for_selector(".cm-lintRange-error")
    latency = page.evaluate("window.__lat.shown - window.__lat.last")
    print(
        f"diagnostics latency: {latency:.0f} ms from the last keystroke to the marker "
        f"({latency - 300:.0f} ms after the page's 300 ms pause)"
    )

    # Inline: the marked range is the misspelt name, on the line that holds it.
    marked = page.locator(".cm-lintRange-error").first
    assert marked.inner_text() == "has_shortnr"
    marked_line = page.locator(".cm-line", has=page.locator(".cm-lintRange-error")).first
    assert CONDITION in marked_line.inner_text()
    # Listed under the editor with file:line:col and its code.
    item = page.locator("#diagnostics li.diag-error").first
    where = item.locator(".where").inner_text()
    column = len(text.splitlines()[line - 1]) + len(" and ") + 1
    assert where == f"links.yaml:{line}:{column}"
    assert re.fullmatch(r"[A-Za-z0-9_-]+", item.locator(".code").inner_text())
    assert "has_shortnr" in item.locator(".msg").inner_text()
    listed = page.locator("#file-list button[data-file='links.yaml']")
    assert listed.get_attribute("aria-label") == "links.yaml (changed) (1 error)"
    assert listed.locator(".count").inner_text() == "1"
    p.shot("typo-diagnostic")

    # Deciding a set that does not check says so, and decides nothing.
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#result .error")
    assert "do not check" in page.inner_text("#result")

    # Clicking the listed diagnostic puts the cursor there.
    page.keyboard.press("Control+End")
    item.locator(".where").click()
    assert page.evaluate(FOCUSED + ".classList.contains('cm-content')")
    assert page.evaluate(FOCUSED + ".closest('.cm-editor').parentNode.host.id") == "policy-editor"


def test_deciding_a_payload_shows_the_deny_and_its_rule(loopback: Console, new_page: Any) -> None:
    p = new_page(loopback.url)
    page = p.page
    decide_example(p, "message-create-too-long.json")
    assert page.inner_text("#verdict .badge") == "DENY"
    assert page.inner_text("#deciding-rule") == "content-length/message-too-long"
    assert "Messages can be up to 2000 characters" in page.inner_text("#verdict")
    answer = page.inner_text("#result pre.json")
    assert '"Messages can be up to 2000 characters' in answer or "2000" in answer
    assert "Decided: deny by content-length/message-too-long" in page.inner_text("#status")
    p.shot("decided-deny")


def test_the_trace_expands_to_the_values_of_each_rule(loopback: Console, new_page: Any) -> None:
    p = new_page(loopback.url)
    page = p.page
    decide_example(p, "message-create-too-long.json")
    deciding = page.locator("details.deciding-step")
    assert deciding.get_attribute("data-rule") == "content-length/message-too-long"
    assert deciding.get_attribute("open") is not None  # the deciding rule is open
    assert "len(text) > 2000" in deciding.inner_text()

    other = page.locator("details.rule-step[data-rule='banned-users/banned-deny']")
    assert other.get_attribute("open") is None
    other.locator("summary").first.click()
    assert other.get_attribute("open") is not None
    values = other.locator("ul.values").first.inner_text()
    assert "user.banned == true" in values
    assert "false" in values
    # Sub-expressions nest under the expression that holds them: `user.banned` under
    # `user.banned == true`, in a node of its own that closes and opens.
    outer = other.locator("ul.values > li > details").first
    assert outer.locator("summary").first.inner_text().startswith("user.banned == true")
    inner = outer.locator("ul.values li").first
    assert inner.inner_text().startswith("user.banned")
    outer.locator("summary").first.click()
    assert outer.get_attribute("open") is None
    assert not inner.is_visible()

    page.click("text=Expand all")
    closed = page.locator("details.rule-step:not([open])").count()
    assert closed == 0
    p.shot("trace-expanded")


def test_deciding_with_the_keyboard_alone(loopback: Console, new_page: Any) -> None:
    p = new_page(loopback.url)
    page = p.page
    # Tab to the example picker (bounded), choose by typing its name, then Tab into the
    # payload editor and decide with Ctrl+Enter.
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "example":
            break
    else:
        raise AssertionError("Tab never reached the example payload picker")
    outline = page.eval_on_selector("#example", "e => getComputedStyle(e).outlineStyle")
    assert outline != "none", "the focused control shows no focus ring"
    page.keyboard.type("message-create-too-long")
    assert page.eval_on_selector("#example", "e => e.value") == "message-create-too-long.json"
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED + ".getAttribute('aria-label')") == "Payload (JSON)"
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#verdict")
    assert page.inner_text("#verdict .badge") == "DENY"

    # The Decide button is reachable by Tab and works with Enter.
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "decide":
            break
    else:
        raise AssertionError("Tab never reached the Decide button")
    page.keyboard.press("Enter")
    page.wait_for_selector("#verdict")
    p.shot("keyboard-decide")


def test_text_has_a_contrast_of_at_least_4_5_to_1(loopback: Console, new_page: Any) -> None:
    p = new_page(loopback.url)
    decide_example(p, "message-create-too-long.json")
    p.page.click("text=Expand all")
    low = p.page.evaluate(CONTRAST)
    assert not low, f"text below 4.5:1: {low[:10]}"


# Every visible element holding text: its colour against the first opaque background up
# its ancestors (white at the top), by WCAG's relative luminance.
CONTRAST = """() => {
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    const up = (e) => e.parentElement || e.getRootNode().host || null;
    for (let e = el; e; e = up(e)) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const all = (root) => [...root.querySelectorAll("*")].flatMap(
    (el) => el.shadowRoot ? [el, ...all(el.shadowRoot)] : [el]);
  const low = [];
  for (const el of all(document.body)) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.checkVisibility()) continue;
    const style = getComputedStyle(el);
    const fg = rgb(style.color);
    const [a, b] = [lum(fg.slice(0, 3)), lum(background(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const what = `${el.tagName}.${el.className} "${el.textContent.trim().slice(0, 30)}"`;
    if (ratio < 4.5) low.push(`${what} ${ratio.toFixed(2)}`);
  }
  return low;
}"""


def test_the_page_says_when_the_server_is_down(tmp_path: Path, new_page: Any) -> None:
    with console(tmp_path, "--host", "127.0.0.1") as server:
        p = new_page(server.url)
        stop(server.proc)
        p.page.click("#decide")
        p.page.wait_for_selector("#result .error")
        assert "not answering" in p.page.inner_text("#result")
        assert "not answering" in p.page.inner_text("#status")
        p.shot("server-down")


def test_off_loopback_the_page_asks_for_the_token(tmp_path: Path, new_page: Any) -> None:
    token_file = tmp_path / "console.token"
    token_file.write_text(TOKEN + "\n")
    args = ("--host", "0.0.0.0", "--console-token-file", str(token_file))
    with console(tmp_path, *args) as server:
        assert httpx.get(server.url + "api/workspace", timeout=5).status_code == 401
        p = new_page(server.url, ready=False)
        page = p.page
        page.wait_for_selector("#token-dialog[open]")
        assert page.evaluate("document.activeElement.id") == "token-input"
        p.shot("token-asked")

        page.fill("#token-input", "not-the-token-" + "x" * 30)
        page.keyboard.press("Enter")
        page.wait_for_selector("#token-error:not([hidden])")
        assert "refused" in page.inner_text("#token-error")
        assert page.locator("#token-dialog[open]").count() == 1

        page.fill("#token-input", TOKEN)
        page.keyboard.press("Enter")
        page.wait_for_selector("html[data-ready='true']")
        page.wait_for_selector("#diagnostics .ok")
        assert page.locator("#token-dialog[open]").count() == 0
        assert "links.yaml" in page.inner_text("#file-list")
        decide_example(p, "message-create-too-long.json")
        assert page.inner_text("#verdict .badge") == "DENY"

        # Kept for the tab: a reload asks nothing. Never in a URL.
        page.reload()
        page.wait_for_selector("html[data-ready='true']")
        assert page.locator("#token-dialog[open]").count() == 0
        assert all(TOKEN not in url for url in p.requests)
        p.shot("token-accepted")


def test_a_modify_shows_the_changed_data_before_and_after(loopback: Console, new_page: Any) -> None:
    p = new_page(loopback.url)
    page = p.page
    decide_example(p, "message-create-shouting.json")
    rows = page.locator("table.diff tbody tr")
    assert rows.count() >= 1
    row = rows.first
    assert row.locator("th code").inner_text().startswith("data.")
    before, after = row.locator("td.before").inner_text(), row.locator("td.after").inner_text()
    assert before != after
    assert after.strip('"') == after.strip('"').lower()  # the shouting was lowered
    assert "Data changed by shouting/" in page.inner_text("#verdict")
    p.shot("modify-diff")


def test_saving_writes_a_set_that_checks_and_refuses_a_broken_one(
    tmp_path: Path, new_page: Any
) -> None:
    with console(tmp_path, "--host", "127.0.0.1", "--allow-save") as server:
        p = new_page(server.url)
        page = p.page
        saved = server.policies / "content-length.yaml"
        before = saved.read_text(encoding="utf-8")
        page.click("#file-list button[data-file='content-length.yaml']")
        page.click(".cm-line:has-text('when: len(text) > 2000')")
        page.keyboard.press("End")
        page.keyboard.press("Backspace")
        page.keyboard.type("1")  # len(text) > 2001
        page.wait_for_selector("#diagnostics .ok")
        page.click("#save")
        revision = page.inner_text("#revision")
        page.wait_for_selector("#status.status-ok:has-text('Saved')")
        assert page.inner_text("#revision") != revision  # the folder's new revision
        assert "when: len(text) > 2001" in saved.read_text(encoding="utf-8")
        assert saved.read_text(encoding="utf-8") == before.replace("> 2000", "> 2001", 1)

        page.keyboard.press("Control+End")
        page.click(".cm-line:has-text('when: len(text) > 2001')")
        page.keyboard.press("End")
        page.keyboard.type(" and has_shortnr")
        page.wait_for_selector(".cm-lintRange-error")
        page.click("#save")
        page.wait_for_selector("#status.status-error:has-text('Not saved')")
        assert "has_shortnr" not in saved.read_text(encoding="utf-8")
        p.shot("save-refused")


def test_without_allow_save_there_is_no_save_button(loopback: Console, new_page: Any) -> None:
    p = new_page(loopback.url)
    assert not p.page.is_visible("#save")
