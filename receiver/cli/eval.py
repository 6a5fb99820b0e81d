"""``receiver eval``: decide payloads with the policies and print the answers.

Stage: the edge (the command line) over the whole pipeline, load to decision.
Consumes a policy path and one JSON payload (a file or standard input), or with
``--jsonl`` a stream of them, one per line; produces each response JSON on one line
of stdout (the social.plus answer, or brainCloud's for a bridge envelope), and with
``--explain`` every rule considered on stderr.

In a stream every input line gets exactly one output line, in order: the answer, or
``{"line": N, "error": "..."}`` for a line that is not a payload (the message also
goes to stderr, as ``receiver: FILE:LINE[:COL]: ...``). Each line is decided as a
``receiver eval`` of that payload alone would decide it: its counters start from 0 (or
from ``--counters-seed``), and the clock is read for it unless ``--now`` pins it. The
policies, the users file and the seed file are read once. Exit code 2 when any line
was bad, after the last one.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TextIO

from receiver.adapters import twilio
from receiver.adapters.platforms import PLATFORMS, Call, Platform, call_of
from receiver.cli.common import load_or_report
from receiver.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from receiver.counters.memory import MemoryBackend
from receiver.counters.seed import read_seed_file, seed_mapping
from receiver.dsl import times
from receiver.dsl.values import Timestamp
from receiver.errors import PayloadError, ReceiverError
from receiver.runtime.decide import decide
from receiver.runtime.decision import dumps
from receiver.runtime.explain import render_explanation
from receiver.runtime.policyset import PolicySet
from receiver.runtime.trace import Tracer
from receiver.users.static import StaticDirectory

STDIN = "-"
TOO_DEEP = "the payload is nested too deeply"


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add ``eval`` with its options to the ``receiver`` parser's subcommands."""
    ev: argparse.ArgumentParser = commands.add_parser(
        "eval",
        help="decide one payload (or, with --jsonl, one per line) and print the response JSON",
    )
    ev.add_argument("policies", type=Path, metavar="DIR", help="policy directory (or file)")
    ev.add_argument(
        "payload",
        nargs="?",
        default=STDIN,
        metavar="PAYLOAD_FILE",
        help="JSON payload {eventName, data, actor}, a brainCloud bridge envelope "
        "{hookType, service, operation, ...}, a Stream hook body {message, user, channel} "
        "or a Twilio webhook's parameters {EventType, Body, ...} (each answered in its "
        "platform's form); '-' reads standard input",
    )
    ev.add_argument(
        "--platform",
        choices=PLATFORMS,
        help="the platform the payload comes from (default: recognised by its shape); "
        "with twilio the payload may also be the form body as Twilio posts it",
    )
    ev.add_argument(
        "--jsonl",
        action="store_true",
        help="read JSON Lines: one payload per line, each decided as on its own (counters "
        "start from 0 or --counters-seed for each), all in one process; print one line per "
        'input line, the response or {"line": N, "error": "..."}; exit 2 at the end if any '
        "line was bad",
    )
    ev.add_argument(
        "--users", type=Path, metavar="FILE", help="YAML/JSON map from userId to user record"
    )
    ev.add_argument(
        "--now",
        metavar="ISO8601",
        help="pin the clock, e.g. 2026-01-31T12:00:00Z (default: the real time)",
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
    if args.jsonl:
        return cmd_eval_lines(args, out, err)
    return cmd_eval(args, out, err)


def _read_payload(source: str, platform: Platform | None = None) -> Any:
    if source == STDIN:
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
    if platform == "twilio" and not text.lstrip().startswith("{"):
        return dict(twilio.parse_form(text.strip().encode("utf-8")))  # the form body itself
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"{name}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise PayloadError(f"{name}: {TOO_DEEP}") from None
    except ValueError:  # an integer with more digits than int() converts
        limit = sys.get_int_max_str_digits()
        raise PayloadError(
            f"{name}: invalid JSON: an integer has more than {limit} digits"
        ) from None


def _parse(payload: Any, platform: Platform | None = None) -> Call:
    """The event of a payload and its platform's answer (``receiver.adapters.platforms``)."""
    return call_of(payload, platform)


def _clock(now: str | None) -> Callable[[], Timestamp]:
    """``--now`` pinned, or the real time read at each call; ValueError for a bad time."""
    if now:
        pinned = Timestamp(times.parse_time(now))
        return lambda: pinned
    return lambda: Timestamp(time.time())


def _counters(policyset: PolicySet, seed_file: Path | None) -> Callable[[Timestamp], MemoryBackend]:
    """Fresh counters for one event at a time: all 0, or ``--counters-seed``'s values
    (the file is read here, once; a bad one raises ReceiverError)."""
    seeds = read_seed_file(seed_file) if seed_file is not None else None

    def fresh(now: Timestamp) -> MemoryBackend:
        backend = MemoryBackend()
        if seeds is not None:
            seed_mapping(backend, policyset.counters, seeds, now, str(seed_file))
        return backend

    return fresh


def cmd_eval(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        now = _clock(args.now)()
    except ValueError as exc:
        err.write(f"receiver: --now: {exc}\n")
        return EXIT_USAGE
    try:
        users = StaticDirectory.from_file(args.users) if args.users else None
        call = _parse(_read_payload(args.payload, args.platform), args.platform)
    except PayloadError as exc:
        where = "" if str(exc).startswith(str(args.payload)) else f"{args.payload}: "
        err.write(f"receiver: {where}{exc}\n")
        return EXIT_USAGE
    except ReceiverError as exc:
        err.write(f"receiver: {exc}\n")
        return EXIT_USAGE
    policyset = load_or_report(args.policies, err, eager=False)
    if policyset is None:
        return EXIT_FAILED
    try:
        backend = _counters(policyset, args.counters_seed)(now)
    except ReceiverError as exc:
        err.write(f"receiver: {exc}\n")
        return EXIT_USAGE
    try:
        response = decide_one(
            policyset, backend, call, now=now, users=users, explain=args.explain, err=err
        )
    except RecursionError:  # a stage walking the payload ran out of stack
        err.write(f"receiver: {args.payload}: {TOO_DEEP}\n")
        return EXIT_USAGE
    out.write(dumps(response) + "\n")
    return EXIT_OK


def decide_one(
    policyset: PolicySet,
    backend: MemoryBackend,
    call: Call,
    *,
    now: Timestamp,
    users: StaticDirectory | None,
    explain: bool,
    err: TextIO,
) -> Any:
    """The response to one event: counters read, rules evaluated, strikes recorded."""
    event = call.event
    tracer = Tracer(policyset.traced_tree(event.name)) if explain else None
    decided = decide(
        policyset, event, now, users=users.get if users else None, counters=backend,
        tracer=tracer,
    )  # fmt: skip
    decision = decided.decision
    if explain:
        explanation = render_explanation(
            policyset.tree(event.name), decision, decided.counter_lines()
        )
        err.write(explanation + "\n")
    return call.answer(decision)


def cmd_eval_lines(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``--jsonl``: one answer (or error line) per input line, in order."""
    try:
        clock = _clock(args.now)
        first_now = clock()
    except ValueError as exc:
        err.write(f"receiver: --now: {exc}\n")
        return EXIT_USAGE
    name = "<stdin>" if args.payload == STDIN else args.payload
    with contextlib.ExitStack() as closing:
        try:
            users = StaticDirectory.from_file(args.users) if args.users else None
            stream = _open_lines(args.payload, closing)
        except ReceiverError as exc:
            err.write(f"receiver: {exc}\n")
            return EXIT_USAGE
        policyset = load_or_report(args.policies, err, eager=False)
        if policyset is None:
            return EXIT_FAILED
        try:
            counters = _counters(policyset, args.counters_seed)
            counters(first_now)  # the seeds fit these policies' counters
        except ReceiverError as exc:
            err.write(f"receiver: {exc}\n")
            return EXIT_USAGE

        def answer(number: int, parsed: Call | BadLine) -> Any:
            """The response to one line's event, or the line's BadLine."""
            if isinstance(parsed, BadLine):
                return parsed
            now = clock()
            if args.explain:
                err.write(f"line {number}: ")
            try:
                return decide_one(
                    policyset, counters(now), parsed,
                    now=now, users=users, explain=args.explain, err=err,
                )  # fmt: skip
            except RecursionError:  # a stage walking the payload ran out of stack
                return BadLine(number, TOO_DEEP)

        bad = 0
        for number, parsed in enumerate(_payload_lines(stream, args.platform), start=1):
            result = answer(number, parsed)
            if isinstance(result, BadLine):
                err.write(result.diagnostic(name) + "\n")
                bad += 1
                result = result.answer()
            out.write(dumps(result) + "\n")
            out.flush()  # a program feeding lines one at a time reads each answer at once
    return EXIT_USAGE if bad else EXIT_OK


def _open_lines(source: str, closing: contextlib.ExitStack) -> IO[bytes]:
    """The bytes of ``source``: a file (closed with ``closing``) or standard input
    (``-``, left open)."""
    if source == STDIN:
        buffer: IO[bytes] | None = getattr(sys.stdin, "buffer", None)
        if buffer is None:  # a text-only stand-in for stdin, as an embedding program may set
            return io.BytesIO(sys.stdin.read().encode("utf-8"))
        return buffer
    try:
        return closing.enter_context(open(source, "rb"))
    except OSError as exc:
        raise PayloadError(f"{source}: cannot read the payloads: {exc.strerror}") from None


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line of a ``--jsonl`` stream that is not a payload, and why."""

    number: int
    message: str
    column: int | None = None  # where the JSON went wrong, when it did

    def answer(self) -> dict[str, Any]:
        """Its output line: the line number (and column), and the message."""
        where = {"line": self.number} | ({} if self.column is None else {"column": self.column})
        return where | {"error": self.message}

    def diagnostic(self, name: str) -> str:
        """Its stderr line, ``receiver: FILE:LINE[:COL]: message``."""
        column = "" if self.column is None else f":{self.column}"
        return f"receiver: {name}:{self.number}{column}: {self.message}"


def _payload_lines(stream: IO[bytes], platform: Platform | None = None) -> Iterator[Call | BadLine]:
    """Each line's event and answer, or why it is no payload."""
    for number, raw in enumerate(stream, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield BadLine(number, "the line is not UTF-8 text")
            continue
        if not text.strip():
            yield BadLine(number, "empty line: expected a JSON payload")
            continue
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            yield BadLine(number, f"invalid JSON: {exc.msg}", exc.colno)
            continue
        except RecursionError:
            yield BadLine(number, TOO_DEEP)
            continue
        except ValueError:  # an integer with more digits than int() converts
            limit = sys.get_int_max_str_digits()
            yield BadLine(number, f"invalid JSON: an integer has more than {limit} digits")
            continue
        try:
            yield _parse(payload, platform)
        except ReceiverError as exc:
            yield BadLine(number, str(exc))
