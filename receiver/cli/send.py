"""``receiver send``: sign a payload as the platform does and post it to a receiver.

Stage: the edge (the command line) over ``receiver.client.send``. Consumes a payload
file, a URL and the signing secret; produces the receiver's answer on stdout.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import httpx

from receiver.adapters.signatures import Secrets
from receiver.cli.exits import EXIT_FAILED, EXIT_USAGE
from receiver.client.send import DEFAULT_BASE, DEFAULT_URL, send_stream, send_twilio
from receiver.client.send import send as send_payload
from receiver.http.settings import SECRET_ENV, STREAM_SECRET_ENV, TWILIO_TOKEN_ENV

SECRET_ENVS = {
    "socialplus": SECRET_ENV,
    "stream": STREAM_SECRET_ENV,
    "twilio": TWILIO_TOKEN_ENV,
}


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add ``send`` with its options to the ``receiver`` parser's subcommands."""
    send: argparse.ArgumentParser = commands.add_parser(
        "send",
        help="sign a payload as the platform does and post it to a running receiver",
    )
    send.add_argument(
        "payload",
        type=Path,
        metavar="PAYLOAD_FILE",
        help="JSON payload file (twilio: the form body, or a JSON object of its parameters)",
    )
    send.add_argument(
        "--platform",
        choices=tuple(SECRET_ENVS),
        default="socialplus",
        help="sign as this platform does: socialplus (x-amity-signature or x-signature), "
        "stream (X-Signature, hex HMAC-SHA256 of the body), twilio (a form, "
        "X-Twilio-Signature over the URL and the sorted parameters)",
    )
    send.add_argument(
        "--url",
        help=f"receiver URL; one without a path (http://HOST:PORT) gets the platform's hook "
        f"path (default: {DEFAULT_URL}, or /hooks/stream, /hooks/twilio)",
    )
    send.add_argument(
        "--secret",
        help=f"signing secret (default: ${SECRET_ENV}, ${STREAM_SECRET_ENV} or "
        f"${TWILIO_TOKEN_ENV} by platform; none: unsigned)",
    )
    send.add_argument(
        "--signed-url",
        metavar="URL",
        help="twilio: the URL to sign, as Twilio would call it (default: --url)",
    )
    send.add_argument(
        "--header",
        choices=("x-amity-signature", "x-signature"),
        default="x-amity-signature",
        help="signature header: Base64 (x-amity-signature) or hex (x-signature)",
    )
    return send


def hook_url(url: str, platform: str) -> str:
    """``url`` with ``/hooks/<platform>`` as its path when it has none (``http://h:8080``,
    ``http://h:8080/``); any other URL as given."""
    parts = urlsplit(url)
    if parts.path in ("", "/"):
        return urlunsplit(parts._replace(path=f"/hooks/{platform}"))
    return url


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    return cmd_send(args, out, err)


def cmd_send(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    platform = args.platform
    env = SECRET_ENVS[platform]
    text = args.secret if args.secret is not None else os.environ.get(env, "")
    url = hook_url(args.url or DEFAULT_BASE, platform)
    try:
        secrets = Secrets.parse(text) if text.strip() else None
    except ValueError:
        err.write("receiver send: the secret holds no key (only commas and spaces)\n")
        return EXIT_USAGE
    try:
        if platform == "stream":
            return send_stream(args.payload, url, secrets, out)
        if platform == "twilio":
            return send_twilio(args.payload, url, secrets, out, signed_url=args.signed_url)
        return send_payload(args.payload, url, secrets, out, header=args.header)
    except OSError as exc:
        err.write(f"receiver send: {args.payload}: {exc.strerror}\n")
        return EXIT_USAGE
    except ValueError as exc:  # a Twilio payload that is neither a form nor a JSON object
        err.write(f"receiver send: {args.payload}: not a form body or JSON object: {exc}\n")
        return EXIT_USAGE
    except httpx.HTTPError as exc:
        err.write(f"receiver send: cannot reach {url}: {exc}\n")
        return EXIT_FAILED
