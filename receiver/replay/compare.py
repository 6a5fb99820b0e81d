"""Comparing a replayed answer with the recorded one: the same, or which kind of change.

The edge of replay (``receiver replay``'s output and summary). Consumes two decisions in
the shape of :func:`~receiver.observe.records.record_decision` (the recorded one, read
from a record, and the replayed one); produces the kind of change (:data:`CHANGE_KINDS`),
or ``None`` when the platform would have got the same answer, and the short view of the
recorded decision that an output line carries (:func:`recorded_view`).

The answer is what the platform acts on: the action, a deny's message, and an allow's
data after its changes. The deciding rule is not part of it: the same answer given by
another rule is the same answer (the diff's per-rule table shows such moves). A recorded
answer that was a fail-safe one (``degraded``: a deadline, an internal error, a service
not ready) says nothing about the policies, so it is not compared (:func:`comparable`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal

ChangeKind = Literal["allow_to_deny", "deny_to_allow", "message", "data"]
CHANGE_KINDS: Final[tuple[ChangeKind, ...]] = ("allow_to_deny", "deny_to_allow", "message", "data")
CHANGE_LABELS: Final[dict[ChangeKind, str]] = {
    "allow_to_deny": "allow -> deny",
    "deny_to_allow": "deny -> allow",
    "message": "deny message changed",
    "data": "allowed data changed",
}


def comparable(recorded: Mapping[str, Any]) -> bool:
    """Whether the recorded answer came from the policies (not the fail-safe answer)."""
    return not recorded.get("degraded")


def change(recorded: Mapping[str, Any], replayed: Mapping[str, Any]) -> ChangeKind | None:
    """How the replayed answer differs from the recorded one (None: the same answer)."""
    before, after = recorded.get("action"), replayed.get("action")
    if before != after:
        return "allow_to_deny" if after == "deny" else "deny_to_allow"
    if after == "deny":
        return None if recorded.get("message") == replayed.get("message") else "message"
    if "data" in recorded:
        return None if recorded["data"] == replayed.get("data") else "data"
    # No data recorded: the allow left it as it was, or (a decision-log line) the data
    # after the changes is unknown, and which rules modified it is all there is to compare.
    if recorded.get("modified_by"):
        same = set(recorded["modified_by"]) == set(replayed.get("modified_by") or ())
        return None if same else "data"
    return None if "data" not in replayed else "data"


def recorded_view(recorded: Mapping[str, Any]) -> dict[str, Any]:
    """What an output line says of the recorded decision: action, rule and message (and
    the fail-safe's reason when the answer was one)."""
    view = {
        "action": recorded.get("action"),
        "rule": recorded.get("rule"),
        "message": recorded.get("message"),
    }
    if recorded.get("degraded"):
        view["degraded"] = True
        view["degraded_reason"] = recorded.get("degraded_reason")
    return view
