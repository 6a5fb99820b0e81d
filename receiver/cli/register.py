"""``receiver register``: set the social.plus pre-hook callback URL (admin API).

Stage: the edge (the command line) over ``receiver.client.register``. Consumes the
flags and the admin token in the environment; produces the request (``--dry-run``)
or the platform's answer on stdout.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from receiver.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from receiver.client.register import REGIONS, TOKEN_ENV, RegisterError, build_request
from receiver.client.register import run as register_run


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add ``register`` with its options to the ``receiver`` parser's subcommands."""
    register: argparse.ArgumentParser = commands.add_parser(
        "register",
        help="set the social.plus pre-hook callback URL (admin API)",
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
    return register


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    return cmd_register(args, out, err)


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
