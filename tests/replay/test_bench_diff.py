"""bench/diff.py runs (a tiny corpus, one round): the benchmark of receiver diff stays usable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_diff_benchmark_runs_and_reports_events_per_second() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "diff.py"), "--records", "150", "--rounds", "1"],
        capture_output=True, text=True, timeout=300, check=False, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if "events/s" in line]
    assert [line.split()[0] for line in lines] == ["(a)", "(b)", "(c)"]
    assert "150 records" in done.stdout
