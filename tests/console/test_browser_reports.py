"""The console's Replay reports view in a real browser (the machinery of test_browser.py).

Covered: a report made now by ``receiver diff --format json`` from the test corpus
(tests/data/diff), opened from ``receiver console --reports DIR``: its flips, the per-rule
delta chart (SVG, with the table alternative), a sample with both decisions, the gate;
the same report opened from disk with the file input, without ``--reports``; a file that
is not a report; text contrast. Screenshots go to ``test-artifacts/console/``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from serverproc import clean_env
from test_browser import (  # the shared machinery: the console process, pages, contrast
    CONTRAST,
    ROOT,
    browser,  # noqa: F401  (a fixture)
    console,
    new_page,  # noqa: F401  (a fixture)
    pytestmark,  # noqa: F401  (skipped without chromium)
)

DATA = ROOT / "tests" / "data"


def make_report(out: Path) -> dict[str, Any]:
    """``receiver diff`` on the corpus, as a user would run it, written to ``out``."""
    done = subprocess.run(
        [sys.executable, "-m", "receiver", "diff", "diff/old", "diff/new", "diff/records.jsonl",
         "--format", "json", "--fail-on", "deny_to_allow > 0", "-o", str(out)],
        cwd=DATA, env=clean_env(), capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr.decode(errors="replace")
    report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return report


def test_a_report_from_the_reports_folder_shows_its_flips_and_the_chart(
    tmp_path: Path,
    new_page: Any,  # noqa: F811
) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    report = make_report(reports / "corpus.json")
    assert report["flips"]["allow_to_deny"] > 0
    with console(tmp_path, "--host", "127.0.0.1", "--reports", str(reports)) as server:
        p = new_page(f"{server.url}#reports")
        page = p.page
        page.click("button[data-report='corpus.json']")
        page.wait_for_selector("#report-chart")
        p.shot("reports-folder")
        flips = page.inner_text("#report-flips")
        assert "allow -> deny" in flips and str(report["flips"]["allow_to_deny"]) in flips
        bars = page.locator("#report-chart rect").count()
        changed = sum(1 for r in report["rules"] for d in r["delta"].values() if d)
        assert bars == changed > 0
        top = report["rules"][0]["rule"]
        assert top in page.text_content("#report-chart")
        assert page.get_attribute("#report-chart", "role") == "img"
        page.click("text=The per-rule numbers as a table")
        assert top in page.inner_text("#report-rules")
        notes = [r["note"] for r in report["rules"] if r["note"]]
        assert "new rule" in notes  # the corpus adds rules
        shown = page.locator("#report-rules .rule-note").all_inner_texts()
        assert shown == [n.replace("->", "\u2192") for n in notes]
        gate = page.inner_text(".gate")
        assert ("Gate held" in gate) == report["gate"]["held"]
        first = page.locator(".sample > details").first
        first.locator("> summary").click()
        cards = first.locator(".decision-card").all_inner_texts()
        assert cards[0].startswith("Old") and cards[1].startswith("New")
        assert "deny" in cards[1]
        p.shot("reports-sample")
        low = page.evaluate(CONTRAST)
        assert not low, f"text below 4.5:1: {low[:10]}"


def test_without_reports_a_report_file_opens_from_disk(tmp_path: Path, new_page: Any) -> None:  # noqa: F811
    made = make_report(tmp_path / "mine.json")
    (tmp_path / "other.json").write_text('{"not": "a report"}', encoding="utf-8")
    with console(tmp_path, "--host", "127.0.0.1") as server:
        p = new_page(f"{server.url}#reports")
        page = p.page
        page.wait_for_selector("#reports-list :text('--reports DIR')")
        page.set_input_files("#report-file", str(tmp_path / "other.json"))
        page.wait_for_selector("#report .error")
        assert "not a receiver diff report" in page.inner_text("#report")
        page.set_input_files("#report-file", str(tmp_path / "mine.json"))
        page.wait_for_selector("#report-chart")
        assert "opened from your disk" in page.inner_text("#report-h")
        assert str(made["events"]) in page.inner_text("#report")
        # Read in the browser: no request carried the file.
        assert not any("mine.json" in url for url in p.requests)
        p.shot("reports-file")
