"""receiver/compile/counters.py: which counters an event feeds, reads and strikes.

(Named test_plans.py: test basenames stay unique across tests/, and
tests/counters/test_counters.py exists.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.compile.counters import EMPTY_PLAN, CounterPlan, build_plan, tree_reads
from receiver.runtime.policyset import PolicySet, load_policies

POLICY = """\
policy: c
counters:
  messages:
    events: [message.shouldCreate, "post.*"]
    key: actor.userId
    window: 60s
  texts:
    events: message.shouldCreate
    key: lower(trim(text))
    distinct: data.channelId
    when: len(trim(text)) > 0
    window: 10m
  strikes:
    decisions: [block, quiet, watch]
    key: actor.userId
    window: 24h
  channels:
    events: channel.shouldJoin
    key: data.channelId
    window: 1h
macros:
  flooding: messages > 5
rules:
  - id: block
    events: message.shouldCreate
    when: flooding
    action: deny
  - id: quiet
    events: post.shouldCreate
    when: strikes > 2
    action: deny
  - id: watch
    events: channel.shouldJoin
    when: data.x == 1
    action: deny
    mode: shadow
"""


@pytest.fixture
def policies(tmp_path: Path) -> PolicySet:
    (tmp_path / "c.yaml").write_text(POLICY, encoding="utf-8")
    return load_policies([tmp_path])


def plan_of(policies: PolicySet, event: str) -> CounterPlan:
    return build_plan(policies.counters, policies.tree(event))


def roles(plan: CounterPlan) -> dict[str, tuple[bool, bool, list[str]]]:
    return {p.id: (p.feeds, p.reads, sorted(p.strikes)) for p in plan.counters}


def test_an_event_feeds_its_event_counters_and_reads_what_its_rules_read(
    policies: PolicySet,
) -> None:
    assert roles(plan_of(policies, "message.shouldCreate")) == {
        "c/messages": (True, True, []),
        "c/texts": (True, False, []),
        "c/strikes": (False, False, ["c/block"]),
    }


def test_a_glob_in_a_counters_events_feeds_it(policies: PolicySet) -> None:
    assert roles(plan_of(policies, "post.shouldCreate")) == {
        "c/messages": (True, False, []),
        "c/strikes": (False, True, ["c/quiet"]),
    }


def test_a_shadow_rule_strikes_nothing(policies: PolicySet) -> None:
    assert roles(plan_of(policies, "channel.shouldJoin")) == {
        "c/channels": (True, False, []),
    }


def test_an_event_no_counter_involves_has_the_empty_plan(policies: PolicySet) -> None:
    plan = plan_of(policies, "channel.shouldLeave")
    assert not plan and plan.counters == () and not EMPTY_PLAN


def test_the_plan_is_for_its_trees_event(policies: PolicySet) -> None:
    assert plan_of(policies, "post.shouldCreate").event == "post.shouldCreate"


def test_tree_reads_sees_counters_read_through_macros(policies: PolicySet) -> None:
    assert tree_reads(policies.tree("message.shouldCreate")) == {"c/messages"}
    assert tree_reads(policies.tree("channel.shouldLeave")) == set()


def test_a_plain_path_key_without_distinct_or_when_is_read_straight_from_the_event(
    policies: PolicySet,
) -> None:
    by_id = {p.id: p for p in plan_of(policies, "message.shouldCreate").counters}
    assert by_id["c/messages"].direct == ("actor", ("userId",))
    assert by_id["c/strikes"].direct == ("actor", ("userId",))
    assert by_id["c/texts"].direct is None  # computed key, distinct and when


def test_each_counter_keeps_its_compiled_expressions(policies: PolicySet) -> None:
    by_id = {p.id: p for p in plan_of(policies, "message.shouldCreate").counters}
    texts = by_id["c/texts"]
    assert texts.is_distinct and texts.distinct is not None and texts.when is not None
    assert texts.window_ms == 600_000
    messages = by_id["c/messages"]
    assert not messages.is_distinct and messages.distinct is None and messages.when is None


def test_what_keys_and_conditions_repeat_is_computed_once_per_event(
    policies: PolicySet,
) -> None:
    # trim(text) appears in the key and in the condition of c/texts: one shared memo slot
    assert plan_of(policies, "message.shouldCreate").memo_size >= 1
    assert plan_of(policies, "post.shouldCreate").memo_size == 0


def test_the_policy_sets_plan_is_the_one_built_with_its_tree(policies: PolicySet) -> None:
    built = roles(plan_of(policies, "message.shouldCreate"))
    assert roles(policies.plan("message.shouldCreate")) == built
