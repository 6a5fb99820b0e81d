"""``receiver eval``: decide one payload with the policies and print the answer.

Stage: the edge (the command line) over the whole pipeline, load to decision.
Consumes a policy path and one JSON payload (a file or standard input); produces the
response JSON on one line of stdout (the social.plus answer, or brainCloud's for a
bridge envelope), and with ``--explain`` every rule considered on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from receiver.adapters import braincloud
from receiver.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, load_or_report
from receiver.counters.memory import MemoryBackend
from receiver.counters.seed import read_seed_file, seed_mapping
from receiver.dsl import textfuncs
from receiver.dsl.values import Timestamp
from receiver.errors import PayloadError, ReceiverError
from receiver.runtime.counters import count_sync, counter_values, plan_for, strike_sync
from receiver.runtime.decision import dumps
from receiver.runtime.evaluator import evaluate
from receiver.runtime.explain import render_explanation
from receiver.runtime.payload import parse_event
from receiver.users.static import StaticDirectory


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add ``eval`` with its options to the ``receiver`` parser's subcommands."""
    ev: argparse.ArgumentParser = commands.add_parser(
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
        help="JSON payload {eventName, data, actor}, or a brainCloud bridge envelope "
        "{hookType, service, operation, ...} (answered in brainCloud's form); "
        "'-' reads standard input",
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
    ev.add_argument(
        "--counters-seed",
        type=Path,
        metavar="FILE",
        help="YAML {counter: {key: value}}: counter values before this event (default: all 0)",
    )
    return ev


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    return cmd_eval(args, out, err)


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
        hook = braincloud.parse_envelope(payload) if braincloud.is_envelope(payload) else None
        event = hook.event if hook is not None else parse_event(payload)
    except PayloadError as exc:
        where = "" if str(exc).startswith(str(args.payload)) else f"{args.payload}: "
        err.write(f"receiver: {where}{exc}\n")
        return EXIT_USAGE
    except ReceiverError as exc:
        err.write(f"receiver: {exc}\n")
        return EXIT_USAGE
    policyset = load_or_report(args.policies, err)
    if policyset is None:
        return EXIT_FAILED
    tree = policyset.traced_tree(event.name) if args.explain else policyset.tree(event.name)
    backend = MemoryBackend()
    try:
        if args.counters_seed is not None:
            seeds = read_seed_file(args.counters_seed)
            seed_mapping(backend, policyset.counters, seeds, now, str(args.counters_seed))
    except ReceiverError as exc:
        err.write(f"receiver: {exc}\n")
        return EXIT_USAGE
    counted = count_sync(backend, plan_for(policyset, event.name), event, now)
    decision = evaluate(
        tree, event, now, users.get if users else None, explain=args.explain,
        **counter_values(counted),
    )  # fmt: skip
    strike_sync(backend, counted, decision)
    if args.explain:
        err.write(render_explanation(tree, decision, counted.explain()) + "\n")
    response = (
        braincloud.answer(hook.hook_type, decision) if hook is not None else decision.response()
    )
    out.write(dumps(response) + "\n")
    return EXIT_OK
