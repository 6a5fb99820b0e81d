"""receiver/text/diagnostics.py: collecting, sorting and rendering diagnostics."""

from __future__ import annotations

import json

from receiver.text.diagnostics import (
    Diagnostic,
    Diagnostics,
    did_you_mean,
    printable,
    render_json,
    render_text,
    summary_line,
)
from receiver.text.source import SourceFile

SOURCE = SourceFile("p.yaml", "rules:\n  - when: a = b\n")


def test_render_gives_location_severity_message_code_then_the_snippet() -> None:
    span = SOURCE.span(SOURCE.text.index("="), SOURCE.text.index("=") + 1)
    diags = Diagnostics()
    diags.error("syntax", "use '==' to compare", span)
    assert diags.items[0].render() == (
        "p.yaml:2:13: error: use '==' to compare [syntax]\n"
        "   2 |   - when: a = b\n"
        "     |             ^"
    )
    assert diags.items[0] == Diagnostic("syntax", "error", "use '==' to compare", span)


def test_a_diagnostic_without_a_span_is_located_by_its_path_or_as_input() -> None:
    diags = Diagnostics()
    diags.error("io", "cannot read", None, path="missing.yaml")
    diags.warning("io", "no policies", None)
    assert diags.items[0].render() == "missing.yaml: error: cannot read [io]"
    assert diags.items[1].render() == "<input>: warning: no policies [io]"


def test_messages_with_control_characters_render_on_one_line() -> None:
    diags = Diagnostics()
    diags.error("bad-value", "unknown name 'a\nb\x1b'", None, path="p.yaml")
    assert diags.items[0].render() == "p.yaml: error: unknown name 'a\\nb\\x1b' [bad-value]"
    assert printable("plain text") == "plain text"


def test_errors_warnings_and_has_errors_split_by_severity() -> None:
    diags = Diagnostics()
    assert not diags.has_errors
    diags.warning("unused", "w", None)
    assert not diags.has_errors
    diags.error("type", "e", None)
    assert diags.has_errors
    assert [d.code for d in diags.errors] == ["type"]
    assert [d.code for d in diags.warnings] == ["unused"]
    assert len(diags) == 2
    assert [d.code for d in diags] == ["unused", "type"]


def test_sorted_orders_by_file_line_and_column_and_drops_duplicates() -> None:
    diags = Diagnostics()
    later = SOURCE.span(10)
    earlier = SOURCE.span(2)
    diags.error("b", "second", later)
    diags.error("a", "first", earlier)
    diags.error("b", "second", later)
    other = Diagnostics()
    other.error("c", "other file", None, path="a.yaml")
    diags.extend(other)
    assert [d.message for d in diags.sorted()] == ["other file", "first", "second"]


def test_json_carries_the_position_and_a_summary() -> None:
    diags = Diagnostics()
    diags.error("syntax", "bad", SOURCE.span(9, 13))
    diags.warning("unused", "no span", None, path="q.yaml")
    document = json.loads(render_json(diags))
    assert document["summary"] == {"errors": 1, "warnings": 1}
    first, second = document["diagnostics"]
    assert first == {
        "code": "syntax",
        "severity": "error",
        "message": "bad",
        "file": "p.yaml",
        "line": 2,
        "column": 3,
        "end_line": 2,
        "end_column": 7,
    }
    assert second == {
        "code": "unused",
        "severity": "warning",
        "message": "no span",
        "file": "q.yaml",
    }


def test_render_text_joins_diagnostics_line_by_line() -> None:
    diags = Diagnostics()
    diags.error("a", "one", None, path="x")
    diags.error("b", "two", None, path="y")
    assert render_text(diags) == "x: error: one [a]\ny: error: two [b]"


def test_did_you_mean_suggests_a_close_name_only() -> None:
    assert did_you_mean("acton", ["action", "message"]) == "; did you mean 'action'?"
    assert did_you_mean("zzz", ["action", "message"]) == ""


def test_summary_line_counts_with_plurals() -> None:
    diags = Diagnostics()
    assert summary_line(diags, 1) == "0 errors, 0 warnings in 1 policy"
    diags.error("a", "x", None)
    diags.warning("b", "y", None)
    diags.warning("c", "z", None)
    assert summary_line(diags, 3) == "1 error, 2 warnings in 3 policies"
