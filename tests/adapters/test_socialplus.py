"""The social.plus response body (receiver/adapters/socialplus.py): the pinned JSON of
every kind of decision, the usual allow included (it is encoded once, at import)."""

from __future__ import annotations

import json

import pytest

from receiver.adapters import socialplus
from receiver.runtime.decision import Decision


@pytest.mark.parametrize(
    ("decision", "expected"),
    [
        (Decision("allow"), {"action": "allow"}),
        (Decision("allow", rule="staff/allow"), {"action": "allow"}),
        (
            Decision("allow", data={"text": "hi ****"}, modified_by=["p/censor"]),
            {"action": "allow", "data": {"text": "hi ****"}},
        ),
        (Decision("allow", modified_by=["p/censor"]), {"action": "allow"}),  # no data kept
        (Decision("deny", "Not here."), {"action": "deny", "message": "Not here."}),
        (Decision("deny"), {"action": "deny", "message": ""}),
    ],
)
def test_each_decision_has_the_pinned_body(decision: Decision, expected: object) -> None:
    body = socialplus.response_body(decision)
    assert json.loads(body) == expected
    assert body == json.dumps(expected, separators=(",", ":")).encode()  # compact JSON
