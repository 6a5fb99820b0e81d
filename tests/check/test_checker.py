"""Tests for receiver.check.checker: every diagnostic it emits, with its file, line, column and
code.

Policies are written to a temporary directory and checked with ``check_paths``, the
same entry point as ``receiver check``. Locations are shown relative to that
directory (``p.yaml:6:7``).
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import NamedTuple

import pytest

from receiver.runtime.policyset import check_paths
from receiver.text.diagnostics import Diagnostic


class Found(NamedTuple):
    where: str  # FILE:LINE:COL, FILE relative to the policy directory
    severity: str
    code: str
    message: str


def _found(diag: Diagnostic, root: Path) -> Found:
    assert diag.span is not None, diag
    where = f"{Path(diag.span.path).relative_to(root)}:{diag.span.line}:{diag.span.column}"
    return Found(where, diag.severity, diag.code, diag.message)


def check(root: Path, **files: str) -> list[Found]:
    """Check policy files (name -> YAML text, dedented); every diagnostic, sorted."""
    for name, text in files.items():
        (root / name.replace("__", ".")).write_text(textwrap.dedent(text).lstrip("\n"), "utf-8")
    return [_found(d, root) for d in check_paths([root]).diagnostics]


# A one-rule policy whose condition sits alone on line 6, from column 7, in a block scalar
# (so it needs no YAML quoting).
WHEN_LINE, WHEN_COLUMN = 6, 7


def when_policy(expr: str, action: str = "deny") -> str:
    return (
        "policy: p\nrules:\n  - id: r\n    events: message.shouldCreate\n    when: |\n"
        f"      {expr}\n    action: {action}\n"
    )


def check_when(root: Path, expr: str) -> list[Found]:
    return check(root, p__yaml=when_policy(expr))


def at(expr: str, part: str, occurrence: int = 1) -> str:
    """The location of the ``occurrence``-th ``part`` of ``expr`` in ``when_policy``."""
    index = -1
    for _ in range(occurrence):
        index = expr.index(part, index + 1)
    return f"p.yaml:{WHEN_LINE}:{WHEN_COLUMN + index}"


def error(where: str, code: str, message: str) -> Found:
    return Found(where, "error", code, message)


def warning(where: str, code: str, message: str) -> Found:
    return Found(where, "warning", code, message)


# -- a clean policy ------------------------------------------------------------------------------


def test_a_clean_policy_has_no_diagnostics(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        p__yaml="""
        policy: p
        lists:
          staff: [moderator, admin]
        macros:
          is_staff: user.role in staff
          short: len(it) < 3
        rules:
          - id: r
            events: [message.shouldCreate, "post.*"]
            when: not is_staff and any(words(data.text), short)
            action: deny
            message: "Too short ({count(words(data.text), short)} words)."
        """,
    )
    assert found == []


# -- names ---------------------------------------------------------------------------------------


def test_an_unknown_name_suggests_a_close_variable(tmp_path: Path) -> None:
    expr = "dat.x == 1"
    assert check_when(tmp_path, expr) == [
        error(at(expr, "dat"), "unknown-name", "unknown name 'dat'; did you mean 'data'?")
    ]


def test_an_unknown_name_suggests_a_close_list(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        p__yaml="""
        policy: p
        lists:
          staff: [mod]
        rules:
          - id: r
            events: message.shouldCreate
            when: user.role in staf
            action: deny
        """,
    )
    assert found == [
        warning("p.yaml:3:3", "unused", "list 'staff' is never used"),
        error("p.yaml:7:24", "unknown-name", "unknown name 'staf'; did you mean 'staff'?"),
    ]


def test_an_unknown_name_suggests_a_close_macro(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        p__yaml="""
        policy: p
        macros:
          is_spam: data.x == 1
        rules:
          - id: r
            events: message.shouldCreate
            when: is_spm
            action: deny
        """,
    )
    assert found == [
        warning("p.yaml:3:3", "unused", "macro 'is_spam' is never used"),
        error("p.yaml:7:11", "unknown-name", "unknown name 'is_spm'; did you mean 'is_spam'?"),
    ]


def test_an_unknown_name_without_a_close_match_lists_the_names(tmp_path: Path) -> None:
    expr = "zzzzz"
    (found,) = check_when(tmp_path, expr)
    assert found[:3] == (at(expr, "zzzzz"), "error", "unknown-name")
    assert found.message.startswith("unknown name 'zzzzz'; names are event, data, actor, user, ")
    assert found.message.endswith(", or a list or macro of this policy")


def test_it_outside_any_all_or_count_is_an_unknown_name(tmp_path: Path) -> None:
    expr = "it == 1"
    assert check_when(tmp_path, expr) == [
        error(
            at(expr, "it"),
            "unknown-name",
            "'it' only exists inside the condition of any(), all() or count()",
        )
    ]


def test_it_in_the_list_argument_of_any_is_an_unknown_name(tmp_path: Path) -> None:
    expr = "any(it, true)"
    assert [f.where for f in check_when(tmp_path, expr)] == [at(expr, "it")]


@pytest.mark.parametrize(
    "expr",
    [
        "any(words(data.text), it == 'x')",
        "all(data.tags, len(it) < 5)",
        "count(urls(data.text), domain(it) == 'bit.ly') > 1",
        "any(data.rows, any(it, it > 1))",
    ],
)
def test_it_inside_the_condition_of_any_all_or_count_is_allowed(tmp_path: Path, expr: str) -> None:
    assert check_when(tmp_path, expr) == []


def test_a_macro_using_it_cannot_be_used_outside_any_all_or_count(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        p__yaml="""
        policy: p
        macros:
          short: len(it) < 3
        rules:
          - id: r
            events: message.shouldCreate
            when: short or any(data.tags, short)
            action: deny
        """,
    )
    assert found == [
        error(
            "p.yaml:7:11",
            "unknown-name",
            "macro 'short' uses 'it', so it can only be used inside any(), all() or count()",
        )
    ]


def test_a_function_name_used_as_a_value_says_to_call_it(tmp_path: Path) -> None:
    expr = "len == 2"
    assert check_when(tmp_path, expr) == [
        error(at(expr, "len"), "not-a-value", "'len' is a function; call it as len(...)")
    ]


def test_an_unknown_function_suggests_a_close_function(tmp_path: Path) -> None:
    expr = "lenn(data.text) > 0"
    assert check_when(tmp_path, expr) == [
        error(at(expr, "lenn"), "unknown-function", "unknown function 'lenn'; did you mean 'len'?")
    ]


def test_the_arguments_of_an_unknown_function_are_still_checked(tmp_path: Path) -> None:
    expr = "frobnicate(zzzzz)"
    assert [(f.where, f.code) for f in check_when(tmp_path, expr)] == [
        (at(expr, "frobnicate"), "unknown-function"),
        (at(expr, "zzzzz"), "unknown-name"),
    ]


def test_calling_a_list_says_to_use_it_without_parentheses(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        p__yaml="""
        policy: p
        lists:
          staff: [mod]
        rules:
          - id: r
            events: message.shouldCreate
            when: staff(user.role)
            action: deny
        """,
    )
    assert found == [
        warning("p.yaml:3:3", "unused", "list 'staff' is never used"),
        error(
            "p.yaml:7:11",
            "not-a-function",
            "'staff' is a list, not a function; use it without parentheses",
        ),
    ]


def test_calling_a_macro_says_to_use_it_without_parentheses(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        p__yaml="""
        policy: p
        macros:
          m: true
        rules:
          - id: r
            events: message.shouldCreate
            when: m()
            action: deny
        """,
    )
    assert (
        error(
            "p.yaml:7:11",
            "not-a-function",
            "'m' is a macro, not a function; use it without parentheses",
        )
        in found
    )


# -- arity ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("len(data.a, data.b) > 0", "len() takes 1 argument, got 2"),
        ("now(1) > now()", "now() takes 0 arguments, got 1"),
        ("replace(data.a, 'b') == ''", "replace() takes 3 arguments, got 2"),
        ("coalesce() == 1", "coalesce() takes at least 1 argument, got 0"),
        ("any(data.tags)", "any() takes 2 arguments, got 1"),
    ],
)
def test_a_call_with_the_wrong_number_of_arguments_is_reported_on_the_call(
    tmp_path: Path, expr: str, message: str
) -> None:
    assert check_when(tmp_path, expr) == [error(at(expr, expr.partition("(")[0]), "arity", message)]


# -- types ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "part", "message"),
    [
        ("len(5) > 0", "5", "len() argument 1 must be a list or map or string, not a number"),
        ('"a" > 3', ">", "cannot compare a string with a number using '>'"),
        ("[1] < 2", "[1]", "'<' compares numbers, strings, durations or times, not a list"),
        ('"a".b == 1', '"a".b', "cannot read field 'b' of a string"),
        ("5[0] == 1", "5[0]", "cannot index into a number"),
        ('[1]["a"] == 1', '"a"', "a list is indexed by a number, not a string"),
        ('-"a" == 1', '-"a"', "cannot negate a string"),
        ("not 5", "5", "'not' needs true/false values, but this is a number"),
        ("5 and true", "5", "'and' needs true/false values, but this is a number"),
        ('"a" - 1 == 1', "-", "cannot use '-' on a string and a number"),
        ("1 in 5", "5", "'in' needs a list, string or map, not a number"),
        ('1 in "abc"', "1", "cannot look for a number inside a string"),
        ('5 startswith "a"', "5", "'startswith' works on strings, not a number"),
        ('5 matches "a"', "5", "'matches' works on strings, not a number"),
        ("any([1], 5)", "5", "any() condition 2 must be a bool, not a number"),
        (
            "age(true) > 1d",
            "true",
            "age() argument 1 must be a number or string or time, not a bool",
        ),
        ("1h + 1 > 2h", "+", "cannot use '+' on a duration and a number"),
    ],
)
def test_a_type_mismatch_is_reported_where_it_happens(
    tmp_path: Path, expr: str, part: str, message: str
) -> None:
    assert check_when(tmp_path, expr) == [error(at(expr, part), "type", message)]


@pytest.mark.parametrize(
    "expr",
    [
        "age(user.createdAt) < 7d",
        "now() - 1h < now()",
        "2 * 1h == 120m",
        "data.n * 2 > 1",
        "len(data.text) % 2 == 0",
        "data.x == null",
        "lower(data.text) startswith 'hi'",
        "data.tags contains 'x'",
        "'k' in {k: 1}",
        "merge(data, {a: 1}).a == 1",
    ],
)
def test_well_typed_expressions_have_no_diagnostics(tmp_path: Path, expr: str) -> None:
    assert check_when(tmp_path, expr) == []


def test_comparing_different_types_with_equals_is_always_false(tmp_path: Path) -> None:
    expr = '"a" == 1'
    assert check_when(tmp_path, expr) == [
        warning(
            at(expr, "=="),
            "always-constant",
            "a string is never equal to a number, so this is always false",
        )
    ]


def test_comparing_different_types_with_not_equals_is_always_true(tmp_path: Path) -> None:
    expr = "event != 1"
    assert check_when(tmp_path, expr) == [
        warning(
            at(expr, "!="),
            "always-constant",
            "a string is never equal to a number, so this is always true",
        )
    ]


# -- conditions must be true/false ---------------------------------------------------------------


def test_a_string_condition_suggests_testing_its_length(tmp_path: Path) -> None:
    expr = "lower(data.text)"
    assert check_when(tmp_path, expr) == [
        error(
            at(expr, "lower"),
            "not-boolean",
            "'when' must be a true/false condition, but this is a string; "
            "did you mean len(lower(data.text)) > 0?",
        )
    ]


def test_a_list_condition_suggests_testing_its_length(tmp_path: Path) -> None:
    expr = "urls(data.text)"
    assert check_when(tmp_path, expr) == [
        error(
            at(expr, "urls"),
            "not-boolean",
            "'when' must be a true/false condition, but this is a list; "
            "did you mean len(urls(data.text)) > 0?",
        )
    ]


def test_a_number_condition_is_reported_without_a_suggestion(tmp_path: Path) -> None:
    expr = "len(data.text)"
    assert check_when(tmp_path, expr) == [
        error(
            at(expr, "len"),
            "not-boolean",
            "'when' must be a true/false condition, but this is a number",
        )
    ]


def test_an_unless_condition_must_be_true_or_false(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        p__yaml="""
        policy: p
        rules:
          - id: r
            events: message.shouldCreate
            unless: '"yes"'
            action: deny
        """,
    )
    assert found == [
        error(
            "p.yaml:5:14",
            "not-boolean",
            "'unless' must be a true/false condition, but this is a string; "
            'did you mean len("yes") > 0?',
        )
    ]


def test_a_field_of_unknown_type_is_accepted_as_a_condition(tmp_path: Path) -> None:
    assert check_when(tmp_path, "data.flagged") == []


# -- regular expressions -------------------------------------------------------------------------


def test_an_invalid_regex_is_reported_on_its_string_literal(tmp_path: Path) -> None:
    expr = 'data.text matches "(a"'
    assert check_when(tmp_path, expr) == [
        error(at(expr, '"(a"'), "regex", "invalid regular expression: missing ): (a")
    ]


def test_a_lookaround_regex_explains_that_re2_has_none(tmp_path: Path) -> None:
    expr = 'data.text matches "(?=x)y"'
    assert check_when(tmp_path, expr) == [
        error(
            at(expr, '"(?='),
            "regex",
            "invalid regular expression: invalid perl operator: (?=; "
            "RE2 has no lookaround (it guarantees linear time)",
        )
    ]


def test_a_backreference_regex_explains_that_re2_has_none(tmp_path: Path) -> None:
    expr = r'data.text matches "(a)\\1"'
    assert check_when(tmp_path, expr) == [
        error(
            at(expr, '"(a)'),
            "regex",
            "invalid regular expression: invalid escape sequence: \\1; "
            "RE2 has no backreferences (it guarantees linear time)",
        )
    ]


def test_a_regex_error_points_inside_a_double_quoted_yaml_string(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        p__yaml="""
        policy: p
        rules:
          - id: r
            events: message.shouldCreate
            when: "lower(data.text) matches '(?<!a)b'"
            action: deny
        """,
    )
    assert [(f.where, f.code) for f in found] == [("p.yaml:5:37", "regex")]
    assert found[0].message.endswith("; RE2 has no lookaround (it guarantees linear time)")


def test_a_pattern_that_is_not_a_literal_is_reported(tmp_path: Path) -> None:
    expr = "data.text matches data.pattern"
    assert check_when(tmp_path, expr) == [
        error(
            at(expr, "data.pattern"),
            "pattern-not-literal",
            "'matches' needs a pattern written as a string literal, e.g. \"(?i)^free\"",
        )
    ]


def test_a_macro_holding_a_literal_pattern_is_accepted(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        p__yaml="""
        policy: p
        macros:
          greeting: '"(?i)^h(i|ello)"'
        rules:
          - id: r
            events: message.shouldCreate
            when: data.text matches greeting
            action: deny
        """,
    )
    assert found == []


def test_regex_replace_checks_its_pattern_argument(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        p__yaml="""
        policy: p
        rules:
          - id: r
            events: message.shouldCreate
            action: modify
            set:
              data.a: regex_replace(data.text, data.p, "")
              data.b: regex_replace(data.text, "[a-", "")
        """,
    )
    assert [(f.where, f.code) for f in found] == [
        ("p.yaml:7:40", "pattern-not-literal"),
        ("p.yaml:8:40", "regex"),
    ]
    assert found[0].message.startswith("regex_replace() needs a pattern written as a string")


# -- macros --------------------------------------------------------------------------------------


def test_a_two_macro_cycle_is_reported_once_where_it_closes(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        p__yaml="""
        policy: p
        macros:
          a: b
          b: a
        rules:
          - id: r
            events: message.shouldCreate
            when: a
            action: deny
        """,
    )
    cycles = [f for f in found if f.code == "macro-cycle"]
    assert cycles == [
        error("p.yaml:4:6", "macro-cycle", "macros refer to each other in a cycle: a -> b -> a")
    ]
    assert all(f.severity == "warning" for f in found if f.code != "macro-cycle")


def test_a_three_macro_cycle_is_reported_once_where_it_closes(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        p__yaml="""
        policy: p
        macros:
          a: b and true
          b: c
          c: a
        rules:
          - id: r
            events: message.shouldCreate
            when: a
            action: deny
        """,
    )
    assert [f for f in found if f.code == "macro-cycle"] == [
        error(
            "p.yaml:5:6",
            "macro-cycle",
            "macros refer to each other in a cycle: a -> b -> c -> a",
        )
    ]


def test_a_macro_that_uses_itself_is_a_cycle(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        p__yaml="""
        policy: p
        macros:
          a: a or true
        rules:
          - id: r
            events: message.shouldCreate
            when: a
            action: deny
        """,
    )
    assert [f for f in found if f.code == "macro-cycle"] == [
        error("p.yaml:3:6", "macro-cycle", "macros refer to each other in a cycle: a -> a")
    ]


def test_a_syntax_error_in_a_macro_is_reported_in_the_macro(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        p__yaml="""
        policy: p
        macros:
          m: data.x = 1
        rules:
          - id: r
            events: message.shouldCreate
            when: m
            action: deny
        """,
    )
    assert found == [error("p.yaml:3:13", "syntax", "'=' is assignment; use '==' to compare")]


# -- ids and policy names ------------------------------------------------------------------------


def test_a_duplicate_rule_id_is_reported_at_the_second_rule(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        p__yaml="""
        policy: p
        rules:
          - id: r
            events: message.shouldCreate
            when: data.a
            action: deny
          - id: r
            events: message.shouldUpdate
            when: data.b
            action: deny
        """,
    )
    assert found == [
        error(
            "p.yaml:7:9",
            "duplicate-id",
            "rule id 'r' is already used on line 3; ids must be unique in a policy",
        )
    ]


def test_the_same_rule_id_in_two_policies_is_allowed(tmp_path: Path) -> None:
    rule = (
        "rules:\n  - id: r\n    events: message.shouldCreate\n    when: data.a\n    action: deny\n"
    )
    assert check(tmp_path, a__yaml="policy: a\n" + rule, b__yaml="policy: b\n" + rule) == []


def test_a_duplicate_policy_name_is_reported_in_the_later_file(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        a__yaml="policy: shared\nrules: []\n",
        b__yml="policy: shared\nrules: []\n",
    )
    assert found == [
        error(
            "b.yml:1:9",
            "duplicate-policy",
            f"another file already defines policy 'shared' ({tmp_path / 'a.yaml'}:1); "
            "policy names must be unique",
        )
    ]


def test_a_duplicate_policy_name_is_reported_in_the_lower_priority_file(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        a__yaml="policy: shared\nrules: []\n",
        b__yaml="policy: shared\npriority: 1\nrules: []\n",
    )
    assert [(f.where, f.code) for f in found] == [("a.yaml:1:9", "duplicate-policy")]


# -- set and unset targets -----------------------------------------------------------------------


def modify_policy(*lines: str) -> str:
    body = "".join(f"      {line}\n" for line in lines)
    return (
        "policy: p\nrules:\n  - id: r\n    events: message.shouldCreate\n"
        f"    action: modify\n    set:\n{body}"
    )


@pytest.mark.parametrize(
    "target",
    ["data.text", "text", "data", 'data["a b"]', "data.items[0]", "data.a.b.c"],
)
def test_set_accepts_text_and_paths_under_data(tmp_path: Path, target: str) -> None:
    assert check(tmp_path, p__yaml=modify_policy(f"'{target}': null")) == []


def test_set_outside_data_is_a_bad_target(tmp_path: Path) -> None:
    assert check(tmp_path, p__yaml=modify_policy("actor.x: 1")) == [
        error(
            "p.yaml:7:7",
            "bad-target",
            "can only change fields of 'data' (or 'text'), not 'actor.x'; "
            "the platform ignores everything else",
        )
    ]


def test_a_target_that_is_not_a_path_is_a_bad_target(tmp_path: Path) -> None:
    found = check(tmp_path, p__yaml=modify_policy("'data.': 1"))
    assert found == [
        error(
            "p.yaml:7:8",
            "bad-target",
            "'data.' is not a field path; write data.field or data[\"field name\"]",
        )
    ]


def test_a_computed_target_is_a_bad_target(tmp_path: Path) -> None:
    found = check(tmp_path, p__yaml=modify_policy("'data[data.k]': 1"))
    assert [(f.where, f.code) for f in found] == [("p.yaml:7:8", "bad-target")]


def test_setting_the_same_field_twice_is_reported_at_the_second(tmp_path: Path) -> None:
    found = check(tmp_path, p__yaml=modify_policy("data.a: 1", "'data[\"a\"]': 2"))
    assert found == [error("p.yaml:8:8", "duplicate-target", "'data.a' is set twice in this rule")]


def test_unset_outside_data_is_a_bad_target(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        p__yaml="""
        policy: p
        rules:
          - id: r
            events: message.shouldCreate
            action: modify
            unset: [data.x, user.x]
        """,
    )
    assert [(f.where, f.code) for f in found] == [("p.yaml:6:21", "bad-target")]


def test_unsetting_the_whole_of_data_is_a_bad_target(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        p__yaml="""
        policy: p
        rules:
          - id: r
            events: message.shouldCreate
            action: modify
            unset: data
        """,
    )
    assert found == [error("p.yaml:6:12", "bad-target", "cannot unset the whole of 'data'")]


def test_a_set_value_is_checked_like_a_condition(tmp_path: Path) -> None:
    found = check(tmp_path, p__yaml=modify_policy("data.a: lenn(text)"))
    assert found == [
        error("p.yaml:7:15", "unknown-function", "unknown function 'lenn'; did you mean 'len'?")
    ]


def test_a_bare_word_as_a_set_value_says_how_to_quote_a_string(tmp_path: Path) -> None:
    found = check(tmp_path, p__yaml=modify_policy("data.label: spam"))
    assert found == [
        error(
            "p.yaml:7:19",
            "unknown-name",
            "unknown name 'spam'; to set the string \"spam\", quote it inside the YAML value: "
            "'\"spam\"' (YAML removes one level of quotes)",
        )
    ]


def test_a_quoted_string_as_a_set_value_is_accepted(tmp_path: Path) -> None:
    assert check(tmp_path, p__yaml=modify_policy("data.label: '\"spam\"'")) == []


# -- events --------------------------------------------------------------------------------------


def events_policy(events: str) -> str:
    return (
        f"policy: p\nrules:\n  - id: r\n    events: {events}\n    when: data.x\n    action: deny\n"
    )


def test_an_unknown_event_is_a_warning_with_a_suggestion(tmp_path: Path) -> None:
    assert check(tmp_path, p__yaml=events_policy("message.shouldCreat")) == [
        warning(
            "p.yaml:4:13",
            "unknown-event",
            "'message.shouldCreat' is not a known social.plus event; "
            "did you mean 'message.shouldCreate'?",
        )
    ]


def test_an_unknown_event_without_a_close_match_is_a_plain_warning(tmp_path: Path) -> None:
    assert check(tmp_path, p__yaml=events_policy("[user.login]")) == [
        warning("p.yaml:4:14", "unknown-event", "'user.login' is not a known social.plus event")
    ]


def test_a_glob_matching_no_known_event_is_a_warning(tmp_path: Path) -> None:
    assert check(tmp_path, p__yaml=events_policy("[message.shouldCreate, 'zzz.*']")) == [
        warning(
            "p.yaml:4:36",
            "unknown-event",
            "the pattern 'zzz.*' matches none of the known events "
            "(message.shouldCreate, message.shouldUpdate, message.shouldFlag, ...)",
        )
    ]


@pytest.mark.parametrize("events", ["'*'", "'*.shouldFlag'", "'message.should*'", "'post.?hould*'"])
def test_a_glob_matching_a_known_event_is_accepted(tmp_path: Path, events: str) -> None:
    assert check(tmp_path, p__yaml=events_policy(events)) == []


# -- reachability --------------------------------------------------------------------------------


def test_a_rule_after_an_unconditional_deny_on_the_same_events_is_unreachable(
    tmp_path: Path,
) -> None:
    found = check(
        tmp_path,
        p__yaml="""
        policy: p
        rules:
          - id: block
            events: "message.*"
            action: deny
          - id: later
            events: [message.shouldCreate, message.shouldUpdate]
            when: data.x
            action: allow
        """,
    )
    assert found == [
        warning(
            "p.yaml:6:9",
            "unreachable",
            f"rule 'later' can never apply: 'p/block' ({tmp_path / 'p.yaml'}:3) "
            "always denies these events first",
        )
    ]


def test_a_rule_in_a_lower_priority_policy_is_unreachable_after_an_unconditional_allow(
    tmp_path: Path,
) -> None:
    found = check(
        tmp_path,
        a__yaml="""
        policy: low
        rules:
          - id: later
            events: post.shouldCreate
            when: data.x
            action: deny
        """,
        b__yaml="""
        policy: high
        priority: 10
        rules:
          - id: allow-posts
            events: "post.*"
            action: allow
        """,
    )
    assert found == [
        warning(
            "a.yaml:3:9",
            "unreachable",
            f"rule 'later' can never apply: 'high/allow-posts' ({tmp_path / 'b.yaml'}:4) "
            "always allows these events first",
        )
    ]


def test_a_higher_priority_rule_is_not_made_unreachable_by_a_lower_one(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        a__yaml="policy: low\nrules:\n  - id: all\n    events: '*'\n    action: deny\n",
        b__yaml=(
            "policy: high\npriority: 1\nrules:\n  - id: r\n    events: post.shouldCreate\n"
            "    when: data.x\n    action: allow\n"
        ),
    )
    assert found == []


@pytest.mark.parametrize(
    "first",
    [
        "when: data.x\n    action: deny",  # conditional
        "unless: data.x\n    action: deny",  # has an exception
        "action: deny\n    mode: shadow",  # never changes the answer
        "action: deny\n    enabled: false",  # disabled
        "action: modify\n    unset: data.x",  # lets evaluation go on
    ],
)
def test_a_rule_after_one_that_does_not_always_end_evaluation_is_reachable(
    tmp_path: Path, first: str
) -> None:
    text = (
        f"policy: p\nrules:\n  - id: first\n    events: '*'\n    {first}\n"
        "  - id: second\n    events: message.shouldCreate\n    action: deny\n"
    )
    assert check(tmp_path, p__yaml=text) == []


def test_a_condition_with_a_syntax_error_does_not_make_later_rules_unreachable(
    tmp_path: Path,
) -> None:
    text = (
        "policy: p\nrules:\n  - id: first\n    events: '*'\n    when: data.x && data.y\n"
        "    action: deny\n  - id: second\n    events: message.shouldCreate\n    action: deny\n"
    )
    assert [(f.where, f.code) for f in check(tmp_path, p__yaml=text)] == [("p.yaml:5:18", "syntax")]


def test_a_rule_with_an_event_the_unconditional_rule_misses_is_reachable(tmp_path: Path) -> None:
    text = (
        "policy: p\nrules:\n  - id: first\n    events: 'message.*'\n    action: deny\n"
        "  - id: second\n    events: [message.shouldCreate, post.shouldCreate]\n"
        "    action: deny\n"
    )
    assert check(tmp_path, p__yaml=text) == []


def test_a_disabled_rule_after_an_unconditional_rule_is_not_reported(tmp_path: Path) -> None:
    text = (
        "policy: p\nrules:\n  - id: first\n    events: '*'\n    action: deny\n"
        "  - id: second\n    events: message.shouldCreate\n    action: deny\n"
        "    enabled: false\n"
    )
    assert check(tmp_path, p__yaml=text) == []


# -- unused definitions --------------------------------------------------------------------------


def test_unused_lists_and_macros_are_warnings(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        p__yaml="""
        policy: p
        lists:
          banned: [a]
        macros:
          m: true
        rules:
          - id: r
            events: message.shouldCreate
            when: data.x
            action: deny
        """,
    )
    assert found == [
        warning("p.yaml:3:3", "unused", "list 'banned' is never used"),
        warning("p.yaml:5:3", "unused", "macro 'm' is never used"),
    ]


def test_a_list_used_only_by_a_used_macro_counts_as_used(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        p__yaml="""
        policy: p
        lists:
          staff: [mod]
        macros:
          inner: user.role in staff
          outer: inner and true
        rules:
          - id: r
            events: message.shouldCreate
            when: outer
            action: deny
        """,
    )
    assert found == []


def test_a_list_used_only_by_an_unused_macro_is_unused(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        p__yaml="""
        policy: p
        lists:
          staff: [mod]
        macros:
          m: user.role in staff
        rules:
          - id: r
            events: message.shouldCreate
            when: data.x
            action: deny
        """,
    )
    assert [(f.where, f.code) for f in found] == [
        ("p.yaml:3:3", "unused"),
        ("p.yaml:5:3", "unused"),
    ]


def test_a_list_used_in_a_message_counts_as_used(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        p__yaml="""
        policy: p
        lists:
          banned: [spam]
        rules:
          - id: r
            events: message.shouldCreate
            when: data.x
            action: deny
            message: "No {banned[0]}."
        """,
    )
    assert found == []


# -- definition names ----------------------------------------------------------------------------


def lists_policy(name: str) -> str:
    return (
        f"policy: p\nlists:\n  '{name}': [a]\nrules:\n  - id: r\n"
        f"    events: message.shouldCreate\n    when: x in {name}\n    action: deny\n"
    )


@pytest.mark.parametrize("name", ["and", "not", "true", "null", "contains"])
def test_a_reserved_word_cannot_name_a_list(tmp_path: Path, name: str) -> None:
    found = check(tmp_path, p__yaml=lists_policy(name))
    assert (
        error("p.yaml:3:3", "bad-name", f"'{name}' is a reserved word; pick another list name")
        in found
    )


@pytest.mark.parametrize("name", ["data", "text", "it", "user"])
def test_a_variable_name_cannot_name_a_list(tmp_path: Path, name: str) -> None:
    found = check(tmp_path, p__yaml=lists_policy(name))
    assert (
        error("p.yaml:3:3", "bad-name", f"'{name}' is a reserved word; pick another list name")
        in found
    )


def test_a_builtin_function_name_cannot_name_a_macro(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        p__yaml="""
        policy: p
        macros:
          len: true
        rules: []
        """,
    )
    assert (
        error("p.yaml:3:3", "bad-name", "'len' is a built-in function; pick another macro name")
        in found
    )


def test_a_name_cannot_be_both_a_list_and_a_macro(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        p__yaml="""
        policy: p
        lists:
          staff: [a]
        macros:
          staff: true
        rules: []
        """,
    )
    assert error("p.yaml:5:3", "bad-name", "'staff' is both a list and a macro") in found


@pytest.mark.parametrize("name", ["bad-name", "a b", "1st", "café"])
def test_a_list_name_must_be_an_ascii_identifier(tmp_path: Path, name: str) -> None:
    found = check(tmp_path, p__yaml=f"policy: p\nlists:\n  '{name}': [a]\nrules: []\n")
    assert (
        error(
            "p.yaml:3:3",
            "bad-name",
            f"list name '{name}' must be letters, digits and underscores",
        )
        in found
    )


# -- deny message templates ----------------------------------------------------------------------


def deny_policy(message: str) -> str:
    return (
        "policy: p\nrules:\n  - id: r\n    events: message.shouldCreate\n    when: data.x\n"
        f"    action: deny\n    message: '{message}'\n"
    )


MESSAGE_LINE, MESSAGE_COLUMN = 7, 15  # the first character inside the quotes


def in_message(message: str, part: str) -> str:
    return f"p.yaml:{MESSAGE_LINE}:{MESSAGE_COLUMN + message.index(part)}"


def test_an_unclosed_brace_in_a_message_is_reported_at_the_brace(tmp_path: Path) -> None:
    message = "You have {len(data.text) characters"
    assert check(tmp_path, p__yaml=deny_policy(message)) == [
        error(
            in_message(message, "{"),
            "template",
            "this '{' is never closed; close the expression with '}' or write '{{' for a "
            "literal brace",
        )
    ]


def test_a_lone_closing_brace_in_a_message_is_reported(tmp_path: Path) -> None:
    message = "No :-} allowed"
    assert check(tmp_path, p__yaml=deny_policy(message)) == [
        error(
            in_message(message, "}"),
            "template",
            "a lone '}' in a message; write '}}' for a literal brace",
        )
    ]


def test_doubled_braces_in_a_message_are_literal_braces(tmp_path: Path) -> None:
    assert check(tmp_path, p__yaml=deny_policy("{{no}} {{{len(data.text)}}} }}")) == []


def test_an_expression_in_a_message_is_checked_in_place(tmp_path: Path) -> None:
    message = "Hi {user.nme} {lenn(text)}"
    assert check(tmp_path, p__yaml=deny_policy(message)) == [
        error(
            in_message(message, "lenn"),
            "unknown-function",
            "unknown function 'lenn'; did you mean 'len'?",
        )
    ]


def test_a_syntax_error_in_a_message_points_inside_the_message(tmp_path: Path) -> None:
    message = "Hi {data.a && data.b}"
    assert check(tmp_path, p__yaml=deny_policy(message)) == [
        error(in_message(message, "&&"), "syntax", "use 'and' instead of '&&'")
    ]


def test_an_empty_expression_in_a_message_is_reported(tmp_path: Path) -> None:
    message = "Hi {}"
    found = check(tmp_path, p__yaml=deny_policy(message))
    assert [(f.where, f.code, f.message) for f in found] == [
        (in_message(message, "}"), "syntax", "the expression is empty")
    ]


# -- several problems at once --------------------------------------------------------------------


def test_every_problem_of_a_file_is_reported_in_position_order(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        p__yaml="""
        policy: p
        rules:
          - id: a
            events: message.shouldCreat
            when: data.x && data.y
            action: deny
          - id: b
            events: message.shouldCreate
            when: zzzzz
            action: deny
        """,
    )
    assert [(f.where, f.code) for f in found] == [
        ("p.yaml:4:13", "unknown-event"),
        ("p.yaml:5:18", "syntax"),
        ("p.yaml:9:11", "unknown-name"),
    ]
