"""The console inside the service, in a real browser: the Decisions (explorer) and Rule
health views of ``receiver serve --console``.

The real ``receiver serve --console --workers 2 --secret-file F --log-content`` runs on a
free loopback port with Redis counters on a copy of policies/ (tests/serverproc.py starts
it); Playwright drives Debian's chromium as tests/console/test_browser.py does (its
fixtures: 1280x800 pages on which a Content-Security-Policy violation, a script error or
a request off loopback fails the test). Signed requests sent to ``/hooks/socialplus``
appear in the explorer without a reload; the table filters by action; an opened deny is
decided again on the current revision, and after a SIGHUP reload with a changed policy
the current and original revisions decide differently; Rule health shows the hits of the
rule that denied. Without ``--log-content`` the page says content is not kept; bound to
0.0.0.0 with a token, the page asks for it. Screenshots go to ``test-artifacts/console/``.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import test_browser
from serverproc import Launch, Server, launcher, wait_for
from test_browser import CHROMIUM, CONTRAST, TOKEN

# test_browser.py's fixtures, shared: the browser, and 1280x800 pages that fail the test
# on a CSP violation, a script error or a request off loopback.
browser = test_browser.browser
new_page = test_browser.new_page

pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
    pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals needed"),
]

ROOT = Path(__file__).resolve().parents[2]
PAYLOADS = ROOT / "examples" / "payloads"
SECRET = "browser-serve-socialplus-secret-31"
DENYING_RULE = "content-length/message-too-long"
SHADOW_RULE = "links/links-from-brand-new-accounts"  # mode: shadow, deny
FAILING_RULE = "browser-failing/count-check"
# A rule that fails at run time on a post whose `count` is a number (len of a number).
FAILING_POLICY = """\
policy: browser-failing
rules:
  - id: count-check
    events: post.shouldCreate
    when: len(data.count) > 3
    action: deny
    message: too many
"""
NEWCOMER = "browser_newcomer"
WAIT = 30.0


def payload(name: str, actor: str) -> dict[str, Any]:
    """A shipped example payload sent by ``actor`` (each test's own, so that no rate
    limit of another test's traffic decides it)."""
    loaded: dict[str, Any] = json.loads((PAYLOADS / name).read_text(encoding="utf-8"))
    sent = copy.deepcopy(loaded)
    sent["actor"] = {"_id": actor, "userId": actor}
    return sent


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    with launcher(tmp_path) as start:
        yield start


def serve(
    launch: Launch, tmp: Path, redis_url: str, *args: str, env: dict[str, str] | None = None
) -> Server:
    """``receiver serve --console --workers 2`` on a copy of policies/, signatures on,
    Redis counters."""
    policies = tmp / "policies"
    shutil.copytree(ROOT / "policies", policies, dirs_exist_ok=True)
    secret = tmp / "socialplus.secret"
    secret.write_text(SECRET + "\n")
    # The shipped users, and one whose account is an hour old whatever the time: the
    # shadow rule on links from day-one accounts matches their links.
    users = tmp / "users.yaml"
    created = datetime.fromtimestamp(time.time() - 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    users.write_text(
        (ROOT / "examples" / "users.yaml").read_text(encoding="utf-8")
        + f"\n{NEWCOMER}:\n  role: member\n  createdAt: {created}\n  banned: false\n"
        "  ageVerified: false\n"
    )
    return launch(
        "--policies", str(policies), "--console", "--secret-file", str(secret),
        "--users", str(users),
        "--counters", "redis", "--redis-url", redis_url, *args,
        workers=2, env=env,
    )  # fmt: skip


def send(server: Server, name: str, actor: str) -> str:
    """POST a signed example payload; the decision's id."""
    response = server.post(payload(name, actor), SECRET)
    assert response.status_code == 200, response.text
    return response.headers["x-decision-id"]


def rows(page: Any) -> list[dict[str, str]]:
    """The explorer's rows, top first: id and action of each."""
    found: list[dict[str, str]] = page.eval_on_selector_all(
        "#explorer-rows tr", "rs => rs.map(r => ({id: r.dataset.id, action: r.dataset.action}))"
    )
    return found


def test_signed_requests_appear_live_filter_and_are_explained_on_both_revisions(
    launch: Launch, tmp_path: Path, redis_url: str, new_page: Any
) -> None:
    server = serve(launch, tmp_path, redis_url, "--log-content")
    p = new_page(f"{server.base}/console/#explorer")
    page = p.page
    page.wait_for_selector("#explorer-empty:not([hidden])")
    assert "No decisions yet" in page.inner_text("#explorer-empty")
    assert page.locator("#explorer-no-content").count() == 0  # content is kept
    # The Rule filter suggests every rule of the revision.
    page.wait_for_selector(f"#explorer-rules option[value='{DENYING_RULE}']", state="attached")
    assert page.locator("#explorer-rules option").count() >= 30
    p.shot("serve-explorer-empty")

    # Signed requests appear without a reload, newest first.
    allowed = send(server, "message-create-plain.json", "browser_ann")
    sent = time.monotonic()
    denied = send(server, "message-create-too-long.json", "browser_bob")
    page.wait_for_selector(f"#explorer-rows tr[data-id='{denied}']", timeout=WAIT * 1000)
    print(f"explorer: a decision showed {time.monotonic() - sent:.2f} s after it was sent")
    page.wait_for_selector(f"#explorer-rows tr[data-id='{allowed}']")
    shown = rows(page)
    assert [r["id"] for r in shown].index(denied) < [r["id"] for r in shown].index(allowed)
    deny_row = page.locator(f"#explorer-rows tr[data-id='{denied}']")
    assert deny_row.locator(".badge").inner_text() == "deny"
    assert DENYING_RULE in deny_row.inner_text()
    assert "browser_bob" in deny_row.inner_text()
    when = datetime.fromisoformat(deny_row.locator("td").first.get_attribute("title") or "")
    assert abs(when.timestamp() - time.time()) < 120  # the log's epoch seconds, read as such
    assert "workers" in page.inner_text("#explorer-live")

    # Paused: new decisions are counted, not shown; Resume shows them.
    page.click("#explorer-pause")
    assert page.get_attribute("#explorer-pause", "aria-pressed") == "true"
    held = send(server, "message-create-plain.json", "browser_cy")
    page.wait_for_selector("#explorer-held:has-text('1 new decision')", timeout=WAIT * 1000)
    assert page.locator(f"#explorer-rows tr[data-id='{held}']").count() == 0
    page.click("#explorer-pause")
    page.wait_for_selector(f"#explorer-rows tr[data-id='{held}']")

    # Another view shown: nothing is asked; back on Decisions, the polls start again.
    polls = lambda: sum("/console/api/decisions?" in url for url in p.requests)  # noqa: E731
    page.click("#tab-playground")
    before = polls()
    page.wait_for_timeout(2500)
    assert polls() == before, "the explorer polled while another view was shown"
    with page.expect_request(lambda r: "/console/api/decisions?" in r.url, timeout=5000):
        page.click("#tab-explorer")

    # Filtered by action on the server: only denies are left.
    page.select_option("#explorer-action", "deny")
    page.wait_for_function(
        "() => { const rs = [...document.querySelectorAll('#explorer-rows tr')];"
        " return rs.length > 0 && rs.every(r => r.dataset.action === 'deny'); }",
        timeout=WAIT * 1000,
    )
    assert [r["id"] for r in rows(page)] == [denied]
    # Laid out as a table: each column's heading stands above its cells (a style sheet
    # that made the table a grid once put the rows beside the headings).
    columns = page.evaluate(
        "() => [...document.querySelectorAll('#explorer-rows tr:first-child td')].map("
        "(td, i) => [Math.round(td.getBoundingClientRect().left), Math.round("
        "td.closest('table').querySelectorAll('thead th')[i].getBoundingClientRect().left)])"
    )
    assert columns and all(cell == heading for cell, heading in columns), columns
    p.shot("serve-explorer-deny-filter")

    # Opened with the keyboard: the log entry and the decision again, on this revision.
    page.focus(f"#explorer-rows tr[data-id='{denied}'] button")
    page.keyboard.press("Enter")
    page.wait_for_selector("#explorer-current #current-verdict")
    assert page.inner_text("#explorer-current #current-verdict .badge") == "DENY"
    assert page.inner_text("#explorer-current #current-deciding-rule") == DENYING_RULE
    assert "browser_bob" in page.inner_text("#explorer-detail .entry")
    assert (
        page.locator("#explorer-original").count() + page.locator("#explorer-explain-note").count()
        >= 1
    )  # the same revision: one side, or both with a note saying so
    low = page.evaluate(CONTRAST)
    assert not low, f"text below 4.5:1: {low[:10]}"
    p.shot("serve-explorer-explained")

    # A reload with a changed policy: the current revision allows what the original denied.
    policy = tmp_path / "policies" / "content-length.yaml"
    policy.write_text(policy.read_text(encoding="utf-8").replace("> 2000", "> 50000", 1))
    reloads = server.metric("receiver_policy_reloads_total", result="ok")
    os.kill(server.proc.pid, signal.SIGHUP)
    wait_for(
        "both workers' reloads",
        lambda: server.metric("receiver_policy_reloads_total", result="ok") >= reloads + 2,
        WAIT,
    )
    page.click(f"#explorer-rows tr[data-id='{denied}'] td:nth-child(3)")  # a click on the row
    page.wait_for_selector("#explorer-compare.differ")
    assert page.inner_text("#explorer-current #current-verdict .badge") == "ALLOW"
    assert page.inner_text("#explorer-original #original-verdict .badge") == "DENY"
    assert page.inner_text("#explorer-original #original-deciding-rule") == DENYING_RULE
    assert "decide differently" in page.inner_text("#explorer-compare")
    p.shot("serve-explorer-two-revisions")


def test_rule_health_shows_the_hits_of_the_rule_that_denied(
    launch: Launch, tmp_path: Path, redis_url: str, new_page: Any
) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "browser-failing.yaml").write_text(FAILING_POLICY)
    server = serve(launch, tmp_path, redis_url, "--log-content")
    for actor in ("browser_dee", "browser_eve", "browser_fay"):
        send(server, "message-create-too-long.json", actor)
    send(server, "message-create-plain.json", "browser_gus")
    # Allowed, but the shadow rule would have denied it: a disagreement.
    send(server, "message-create-link-day-one-account.json", NEWCOMER)
    failed = {"eventName": "post.shouldCreate", "data": {"count": 12},
              "actor": {"_id": "browser_ivy", "userId": "browser_ivy"}}  # fmt: skip
    assert server.post(failed, SECRET).status_code == 200
    p = new_page(f"{server.base}/console/#health")
    page = p.page
    row = page.locator(f"#health-table tr[data-rule='{DENYING_RULE}']")
    page.wait_for_function(
        "(rule) => { const r = document.querySelector(`#health-table tr[data-rule='${rule}']`);"
        " return r && Number(r.querySelector('.hits').textContent) >= 3; }",
        arg=DENYING_RULE,
        timeout=WAIT * 1000,
    )
    assert row.locator(".hits").inner_text() == "3"
    label = row.locator("svg").get_attribute("aria-label") or ""
    assert "3 hits in the last 60 minutes" in label
    assert row.locator("svg rect").count() >= 1
    shadow = page.locator(f"#health-table tr[data-rule='{SHADOW_RULE}']")
    page.wait_for_function(  # every worker's counts, within a refresh or two
        "() => document.querySelector('#health-totals td.num').textContent === '6'",
        timeout=WAIT * 1000,
    )
    assert shadow.locator(".disagree").inner_text() == "≠ 1"
    assert shadow.locator(".hits").inner_text() == "1"
    label = shadow.locator("svg").get_attribute("aria-label") or ""
    assert "would have answered differently: 1 time in the last 60 minutes" in label
    assert "shadow" in shadow.inner_text()
    totals = page.locator("#health-totals")
    assert totals.locator("td.num").first.inner_text() == "6"
    # The failing rule stands out: its row is marked, its count flagged, and named above.
    failing = page.locator(f"#health-table tr[data-rule='{FAILING_RULE}']")
    assert "has-errors" in (failing.get_attribute("class") or "")
    assert failing.locator("td.num").last.inner_text() == "⚠ 1"
    assert FAILING_RULE in page.inner_text("#health-failing")
    assert "1 evaluation error" in (failing.locator("svg").get_attribute("aria-label") or "")
    assert page.inner_text("#health-revision")
    assert "loaded at" in page.inner_text("#health-summary")
    # Shadow rules show a disagreement column; every rule of the revision is listed.
    assert page.locator("#health-table tr.rule-row").count() >= 10
    low = page.evaluate(CONTRAST)
    assert not low, f"text below 4.5:1: {low[:10]}"
    p.shot("serve-rule-health")
    # Only the rules with something to show, on request; the same numbers as a table.
    page.check("#health-active-only")
    assert page.locator("#health-table tr.rule-row").count() >= 3  # and others that failed
    assert "not listed" in page.inner_text("#health-hidden")
    page.click("#health-as-table summary")
    assert f"{DENYING_RULE} hits" in page.inner_text("#health-as-table thead")
    p.shot("serve-rule-health-active-table")

    # A rule's name opens the Decisions view filtered on it.
    row.locator(".rule-link").click()
    page.wait_for_selector("#view-explorer:not([hidden])")
    assert page.input_value("#explorer-rule") == DENYING_RULE
    page.wait_for_function(
        "(rule) => { const rs = [...document.querySelectorAll('#explorer-rows tr')];"
        " return rs.length === 3 && rs.every(r => r.textContent.includes(rule)); }",
        arg=DENYING_RULE,
        timeout=WAIT * 1000,
    )


def test_without_log_content_the_explorer_says_content_is_not_kept(
    launch: Launch, tmp_path: Path, redis_url: str, new_page: Any
) -> None:
    server = serve(launch, tmp_path, redis_url)
    denied = send(server, "message-create-too-long.json", "browser_hal")
    p = new_page(f"{server.base}/console/#explorer")
    page = p.page
    page.wait_for_selector(f"#explorer-rows tr[data-id='{denied}']", timeout=WAIT * 1000)
    assert "--log-content" in page.inner_text("#explorer-no-content")
    # Every filter has its label; Tab alone reaches the row, Enter opens it.
    for control in page.locator("#explorer-filters input, #explorer-filters select").all():
        name = control.get_attribute("id")
        assert page.locator(f"label[for='{name}']").count() == 1, f"#{name} has no label"
    page.focus("#tab-explorer")
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("!!document.activeElement.closest('#explorer-rows')"):
            break
    else:
        raise AssertionError("Tab never reached a decision in the table")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focused row shows no focus ring"
    page.keyboard.press("Enter")
    page.wait_for_selector("#explorer-explain-note")
    assert "--log-content" in page.inner_text("#explorer-explain-note")
    assert page.locator("#explorer-current").count() == 0
    p.shot("serve-explorer-no-content")


def test_off_loopback_serve_console_asks_for_the_token(
    launch: Launch, tmp_path: Path, redis_url: str, new_page: Any
) -> None:
    token_file = tmp_path / "console.token"
    token_file.write_text(TOKEN + "\n")
    # Off loopback /metrics needs its own token too (the launcher reads it to count workers).
    metrics = {"RECEIVER_METRICS_TOKEN": "browser-serve-metrics-token-0123456789"}
    server = serve(
        launch, tmp_path, redis_url, "--host", "0.0.0.0", "--console-token-file", str(token_file),
        env=metrics,
    )  # fmt: skip
    assert server.get("/console/api/decisions").status_code == 401
    p = new_page(f"{server.base}/console/#explorer", ready=False)
    page = p.page
    page.wait_for_selector("#token-dialog[open]")
    p.shot("serve-token-asked")
    page.fill("#token-input", TOKEN)
    page.keyboard.press("Enter")
    page.wait_for_selector("html[data-ready='true']")
    page.wait_for_selector("#explorer-empty:not([hidden]), #explorer-rows tr")
    denied = send(server, "message-create-too-long.json", "browser_ida")
    page.wait_for_selector(f"#explorer-rows tr[data-id='{denied}']", timeout=WAIT * 1000)
    assert all(TOKEN not in url for url in p.requests)
    p.shot("serve-token-accepted")
