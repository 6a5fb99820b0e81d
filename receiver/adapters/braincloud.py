"""brainCloud API hooks: bridge envelope to :class:`~receiver.runtime.payload.Event`, decision to
answer.

The adapter stage, after stage 4 (run). Consumes the bridge's request bytes
(:func:`parse_request`: a :class:`HookCall`, its hook type and its
:class:`~receiver.runtime.payload.Event`) and a
:class:`~receiver.runtime.decision.Decision`; produces the hook's answer (:func:`answer`,
:func:`response_body`), or the fail-safe decision of a hook type (:func:`fail_safe`).

brainCloud never calls a URL for an API hook: a Cloud Code script (the bridge,
``bridge/braincloud/ReceiverHook.ccjs``) forwards the hook's ``data`` object in an
envelope and returns the receiver's answer as the hook's own return value
(docs/protocols.md B.6, B.7 #1). The envelope, version 1::

    {"version": 1, "hookType": "pre" | "post" | "postFail", "service": "entity",
     "operation": "READ", "profileId": "...", "message": ..., "parms": {...},
     "callingMessage": ..., "errorData": {"reasonCode": ..., "errorMessage": ...}}

becomes the event ``braincloud.<hookType>.<service>.<operation>`` whose ``data`` is
the envelope as a map (``callingMessage`` unwrapped from the ``{service, operation,
data}`` form, B.7 #6) and whose actor is ``{"userId": profileId}``.

Answers follow brainCloud's own return contract (B.1-B.3):

    hook       allow                    modify                                  deny
    pre        {"status": 200}          {"status": 200, "messageOverride": M}   error object
    post       null (result unchanged)  {"status": 200, "data": M}              error object
    postFail   null (error goes on)     {"status": 200, "data": M} (recovery)   error object

where ``M`` is ``data.message`` after the policies' changes and the error object is
``{"status": S, "reasonCode": R, "errorMessage": text}`` with ``S``/``R`` from the deny
rule's ``status``/``reason_code`` (default 403 / 50000). A deny caused by a failing
rule under ``on_error: deny`` and the fail-safe deny answer use 503 / 50001.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, Literal

from receiver.dsl.events import braincloud_event
from receiver.dsl.values import to_json
from receiver.errors import PayloadError
from receiver.runtime.decision import Decision
from receiver.runtime.payload import Event
from receiver.text import jsoncodec

HookType = Literal["pre", "post", "postFail"]
HOOK_TYPES: Final[tuple[HookType, ...]] = ("pre", "post", "postFail")
FailSafe = Literal["allow", "deny"]

ENVELOPE_VERSION: Final = 1
SUPPORTED_VERSIONS: Final = frozenset({1})

DENY_STATUS: Final = 403
DENY_REASON_CODE: Final = 50000
UNAVAILABLE_STATUS: Final = 503
UNAVAILABLE_REASON_CODE: Final = 50001
FAIL_SAFE_DENY_MESSAGE: Final = (
    "This action could not be checked right now. Please try again later."
)

_NAME = re.compile(r"[A-Za-z0-9_-]+\Z")
# Spellings of the hook type people copy from the portal ("Pre", "PostFail", "post-fail").
_HOOK_ALIASES: Final[dict[str, HookType]] = {
    "pre": "pre",
    "post": "post",
    "postfail": "postFail",
    "post-fail": "postFail",
    "post_fail": "postFail",
}


class EnvelopeError(PayloadError):
    """The body is not a usable bridge envelope; ``reason`` is the metrics label."""

    def __init__(self, message: str, reason: str = "malformed") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class HookCall:
    """One forwarded hook: its type, the envelope version and the event to decide."""

    hook_type: HookType
    version: int
    event: Event


def parse_request(body: bytes) -> HookCall:
    try:
        payload = jsoncodec.loads(body)
    except jsoncodec.JSONError as err:
        raise EnvelopeError(str(err)) from None
    return parse_envelope(payload)


def is_envelope(payload: Any) -> bool:
    """Whether a parsed JSON document looks like a bridge envelope (not a social.plus event)."""
    return isinstance(payload, dict) and "hookType" in payload and "eventName" not in payload


def parse_envelope(payload: Any) -> HookCall:
    if not isinstance(payload, dict):
        raise EnvelopeError("the envelope must be a JSON object")
    version = payload.get("version", ENVELOPE_VERSION)
    if not isinstance(version, int) or isinstance(version, bool):
        raise EnvelopeError("'version' must be a whole number (this receiver speaks version 1)")
    if version not in SUPPORTED_VERSIONS:
        raise EnvelopeError(
            f"unsupported envelope version {version}: this receiver speaks version "
            f"{', '.join(str(v) for v in sorted(SUPPORTED_VERSIONS))}; use the bridge script "
            "shipped with this receiver (bridge/braincloud/ReceiverHook.ccjs)",
            "version",
        )
    hook_type = _hook_type(payload.get("hookType"))
    service = _name(payload, "service", "entity")
    operation = _name(payload, "operation", "READ")
    message = payload.get("message")
    if hook_type == "pre":
        if message is None:
            message = {}
        elif not isinstance(message, dict):
            raise EnvelopeError("a pre-hook's 'message' (the call's parameters) must be an object")
    parms = payload.get("parms")
    if parms is None:
        parms = {}
    elif not isinstance(parms, dict):
        raise EnvelopeError("'parms' (the hook's parameters) must be an object")
    error_data = payload.get("errorData")
    if error_data is not None and not isinstance(error_data, dict):
        raise EnvelopeError("'errorData' must be an object {reasonCode, errorMessage}")
    profile_id = payload.get("profileId")
    if profile_id is not None and not isinstance(profile_id, str):
        raise EnvelopeError("'profileId' must be a string")
    data: dict[str, Any] = {
        "hookType": hook_type,
        "service": service,
        "operation": operation,
        "profileId": profile_id,
        "message": message,
        "parms": parms,
        "callingMessage": unwrap_calling_message(payload.get("callingMessage")),
        "errorData": error_data,
    }
    actor: dict[str, Any] = {"userId": profile_id} if profile_id else {}
    event = Event(braincloud_event(hook_type, service, operation), data, actor)
    return HookCall(hook_type, version, event)


def unwrap_calling_message(value: Any) -> Any:
    """The original request parameters: the inner ``data`` of the wrapped form (B.7 #6)."""
    if (
        isinstance(value, dict)
        and {"service", "operation", "data"} <= value.keys()
        and isinstance(value["service"], str)
        and isinstance(value["operation"], str)
    ):
        return value["data"]
    return value


def _hook_type(value: Any) -> HookType:
    if isinstance(value, str):
        found = _HOOK_ALIASES.get(value.lower())
        if found is not None:
            return found
    shown = "missing" if value is None else repr(value)
    raise EnvelopeError(f"'hookType' must be pre, post or postFail (got {shown})")


def _name(payload: dict[str, Any], key: str, example: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not _NAME.match(value):
        raise EnvelopeError(
            f"'{key}' must be the brainCloud {key} name as sent on the wire, "
            f'e.g. "{example}" (letters, digits, _ and -)'
        )
    return value


def error_object(status: int, reason_code: int, message: str) -> dict[str, Any]:
    return {"status": status, "reasonCode": reason_code, "errorMessage": message}


def answer(hook_type: HookType, decision: Decision) -> Any:
    """The hook's return value for a decision (a JSON value; ``None`` is ``null``)."""
    if decision.action == "deny":
        if decision.by_error:
            status, reason = UNAVAILABLE_STATUS, UNAVAILABLE_REASON_CODE
        else:
            status = decision.status if decision.status is not None else DENY_STATUS
            reason = decision.reason_code if decision.reason_code is not None else DENY_REASON_CODE
        return error_object(status, reason, decision.message or "")
    modified = bool(decision.modified_by) and decision.data is not None
    message = to_json(decision.data.get("message")) if decision.data is not None else None
    if hook_type == "pre":
        if modified:
            return {"status": 200, "messageOverride": message}
        return {"status": 200}
    if modified:
        return {"status": 200, "data": message}
    return None


def response_body(hook_type: HookType, decision: Decision) -> bytes:
    return jsoncodec.dumps(answer(hook_type, decision))


def fail_safe(hook_type: HookType, pre_action: FailSafe = "allow") -> Decision:
    """The decision answered on internal errors and deadline overruns.

    Post and post-fail hooks always leave the call's own outcome alone (``null``); a
    pre-hook lets the call through unless ``pre_action`` is ``deny``.
    """
    if hook_type == "pre" and pre_action == "deny":
        return Decision(
            "deny",
            FAIL_SAFE_DENY_MESSAGE,
            degraded=True,
            status=UNAVAILABLE_STATUS,
            reason_code=UNAVAILABLE_REASON_CODE,
        )
    return Decision("allow", degraded=True)
