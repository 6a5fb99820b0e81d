"""``receiver console``: the policy console, a web page for writing and trying policies.

Stage: the edge (the command line) over :mod:`receiver.console`. Consumes the policy
folder, the address, the token (``--console-token-file`` or ``$RECEIVER_CONSOLE_TOKEN``),
``--allow-save`` and ``--reports``; runs the console's HTTP server until interrupted
(exit code 0). Exit code 2 for bad usage: a folder that is not one (``--policies`` or
``--reports``), an unreadable or too short token, or an address other machines can reach
without a token (docs/console.md); 1 when the address cannot be bound.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, TextIO

import uvicorn

from receiver.cli.common import DEFAULT_POLICIES
from receiver.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from receiver.console.app import create_app
from receiver.console.auth import TOKEN_ENV, TokenError, read_token, refusal
from receiver.console.workspace import Workspace

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8090


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add ``console`` with its options to the ``receiver`` parser's subcommands."""
    console: argparse.ArgumentParser = commands.add_parser(
        "console",
        help="serve the policy console: edit policies with live diagnostics and try them "
        "on payloads in the browser",
    )
    console.add_argument(
        "--policies", type=Path, default=DEFAULT_POLICIES, metavar="DIR",
        help="the policy folder to edit",
    )  # fmt: skip
    console.add_argument("--host", default=DEFAULT_HOST, help="address to bind")
    console.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to bind")
    console.add_argument(
        "--console-token-file", type=Path, metavar="FILE",
        help=f"file whose first line is the token every /api request must send as "
        f"'Authorization: Bearer TOKEN' (or ${TOKEN_ENV}); required off loopback",
    )  # fmt: skip
    console.add_argument(
        "--allow-save", action="store_true",
        help="let the console write policy files into DIR (only sets that check)",
    )  # fmt: skip
    console.add_argument(
        "--reports", type=Path, metavar="DIR",
        help="a folder of 'receiver diff --format json' reports the Replay reports view "
        "lists (read only; without it the view opens a report file from your disk)",
    )  # fmt: skip
    return console


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    policies: Path = args.policies
    if not policies.is_dir():
        err.write(f"receiver: --policies {policies}: not a directory; give the policy folder\n")
        return EXIT_USAGE
    if not 0 <= args.port <= 65535:
        err.write(f"receiver: --port {args.port}: give a port from 0 to 65535\n")
        return EXIT_USAGE
    try:
        token = read_token(args.console_token_file, os.environ)
    except TokenError as exc:
        err.write(f"receiver: {exc}\n")
        return EXIT_USAGE
    if args.reports is not None and not args.reports.is_dir():
        err.write(
            f"receiver: --reports {args.reports}: not a directory; give the folder of reports\n"
        )
        return EXIT_USAGE
    refused = refusal(args.host, token)
    if refused is not None:
        err.write(f"receiver: {refused}\n")
        return EXIT_USAGE
    return serve_console(
        policies, args.host, args.port, token=token, allow_save=args.allow_save, err=err,
        reports=args.reports,
    )  # fmt: skip


def serve_console(
    policies: Path, host: str, port: int, *, token: str | None, allow_save: bool, err: TextIO,
    reports: Path | None = None,
) -> int:  # fmt: skip
    """Run the console until interrupted."""
    app = create_app(Workspace.at(policies, can_save=allow_save, reports=reports), token)
    shown = f"[{host}]" if ":" in host else host
    err.write(
        f"receiver console: http://{shown}:{port}/ (policies: {policies}; "
        f"token: {'required' if token else 'not required on loopback'}; "
        f"saving: {'on' if allow_save else 'off'})\n"
    )
    err.flush()
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    try:
        server.run()
    except SystemExit:  # uvicorn exits when it cannot bind (and has said why)
        if server.started:
            raise
    if not server.started:
        err.write(f"receiver: cannot listen on {shown}:{port}; choose another --port or --host\n")
        return EXIT_FAILED
    return EXIT_OK
