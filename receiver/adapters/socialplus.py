"""social.plus pre-hooks: request body to :class:`~receiver.runtime.payload.Event`, decision to
body.

The adapter stage, around stage 4 (run). Consumes a pre-hook's request bytes; produces an
:class:`~receiver.runtime.payload.Event` (:func:`parse_request`), and from a
:class:`~receiver.runtime.decision.Decision` the response body (:func:`response_body`);
:func:`fail_safe` produces the decision that answers when no decision could be made.

Request ``{"eventName", "data", "actor"}``; response ``{"action": "allow"}``,
``{"action": "allow", "data": {...}}`` or ``{"action": "deny", "message": "..."}``
(docs/protocols.md A.2, A.4). A fail-safe answer is the platform's ``defaultAction``
without data or with a short message.
"""

from __future__ import annotations

from typing import Literal

from receiver.errors import PayloadError
from receiver.runtime.decision import Decision
from receiver.runtime.payload import Event, parse_event
from receiver.text import jsoncodec

FailSafe = Literal["allow", "deny"]
FAIL_SAFE_DENY_MESSAGE = "This action could not be checked right now. Please try again later."


def parse_request(body: bytes) -> Event:
    try:
        payload = jsoncodec.loads(body)
    except jsoncodec.JSONError as err:
        raise PayloadError(str(err)) from None
    return parse_event(payload)


_ALLOW = jsoncodec.dumps({"action": "allow"})  # the usual answer, encoded once


def response_body(decision: Decision) -> bytes:
    if decision.action == "allow" and not decision.modified_by:
        return _ALLOW
    return jsoncodec.dumps(decision.response())


def fail_safe(action: FailSafe) -> Decision:
    if action == "deny":
        return Decision("deny", FAIL_SAFE_DENY_MESSAGE, degraded=True)
    return Decision("allow", degraded=True)
