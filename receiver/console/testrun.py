"""The console's Run tests button: ``POST /api/test``.

Stage: the edge (the console) over the policy test runner. Consumes the policy files the
page's editors hold (edited, unsaved) and the policy folder's ``*.test.yaml`` files (read
from disk, with whatever they read: their ``*.users.yaml``, their seeds); produces the
document of ``receiver test --coverage --format json`` (the same
:class:`~receiver.testing.runner.Runner`, the same :func:`~receiver.testing.report.
json_report`), with what the page shows besides: each failure's detail lines (what
``receiver test`` prints under it), the rules each case hit, each rule's cases, the
case's source in its test file, and the counts of what was not run.

The runner is given the edited set for the folder (``Runner(policies=...)``), so a test
file that tests its own folder runs against the edits; a test file that names another
folder (``policies: DIR``) runs against that folder on disk. Files that do not check raise
:class:`~receiver.errors.PolicyLoadError` (422, as ``/api/check`` shows them). A run is
bounded: at most :data:`MAX_CASES` cases and :data:`MAX_SECONDS` seconds (checked
between cases); what was not run is counted and said.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from receiver.runtime.policyset import Source, load_sources, revision_of_sources
from receiver.testing import coverage as cov
from receiver.testing.report import json_report
from receiver.testing.runner import CaseResult, Runner, RunResult

MAX_CASES = 5000  # cases run by one request; the shipped folder has ~130
MAX_SECONDS = 20.0  # wall time of one run, checked between cases
MAX_CASE_SOURCE = 4000  # characters of a case's YAML shown beside it
MAX_CASE_LINES = 80
MAX_RULE_CASES = 50  # case ids listed per rule (its counts say how many in all)


def _shown(path: Path, folder: Path) -> str:
    """A test file's name as the page shows it: relative to the policy folder (no server
    paths in answers)."""
    try:
        return path.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return path.name


def _case_source(result: CaseResult, next_line: int | None) -> str:
    """The lines of the test file from the case's ``name:`` to the next case (or the
    end), trailing blank lines dropped: what the page shows as the case."""
    lines = result.case.span.source.text.splitlines()
    start = result.case.span.line - 1
    end = len(lines) if next_line is None else max(start + 1, next_line - 1)
    text = "\n".join(lines[start : min(end, start + MAX_CASE_LINES)]).rstrip()
    return text if len(text) <= MAX_CASE_SOURCE else text[:MAX_CASE_SOURCE] + "\n…"


def run_tests(
    folder: Path,
    sources: Sequence[Source],
    *,
    max_cases: int = MAX_CASES,
    max_seconds: float = MAX_SECONDS,
) -> dict[str, Any]:
    """Run the test files under ``folder`` against ``sources`` (the folder's policy files
    as edited); the answer of ``/api/test``."""
    policyset = load_sources(sources)  # PolicyLoadError: the set does not check (422)
    runner = Runner(coverage=True, policies={folder: policyset})
    deadline = time.monotonic() + max_seconds

    def stop(ran: int) -> str | None:
        if ran >= max_cases:
            return f"stopped after {max_cases} cases, the console's limit per run"
        if time.monotonic() > deadline:
            return f"stopped after {max_seconds:g} s, the console's limit per run"
        return None

    run = runner.run([folder], stop=stop)
    if not run.files:  # no test files: the page's empty state
        run = RunResult([], [], [])
    run.problems = []  # discovery's notes ("no test files") are for the command line
    return _answer(
        folder, sources, run, not_run=run.not_run, stopped=run.stopped,
        limits=(max_cases, max_seconds),
    )  # fmt: skip


def _answer(
    folder: Path,
    sources: Sequence[Source],
    run: RunResult,
    *,
    not_run: int,
    stopped: str | None,
    limits: tuple[int, float],
) -> dict[str, Any]:
    out = json_report(run, coverage=True)
    for entry, file in zip(out["files"], run.files, strict=True):
        entry["file"] = _shown(file.file.path, folder)
        entry.pop("policies", None)  # a server path
        for diagnostic in entry["diagnostics"]:
            diagnostic["file"] = _shown(Path(diagnostic["file"]), folder)
    cases_by_rule: dict[str, list[str]] = {}
    for entry, result in zip(out["cases"], run.cases, strict=True):
        name = _shown(result.file.path, folder)
        entry["file"] = name
        entry["id"] = f"{name}::{result.case.name}"
        suite = result.file.suite
        cases = suite.cases if suite is not None else []
        after = [c.span.line for c in cases if c.span.line > result.case.span.line]
        entry["source"] = _case_source(result, min(after, default=None))
        details = [list(m.detail) for m in result.mismatches]
        for failure, detail in zip(entry["failures"], details, strict=True):
            failure["detail"] = detail
        hits = cov.rule_hits(result.explained)
        entry["rules_hit"] = hits
        for rule in hits:
            cases_by_rule.setdefault(rule, []).append(entry["id"])
    for cov_set in out["coverage"]["sets"]:
        cov_set["policies"] = _shown(Path(cov_set["policies"]), folder) or "."
        for item in cov_set["rules"]["items"]:
            item["cases"] = cases_by_rule.get(item["rule"], [])[:MAX_RULE_CASES]
    out["summary"]["not_run"] = not_run
    out["summary"]["stopped"] = stopped
    out["limits"] = {"cases": limits[0], "seconds": limits[1]}
    out["revision"] = revision_of_sources(sources)
    return out
