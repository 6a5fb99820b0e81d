"""Tests for receiver.testing.report: the text report, the JSON document and the JUnit XML
of a policy test run, and the account of one failed case."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from receiver.testing.report import (
    encodable,
    failure_text,
    junit_xml,
    render_json_report,
    render_text_report,
    write_junit,
)
from receiver.testing.runner import Runner, RunResult

POLICY = """\
policy: demo
rules:
  - id: no-scam
    events: message.shouldCreate
    when: text contains "scam"
    action: deny
    message: No scams.
  - id: no-spam
    events: message.shouldCreate
    when: text contains "spam"
    action: deny
    message: No spam.
"""

CASES = """\
users:
  sam: {role: member}
cases:
  - name: plain message
    event: message.shouldCreate
    user: sam
    data: {text: hello}
    expect: allow
  - name: expects the wrong verdict
    event: message.shouldCreate
    user: sam
    data: {text: a scam}
    expect: allow
  - name: no actor at all
    event: message.shouldCreate
    data: {text: hi}
    expect: deny
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "demo.yaml").write_text(POLICY, encoding="utf-8")
    (policies / "demo.test.yaml").write_text(CASES, encoding="utf-8")
    return policies


def run(*paths: Path, coverage: bool = False, patterns: tuple[str, ...] = ()) -> RunResult:
    return Runner(coverage=coverage).run(list(paths), patterns)


def failed_case(result: RunResult, name: str) -> str:
    (found,) = [c for c in result.cases if c.case.name == name]
    assert not found.passed
    return failure_text(found)


# -- encodable -------------------------------------------------------------------------------


def test_encodable_keeps_text_without_lone_surrogates() -> None:
    assert encodable("café 😀 \\u") == "café 😀 \\u"


def test_encodable_writes_a_lone_surrogate_as_its_json_escape() -> None:
    shown = encodable("a\ud800b")
    assert shown == "a\\ud800b"
    assert json.loads(f'"{shown}"') == "a\ud800b"


# -- failure_text ----------------------------------------------------------------------------


def test_failure_text_starts_with_the_case_position_event_and_user(folder: Path) -> None:
    lines = failed_case(run(folder), "expects the wrong verdict").splitlines()
    assert lines[0].endswith("demo.test.yaml:9:11: expects the wrong verdict")
    assert lines[1] == "  event message.shouldCreate, user sam"
    assert lines[2].startswith("  answer: {") and '"deny"' in lines[2]
    assert lines[3] == "  expected vs actual (- expected, + actual):"
    assert lines[4] == "    action: expected allow, got deny"


def test_failure_text_says_when_a_case_has_no_actor(folder: Path) -> None:
    text = failed_case(run(folder), "no actor at all")
    assert text.splitlines()[1] == "  event message.shouldCreate, no actor"


def test_failure_text_ends_with_the_explanation_unless_asked_not_to(folder: Path) -> None:
    result = run(folder)
    (found,) = [c for c in result.cases if c.case.name == "expects the wrong verdict"]
    with_trace = failure_text(found)
    assert "\n  explain:\n    event message.shouldCreate: " in with_trace
    assert "decision: deny by demo/no-scam" in with_trace
    assert "explain:" not in failure_text(found, explain=False)


def test_failure_text_shortens_a_long_answer(folder: Path) -> None:
    (folder / "demo.yaml").write_text(POLICY.replace("No scams.", "x" * 2000), encoding="utf-8")
    text = failed_case(run(folder), "expects the wrong verdict")
    (answer,) = [line for line in text.splitlines() if line.startswith("  answer: ")]
    assert len(answer) < 700
    assert answer.endswith(" more)")


# -- the text report -------------------------------------------------------------------------


def test_text_report_has_a_line_per_case_then_failures_then_the_summary(folder: Path) -> None:
    out = render_text_report(run(folder)).splitlines()
    assert out[0].startswith("PASS ") and out[0].endswith("demo.test.yaml:4  plain message")
    assert out[1].startswith("FAIL ") and out[1].endswith(
        "demo.test.yaml:9  expects the wrong verdict"
    )
    assert out[2].startswith("FAIL ") and out[2].endswith("demo.test.yaml:14  no actor at all")
    assert out[3:5] == ["", "failures:"]
    assert out[-1] == "2 failed, 1 passed (1 test file)"


def test_text_report_summary_counts_broken_files_and_deselected_cases(folder: Path) -> None:
    (folder / "broken.test.yaml").write_text("cases: [\n", encoding="utf-8")
    (folder / "more.test.yaml").write_text("cases: [\n", encoding="utf-8")
    out = render_text_report(run(folder, patterns=("plain",)))
    assert out.splitlines()[-1] == "1 passed, 2 broken test files, 2 deselected (3 test files)"


def test_text_report_shows_a_broken_file_with_its_indented_diagnostics(folder: Path) -> None:
    (folder / "broken.test.yaml").write_text("cases: [\n", encoding="utf-8")
    out = render_text_report(run(folder / "broken.test.yaml"))
    lines = out.splitlines()
    assert (
        lines[0]
        == f"ERROR {folder}/broken.test.yaml: the test file has errors, its cases did not run"
    )
    assert lines[1].startswith(f"  {folder}/broken.test.yaml:2:1: error: YAML syntax error")
    assert lines[-1] == "0 passed, 1 broken test file (1 test file)"


def test_text_report_prints_notes_just_before_the_summary(folder: Path) -> None:
    out = render_text_report(run(folder, patterns=("zzz",)), notes=["no case matches -k zzz"])
    assert out.splitlines()[-2:] == [
        "no case matches -k zzz",
        "0 passed, 3 deselected (1 test file)",
    ]


def test_text_report_with_fail_under_alone_prints_only_the_verdict(folder: Path) -> None:
    out = render_text_report(run(folder, coverage=True), fail_under=100)
    assert "rule coverage 50.0%, required 100% (--fail-under): FAILED" in out
    assert "never matched" not in out


# -- the JSON report -------------------------------------------------------------------------


def test_json_report_lists_files_cases_and_the_summary(folder: Path) -> None:
    report = json.loads(render_json_report(run(folder)))
    assert report["summary"] == {
        "passed": 1,
        "failed": 2,
        "broken_files": 0,
        "deselected": 0,
        "files": 1,
    }
    (file,) = report["files"]
    assert (file["file"], file["broken"], file["cases"]) == (f"{folder}/demo.test.yaml", False, 3)
    assert [c["status"] for c in report["cases"]] == ["passed", "failed", "failed"]
    assert "coverage" not in report and "fail_under" not in report


def test_json_report_explains_failed_cases_only(folder: Path) -> None:
    cases = json.loads(render_json_report(run(folder)))["cases"]
    assert ["explain" in c for c in cases] == [False, True, True]


def test_json_report_gives_the_fail_under_verdict_with_coverage(folder: Path) -> None:
    report = json.loads(render_json_report(run(folder, coverage=True), fail_under=40))
    assert report["fail_under"] == {"required": 40, "percent": 50.0, "ok": True}
    assert report["coverage"]["rules"] == {"covered": 1, "total": 2, "percent": 50.0}


# -- JUnit XML -------------------------------------------------------------------------------


def test_junit_xml_has_a_testsuite_per_file_and_a_testcase_per_case(folder: Path) -> None:
    root = ET.fromstring(junit_xml(run(folder)))
    assert (root.tag, root.get("tests"), root.get("failures"), root.get("errors")) == (
        "testsuites",
        "3",
        "2",
        "0",
    )
    (suite,) = root.iter("testsuite")
    assert suite.get("name") == f"{folder}/demo.test.yaml"
    cases = suite.findall("testcase")
    assert [c.get("line") for c in cases] == ["4", "9", "14"]
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("message") == "action: expected allow, got deny"


def test_junit_xml_reports_discovery_problems_as_one_error(tmp_path: Path) -> None:
    root = ET.fromstring(junit_xml(run(tmp_path / "nope")))
    (suite,) = root.iter("testsuite")
    assert suite.get("name") == "(discovery)"
    error = suite.find("testcase/error")
    assert error is not None
    assert error.get("message") == "no test files could be run"
    assert "nope: error: no such file or folder" in (error.text or "")
    assert (root.get("tests"), root.get("errors")) == ("1", "1")


def test_junit_xml_survives_control_characters_and_lone_surrogates(folder: Path) -> None:
    (folder / "odd.test.yaml").write_text(
        'cases:\n  - name: "odd \\x01 name"\n    event: message.shouldCreate\n'
        '    data: {text: "scam \\uD800"}\n    expect: allow\n',
        encoding="utf-8",
    )
    result = run(folder / "odd.test.yaml")
    assert result.failed == 1
    root = ET.fromstring(junit_xml(result))
    assert root.get("failures") == "1"
    case = root.find("testsuite/testcase")
    assert case is not None
    assert case.get("name") == "odd \ufffd name"


def test_write_junit_creates_the_folders_it_needs(folder: Path, tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "junit.xml"
    result = run(folder)
    write_junit(result, path)
    assert path.read_bytes() == junit_xml(result)
