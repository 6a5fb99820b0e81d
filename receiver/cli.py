"""The ``receiver`` command line: a thin skin over the library.

    receiver check DIR... [--strict] [--format text|json]
    receiver eval DIR [PAYLOAD_FILE|-] [--users FILE] [--now ISO8601] [--explain]
    receiver tree DIR EVENT
    receiver test [PATH...] [-k PATTERN] [--format text|json] [--junit FILE] [--coverage]
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
from receiver.adapters import braincloud
from receiver.adapters.signatures import DEFAULT_FALLBACK_MAX_BODY, DEFAULT_FALLBACK_RATE, Secrets
from receiver.client.register import REGIONS, TOKEN_ENV, RegisterError, build_request
from receiver.client.register import run as register_run
from receiver.client.send import DEFAULT_URL
from receiver.client.send import send as send_payload
from receiver.compile.tree import render_tree
from receiver.counters.memory import MemoryBackend
from receiver.counters.seed import read_seed_file, seed_mapping
from receiver.dsl import textfuncs
from receiver.dsl.values import Timestamp
from receiver.errors import PayloadError, PolicyLoadError, ReceiverError
from receiver.http.config import (
    DEFAULT_DEADLINE_MS,
    DEFAULT_HOST,
    DEFAULT_LOG_QUEUE,
    DEFAULT_MAX_BODY,
    DEFAULT_PORT,
    DEFAULT_RELOAD_TIMEOUT,
)
from receiver.http.limits import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_HEAD_BYTES,
    DEFAULT_READ_TIMEOUT,
)
from receiver.http.server import StartupError, serve
from receiver.http.settings import BRAINCLOUD_TOKEN_ENV, METRICS_TOKEN_ENV, SECRET_ENV
from receiver.http.settings import build as build_settings
from receiver.runtime.decide import decide
from receiver.runtime.decision import dumps
from receiver.runtime.explain import render_explanation
from receiver.runtime.payload import parse_event
from receiver.runtime.policyset import PolicySet, check_paths, load_policies
from receiver.runtime.trace import Tracer
from receiver.testing import command as test_command
from receiver.text.diagnostics import render_json, render_text, summary_line
from receiver.users.static import StaticDirectory

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

    serve = commands.add_parser(
        "serve",
        help="run the HTTP service (POST /hooks/socialplus, POST /hooks/braincloud)",
        description="Run the pre-hook service. The signature secret comes from "
        f"${SECRET_ENV} or --secret-file (comma-separated secrets are all accepted, for "
        "rotation); the brainCloud bridge token from "
        f"${BRAINCLOUD_TOKEN_ENV} or --braincloud-token-file. An endpoint without its "
        "credential accepts unauthenticated requests on loopback only (elsewhere it "
        "answers 401), and the service refuses to bind any other address with neither. "
        "Every option can also be set in a YAML file given with --config; flags win over "
        "the file.",
    )
    opt = serve.add_argument
    opt("--config", type=Path, metavar="FILE", help="YAML settings file (see README)")
    opt(
        "--policies",
        type=Path,
        metavar="DIR",
        help="policy directory (default: ./policies, else the shipped starter set)",
    )
    opt("--host", help=f"address to bind (default: {DEFAULT_HOST})")
    opt("--port", type=int, help=f"port to bind (default: {DEFAULT_PORT})")
    opt("--workers", type=int, help="worker processes (default: 1)")
    opt(
        "--secret-file",
        type=Path,
        metavar="FILE",
        help=f"file holding the signature secret(s) (default: ${SECRET_ENV})",
    )
    opt(
        "--signature-fallback",
        choices=("off", "compact-json"),
        help="also accept a signature over the compact re-serialised JSON body "
        "(JSON.stringify) when the raw body's fails; it parses unauthenticated bodies, so "
        "it is bounded by the two options below (default: off)",
    )
    opt(
        "--signature-fallback-max-body",
        type=int,
        metavar="BYTES",
        help="larger bodies never try the compact-JSON fallback "
        f"(default: {DEFAULT_FALLBACK_MAX_BODY})",
    )
    opt(
        "--signature-fallback-rate",
        type=float,
        metavar="N",
        help="compact-JSON fallback attempts per second per process; over it a request is "
        f"refused, counted as reason over-budget (default: {DEFAULT_FALLBACK_RATE:g})",
    )
    opt(
        "--default-action",
        choices=("allow", "deny"),
        help="fail-safe answer on internal errors and deadline overruns; match the "
        "platform's defaultAction (default: allow)",
    )
    opt(
        "--deadline-ms",
        type=int,
        help=f"per-request deadline in milliseconds (default: {DEFAULT_DEADLINE_MS})",
    )
    opt(
        "--braincloud-token-file",
        type=Path,
        metavar="FILE",
        help="file holding the brainCloud bridge token(s), comma-separated for rotation "
        f"(default: ${BRAINCLOUD_TOKEN_ENV})",
    )
    opt(
        "--braincloud-pre-fail-safe",
        choices=("allow", "deny"),
        help="brainCloud pre-hook answer on internal errors and deadline overruns: allow "
        '({"status":200}) or deny (status 503, reason code 50001); post and post-fail '
        "hooks always answer null (default: allow)",
    )
    opt(
        "--max-body",
        type=int,
        metavar="BYTES",
        help=f"largest accepted request body; 413 above (default: {DEFAULT_MAX_BODY})",
    )
    opt(
        "--max-head-bytes",
        type=int,
        metavar="BYTES",
        help="largest request head (request line and headers); 431 and closed above "
        f"(default: {DEFAULT_MAX_HEAD_BYTES})",
    )
    opt(
        "--read-timeout",
        type=float,
        metavar="SECONDS",
        help="time for a request head, and again for its body, to arrive; 408 and closed "
        f"after it (default: {DEFAULT_READ_TIMEOUT:g})",
    )
    opt(
        "--max-concurrency",
        type=int,
        metavar="N",
        help="requests answered at once per worker; 503 above "
        f"(default: {DEFAULT_MAX_CONCURRENCY})",
    )
    opt(
        "--max-connections",
        type=int,
        metavar="N",
        help="open connections per worker; further ones are closed at once "
        f"(default: {DEFAULT_MAX_CONNECTIONS})",
    )
    opt(
        "--users",
        type=Path,
        metavar="FILE",
        help="user directory file: YAML/JSON map from userId to record (reloaded with policies)",
    )
    opt(
        "--users-url",
        metavar="TEMPLATE",
        help="user directory over HTTP, e.g. https://users.internal/v1/users/{userId}",
    )
    opt(
        "--users-header",
        action="append",
        metavar="'NAME: VALUE'",
        help="header for the user directory; ${VAR} is read from the environment "
        "(repeatable), e.g. 'Authorization: Bearer ${USERS_API_TOKEN}'",
    )
    opt(
        "--users-record-path",
        metavar="PATH",
        help="dotted path of the record inside the directory's JSON answer, e.g. data.user",
    )
    opt("--users-timeout-ms", type=int, help="user lookup timeout (default: 300)")
    opt("--users-cache-size", type=int, help="users kept in memory (default: 10000)")
    opt("--users-ttl", type=float, metavar="SECONDS", help="cache time for users (default: 60)")
    opt(
        "--users-negative-ttl",
        type=float,
        metavar="SECONDS",
        help="cache time for 'no such user' (default: 10)",
    )
    opt(
        "--users-stale-for",
        type=float,
        metavar="SECONDS",
        help="serve an expired entry this long after expiry when the directory fails "
        "(default: 300)",
    )
    opt(
        "--decision-log",
        type=Path,
        metavar="FILE",
        help="append decision JSON lines here (default: stdout)",
    )
    opt(
        "--log-content",
        action="store_true",
        default=None,
        help="include payload data and messages in the decision log",
    )
    opt(
        "--watch",
        action="store_true",
        default=None,
        help="reload the policies when their files change",
    )
    opt(
        "--reload-timeout",
        type=float,
        metavar="SECONDS",
        help="abandon a policy reload that takes longer, and count it as failed "
        f"(default: {DEFAULT_RELOAD_TIMEOUT:g})",
    )
    opt(
        "--log-level",
        choices=("critical", "error", "warning", "info", "debug"),
        help="log level (default: info)",
    )
    opt(
        "--log-queue",
        type=int,
        metavar="LINES",
        help="decision-log lines (and, separately, log records) that may wait for a slow "
        "stdout, stderr or disk; beyond that they are dropped and counted, never waited "
        f"for (default: {DEFAULT_LOG_QUEUE})",
    )
    opt(
        "--counters",
        dest="counters_backend",
        choices=("memory", "redis"),
        help="where policy counters live: this process's memory, or Redis shared by every "
        "replica (default: memory)",
    )
    opt(
        "--redis-url",
        dest="counters_redis_url",
        metavar="URL",
        help="Redis for --counters redis, e.g. redis://10.0.0.5:6379/0; ${VAR} is read from "
        "the environment (default: $RECEIVER_REDIS_URL)",
    )
    opt(
        "--counters-fallback",
        dest="counters_fallback",
        choices=("memory", "unknown"),
        help="when Redis fails or is slow: count in this process's memory, or make counters "
        "read null (counters_unavailable() is true) (default: memory)",
    )
    opt(
        "--redis-timeout-ms",
        dest="counters_timeout_ms",
        type=int,
        help="longest wait for Redis per event, also bounded by the request's deadline "
        "(default: 50)",
    )

    opt(
        "--metrics-token-file",
        type=Path,
        metavar="FILE",
        help="file holding the Bearer token(s) that /metrics and the policy names in "
        "/readyz require, comma-separated for rotation "
        f"(default: ${METRICS_TOKEN_ENV}; without one, open on loopback, 403 elsewhere)",
    )
    opt(
        "--metrics-token",
        metavar="TOKEN",
        help="the metrics token itself; visible to anyone who can list processes, so "
        f"prefer --metrics-token-file or ${METRICS_TOKEN_ENV}",
    )
    opt(
        "--public-metrics",
        action="store_true",
        default=None,
        help="serve /metrics and the policy names in /readyz to anyone, without a token, "
        "on any address (default: off)",
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

    test_command.add_parser(commands)
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
        if args.command == "test":
            return test_command.run(args, sys.stdout, sys.stderr)
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
        hook = braincloud.parse_envelope(payload) if braincloud.is_envelope(payload) else None
        event = hook.event if hook is not None else parse_event(payload)
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
    backend = MemoryBackend()
    try:
        if args.counters_seed is not None:
            seeds = read_seed_file(args.counters_seed)
            seed_mapping(backend, policyset.counters, seeds, now, str(args.counters_seed))
    except ReceiverError as exc:
        err.write(f"receiver: {exc}\n")
        return EXIT_USAGE
    tracer = Tracer(policyset.traced_tree(event.name)) if args.explain else None
    decided = decide(
        policyset, event, now, users=users.get if users else None, counters=backend,
        tracer=tracer,
    )  # fmt: skip
    decision = decided.decision
    if args.explain:
        explanation = render_explanation(
            policyset.tree(event.name), decision, decided.counter_lines()
        )
        err.write(explanation + "\n")
    response = (
        braincloud.answer(hook.hook_type, decision) if hook is not None else decision.response()
    )
    out.write(dumps(response) + "\n")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace, err: TextIO) -> int:
    flags = {k: v for k, v in vars(args).items() if k != "command"}
    try:
        config = build_settings(flags)
    except ReceiverError as exc:
        err.write(f"receiver: {exc}\n")
        return EXIT_USAGE
    if args.metrics_token is not None:
        err.write(
            "receiver: warning: --metrics-token shows the token to anyone who can list "
            f"processes; prefer --metrics-token-file or ${METRICS_TOKEN_ENV}\n"
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
    try:
        secrets = Secrets.parse(text) if text.strip() else None
    except ValueError:
        err.write("receiver send: the secret holds no key (only commas and spaces)\n")
        return EXIT_USAGE
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
