"""Twilio Conversations pre-action webhooks: form body to event, decision to answer.

The adapter stage, around stage 4 (run). Consumes the hook's form-encoded request bytes
(:func:`parse_form`, then :func:`parse_request`: an
:class:`~receiver.runtime.payload.Event`) and a
:class:`~receiver.runtime.decision.Decision`; produces the HTTP status and body
(:func:`answer`), or the fail-safe decision (:func:`fail_safe`).

Twilio posts ``EventType=onMessageAdd&Body=...&Author=...&ConversationSid=...``
(docs/protocols.md D.1). It becomes the event ``twilio.<EventType>``
(``twilio.onMessageAdd``, ``twilio.onConversationAdd``, ...) with::

    data  = every parameter by its Twilio name (Body, Author, ConversationSid, ...),
            plus "text" = Body and "attributes" = Attributes parsed as a JSON object
    actor = {"userId": ClientIdentity, else Author, else Identity}

so that ``text`` is the message body as on every other platform.

Answers follow Twilio's contract (D.3):

    allow   200 {}
    modify  200 {"body": ..., "attributes": "<JSON>", ...}   only the fields that changed
    deny    403 (or the deny rule's 4xx/5xx status) {"message": deny text}: the action
            is rejected; Twilio shows the sender no text of ours
"""

from __future__ import annotations

import json
import re
from typing import Any, Final, Literal
from urllib.parse import unquote

from receiver.dsl.values import to_json
from receiver.errors import PayloadError
from receiver.runtime.decision import Decision
from receiver.runtime.payload import Event
from receiver.text import jsoncodec

FailSafe = Literal["allow", "deny"]

PREFIX: Final = "twilio."
# Twilio waits at most 5 s for any Conversations webhook (D.4): decide within 4 s.
DEADLINE_MS: Final = 4000
DENY_STATUS: Final = 403
MAX_FIELDS: Final = 200  # Twilio sends a few dozen; more is not Twilio
FAIL_SAFE_DENY_MESSAGE: Final = "This action could not be checked right now."

# Where a changed value goes in the answer: data key -> Twilio's response field.
MODIFIABLE: Final = {
    "text": "body",
    "Author": "author",
    "attributes": "attributes",
    "FriendlyName": "friendlyName",
    "UniqueName": "uniqueName",
}

_EVENT_TYPE = re.compile(r"on[A-Za-z]{1,60}\Z")
_ALLOW: Final = b"{}"


def parse_form(body: bytes) -> list[tuple[str, str]]:
    """The form's name/value pairs, in order (``application/x-www-form-urlencoded``).

    The same pairs as ``parse_qsl(text, keep_blank_values=True, strict_parsing=True,
    max_num_fields=MAX_FIELDS)`` (a property test holds them equal), written out because
    parse_qsl costs about a microsecond a field, most of the Twilio hook's parsing:
    names and values without ``+`` or ``%`` are taken as they are.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("the form body is not UTF-8") from None
    if not text:
        return []
    fields = text.split("&")
    if len(fields) > MAX_FIELDS:
        raise PayloadError(f"a form of more than {MAX_FIELDS} fields")
    pairs: list[tuple[str, str]] = []
    for field in fields:
        name, equals, value = field.partition("=")
        if not equals:
            raise PayloadError(f"not a form-encoded body (name=value&...): field {field[:40]!r}")
        if "+" in name or "%" in name:
            name = unquote(name.replace("+", " "))
        if "+" in value or "%" in value:
            value = unquote(value.replace("+", " "))
        pairs.append((name, value))
    return pairs


def parse_request(params: list[tuple[str, str]]) -> Event:
    data: dict[str, Any] = {}
    for name, value in params:
        data.setdefault(name, value)  # a repeated name: its first value
    event_type = data.get("EventType")
    if not isinstance(event_type, str) or not _EVENT_TYPE.match(event_type):
        raise PayloadError(
            "the form needs Twilio's EventType (onMessageAdd, onConversationAdd, ...)"
        )
    body = data.get("Body")
    data["text"] = body if isinstance(body, str) else ""
    data["attributes"] = _attributes(data.get("Attributes"))
    actor: dict[str, Any] = {}
    for key in ("ClientIdentity", "Author", "Identity"):
        who = data.get(key)
        if isinstance(who, str) and who:
            actor["userId"] = who
            break
    for key, field in (("ClientIdentity", "identity"), ("Author", "author")):
        who = data.get(key)
        if isinstance(who, str) and who:
            actor[field] = who
    return Event(PREFIX + event_type, data, actor)


def _attributes(value: object) -> dict[str, Any]:
    if not isinstance(value, str) or not value or value == "{}":
        return {}
    try:
        parsed = jsoncodec.loads(value.encode("utf-8", "surrogatepass"))
    except jsoncodec.JSONError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def answer(event: Event, decision: Decision) -> tuple[int, bytes]:
    """The HTTP status and body for a decision on ``event``."""
    if decision.action == "deny":
        status = decision.status
        if status is None or not 400 <= status <= 599:
            status = DENY_STATUS
        return status, jsoncodec.dumps({"message": decision.message or ""})
    data = decision.data
    if not decision.modified_by or data is None:
        return 200, _ALLOW
    changes: dict[str, Any] = {}
    for key, field in MODIFIABLE.items():
        if key not in data:
            continue
        value = to_json(data[key])
        if value == to_json(event.data.get(key)):
            continue
        if key == "attributes":
            changes[field] = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        elif isinstance(value, str):
            changes[field] = value
    return 200, jsoncodec.dumps(changes)


def fail_safe(action: FailSafe) -> Decision:
    """The decision answered on internal errors and deadline overruns: the service's
    ``--default-action`` (a deny rejects the action with 403)."""
    if action == "deny":
        return Decision("deny", FAIL_SAFE_DENY_MESSAGE, degraded=True)
    return Decision("allow", degraded=True)
