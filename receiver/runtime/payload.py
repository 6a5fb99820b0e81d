"""Incoming events: the social.plus pre-hook envelope, validated.

Stage 4 (run), its input. Consumes a parsed JSON body; produces an :class:`Event`
(:func:`parse_event`), or a :class:`~receiver.errors.PayloadError`.

``{"eventName": str, "data": {...}, "actor": {"_id", "userId", ...}}``. A body
without a string ``eventName`` and an object ``data`` is a :class:`PayloadError`
with a message saying what is wrong; ``actor`` is optional (an empty map).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from receiver.dsl.values import Value
from receiver.errors import PayloadError


class Event(NamedTuple):
    """One event to decide. Immutable; a NamedTuple rather than a frozen dataclass
    because one is made per request, and a frozen dataclass's ``__init__`` costs
    three times as much (it sets every field through ``object.__setattr__``)."""

    name: str
    data: dict[str, Value]
    actor: dict[str, Value]


def parse_event(payload: Any) -> Event:
    if not isinstance(payload, dict):
        raise PayloadError(f"the payload must be a JSON object, not {_kind(payload)}")
    name = payload.get("eventName")
    if not isinstance(name, str) or not name:
        if "event" in payload and "eventName" not in payload:
            raise PayloadError(
                "the payload has 'event' but pre-hooks send 'eventName' "
                "(this looks like an ordinary webhook, not a pre-hook)"
            )
        raise PayloadError("the payload needs a string 'eventName'")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise PayloadError(f"'data' must be a JSON object, not {_kind(data)}")
    actor = payload.get("actor")
    if actor is None:
        actor = {}
    elif not isinstance(actor, dict):
        raise PayloadError(f"'actor' must be a JSON object, not {_kind(actor)}")
    return Event(name, data, actor)


def _kind(value: Any) -> str:
    if value is None:
        return "missing/null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"
