"""receiver/http/tokens.py: the brainCloud bridge's shared token, or an HMAC of the body
made with it, compared as the bytes the client sent."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from receiver.adapters.signatures import Secrets, sign_base64
from receiver.http.tokens import SIGNATURE_HEADER, TOKEN_HEADER, header_bytes, sign, verify_bridge

TOKEN = "bridge-token-current-1234"
OLD_TOKEN = "bridge-token-previous-5678"
TOKENS = Secrets.parse(f"{TOKEN},{OLD_TOKEN}")
BODY = b'{"hookType":"pre","service":"event","operation":"SEND"}'


@pytest.mark.parametrize(
    ("headers", "outcome", "method"),
    [
        ({}, "missing", ""),
        ({"x-receiver-token": TOKEN}, "ok", "token"),
        ({"x-receiver-token": f"  {OLD_TOKEN} "}, "ok", "token"),
        ({"x-receiver-token": "wrong"}, "mismatch", ""),
        ({"x-receiver-token": ""}, "mismatch", ""),
        ({"x-receiver-token": TOKEN[:-1]}, "mismatch", ""),
        ({"x-receiver-signature": sign(TOKEN.encode(), BODY)}, "ok", "signature"),
        ({"x-receiver-signature": sign_base64(OLD_TOKEN.encode(), BODY)}, "ok", "signature"),
        ({"x-receiver-signature": sign(TOKEN.encode(), BODY + b" ")}, "mismatch", ""),
        ({"x-receiver-signature": "not a digest"}, "malformed", ""),
        ({"x-receiver-signature": "not a digest", "x-receiver-token": TOKEN}, "ok", "token"),
        ({"x-receiver-signature": sign(TOKEN.encode(), BODY), "x-receiver-token": "x"},
         "ok", "signature"),
    ],
)  # fmt: skip
def test_verify_bridge(headers: dict[str, str], outcome: str, method: str) -> None:
    result = verify_bridge(BODY, headers, TOKENS)
    assert (result.outcome, result.method) == (outcome, method)


def as_asgi(value: bytes) -> str:
    """A header value as the ASGI endpoint hands it over: its bytes decoded as Latin-1."""
    return value.decode("latin-1")


@pytest.mark.parametrize(
    "token",
    ["tök€n-ключ-🔑", "naïve", "ends-in-à", "mid\u00a0nbsp", "\u0085starts-with-nel"],
)
def test_a_non_ascii_token_matches_the_utf8_bytes_the_client_sent(token: str) -> None:
    # "à" is C3 A0 in UTF-8, and A0 (like 85) is whitespace to str.strip() once decoded
    # as Latin-1: only ASCII spaces around the token may be dropped.
    tokens = Secrets((token.encode(),))
    sent = as_asgi(token.encode())
    assert verify_bridge(BODY, {"x-receiver-token": sent}, tokens).method == "token"
    assert verify_bridge(BODY, {"x-receiver-token": f" {sent}\t"}, tokens).method == "token"
    # the same characters sent as Latin-1 bytes (where they fit) are other bytes: no match
    wrong = token.encode("latin-1", "replace")
    assert verify_bridge(BODY, {"x-receiver-token": as_asgi(wrong)}, tokens).outcome == "mismatch"


def test_a_header_value_already_decoded_as_utf8_still_matches() -> None:
    """A caller that hands over real text (not Latin-1 of the bytes) is read as UTF-8."""
    tokens = Secrets(("tök€n".encode(),))
    assert verify_bridge(BODY, {"x-receiver-token": "tök€n"}, tokens).method == "token"
    assert verify_bridge(BODY, {"x-receiver-token": "tök€"}, tokens).outcome == "mismatch"


def test_a_non_ascii_token_keys_the_body_signature_too() -> None:
    token = "tök€n".encode()
    signed = {"x-receiver-signature": sign(token, BODY)}
    assert verify_bridge(BODY, signed, Secrets((token,))).method == "signature"


def test_sign_is_the_hex_hmac_sha256_of_the_body() -> None:
    assert sign(b"key", b"body") == hmac.new(b"key", b"body", hashlib.sha256).hexdigest()


def test_the_header_names_are_pinned() -> None:
    assert (TOKEN_HEADER, SIGNATURE_HEADER) == ("x-receiver-token", "x-receiver-signature")


def test_header_bytes_gives_back_the_bytes_of_a_latin1_decoded_value() -> None:
    raw = "tök€n".encode()
    assert header_bytes(raw.decode("latin-1")) == raw
    assert header_bytes("tök€n") == raw  # beyond Latin-1: it was decoded as UTF-8
