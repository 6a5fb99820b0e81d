"""Tests for receiver.runtime.rollout and the rollout/expiry semantics of the evaluator:
the pinned bucket formula, its stability and monotony, the enforced share, which way a
matched rule goes (and where that is recorded), pins, and ``expires`` against ``now``."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from receiver.dsl.values import Timestamp
from receiver.runtime.decide import decide
from receiver.runtime.decision import Decision, RolloutResult
from receiver.runtime.explain import render_explanation
from receiver.runtime.payload import Event
from receiver.runtime.policyset import PolicySet, load_policies
from receiver.runtime.rollout import bucket, enforces, threshold
from receiver.runtime.trace import Tracer

EVENT = "message.shouldCreate"
NOW = Timestamp(1_769_860_800.0)  # 2026-01-31T12:00:00Z
keys = st.text(max_size=40)
rule_ids = st.from_regex(r"[a-z][a-z0-9-]{0,15}/[a-z][a-z0-9-]{0,15}", fullmatch=True)


def reference_bucket(rule_id: str, key: str) -> int:
    """The formula exactly as the README pins it."""
    digest = hashlib.sha256(f"{rule_id}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10000


# -- the bucket ---------------------------------------------------------------------------


def test_the_bucket_of_a_known_key_is_pinned() -> None:
    # Other tools reproduce these from the README's formula; a change here moves every key.
    assert bucket("links/x", "user-42") == 3310
    assert bucket("demo/block-word", "u1") == 655


@given(rule_ids, keys)
def test_the_bucket_is_the_documented_formula(rule_id: str, key: str) -> None:
    assert bucket(rule_id, key) == reference_bucket(rule_id, key)
    assert 0 <= bucket(rule_id, key) < 10_000


@given(rule_ids, keys, st.floats(0, 100), st.floats(0, 100))
def test_a_key_enforced_at_p_percent_is_enforced_at_every_higher_percent(
    rule_id: str, key: str, p: float, q: float
) -> None:
    low, high = sorted((p, q))
    found = bucket(rule_id, key)
    if enforces(found, low):
        assert enforces(found, high)


def test_zero_percent_enforces_for_no_key_and_100_percent_for_every_key() -> None:
    assert threshold(0) == 0 and threshold(100) == 10_000
    assert not any(enforces(b, 0) for b in range(10_000))
    assert all(enforces(b, 100) for b in range(10_000))


@settings(max_examples=10, deadline=None)
@given(st.lists(st.tuples(rule_ids, keys), min_size=1, max_size=20))
def test_the_bucket_is_the_same_in_a_fresh_process_with_another_hash_seed(
    pairs: list[tuple[str, str]],
) -> None:
    script = (
        "import json, sys\n"
        "from receiver.runtime.rollout import bucket\n"
        "pairs = json.load(sys.stdin)\n"
        "print(json.dumps([bucket(r, k) for r, k in pairs]))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": str(random.randrange(1, 2**32))}
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(pairs),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert json.loads(done.stdout) == [bucket(r, k) for r, k in pairs]


@pytest.mark.parametrize("percent", [0.5, 10, 25, 50, 90])
def test_over_20000_random_keys_the_enforced_share_is_close_to_the_percentage(
    percent: float,
) -> None:
    generator = random.Random(percent)
    count = 20_000
    enforced = sum(
        enforces(bucket("p/r", f"user-{generator.getrandbits(64):x}"), percent)
        for _ in range(count)
    )
    # 1 percentage point is about 4.5 standard deviations at 50% (and more elsewhere).
    assert abs(enforced / count * 100 - percent) < 1.0


def test_rules_roll_out_independently() -> None:
    users = [f"user-{n}" for n in range(4000)]
    first = {u for u in users if enforces(bucket("p/a", u), 50)}
    second = {u for u in users if enforces(bucket("p/b", u), 50)}
    # Independent halves overlap on about a quarter; the same half would overlap on half.
    assert 0.2 < len(first & second) / len(users) < 0.3


# -- the evaluator: which way a matched rule goes ------------------------------------------


def load(tmp_path: Path, *rules: dict[str, Any], on_error: str = "skip") -> PolicySet:
    for rule in rules:
        rule.setdefault("events", EVENT)
    doc = {"policy": "p", "on_error": on_error, "rules": list(rules)}
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return load_policies([tmp_path])


def run(
    policies: PolicySet,
    data: dict[str, Any] | None = None,
    user: str | None = "u1",
    *,
    now: Timestamp = NOW,
    pins: dict[str, bool] | None = None,
    traced: bool = False,
) -> Decision:
    actor = {"userId": user} if user is not None else {}
    event = Event(EVENT, data or {}, actor)
    tracer = Tracer(policies.traced_tree(EVENT)) if traced else None
    return decide(policies, event, now, tracer=tracer, rollout_pins=pins).decision


def users_by_way(rule_id: str, percent: float) -> tuple[str, str]:
    """A user inside the rollout and one outside it."""
    inside = next(f"u{n}" for n in range(1000) if enforces(bucket(rule_id, f"u{n}"), percent))
    outside = next(f"u{n}" for n in range(1000) if not enforces(bucket(rule_id, f"u{n}"), percent))
    return inside, outside


def test_a_rollout_rule_enforces_inside_the_rollout_and_is_shadow_outside(tmp_path: Path) -> None:
    policies = load(tmp_path, {"id": "r", "action": "deny", "message": "no", "rollout": "30%"})
    inside, outside = users_by_way("p/r", 30)
    enforced = run(policies, user=inside)
    assert enforced.response() == {"action": "deny", "message": "no"}
    assert enforced.shadow == []
    assert enforced.rollouts == [RolloutResult("p/r", 30.0, bucket("p/r", inside), True)]
    shadowed = run(policies, user=outside)
    assert shadowed.response() == {"action": "allow"}
    assert [(s.rule, s.action, s.message) for s in shadowed.shadow] == [("p/r", "deny", "no")]
    assert shadowed.rollouts == [RolloutResult("p/r", 30.0, bucket("p/r", outside), False)]
    assert shadowed.summary()["rollout"] == [
        {"rule": "p/r", "bucket": bucket("p/r", outside), "enforced": False}
    ]
    json.dumps(shadowed.summary())  # the record stays JSON (receiver diff compares it)


def test_a_rule_that_does_not_match_records_no_rollout(tmp_path: Path) -> None:
    policies = load(tmp_path, {"id": "r", "action": "deny", "when": "false", "rollout": 100})
    decision = run(policies)
    assert decision.rollouts == []
    assert "rollout" not in decision.summary()


def test_a_null_key_is_outside_the_rollout(tmp_path: Path) -> None:
    policies = load(tmp_path, {"id": "r", "action": "deny", "rollout": "100%"})
    decision = run(policies, user=None)
    assert decision.action == "allow"
    assert decision.rollouts == [RolloutResult("p/r", 100.0, None, False)]


def test_the_rollout_key_expression_picks_what_is_hashed(tmp_path: Path) -> None:
    policies = load(
        tmp_path,
        {"id": "r", "action": "deny", "rollout": "40%", "rollout_key": "data.channelId"},
    )
    inside, outside = users_by_way("p/r", 40)
    for user in ("a", "b", "c"):  # the user does not matter, the channel does
        assert run(policies, {"channelId": inside}, user=user).action == "deny"
        assert run(policies, {"channelId": outside}, user=user).action == "allow"


def test_a_number_key_is_hashed_in_its_text_form(tmp_path: Path) -> None:
    policies = load(
        tmp_path, {"id": "r", "action": "deny", "rollout": "50%", "rollout_key": "data.n"}
    )
    assert run(policies, {"n": 42}).rollouts[0].bucket == bucket("p/r", "42")
    assert run(policies, {"n": 42.0}).rollouts[0].bucket == bucket("p/r", "42")


def test_a_rollout_modify_rule_changes_the_data_only_inside_the_rollout(tmp_path: Path) -> None:
    rule = {"id": "r", "action": "modify", "set": {"data.flag": "true"}, "rollout": "50%"}
    policies = load(tmp_path, rule)
    inside, outside = users_by_way("p/r", 50)
    assert run(policies, {"x": 1}, user=inside).response() == {
        "action": "allow",
        "data": {"x": 1, "flag": True},
    }
    shadowed = run(policies, {"x": 1}, user=outside)
    assert shadowed.response() == {"action": "allow"}
    assert shadowed.shadow[0].changes == {"data.flag": True}


def test_a_failing_key_is_a_rule_failure_and_the_rule_acts_as_shadow(tmp_path: Path) -> None:
    policies = load(
        tmp_path,
        {"id": "r", "action": "deny", "rollout": "100%", "rollout_key": "data.n + 1"},
        on_error="deny",
    )
    decision = run(policies, {"n": "text"})
    assert decision.action == "allow"
    assert [(e.rule, e.shadow) for e in decision.errors] == [("p/r", True)]
    assert decision.rollouts == [RolloutResult("p/r", 100.0, None, False)]
    traced = run(policies, {"n": "text"}, traced=True)
    text = render_explanation(policies.tree(EVENT), traced)
    assert "deny: matched; rollout 100%: its key data.n + 1 failed -> shadow" in text


def test_on_error_deny_denies_only_for_keys_inside_the_rollout(tmp_path: Path) -> None:
    rule = {"id": "r", "action": "deny", "when": "data.n + 1 > 0", "rollout": "50%"}
    policies = load(tmp_path, rule, on_error="deny")
    inside, outside = users_by_way("p/r", 50)
    inside_decision = run(policies, {"n": "text"}, user=inside)
    assert inside_decision.by_error
    assert [(e.rule, e.shadow) for e in inside_decision.errors] == [("p/r", False)]
    outside_decision = run(policies, {"n": "text"}, user=outside)
    assert outside_decision.action == "allow"
    assert [(e.rule, e.shadow) for e in outside_decision.errors] == [("p/r", True)]


def test_pins_choose_the_way_whatever_the_bucket(tmp_path: Path) -> None:
    policies = load(tmp_path, {"id": "r", "action": "deny", "rollout": "0%"})
    pinned = run(policies, pins={"p/r": True})
    assert pinned.action == "deny"
    assert pinned.rollouts == [RolloutResult("p/r", 0.0, bucket("p/r", "u1"), True, pinned=True)]
    policies = load(tmp_path, {"id": "r", "action": "deny", "rollout": "100%"})
    assert run(policies, pins={"p/r": False}).action == "allow"
    assert run(policies, pins={"p/other": False}).action == "deny"


def test_traced_and_untraced_evaluations_go_the_same_way(tmp_path: Path) -> None:
    policies = load(
        tmp_path,
        {"id": "a", "action": "deny", "when": "data.x == 1", "rollout": "50%"},
        {"id": "b", "action": "modify", "set": {"data.y": "2"}, "rollout": "20%"},
        {"id": "c", "action": "deny", "rollout": "70%", "rollout_key": "data.k"},
    )
    for n in range(200):
        data = {"x": n % 2, "k": f"k{n}"}
        plain = run(policies, data, user=f"u{n}")
        traced = run(policies, data, user=f"u{n}", traced=True)
        assert plain.summary() == traced.summary()


def test_explain_shows_the_way_on_the_rule_line(tmp_path: Path) -> None:
    policies = load(tmp_path, {"id": "r", "action": "deny", "rollout": "10%"})
    inside, outside = users_by_way("p/r", 10)
    for user, way in ((inside, "enforced"), (outside, "shadow")):
        decision = run(policies, user=user, traced=True)
        text = render_explanation(policies.tree(EVENT), decision)
        shown = f"{bucket('p/r', user) / 100:05.2f}%"
        assert f"  1. p/r  deny: matched; rollout 10%: bucket {shown} -> {way}" in text
    decision = run(policies, user=None, traced=True)
    text = render_explanation(policies.tree(EVENT), decision)
    assert "rollout 10%: no key (actor.userId is null) -> shadow" in text
    decision = run(policies, pins={"p/r": True}, traced=True)
    text = render_explanation(policies.tree(EVENT), decision)
    assert "-> enforced (pinned by the test case)" in text


# -- expires --------------------------------------------------------------------------------


@pytest.mark.parametrize("gated", [False, True])
def test_a_rule_is_off_from_its_expiry_instant_on(tmp_path: Path, gated: bool) -> None:
    when = {"when": 'data.channelId == "c1"'} if gated else {}
    policies = load(
        tmp_path,
        {"id": "r", "action": "deny", "expires": "2026-01-31T12:00:00Z", **when},
        {"id": "s", "action": "deny", "when": 'data.channelId == "c2"'},  # a switch when gated
    )
    data = {"channelId": "c1"}
    assert run(policies, data, now=Timestamp(NOW.epoch - 0.001)).action == "deny"
    assert run(policies, data, now=NOW).action == "allow"
    assert run(policies, data, now=Timestamp(NOW.epoch + 86_400)).action == "allow"


def test_explain_shows_an_expired_rule_as_expired(tmp_path: Path) -> None:
    policies = load(
        tmp_path, {"id": "r", "action": "deny", "when": "true", "expires": "2026-01-01"}
    )
    decision = run(policies, traced=True)
    text = render_explanation(policies.tree(EVENT), decision)
    assert "  1. p/r  deny: expired at 2026-01-01T00:00:00Z (skipped)" in text
    assert decision.action == "allow"


def test_an_expired_rollout_rule_records_no_rollout(tmp_path: Path) -> None:
    policies = load(
        tmp_path, {"id": "r", "action": "deny", "rollout": "100%", "expires": "2026-01-01"}
    )
    decision = run(policies)
    assert (decision.action, decision.rollouts) == ("allow", [])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def by_data_k(tmp_path_factory: pytest.TempPathFactory) -> PolicySet:
    folder = tmp_path_factory.mktemp("by-data-k")
    return load(folder, {"id": "r", "action": "deny", "rollout": "50%", "rollout_key": "data.k"})


@settings(max_examples=100, deadline=None)
@given(value=json_values)
def test_any_key_value_gives_a_way_and_never_an_error(by_data_k: PolicySet, value: Any) -> None:
    """Keys come from requests: every JSON value (lone surrogates, NaN, nested maps) is
    hashed in its text form or, when null, is outside the rollout."""
    decision = run(by_data_k, {"k": value})
    assert decision.errors == []
    (result,) = decision.rollouts
    assert (result.bucket is None) == (value is None)
    assert decision.action == ("deny" if result.enforced else "allow")
