"""Authenticating the brainCloud bridge: a shared token, or an HMAC of the body made with it.

The edge (HTTP), before the brainCloud adapter. Consumes a request's raw body, its headers
and the configured tokens; produces a :class:`~receiver.adapters.signatures.Verification`
(:func:`verify_bridge`).

brainCloud signs nothing it sends through its HTTP client, and Cloud Code documents
no HMAC primitive (docs/protocols.md B.6), so the bridge script authenticates with a
shared token in the ``x-receiver-token`` header. A bridge that can compute
HMAC-SHA256 may instead send ``x-receiver-signature``: the hex (or Base64) digest of
the raw body keyed with the token, which also protects the body. Either header
passes; every comparison is ``hmac.compare_digest`` and all candidates are compared,
so the time taken does not depend on which one matched. Several comma-separated
tokens are all accepted, for rotation. Nothing here logs a token.

Tokens are compared as bytes: the header's bytes as they came over the wire against
the configured token's UTF-8 bytes. The endpoint decodes header values as Latin-1,
which maps each byte to one character, so encoding them as Latin-1 again gives back
exactly the bytes the client sent; a token with non-ASCII characters then matches when
the client sends it as UTF-8, as HTTP clients (and brainCloud's) do.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from receiver.adapters.signatures import Secrets, Verification, decode_signature, digest

TOKEN_HEADER = "x-receiver-token"
SIGNATURE_HEADER = "x-receiver-signature"


def sign(token: bytes, body: bytes) -> str:
    """The ``x-receiver-signature`` value for ``body`` (hex HMAC-SHA256 keyed with the token)."""
    return digest(token, body).hex()


def header_bytes(value: str) -> bytes:
    """The raw bytes of a header value decoded as Latin-1 (as ASGI servers give them).

    A value holding characters beyond Latin-1 cannot have come from that decoding; it
    was decoded as UTF-8 by its caller, so it is encoded back the same way.
    """
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")


def verify_bridge(body: bytes, headers: Mapping[str, str], tokens: Secrets) -> Verification:
    """Check the bridge's token or signature header against every configured token."""
    token = headers.get(TOKEN_HEADER)
    signature = headers.get(SIGNATURE_HEADER)
    if token is None and signature is None:
        return Verification("missing")
    given = decode_signature(signature) if signature is not None else None
    if token is None and given is None:
        return Verification("malformed")
    presented = header_bytes(token).strip() if token is not None else b""
    token_ok = signature_ok = False
    for key in tokens.keys:
        if token is not None:
            token_ok |= hmac.compare_digest(key, presented)
        if given is not None:
            signature_ok |= hmac.compare_digest(digest(key, body), given)
    if token_ok:
        return Verification("ok", "token")
    if signature_ok:
        return Verification("ok", "signature")
    return Verification("mismatch")
