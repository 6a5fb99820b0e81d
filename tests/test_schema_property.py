"""What the schemas reject, the readers reject too: the schemas are never stricter.

A rule, a counter and a test case that are valid are varied one field at a time (a
value from a small pool of likely mistakes, an unknown key, a field left out); whenever
the JSON Schema rejects a variation, ``receiver check`` (policies) must report an error
for it, or ``receiver test`` (tests) must call the test file broken. The converse does
not hold: the schema cannot see inside expressions.
"""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from receiver.cli import main
from receiver.load.fields_doc import CASE_FIELDS, COUNTER_FIELDS, EXPECT_FIELDS, POLICY_TABLE
from receiver.load.schema import schema
from receiver.runtime.policyset import check_paths

POLICY = jsonschema.Draft202012Validator(schema("policy"))
TEST = jsonschema.Draft202012Validator(schema("test"))

VALUES = st.sampled_from(
    [
        "",
        " ",
        "allow",
        "deny",
        "modify",
        "enforce",
        "shadow",
        "enforced",
        "none",
        "any",
        "10%",
        "150%",
        "-5%",
        "60s",
        "2027-01-31",
        "2027-01-31T00:00:00Z",
        "2027-01-31T00:00:00",
        "message.shouldCreate",
        "len(text) > 3",
        -1,
        0,
        5,
        403,
        700,
        0.5,
        101.0,
        True,
        False,
        None,
        [],
        ["message.shouldCreate"],
        [1, 2],
        {},
        {"text": '"x"'},
        {"r": "shadow"},
    ]
)


def _names(docs: Any, where: str | None = None) -> list[str]:
    return sorted(
        {
            name
            for doc in docs
            if where is None or any(w.split()[-1] == where for w in doc.where)
            for name in doc.names
        }
    )


def variations(base: dict[str, Any], names: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """``base`` with one field set to a pool value, one unknown key added, or one field
    left out."""
    fields = st.sampled_from([*names, "whne", "on", "Action"])
    changed = st.tuples(fields, VALUES).map(lambda kv: {**base, kv[0]: kv[1]})
    dropped = st.sampled_from(sorted(base)).map(
        lambda k: {key: value for key, value in base.items() if key != k}
    )
    return st.one_of(changed, dropped)


RULE = {"id": "r", "events": "message.shouldCreate", "when": "len(text) > 3", "action": "deny"}
COUNTER = {"events": "message.shouldCreate", "key": "actor.userId", "window": "60s"}
CASE = {"name": "c", "event": "message.shouldCreate", "data": {"text": "hi"}, "expect": "allow"}
EXPECT = {"action": "allow", "rule": "none"}
TESTED_POLICY = {"policy": "p", "rules": [RULE]}

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def check_rejects(tmp_path: Path, policy: dict[str, Any]) -> bool:
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(policy), encoding="utf-8")
    return check_paths([tmp_path]).has_errors


def reader_rejects(tmp_path: Path, document: dict[str, Any]) -> bool:
    """``receiver test`` calls the file broken (exit 2), not merely failing (exit 1)."""
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(TESTED_POLICY), encoding="utf-8")
    path = tmp_path / "t.test.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        return main(["test", str(path)]) == 2


def test_the_unchanged_documents_are_valid_for_both(tmp_path: Path) -> None:
    policy = {
        "policy": "p",
        "rules": [RULE],
        "counters": {"c": COUNTER},
        "macros": {"m": "c > 1"},
    }
    policy["rules"] = [{**RULE, "when": "len(text) > 3 or m"}]
    assert POLICY.is_valid(policy)
    assert not check_rejects(tmp_path, policy)
    document = {"cases": [{**CASE, "expect": EXPECT}]}
    assert TEST.is_valid(document)
    assert not reader_rejects(tmp_path, document)


@SETTINGS
@given(rule=variations(RULE, _names(POLICY_TABLE, "rule")))
def test_a_rule_the_schema_rejects_check_rejects(tmp_path: Path, rule: dict[str, Any]) -> None:
    policy = {"policy": "p", "rules": [rule]}
    if not POLICY.is_valid(policy):
        assert check_rejects(tmp_path, policy), rule


@SETTINGS
@given(top=variations({"policy": "p", "rules": [RULE]}, _names(POLICY_TABLE, "policy")))
def test_a_policy_the_schema_rejects_check_rejects(tmp_path: Path, top: dict[str, Any]) -> None:
    if not POLICY.is_valid(top):
        assert check_rejects(tmp_path, top), top


@SETTINGS
@given(counter=variations(COUNTER, _names(COUNTER_FIELDS)))
def test_a_counter_the_schema_rejects_check_rejects(
    tmp_path: Path, counter: dict[str, Any]
) -> None:
    rule = {**RULE, "when": "c > 5"}
    policy = {"policy": "p", "counters": {"c": counter}, "rules": [rule]}
    if not POLICY.is_valid(policy):
        assert check_rejects(tmp_path, policy), counter


@SETTINGS
@given(case=variations(CASE, _names(CASE_FIELDS)))
def test_a_case_the_schema_rejects_the_reader_rejects(tmp_path: Path, case: dict[str, Any]) -> None:
    document = {"cases": [case]}
    if not TEST.is_valid(document):
        assert reader_rejects(tmp_path, document), case


@SETTINGS
@given(expect=variations(EXPECT, _names(EXPECT_FIELDS)))
def test_an_expectation_the_schema_rejects_the_reader_rejects(
    tmp_path: Path, expect: dict[str, Any]
) -> None:
    document = {"cases": [{**CASE, "expect": expect}]}
    if not TEST.is_valid(document):
        assert reader_rejects(tmp_path, document), expect
