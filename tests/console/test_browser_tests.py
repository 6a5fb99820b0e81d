"""The console's Tests view in a real browser (the machinery of test_browser.py: Debian's
chromium through Playwright, the real ``receiver console`` process on loopback, CSP
violations, script errors and off-loopback requests fail the test).

Covered: an edit in the Playground that makes a shipped test fail, then Run tests shows
the failure's diff (expected deny, got allow) and the coverage; running with the keyboard
alone; the set-does-not-check state linking back to the Playground; the empty state; text
contrast. Screenshots go to ``test-artifacts/console/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from test_browser import (  # the shared machinery: the console process, pages, contrast
    CONTRAST,
    ROOT,
    browser,  # noqa: F401  (a fixture)
    console,
    new_page,  # noqa: F401  (a fixture)
    pytestmark,  # noqa: F401  (skipped without chromium)
)

BANNED = "when: user.banned == true"
FAILING = "a suspended member can't post a message"


def workspace(tmp: Path) -> Path:
    """A copy of policies/ and examples/ (the test files read ../examples/users.yaml)."""
    shutil.copytree(ROOT / "policies", tmp / "policies")
    shutil.copytree(ROOT / "examples", tmp / "examples")
    return tmp


def test_an_edit_that_breaks_a_test_shows_the_failure_diff_and_the_coverage(
    tmp_path: Path,
    new_page: Any,  # noqa: F811
) -> None:
    with console(workspace(tmp_path), "--host", "127.0.0.1") as server:
        p = new_page(server.url)
        page = p.page
        page.wait_for_selector("#diagnostics .ok")
        page.click("#file-list button[data-file='banned.yaml']")
        page.click(f".cm-line:has-text('{BANNED}')")
        page.keyboard.press("End")
        for _ in "true":
            page.keyboard.press("Backspace")
        page.keyboard.type("false", delay=10)
        page.click("#tab-tests")
        assert page.url.endswith("#tests")
        page.click("#run-tests")
        page.wait_for_selector(".case-failed")
        summary = page.inner_text("#tests-summary")
        assert " failed" in summary and not summary.startswith("0 failed")
        failed = page.locator(".case-failed", has_text=FAILING).first
        text = failed.inner_text()
        assert "expected deny, got allow" in text
        assert "banned.test.yaml:9" in text
        row = failed.locator("table.expect tbody tr").first
        assert row.locator("td.before").inner_text().strip() == "deny"
        assert row.locator("td.after").inner_text().strip() == "allow"
        # Failures come first: the first case listed is a failed one.
        assert "case-failed" in (
            page.locator("#tests-results li.case").first.get_attribute("class") or ""
        )
        # The coverage: the rules hit per policy and the list entries not exercised.
        cov = page.inner_text("#tests-coverage")
        assert "Rules hit:" in cov and "banned-users" in cov
        assert "List entries no case exercised" in cov
        assert page.locator("#tests-coverage meter").count() == 2
        p.shot("tests-failure")
        low = page.evaluate(CONTRAST)
        assert not low, f"text below 4.5:1: {low[:10]}"
        # The files on disk are untouched: the run used the edits.
        assert BANNED in (server.policies / "banned.yaml").read_text(encoding="utf-8")


def test_running_the_tests_with_the_keyboard_alone(tmp_path: Path, new_page: Any) -> None:  # noqa: F811
    with console(workspace(tmp_path), "--host", "127.0.0.1") as server:
        p = new_page(f"{server.url}#tests")
        page = p.page
        assert page.get_attribute("#tab-tests", "aria-selected") == "true"
        page.keyboard.press("Control+Shift+Enter")
        page.wait_for_selector("#tests-summary.ok")
        summary = page.inner_text("#tests-summary")
        assert summary.endswith("test files).") and " passed, 0 failed" in summary
        page.focus("#run-tests")
        page.keyboard.press("Enter")
        page.wait_for_selector("#tests-summary.ok")
        p.shot("tests-passed")


def test_a_set_that_does_not_check_says_so_and_links_to_the_playground(
    tmp_path: Path,
    new_page: Any,  # noqa: F811
) -> None:
    with console(workspace(tmp_path), "--host", "127.0.0.1") as server:
        p = new_page(server.url)
        page = p.page
        page.click("#file-list button[data-file='links.yaml']")
        page.click(".cm-line:has-text('when: has_shortener and account_age < 7d')")
        page.keyboard.press("End")
        page.keyboard.type(" and has_shortnr", delay=10)
        page.wait_for_selector(".cm-lintRange-error")
        page.click("#tab-tests")
        page.click("#run-tests")
        page.wait_for_selector("#tests-results .state-error")
        assert "does not check" in page.inner_text("#tests-results")
        p.shot("tests-error")
        page.click("#tests-to-playground")
        page.wait_for_selector("#view-playground:not([hidden])")
        assert "has_shortnr" in page.inner_text("#diagnostics")


def test_a_folder_without_test_files_says_how_to_add_one(tmp_path: Path, new_page: Any) -> None:  # noqa: F811
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "a.yaml").write_text("policy: a\nrules: []\n", encoding="utf-8")
    with console(tmp_path, "--host", "127.0.0.1") as server:
        p = new_page(f"{server.url}#tests")
        p.page.click("#run-tests")
        p.page.wait_for_selector("#tests-results .state-empty")
        assert ".test.yaml" in p.page.inner_text("#tests-results")
        p.shot("tests-empty")
