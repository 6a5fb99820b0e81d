"""``receiver send``: sign a payload as the platform does and post it to a receiver.

Stage: the edge (the command line) over ``receiver.client.send``. Consumes a payload
file, a URL and the signing secret; produces the receiver's answer on stdout.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, TextIO

import httpx

from receiver.adapters.signatures import Secrets
from receiver.cli.exits import EXIT_FAILED, EXIT_USAGE
from receiver.client.send import DEFAULT_URL
from receiver.client.send import send as send_payload
from receiver.http.settings import SECRET_ENV


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add ``send`` with its options to the ``receiver`` parser's subcommands."""
    send: argparse.ArgumentParser = commands.add_parser(
        "send",
        help="sign a payload as the platform does and post it to a running receiver",
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
    return send


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    return cmd_send(args, out, err)


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
