"""How two answers differ: the same, or which kind of change. The one classification of
``receiver replay`` (a replayed answer against the recorded one) and ``receiver diff``
(NEW against OLD, and OLD against the recorded answer).

The edge of replay. Consumes two decisions in the shape of
:func:`~receiver.observe.records.record_decision` (a recorded one, read from a record, or
a :class:`~receiver.runtime.decision.Decision` seen through :func:`answer_view`); produces
the kind of change (:data:`KINDS`, the names ``receiver diff --fail-on`` reads), or
``None`` when the platform would have got the same answer, and the short view of the
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

from receiver.dsl.values import to_json
from receiver.runtime.decision import Decision

Kind = Literal["allow_to_deny", "deny_to_allow", "message_changed", "data_changed"]
KINDS: Final[tuple[Kind, ...]] = ("allow_to_deny", "deny_to_allow", "message_changed",
                                  "data_changed")  # fmt: skip
KIND_TITLES: Final[dict[Kind, str]] = {
    "allow_to_deny": "allow -> deny",
    "deny_to_allow": "deny -> allow",
    "message_changed": "deny, message changed",
    "data_changed": "allow, data changed",
}


def comparable(recorded: Mapping[str, Any]) -> bool:
    """Whether the recorded answer came from the policies (not the fail-safe answer)."""
    return not recorded.get("degraded")


def answer_view(decision: Decision) -> dict[str, Any]:
    """What :func:`change` compares of a decision: its answer (the action, a deny's message,
    status and reason code, an allow's data after its changes) and the modifying rules."""
    view: dict[str, Any] = {
        "action": decision.action,
        "message": decision.message,
        "modified_by": decision.modified_by,
    }
    if decision.status is not None:
        view["status"] = decision.status
    if decision.reason_code is not None:
        view["reason_code"] = decision.reason_code
    if decision.action == "allow" and decision.modified_by and decision.data is not None:
        view["data"] = to_json(decision.data)
    return view


def change(recorded: Mapping[str, Any], replayed: Mapping[str, Any]) -> Kind | None:
    """How the replayed answer differs from the recorded one (None: the same answer)."""
    before, after = recorded.get("action"), replayed.get("action")
    if before != after:
        return "allow_to_deny" if after == "deny" else "deny_to_allow"
    if after == "deny":
        same = (recorded.get("message") or "", recorded.get("status"),
                recorded.get("reason_code")) == (replayed.get("message") or "",
                replayed.get("status"), replayed.get("reason_code"))  # fmt: skip
        return None if same else "message_changed"
    if "data" in recorded:
        return None if recorded["data"] == replayed.get("data") else "data_changed"
    # No data recorded: the allow left it as it was, or (a decision-log line) the data
    # after the changes is unknown, and which rules modified it is all there is to compare.
    if recorded.get("modified_by"):
        same = set(recorded["modified_by"]) == set(replayed.get("modified_by") or ())
        return None if same else "data_changed"
    return None if "data" not in replayed else "data_changed"


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
