"""``receiver serve``: run the HTTP service.

Stage: the edge (the command line) over the service. Consumes the flags (and the
YAML file of ``--config``); produces the running service (``receiver.http.server``)
until it is stopped. The only command that imports the web server; its option
defaults come from the service's own settings modules.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from receiver.adapters.signatures import DEFAULT_FALLBACK_MAX_BODY, DEFAULT_FALLBACK_RATE
from receiver.cli.exits import EXIT_FAILED, EXIT_USAGE
from receiver.console.auth import TOKEN_ENV as CONSOLE_TOKEN_ENV
from receiver.console.auth import TokenError, read_token, refusal
from receiver.counters.settings import BACKENDS
from receiver.errors import ReceiverError
from receiver.http.config import (
    DEFAULT_BUNDLE_POLL,
    DEFAULT_CONSOLE_BUFFER,
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
from receiver.http.settings import (
    BRAINCLOUD_TOKEN_ENV,
    METRICS_TOKEN_ENV,
    REDIS_KEY_SECRET_ENV,
    SECRET_ENV,
    STREAM_SECRET_ENV,
    TWILIO_TOKEN_ENV,
)
from receiver.http.settings import build as build_settings
from receiver.observe.recorder import DEFAULT_KEEP as DEFAULT_RECORD_KEEP
from receiver.observe.recorder import DEFAULT_MAX_BYTES as DEFAULT_RECORD_MAX_BYTES


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add ``serve`` with its options to the ``receiver`` parser's subcommands."""
    serve: argparse.ArgumentParser = commands.add_parser(
        "serve",
        help="run the HTTP service (POST /hooks/socialplus, /hooks/braincloud, /hooks/stream, "
        "/hooks/twilio)",
        description="Run the pre-hook service. The signature secret comes from "
        f"${SECRET_ENV} or --secret-file (comma-separated secrets are all accepted, for "
        "rotation); the brainCloud bridge token from "
        f"${BRAINCLOUD_TOKEN_ENV} or --braincloud-token-file; Stream's API secret from "
        f"${STREAM_SECRET_ENV} or --stream-secret-file; the Twilio auth token from "
        f"${TWILIO_TOKEN_ENV} or --twilio-auth-token-file. An endpoint without its "
        "credential accepts unauthenticated requests on loopback only (elsewhere it "
        "answers 401), and the service refuses to bind any other address with neither. "
        "Every option can also be set in a YAML file given with --config; flags win over "
        "the file.",
    )
    opt = serve.add_argument
    opt("--config", type=Path, metavar="FILE", help="YAML settings file (see README)")
    opt(
        "--policies",
        metavar="DIR|URL",
        help="policy directory (default: ./policies, else the shipped starter set), or a "
        "policy bundle URL (https://, http:// to loopback, file://; 'receiver bundle "
        "build'), polled every --bundle-poll seconds",
    )
    opt(
        "--bundle-poll",
        type=float,
        metavar="SECONDS",
        help="seconds between polls of a --policies URL (conditional: ETag or "
        f"Last-Modified; a file by size, time and inode) (default: {DEFAULT_BUNDLE_POLL:g})",
    )
    opt(
        "--bundle-public-key",
        type=Path,
        metavar="FILE",
        help="PEM Ed25519 public key: bundles must be signed with its private key; unsigned "
        "ones are refused (default: signatures are not checked)",
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
        "--stream-secret-file",
        type=Path,
        metavar="FILE",
        help="file holding Stream's API secret(s), comma-separated for rotation: "
        f"/hooks/stream checks X-Signature with them (default: ${STREAM_SECRET_ENV})",
    )
    opt(
        "--twilio-auth-token-file",
        type=Path,
        metavar="FILE",
        help="file holding the Twilio auth token(s), comma-separated for rotation: "
        f"/hooks/twilio checks X-Twilio-Signature with them (default: ${TWILIO_TOKEN_ENV})",
    )
    opt(
        "--twilio-public-url",
        metavar="URL",
        help="the URL Twilio calls, as entered in its console (Twilio signs it; a proxy "
        "may rewrite what this service sees), e.g. https://mod.example.com/hooks/twilio "
        "(default: rebuilt from the request's Host and path)",
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
        "--record",
        type=Path,
        metavar="DIR",
        help="write a record of each decided event (the payload, the actor, the user record "
        "the rules saw, the decision) as JSON Lines into DIR, for 'receiver replay' and "
        "'receiver diff'; one set of files per worker, created 0600; holds user content "
        "(README, 'Record, replay and diff') (default: off)",
    )
    opt(
        "--record-sample",
        metavar="RATE",
        help="record only this share of actors: a fraction 0 < RATE <= 1 (0.1) or a "
        "percentage (10%%); by a keyed hash of the actor id, so a recorded user's whole "
        "history is kept (default: 1, everything)",
    )
    opt(
        "--record-max-bytes",
        type=int,
        metavar="BYTES",
        help=f"start a new record file beyond this size (default: {DEFAULT_RECORD_MAX_BYTES}, "
        f"{DEFAULT_RECORD_MAX_BYTES // 2**20} MiB)",
    )
    opt(
        "--record-keep",
        type=int,
        metavar="N",
        help="closed record files each worker keeps beside the one it writes; older ones "
        f"are deleted (default: {DEFAULT_RECORD_KEEP})",
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
        choices=BACKENDS,
        help="where policy counters live: this process's memory (refused with --workers N > 1, "
        "where each worker would count on its own), memory-per-worker (each worker counts on "
        "its own: every limit N times looser), or Redis, one count shared by every worker "
        "of every replica (default: memory)",
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
        "--redis-key-secret-file",
        dest="counters_key_secret_file",
        type=Path,
        metavar="FILE",
        help="file holding the key of the HMAC-SHA256 under which counter keys and distinct "
        "values derived from message content are stored in Redis; the same on every "
        f"replica (default: ${REDIS_KEY_SECRET_ENV}; without one, a plain SHA-256 and a "
        "warning at start)",
    )
    opt(
        "--redis-key-secret",
        dest="counters_key_secret",
        metavar="SECRET",
        help="the Redis key secret itself; visible to anyone who can list processes, so "
        f"prefer --redis-key-secret-file or ${REDIS_KEY_SECRET_ENV}",
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
    opt(
        "--console",
        action="store_true",
        default=None,
        help="serve the policy console under /console/ on the service's port: the "
        "playground on the serving policies (read-only), the last decisions and rule "
        "health (docs/console.md) (default: off)",
    )
    opt(
        "--console-token-file",
        type=Path,
        metavar="FILE",
        help="file whose first line is the token every /console/api request must send as "
        f"'Authorization: Bearer TOKEN' (default: ${CONSOLE_TOKEN_ENV}); required off "
        "loopback",
    )
    opt(
        "--console-buffer",
        type=int,
        metavar="N",
        help="decisions each worker keeps for the console's explorer "
        f"(default: {DEFAULT_CONSOLE_BUFFER})",
    )
    return serve


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    return cmd_serve(args, err)


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
    if args.counters_key_secret is not None:
        err.write(
            "receiver: warning: --redis-key-secret shows the key to anyone who can list "
            f"processes; prefer --redis-key-secret-file or ${REDIS_KEY_SECRET_ENV}\n"
        )
    factory = None
    if config.console is not None:  # the token as `receiver console` reads and requires it
        try:
            token = read_token(config.console.token_file, os.environ)
        except TokenError as exc:
            err.write(f"receiver: {exc}\n")
            return EXIT_USAGE
        refused = refusal(config.host, token)
        if refused is not None:
            err.write(f"receiver: --console: {refused}\n")
            return EXIT_USAGE
        config = replace(config, console=replace(config.console, token=token))
        from receiver.console.inservice import create_service_app  # noqa: PLC0415

        factory = create_service_app
    try:
        return serve(config) if factory is None else serve(config, factory)
    except StartupError as exc:
        err.write(f"receiver: {exc}\n")
        return EXIT_FAILED
