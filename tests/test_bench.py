"""The benchmark scripts in bench/ start: each imports what it names and answers --help.

The speed figures of the README and docs/ come from these scripts; one that no longer
imports (a name moved in receiver/) would only be found when someone re-measures.
Tests of what some scripts print are beside the code they measure
(tests/replay/test_benches.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Helpers the scripts import, not scripts.
NOT_SCRIPTS = {"_asgi.py", "_common.py", "policygen.py"}
SCRIPTS = sorted(p.name for p in (ROOT / "bench").glob("*.py") if p.name not in NOT_SCRIPTS)


def test_every_script_is_listed() -> None:
    assert len(SCRIPTS) >= 20
    for name in NOT_SCRIPTS:
        assert "argparse" not in (ROOT / "bench" / name).read_text(encoding="utf-8"), name


@pytest.mark.parametrize("name", SCRIPTS)
def test_the_script_imports_and_answers_help(name: str) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / name), "--help"],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("usage:"), done.stdout[:500]
