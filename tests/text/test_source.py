"""receiver/text/source.py: positions in a source file, spans, and the caret snippet."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from receiver.text.source import SourceFile

TEXT = "first line\nsecond\n\tthird\n"


def test_position_is_one_based_line_and_column() -> None:
    source = SourceFile("f.yaml", TEXT)
    assert source.position(0) == (1, 1)
    assert source.position(TEXT.index("second")) == (2, 1)
    assert source.position(TEXT.index("cond")) == (2, 3)


def test_position_clamps_offsets_outside_the_text() -> None:
    source = SourceFile("f.yaml", "ab\ncd")
    assert source.position(-5) == (1, 1)
    assert source.position(99) == (2, 3)


def test_offset_is_the_inverse_of_position() -> None:
    source = SourceFile("f.yaml", TEXT)
    for offset in range(len(TEXT) + 1):
        assert source.offset(*source.position(offset)) == offset


@given(st.text(alphabet="ab\n\t", max_size=40), st.data())
def test_offset_and_position_round_trip_on_any_text(text: str, data: st.DataObject) -> None:
    source = SourceFile("f", text)
    offset = data.draw(st.integers(0, len(text)))
    assert source.offset(*source.position(offset)) == offset


def test_line_text_has_no_newline_and_is_empty_past_the_end() -> None:
    source = SourceFile("f.yaml", TEXT)
    assert source.line_text(2) == "second"
    assert source.line_text(3) == "\tthird"
    assert source.line_text(0) == ""
    assert source.line_text(99) == ""


def test_span_on_one_line_covers_its_characters() -> None:
    source = SourceFile("f.yaml", TEXT)
    start = TEXT.index("second")
    span = source.span(start, start + 3)
    assert (span.line, span.column, span.end_line, span.end_column) == (2, 1, 2, 4)
    assert span.text == "sec"
    assert str(span) == "f.yaml:2:1"
    assert span.path == "f.yaml"


def test_span_across_lines_ends_on_the_later_line() -> None:
    source = SourceFile("f.yaml", TEXT)
    span = source.span(TEXT.index("line"), TEXT.index("cond"))
    assert (span.line, span.column, span.end_line, span.end_column) == (1, 7, 2, 3)
    assert span.text == "line\nse"


def test_span_without_an_end_is_empty_and_an_end_before_the_start_is_ignored() -> None:
    source = SourceFile("f.yaml", TEXT)
    assert source.span(3).text == ""
    assert source.span(5, 2) == source.span(5)


def test_to_joins_two_spans_from_the_first_start_to_the_second_end() -> None:
    source = SourceFile("f.yaml", "a and b")
    joined = source.span(0, 1).to(source.span(6, 7))
    assert joined.text == "a and b"


def test_snippet_puts_a_caret_and_tildes_under_the_span() -> None:
    source = SourceFile("f.yaml", "when: a && b\n")
    span = source.span(8, 10)
    assert span.snippet() == "   1 | when: a && b\n     |         ^~"


def test_snippet_keeps_tabs_so_the_caret_lines_up() -> None:
    source = SourceFile("f.yaml", TEXT)
    span = source.span(TEXT.index("third"), TEXT.index("third") + 1)
    assert span.snippet().splitlines()[1] == "     | \t^"


def test_snippet_of_a_span_over_several_lines_underlines_the_rest_of_the_first() -> None:
    source = SourceFile("f.yaml", "abcdef\nxyz")
    span = source.span(2, 9)
    assert span.snippet().splitlines()[1] == "     |   ^~~~"


def test_snippet_at_the_start_of_an_empty_last_line_is_empty() -> None:
    source = SourceFile("f.yaml", "a: 1\n")
    assert source.span(len("a: 1\n")).snippet() == ""
