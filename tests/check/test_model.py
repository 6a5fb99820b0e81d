"""receiver/check/model.py: the checked model the checker produces and the compiler consumes."""

from __future__ import annotations

import pytest
import re2
import yaml

from receiver.check.checker import check
from receiver.check.model import (
    DEFAULT_DENY_MESSAGE,
    CheckedRule,
    CheckResult,
    Target,
    compile_regex,
)
from receiver.load.loader import load_text
from receiver.text.diagnostics import Diagnostics
from receiver.text.source import SourceFile

SPAN = SourceFile("<test>", "x").span(0, 1)


def checked(*rules: dict[str, object], **policy: object) -> CheckResult:
    doc = {"policy": "p", **policy, "rules": list(rules)}
    diags = Diagnostics()
    document = load_text("p.yaml", yaml.safe_dump(doc, sort_keys=False), diags)
    assert document is not None
    result = check([document], diags)
    assert not diags.has_errors, [d.render() for d in diags.sorted()]
    return result


def one(**fields: object) -> CheckedRule:
    rule = {"id": "r", "events": "message.shouldCreate", "action": "deny", **fields}
    (found,) = checked(rule).rules
    return found


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        (("a",), "data.a"),
        (("a", "b"), "data.a.b"),
        (("l", 0), "data.l[0]"),
        (("x y",), 'data["x y"]'),
        (("1a",), 'data["1a"]'),
        ((), "data"),
    ],
)
def test_a_data_target_shows_as_the_path_a_policy_would_write(
    path: tuple[str | int, ...], shown: str
) -> None:
    assert str(Target("data", path, SPAN)) == shown


def test_a_text_target_shows_as_text() -> None:
    assert str(Target("text", (), SPAN)) == "text"


def test_a_rule_is_named_policy_slash_id() -> None:
    rule = one()
    assert rule.qualified_id == "p/r" and rule.id == "r"


def test_a_rule_exposes_its_documents_action_mode_and_events() -> None:
    rule = one(events=["message.shouldCreate", "post.*"], mode="shadow")
    assert (rule.action, rule.mode, rule.events) == (
        "deny",
        "shadow",
        ("message.shouldCreate", "post.*"),
    )


def test_a_rules_expressions_are_when_unless_and_message_parts_in_order() -> None:
    rule = one(when="data.a > 1", unless="data.b", message="x {data.c} y {data.d}")
    assert [e.span.text for e in rule.expressions()] == ["data.a > 1", "data.b", "data.c", "data.d"]


def test_a_modify_rules_expressions_end_with_its_set_values() -> None:
    rule = one(when="data.a > 1", action="modify", set={"data.e": "data.f", "data.g": "1"})
    assert [e.span.text for e in rule.expressions()] == ["data.a > 1", "data.f", "1"]


def test_a_rule_without_expressions_has_none() -> None:
    assert list(one().expressions()) == []


@pytest.mark.parametrize(
    ("fields", "needs"),
    [
        ({"when": "user.role == 'x'"}, True),
        ({"unless": "user == null"}, True),
        ({"message": "hi {user.name}"}, True),
        ({"when": "data.user == 1"}, False),
        ({"when": "actor.userId == 'u'"}, False),
        ({}, False),
    ],
)
def test_a_rule_needs_the_user_only_when_an_expression_reads_user(
    fields: dict[str, object], needs: bool
) -> None:
    assert one(**fields).needs_user is needs


def test_a_rule_that_reads_user_through_a_macro_needs_it() -> None:
    rule = {"id": "r", "events": "message.shouldCreate", "when": "staff", "action": "deny"}
    (found,) = checked(rule, macros={"staff": "user.role == 'mod'"}).rules
    assert found.needs_user


def test_the_policy_info_keeps_name_priority_and_on_error() -> None:
    info = checked(priority=5, on_error="deny").policies[0]
    assert (info.name, info.priority, info.on_error) == ("p", 5, "deny")


def test_regexes_compile_as_re2_without_logging() -> None:
    pattern = compile_regex("a+b")
    assert pattern.search("xaab") is not None


def test_a_pattern_re2_refuses_is_an_error_not_a_log_line(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(re2.error):
        compile_regex("(a)\\1")
    assert capfd.readouterr().err == ""


def test_the_default_deny_message_is_pinned() -> None:
    assert DEFAULT_DENY_MESSAGE == "This action is not allowed by the community rules."


def test_a_counter_is_named_policy_slash_name_and_lists_its_expressions() -> None:
    counters = {
        "per_text": {
            "events": "message.shouldCreate",
            "key": "lower(text)",
            "distinct": "data.channelId",
            "when": "len(text) > 0",
            "window": "10m",
        }
    }
    (counter,) = checked(counters=counters).counters
    assert (counter.name, counter.id, counter.window_ms, counter.kind) == (
        "per_text",
        "p/per_text",
        600_000,
        "events",
    )
    assert [e.span.text for e in counter.expressions()] == [
        "lower(text)",
        "data.channelId",
        "len(text) > 0",
    ]
