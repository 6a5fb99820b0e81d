"""receiver/load/fields.py: one field of a policy file read as a located value."""

from __future__ import annotations

import yaml

from receiver.load.fields import FieldReader
from receiver.text.diagnostics import Diagnostics
from receiver.text.source import SourceFile
from receiver.text.yamlnodes import compose_source


def field(text: str) -> tuple[FieldReader, yaml.Node, Diagnostics]:
    """The reader of a one-entry file ``k: VALUE`` and the node of VALUE."""
    source = SourceFile("p.yaml", text)
    diags = Diagnostics()
    root = compose_source(source, diags, "policy file")
    assert isinstance(root, yaml.MappingNode)
    return FieldReader(source, diags), root.value[0][1], diags


def problems(diags: Diagnostics) -> list[tuple[str, str, str]]:
    return [(d.location, d.code, d.message) for d in diags]


def test_a_string_keeps_the_position_of_its_value() -> None:
    reader, node, diags = field("k: hello\n")
    located = reader.string(node, "'k'")
    assert located is not None
    assert located.value == "hello"
    assert str(located.span) == "p.yaml:1:4"
    assert not diags.items


def test_a_blank_or_non_string_value_is_not_a_string() -> None:
    for text in ("k: '  '\n", "k: [a]\n", "k: 5\n"):
        reader, node, diags = field(text)
        assert reader.string(node, "'k'") is None
        assert problems(diags) == [("p.yaml:1:4", "type", "'k' must be a non-empty string")]


def test_an_expression_in_a_plain_scalar_maps_each_character_to_the_file() -> None:
    reader, node, _ = field("k: a and b\n")
    expr = reader.expression(node, "'when'")
    assert expr is not None
    assert expr.text == "a and b"
    assert expr.is_contiguous()
    assert str(expr.span(6, 7)) == "p.yaml:1:10"


def test_an_expression_in_quotes_points_past_the_quote() -> None:
    reader, node, _ = field("k: \"x == 'y'\"\n")
    expr = reader.expression(node, "'when'")
    assert expr is not None
    assert expr.text == "x == 'y'"
    assert str(expr.span(0, 1)) == "p.yaml:1:5"


def test_an_expression_with_escapes_maps_the_characters_after_the_escape() -> None:
    reader, node, _ = field('k: "a\\tb == c"\n')
    expr = reader.expression(node, "'when'")
    assert expr is not None
    assert expr.text == "a\tb == c"
    assert not expr.is_contiguous()
    assert expr.span(7, 8).text == "c"


def test_an_expression_folded_over_lines_maps_the_second_line() -> None:
    reader, node, _ = field("k: >-\n  a and\n  b\n")
    expr = reader.expression(node, "'when'")
    assert expr is not None
    assert expr.text == "a and b"
    position = expr.span(6, 7)
    assert (position.line, position.column, position.text) == (3, 3, "b")


def test_a_plain_yaml_boolean_or_number_is_the_expression_as_written() -> None:
    for written in ("true", "5", "1.50"):
        reader, node, _ = field(f"k: {written}\n")
        expr = reader.expression(node, "'when'")
        assert expr is not None
        assert expr.text == written


def test_an_expression_that_is_a_mapping_is_reported() -> None:
    reader, node, diags = field("k: {a: 1}\n")
    assert reader.expression(node, "'when'") is None
    assert problems(diags) == [
        ("p.yaml:1:4", "type", "'when' must be an expression written as a string")
    ]


def test_boolean_takes_only_yaml_booleans() -> None:
    reader, node, diags = field("k: false\n")
    assert reader.boolean(node, "'enabled'") is False
    reader, node, diags = field("k: 'false'\n")
    assert reader.boolean(node, "'enabled'") is None
    assert problems(diags) == [("p.yaml:1:4", "type", "'enabled' must be true or false")]


def test_choice_accepts_a_listed_value_and_suggests_a_close_one() -> None:
    reader, node, diags = field("k: shadow\n")
    located = reader.choice(node, "'mode'", ("enforce", "shadow"))
    assert located is not None and located.value == "shadow"
    reader, node, diags = field("k: shadw\n")
    assert reader.choice(node, "'mode'", ("enforce", "shadow")) is None
    assert problems(diags) == [
        (
            "p.yaml:1:4",
            "bad-value",
            "'mode' must be one of enforce, shadow, not 'shadw'; did you mean 'shadow'?",
        )
    ]


def test_choice_names_a_value_that_is_not_text_as_this_value() -> None:
    reader, node, diags = field("k: [enforce]\n")
    assert reader.choice(node, "'mode'", ("enforce", "shadow")) is None
    assert "not this value" in problems(diags)[0][2]


def test_events_may_be_one_string_or_a_list() -> None:
    reader, node, _ = field("k: message.shouldCreate\n")
    events = reader.read_events(node)
    assert events is not None and [e.value for e in events] == ["message.shouldCreate"]
    reader, node, _ = field("k: [a.b, c.d]\n")
    events = reader.read_events(node)
    assert events is not None and [str(e.span) for e in events] == ["p.yaml:1:5", "p.yaml:1:10"]


def test_an_empty_events_list_is_reported_and_bad_entries_are_dropped() -> None:
    reader, node, diags = field("k: []\n")
    assert reader.read_events(node) is None
    assert problems(diags) == [("p.yaml:1:4", "type", "'events' is empty; name at least one event")]
    reader, node, diags = field("k: [a.b, 3]\n")
    events = reader.read_events(node)
    assert events is not None and [e.value for e in events] == ["a.b"]
    assert problems(diags) == [
        ("p.yaml:1:10", "type", "each entry of 'events' must be a non-empty string")
    ]
