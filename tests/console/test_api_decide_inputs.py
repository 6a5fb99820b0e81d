"""Whatever a page or a tool sends to /api/decide, the answer is never a 500 (or the
503 of an internal error): a decision, or 400/422 saying what is wrong."""

from __future__ import annotations

import json

from consolecraft import client, payload, shipped_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CONSOLE = client()
FILES = shipped_files()
EVENTS = ["message.shouldCreate", "post.shouldCreate", "channel.shouldJoin", "x", ""]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=15,
)

payloads = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"eventName": st.sampled_from(EVENTS), "data": json_values, "actor": json_values}
    ),
    st.fixed_dictionaries(
        {
            "eventName": st.just("message.shouldCreate"),
            "data": st.fixed_dictionaries({"text": st.text(max_size=300)}),
            "actor": st.fixed_dictionaries({"userId": st.text(max_size=10)}),
        }
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body_payload=payloads,
    users=st.one_of(st.none(), st.text(max_size=40), json_values),
    now=st.one_of(st.none(), st.text(max_size=25), st.just("2026-11-22T12:00:00Z"), json_values),
)
def test_no_decide_request_gets_a_500(body_payload: object, users: object, now: object) -> None:
    body = {"files": FILES, "payload": body_payload, "users": users, "now": now}
    answer = CONSOLE.post("/api/decide", content=json.dumps(body).encode())
    assert answer.status_code in (200, 400), (answer.status_code, answer.text[:300])
    out = answer.json()
    if answer.status_code == 200:
        assert out["answer"]["action"] in ("allow", "deny")
    else:
        assert out["error"] and out["field"] in ("payload", "users", "now")


def test_the_property_s_fixed_payload_decides() -> None:
    body = {"files": FILES, "payload": payload("message-create-plain.json")}
    assert CONSOLE.post("/api/decide", json=body).status_code == 200
