"""Every platform's payload, recognised: the one table of platforms for offline tools.

The adapter stage, for ``receiver eval`` (and anything that decides a payload outside the
service). Consumes a parsed payload (and optionally the platform it is known to be);
produces a :class:`Call`: the event to decide and the function that turns its decision
into the platform's own answer (:func:`call_of`), or a
:class:`~receiver.errors.PayloadError`; for an event the service decided and kept (the
console's explorer), the answer function of its platform (:func:`answer_for`).

Recognised by shape (:func:`detect`): a brainCloud bridge envelope has ``hookType``, a
social.plus pre-hook ``eventName``, a Stream hook body a ``message`` object, a Twilio
webhook (its form parameters as a JSON object) ``EventType``. The service does not use
this: each of its routes knows its platform. ``receiver eval``, the console's playground
and its explorer do, so that no tool outside the adapters names a platform.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Literal, NamedTuple

from receiver.adapters import braincloud, stream, twilio
from receiver.errors import PayloadError
from receiver.runtime.decision import Decision
from receiver.runtime.payload import Event, parse_event
from receiver.text import jsoncodec

Platform = Literal["socialplus", "braincloud", "stream", "twilio"]
PLATFORMS: Final[tuple[Platform, ...]] = ("socialplus", "braincloud", "stream", "twilio")


class Call(NamedTuple):
    """One payload to decide: its event, and its answer for a decision (JSON)."""

    platform: Platform
    event: Event
    answer: Callable[[Decision], Any]


def detect(payload: Any) -> Platform:
    """The platform a parsed payload comes from, by its shape (social.plus by default)."""
    if braincloud.is_envelope(payload):
        return "braincloud"
    if isinstance(payload, dict) and "eventName" not in payload:
        if stream.is_payload(payload):
            return "stream"
        if isinstance(payload.get("EventType"), str):
            return "twilio"
    return "socialplus"


def twilio_answer_json(event: Event, decision: Decision) -> dict[str, Any]:
    """Twilio's answer as one JSON value: ``{"status": S, "body": {...}}``."""
    status, body = twilio.answer(event, decision)
    return {"status": status, "body": jsoncodec.loads(body)}


def platform_of(event_name: str) -> Platform:
    """The platform an event name belongs to (``stream.*``, ``twilio.*``,
    ``braincloud.*``; social.plus names have no prefix)."""
    for platform in ("stream", "twilio", "braincloud"):
        if event_name.startswith(platform + "."):
            return platform
    return "socialplus"


def answer_for(platform: str, event: Event) -> Callable[[Decision], Any]:
    """How ``platform`` is answered for a decision on ``event`` (a decided event kept or
    recorded by the service, decided again): each platform's own form."""
    if platform == "braincloud":
        hook_type = event.data.get("hookType")
        if hook_type in braincloud.HOOK_TYPES:
            kind: braincloud.HookType = hook_type
            return lambda d: braincloud.answer(kind, d)
    if platform == "stream":
        return lambda d: stream.answer(event, d)
    if platform == "twilio":
        return lambda d: twilio_answer_json(event, d)
    return Decision.response


def call_of(payload: Any, platform: Platform | None = None) -> Call:
    """The :class:`Call` of a parsed payload, from ``platform`` or its shape."""
    found = platform or detect(payload)
    if found == "braincloud":
        hook = braincloud.parse_envelope(payload)
        hook_type = hook.hook_type
        return Call(found, hook.event, lambda d: braincloud.answer(hook_type, d))
    if found == "stream":
        event = stream.parse_payload(payload)
        return Call(found, event, lambda d: stream.answer(event, d))
    if found == "twilio":
        if not isinstance(payload, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in payload.items()
        ):
            raise PayloadError(
                "a Twilio webhook is its form parameters: a JSON object of strings "
                '({"EventType": "onMessageAdd", "Body": "..."}) or a form body'
            )
        event = twilio.parse_request(list(payload.items()))
        return Call(found, event, lambda d: twilio_answer_json(event, d))
    event = parse_event(payload)
    return Call(found, event, Decision.response)
