"""Golden tests: the exact output of ``receiver check`` on deliberately broken policy folders.

Each folder ``tests/golden/<case>/`` holds:

- ``policies/``: the policy files to check;
- ``args.txt`` (optional): extra command-line arguments, shell-quoted (e.g. ``--format json``);
- ``expected.txt``: the exact standard output.

The check runs in the case folder with the relative path ``policies``, so the paths in
the output are stable. To regenerate every ``expected.txt`` after a deliberate change
of messages, run ``UPDATE_GOLDEN=1 pytest tests/check/test_golden.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import pytest

from receiver.cli import main

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "policies").is_dir())
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def run_check(
    case: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    args_file = case / "args.txt"
    extra = shlex.split(args_file.read_text(encoding="utf-8")) if args_file.exists() else []
    monkeypatch.chdir(case)
    code = main(["check", "policies", *extra])
    out, err = capsys.readouterr()
    assert err == ""
    return code, out


def error_count(output: str) -> int:
    """The number of errors an output reports (text summary line or JSON summary)."""
    if output.startswith("{"):
        return int(json.loads(output)["summary"]["errors"])
    match = re.search(r"^(\d+) errors?, \d+ warnings? in \d+ polic(?:y|ies)$", output, re.M)
    assert match, "no summary line"
    return int(match.group(1))


def test_there_are_golden_cases() -> None:
    assert len(CASES) >= 4


@pytest.mark.parametrize("name", CASES)
def test_check_output_matches_the_golden_file(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    case = GOLDEN / name
    code, out = run_check(case, monkeypatch, capsys)
    expected_file = case / "expected.txt"
    if UPDATE:
        expected_file.write_text(out, encoding="utf-8")
    assert expected_file.exists(), f"no {expected_file}; run with UPDATE_GOLDEN=1 to create it"
    assert out == expected_file.read_text(encoding="utf-8")
    assert code == (1 if error_count(out) else 0)


@pytest.mark.parametrize("name", CASES)
def test_golden_output_mentions_only_relative_paths(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = run_check(GOLDEN / name, monkeypatch, capsys)
    assert str(GOLDEN) not in out
    assert "policies/" in out
