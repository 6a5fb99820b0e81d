"""Start-up of the ``receiver`` command line, measured with hyperfine.

Run from the repository root with the project's virtual environment::

    python bench/cli.py                       # about half a minute on 2 cores
    python bench/cli.py --runs 30 --payload examples/payloads/channel-join-staff-room.json

Each command runs as a user runs it, the installed ``receiver`` console script in a
new process, timed by hyperfine (``/usr/bin/hyperfine`` or on the ``PATH``) after
warm-up runs. The warm-up also writes what a first run leaves behind for the next
ones: Python's bytecode (``__pycache__``; the benchmark unsets
``PYTHONDONTWRITEBYTECODE``, which would make every run compile every module from
source, as no installed package runs) and the grammar's LALR tables
(receiver/dsl/grammar.py).

Targets (issue 19), judged on hyperfine's mean wall time:

- ``receiver --version`` under 150 ms;
- ``receiver eval policies/ PAYLOAD`` of one payload on the shipped policies under
  0.5 s (default payload: a chat message, the event with the most rules).

Also shown, without a target: the interpreter alone (``python -c pass``, the floor
of any command), and every payload of ``examples/payloads/`` decided by one
``receiver eval --jsonl`` against one ``receiver eval`` per payload (the loop a policy
writer would otherwise run, estimated as the number of payloads times the mean of one).
The user and system CPU times are printed next to the wall time: on a busy machine
the wall time includes waiting for a core, the CPU time much less so.

Exit code 0, or with ``--check`` 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "policies"
PAYLOADS = ROOT / "examples" / "payloads"
DEFAULT_PAYLOAD = PAYLOADS / "message-create-plain.json"
SCRIPT = Path(sys.executable).parent / "receiver"

VERSION_TARGET_S = 0.150
EVAL_TARGET_S = 0.5


@dataclass(frozen=True)
class Timing:
    name: str
    mean: float  # seconds, wall
    stddev: float
    low: float
    user: float  # seconds of CPU per run
    system: float

    def row(self) -> str:
        return (
            f"{self.name:<52} {self.mean * 1000:7.1f} ms ± {self.stddev * 1000:5.1f}"
            f"  (min {self.low * 1000:6.1f}; CPU {(self.user + self.system) * 1000:6.1f} ms)"
        )


def hyperfine_path() -> str:
    found = shutil.which("hyperfine") or (
        "/usr/bin/hyperfine" if Path("/usr/bin/hyperfine").exists() else None
    )
    if found is None:
        raise SystemExit("bench/cli.py: hyperfine is not installed (apt-get install hyperfine)")
    return found


def measure(commands: dict[str, list[str]], runs: int, warmup: int) -> dict[str, Timing]:
    """Each command's timing: hyperfine, no shell, every command with the same runs."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as scratch:
        export = Path(scratch) / "hyperfine.json"
        argv = [
            hyperfine_path(),
            "--shell=none",
            "--style=basic",
            f"--warmup={warmup}",
            f"--runs={runs}",
            f"--export-json={export}",
        ]
        for name, command in commands.items():
            argv += ["--command-name", name, " ".join(command)]
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
        results = json.loads(export.read_text(encoding="utf-8"))["results"]
    return {
        r["command"]: Timing(r["command"], r["mean"], r["stddev"], r["min"], r["user"], r["system"])
        for r in results
    }


def check_commands(payload: Path, lines: Path) -> None:
    """Each measured command must succeed, or its timing would be a failure's."""
    for command in (
        [str(SCRIPT), "--version"],
        [str(SCRIPT), "eval", str(POLICIES), str(payload)],
        [str(SCRIPT), "eval", str(POLICIES), str(lines), "--jsonl"],
    ):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"bench/cli.py: {' '.join(command)} failed:\n{done.stderr}")


def verdict(figure: float, target: float) -> str:
    return "PASS" if figure < target else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs per command")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first")
    parser.add_argument(
        "--payload", type=Path, default=DEFAULT_PAYLOAD, help="the payload of the eval target"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    if not SCRIPT.exists():
        raise SystemExit(f"bench/cli.py: no receiver console script at {SCRIPT}")
    payloads = sorted(PAYLOADS.glob("*.json"))
    with tempfile.TemporaryDirectory() as scratch:
        lines = Path(scratch) / "payloads.jsonl"
        lines.write_text(
            "".join(json.dumps(json.loads(p.read_text(encoding="utf-8"))) + "\n" for p in payloads),
            encoding="utf-8",
        )
        check_commands(args.payload, lines)
        script, policies = str(SCRIPT), str(POLICIES)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "receiver --version": [script, "--version"],
            f"receiver eval policies/ {args.payload.name}": [
                script, "eval", policies, str(args.payload)
            ],
            f"receiver eval policies/ --jsonl ({len(payloads)} lines)": [
                script, "eval", policies, str(lines), "--jsonl"
            ],
        }  # fmt: skip
        timings = measure(commands, args.runs, args.warmup)
    floor, version, one, stream = timings.values()
    print(f"receiver CLI start-up, {args.runs} runs each (hyperfine; wall time, mean)")
    for timing in (floor, version, one, stream):
        print("  " + timing.row())
    loop = len(payloads) * one.mean
    print(
        f"  {len(payloads)} payloads: one --jsonl process {stream.mean:.2f} s against about "
        f"{loop:.1f} s for one process each ({loop / stream.mean:.0f}x)"
    )
    checks = [
        ("receiver --version", version.mean, VERSION_TARGET_S),
        ("receiver eval, one payload", one.mean, EVAL_TARGET_S),
    ]
    print()
    for label, figure, target in checks:
        print(
            f"  {label:<30} {figure * 1000:7.1f} ms  target < {target * 1000:.0f} ms: "
            f"{verdict(figure, target)}"
        )
    missed = any(figure >= target for _, figure, target in checks)
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
