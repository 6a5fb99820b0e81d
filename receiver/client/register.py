"""``receiver register``: set the social.plus pre-hook callback through its config API.

The edge (a client of the platform), under ``receiver register``. Consumes the callback URL,
the settings and the admin token; produces a :class:`PrehookRequest` (:func:`build_request`)
and, sent by :func:`run`, the platform's answer on the output stream, or a
:class:`RegisterError`.

Builds ``PUT /api/v3/network-settings/prehook`` (``GET`` with ``--show``) against the
regional API (docs/protocols.md A.1), authenticated with an admin token from the
environment. The callback URL is checked first (https, at most 900 characters).
The returned ``secretKey`` is shown once, with advice on storing it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import urlsplit

import httpx

REGIONS = {
    "us": "https://apix.us.amity.co",
    "eu": "https://apix.eu.amity.co",
    "sg": "https://apix.sg.amity.co",
}
PATH = "/api/v3/network-settings/prehook"
TOKEN_ENV = "RECEIVER_SOCIALPLUS_ADMIN_TOKEN"
MAX_CALLBACK_LENGTH = 900


class RegisterError(Exception):
    """A problem the user can fix; the message says how."""


@dataclass(frozen=True)
class PrehookRequest:
    method: str
    url: str
    body: dict[str, Any] | None

    def render(self, token_shown: str = "<admin token>") -> str:
        lines = [
            f"{self.method} {self.url}",
            f"Authorization: Bearer {token_shown}",
        ]
        if self.body is not None:
            lines += ["Content-Type: application/json", "", json.dumps(self.body, indent=2)]
        return "\n".join(lines)


def check_callback_url(url: str) -> None:
    if len(url) > MAX_CALLBACK_LENGTH:
        raise RegisterError(
            f"the callback URL has {len(url)} characters; social.plus accepts at most "
            f"{MAX_CALLBACK_LENGTH}"
        )
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise RegisterError(
            f"the callback URL must use https (got '{parts.scheme or 'no scheme'}'); put the "
            "receiver behind a TLS-terminating proxy or load balancer"
        )
    if not parts.hostname:
        raise RegisterError("the callback URL has no host name")


def build_request(
    base: str,
    callback_url: str | None,
    default_action: str,
    regenerate_key: bool,
    show: bool,
) -> PrehookRequest:
    url = base.rstrip("/") + PATH
    if show:
        return PrehookRequest("GET", url, None)
    if callback_url is None:
        raise RegisterError("--callback-url is required (or use --show to see the current one)")
    check_callback_url(callback_url)
    body: dict[str, Any] = {
        "enabled": True,
        "callbackUrl": callback_url,
        "defaultAction": default_action,
    }
    if regenerate_key:
        body["regenerateKey"] = True
    return PrehookRequest("PUT", url, body)


def run(
    request: PrehookRequest,
    out: TextIO,
    token: str | None = None,
    timeout: float = 10.0,
) -> int:
    token = token if token is not None else os.environ.get(TOKEN_ENV)
    if not token:
        raise RegisterError(
            f"set {TOKEN_ENV} to a social.plus admin token (console: Settings > Security)"
        )
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    try:
        response = httpx.request(
            request.method, request.url, headers=headers, json=request.body, timeout=timeout
        )
    except httpx.HTTPError as err:
        raise RegisterError(f"cannot reach {request.url}: {err}") from None
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if response.status_code >= 400:
        detail = payload.get("message") if isinstance(payload, dict) else response.text[:200]
        hint = {
            401: "the admin token is missing or expired",
            403: "the token is not an administrator's",
            400: "the pre-hook feature may not be enabled on this network (Max plan)",
        }.get(response.status_code, "")
        raise RegisterError(
            f"social.plus answered {response.status_code}: {detail}"
            + (f" ({hint})" if hint else "")
        )
    if not isinstance(payload, dict):
        raise RegisterError(f"unexpected answer from social.plus: {response.text[:200]}")
    setting = {k: v for k, v in payload.items() if k != "secretKey"}
    out.write(json.dumps(setting, indent=2) + "\n")
    secret = payload.get("secretKey")
    if isinstance(secret, str) and secret:
        out.write(
            "\nsecretKey (shown ONCE; social.plus will not show it again):\n"
            f"  {secret}\n\n"
            "Store it where only the receiver can read it, then restart the receiver:\n"
            "  - environment: RECEIVER_SOCIALPLUS_SECRET=<secretKey>\n"
            "  - or a file:   receiver serve --secret-file /etc/receiver/secret (mode 0600)\n"
            "During rotation give both keys, new first: RECEIVER_SOCIALPLUS_SECRET=new,old\n"
        )
    return 0
