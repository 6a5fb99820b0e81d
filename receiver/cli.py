"""The ``receiver`` command line: a thin skin over the library.

    receiver check DIR... [--strict] [--format text|json]
    receiver eval DIR [PAYLOAD_FILE|-] [--users FILE] [--now ISO8601] [--explain]
    receiver tree DIR EVENT
    receiver serve [--policies DIR] [--host H] [--port P] [--workers N] ...
    receiver register --callback-url URL [--default-action allow|deny] [--region us|eu|sg]
    receiver send PAYLOAD_FILE [--url URL] [--secret S]

Exit codes: 0 success; 1 policy errors (or, for ``check --strict``, warnings);
2 bad usage or bad input (an unreadable payload, users file or time).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

import httpx

from receiver import __version__
from receiver.config import (
    DEFAULT_DEADLINE_MS,
    DEFAULT_HOST,
    DEFAULT_MAX_BODY,
    DEFAULT_PORT,
    ServiceConfig,
    shipped_policies,
)
from receiver.decision import dumps
from receiver.diagnostics import render_json, render_text, summary_line
from receiver.dsl import textfuncs
from receiver.errors import PayloadError, PolicyLoadError, ReceiverError
from receiver.evaluator import evaluate
from receiver.explain import render_explanation
from receiver.payload import parse_event
from receiver.policyset import PolicySet, check_paths, load_policies
from receiver.register import REGIONS, TOKEN_ENV, RegisterError, build_request
from receiver.register import run as register_run
from receiver.send import DEFAULT_URL
from receiver.send import send as send_payload
from receiver.serve import StartupError, serve
from receiver.signatures import Secrets
from receiver.tree import render_tree
from receiver.users import StaticDirectory
from receiver.values import Timestamp

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

DEFAULT_POLICIES = Path("policies")
SECRET_ENV = "RECEIVER_SOCIALPLUS_SECRET"


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

    serve = commands.add_parser(
        "serve",
        help="run the HTTP service (POST /hooks/socialplus)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Run the pre-hook service. The signature secret comes from "
        f"${SECRET_ENV} or --secret-file (comma-separated secrets are all accepted, "
        "for rotation). Without a secret it only binds loopback addresses.",
    )
    serve.add_argument(
        "--policies",
        type=Path,
        default=None,
        metavar="DIR",
        help="policy directory (default: ./policies, else the shipped starter set)",
    )
    serve.add_argument("--host", default=DEFAULT_HOST, help="address to bind")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to bind")
    serve.add_argument("--workers", type=int, default=1, help="worker processes")
    serve.add_argument(
        "--secret-file",
        type=Path,
        metavar="FILE",
        help=f"file holding the signature secret (instead of ${SECRET_ENV})",
    )
    serve.add_argument(
        "--default-action",
        choices=("allow", "deny"),
        default="allow",
        help="fail-safe answer on internal errors and deadline overruns "
        "(match the platform's defaultAction)",
    )
    serve.add_argument(
        "--deadline-ms",
        type=int,
        default=DEFAULT_DEADLINE_MS,
        help="per-request deadline in milliseconds",
    )
    serve.add_argument(
        "--max-body",
        type=int,
        default=DEFAULT_MAX_BODY,
        metavar="BYTES",
        help="largest accepted request body (413 above)",
    )
    serve.add_argument(
        "--users",
        type=Path,
        metavar="FILE",
        help="YAML/JSON map from userId to user record (reloaded with policies)",
    )
    serve.add_argument(
        "--decision-log",
        type=Path,
        metavar="FILE",
        help="append decision JSON lines here instead of stdout",
    )
    serve.add_argument(
        "--log-content",
        action="store_true",
        help="include payload data and messages in the decision log",
    )
    serve.add_argument(
        "--watch", action="store_true", help="reload the policies when their files change"
    )
    serve.add_argument(
        "--log-level", default="info", choices=("critical", "error", "warning", "info", "debug")
    )

    register = commands.add_parser(
        "register",
        help="set the social.plus pre-hook callback URL (admin API)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description=f"Calls PUT /api/v3/network-settings/prehook with the admin token in "
        f"${TOKEN_ENV}.",
    )
    register.add_argument("--callback-url", metavar="URL", help="https URL of /hooks/socialplus")
    register.add_argument(
        "--default-action",
        choices=("allow", "deny"),
        default="allow",
        help="what social.plus does when the receiver does not answer in time",
    )
    register.add_argument(
        "--region", choices=sorted(REGIONS), default="us", help="social.plus API region"
    )
    register.add_argument(
        "--api-base",
        metavar="URL",
        help="API base URL (overrides --region; e.g. a local test server)",
    )
    register.add_argument("--regenerate-key", action="store_true", help="ask for a new secretKey")
    register.add_argument(
        "--dry-run", action="store_true", help="print the request instead of sending it"
    )
    register.add_argument("--show", action="store_true", help="show the current setting (GET)")

    send = commands.add_parser(
        "send",
        help="sign a payload as the platform does and post it to a running receiver",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    send.add_argument("payload", type=Path, metavar="PAYLOAD_FILE", help="JSON payload file")
    send.add_argument("--url", default=DEFAULT_URL, help="receiver URL")
    send.add_argument("--secret", help=f"signing secret (default: ${SECRET_ENV}; none: unsigned)")
    send.add_argument(
        "--header",
        choices=("x-amity-signature", "x-signature"),
        default="x-amity-signature",
        help="signature header: Base64 (x-amity-signature) or hex (x-signature)",
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
        if args.command == "serve":
            return cmd_serve(args, sys.stderr)
        if args.command == "register":
            return cmd_register(args, sys.stdout, sys.stderr)
        if args.command == "send":
            return cmd_send(args, sys.stdout, sys.stderr)
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


def _secrets(secret_file: Path | None, err: TextIO) -> Secrets | int | None:
    if secret_file is not None:
        try:
            text = secret_file.read_text(encoding="utf-8")
        except OSError as exc:
            err.write(f"receiver: --secret-file {secret_file}: {exc.strerror}\n")
            return EXIT_USAGE
    else:
        text = os.environ.get(SECRET_ENV, "")
    if not text.strip():
        if secret_file is not None:
            err.write(f"receiver: --secret-file {secret_file} is empty\n")
            return EXIT_USAGE
        return None
    return Secrets.parse(text)


def cmd_serve(args: argparse.Namespace, err: TextIO) -> int:
    secrets = _secrets(args.secret_file, err)
    if isinstance(secrets, int):
        return secrets
    if args.workers < 1 or args.deadline_ms < 1 or args.max_body < 1:
        err.write("receiver: --workers, --deadline-ms and --max-body must be positive\n")
        return EXIT_USAGE
    config = ServiceConfig(
        policies=args.policies if args.policies is not None else shipped_policies(),
        host=args.host,
        port=args.port,
        workers=args.workers,
        secrets=secrets,
        default_action=args.default_action,
        deadline_ms=args.deadline_ms,
        max_body=args.max_body,
        users=args.users,
        decision_log=args.decision_log,
        log_content=args.log_content,
        watch=args.watch,
        log_level=args.log_level,
    )
    try:
        return serve(config)
    except StartupError as exc:
        err.write(f"receiver: {exc}\n")
        return EXIT_FAILED


def cmd_register(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    base = args.api_base or REGIONS[args.region]
    try:
        request = build_request(
            base, args.callback_url, args.default_action, args.regenerate_key, args.show
        )
        if args.dry_run:
            out.write(request.render() + "\n")
            return EXIT_OK
        return register_run(request, out)
    except RegisterError as exc:
        err.write(f"receiver register: {exc}\n")
        return (
            EXIT_USAGE
            if "--callback-url" in str(exc) or "callback URL" in str(exc)
            else EXIT_FAILED
        )


def cmd_send(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    text = args.secret if args.secret is not None else os.environ.get(SECRET_ENV, "")
    secrets = Secrets.parse(text) if text.strip() else None
    try:
        return send_payload(args.payload, args.url, secrets, out, header=args.header)
    except OSError as exc:
        err.write(f"receiver send: {args.payload}: {exc.strerror}\n")
        return EXIT_USAGE
    except httpx.HTTPError as exc:
        err.write(f"receiver send: cannot reach {args.url}: {exc}\n")
        return EXIT_FAILED


def cmd_tree(policies: Path, event: str, out: TextIO, err: TextIO) -> int:
    policyset = _load(policies, err)
    if policyset is None:
        return EXIT_FAILED
    out.write(render_tree(policyset.tree(event)) + "\n")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
