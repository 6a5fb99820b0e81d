"""receiver/load/documents.py: the policy documents the loader produces, and their defaults."""

from __future__ import annotations

import dataclasses

import pytest

from receiver.load.documents import ACTIONS, MODES, ON_ERROR, Located, PolicyDoc, RuleDoc
from receiver.load.loader import load_text
from receiver.text.diagnostics import Diagnostics
from receiver.text.source import SourceFile

MINIMAL = "policy: p\nrules:\n  - id: r\n    events: message.shouldCreate\n    action: allow\n"


def load(text: str) -> PolicyDoc:
    diags = Diagnostics()
    doc = load_text("p.yaml", text, diags)
    assert not diags.items
    assert doc is not None
    return doc


def test_the_closed_sets_are_the_documented_values() -> None:
    assert ACTIONS == ("allow", "deny", "modify")
    assert MODES == ("enforce", "shadow")
    assert ON_ERROR == ("skip", "deny")


def test_an_omitted_field_takes_its_documented_default() -> None:
    doc = load(MINIMAL)
    assert (doc.description, doc.priority, doc.on_error) == ("", 0, "skip")
    assert (doc.lists, doc.macros, doc.counters) == ({}, {}, {})
    rule = doc.rules[0]
    assert (rule.mode, rule.enabled, rule.description) == ("enforce", True, "")
    assert (rule.when, rule.unless, rule.message) == (None, None, None)
    assert (rule.sets, rule.unsets) == ((), ())
    assert (rule.status, rule.reason_code) == (None, None)


def test_every_value_keeps_its_span() -> None:
    doc = load(MINIMAL)
    rule = doc.rules[0]
    assert doc.path == "p.yaml"
    assert str(doc.name.span) == "p.yaml:1:9"
    assert str(rule.id.span) == "p.yaml:3:9"
    assert str(rule.events[0].span) == "p.yaml:4:13"
    assert str(rule.action.span) == "p.yaml:5:13"
    assert rule.span.line == 3


def test_lists_keep_each_entry_with_its_position() -> None:
    doc = load("policy: p\nlists:\n  words: [a, 2]\n" + MINIMAL.split("\n", 1)[1])
    entries = doc.lists["words"].items
    assert [e.value for e in entries] == ["a", 2]
    assert [str(e.span) for e in entries] == ["p.yaml:3:11", "p.yaml:3:14"]


def test_rule_documents_are_frozen() -> None:
    doc = load(MINIMAL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        doc.rules[0].mode = "shadow"  # type: ignore[misc]


def test_located_pairs_a_value_with_a_span() -> None:
    span = SourceFile("f", "abc").span(1, 2)
    located = Located("b", span)
    assert located == Located("b", span)
    assert located.span.text == "b"
    assert isinstance(load(MINIMAL).rules[0], RuleDoc)
