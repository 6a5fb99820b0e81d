"""``receiver test``: run policy test files from the command line.

Stage: the edge (the command line) over the policy test runner. Consumes test paths and the
options; produces the report (text or JSON, optionally JUnit XML and coverage) and the exit
code.

    receiver test [PATH ...] [-k PATTERN] [--format text|json] [--junit FILE]
                  [--coverage] [--fail-under PERCENT]

Exit codes: 0 every case passed (and coverage is high enough); 1 a case failed, or
rule coverage is below ``--fail-under``; 2 a test file (or the policies it tests)
has errors, a path does not exist, no test file was found, or ``-k`` selected nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from receiver.testing import coverage as cov
from receiver.testing.report import (
    encodable,
    render_json_report,
    render_text_report,
    write_junit,
)
from receiver.testing.runner import Runner

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BROKEN = 2

DEFAULT_PATHS = [Path("policies")]


def _percent(text: str) -> float:
    try:
        value = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {text!r}") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError("must be between 0 and 100")
    return value


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add the ``test`` subcommand to the ``receiver`` parser's subcommands."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "test",
        help="run policy test files (*.test.yaml) and report failures and coverage",
        description="Run every case of the *.test.yaml files under the paths against "
        "their policies, with the same compile and evaluate path as production. A test "
        "file tests the policies in its own folder unless it says 'policies: DIR'. "
        "Exit codes: 0 all passed; 1 a case failed or coverage is below --fail-under; "
        "2 a broken test file (or policies), a missing path, or nothing to run.",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        default=DEFAULT_PATHS,
        metavar="PATH",
        help="test files, or folders searched for *.test.yaml",
    )
    parser.add_argument(
        "-k",
        dest="patterns",
        action="append",
        default=[],
        metavar="PATTERN",
        help="run only cases whose FILE::NAME contains PATTERN (any case; *, ? globs; repeatable)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.add_argument("--junit", type=Path, metavar="FILE", help="also write JUnit XML here")
    parser.add_argument(
        "--coverage",
        action="store_true",
        help="report the rules that decided or matched in some case (per event) and the "
        "list entries no case exercised",
    )
    parser.add_argument(
        "--fail-under",
        type=_percent,
        metavar="PERCENT",
        help="fail when rule coverage is below PERCENT",
    )
    return parser


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    runner = Runner(coverage=args.coverage or args.fail_under is not None)
    result = runner.run(args.paths, args.patterns)
    notes: list[str] = []
    code = EXIT_OK
    if result.failed:
        code = EXIT_FAILED
    if args.fail_under is not None and cov.total_percent(result.coverage) < args.fail_under:
        code = EXIT_FAILED
    if result.problems or result.broken:
        code = EXIT_BROKEN
    elif not result.cases and args.patterns:
        notes.append(f"no case matches -k {' -k '.join(args.patterns)}")
        code = EXIT_BROKEN
    if args.format == "json":
        text = render_json_report(result, coverage=args.coverage, fail_under=args.fail_under)
    else:
        text = render_text_report(
            result, coverage=args.coverage, fail_under=args.fail_under, notes=notes
        )
    out.write(encodable(text) + "\n")
    if args.junit is not None:
        try:
            write_junit(result, args.junit)
        except OSError as exc:
            err.write(f"receiver test: --junit {args.junit}: {exc.strerror}\n")
            return EXIT_BROKEN
    return code
