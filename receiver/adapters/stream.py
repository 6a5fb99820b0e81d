"""Stream Chat "Before Message Send" webhooks: request body to event, decision to answer.

The adapter stage, around stage 4 (run). Consumes the hook's request bytes
(:func:`parse_request`: an :class:`~receiver.runtime.payload.Event`) and a
:class:`~receiver.runtime.decision.Decision`; produces the answer body
(:func:`response_body`), or the fail-safe decision (:func:`fail_safe`).

Stream posts ``{"message", "user", "channel", "request_info"}`` (docs/protocols.md C.1).
It becomes the event ``stream.message.new`` with::

    data  = {"text": message.text, "message": message, "channel": channel,
             "request_info": request_info}
    actor = user, with "userId" = user.id

so that ``text`` is the message's text as on every other platform, ``actor.userId``
names the sender, and the rest stays reachable (``data.message.attachments``,
``data.channel.cid``, ``data.request_info.ip``).

Answers follow Stream's contract (C.3), always HTTP 200:

    allow   {}                                   the message goes on unchanged
    modify  {"message": M}                       M = the message with the changed text
                                                 (and any data.message.* the rules set)
    deny    {"message": {..., "type": "error",   the message bounces; its text is what
                         "text": deny text}}      the sender sees
"""

from __future__ import annotations

from typing import Any, Final, Literal

from receiver.dsl.values import to_json
from receiver.errors import PayloadError
from receiver.runtime.decision import Decision
from receiver.runtime.payload import Event
from receiver.text import jsoncodec

FailSafe = Literal["allow", "deny"]

EVENT: Final = "stream.message.new"
# Stream waits 1500 ms per attempt by default (C.4): decide within 1000 ms, leaving the
# network and Stream's own processing the rest.
DEADLINE_MS: Final = 1000
DENY_TEXT: Final = "This message was not sent: it does not meet this community's guidelines."
FAIL_SAFE_DENY_MESSAGE: Final = (
    "This message could not be checked right now. Please try again later."
)

_ALLOW: Final = b"{}"


def parse_request(body: bytes) -> Event:
    try:
        payload = jsoncodec.loads(body)
    except jsoncodec.JSONError as err:
        raise PayloadError(str(err)) from None
    return parse_payload(payload)


def is_payload(payload: Any) -> bool:
    """Whether a parsed JSON document looks like Stream's hook body."""
    return (
        isinstance(payload, dict)
        and isinstance(payload.get("message"), dict)
        and "eventName" not in payload
        and "hookType" not in payload
    )


def parse_payload(payload: Any) -> Event:
    if not isinstance(payload, dict):
        raise PayloadError("Stream's hook body must be a JSON object {message, user, channel}")
    message = payload.get("message")
    if not isinstance(message, dict):
        raise PayloadError("Stream's hook body needs a 'message' object")
    user = payload.get("user")
    if user is None:
        user = message.get("user") if isinstance(message.get("user"), dict) else {}
    if not isinstance(user, dict):
        raise PayloadError("'user' must be a JSON object")
    channel = payload.get("channel")
    if channel is not None and not isinstance(channel, dict):
        raise PayloadError("'channel' must be a JSON object")
    info = payload.get("request_info")
    if info is not None and not isinstance(info, dict):
        raise PayloadError("'request_info' must be a JSON object")
    text = message.get("text")
    data: dict[str, Any] = {
        "text": text if isinstance(text, str) else "",
        "message": message,
        "channel": channel if channel is not None else {},
        "request_info": info if info is not None else {},
    }
    actor = dict(user)
    user_id = user.get("id")
    if isinstance(user_id, str) and user_id:
        actor["userId"] = user_id
    return Event(EVENT, data, actor)


def answer(event: Event, decision: Decision) -> dict[str, Any]:
    """The answer's JSON for a decision on ``event``."""
    data = decision.data
    if decision.action == "deny":
        original = to_json(event.data.get("message"))
        message = dict(original) if isinstance(original, dict) else {}
        message["type"] = "error"
        message["text"] = decision.message or DENY_TEXT
        return {"message": message}
    if not decision.modified_by or data is None:
        return {}
    changed = to_json(data.get("message"))
    message = dict(changed) if isinstance(changed, dict) else {}
    text = to_json(data.get("text"))
    if isinstance(text, str):
        message["text"] = text
    return {"message": message}


def response_body(event: Event, decision: Decision) -> bytes:
    if decision.action == "allow" and not decision.modified_by:
        return _ALLOW
    return jsoncodec.dumps(answer(event, decision))


def fail_safe(action: FailSafe) -> Decision:
    """The decision answered on internal errors and deadline overruns: the service's
    ``--default-action`` (a deny bounces the message with a short notice)."""
    if action == "deny":
        return Decision("deny", FAIL_SAFE_DENY_MESSAGE, degraded=True)
    return Decision("allow", degraded=True)
