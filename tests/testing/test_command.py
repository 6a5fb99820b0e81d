"""Tests for receiver.testing.command: ``receiver test``'s options and its exit codes
(0 all passed, 1 a case failed or coverage is too low, 2 broken or nothing to run)."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from receiver.testing.command import (
    DEFAULT_PATHS,
    EXIT_BROKEN,
    EXIT_FAILED,
    EXIT_OK,
    add_parser,
    run,
)

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

PASSING = """\
cases:
  - name: plain message
    event: message.shouldCreate
    data: {text: hello}
    expect: allow
  - name: a scam
    event: message.shouldCreate
    data: {text: a scam}
    expect: deny
"""

FAILING = """\
cases:
  - name: expects the wrong verdict
    event: message.shouldCreate
    data: {text: a scam}
    expect: allow
"""


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="receiver")
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["test", *argv])


def invoke(folder: Path, *argv: str) -> tuple[int, str, str]:
    """``receiver test FOLDER ARGV...``: the exit code, what it wrote to out and to err."""
    out, err = io.StringIO(), io.StringIO()
    code = run(parse(str(folder), *argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "demo.yaml").write_text(POLICY, encoding="utf-8")
    (folder / "demo.test.yaml").write_text(PASSING, encoding="utf-8")
    return folder


# -- options ---------------------------------------------------------------------------------


def test_paths_default_to_the_policies_folder() -> None:
    args = parse()
    assert args.paths == DEFAULT_PATHS == [Path("policies")]


@pytest.mark.parametrize(
    ("text", "percent"), [("80", 80.0), ("80%", 80.0), ("0", 0.0), ("99.5", 99.5)]
)
def test_fail_under_takes_a_percentage_with_or_without_the_sign(text: str, percent: float) -> None:
    assert parse("--fail-under", text).fail_under == percent


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "not a percentage: 'abc'"),
        ("101", "must be between 0 and 100"),
        ("-1", "must be between 0 and 100"),
    ],
)
def test_fail_under_rejects_what_is_not_a_percentage(
    text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(f"--fail-under={text}")
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_k_patterns_accumulate() -> None:
    assert parse("-k", "spam", "-k", "scam").patterns == ["spam", "scam"]


# -- exit codes ------------------------------------------------------------------------------


def test_all_cases_passing_exit_0(policies: Path) -> None:
    code, out, err = invoke(policies)
    assert code == EXIT_OK
    assert out.endswith("2 passed (1 test file)\n")
    assert err == ""


def test_a_failing_case_exits_1(policies: Path) -> None:
    (policies / "failing.test.yaml").write_text(FAILING, encoding="utf-8")
    code, out, _ = invoke(policies)
    assert code == EXIT_FAILED
    assert out.endswith("1 failed, 2 passed (2 test files)\n")


def test_coverage_below_fail_under_exits_1_though_every_case_passed(policies: Path) -> None:
    code, out, _ = invoke(policies, "--fail-under", "60")
    assert code == EXIT_FAILED
    assert "rule coverage 50.0%, required 60% (--fail-under): FAILED" in out
    assert invoke(policies, "--fail-under", "50")[0] == EXIT_OK


def test_a_broken_test_file_exits_2_even_when_a_case_failed(policies: Path) -> None:
    (policies / "failing.test.yaml").write_text(FAILING, encoding="utf-8")
    (policies / "broken.test.yaml").write_text("cases: [\n", encoding="utf-8")
    code, out, _ = invoke(policies)
    assert code == EXIT_BROKEN
    assert "1 failed, 2 passed, 1 broken test file (3 test files)" in out


def test_k_selecting_no_case_exits_2_and_says_so(policies: Path) -> None:
    code, out, _ = invoke(policies, "-k", "nothing", "-k", "like this")
    assert code == EXIT_BROKEN
    assert "no case matches -k nothing -k like this\n" in out


def test_a_missing_path_exits_2(tmp_path: Path) -> None:
    code, out, _ = invoke(tmp_path / "nope")
    assert code == EXIT_BROKEN
    assert "nope: error: no such file or folder [io]" in out


# -- output ----------------------------------------------------------------------------------


def test_format_json_writes_the_json_report(policies: Path) -> None:
    code, out, _ = invoke(policies, "--format", "json")
    assert code == EXIT_OK
    assert json.loads(out)["summary"]["passed"] == 2


def test_junit_writes_the_file_in_a_new_folder(policies: Path, tmp_path: Path) -> None:
    junit = tmp_path / "reports" / "ci" / "junit.xml"
    code, _, _ = invoke(policies, "--junit", str(junit))
    assert code == EXIT_OK
    assert junit.read_bytes().startswith(b"<?xml")


def test_junit_that_cannot_be_written_exits_2_with_the_reason(
    policies: Path, tmp_path: Path
) -> None:
    code, out, err = invoke(policies, "--junit", str(tmp_path))  # a folder, not a file
    assert code == EXIT_BROKEN
    assert "2 passed" in out  # the report is still shown
    assert err.startswith(f"receiver test: --junit {tmp_path}: ")


def test_output_of_lone_surrogates_is_printable(tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "demo.yaml").write_text(POLICY, encoding="utf-8")
    (folder / "odd.test.yaml").write_text(
        'cases:\n  - name: "odd \\uD800 name"\n    event: message.shouldCreate\n'
        "    data: {text: hi}\n    expect: deny\n",
        encoding="utf-8",
    )
    code, out, _ = invoke(folder)
    assert code == EXIT_FAILED
    assert "odd \\ud800 name" in out
    out.encode("utf-8")  # no lone surrogate left to fail an encoder
