"""Tests for receiver.testing.fields (not test_fields.py: tests/load/ has one, and test modules
need unique basenames here): the typed values of policy test files, each problem reported
as a diagnostic at its node."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
import yaml

from receiver.dsl.values import Timestamp
from receiver.testing.fields import NOTHING, FieldReader, plain_scalar
from receiver.text.diagnostics import Diagnostics
from receiver.text.source import SourceFile
from receiver.text.yamlnodes import compose_source


class Read:
    """The reader of a one-field test file ``value: <text>``, and the field's node."""

    def __init__(self, text: str) -> None:
        self.diags = Diagnostics()
        source = SourceFile("t.test.yaml", f"value: {text}\n")
        root = compose_source(source, self.diags, "test file")
        assert root is not None and not list(self.diags)
        self.reader = FieldReader(source, self.diags)
        entries = self.reader.mapping(root, "a test file", None)
        assert entries is not None
        self.node = entries["value"][1]

    @property
    def problems(self) -> list[tuple[str, str, int, int]]:
        return [(d.code, d.message, d.span.line, d.span.column) for d in self.diags if d.span]


# -- plain_scalar ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 11, 22, 12, 0), "2026-11-22T12:00:00Z"),
        (
            datetime(2026, 11, 22, 14, 0, tzinfo=timezone(timedelta(hours=2))),
            "2026-11-22T12:00:00Z",
        ),
        (datetime(2026, 11, 22, 12, 0, 0, 500000, tzinfo=UTC), "2026-11-22T12:00:00.500000Z"),
        (date(2026, 11, 22), "2026-11-22"),
        (b"caf\xc3\xa9 \xff", "café \ufffd"),
        (42, 42),
        ("text", "text"),
        (None, None),
    ],
)
def test_plain_scalar_gives_yaml_only_scalars_as_json_text(value: Any, expected: Any) -> None:
    assert plain_scalar(value) == expected


# -- strings -------------------------------------------------------------------------------


def test_string_reads_a_string() -> None:
    read = Read("hello there")
    assert read.reader.string(read.node, "'message'") == "hello there"


@pytest.mark.parametrize(("text", "expected"), [("42", "42"), ("2026", "2026"), ("0x10", "0x10")])
def test_string_takes_an_unquoted_number_as_written(text: str, expected: str) -> None:
    read = Read(text)
    assert read.reader.string(read.node, "'message'") == expected


@pytest.mark.parametrize("text", ['""', "'  '", "~", "[a]", "{a: 1}"])
def test_string_rejects_empty_null_and_collections_at_the_value(text: str) -> None:
    read = Read(text)
    assert read.reader.string(read.node, "'message'") is None
    assert read.problems == [("type", "'message' must be a non-empty string", 1, 8)]


def test_string_allows_an_empty_string_when_asked() -> None:
    read = Read('""')
    assert read.reader.string(read.node, "'description'", allow_empty=True) == ""
    assert read.problems == []


def test_strings_reads_one_string_or_a_list_of_them() -> None:
    one = Read("free money")
    assert one.reader.strings(one.node, "'message_contains'") == ("free money",)
    many = Read("[a, b]")
    assert many.reader.strings(many.node, "'message_contains'") == ("a", "b")


def test_strings_rejects_an_empty_list() -> None:
    read = Read("[]")
    assert read.reader.strings(read.node, "'message_contains'") is None
    assert read.problems == [("type", "'message_contains' is empty; give at least one text", 1, 8)]


def test_strings_reports_each_bad_entry_at_the_entry() -> None:
    read = Read("[a, {b: 1}, c, '']")
    assert read.reader.strings(read.node, "'message_contains'") is None
    message = "each entry of 'message_contains' must be a non-empty string"
    assert read.problems == [("type", message, 1, 12), ("type", message, 1, 23)]


# -- none words ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["none", "None", "NOTHING", "~", "null", "[]"])
def test_is_none_word_accepts_the_explicit_nothing_answers(text: str) -> None:
    read = Read(text)
    assert read.reader.is_none_word(read.node)


@pytest.mark.parametrize("text", ["nobody", "''", "[none]", "{}", "0", "false"])
def test_is_none_word_rejects_anything_else(text: str) -> None:
    read = Read(text)
    assert not read.reader.is_none_word(read.node)


# -- values and data ---------------------------------------------------------------------


def test_value_gives_plain_json_with_times_as_text() -> None:
    read = Read("{text: hi, tags: [a, 1, true], at: 2026-11-22T12:00:00Z, none: ~}")
    assert read.reader.value(read.node, "'data'") == {
        "text": "hi",
        "tags": ["a", 1, True],
        "at": "2026-11-22T12:00:00Z",
        "none": None,
    }
    assert read.problems == []


def test_value_with_a_key_that_is_not_a_name_is_nothing() -> None:
    read = Read("{text: hi, 1: one}")
    assert read.reader.value(read.node, "'data'") is NOTHING
    assert [code for code, *_ in read.problems] == ["type"]


def test_value_stops_at_a_recursive_alias() -> None:
    # The file loader refuses such aliases earlier; the reader must not recurse forever
    # on a tree that has one all the same.
    text = "value: &x {a: *x}\n"
    diags = Diagnostics()
    reader = FieldReader(SourceFile("t.test.yaml", text), diags)
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    assert isinstance(root, yaml.MappingNode)
    node = root.value[0][1]
    assert reader.value(node, "'data'") is NOTHING
    assert [d.message for d in diags] == ["'data' refers to itself (a recursive YAML alias)"]


def test_data_map_of_null_is_an_empty_map() -> None:
    read = Read("~")
    assert read.reader.data_map(read.node, "'data'") == {}


@pytest.mark.parametrize("text", ["hello", "[a]"])
def test_data_map_rejects_what_is_not_a_mapping(text: str) -> None:
    read = Read(text)
    assert read.reader.data_map(read.node, "'data'") is None
    assert read.problems == [("type", "'data' must be a mapping (key: value lines)", 1, 8)]


# -- whole numbers -----------------------------------------------------------------------


def test_whole_number_reads_an_integer() -> None:
    read = Read("403")
    assert read.reader.whole_number(read.node, "'status'") == 403


def test_whole_number_none_means_not_set_without_a_problem() -> None:
    read = Read("none")
    assert read.reader.whole_number(read.node, "'status'") is None
    assert read.problems == []


@pytest.mark.parametrize("text", ["true", "1.5", "'403'", "[1]"])
def test_whole_number_rejects_booleans_fractions_text_and_lists(text: str) -> None:
    read = Read(text)
    assert read.reader.whole_number(read.node, "'status'") is None
    assert read.problems == [("type", "'status' must be a whole number (or none)", 1, 8)]


# -- rule references -----------------------------------------------------------------------


def test_rule_ref_is_stripped_and_keeps_its_position() -> None:
    read = Read("' demo/quiet '")
    ref = read.reader.rule_ref(read.node, "'rule'")
    assert ref is not None
    assert (ref.written, ref.id, ref.span.line, ref.span.column) == (
        "demo/quiet",
        "demo/quiet",
        1,
        8,
    )


def test_rule_refs_reads_one_or_a_list_and_none_is_empty() -> None:
    one = Read("quiet")
    assert [r.written for r in one.reader.rule_refs(one.node, "'modified_by'") or []] == ["quiet"]
    many = Read("[a, b/c]")
    assert [r.written for r in many.reader.rule_refs(many.node, "'modified_by'") or []] == [
        "a",
        "b/c",
    ]
    none = Read("none")
    assert none.reader.rule_refs(none.node, "'modified_by'") == []


def test_rule_refs_with_a_bad_entry_is_none() -> None:
    read = Read("[a, [b]]")
    assert read.reader.rule_refs(read.node, "'modified_by'") is None
    assert read.problems == [
        ("type", "each entry of 'modified_by' must be a non-empty string", 1, 12)
    ]


# -- times ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-22T12:00:00Z", 1795348800.0),
        ("'2026-11-22T13:00:00+01:00'", 1795348800.0),
        ("1795348800", 1795348800.0),
        ("1795348800000", 1795348800.0),
    ],
)
def test_time_reads_iso_times_and_epoch_numbers(text: str, expected: float) -> None:
    read = Read(text)
    assert read.reader.time(read.node) == Timestamp(expected)


def test_time_reports_an_unreadable_time_with_an_example() -> None:
    read = Read("yesterday")
    assert read.reader.time(read.node) is None
    ((code, message, line, column),) = read.problems
    assert (code, line, column) == ("bad-value", 1, 8)
    assert message.startswith("'now': expected an ISO-8601 time")
    assert message.endswith("(e.g. 2026-11-22T12:00:00Z)")


def test_time_rejects_a_collection() -> None:
    read = Read("[2026-11-22T12:00:00Z]")
    assert read.reader.time(read.node) is None
    assert read.problems == [("type", "'now' must be a time such as 2026-11-22T12:00:00Z", 1, 8)]
