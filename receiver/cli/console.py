"""``receiver console``: the policy console, a web page for writing and trying policies.

Stage: the edge (the command line) over :mod:`receiver.console`. Consumes the policy
folder or a bundle URL (fetched and verified once, as ``serve --policies URL`` fetches
one, then shown read only), the address, the token (``--console-token-file`` or
``$RECEIVER_CONSOLE_TOKEN``), ``--allow-save`` and ``--reports``; runs the console's HTTP
server until interrupted (exit code 0). Exit code 2 for bad usage: a folder that is not
one (``--policies`` or ``--reports``), a bundle that cannot be fetched or does not
verify, saving into a bundle, an unreadable or too short token, or an address other
machines can reach without a token (docs/console.md); 1 when the address cannot be bound.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, TextIO

import uvicorn

from receiver.bundles.fetch import FetchFailed, fetch_once
from receiver.bundles.format import BundleError
from receiver.bundles.keys import load_public_key
from receiver.bundles.urls import looks_like_url, parse_bundle_url
from receiver.bundles.verify import extract, policies_of, remove, verify
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
        "--policies", default=str(DEFAULT_POLICIES), metavar="DIR|URL",
        help="the policy folder to edit, or a bundle URL (https://, http:// to loopback, "
        "file://) to look at read only: fetched and verified once at start",
    )  # fmt: skip
    console.add_argument(
        "--bundle-public-key", type=Path, metavar="FILE",
        help="with --policies URL: PEM Ed25519 public key the bundle must be signed with "
        "(default: the signature is not checked)",
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
    try:
        token = _token(args)
    except _Usage as exc:
        err.write(f"receiver: {exc}\n")
        return EXIT_USAGE
    if looks_like_url(args.policies):
        return _run_bundle(args, err, token)
    if args.bundle_public_key is not None:
        err.write("receiver: --bundle-public-key goes with --policies URL (a bundle)\n")
        return EXIT_USAGE
    policies = Path(args.policies)
    if not policies.is_dir():
        err.write(f"receiver: --policies {policies}: not a directory; give the policy folder\n")
        return EXIT_USAGE
    workspace = Workspace.at(policies, can_save=args.allow_save, reports=args.reports)
    return serve_console(workspace, args.host, args.port, token=token, err=err)


def _run_bundle(args: argparse.Namespace, err: TextIO, token: str | None) -> int:
    """``--policies URL``: fetch and verify the bundle, then serve its files read only."""
    if args.allow_save:
        err.write(
            "receiver: --allow-save writes into a policy folder; a bundle is read only "
            "(give its source folder with --policies DIR to edit and save)\n"
        )
        return EXIT_USAGE
    try:
        url = parse_bundle_url(args.policies)
        key = load_public_key(args.bundle_public_key) if args.bundle_public_key else None
    except BundleError as exc:
        err.write(f"receiver: --policies: {exc}\n")
        return EXIT_USAGE
    try:
        download = fetch_once(url)
        root = extract(verify(download, key))
    except (FetchFailed, BundleError) as exc:
        err.write(f"receiver: --policies {url.shown}: {exc}\n")
        return EXIT_USAGE
    try:
        workspace = Workspace.of_bundle(policies_of(root), url.shown, reports=args.reports)
        return serve_console(workspace, args.host, args.port, token=token, err=err)
    finally:
        remove(root)


class _Usage(Exception):
    """Bad usage, said before anything is fetched or bound."""


def _token(args: argparse.Namespace) -> str | None:
    """The console token, once the port, the reports folder and the address are checked."""
    if not 0 <= args.port <= 65535:
        raise _Usage(f"--port {args.port}: give a port from 0 to 65535")
    try:
        token = read_token(args.console_token_file, os.environ)
    except TokenError as exc:
        raise _Usage(str(exc)) from None
    if args.reports is not None and not args.reports.is_dir():
        raise _Usage(f"--reports {args.reports}: not a directory; give the folder of reports")
    refused = refusal(args.host, token)
    if refused is not None:
        raise _Usage(refused)
    return token


def serve_console(
    workspace: Workspace, host: str, port: int, *, token: str | None, err: TextIO
) -> int:
    """Run the console until interrupted."""
    app = create_app(workspace, token)
    shown = f"[{host}]" if ":" in host else host
    source = workspace.policies if workspace.bundle is None else f"bundle {workspace.bundle}"
    err.write(
        f"receiver console: http://{shown}:{port}/ (policies: {source}; "
        f"token: {'required' if token else 'not required on loopback'}; "
        f"saving: {'on' if workspace.can_save else 'off'})\n"
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
