"""Tests for receiver.load.loader: the shape of policy files, with positions for every problem."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from receiver.dsl import ast
from receiver.dsl.parser import parse_expression
from receiver.load.documents import PolicyDoc
from receiver.load.loader import load_file, load_text, policy_files
from receiver.runtime.policyset import check_paths
from receiver.text import yamlerrors
from receiver.text.diagnostics import Diagnostics

# (location, code, message); location is FILE:LINE:COL, or the path for file-level problems
Found = tuple[str, str, str]


def load(text: str) -> tuple[PolicyDoc | None, list[Found]]:
    diags = Diagnostics()
    doc = load_text("p.yaml", textwrap.dedent(text).lstrip("\n"), diags)
    assert all(d.severity == "error" for d in diags)
    return doc, [(d.location, d.code, d.message) for d in diags]


def rule_file(*lines: str, action: str = "deny") -> str:
    """A policy with one rule ``r`` (id on line 3) followed by ``lines``, indented in the rule."""
    body = "".join(f"    {line}\n" for line in lines)
    return (
        "policy: p\nrules:\n  - id: r\n    events: message.shouldCreate\n"
        f"    action: {action}\n{body}"
    )


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


VALID = """
    policy: p
    rules:
      - id: r
        events: message.shouldCreate
        when: data.x == 1
        action: deny
    """


# -- a valid file --------------------------------------------------------------------------------


def test_a_complete_policy_file_loads_every_field() -> None:
    doc, found = load(
        """
        policy: p
        description: Baseline.
        priority: 5
        on_error: deny
        lists:
          staff: [moderator, admin, 3]
        macros:
          is_staff: user.role in staff
        rules:
          - id: r
            description: Staff may post.
            events: [message.shouldCreate, "post.*"]
            when: is_staff
            unless: data.x
            action: modify
            set:
              data.text: censor(data.text)
            unset: [data.y]
            mode: shadow
            enabled: false
        """
    )
    assert found == []
    assert doc is not None
    assert (doc.name.value, doc.description, doc.priority, doc.on_error) == (
        "p",
        "Baseline.",
        5,
        "deny",
    )
    assert [i.value for i in doc.lists["staff"].items] == ["moderator", "admin", 3]
    assert doc.macros["is_staff"].expr.text == "user.role in staff"
    (rule,) = doc.rules
    assert rule.id.value == "r"
    assert [e.value for e in rule.events] == ["message.shouldCreate", "post.*"]
    assert rule.when is not None and rule.when.text == "is_staff"
    assert rule.unless is not None and rule.unless.text == "data.x"
    assert [(s.target.value, s.value.text) for s in rule.sets] == [
        ("data.text", "censor(data.text)")
    ]
    assert [u.value for u in rule.unsets] == ["data.y"]
    assert (rule.action.value, rule.mode, rule.enabled, rule.description) == (
        "modify",
        "shadow",
        False,
        "Staff may post.",
    )


def test_events_may_be_a_single_string() -> None:
    doc, found = load(VALID)
    assert found == []
    assert doc is not None
    assert [e.value for e in doc.rules[0].events] == ["message.shouldCreate"]


def test_a_policy_without_rules_loads() -> None:
    doc, found = load("policy: p\nrules:\n")
    assert found == []
    assert doc is not None and doc.rules == []


def test_when_true_as_a_plain_yaml_boolean_is_taken_as_written() -> None:
    doc, found = load(rule_file("when: true", action="allow"))
    assert found == []
    assert doc is not None
    when = doc.rules[0].when
    assert when is not None and when.text == "true"
    node = parse_expression(when, Diagnostics())
    assert isinstance(node, ast.Literal) and node.value is True
    assert str(node.span) == "p.yaml:6:11"


def test_a_plain_yaml_number_as_an_expression_is_taken_as_written() -> None:
    doc, found = load(rule_file("when: 1.50"))
    assert found == []
    assert doc is not None and doc.rules[0].when is not None
    assert doc.rules[0].when.text == "1.50"


def test_a_quoted_yaml_string_is_the_expression_without_its_quotes() -> None:
    doc, found = load(rule_file("when: \"data.x == 'a'\""))
    assert found == []
    assert doc is not None and doc.rules[0].when is not None
    assert doc.rules[0].when.text == "data.x == 'a'"


# -- unknown fields ------------------------------------------------------------------------------


def test_an_unknown_rule_field_suggests_the_closest_field() -> None:
    _, found = load(rule_file("whne: data.x"))
    assert found == [
        ("p.yaml:6:5", "unknown-field", "unknown field 'whne' in a rule; did you mean 'when'?")
    ]


def test_an_unknown_policy_field_suggests_the_closest_field() -> None:
    _, found = load("policy: p\npriorty: 2\n")
    assert found == [
        (
            "p.yaml:2:1",
            "unknown-field",
            "unknown field 'priorty' in a policy file; did you mean 'priority'?",
        )
    ]


def test_an_unknown_field_without_a_close_match_lists_the_allowed_fields() -> None:
    _, found = load("policy: p\nzzz: 1\n")
    assert found == [
        (
            "p.yaml:2:1",
            "unknown-field",
            "unknown field 'zzz' in a policy file; allowed fields are policy, description, "
            "priority, on_error, lists, macros, counters, rules",
        )
    ]


def test_a_rule_with_an_unknown_field_still_loads() -> None:
    doc, _ = load(rule_file("whne: data.x"))
    assert doc is not None and [r.id.value for r in doc.rules] == ["r"]


def test_a_non_string_key_is_reported() -> None:
    _, found = load("policy: p\n1: x\n")
    assert found == [("p.yaml:2:1", "type", "keys in a policy file must be plain names")]


# -- missing fields ------------------------------------------------------------------------------


def test_a_file_without_a_policy_name_is_reported_at_its_start() -> None:
    doc, found = load("description: x\nrules: []\n")
    assert doc is None
    assert found == [
        (
            "p.yaml:1:1",
            "missing-field",
            "a policy file needs a 'policy: NAME' line naming the policy",
        )
    ]


def test_a_rule_without_an_id_is_reported_at_its_first_line() -> None:
    doc, found = load(
        """
        policy: p
        rules:
          - events: message.shouldCreate
            action: deny
        """
    )
    assert found == [
        (
            "p.yaml:3:5",
            "missing-field",
            "this rule has no 'id'; add 'id:' with a name unique in this policy",
        )
    ]
    assert doc is not None and doc.rules == []


def test_a_rule_without_events_is_reported() -> None:
    _, found = load("policy: p\nrules:\n  - id: r\n    action: deny\n")
    assert found == [
        (
            "p.yaml:3:5",
            "missing-field",
            "this rule has no 'events'; add 'events:' with the event names it applies to",
        )
    ]


def test_a_rule_without_an_action_lists_the_three_actions() -> None:
    _, found = load("policy: p\nrules:\n  - id: r\n    events: message.shouldCreate\n")
    assert found == [
        (
            "p.yaml:3:5",
            "missing-field",
            "this rule has no 'action'; add 'action:' with allow, deny or modify",
        )
    ]


def test_every_missing_rule_field_is_named_in_one_message() -> None:
    _, found = load("policy: p\nrules:\n  - description: x\n")
    assert found == [
        (
            "p.yaml:3:5",
            "missing-field",
            "this rule has no 'id', 'events', 'action'; add 'id:' with a name unique in this "
            "policy, 'events:' with the event names it applies to and 'action:' with allow, "
            "deny or modify",
        )
    ]


@pytest.mark.parametrize(
    ("key", "meant"),
    [
        ("on", "events"),
        ("On", "events"),
        ('"on"', "events"),
        ("trigger", "events"),
        ("if", "when"),
        ("name", "id"),
        ("condition", "when"),
        ("match", "when"),
        ("effect", "action"),
        ("verdict", "action"),
        ("then", "action"),
    ],
)
def test_a_key_from_another_rule_engine_suggests_the_field_it_means(key: str, meant: str) -> None:
    _, found = load(rule_file(f"{key}: x"))
    written = key.strip('"')
    assert found == [
        (
            "p.yaml:6:5",
            "unknown-field",
            f"unknown field '{written}' in a rule; did you mean '{meant}:'?",
        )
    ]


def test_a_rule_with_on_instead_of_events_is_not_also_reported_as_missing_events() -> None:
    doc, found = load("policy: p\nrules:\n  - id: r\n    on: message.shouldCreate\n")
    found.sort()
    assert [(where, code) for where, code, _ in found] == [
        ("p.yaml:3:5", "missing-field"),
        ("p.yaml:4:5", "unknown-field"),
    ]
    assert found[0][2] == "this rule has no 'action'; add 'action:' with allow, deny or modify"
    assert doc is not None and doc.rules == []


def test_a_rule_with_name_instead_of_id_is_told_to_write_id_once() -> None:
    _, found = load(
        "policy: p\nrules:\n  - name: r\n    events: [message.shouldCreate]\n    action: deny\n"
    )
    assert found == [
        ("p.yaml:3:5", "unknown-field", "unknown field 'name' in a rule; did you mean 'id:'?")
    ]


def test_a_policy_named_with_name_is_told_to_write_policy_once() -> None:
    doc, found = load("name: p\nrules: []\n")
    assert found == [
        (
            "p.yaml:1:1",
            "unknown-field",
            "unknown field 'name' in a policy file; did you mean 'policy:'?",
        )
    ]
    assert doc is None


# -- wrong types ---------------------------------------------------------------------------------


def test_a_priority_that_is_not_a_whole_number_is_reported() -> None:
    _, found = load("policy: p\npriority: high\n")
    assert found == [
        ("p.yaml:2:11", "type", "'priority' must be a whole number (higher runs first)")
    ]


def test_a_fractional_priority_is_reported() -> None:
    _, found = load("policy: p\npriority: 1.5\n")
    assert [f[:2] for f in found] == [("p.yaml:2:11", "type")]


def test_a_boolean_priority_is_reported() -> None:
    _, found = load("policy: p\npriority: true\n")
    assert [f[:2] for f in found] == [("p.yaml:2:11", "type")]


def test_enabled_that_is_not_a_boolean_is_reported() -> None:
    _, found = load(rule_file("enabled: 1"))
    assert found == [("p.yaml:6:14", "type", "'enabled' must be true or false")]


def test_enabled_written_as_a_quoted_string_is_reported() -> None:
    _, found = load(rule_file('enabled: "false"'))
    assert found == [("p.yaml:6:14", "type", "'enabled' must be true or false")]


def test_an_empty_events_list_is_reported_and_drops_the_rule() -> None:
    doc, found = load("policy: p\nrules:\n  - id: r\n    events: []\n    action: deny\n")
    assert found == [("p.yaml:4:13", "type", "'events' is empty; name at least one event")]
    assert doc is not None and doc.rules == []


def test_a_non_string_event_entry_is_reported_at_the_entry() -> None:
    _, found = load(
        'policy: p\nrules:\n  - id: r\n    events: [message.shouldCreate, 3, ""]\n'
        "    action: deny\n"
    )
    assert found == [
        ("p.yaml:4:36", "type", "each entry of 'events' must be a non-empty string"),
        ("p.yaml:4:39", "type", "each entry of 'events' must be a non-empty string"),
    ]


def test_an_empty_policy_name_is_reported() -> None:
    doc, found = load('policy: ""\n')
    assert doc is None
    assert found == [("p.yaml:1:9", "type", "'policy' must be a non-empty string")]


def test_an_unknown_action_suggests_the_closest_action() -> None:
    doc, found = load(
        "policy: p\nrules:\n  - id: r\n    events: message.shouldCreate\n    action: alow\n"
    )
    assert found == [
        (
            "p.yaml:5:13",
            "bad-value",
            "'action' must be one of allow, deny, modify, not 'alow'; did you mean 'allow'?",
        )
    ]
    assert doc is not None and doc.rules == []


def test_an_unknown_mode_is_reported() -> None:
    _, found = load(rule_file("mode: shdow"))
    assert found == [
        (
            "p.yaml:6:11",
            "bad-value",
            "'mode' must be one of enforce, shadow, not 'shdow'; did you mean 'shadow'?",
        )
    ]


def test_an_unknown_on_error_is_reported() -> None:
    _, found = load("policy: p\non_error: panic\n")
    assert found == [
        ("p.yaml:2:11", "bad-value", "'on_error' must be one of skip, deny, not 'panic'")
    ]


def test_rules_that_are_not_a_list_are_reported() -> None:
    _, found = load("policy: p\nrules: 5\n")
    assert found == [
        ("p.yaml:2:8", "type", "'rules' must be a list of rules (lines starting with '- ')")
    ]


def test_a_rule_that_is_not_a_mapping_is_reported() -> None:
    _, found = load("policy: p\nrules:\n  - just text\n")
    assert found == [("p.yaml:3:5", "type", "a rule must be a mapping (key: value lines)")]


def test_a_list_that_is_not_a_yaml_list_is_reported() -> None:
    _, found = load("policy: p\nlists:\n  staff: moderator\n")
    assert found == [("p.yaml:3:10", "type", "list 'staff' must be a YAML list such as [a, b]")]


def test_a_list_entry_that_is_not_a_scalar_is_reported() -> None:
    _, found = load("policy: p\nlists:\n  staff: [a, {b: 1}]\n")
    assert found == [("p.yaml:3:14", "type", "entries of list 'staff' must be strings or numbers")]


def test_a_macro_that_is_not_a_string_is_reported() -> None:
    _, found = load("policy: p\nmacros:\n  m: [1]\n")
    assert found == [("p.yaml:3:6", "type", "macro 'm' must be an expression written as a string")]


def test_a_when_that_is_a_mapping_is_reported() -> None:
    _, found = load(rule_file("when: {a: 1}"))
    assert found == [("p.yaml:6:11", "type", "'when' must be an expression written as a string")]


# -- fields that do not fit the action -----------------------------------------------------------


def test_set_on_a_deny_rule_is_misplaced() -> None:
    _, found = load(rule_file("set:", "  data.text: x"))
    assert found == [
        (
            "p.yaml:6:5",
            "misplaced-field",
            "'set' only applies to 'action: modify' (this rule is 'deny')",
        )
    ]


def test_unset_on_an_allow_rule_is_misplaced() -> None:
    _, found = load(rule_file("unset: [data.x]", action="allow"))
    assert found == [
        (
            "p.yaml:6:5",
            "misplaced-field",
            "'unset' only applies to 'action: modify' (this rule is 'allow')",
        )
    ]


def test_a_modify_rule_without_set_or_unset_is_reported_at_its_action() -> None:
    _, found = load(rule_file(action="modify"))
    assert found == [
        (
            "p.yaml:5:13",
            "missing-field",
            "a 'modify' rule needs 'set' or 'unset' to say what to change",
        )
    ]


def test_a_modify_rule_with_an_empty_set_is_reported() -> None:
    _, found = load(rule_file("set: {}", action="modify"))
    assert [f[:2] for f in found] == [("p.yaml:5:13", "missing-field")]


def test_a_modify_rule_with_only_unset_is_valid() -> None:
    _, found = load(rule_file("unset: data.x", action="modify"))
    assert found == []


def test_message_on_an_allow_rule_is_misplaced() -> None:
    _, found = load(rule_file("message: hi", action="allow"))
    assert found == [
        (
            "p.yaml:6:5",
            "misplaced-field",
            "'message' only applies to 'action: deny' (this rule is 'allow')",
        )
    ]


def test_message_on_a_modify_rule_is_misplaced() -> None:
    _, found = load(rule_file("message: hi", "unset: data.x", action="modify"))
    assert found == [
        (
            "p.yaml:6:5",
            "misplaced-field",
            "'message' only applies to 'action: deny' (this rule is 'modify')",
        )
    ]


# -- duplicate keys ------------------------------------------------------------------------------


def test_a_duplicate_top_level_key_is_reported_at_the_second_one() -> None:
    doc, found = load("policy: p\npolicy: q\n")
    assert found == [("p.yaml:2:1", "duplicate-key", "'policy' appears twice in a policy file")]
    assert doc is not None and doc.name.value == "p"


def test_a_duplicate_rule_key_is_reported_at_the_second_one() -> None:
    _, found = load(rule_file("when: data.a", "when: data.b"))
    assert found == [("p.yaml:7:5", "duplicate-key", "'when' appears twice in a rule")]


def test_a_duplicate_list_name_is_reported() -> None:
    _, found = load("policy: p\nlists:\n  a: [1]\n  a: [2]\n")
    assert found == [("p.yaml:4:3", "duplicate-key", "'a' appears twice in 'lists'")]


def test_a_duplicate_set_target_key_is_reported() -> None:
    _, found = load(rule_file("set:", "  data.x: 1", "  data.x: 2", action="modify"))
    assert found == [("p.yaml:8:7", "duplicate-key", "'data.x' appears twice in 'set'")]


# -- YAML syntax errors --------------------------------------------------------------------------


def test_a_tab_used_for_indentation_is_reported_with_a_hint() -> None:
    doc, found = load("policy: p\nrules:\n  - id: r\n\tevents: message.shouldCreate\n")
    assert doc is None
    assert found == [
        (
            "p.yaml:4:1",
            "yaml",
            f"YAML syntax error: {yamlerrors.TAB} "
            "(YAML: found character '\\t' that cannot start any token)",
        )
    ]


def test_an_unclosed_flow_list_is_reported_where_yaml_notices_it() -> None:
    _, found = load("policy: p\nrules:\n  - id: r\n    events: [a, b\n    action: deny\n")
    assert found == [("p.yaml:5:11", "yaml", "YAML syntax error: expected ',' or ']', but got ':'")]


def test_a_bad_indentation_is_reported_at_the_offending_line() -> None:
    _, found = load("policy: p\nrules:\n  - id: r\n   events: x\n")
    assert found == [
        (
            "p.yaml:4:4",
            "yaml",
            f"YAML syntax error: {yamlerrors.INDENT} "
            "(YAML: expected <block end>, but found '<block mapping start>')",
        )
    ]


def test_an_unclosed_quote_is_reported_at_the_end_of_the_file() -> None:
    _, found = load('policy: p\nrules:\n  - id: "r\n')
    assert found == [("p.yaml:4:1", "yaml", "YAML syntax error: found unexpected end of stream")]


def test_an_undefined_alias_is_a_yaml_error() -> None:
    _, found = load("policy: p\ndescription: *nope\n")
    assert found == [("p.yaml:2:14", "yaml", "YAML syntax error: found undefined alias 'nope'")]


def test_a_control_character_is_a_one_line_yaml_error_at_the_character() -> None:
    doc, found = load("policy: p\x01\n")
    assert doc is None
    assert found == [
        (
            "p.yaml:1:10",
            "yaml",
            "YAML error: unacceptable character #x0001: special characters are not allowed",
        )
    ]


# -- YAML values that cannot be constructed ------------------------------------------------------


def test_an_impossible_date_is_kept_as_text() -> None:
    doc, found = load("policy: 2020-13-45\n")
    assert found == []
    assert doc is not None and doc.name.value == "2020-13-45"


def test_an_unknown_yaml_tag_is_ignored() -> None:
    doc, found = load("policy: !custom p\n")
    assert found == []
    assert doc is not None and doc.name.value == "p"


def test_a_value_that_does_not_fit_its_yaml_tag_is_reported_as_the_wrong_type() -> None:
    _, found = load("policy: p\npriority: !!int high\n")
    assert found == [
        ("p.yaml:2:11", "type", "'priority' must be a whole number (higher runs first)")
    ]


# -- empty and odd files -------------------------------------------------------------------------


def test_an_empty_file_is_reported() -> None:
    doc, found = load("")
    assert doc is None
    assert found == [("p.yaml:1:1", "empty-file", "the policy file is empty")]


def test_a_file_with_only_comments_is_empty() -> None:
    _, found = load("# nothing here\n# yet\n")
    assert found == [("p.yaml:1:1", "empty-file", "the policy file is empty")]


def test_a_file_that_is_a_list_is_not_a_policy() -> None:
    doc, found = load("- a\n- b\n")
    assert doc is None
    assert found == [("p.yaml:1:1", "type", "a policy file must be a mapping (key: value lines)")]


def test_a_file_that_is_a_scalar_is_not_a_policy() -> None:
    _, found = load("hello\n")
    assert found == [("p.yaml:1:1", "type", "a policy file must be a mapping (key: value lines)")]


def test_a_file_that_is_not_utf8_is_reported_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("policy: caf\xe9\n".encode("latin-1"))
    diags = Diagnostics()
    assert load_file(path, diags) is None
    (diag,) = diags
    assert (diag.code, diag.span, diag.location) == ("encoding", None, str(path))
    assert diag.message.startswith("the file is not UTF-8 text")


# -- which files are policies --------------------------------------------------------------------


def test_test_yaml_files_are_not_policies(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", VALID)
    write(tmp_path, "a.test.yaml", "this: [is not a policy\n")
    write(tmp_path, "b.test.yml", "neither: [is this\n")
    assert policy_files([tmp_path]) == [tmp_path / "a.yaml"]
    assert check_paths([tmp_path]).diagnostics == []


def test_yml_files_are_policies(tmp_path: Path) -> None:
    write(tmp_path, "a.yml", VALID)
    report = check_paths([tmp_path])
    assert report.diagnostics == []
    assert [p.name for p in report.policies] == ["p"]


def test_policy_files_are_found_in_subdirectories_and_sorted_by_name(tmp_path: Path) -> None:
    write(tmp_path, "z/a.yaml", VALID)
    write(tmp_path, "b.yaml", VALID)
    write(tmp_path, "notes.txt", "not yaml")
    assert policy_files([tmp_path]) == [tmp_path / "z" / "a.yaml", tmp_path / "b.yaml"]


def test_a_file_given_by_name_is_read_whatever_its_suffix(tmp_path: Path) -> None:
    path = write(tmp_path, "policy.txt", VALID)
    assert policy_files([path]) == [path]


def test_a_missing_path_is_an_io_error_without_a_span(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    (diag,) = check_paths([missing]).diagnostics
    assert (diag.code, diag.severity, diag.span, diag.location) == (
        "io",
        "error",
        None,
        str(missing),
    )


def test_a_directory_without_policies_is_a_warning(tmp_path: Path) -> None:
    (diag,) = check_paths([tmp_path]).diagnostics
    assert (diag.code, diag.severity) == ("no-policies", "warning")
    assert diag.message == f"no policy files (*.yaml) found in {tmp_path}"


def test_users_files_are_not_policies(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", VALID)
    write(tmp_path, "members.users.yaml", "u1: {role: member}\n")
    write(tmp_path, "staff/mods.users.yml", "mod_ana: {role: moderator}\n")
    write(tmp_path, "all.users.json", '{"u1": {"role": "member"}}\n')
    assert policy_files([tmp_path]) == [tmp_path / "a.yaml"]
    assert check_paths([tmp_path]).diagnostics == []


def test_a_users_map_among_the_policies_is_named_for_what_it_is(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", VALID)
    users = write(tmp_path, "users.yaml", "u1: {role: member}\nmod_ana: {role: moderator}\n")
    (diag,) = check_paths([tmp_path]).diagnostics
    assert (diag.location, diag.code) == (f"{users}:1:1", "not-a-policy")
    assert "looks like a users file" in diag.message
    assert "name it users.users.yaml" in diag.message
