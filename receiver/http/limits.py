"""Connection limits of ``receiver serve``: settings only (the edge enforces them).

Consumed by :mod:`receiver.http.connections` (the HTTP protocol that enforces them in each
worker) and :mod:`receiver.http.metrics` (which reasons a refused connection is counted
under). Every limit is per worker process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

DEFAULT_MAX_HEAD_BYTES: Final = 64 * 1024
DEFAULT_READ_TIMEOUT: Final = 10.0  # seconds
DEFAULT_MAX_CONCURRENCY: Final = 512
DEFAULT_MAX_CONNECTIONS: Final = 1024

RefusalReason = Literal["head-too-large", "read-timeout", "over-capacity", "too-many-connections"]
# head-too-large: 431 and closed, the request head grew past max_head_bytes;
# read-timeout: a request head or body did not arrive within read_timeout (408 and closed
#   when part of it had arrived, else closed);
# over-capacity: 503 and closed, max_concurrency requests were already being answered;
# too-many-connections: closed at once, max_connections connections were already open.
REFUSAL_REASONS: Final[tuple[RefusalReason, ...]] = (
    "head-too-large",
    "read-timeout",
    "over-capacity",
    "too-many-connections",
)


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """How much one worker gives to peers.

    ``max_head_bytes``: request line plus headers; ``read_timeout``: seconds for a
    request head to arrive (from the connection's opening, or from its first byte on a
    kept-alive connection) and again for its body (from the end of the head);
    ``max_concurrency``: requests being answered at once (requests still sending their
    body do not count: the read timeout bounds those); ``max_connections``: open
    connections.
    """

    max_head_bytes: int = DEFAULT_MAX_HEAD_BYTES
    read_timeout: float = DEFAULT_READ_TIMEOUT
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    max_connections: int = DEFAULT_MAX_CONNECTIONS
