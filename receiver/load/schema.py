"""JSON Schemas of the policy file and test file formats, built from the field table.

Stage 1 (load), as documentation data. Consumes the field table
(:mod:`receiver.load.fields_doc`) and produces a JSON Schema (draft 2020-12) per format:
``policy`` (``*.yaml`` in a policy folder) and ``test`` (``*.test.yaml``). Editors use
them for completion, hover text and errors while a file is written (docs/editors.md);
``receiver schema`` prints them, and ``schemas/`` ships them (a test keeps both equal).

What a schema can say, it says the way the readers do: unknown keys are errors
(``additionalProperties: false``), actions, modes and ``on_error`` are enums, a rule's
``status``/``reason_code``/``message`` only with ``action: deny``, ``set``/``unset``
only with ``action: modify``, ``rollout`` not with ``mode: shadow``, ``rollout_key``
only with ``rollout``, a counter counts ``events`` or ``decisions``. It is never
stricter than the readers, and it cannot see inside expressions (names, types, the
language): ``receiver check`` and ``receiver test`` remain the authority.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from receiver.load.fields_doc import (
    CASE_FIELDS,
    COUNTER_FIELDS,
    DEFAULTS_FIELDS,
    EXPECT_FIELDS,
    POLICY_TABLE,
    SHADOW_ENTRY_FIELDS,
    TEST_FILE_FIELDS,
    FieldDoc,
    Schema,
)

__all__ = ["KINDS", "policy_schema", "render", "schema", "test_schema"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"

_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")


def markdown(meaning: str) -> str:
    """The meaning as an editor shows it on hover: markdown without the docs' links
    (they point into the README, which the editor does not have)."""
    return _LINK.sub(r"\1", meaning)


def plain(meaning: str) -> str:
    """The meaning as plain text, for editors without markdown."""
    return markdown(meaning).replace("**", "").replace("`", "")


def _properties(docs: Iterable[FieldDoc], where: str | None = None) -> tuple[Schema, list[str]]:
    """The properties (and required names) of the fields in ``docs`` that go in ``where``
    (the last word of a ``where`` entry: ``policy``, ``rule``), or all of them."""
    properties: Schema = {}
    required: list[str] = []
    for doc in docs:
        if where is not None and not any(w.split()[-1] == where for w in doc.where):
            continue
        for name in doc.names:
            prop: Schema = dict(doc.schemas[name])
            prop["description"] = plain(doc.meaning)
            prop["markdownDescription"] = markdown(doc.meaning)
            if doc.default is not None:
                prop["default"] = doc.default
            properties[name] = prop
            if doc.required:
                required.append(name)
    return properties, required


def _object(
    docs: Iterable[FieldDoc], where: str | None = None, *rules: Schema, **extra: Any
) -> Schema:
    properties, required = _properties(docs, where)
    out: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        out["required"] = required
    if rules:
        out["allOf"] = list(rules)
    out.update(extra)
    return out


def _only_when(key: str, value: str, fields: Iterable[str], *, negate: bool = True) -> Schema:
    """``fields`` are not allowed unless ``key`` is ``value`` (when ``key`` is given)."""
    test: Schema = {"const": value}
    return {
        "if": {"required": [key], "properties": {key: {"not": test} if negate else test}},
        "then": {"properties": dict.fromkeys(fields, False)},
    }


def _not_together(first: Iterable[str], second: Iterable[str]) -> Schema:
    return {"not": {"anyOf": [{"required": [a, b]} for a in first for b in second]}}


def policy_schema() -> Schema:
    """The JSON Schema of a policy file."""
    rule = _object(
        POLICY_TABLE,
        "rule",
        _only_when("action", "deny", ("status", "reason_code", "message")),
        _only_when("action", "modify", ("set", "unset")),
        {
            "if": {"required": ["action"], "properties": {"action": {"const": "modify"}}},
            "then": {"anyOf": [{"required": ["set"]}, {"required": ["unset"]}]},
        },
        _only_when("mode", "shadow", ("rollout",), negate=False),
        dependentRequired={"rollout_key": ["rollout"]},
    )
    counter = _object(
        COUNTER_FIELDS,
        None,
        {"oneOf": [{"required": ["events"]}, {"required": ["decisions"]}]},
        {
            "if": {"required": ["decisions"]},
            "then": {"properties": {"distinct": False, "when": False}},
        },
    )
    top = _object(POLICY_TABLE, "policy")
    return {
        "$schema": DRAFT,
        "title": "receiver policy file",
        "description": (
            "A policy of receiver: rules that allow, deny or modify platform events. "
            "`receiver check` checks what this schema cannot see (the expressions)."
        ),
        **top,
        "$defs": {"rule": rule, "counter": counter},
    }


def test_schema() -> Schema:
    """The JSON Schema of a policy test file (``*.test.yaml``)."""
    cases = {doc.names[0]: doc for doc in CASE_FIELDS if len(doc.names) == 1}
    defaults = _object(cases[name] for name in DEFAULTS_FIELDS)
    defaults["allOf"] = [{"not": {"required": ["user", "actor"]}}]
    whole = ("event", "data", "user", "actor")
    case = _object(
        CASE_FIELDS,
        None,
        {"not": {"required": ["user", "actor"]}},
        {"not": {"required": ["payload", "envelope"]}},
        _not_together(("payload", "envelope"), whole),
    )
    shadow = _object(SHADOW_ENTRY_FIELDS)
    deny_only, allow_only = ("message", "message_contains"), ("data", "data_contains")
    expect_map = _object(
        EXPECT_FIELDS,
        None,
        _only_when("action", "allow", deny_only, negate=False),
        _only_when("action", "deny", allow_only, negate=False),
        _not_together(deny_only, allow_only),
        minProperties=1,
    )
    expect = {"anyOf": [{"type": "string", "pattern": r"^\s*(allow|deny)\s*$"}, expect_map]}
    top = _object(TEST_FILE_FIELDS)
    return {
        "$schema": DRAFT,
        "title": "receiver policy test file",
        "description": (
            "Policy test cases (*.test.yaml): events and the answers they must get. "
            "`receiver test` runs them with the production engine."
        ),
        **top,
        "$defs": {"defaults": defaults, "case": case, "expect": expect, "shadow": shadow},
    }


KINDS: dict[str, Callable[[], Schema]] = {"policy": policy_schema, "test": test_schema}


def schema(kind: str) -> Schema:
    """The schema of ``policy`` or ``test`` files."""
    return KINDS[kind]()


def render(value: Schema) -> str:
    """The schema as the shipped files hold it: indented JSON, keys in table order."""
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"
