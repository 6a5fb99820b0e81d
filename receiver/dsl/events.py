"""Event names the receiver knows, and matching rules' ``events`` patterns against them.

Below the stages (dsl), used by check, compile, the runtime's policy set, the adapters and
the metrics. Consumes event names and ``events`` patterns; produces whether a pattern
matches or covers a name (:func:`matches`, :func:`covers`), the brainCloud event names
(:func:`braincloud_event`) and the message for an unknown one (:func:`event_problem`).

The 12 documented social.plus pre-hook events (docs/protocols.md A.3), Stream's
``stream.message.new`` (C.1) and Twilio's pre-action ``twilio.<EventType>`` events (D.1).
Patterns are exact names or shell-style globs (``message.*``, ``*.shouldFlag``,
``twilio.onMessage*``, ``*essage*`` for every message event of every platform), matched
case-sensitively.
"""

from __future__ import annotations

import fnmatch

from receiver.text.diagnostics import did_you_mean

SOCIALPLUS_EVENTS: tuple[str, ...] = (
    "message.shouldCreate",
    "message.shouldUpdate",
    "message.shouldFlag",
    "message.shouldUnflag",
    "channel.shouldCreate",
    "channel.shouldJoin",
    "channel.shouldLeave",
    "channel.shouldUpdate",
    "post.shouldCreate",
    "post.shouldUpdate",
    "post.shouldDelete",
    "post.shouldFlag",
)

# Stream Chat's one pre-action hook, "Before Message Send" (docs/protocols.md C.1).
STREAM_EVENTS: tuple[str, ...] = ("stream.message.new",)

# Twilio Conversations' pre-action webhooks, by EventType (docs/protocols.md D.1).
TWILIO_EVENTS: tuple[str, ...] = (
    "twilio.onMessageAdd",
    "twilio.onMessageUpdate",
    "twilio.onMessageRemove",
    "twilio.onConversationAdd",
    "twilio.onConversationUpdate",
    "twilio.onConversationRemove",
    "twilio.onParticipantAdd",
    "twilio.onParticipantUpdate",
    "twilio.onParticipantRemove",
    "twilio.onUserUpdate",
)

KNOWN_EVENTS: tuple[str, ...] = SOCIALPLUS_EVENTS + STREAM_EVENTS + TWILIO_EVENTS


def is_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def matches(pattern: str, event: str) -> bool:
    """Whether an ``events`` entry applies to an event name."""
    if not is_glob(pattern):
        return pattern == event
    return fnmatch.fnmatchcase(event, pattern)


def covers(outer: str, inner: str) -> bool:
    """Whether every event matched by ``inner`` is also matched by ``outer`` (conservative)."""
    if outer == inner:
        return True
    if not is_glob(outer):
        return False
    if not is_glob(inner):
        return fnmatch.fnmatchcase(inner, outer)
    # A glob inside a glob: `message.*` is covered by `*` and by `message.*`.
    return fnmatch.fnmatchcase(inner.replace("*", "\x00").replace("?", "\x01"), outer) and (
        outer.endswith("*")
    )


# brainCloud API hooks (docs/protocols.md B) are named by hook type, service and operation:
# braincloud.pre.event.SEND, braincloud.post.entity.READ, braincloud.postFail.entity.UPDATE.
BRAINCLOUD_PREFIX = "braincloud."
BRAINCLOUD_HOOK_TYPES: tuple[str, ...] = ("pre", "post", "postFail")
BRAINCLOUD_FORM = "braincloud.<pre|post|postFail>.<service>.<OPERATION>"


def braincloud_event(hook_type: str, service: str, operation: str) -> str:
    return f"{BRAINCLOUD_PREFIX}{hook_type}.{service}.{operation}"


def braincloud_problem(pattern: str) -> str | None:
    """What is wrong with a ``braincloud.*`` event name or pattern, or None."""
    parts = pattern.split(".")
    hook_type = parts[1] if len(parts) > 1 else ""
    if hook_type and not is_glob(hook_type) and hook_type not in BRAINCLOUD_HOOK_TYPES:
        hint = did_you_mean(hook_type, BRAINCLOUD_HOOK_TYPES)
        return (
            f"'{hook_type}' is not a brainCloud hook type (pre, post or postFail){hint}; "
            f"events are named {BRAINCLOUD_FORM}"
        )
    if not is_glob(pattern) and (len(parts) != 4 or not all(parts)):
        return f"brainCloud events are named {BRAINCLOUD_FORM}, e.g. braincloud.pre.event.SEND"
    return None


def event_problem(pattern: str) -> str | None:
    """Why an ``events`` entry names no event the receiver knows (a warning), or None."""
    if pattern.startswith(BRAINCLOUD_PREFIX):
        return braincloud_problem(pattern)
    if is_glob(pattern):
        if any(matches(pattern, e) for e in KNOWN_EVENTS):
            return None
        return (
            f"the pattern '{pattern}' matches none of the known events "
            f"({', '.join(KNOWN_EVENTS[:3])}, ...)"
        )
    if pattern in KNOWN_EVENTS:
        return None
    platform = "social.plus"
    if pattern.startswith("stream."):
        platform = "Stream"
    elif pattern.startswith("twilio."):
        platform = "Twilio pre-action"
    return f"'{pattern}' is not a known {platform} event{did_you_mean(pattern, KNOWN_EVENTS)}"
