"""``receiver send``: sign a payload exactly as the platform does and post it.

The edge (a client of a running receiver), under ``receiver send``. Consumes a payload file,
a URL and the :class:`~receiver.adapters.signatures.Secrets` to sign with; produces the
answer on the output stream and an exit code (0 for HTTP 200).

The file's bytes are sent unchanged as the body, signed with HMAC-SHA256 in the
``x-amity-signature`` header (Base64), the way social.plus signs its calls; the
answer (status, decision id, body) is printed. The way to try the service by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

import httpx

from receiver.adapters.signatures import Secrets, sign_base64, sign_hex

DEFAULT_URL = "http://127.0.0.1:8080/hooks/socialplus"


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
