"""The committed profanity corpora (tests/data/profanity_*.txt) are what
bench/profanity_corpora.py makes: the script is the corpora's source, and a change to
either shows here rather than at the next regeneration."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_corpora_are_what_the_script_makes() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "profanity_corpora.py"), "--check"],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
