"""Keyed hashes of content for shared stores: what Redis holds instead of message text.

The edge of counting, for the Redis backend. Consumes the text of a counter key or
``distinct`` value that the counter plan marked as derived from content
(:class:`~receiver.runtime.counters.Op`'s ``hash_key`` and ``hash_member``) and the
deployment's key (``--redis-key-secret``, ``--redis-key-secret-file`` or
``$RECEIVER_REDIS_KEY_SECRET``); produces what the store keeps (:class:`KeyHasher`):
``hmac:`` and the HMAC-SHA256 of the text under that key, or, without a key,
``sha256:`` and its plain SHA-256.

A keyed hash cannot be reversed, nor confirmed against a guessed text, by someone who
reads Redis but not the key. A plain SHA-256 keeps the text out of sight but lets
anyone confirm a guess (was "meet me at 5" sent?), hence the warning at start without
a key. Both are injective for counting: equal texts give equal hashes, and a collision
of SHA-256 is not expected, so counts are the memory backend's.

Every replica must use the same key, or their counts split; a new key starts content
counters from zero (their windows refill within one window).
"""

from __future__ import annotations

import hashlib
import hmac

HMAC_PREFIX = "hmac:"
SHA256_PREFIX = "sha256:"


class KeyHasher:
    """``hasher(text)``: the stored form of a content-derived key or value."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes | None) -> None:
        self._secret = secret or None

    @property
    def keyed(self) -> bool:
        return self._secret is not None

    def __call__(self, text: str) -> str:
        data = text.encode("utf-8", "surrogatepass")  # keys may hold lone surrogates
        if self._secret is None:
            return SHA256_PREFIX + hashlib.sha256(data).hexdigest()
        return HMAC_PREFIX + hmac.digest(self._secret, data, "sha256").hex()

    def __repr__(self) -> str:  # never the key
        return f"KeyHasher(keyed={self.keyed})"
