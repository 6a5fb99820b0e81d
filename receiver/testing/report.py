"""Showing test results: text for people, JSON for tools, JUnit XML for CI systems.

Stage: testing (policy tests), reporting. Consumes the
:class:`~receiver.testing.runner.RunResult` of ``receiver test`` (and, with
``--coverage``, the :mod:`receiver.testing.coverage` of each policy folder) and produces
the text report, the JSON document and the JUnit XML file; ``failure_text`` is also what
the pytest plugin shows for a failing case.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from receiver.runtime.decision import dumps
from receiver.testing import coverage as cov
from receiver.testing.expect import rollout_way
from receiver.testing.runner import CaseResult, FileResult, RunResult
from receiver.text.diagnostics import Diagnostic, render_text


def encodable(text: str) -> str:
    """Lone surrogates (from ``\\uD800`` escapes in test data) as ``\\ud800``: printable, and
    still valid JSON, where that is the escape for the same character."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _actor(result: CaseResult) -> str:
    actor = result.case.actor
    user = actor.get("userId")
    if user is None:
        return "no actor" if not actor else f"actor {dumps(actor)}"
    return f"user {user}"


def _shorten(text: str, limit: int = 600) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}… ({len(text) - limit + 1} more)"


def failure_text(result: CaseResult, *, explain: bool = True) -> str:
    """The readable account of one failed case: what differs, the answer, the trace."""
    case = result.case
    lines = [
        f"{result.location}: {case.name}",
        f"  event {case.event}, {_actor(result)}",
        f"  answer: {_shorten(dumps(result.decision.response()))}",
    ]
    if result.decision.rollouts:  # which way each rollout rule that matched went
        ways = (f"{r.rule} {rollout_way(r)}" for r in result.decision.rollouts)
        lines.append(f"  rollout: {'; '.join(ways)}")
    lines.append("  expected vs actual (- expected, + actual):")
    for mismatch in result.mismatches:
        lines.append(f"    {mismatch.field}: {mismatch.summary}")
        lines.extend(f"      {line}" for line in mismatch.detail)
    if explain:
        lines.append("  explain:")
        lines.extend(f"    {line}" for line in result.explanation.splitlines())
    return "\n".join(lines)


def _summary(run: RunResult) -> str:
    parts = []
    if run.failed:
        parts.append(f"{run.failed} failed")
    parts.append(f"{run.passed} passed")
    broken = len(run.broken)
    if broken:
        parts.append(f"{broken} broken test file{'s' if broken != 1 else ''}")
    if run.deselected:
        parts.append(f"{run.deselected} deselected")
    files = len(run.files)
    return ", ".join(parts) + f" ({files} test file{'s' if files != 1 else ''})"


def render_text_report(
    run: RunResult,
    *,
    coverage: bool = False,
    fail_under: float | None = None,
    notes: list[str] | None = None,
) -> str:
    out: list[str] = []
    if run.problems:
        out.append(render_text(run.problems))
    for file in run.files:
        if file.file.broken:
            out.append(f"ERROR {file.file.path}: the test file has errors, its cases did not run")
            if file.file.diagnostics:
                out.append(_indent(render_text(file.file.diagnostics), "  "))
            continue
        for result in file.cases:
            status = "PASS " if result.passed else "FAIL "
            out.append(f"{status} {result.file.path}:{result.case.span.line}  {result.case.name}")
    failures = [c for c in run.cases if not c.passed]
    if failures:
        out.append("")
        out.append("failures:")
        for result in failures:
            out.append("")
            out.append("FAIL " + failure_text(result))
    if coverage or fail_under is not None:
        out.append("")
        if coverage:
            out.append(cov.render_text(run.coverage) or "coverage: no case ran")
        if fail_under is not None:
            total = cov.total_percent(run.coverage)
            verdict = "ok" if total >= fail_under else "FAILED"
            out.append(
                f"rule coverage {cov.shown_percent(total)}, required {fail_under:g}% "
                f"(--fail-under): {verdict}"
            )
    out.append("")
    out.extend(notes or [])
    out.append(_summary(run))
    return "\n".join(out)


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def _file_json(file: FileResult) -> dict[str, Any]:
    suite = file.file.suite
    return {
        "file": str(file.file.path),
        "suite": suite.name if suite else None,
        "policies": str(suite.policies) if suite else None,
        "broken": file.file.broken,
        "cases": len(file.cases),
        "deselected": file.deselected,
        "diagnostics": [d.to_json() for d in file.file.diagnostics],
    }


def _case_json(result: CaseResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": result.id,
        "file": str(result.file.path),
        "line": result.case.span.line,
        "column": result.case.span.column,
        "name": result.case.name,
        "event": result.case.event,
        "status": "passed" if result.passed else "failed",
        "failures": [m.to_json() for m in result.mismatches],
        "response": result.decision.response(),
        "decision": result.decision.summary(),
        "seconds": round(result.seconds, 6),
    }
    if not result.passed:
        out["explain"] = result.explanation
    return out


def render_json_report(
    run: RunResult, *, coverage: bool = False, fail_under: float | None = None
) -> str:
    return json.dumps(
        json_report(run, coverage=coverage, fail_under=fail_under), indent=2, ensure_ascii=False
    )


def json_report(
    run: RunResult, *, coverage: bool = False, fail_under: float | None = None
) -> dict[str, Any]:
    """The document ``receiver test --format json`` writes (also the console's Tests view)."""
    out: dict[str, Any] = {
        "diagnostics": [d.to_json() for d in run.problems],
        "files": [_file_json(f) for f in run.files],
        "cases": [_case_json(c) for c in run.cases],
        "summary": {
            "passed": run.passed,
            "failed": run.failed,
            "broken_files": len(run.broken),
            "deselected": run.deselected,
            "files": len(run.files),
        },
    }
    if coverage or fail_under is not None:
        out["coverage"] = cov.to_json(run.coverage)
    if fail_under is not None:
        total = cov.total_percent(run.coverage)
        out["fail_under"] = {
            "required": fail_under,
            "percent": round(total, 2),
            "ok": total >= fail_under,
        }
    return out


# -- JUnit XML --------------------------------------------------------------------------

_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    """Text XML 1.0 can carry: control characters and lone surrogates become U+FFFD."""
    return _XML_INVALID.sub("\ufffd", text)


def _diagnostics_text(diagnostics: list[Diagnostic]) -> str:
    return render_text(diagnostics)


def junit_xml(run: RunResult) -> bytes:
    """The results as JUnit XML: one ``testsuite`` per test file, one ``testcase`` per case."""
    root = ET.Element("testsuites", name="receiver test")
    total = failures = errors = 0
    seconds_all = 0.0
    if run.problems:
        suite = ET.SubElement(
            root, "testsuite", name="(discovery)", tests="1", failures="0", errors="1"
        )
        suite.set("skipped", "0")
        suite.set("time", "0")
        case = ET.SubElement(suite, "testcase", name="(discovery)", classname="(discovery)")
        case.set("time", "0")
        error = ET.SubElement(case, "error", message="no test files could be run", type="error")
        error.text = _xml(_diagnostics_text(run.problems))
        total += 1
        errors += 1
    for file in run.files:
        name = str(file.file.path)
        suite = ET.SubElement(root, "testsuite", name=_xml(name))
        if file.file.broken:
            case = ET.SubElement(suite, "testcase", name="(test file)", classname=_xml(name))
            case.set("file", _xml(name))
            case.set("time", "0")
            error = ET.SubElement(
                case, "error", message="the test file has errors", type="TestFileError"
            )
            error.text = _xml(_diagnostics_text(file.file.diagnostics))
            suite.attrib.update(tests="1", failures="0", errors="1", skipped="0", time="0")
            total += 1
            errors += 1
            continue
        failed = 0
        seconds = 0.0
        for result in file.cases:
            case = ET.SubElement(
                suite, "testcase", name=_xml(result.case.name), classname=_xml(name)
            )
            case.set("file", _xml(name))
            case.set("line", str(result.case.span.line))
            case.set("time", f"{result.seconds:.6f}")
            seconds += result.seconds
            if not result.passed:
                failed += 1
                message = "; ".join(f"{m.field}: {m.summary}" for m in result.mismatches)
                failure = ET.SubElement(
                    case, "failure", message=_xml(message), type="ExpectationFailed"
                )
                failure.text = _xml(failure_text(result))
        suite.attrib.update(
            tests=str(len(file.cases)),
            failures=str(failed),
            errors="0",
            skipped="0",
            time=f"{seconds:.6f}",
        )
        total += len(file.cases)
        failures += failed
        seconds_all += seconds
    root.attrib.update(
        tests=str(total), failures=str(failures), errors=str(errors), time=f"{seconds_all:.6f}"
    )
    ET.indent(root)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body + b"\n"


def write_junit(run: RunResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(junit_xml(run))
