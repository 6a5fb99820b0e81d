"""The console's token: who may call ``/api/*``.

Stage: the edge (the console). Consumes ``--console-token-file`` or
``$RECEIVER_CONSOLE_TOKEN`` and the address the console binds; produces the token (or
``None``: no token needed) and checks each API request's ``Authorization: Bearer``
header against it in constant time. The token is never read from a URL: a URL ends up
in browser history, proxy logs and ``Referer`` headers. Nothing here logs a token.

Bound to a loopback address the console needs no token (only this machine reaches it);
bound to any other address it refuses to start without one (:func:`refusal`).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping
from pathlib import Path

from receiver.errors import ReceiverError

TOKEN_ENV = "RECEIVER_CONSOLE_TOKEN"
MIN_TOKEN_CHARS = 16


class TokenError(ReceiverError):
    """The console token cannot be read, or is too short to be a secret."""


def read_token(file: Path | None, environ: Mapping[str, str]) -> str | None:
    """The token from ``file`` (its first line) or else ``$RECEIVER_CONSOLE_TOKEN``; None
    when neither is given."""
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            reason = err.strerror if isinstance(err, OSError) else "not UTF-8 text"
            raise TokenError(f"--console-token-file {file}: cannot read it: {reason}") from None
        token = text.strip().splitlines()[0].strip() if text.strip() else ""
        where = f"--console-token-file {file}"
    else:
        token = environ.get(TOKEN_ENV, "").strip()
        if not token:
            return None
        where = f"${TOKEN_ENV}"
    if len(token) < MIN_TOKEN_CHARS:
        raise TokenError(
            f"{where}: the token must be at least {MIN_TOKEN_CHARS} characters "
            "(make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
        )
    return token


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (only this machine can connect)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def refusal(host: str, token: str | None) -> str | None:
    """Why the console must not start on ``host`` with ``token``, or None when it may."""
    if token is None and not is_loopback(host):
        return (
            f"--host {host} is reachable from other machines: give a token with "
            f"--console-token-file FILE or ${TOKEN_ENV}, or bind 127.0.0.1"
        )
    return None


def authorized(header: str | None, token: str | None) -> bool:
    """Whether an ``Authorization`` header value carries ``token`` (always, with none)."""
    if token is None:
        return True
    if header is None:
        return False
    scheme, _, given = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    presented = given.strip().encode("utf-8", "surrogatepass")
    return hmac.compare_digest(presented, token.encode("utf-8"))
