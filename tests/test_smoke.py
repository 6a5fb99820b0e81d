"""The shipped policies load, and the console entry point answers as documented."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_policies_check_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "receiver", "check", str(ROOT / "policies")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 errors" in result.stdout


def test_eval_prints_the_response_on_one_line(tmp_path: Path) -> None:
    payload = tmp_path / "p.json"
    payload.write_text(json.dumps({"eventName": "channel.shouldJoin", "data": {}, "actor": {}}))
    result = subprocess.run(
        [sys.executable, "-m", "receiver", "eval", str(ROOT / "policies"), str(payload)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == '{"action":"allow"}\n'
