"""Stream Chat and Twilio webhook signatures: made and checked, in constant time.

The adapter stage, before an event is read (and ``receiver send``, which signs). Consumes a
request's raw body (Stream) or its URL and form parameters (Twilio), the signature
header's value and the configured :class:`~receiver.adapters.signatures.Secrets`; produces
an outcome (:func:`verify_stream`, :func:`verify_twilio`: ``ok``, ``missing``,
``malformed`` or ``mismatch``), or the header value that signs a request
(:func:`sign_stream`, :func:`sign_twilio`).

- Stream (docs/protocols.md C.2): ``X-Signature`` is the hex HMAC-SHA256 of the raw
  body, keyed with the app's API secret (what ``stream_chat``'s ``verify_webhook``
  computes).
- Twilio (docs/protocols.md D.2): ``X-Twilio-Signature`` is the Base64 HMAC-SHA1 of the
  full URL Twilio called followed by every form parameter, sorted by name, as name then
  value with no separators, keyed with the auth token (what ``twilio``'s
  ``RequestValidator`` computes: a repeated name's distinct values sorted, and the URL
  tried with and without its default port, since Twilio's own signers differ there).

Several secrets may be configured at once (comma-separated) for rotation; every
candidate is compared, so the time taken does not depend on which one matched. A header
value too long to be a digest is malformed before anything decodes it, so a forged
request costs one HMAC per secret. No web-framework imports; never logs secrets.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
from collections.abc import Iterable
from typing import Any, Final, Literal
from urllib.parse import urlsplit, urlunsplit

from receiver.adapters.signatures import Secrets

Outcome = Literal["ok", "missing", "malformed", "mismatch"]

STREAM_HEADER: Final = "x-signature"
TWILIO_HEADER: Final = "x-twilio-signature"
_MAX_TEXT: Final = 128  # longer header values cannot hold a digest
_SHA1_BLOCK: Final = 64


def sign_stream(key: bytes, body: bytes) -> str:
    """The ``X-Signature`` value Stream sends for ``body``."""
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_stream(body: bytes, signature: str | None, secrets: Secrets) -> Outcome:
    """Check Stream's ``X-Signature`` (hex HMAC-SHA256 of the raw body) against each secret."""
    if signature is None:
        return "missing"
    value = signature.strip()
    if len(value) != 64 or not value.isascii():
        return "malformed"
    try:
        given = bytes.fromhex(value)
    except ValueError:
        return "malformed"
    if len(given) != 32:  # fromhex skips spaces inside the value
        return "malformed"
    matched = False
    for want in secrets.digests(body):
        matched |= hmac.compare_digest(want, given)
    return "ok" if matched else "mismatch"


def twilio_payload(url: str, params: Iterable[tuple[str, str]]) -> bytes:
    """The text Twilio signs: the URL, then each name and value, sorted by name (a
    repeated name's distinct values sorted too: sorting the distinct pairs is that)."""
    parts = [url]
    for name, value in sorted(set(params)):
        parts.append(name)
        parts.append(value)
    return "".join(parts).encode("utf-8", "surrogatepass")


@functools.lru_cache(maxsize=64)
def _keyed_sha1(key: bytes) -> tuple[Any, Any]:
    """HMAC-SHA1's inner and outer states after the padded key (RFC 2104), made once per
    key: signing a request then copies them instead of setting the key up again."""
    if len(key) > _SHA1_BLOCK:
        key = hashlib.sha1(key).digest()
    key = key.ljust(_SHA1_BLOCK, b"\0")
    inner = hashlib.sha1(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha1(bytes(b ^ 0x5C for b in key))
    return inner, outer


def _hmac_sha1(key: bytes, message: bytes) -> bytes:
    inner_state, outer_state = _keyed_sha1(key)
    inner = inner_state.copy()
    inner.update(message)
    outer = outer_state.copy()
    outer.update(inner.digest())
    return bytes(outer.digest())


def sign_twilio(token: bytes, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The ``X-Twilio-Signature`` value Twilio sends for a request to ``url``."""
    digest = _hmac_sha1(token, twilio_payload(url, params))
    return base64.b64encode(digest).decode("ascii")


@functools.lru_cache(maxsize=256)  # a service sees one or a few URLs
def url_variants(url: str) -> tuple[str, ...]:
    """The URL as given, and with its scheme's default port added or removed (Twilio
    signs one or the other; its SDK accepts both)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return (url,)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname
    if default is None or host is None:
        return (url,)
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    shown = f"[{host}]" if ":" in host else host
    if port is None:
        other = urlunsplit(parts._replace(netloc=f"{prefix}{shown}:{default}"))
    elif port == default:
        other = urlunsplit(parts._replace(netloc=f"{prefix}{shown}"))
    else:
        return (url,)
    return (url, other) if other != url else (url,)


def verify_twilio(
    url: str, params: list[tuple[str, str]], signature: str | None, tokens: Secrets
) -> Outcome:
    """Check ``X-Twilio-Signature`` for a request to ``url`` with form ``params``."""
    if signature is None:
        return "missing"
    value = signature.strip()
    if len(value) > _MAX_TEXT or not value.isascii():
        return "malformed"
    try:
        given = binascii.a2b_base64(value, strict_mode=True)
    except ValueError:  # binascii.Error included
        return "malformed"
    if len(given) != 20 or base64.b64encode(given).decode("ascii") != value:
        return "malformed"  # only the canonical Base64 of a SHA-1 digest, as Twilio's SDK
    matched = False
    pairs = sorted(set(params))
    for variant in url_variants(url):
        parts = [variant]
        for name, value in pairs:
            parts.append(name)
            parts.append(value)
        payload = "".join(parts).encode("utf-8", "surrogatepass")
        for key in tokens.keys:
            matched |= hmac.compare_digest(_hmac_sha1(key, payload), given)
    return "ok" if matched else "mismatch"
