"""Who may read the operator endpoints: ``/metrics`` and the details of ``/readyz``.

The edge, beside the HTTP app. Consumes the service configuration (the metrics
token(s), ``public_metrics``, the bound address) and a request's raw headers; produces
whether the caller may see what names the policies (metrics labels, the policy list).

- With a metrics token, only ``Authorization: Bearer <token>`` may (on any address):
  the header's bytes are compared with each configured token's UTF-8 bytes by
  ``hmac.compare_digest``, every token compared, so the time taken depends on neither
  which one matched nor how much of it did. Several comma-separated tokens are all
  accepted, for rotation.
- Without one, anyone may on a loopback bind (local development), or anywhere with
  ``--public-metrics``; on any other address nobody may (``/metrics`` answers 403).

Nothing here logs a token or a header.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from receiver.adapters.signatures import Secrets
from receiver.http.config import ServiceConfig, is_loopback

Mode = Literal["token", "open", "closed"]

_AUTHORIZATION = b"authorization"
_BEARER = b"bearer"


def bearer_token(headers: Iterable[tuple[bytes, bytes]]) -> bytes | None:
    """The credentials of the first ``Authorization: Bearer ...`` header, as sent."""
    for name, value in headers:
        if name.lower() == _AUTHORIZATION:
            scheme, _, credentials = value.strip().partition(b" ")
            if scheme.lower() != _BEARER:
                return None
            return credentials.strip()
    return None


@dataclass(frozen=True, slots=True)
class AdminAccess:
    tokens: Secrets | None
    mode: Mode

    @classmethod
    def of(cls, config: ServiceConfig) -> AdminAccess:
        if config.metrics_tokens is not None:
            return cls(config.metrics_tokens, "token")
        if config.public_metrics or is_loopback(config.host):
            return cls(None, "open")
        return cls(None, "closed")

    def allows(self, headers: Iterable[tuple[bytes, bytes]]) -> bool:
        if self.mode != "token":
            return self.mode == "open"
        presented = bearer_token(headers)
        if presented is None or self.tokens is None:
            return False
        matched = False
        for key in self.tokens.keys:
            matched |= hmac.compare_digest(key, presented)
        return matched

    def describe(self, host: str) -> str:
        """What the start-up log says about the operator endpoints."""
        if self.mode == "token":
            count = len(self.tokens.keys) if self.tokens is not None else 0
            return (
                "/metrics and the policy names in /readyz need 'Authorization: Bearer' with "
                f"the metrics token ({count} token{'s' if count != 1 else ''} accepted)"
            )
        if self.mode == "open":
            where = "local callers (loopback bind)" if is_loopback(host) else "ANYONE"
            return (
                f"/metrics and /readyz (with the policy names) are open to {where}: no "
                "metrics token"
            )
        return (
            f"no metrics token on {host}: /metrics answers 403 and /readyz shows only the "
            "status and the policy revision; set --metrics-token-file or "
            "$RECEIVER_METRICS_TOKEN (or --public-metrics to open them to anyone)"
        )
