"""The eviction message that the workers of every replica exchange over Redis pub/sub.

The edge (user records), the wire format of the eviction broadcast
(:mod:`receiver.users.broadcast`). Consumes user ids, the publish time and the sender's
id; produces the message bytes (:func:`encode`), and back (:func:`decode`, which raises
:class:`MessageError` for anything that is not a well-formed message).

A message is one small JSON object::

    {"v": 1, "users": ["u1", "u2"], "at": 1733471234567.125, "from": "3f9a0c12d4e5-4711"}

``at`` is the publish time in milliseconds since the epoch (a fraction keeps the
microseconds, so fan-out delays under a millisecond can be measured); ``from`` is the
sender's id, so that a worker skips its own messages (it evicted locally already).
Anyone who can publish on the Redis can send one, so decoding bounds everything: the
whole message (:data:`MAX_MESSAGE_BYTES`), the ids per message (:data:`MAX_USERS`,
larger webhooks go out as several messages) and each id (:data:`MAX_ID_LENGTH`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from receiver.text import jsoncodec

VERSION = 1
MAX_USERS = 100  # ids per message; more are sent as several messages
MAX_ID_LENGTH = 256  # characters; a longer id is evicted locally only (no platform has one)
MAX_SENDER_LENGTH = 64
MAX_MESSAGE_BYTES = 64 * 1024  # above what MAX_USERS ids of MAX_ID_LENGTH can take


class MessageError(ValueError):
    """Not an eviction message: the reason, for the log (never the message itself)."""


@dataclass(frozen=True, slots=True)
class Eviction:
    users: tuple[str, ...]
    at_ms: float  # publish time, milliseconds since the epoch
    sender: str


def broadcastable(user_id: str) -> bool:
    return 0 < len(user_id) <= MAX_ID_LENGTH


def encode(users: Sequence[str], at_ms: float, sender: str) -> Iterator[bytes]:
    """The messages for ``users`` (at most :data:`MAX_USERS` ids each); ids that are not
    :func:`broadcastable` are left out."""
    ids = [user for user in users if broadcastable(user)]
    for start in range(0, len(ids), MAX_USERS):
        chunk = ids[start : start + MAX_USERS]
        yield jsoncodec.dumps({"v": VERSION, "users": chunk, "at": round(at_ms, 3), "from": sender})


def decode(data: bytes) -> Eviction:
    """The eviction in ``data``, or :class:`MessageError` saying what is wrong with it."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise MessageError(f"larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        value = jsoncodec.loads(data)
    except jsoncodec.JSONError:
        raise MessageError("not JSON") from None
    if not isinstance(value, dict):
        raise MessageError("not a JSON object")
    if value.get("v") != VERSION:
        raise MessageError(f"not version {VERSION}")
    users, at, sender = value.get("users"), value.get("at"), value.get("from")
    if not isinstance(users, list) or not 0 < len(users) <= MAX_USERS:
        raise MessageError(f"'users' is not a list of 1 to {MAX_USERS} ids")
    if not all(isinstance(user, str) and broadcastable(user) for user in users):
        raise MessageError(f"'users' holds an id that is not a string of 1 to {MAX_ID_LENGTH}")
    if isinstance(at, bool) or not isinstance(at, int | float):
        raise MessageError("'at' is not a number")
    try:
        at_ms = float(at)
    except OverflowError:  # an integer beyond a double
        raise MessageError("'at' is out of range") from None
    if not math.isfinite(at_ms) or at_ms < 0:
        raise MessageError("'at' is out of range")
    if not isinstance(sender, str) or not 0 < len(sender) <= MAX_SENDER_LENGTH:
        raise MessageError(f"'from' is not a string of 1 to {MAX_SENDER_LENGTH} characters")
    return Eviction(tuple(users), at_ms, sender)
