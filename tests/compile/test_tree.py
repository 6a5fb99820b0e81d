"""receiver/compile/tree.py: decision-tree data (gates, switches, dispatch) and its printing."""

from __future__ import annotations

from compile_policies import EVENT, rule, tree_of

from receiver.compile.tree import (
    ODD,
    CompiledRule,
    EventTree,
    Gate,
    Switch,
    dispatch_key,
    field_name,
    map_rules,
    render_tree,
    switches,
)
from receiver.dsl.values import Duration, Timestamp, key

TABLE = {"a": 1, key(1): 2, key(True): 3}
CHANNELS = (
    rule("a", when='data.k == "x"'),
    rule("b", when='data.k == "y"'),
    rule("c", when="data.n > 1"),
)


def test_a_field_name_joins_keys_and_list_indexes() -> None:
    assert field_name("data", ("a", 0, "b")) == "data.a[0].b"
    assert field_name("actor", ()) == "actor"


def test_a_string_in_the_table_is_its_own_key() -> None:
    assert dispatch_key("a", TABLE) == "a"


def test_numbers_and_booleans_are_filed_by_their_language_keys() -> None:
    assert dispatch_key(1.0, TABLE) == key(1)
    assert dispatch_key(True, TABLE) == key(True)
    assert dispatch_key(1, TABLE) != dispatch_key(True, TABLE)


def test_null_lists_maps_and_values_not_in_the_table_gate_no_rule() -> None:
    rejected = {repr(dispatch_key(v, TABLE)) for v in (None, [1], {"a": 1}, "zz", 2, False)}
    assert rejected == {"REJECT"}


def test_times_and_durations_need_every_rules_full_test() -> None:
    assert dispatch_key(Timestamp(0.0), TABLE) is ODD
    assert dispatch_key(Duration(1.0), TABLE) is ODD


def test_a_gate_admits_its_values_and_odd_ones_only() -> None:
    gate = Gate("data", ("k",), frozenset({"x", key(2)}), 'data.k == "x"')
    assert gate.field == "data.k"
    assert gate.admits("x") and gate.admits(2.0) and gate.admits(Timestamp(0.0))
    assert not gate.admits("y") and not gate.admits(None) and not gate.admits(True)


def test_a_switch_selects_the_branch_of_its_value_or_the_default() -> None:
    (switch,) = [s for s in tree_of(*CHANNELS).steps if isinstance(s, Switch)]
    assert [c.rule.id for c in switch.select("x")] == ["a", "c"]
    assert [c.rule.id for c in switch.select("zz")] == ["c"]
    assert [c.rule.id for c in switch.select(None)] == ["c"]


def test_a_switch_runs_every_rule_for_an_odd_value() -> None:
    (switch,) = [s for s in tree_of(*CHANNELS).steps if isinstance(s, Switch)]
    assert switch.select(Timestamp(0.0)) == switch.rules


def test_gate_of_pairs_each_rule_with_the_gate_that_indexes_it() -> None:
    pairs = [(c.rule.id, g and g.field) for c, g in tree_of(*CHANNELS).gate_of()]
    assert pairs == [("a", "data.k"), ("b", "data.k"), ("c", None)]


def test_gate_of_a_tree_without_gates_gives_none_for_every_rule() -> None:
    tree = tree_of(*CHANNELS)
    plain = EventTree(tree.event, tree.rules, tree.rules)
    assert [g for _, g in plain.gate_of()] == [None, None, None]


def test_switches_finds_nested_switches_once_each() -> None:
    tree = tree_of(
        rule("a", when='data.k == "x"'),
        rule("b", when='data.k == "y"'),
        rule("r1", when='actor.role == "m"'),
        rule("r2", when='actor.role == "n"'),
    )
    found = switches(tree.steps)
    assert len({id(s) for s in found}) == len(found)
    assert {s.field for s in found} == {"data.k", "actor.role"}


def test_map_rules_replaces_every_rule_and_keeps_what_was_shared() -> None:
    tree = tree_of(*CHANNELS)
    seen: list[str] = []

    def tag(compiled: CompiledRule) -> CompiledRule:
        seen.append(compiled.rule.id)
        return CompiledRule(compiled.rule, None, None, (), (), compiled.needs_user)

    mapped = map_rules(tree, tag)
    # each compiled rule once: a and b twice (full test, and the branch copy without the
    # gate), c once although it sits in every branch
    assert sorted(seen) == ["a", "a", "b", "b", "c"]
    assert all(c.test is None for c in mapped.rules)
    (switch,) = [s for s in mapped.steps if isinstance(s, Switch)]
    shared = switch.select("x")[-1]
    assert shared is switch.select("y")[-1] is switch.default[-1]
    assert shared in mapped.rules
    assert tree.rules[0].test is not None  # the original is unchanged


def test_render_tree_of_an_event_without_rules_says_every_request_is_allowed() -> None:
    assert render_tree(tree_of(rule("a"), event="post.shouldCreate")).splitlines() == [
        "event post.shouldCreate: 0 rules from 0 policies, 0 indexed switches, "
        "0 memo slots for shared sub-expressions",
        "  (no rules apply: every request is allowed)",
        "  otherwise -> allow",
    ]


def test_render_tree_shows_switches_tags_changes_and_dropped_rules() -> None:
    tree = tree_of(
        rule("a", when='data.k == "x"'),
        rule("b", when='data.k == "y"', unless="user.admin == true"),
        rule("m", "modify", set={"data.t": "1"}, unset=["data.u"]),
        rule("never", when="false and data.x"),
        rule("sh", mode="shadow"),
        on_error="deny",
    )
    assert render_tree(tree).splitlines() == [
        f"event {EVENT}: 4 rules from 1 policy, 1 indexed switch, 0 memo slots for shared "
        "sub-expressions, user lookup when a rule that reads user is reached",
        "  switch on data.k (2 rules, 2 values; 2 others run for every value)",
        "    1. p/a  ->  deny  [indexed: data.k, on_error: deny]",
        '         when   data.k == "x"',
        "         at     p0.yaml:4:7",
        "    2. p/b  ->  deny  [indexed: data.k, reads user, on_error: deny]",
        '         when   data.k == "y"',
        "         unless user.admin == true",
        "         at     p0.yaml:8:7",
        "    3. p/m  ->  modify  [on_error: deny]",
        "         (always matches)",
        "         set    data.t = 1",
        "         unset  data.u",
        "         at     p0.yaml:13:7",
        "    4. p/sh  ->  deny  [shadow, on_error: deny]",
        "         (always matches)",
        "         at     p0.yaml:24:7",
        "  dropped: p/never (its condition is always false for this event)",
        "  otherwise -> allow",
    ]


def test_render_tree_of_one_rule_speaks_in_the_singular() -> None:
    head = render_tree(tree_of(rule("a", when="data.n > 1"))).splitlines()[0]
    assert head == (
        f"event {EVENT}: 1 rule from 1 policy, 0 indexed switches, "
        "0 memo slots for shared sub-expressions"
    )


def test_render_tree_tags_rollout_and_expiry() -> None:
    tree = tree_of(
        rule("a", rollout="10%"),
        rule("b", rollout=0.5, rollout_key="data.channelId"),
        rule("c", expires="2027-01-31"),
    )
    text = render_tree(tree)
    assert "p/a  ->  deny  [rollout 10% by actor.userId]" in text
    assert "p/b  ->  deny  [rollout 0.5% by data.channelId]" in text
    assert "p/c  ->  deny  [expires 2027-01-31T00:00:00Z]" in text


def test_a_rule_without_rollout_or_expires_keeps_its_test_and_has_neither() -> None:
    plain = tree_of(rule("a", when="data.x == 1"), rule("b"))
    assert all(r.rollout is None and r.expires is None for r in plain.rules)
    assert plain.rules[1].test is None  # always matches: nothing was wrapped around it
    expiring = tree_of(rule("b", expires="2027-01-31"))
    assert expiring.rules[0].test is not None
