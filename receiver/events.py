"""Event names the receiver knows, and matching rules' ``events`` patterns against them.

The 12 documented social.plus pre-hook events (protocols.md A.3). Patterns are exact
names or shell-style globs (``message.*``, ``*.shouldFlag``), matched case-sensitively.
"""

from __future__ import annotations

import fnmatch

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

KNOWN_EVENTS: tuple[str, ...] = SOCIALPLUS_EVENTS


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
