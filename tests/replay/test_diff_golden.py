"""Golden reports: the exact output of ``receiver diff`` in every format, on the generated
corpus of tests/data/diff (records.jsonl, replayed through old/ and new/).

Each case writes one file of ``tests/golden/diff/``. The diff runs in ``tests/data`` with
relative paths, so the output is the same on every machine. To regenerate the files after
a deliberate change of the reports, run ``UPDATE_GOLDEN=1 pytest
tests/replay/test_diff_golden.py`` and review the diff. The corpus itself is made by
``tests/data/diff/make_corpus.py``; a test checks the committed file is what it makes.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from types import ModuleType

import pytest

from receiver.cli import main

TESTS = Path(__file__).resolve().parents[1]
DATA = TESTS / "data"
GOLDEN = TESTS / "golden" / "diff"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
ARGV = ["diff", "diff/old", "diff/new", "diff/records.jsonl"]

# golden file -> (extra arguments, exit code)
CASES: dict[str, tuple[list[str], int]] = {
    "report.txt": (["--fail-on", "allow_to_deny > 0.5% or deny_to_allow > 0"], 1),
    "report.json": (["--format", "json", "--fail-on", "deny_to_allow > 5"], 0),
    "report.md": (["--format", "markdown"], 0),
    "report-no-samples.md": (["--format", "markdown", "--no-samples"], 0),
    "report.html": (["--format", "html", "--samples", "2"], 0),
}


def run_diff(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    monkeypatch.chdir(DATA)
    code = main([*ARGV, *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", list(CASES))
def test_the_report_matches_the_golden_file(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args, expected_code = CASES[name]
    code, out, err = run_diff(args, monkeypatch, capsys)
    golden = GOLDEN / name
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        golden.write_text(out, encoding="utf-8")
    assert golden.exists(), f"no {golden}; run with UPDATE_GOLDEN=1 to create it"
    assert out == golden.read_text(encoding="utf-8")
    assert code == expected_code, err
    assert str(DATA) not in out  # relative paths only


def test_the_json_report_holds_what_the_corpus_was_made_to_show(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each change of new/ against old/ shows where it should: a guard on the golden
    files themselves (regenerating them cannot quietly bless a wrong report)."""
    _, out, _ = run_diff(["--format", "json"], monkeypatch, capsys)
    report = json.loads(out)
    flips = report["flips"]
    assert all(flips[kind] > 0 for kind in flips), flips
    assert flips["total"] == sum(v for k, v in flips.items() if k != "total")
    rules = {row["rule"]: row["delta"] for row in report["rules"]}
    assert rules["community/message-too-long"]["decided"] > 0  # the limit went 400 -> 280
    assert rules["community/invite-links"]["decided"] > 0  # a new deny rule
    assert rules["community/shouting"]["shadow"] > 0  # a new shadow rule
    assert rules["community/links-from-new-accounts"]["decided"] < 0  # relaxed
    assert rules["community/tidy-spaces"]["modified"] > 0  # collapses runs of spaces too
    for kind, samples in report["samples"].items():
        assert 0 < len(samples) <= 3, kind
        times = [s["time"] for s in samples]
        assert times == sorted(times)
    spam = report["samples"]["message_changed"][0]
    assert spam["old"]["rule"] == spam["new"]["rule"] == "community/spam-phrases"
    assert "decision: deny by community/spam-phrases" in spam["explanation"]
    assert report["old"]["revision"] != report["new"]["revision"]
    # OLD is what recorded the corpus: replayed, it answers every event as recorded
    assert report["baseline"] == {
        "recorded_revisions": {report["old"]["revision"]: 420}, "old_differs": 0, "degraded": 0,
        "sampled": 0, "sample": 1.0, "rotated_out": [],
    }  # fmt: skip


def corpus_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_corpus", DATA / "diff" / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_corpus_is_what_the_script_makes() -> None:
    made: bytes = corpus_script().build()
    committed = (DATA / "diff" / "records.jsonl").read_bytes()
    assert made == committed, "run: python tests/data/diff/make_corpus.py"
