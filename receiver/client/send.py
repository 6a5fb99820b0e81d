"""``receiver send``: sign a payload exactly as the platform does and post it.

The edge (a client of a running receiver), under ``receiver send``. Consumes a payload file,
a URL and the :class:`~receiver.adapters.signatures.Secrets` to sign with; produces the
answer on the output stream and an exit code (0 for HTTP 200).

The file's bytes are sent unchanged as the body, signed with HMAC-SHA256 in the
``x-amity-signature`` header (Base64), the way social.plus signs its calls; the
answer (status, decision id, body) is printed. The way to try the service by hand.
:func:`send_stream` signs as Stream does (``X-Signature``, hex HMAC-SHA256 of the body);
:func:`send_twilio` posts a form (the file is the form body, or a JSON object of its
parameters) signed as Twilio does (``X-Twilio-Signature`` over the URL and the sorted
parameters).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO
from urllib.parse import parse_qsl, urlencode

import httpx

from receiver.adapters.signatures import Secrets, sign_base64, sign_hex
from receiver.adapters.vendorsigs import sign_stream, sign_twilio

DEFAULT_BASE = "http://127.0.0.1:8080"  # where receiver serve listens by default
DEFAULT_URL = DEFAULT_BASE + "/hooks/socialplus"


def send(
    payload: Path,
    url: str,
    secrets: Secrets | None,
    out: TextIO,
    *,
    header: str = "x-amity-signature",
    timeout: float = 5.0,
) -> int:
    body = payload.read_bytes()
    headers = {"Content-Type": "application/json", "User-Agent": "receiver-send"}
    if secrets is not None:
        key = secrets.keys[0]
        headers[header] = sign_hex(key, body) if header == "x-signature" else sign_base64(key, body)
    response = httpx.post(url, content=body, headers=headers, timeout=timeout)
    decision_id = response.headers.get("x-decision-id", "-")
    out.write(f"HTTP {response.status_code}  decision {decision_id}\n{response.text}\n")
    return 0 if response.status_code == 200 else 1


def _report(response: httpx.Response, out: TextIO) -> int:
    decision_id = response.headers.get("x-decision-id", "-")
    out.write(f"HTTP {response.status_code}  decision {decision_id}\n{response.text}\n")
    return 0 if response.status_code == 200 else 1


def send_stream(
    payload: Path, url: str, secrets: Secrets | None, out: TextIO, *, timeout: float = 5.0
) -> int:
    """Post a Stream hook body, signed as Stream signs it."""
    body = payload.read_bytes()
    headers = {"Content-Type": "application/json", "User-Agent": "receiver-send"}
    if secrets is not None:
        headers["X-Signature"] = sign_stream(secrets.keys[0], body)
    return _report(httpx.post(url, content=body, headers=headers, timeout=timeout), out)


def form_params(text: str) -> list[tuple[str, str]]:
    """A Twilio request's parameters from a file: a form body, or a JSON object."""
    stripped = text.strip()
    if stripped.startswith("{"):
        parsed = json.loads(stripped)
        if not isinstance(parsed, dict):
            raise ValueError("the JSON must be an object of parameters")
        return [(str(k), v if isinstance(v, str) else json.dumps(v)) for k, v in parsed.items()]
    return parse_qsl(stripped, keep_blank_values=True, strict_parsing=True)


def send_twilio(
    payload: Path,
    url: str,
    secrets: Secrets | None,
    out: TextIO,
    *,
    signed_url: str | None = None,
    timeout: float = 5.0,
) -> int:
    """Post a Twilio webhook's form, signed as Twilio signs it over ``signed_url`` (the
    URL as Twilio would call it; default: ``url``)."""
    params = form_params(payload.read_text(encoding="utf-8"))
    headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "receiver-send"}
    if secrets is not None:
        headers["X-Twilio-Signature"] = sign_twilio(secrets.keys[0], signed_url or url, params)
    body = urlencode(params).encode("utf-8")
    return _report(httpx.post(url, content=body, headers=headers, timeout=timeout), out)
