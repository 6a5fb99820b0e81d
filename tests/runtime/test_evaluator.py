"""Tests for receiver.runtime.evaluator: the pinned evaluation semantics of decision trees.

Policies are written as YAML into ``tmp_path``, loaded with ``load_policies`` and
evaluated with ``evaluate`` at a pinned time.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from receiver.dsl.values import Timestamp
from receiver.runtime.decision import Decision
from receiver.runtime.evaluator import ERROR_DENY_MESSAGE, evaluate, evaluation
from receiver.runtime.payload import parse_event
from receiver.runtime.policyset import PolicySet, load_policies

EVENT = "message.shouldCreate"
NOW = Timestamp(1_769_860_800.0)  # 2026-01-31T12:00:00Z
DEFAULT_DENY = "This action is not allowed by the community rules."


# -- helpers -----------------------------------------------------------------------------


def rule(rule_id: str, action: str = "deny", **fields: Any) -> dict[str, Any]:
    """One rule as a YAML mapping; ``events`` defaults to message.shouldCreate."""
    out: dict[str, Any] = {"id": rule_id, "events": fields.pop("events", EVENT)}
    out.update(fields)
    out["action"] = action
    return out


def policy_text(
    name: str, *rules: dict[str, Any], priority: int = 0, on_error: str = "skip"
) -> str:
    doc = {"policy": name, "priority": priority, "on_error": on_error, "rules": list(rules)}
    return yaml.safe_dump(doc, sort_keys=False, width=1_000_000)


def write(tmp_path: Path, filename: str, text: str) -> Path:
    path = tmp_path / filename
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, *rules: dict[str, Any], **options: Any) -> PolicySet:
    """A policy set of one policy file ``p.yaml`` holding ``rules``."""
    write(tmp_path, "p.yaml", policy_text("p", *rules, **options))
    return load_policies([tmp_path])


def decide(
    policyset: PolicySet,
    data: dict[str, Any],
    *,
    event: str = EVENT,
    actor: dict[str, Any] | None = None,
    users: Users | None = None,
    explain: bool = False,
) -> Decision:
    parsed = parse_event({"eventName": event, "data": data, "actor": actor or {}})
    tree = policyset.traced_tree(event) if explain else policyset.tree(event)
    return evaluate(tree, parsed, NOW, users, explain=explain)


class Users:
    """A user directory that counts its lookups."""

    def __init__(self, records: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.records = dict(records or {})
        self.calls: list[str] = []

    def __call__(self, user_id: str) -> Mapping[str, Any] | None:
        self.calls.append(user_id)
        return self.records.get(user_id)


def location_of(path: Path, needle: str, offset: int = 0) -> str:
    """``FILE:LINE:COL`` of the ``offset``-th character of ``needle`` in a file."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        column = line.find(needle)
        if column >= 0:
            return f"{path}:{number}:{column + 1 + offset}"
    raise AssertionError(f"{needle!r} not in {path}")


# -- order -------------------------------------------------------------------------------


def test_higher_priority_policy_decides_before_lower_priority(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", policy_text("low", rule("r", message="low"), priority=1))
    write(tmp_path, "b.yaml", policy_text("high", rule("r", message="high"), priority=5))
    decision = decide(load_policies([tmp_path]), {})
    assert decision.response() == {"action": "deny", "message": "high"}
    assert decision.rule == "high/r"


def test_equal_priority_policies_run_in_file_name_order_not_policy_name(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", policy_text("zzz", rule("r", message="from a.yaml")))
    write(tmp_path, "b.yaml", policy_text("aaa", rule("r", message="from b.yaml")))
    decision = decide(load_policies([tmp_path]), {})
    assert decision.message == "from a.yaml"
    assert decision.rule == "zzz/r"


def test_rules_of_one_policy_run_in_file_order(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("first", message="first"), rule("second", message="second"))
    assert decide(policyset, {}).rule == "p/first"


def test_modifications_across_policies_apply_in_priority_order(tmp_path: Path) -> None:
    later = rule("r", "modify", set={"data.trail": 'data.trail + ["later"]'})
    sooner = rule("r", "modify", set={"data.trail": 'data.trail + ["sooner"]'})
    write(tmp_path, "a.yaml", policy_text("later", later, priority=0))
    write(tmp_path, "b.yaml", policy_text("sooner", sooner, priority=3))
    decision = decide(load_policies([tmp_path]), {"trail": []})
    assert decision.response() == {"action": "allow", "data": {"trail": ["sooner", "later"]}}
    assert decision.modified_by == ["sooner/r", "later/r"]


def test_glob_events_apply_to_matching_event_names(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r", events=["post.*"], message="no posts"))
    assert decide(policyset, {}, event="post.shouldCreate").action == "deny"
    assert decide(policyset, {}, event="message.shouldCreate").action == "allow"


# -- deny, allow, modify ---------------------------------------------------------------------


def test_matching_deny_answers_with_its_message(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r", when='data.text == "spam"', message="No spam."))
    assert decide(policyset, {"text": "spam"}).response() == {
        "action": "deny",
        "message": "No spam.",
    }


def test_deny_without_message_uses_default_message(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r"))
    assert decide(policyset, {}).response() == {"action": "deny", "message": DEFAULT_DENY}


def test_deny_message_template_renders_expressions_and_escaped_braces(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r", message="{{literal}} {len(data.text)} chars in {event}"))
    decision = decide(policyset, {"text": "hello"})
    assert decision.message == "{literal} 5 chars in message.shouldCreate"


def test_deny_drops_pending_modifications(tmp_path: Path) -> None:
    policyset = load(
        tmp_path,
        rule("mark", "modify", set={"data.marked": "true"}),
        rule("block", message="blocked"),
    )
    decision = decide(policyset, {"text": "x"})
    assert decision.response() == {"action": "deny", "message": "blocked"}
    assert decision.data is None


def test_allow_ends_evaluation_before_later_deny(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("ok", "allow", when="data.vip"), rule("block"))
    decision = decide(policyset, {"vip": True})
    assert decision.response() == {"action": "allow"}
    assert decision.rule == "p/ok"


def test_allow_after_modification_returns_modified_data(tmp_path: Path) -> None:
    policyset = load(
        tmp_path,
        rule("tag", "modify", set={"data.tag": '"checked"'}),
        rule("ok", "allow"),
        rule("block"),
    )
    decision = decide(policyset, {"text": "x"})
    assert decision.response() == {"action": "allow", "data": {"text": "x", "tag": "checked"}}
    assert decision.rule == "p/ok"


def test_modify_rules_chain_later_rules_see_new_values(tmp_path: Path) -> None:
    policyset = load(
        tmp_path,
        rule("add", "modify", set={"data.n": "data.n + 1"}),
        rule("times", "modify", set={"data.n": "data.n * 10"}),
        rule("big", when="data.n > 15", message="n is {data.n}"),
    )
    assert decide(policyset, {"n": 1}).response() == {"action": "deny", "message": "n is 20"}


def test_text_functions_see_text_changed_by_a_modify_rule(tmp_path: Path) -> None:
    # contains_any and matches share one request's forms of `text` (lowered, folded
    # words, UTF-8): the modify rule must make the later rules see the new text.
    policyset = load(
        tmp_path,
        rule("early-phrase", when='contains_any(text, ["free money"])', message="early"),
        rule("early-pattern", when='text matches "(?i)win big"', message="early"),
        rule("rewrite", "modify", set={"text": '"Free   MONEY! and WIN BIG"'}),
        rule("late-pattern", when='text matches "(?i)win big"', message="pattern"),
    )
    assert decide(policyset, {"text": "hello"}).response() == {
        "action": "deny",
        "message": "pattern",
    }
    phrases = load(
        tmp_path,
        rule("early", when='contains_any(text, ["free money"])', message="early"),
        rule("rewrite", "modify", set={"text": '"Free   MONEY!"'}),
        rule("late", when='contains_any(text, ["free money"])', message="phrase"),
    )
    assert decide(phrases, {"text": "hello"}).response() == {"action": "deny", "message": "phrase"}


def test_text_functions_on_a_value_that_is_not_a_string_fail_each_rule(tmp_path: Path) -> None:
    policyset = load(
        tmp_path,
        rule("phrase", when='contains_any(data.n, ["x"])'),
        rule("pattern", when='data.n matches "x"'),
        rule("null-phrase", when='contains_any(data.missing, ["x"])'),
        rule("null-pattern", when='data.missing matches "x"'),
    )
    decision = decide(policyset, {"n": 5})
    assert decision.response() == {"action": "allow"}
    assert [(e.rule, e.message) for e in decision.errors] == [
        ("p/phrase", "contains_any() needs a string"),
        ("p/pattern", "'matches' needs a string, got number"),
    ]


def test_modified_response_contains_whole_data_not_just_changes(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r", "modify", set={"data.text": "upper(data.text)"}))
    data = {"text": "hi", "channelId": "ch_1", "meta": {"a": [1, 2]}, "flag": None}
    assert decide(policyset, data).response() == {
        "action": "allow",
        "data": {"text": "HI", "channelId": "ch_1", "meta": {"a": [1, 2]}, "flag": None},
    }


def test_no_matching_rule_allows_without_data(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r", when='data.text == "spam"'))
    decision = decide(policyset, {"text": "fine"})
    assert decision.response() == {"action": "allow"}
    assert decision.rule is None
    assert decision.modified_by == []


def test_event_without_applicable_rules_is_allowed(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r"))
    decision = decide(policyset, {"text": "x"}, event="channel.shouldJoin")
    assert decision.response() == {"action": "allow"}


def test_unknown_event_name_is_allowed(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r"))
    assert decide(policyset, {}, event="thing.neverHeardOf").response() == {"action": "allow"}


def test_glob_rule_applies_to_event_names_unknown_in_advance(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r", events="thing.*", message="things"))
    assert decide(policyset, {}, event="thing.neverHeardOf").message == "things"


def test_disabled_rule_is_ignored(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("off", enabled=False, message="off"), rule("on", "allow"))
    decision = decide(policyset, {})
    assert decision.action == "allow"
    assert decision.rule == "p/on"
    assert all(r.rule.id != "off" for r in policyset.tree(EVENT).rules)


def test_unless_exempts_data_from_a_matching_rule(tmp_path: Path) -> None:
    policyset = load(
        tmp_path, rule("r", when='data.text == "x"', unless='data.channelId == "ch_ok"')
    )
    assert decide(policyset, {"text": "x", "channelId": "ch_1"}).action == "deny"
    assert decide(policyset, {"text": "x", "channelId": "ch_ok"}).action == "allow"


def test_unless_alone_applies_when_it_does_not_hold(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r", unless="data.verified"))
    assert decide(policyset, {"verified": False}).action == "deny"
    assert decide(policyset, {"verified": True}).action == "allow"


# -- shadow rules ----------------------------------------------------------------------------


def test_shadow_deny_is_recorded_with_message_and_does_not_deny(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r", mode="shadow", message="would block {data.text}"))
    decision = decide(policyset, {"text": "x"})
    assert decision.response() == {"action": "allow"}
    assert [(s.rule, s.action, s.message) for s in decision.shadow] == [
        ("p/r", "deny", "would block x")
    ]


def test_shadow_modify_is_recorded_with_changes_and_not_applied(tmp_path: Path) -> None:
    policyset = load(
        tmp_path,
        rule("r", "modify", mode="shadow", set={"data.text": "upper(data.text)"}, unset=["data.x"]),
        rule("check", when='data.text == "HI"', message="changed"),
    )
    decision = decide(policyset, {"text": "hi", "x": 1})
    assert decision.response() == {"action": "allow"}
    assert decision.modified_by == []
    (shadow,) = decision.shadow
    assert (shadow.rule, shadow.action) == ("p/r", "modify")
    assert shadow.changes == {"data.text": "HI", "data.x": None}


def test_shadow_allow_does_not_end_evaluation(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r", "allow", mode="shadow"), rule("block"))
    decision = decide(policyset, {})
    assert decision.action == "deny"
    assert [(s.rule, s.action) for s in decision.shadow] == [("p/r", "allow")]


def test_non_matching_shadow_rule_is_not_recorded(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r", mode="shadow", when="data.bad"))
    assert decide(policyset, {"bad": False}).shadow == []


# -- run-time failures -----------------------------------------------------------------------


def test_failing_rule_is_skipped_under_on_error_skip(tmp_path: Path) -> None:
    policyset = load(
        tmp_path, rule("fails", when="len(data.n) > 0"), rule("next", message="next ran")
    )
    decision = decide(policyset, {"n": 5})
    assert decision.response() == {"action": "deny", "message": "next ran"}
    assert [e.rule for e in decision.errors] == ["p/fails"]


def test_failing_rule_denies_under_on_error_deny(tmp_path: Path) -> None:
    policyset = load(
        tmp_path,
        rule("fails", "allow", when="len(data.n) > 0"),
        rule("ok", "allow"),
        on_error="deny",
    )
    decision = decide(policyset, {"n": 5})
    assert decision.response() == {"action": "deny", "message": ERROR_DENY_MESSAGE}
    assert decision.rule == "p/fails"
    assert [e.rule for e in decision.errors] == ["p/fails"]


def test_failure_is_recorded_with_message_and_location_of_failing_call(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("fails", when="len(data.n) > 0"))
    (failure,) = decide(policyset, {"n": 5}).errors
    assert failure.message == "len() needs a string, list or map, got number"
    assert failure.location == location_of(tmp_path / "p.yaml", "len(data.n)")
    assert failure.shadow is False


def test_division_by_zero_is_recorded_at_the_operator(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("fails", when="data.n / 0 > 1"))
    decision = decide(policyset, {"n": 4})
    assert decision.action == "allow"
    (failure,) = decision.errors
    assert failure.message == "division by zero"
    assert failure.location == location_of(tmp_path / "p.yaml", "/ 0")


def test_failing_negation_is_recorded_at_the_negation(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("fails", when="-data.s < 0"))
    (failure,) = decide(policyset, {"s": "text"}).errors
    assert failure.message == "cannot negate a string"
    assert failure.location == location_of(tmp_path / "p.yaml", "-data.s")


def test_failing_shadow_rule_never_denies_even_under_on_error_deny(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r", mode="shadow", when="len(data.n) > 0"), on_error="deny")
    decision = decide(policyset, {"n": 5})
    assert decision.response() == {"action": "allow"}
    assert [(e.rule, e.shadow) for e in decision.errors] == [("p/r", True)]


def test_failing_set_value_skips_the_modification(tmp_path: Path) -> None:
    policyset = load(
        tmp_path,
        rule("fails", "modify", set={"data.a": '"changed"', "data.b": "lower(data.n)"}),
    )
    decision = decide(policyset, {"n": 5})
    assert decision.response() == {"action": "allow"}
    assert decision.modified_by == []
    assert [e.message for e in decision.errors] == ["lower() needs a string, got number"]


def test_failing_set_value_denies_under_on_error_deny(tmp_path: Path) -> None:
    policyset = load(
        tmp_path, rule("fails", "modify", set={"data.b": "lower(data.n)"}), on_error="deny"
    )
    decision = decide(policyset, {"n": 5})
    assert decision.response() == {"action": "deny", "message": ERROR_DENY_MESSAGE}


def test_failing_deny_message_denies_with_default_message_and_records_it(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r", message="size {len(data.n)}"))
    decision = decide(policyset, {"n": 5})
    assert decision.response() == {"action": "deny", "message": DEFAULT_DENY}
    assert [e.rule for e in decision.errors] == ["p/r"]


# -- the user record -------------------------------------------------------------------------


def test_user_lookup_is_skipped_when_earlier_deny_ends_evaluation(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("first"), rule("staff", "allow", when='user.role == "mod"'))
    users = Users({"u1": {"role": "mod"}})
    assert decide(policyset, {}, actor={"userId": "u1"}, users=users).action == "deny"
    assert users.calls == []


def test_user_lookup_is_skipped_when_no_rule_reads_user(tmp_path: Path) -> None:
    policyset = load(
        tmp_path, rule("r", when='data.text == "x"'), rule("m", "modify", set={"data.a": "1"})
    )
    users = Users({"u1": {"role": "mod"}})
    decide(policyset, {"text": "y"}, actor={"userId": "u1"}, users=users)
    assert users.calls == []


def test_user_lookup_happens_once_for_several_rules_reading_user(tmp_path: Path) -> None:
    policyset = load(
        tmp_path,
        rule("a", when='user.role == "banned"'),
        rule("b", when="user.strikes > 3"),
        rule("c", "modify", set={"data.by": "user.name"}),
        rule("d", when='user.name == "nobody"'),
    )
    users = Users({"u1": {"role": "member", "strikes": 1, "name": "Ann"}})
    decision = decide(policyset, {}, actor={"userId": "u1"}, users=users)
    assert decision.response() == {"action": "allow", "data": {"by": "Ann"}}
    assert users.calls == ["u1"]


def test_user_lookup_waits_until_a_rule_reading_user_is_reached(tmp_path: Path) -> None:
    policyset = load(
        tmp_path, rule("first", when='data.text == "spam"'), rule("staff", when="user.banned")
    )
    users = Users({"u1": {"banned": True}})
    assert decide(policyset, {"text": "spam"}, actor={"userId": "u1"}, users=users).rule == (
        "p/first"
    )
    assert users.calls == []
    assert decide(policyset, {"text": "ok"}, actor={"userId": "u1"}, users=users).rule == (
        "p/staff"
    )
    assert users.calls == ["u1"]


def test_evaluation_generator_yields_user_id_when_user_is_needed(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r", when='user.role == "banned"'))
    event = parse_event({"eventName": EVENT, "data": {}, "actor": {"userId": 42}})
    run = evaluation(policyset.tree(EVENT), event, NOW)
    assert next(run) == "42"
    with pytest.raises(StopIteration) as stop:
        run.send({"role": "banned"})
    assert stop.value.value.action == "deny"


def test_user_is_null_when_actor_has_no_user_id(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r", when="user == null", message="anonymous"))
    users = Users({"u1": {"role": "mod"}})
    decision = decide(policyset, {}, actor={"_id": "x"}, users=users)
    assert decision.message == "anonymous"
    assert users.calls == []


def test_user_is_null_when_directory_has_no_record(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r", when="user == null", message="unknown user"))
    users = Users()
    assert decide(policyset, {}, actor={"userId": "u9"}, users=users).message == "unknown user"
    assert users.calls == ["u9"]


# -- changes to data ---------------------------------------------------------------------


def test_modify_rules_never_mutate_the_input_payload(tmp_path: Path) -> None:
    policyset = load(
        tmp_path,
        rule(
            "r",
            "modify",
            set={
                "text": "upper(text)",
                "data.meta.tags[0]": '"first"',
                "data.meta.new.deep": "1",
                "data.list": 'data.list + ["z"]',
            },
            unset=["data.meta.drop", "data.gone"],
        ),
    )
    payload: dict[str, Any] = {
        "eventName": EVENT,
        "data": {
            "text": "hi",
            "data": {"text": "inner"},
            "meta": {"tags": ["a", "b"], "drop": 1},
            "list": ["x"],
            "gone": True,
        },
        "actor": {"userId": "u1"},
    }
    before = copy.deepcopy(payload)
    decision = evaluate(policyset.tree(EVENT), parse_event(payload), NOW)
    assert decision.modified_by == ["p/r"]
    assert payload == before
    assert decision.response()["data"]["meta"] == {"tags": ["first", "b"], "new": {"deep": 1}}


def test_set_text_writes_back_to_data_text(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r", "modify", set={"text": "upper(text)"}))
    assert decide(policyset, {"text": "hi"}).response() == {
        "action": "allow",
        "data": {"text": "HI"},
    }


def test_set_text_writes_back_to_nested_data_text(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r", "modify", set={"text": "upper(text)"}))
    assert decide(policyset, {"data": {"text": "hi", "x": 1}}).response() == {
        "action": "allow",
        "data": {"data": {"text": "HI", "x": 1}},
    }


def test_set_text_writes_back_to_both_places_when_both_are_present(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r", "modify", set={"text": "upper(text)"}))
    decision = decide(policyset, {"text": "outer", "data": {"text": "inner"}})
    assert decision.response() == {
        "action": "allow",
        "data": {"text": "OUTER", "data": {"text": "OUTER"}},
    }


def test_set_text_creates_data_text_when_there_is_no_text(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r", "modify", set={"text": '"new"'}))
    assert decide(policyset, {"other": 1}).response() == {
        "action": "allow",
        "data": {"other": 1, "text": "new"},
    }


def test_text_reads_nested_data_text_when_data_text_is_absent(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r", when='text == "inner"', message="read inner"))
    assert decide(policyset, {"data": {"text": "inner"}}).message == "read inner"


def test_set_of_new_nested_path_creates_maps(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r", "modify", set={"data.a.b.c": '"deep"'}))
    assert decide(policyset, {"x": 1}).response() == {
        "action": "allow",
        "data": {"x": 1, "a": {"b": {"c": "deep"}}},
    }


def test_set_keeps_sibling_fields_of_existing_maps(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r", "modify", set={"data.meta.b": "2"}))
    assert decide(policyset, {"meta": {"a": 1}}).response()["data"] == {"meta": {"a": 1, "b": 2}}


def test_set_writes_time_values_as_iso_strings(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r", "modify", set={"data.checkedAt": "now()"}))
    assert decide(policyset, {}).response()["data"] == {"checkedAt": "2026-01-31T12:00:00Z"}


def test_unset_removes_a_field(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r", "modify", unset=["data.secret", "data.meta.x"]))
    assert decide(policyset, {"secret": 1, "keep": 2, "meta": {"x": 1, "y": 2}}).response() == {
        "action": "allow",
        "data": {"keep": 2, "meta": {"y": 2}},
    }


def test_unset_of_missing_path_is_not_an_error(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r", "modify", unset=["data.a.b.c"]))
    decision = decide(policyset, {"x": 1})
    assert decision.errors == []
    assert decision.response() == {"action": "allow", "data": {"x": 1}}


def test_unset_text_removes_text_from_both_places(tmp_path: Path) -> None:
    policyset = load(tmp_path, rule("r", "modify", unset=["text"]))
    assert decide(policyset, {"text": "a", "data": {"text": "b", "k": 1}}).response() == {
        "action": "allow",
        "data": {"data": {"k": 1}},
    }


# -- expressions inside rules ------------------------------------------------------------------


def holds(tmp_path: Path, condition: str, data: dict[str, Any]) -> bool:
    """Whether a deny rule with this condition matches ``data`` (failing is an error here)."""
    decision = decide(load(tmp_path, rule("r", when=condition)), data)
    assert decision.errors == [], decision.errors
    return decision.action == "deny"


@pytest.mark.parametrize(
    "condition",
    ["data.a.b.c == null", "data.list[5] == null", "data.text[0] == null", 'data["x y"] == null'],
)
def test_missing_path_is_null_not_an_error(tmp_path: Path, condition: str) -> None:
    assert holds(tmp_path, condition, {"a": {"b": 1}, "list": [1], "text": ""})


@pytest.mark.parametrize(
    "condition",
    [
        "data.missing < 1",
        "data.missing >= 1",
        'data.missing in ["a"]',
        'data.missing not in ["a"]',
        "data.missing not in data.list",
        'data.missing contains "a"',
        'data.missing startswith "a"',
        'data.missing matches "a"',
        '"a" in data.missing',
        '"a" not in data.missing',
    ],
)
def test_comparison_with_null_is_false(tmp_path: Path, condition: str) -> None:
    assert not holds(tmp_path, condition, {"list": ["a"]})


def test_equality_with_null_is_true_for_missing_values(tmp_path: Path) -> None:
    assert holds(tmp_path, "data.missing == null and data.present != null", {"present": 0})


def test_true_is_not_equal_to_one_in_data(tmp_path: Path) -> None:
    assert not holds(tmp_path, "data.flag == 1", {"flag": True})
    assert not holds(tmp_path, "data.flags == [1]", {"flags": [True]})
    assert not holds(tmp_path, "data.n in [true]", {"n": 1})


def test_in_checks_list_membership_substring_and_map_keys(tmp_path: Path) -> None:
    data = {"list": ["a", 2], "text": "hello", "map": {"k": None}}
    assert holds(tmp_path, '2.0 in data.list and "ell" in data.text and "k" in data.map', data)


def test_in_constant_list_compares_times_like_equality(tmp_path: Path) -> None:
    assert holds(tmp_path, 'now() in ["2026-01-31T12:00:00Z", "x"]', {})
    assert holds(tmp_path, 'now() not in ["2026-01-30T12:00:00Z"]', {})


def test_matches_is_re2_with_case_insensitive_flag(tmp_path: Path) -> None:
    assert holds(tmp_path, 'data.text matches "(?i)^free\\\\s+money"', {"text": "FREE   Money!"})
    assert not holds(tmp_path, 'data.text matches "^free"', {"text": "FREE"})


def test_text_is_data_text_or_nested_data_text(tmp_path: Path) -> None:
    assert holds(tmp_path, 'text == "outer"', {"text": "outer", "data": {"text": "inner"}})
    assert holds(tmp_path, 'text == "inner"', {"text": 5, "data": {"text": "inner"}})
    assert holds(tmp_path, "text == null", {})


def test_time_arithmetic_with_iso_strings_and_epochs(tmp_path: Path) -> None:
    data = {"iso": "2026-01-30T12:00:00Z", "ms": 1_769_774_400_000, "s": 1_769_774_400}
    assert holds(tmp_path, "data.iso > now() - 7d and age(data.ms) < 2d", data)
    assert holds(tmp_path, "age(data.s) == 1d and now() - data.iso == 24h", data)
