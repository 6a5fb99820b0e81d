"""``receiver check``: check policy files and report every problem with its position.

Stage: the edge (the command line) over load and check. Consumes policy paths;
produces the diagnostics as text (``FILE:LINE:COL``, source line, caret) or JSON on
stdout, and exit code 1 when any is an error (``--strict``: any at all). Rules that
expire within 14 days of now, or have expired, are warned about; ``--now`` pins the
clock for that (reproducible output, tests).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from receiver.cli.common import DEFAULT_POLICIES
from receiver.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from receiver.dsl.times import parse_time
from receiver.runtime.policyset import check_paths
from receiver.text.diagnostics import render_json, render_text, summary_line


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add ``check`` with its options to the ``receiver`` parser's subcommands."""
    check: argparse.ArgumentParser = commands.add_parser(
        "check",
        help="check policy files and report every problem with its position",
    )
    check.add_argument(
        "paths",
        nargs="*",
        type=Path,
        default=[DEFAULT_POLICIES],
        metavar="DIR",
        help="policy directories or files",
    )
    check.add_argument("--strict", action="store_true", help="treat warnings as errors")
    check.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    check.add_argument(
        "--now",
        metavar="ISO8601",
        help="the time that rule expiry is warned about against, e.g. 2026-01-31T12:00:00Z "
        "(default: the real time)",
    )
    return check


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        now = parse_time(args.now) if args.now else time.time()
    except ValueError as exc:
        err.write(f"receiver: --now: {exc}\n")
        return EXIT_USAGE
    return cmd_check(args.paths, args.strict, args.format, out, now=now)


def cmd_check(
    paths: list[Path], strict: bool, fmt: str, out: TextIO, *, now: float | None = None
) -> int:
    """``now`` (epoch seconds): warn about rules that expire within 14 days of it."""
    report = check_paths(paths, now=now)
    diagnostics = report.diagnostics
    if strict:
        diagnostics = [replace(d, severity="error") for d in diagnostics]
    if fmt == "json":
        out.write(render_json(diagnostics) + "\n")
    else:
        if diagnostics:
            out.write(render_text(diagnostics) + "\n\n")
        out.write(summary_line(diagnostics, len(report.policies)) + "\n")
    return EXIT_FAILED if any(d.severity == "error" for d in diagnostics) else EXIT_OK
