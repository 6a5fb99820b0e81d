"""How a replayed answer compares with the recorded one."""

from __future__ import annotations

from typing import Any

import pytest

from receiver.replay.answers import change, comparable, recorded_view

ALLOW: dict[str, Any] = {"action": "allow", "message": None, "rule": None, "modified_by": []}
DENY: dict[str, Any] = {"action": "deny", "message": "no", "rule": "p/r", "modified_by": []}
CENSORED = ALLOW | {"modified_by": ["p/censor"], "data": {"text": "****"}}

CASES = [
    ("same allow", ALLOW, ALLOW, None),
    ("same deny by another rule", DENY, DENY | {"rule": "p/other"}, None),
    ("allow to deny", ALLOW, DENY, "allow_to_deny"),
    ("deny to allow", DENY, ALLOW, "deny_to_allow"),
    ("message", DENY, DENY | {"message": "nope"}, "message_changed"),
    ("data changed", CENSORED, CENSORED | {"data": {"text": "#@!"}}, "data_changed"),
    ("data no longer changed", CENSORED, ALLOW, "data_changed"),
    ("data newly changed", ALLOW, CENSORED, "data_changed"),
    ("same data", CENSORED, CENSORED, None),
    # A decision-log line knows which rules modified, not the data after the changes.
    ("log line, same modifiers", ALLOW | {"modified_by": ["p/censor"]}, CENSORED, None),
    ("log line, other modifiers", ALLOW | {"modified_by": ["p/x"]}, CENSORED, "data_changed"),
]


@pytest.mark.parametrize(("recorded", "replayed", "kind"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_the_kind_of_change(recorded: Any, replayed: Any, kind: str | None) -> None:
    assert change(recorded, replayed) == kind


def test_a_fail_safe_answer_is_not_compared_and_says_why() -> None:
    degraded = ALLOW | {"degraded": True, "degraded_reason": "deadline"}
    assert not comparable(degraded)
    assert comparable(DENY)
    assert recorded_view(degraded) == {
        "action": "allow", "rule": None, "message": None, "degraded": True,
        "degraded_reason": "deadline",
    }  # fmt: skip
    assert recorded_view(DENY) == {"action": "deny", "rule": "p/r", "message": "no"}
