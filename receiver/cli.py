"""The ``receiver`` command line: a thin skin over the library.

    receiver check DIR... [--strict] [--format text|json]
    receiver eval DIR [PAYLOAD_FILE|-] [--users FILE] [--now ISO8601] [--explain]
    receiver tree DIR EVENT

Exit codes: 0 success; 1 policy errors (or, for ``check --strict``, warnings);
2 bad usage or bad input (an unreadable payload, users file or time).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from receiver import __version__
from receiver.decision import dumps
from receiver.diagnostics import render_json, render_text, summary_line
from receiver.dsl import textfuncs
from receiver.errors import PayloadError, PolicyLoadError, ReceiverError
from receiver.evaluator import evaluate
from receiver.explain import render_explanation
from receiver.payload import parse_event
from receiver.policyset import PolicySet, check_paths, load_policies
from receiver.tree import render_tree
from receiver.users import StaticDirectory
from receiver.values import Timestamp

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

DEFAULT_POLICIES = Path("policies")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="receiver",
        description="Declarative rule-engine webhook receiver for trust-and-safety teams.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"receiver {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    check = commands.add_parser(
        "check",
        help="check policy files and report every problem with its position",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
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

    ev = commands.add_parser(
        "eval",
        help="decide one payload and print the response JSON",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ev.add_argument("policies", type=Path, metavar="DIR", help="policy directory (or file)")
    ev.add_argument(
        "payload",
        nargs="?",
        default="-",
        metavar="PAYLOAD_FILE",
        help="JSON payload {eventName, data, actor}; '-' reads standard input",
    )
    ev.add_argument(
        "--users", type=Path, metavar="FILE", help="YAML/JSON map from userId to user record"
    )
    ev.add_argument(
        "--now",
        metavar="ISO8601",
        help="pin the clock (e.g. 2026-01-31T12:00:00Z); default: the real time",
    )
    ev.add_argument(
        "--explain",
        action="store_true",
        help="write every rule considered, its values and the decision to stderr",
    )

    tree = commands.add_parser(
        "tree",
        help="print the compiled decision tree for an event",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    tree.add_argument("policies", type=Path, metavar="DIR", help="policy directory (or file)")
    tree.add_argument("event", metavar="EVENT", help="event name, e.g. message.shouldCreate")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "check":
            return cmd_check(args.paths, args.strict, args.format, sys.stdout)
        if args.command == "eval":
            return cmd_eval(args, sys.stdout, sys.stderr)
        return cmd_tree(args.policies, args.event, sys.stdout, sys.stderr)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


def cmd_check(paths: list[Path], strict: bool, fmt: str, out: TextIO) -> int:
    report = check_paths(paths)
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


def _load(policies: Path, err: TextIO) -> PolicySet | None:
    try:
        return load_policies([policies])
    except PolicyLoadError as exc:
        errors = [d for d in exc.diagnostics if d.severity == "error"]
        err.write(render_text(errors) + "\n")
        err.write(f"receiver: {policies}: the policies have errors; run 'receiver check'\n")
        return None


def _read_payload(source: str) -> Any:
    if source == "-":
        text = sys.stdin.read()
        name = "<stdin>"
    else:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise PayloadError(f"{source}: cannot read the payload: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise PayloadError(f"{source}: the payload is not UTF-8 text") from None
        name = source
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"{name}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None


def cmd_eval(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        now = Timestamp(textfuncs.parse_time(args.now)) if args.now else Timestamp(time.time())
    except ValueError as exc:
        err.write(f"receiver: --now: {exc}\n")
        return EXIT_USAGE
    try:
        users = StaticDirectory.from_file(args.users) if args.users else None
        payload = _read_payload(args.payload)
        event = parse_event(payload)
    except PayloadError as exc:
        where = "" if str(exc).startswith(str(args.payload)) else f"{args.payload}: "
        err.write(f"receiver: {where}{exc}\n")
        return EXIT_USAGE
    except ReceiverError as exc:
        err.write(f"receiver: {exc}\n")
        return EXIT_USAGE
    policyset = _load(args.policies, err)
    if policyset is None:
        return EXIT_FAILED
    tree = policyset.traced_tree(event.name) if args.explain else policyset.tree(event.name)
    decision = evaluate(tree, event, now, users.get if users else None, explain=args.explain)
    if args.explain:
        err.write(render_explanation(tree, decision) + "\n")
    out.write(dumps(decision.response()) + "\n")
    return EXIT_OK


def cmd_tree(policies: Path, event: str, out: TextIO, err: TextIO) -> int:
    policyset = _load(policies, err)
    if policyset is None:
        return EXIT_FAILED
    out.write(render_tree(policyset.tree(event)) + "\n")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
