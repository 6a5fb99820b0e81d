"""bench/replay.py runs (a tiny corpus, one round): the benchmark behind the replay
speed target stays usable, and its replays agree with the corpus where they should."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_replay_benchmark_runs_and_checks_its_target() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "replay.py"), "--events", "300", "--rounds", "1"],
        capture_output=True, text=True, timeout=300, check=False, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr  # 1: the target missed on a loaded machine
    cases = [line.split()[0] for line in done.stdout.splitlines() if line.startswith("(")]
    assert cases == ["(a)", "(b)", "(c)", "(c)"]
    assert "corpus: 300 records" in done.stdout
    assert "(b) read, decide, write:" in done.stdout.splitlines()[-1]
