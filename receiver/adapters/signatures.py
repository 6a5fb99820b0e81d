"""Webhook signatures: HMAC-SHA256 over the raw body, compared in constant time.

The adapter stage, before an event is read (and ``receiver send``, which signs). Consumes a
request's raw body, its signature headers and the configured :class:`Secrets`; produces a
:class:`Verification` (:func:`verify`), or the digests that sign a body
(:func:`sign_base64`, :func:`sign_hex`).

social.plus documents two schemes (docs/protocols.md A.6): ``x-amity-signature`` carrying
the Base64 digest of the raw body, and ``x-signature`` carrying the hex digest.
Which one pre-hooks use is not documented, so both headers and both encodings are
accepted. Several secrets may be configured at once (comma-separated) for
zero-downtime rotation. This module has no web-framework imports and never logs secrets.

Refusing must stay cheap, or forged traffic becomes an amplifier: a wrong signature
costs one HMAC per secret over the body, and a header value too long to be a digest
is malformed before it is decoded. The compatibility fallback that also accepts the
digest of the compact re-serialised JSON (what JavaScript's ``JSON.stringify`` gives)
parses and re-serialises the whole body, so it is opt-in (:class:`CompactFallback`)
and bounded: only bodies up to a size, and at most a budget of attempts per second
in each process; past the budget a request is refused as ``over-budget``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

SIGNATURE_HEADERS = ("x-amity-signature", "x-signature")

Outcome = Literal["ok", "missing", "malformed", "mismatch", "over-budget"]

# The longest header value that can hold a digest: 64 hex digits after "sha256=", with
# room for spaces around it. Longer values are malformed before anything decodes them.
MAX_SIGNATURE_TEXT = 128

DEFAULT_FALLBACK_MAX_BODY = 64 * 1024
DEFAULT_FALLBACK_RATE = 10.0  # attempts per second, per process


_BLOCK = 64  # SHA-256's block size: HMAC pads the key to it
_INNER_PAD = bytes(x ^ 0x36 for x in range(256))
_OUTER_PAD = bytes(x ^ 0x5C for x in range(256))


class _KeyedSHA256:
    """HMAC-SHA256 with one key (RFC 2104), the padded key's block already hashed.

    ``H((K ^ opad) || H((K ^ ipad) || message))``: the inner and outer SHA-256 states
    after their first block are made once, and signing a body copies them. That skips
    the key setup on every request (half the cost of signing a small body), and two
    hashlib copies cost less than copying OpenSSL's HMAC context, which holds three
    digest contexts. ``tests/adapters/test_signatures.py`` checks it against ``hmac``.
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(key.translate(_INNER_PAD))
        self._outer = hashlib.sha256(key.translate(_OUTER_PAD))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


@dataclass(frozen=True, slots=True)
class Secrets:
    """One or more HMAC keys; ``repr`` never shows them."""

    keys: tuple[bytes, ...]
    _keyed: tuple[_KeyedSHA256, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_keyed", tuple(_KeyedSHA256(key) for key in self.keys))

    def __reduce__(self) -> tuple[type[Secrets], tuple[tuple[bytes, ...]]]:
        """Pickle the keys only; unpickling builds the keyed states again.

        hashlib's states cannot be pickled, and ``receiver serve --workers N`` hands its
        configuration to each spawned worker by pickling it (over the worker's pipe).
        """
        return (Secrets, (self.keys,))

    def digests(self, body: bytes) -> list[bytes]:
        """The HMAC-SHA256 of ``body`` with each secret."""
        return [each.digest(body) for each in self._keyed]

    @classmethod
    def parse(cls, text: str) -> Secrets:
        keys = tuple(part.strip().encode() for part in text.split(",") if part.strip())
        if not keys:
            raise ValueError("the secret is empty")
        return cls(keys)

    def __repr__(self) -> str:
        return f"Secrets(<{len(self.keys)} key{'s' if len(self.keys) != 1 else ''}>)"

    def __str__(self) -> str:
        return repr(self)


@dataclass(frozen=True, slots=True)
class Verification:
    outcome: Outcome
    method: str = ""  # raw-body or compact-json, when ok

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


# The answers of verify(), made once (a frozen dataclass is costly to make per request)
_MISSING = Verification("missing")
_MALFORMED = Verification("malformed")
_MISMATCH = Verification("mismatch")
_OVER_BUDGET = Verification("over-budget")
_RAW_BODY = Verification("ok", "raw-body")
_COMPACT_JSON = Verification("ok", "compact-json")


def digest(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest()


def sign_base64(key: bytes, body: bytes) -> str:
    """The ``x-amity-signature`` value the platform sends for ``body``."""
    return base64.b64encode(digest(key, body)).decode()


def sign_hex(key: bytes, body: bytes) -> str:
    """The ``x-signature`` value (hex) for ``body``."""
    return digest(key, body).hex()


def decode_signature(value: str) -> bytes | None:
    """The 32 digest bytes in a header value: hex or Base64 (standard or URL-safe)."""
    if len(value) > MAX_SIGNATURE_TEXT:
        return None
    value = value.strip()
    if len(value) == 44 and value[43] == "=" and value.isascii():
        try:  # the usual x-amity-signature: standard Base64 with its padding
            raw = binascii.a2b_base64(value, strict_mode=True)
        except binascii.Error:
            pass
        else:
            return raw if len(raw) == 32 else None
    if value[:7].lower() == "sha256=":
        value = value[7:]
    if len(value) == 64:
        try:
            raw = bytes.fromhex(value)  # fromhex skips spaces: "00 00 ..." is fewer bytes
        except ValueError:
            pass
        else:
            return raw if len(raw) == 32 else None
    try:
        raw = base64.b64decode(
            value + "=" * (-len(value) % 4),
            altchars=b"-_" if ("-" in value or "_" in value) else None,
            validate=True,
        )
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None


def compact_json(parsed: Any) -> bytes:
    """The body as JavaScript's ``JSON.stringify`` would write it."""
    return json.dumps(parsed, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8", "surrogatepass"
    )


@dataclass(frozen=True, slots=True)
class FallbackSettings:
    """``--signature-fallback compact-json``: the bounds of the compact-JSON fallback.

    Plain values, so that the service's settings can be pickled to worker processes;
    each process makes its own :class:`CompactFallback` (and budget) from them.
    """

    max_body: int = DEFAULT_FALLBACK_MAX_BODY  # bytes; larger bodies never try it
    rate: float = DEFAULT_FALLBACK_RATE  # attempts per second (and at most that many at once)

    def __reduce__(self) -> tuple[type[FallbackSettings], tuple[int, float]]:
        # Compiled with mypyc, a frozen dataclass cannot be unpickled field by field (its
        # fields refuse assignment): rebuild it from its values instead.
        return (FallbackSettings, (self.max_body, self.rate))


class CompactFallback:
    """The compact-JSON fallback of :func:`verify`, with its size limit and budget.

    The budget is a token bucket: ``rate`` attempts a second, refilled continuously,
    holding at most ``max(rate, 1)``. An attempt spends one whether it matches or not;
    with the bucket empty, a body whose raw digest failed is refused unparsed. So
    forged bodies cost a process at most ``rate`` parses of ``max_body`` bytes a second.
    """

    __slots__ = ("_burst", "_clock", "_last", "_rate", "_tokens", "max_body", "parse")

    def __init__(
        self,
        parse: Callable[[bytes], Any],
        settings: FallbackSettings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if settings.max_body < 0 or settings.rate <= 0:
            raise ValueError("the fallback needs a size limit >= 0 and a rate > 0")
        self.parse = parse
        self.max_body = settings.max_body
        self._rate = float(settings.rate)
        self._burst = max(self._rate, 1.0)
        self._clock = clock
        self._tokens = self._burst
        self._last = clock()

    def spend(self) -> bool:
        """Take one attempt from the budget; False when none is left."""
        now = self._clock()
        tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if tokens < 1.0:
            self._tokens = tokens
            return False
        self._tokens = tokens - 1.0
        return True


def verify(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Secrets,
    fallback: CompactFallback | None = None,
) -> Verification:
    """Check the request's signature headers against every secret.

    ``fallback`` enables the compact re-serialisation fallback, for bodies up to its
    size limit and within its budget. Every comparison is ``hmac.compare_digest``; all
    candidates are compared, so the time taken does not depend on which one matched.
    """
    given: list[bytes] = []
    present = False
    for name in SIGNATURE_HEADERS:
        value = headers.get(name)
        if value is None:
            continue
        present = True
        decoded = decode_signature(value)
        if decoded is not None:
            given.append(decoded)
    if not present:
        return _MISSING
    if not given:
        return _MALFORMED
    expected = secrets.digests(body)
    matched = False
    for want in expected:
        for got in given:
            matched |= hmac.compare_digest(want, got)
    if matched:
        return _RAW_BODY
    if fallback is None or len(body) > fallback.max_body:
        return _MISMATCH
    if not fallback.spend():
        return _OVER_BUDGET
    try:
        compact = compact_json(fallback.parse(body))
    except Exception:
        return _MISMATCH
    if compact != body:
        for want in secrets.digests(compact):
            for got in given:
                matched |= hmac.compare_digest(want, got)
        if matched:
            return _COMPACT_JSON
    return _MISMATCH
