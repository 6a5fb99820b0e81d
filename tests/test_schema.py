"""The JSON Schemas of policy and test files (receiver/load/schema.py, ``receiver schema``).

The shipped schemas (``schemas/``) are the command's output; every shipped policy and
test file, and every policy or test file the README and docs/ show, is valid under
them and names its schema on its first line; broken files are not valid; the modeline
is a comment the loader ignores, and positions in errors still point at the right line.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from receiver.cli import main
from receiver.load.schema import KINDS, render, schema
from receiver.runtime.policyset import check_paths

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas"
POLICY_FILES = sorted(p for p in (ROOT / "policies").glob("*.yaml"))


class EditorLoader(yaml.SafeLoader):
    """YAML read as an editor's YAML 1.2 language server reads it: a date or time is
    text, and only true/false are booleans (PyYAML's YAML 1.1 reads `on`, `yes` and
    `2026-11-22` otherwise)."""


EditorLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
EditorLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def as_editor_reads(text: str) -> Any:
    return yaml.load(text, Loader=EditorLoader)


def validator(kind: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema(kind))


def kind_of(path: Path) -> str:
    return "test" if path.name.endswith(".test.yaml") else "policy"


def errors(kind: str, document: Any) -> list[str]:
    found = validator(kind).iter_errors(document)
    return sorted(f"{list(e.absolute_path)}: {e.message}" for e in found)


# -- the schemas and the command ----------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_schema_is_a_valid_draft_2020_12_schema(kind: str) -> None:
    jsonschema.Draft202012Validator.check_schema(schema(kind))
    assert schema(kind)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_shipped_schema_is_what_the_command_prints(
    kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schema", kind]) == 0
    printed = capsys.readouterr().out
    shipped = (SCHEMAS / f"{kind}.schema.json").read_text(encoding="utf-8")
    assert printed == shipped, f"run: receiver schema {kind} -o schemas/{kind}.schema.json"
    assert printed == render(schema(kind))


def test_schema_writes_the_file_given_with_o(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "policy.schema.json"
    assert main(["schema", "policy", "-o", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render(schema("policy"))
    out, err = capsys.readouterr()
    assert out == ""
    assert f"wrote {target}" in err


def test_schema_to_an_unwritable_path_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schema", "test", "-o", str(tmp_path / "missing" / "t.json")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_schema_names_the_kinds_it_knows(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["schema", "users"])
    assert exit_.value.code == 2
    assert "policy" in capsys.readouterr().err


def test_descriptions_come_from_the_docs_table() -> None:
    rule = schema("policy")["$defs"]["rule"]["properties"]
    assert rule["action"]["enum"] == ["allow", "deny", "modify"]
    assert rule["mode"]["description"] == "enforce (default) or shadow"
    assert rule["mode"]["markdownDescription"] == "`enforce` (default) or `shadow`"
    top = schema("policy")["properties"]
    assert top["on_error"]["enum"] == ["skip", "deny"]
    # links into the README mean nothing in an editor: their text stays
    assert "see Counters" in top["counters"]["description"]


# -- the shipped files --------------------------------------------------------------------


def test_there_are_shipped_policies_and_tests() -> None:
    kinds = [kind_of(p) for p in POLICY_FILES]
    assert kinds.count("policy") >= 10
    assert kinds.count("test") >= 10


@pytest.mark.parametrize("path", POLICY_FILES, ids=[p.name for p in POLICY_FILES])
def test_a_shipped_file_names_its_schema_on_its_first_line(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    expected = f"# yaml-language-server: $schema=../schemas/{kind_of(path)}.schema.json"
    assert first == expected
    target = first.split("$schema=", 1)[1]
    assert (path.parent / target).resolve().is_file()


@pytest.mark.parametrize("path", POLICY_FILES, ids=[p.name for p in POLICY_FILES])
def test_a_shipped_file_is_valid_under_its_schema(path: Path) -> None:
    document = as_editor_reads(path.read_text(encoding="utf-8"))
    assert errors(kind_of(path), document) == []


def _docs_examples() -> list[tuple[str, str, Any]]:
    """Every ``yaml`` block of the README and docs/ that is a policy or a test file."""
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"^```yaml\n(.*?)^```", text, re.M | re.S):
            document = as_editor_reads(match.group(1))
            if isinstance(document, dict) and ("policy" in document or "cases" in document):
                line = text.count("\n", 0, match.start()) + 1
                kind = "test" if "cases" in document else "policy"
                found.append((f"{path.name}:{line}", kind, document))
    return found


DOCS_EXAMPLES = _docs_examples()


def test_the_docs_show_policy_and_test_files() -> None:
    kinds = [kind for _, kind, _ in DOCS_EXAMPLES]
    assert kinds.count("policy") >= 3
    assert kinds.count("test") >= 1


@pytest.mark.parametrize(
    ("where", "kind", "document"), DOCS_EXAMPLES, ids=[w for w, _, _ in DOCS_EXAMPLES]
)
def test_a_docs_example_is_valid_under_its_schema(where: str, kind: str, document: Any) -> None:
    assert errors(kind, document) == []


# -- broken files fail the schema ---------------------------------------------------------

RULE = {"id": "r", "events": "message.shouldCreate", "action": "deny"}

BROKEN_POLICIES: dict[str, tuple[dict[str, Any], str]] = {
    "unknown key in a policy": ({"policy": "p", "priorty": 1}, "'priorty' was unexpected"),
    "unknown key in a rule": (
        {"policy": "p", "rules": [{**RULE, "whne": "true"}]},
        "'whne' was unexpected",
    ),
    "bad action": (
        {"policy": "p", "rules": [{**RULE, "action": "block"}]},
        "'block' is not one of ['allow', 'deny', 'modify']",
    ),
    "rule without action": (
        {"policy": "p", "rules": [{"id": "r", "events": "x"}]},
        "'action' is a required property",
    ),
    "bad on_error": ({"policy": "p", "on_error": "allow"}, "'allow' is not one of"),
    "set on a deny rule": (
        {"policy": "p", "rules": [{**RULE, "set": {"text": "1"}}]},
        "False schema does not allow",
    ),
    "modify without set or unset": (
        {"policy": "p", "rules": [{**RULE, "action": "modify"}]},
        "is not valid under any of the given schemas",
    ),
    "status out of range": (
        {"policy": "p", "rules": [{**RULE, "status": 200}]},
        "200 is less than the minimum of 400",
    ),
    "rollout over 100": (
        {"policy": "p", "rules": [{**RULE, "rollout": "150%"}]},
        "is not valid under any of the given schemas",
    ),
    "rollout in shadow mode": (
        {"policy": "p", "rules": [{**RULE, "mode": "shadow", "rollout": "10%"}]},
        "False schema does not allow",
    ),
    "rollout_key without rollout": (
        {"policy": "p", "rules": [{**RULE, "rollout_key": "data.channelId"}]},
        "'rollout' is a dependency of 'rollout_key'",
    ),
    "expires without a zone": (
        {"policy": "p", "rules": [{**RULE, "expires": "2027-01-31T00:00:00"}]},
        "does not match",
    ),
    "counter with events and decisions": (
        {
            "policy": "p",
            "counters": {"c": {"events": "x", "decisions": ["r"], "key": "1", "window": "1m"}},
        },
        "is valid under each of",
    ),
    "counter window not a duration": (
        {"policy": "p", "counters": {"c": {"events": "x", "key": "1", "window": "60"}}},
        "does not match",
    ),
}


@pytest.mark.parametrize(
    ("document", "message"), BROKEN_POLICIES.values(), ids=list(BROKEN_POLICIES)
)
def test_a_broken_policy_fails_the_schema(document: dict[str, Any], message: str) -> None:
    found = errors("policy", document)
    assert any(message in e for e in found), found


CASE = {"name": "c", "event": "message.shouldCreate", "expect": "allow"}

BROKEN_TESTS: dict[str, tuple[dict[str, Any], str]] = {
    "unknown key in a case": ({"cases": [{**CASE, "expext": "allow"}]}, "'expext' was unexpected"),
    "bad verdict": ({"cases": [{**CASE, "expect": "block"}]}, "is not valid under any"),
    "unknown expectation": (
        {"cases": [{**CASE, "expect": {"acton": "deny"}}]},
        "is not valid under any",
    ),
    "no cases": ({"suite": "s"}, "'cases' is a required property"),
    "payload with data": (
        {"cases": [{**CASE, "payload": "p.json", "data": {}}]},
        "should not be valid under",
    ),
    "bad rollout pin": (
        {"cases": [{**CASE, "rollout": {"links/r": "enforced"}}]},
        "'enforced' is not one of ['enforce', 'shadow']",
    ),
    "negative counter seed": (
        {"counters": {"c": {"sam": -1}}, "cases": [CASE]},
        "-1 is less than the minimum of 0",
    ),
}


@pytest.mark.parametrize(("document", "message"), BROKEN_TESTS.values(), ids=list(BROKEN_TESTS))
def test_a_broken_test_file_fails_the_schema(document: dict[str, Any], message: str) -> None:
    found = errors("test", document)
    assert any(message in e for e in found), found


def test_the_new_rule_fields_pass_in_their_pinned_forms() -> None:
    rules = [
        {**RULE, "rollout": "10%", "rollout_key": "data.channelId"},
        {**RULE, "rollout": "0.5%"},
        {**RULE, "rollout": 100},
        {**RULE, "rollout": 12.5},
        {**RULE, "expires": "2027-01-31T00:00:00Z"},
        {**RULE, "expires": "2027-01-31"},
        {**RULE, "expires": "2027-01-31T01:00:00+01:00"},
    ]
    assert errors("policy", {"policy": "p", "rules": rules}) == []
    case = {**CASE, "rollout": {"links/r": "shadow"}}
    case["expect"] = {"action": "allow", "rollout": {"links/r": "enforced"}}
    assert errors("test", {"defaults": {"rollout": {"r": "enforce"}}, "cases": [case]}) == []


def test_a_draft_7_validator_reads_the_schemas_the_same_but_for_dependent_required() -> None:
    """The YAML extension validates with draft-07 rules (docs/editors.md): the schemas keep
    to keywords draft-07 knows, except ``dependentRequired``, which it skips."""
    for kind, cases in (("policy", BROKEN_POLICIES), ("test", BROKEN_TESTS)):
        draft7 = jsonschema.Draft7Validator(schema(kind))
        for name, (document, _) in cases.items():
            skipped = name == "rollout_key without rollout"
            assert draft7.is_valid(document) is skipped, name
    for path in POLICY_FILES:
        document = as_editor_reads(path.read_text(encoding="utf-8"))
        assert jsonschema.Draft7Validator(schema(kind_of(path))).is_valid(document), path.name


# -- the modeline is a comment ------------------------------------------------------------


def test_an_error_in_a_shipped_policy_points_at_its_line_below_the_modeline(
    tmp_path: Path,
) -> None:
    text = (ROOT / "policies" / "links.yaml").read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=")
    broken = text.replace("links: urls(text)", "links: urlz(text)", 1)
    assert broken != text
    line = broken.splitlines().index("  links: urlz(text)") + 1
    (tmp_path / "links.yaml").write_text(broken, encoding="utf-8")
    report = check_paths([tmp_path])
    found = [(d.span.line, d.span.column, d.code) for d in report.diagnostics if d.code]
    assert (line, 10, "unknown-function") in found, found


def test_the_modeline_reaches_an_editor_as_a_comment_only() -> None:
    """The first line is a YAML comment: the document reads the same without it."""
    for path in POLICY_FILES:
        text = path.read_text(encoding="utf-8")
        rest = text.split("\n", 1)[1]
        assert yaml.safe_load(io.StringIO(text)) == yaml.safe_load(io.StringIO(rest))
