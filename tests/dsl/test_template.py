"""receiver/dsl/template.py: deny-message templates, literal text with {expression} parts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receiver.dsl import ast
from receiver.dsl.parser import ExprSource
from receiver.dsl.template import Template, parse_template
from receiver.text.diagnostics import Diagnostics
from receiver.text.source import SourceFile

PREFIX = "message: "  # the template sits after this on line 1, from column 10


def parse(text: str) -> tuple[Template | None, list[tuple[str, str, int, int]]]:
    """The template, and each diagnostic as (code, message, line, column)."""
    file = SourceFile("p.yaml", PREFIX + text + "\n")
    diags = Diagnostics()
    template = parse_template(ExprSource.contiguous(file, text, len(PREFIX)), diags)
    found = [(d.code, d.message, d.span.line, d.span.column) for d in diags if d.span is not None]
    assert len(found) == len(diags.items)  # every diagnostic has a position
    return template, found


def literal(template: Template | None) -> list[str | type[ast.Node]]:
    assert template is not None
    return [part if isinstance(part, str) else type(part) for part in template.parts]


def test_plain_text_is_one_literal_part() -> None:
    assert literal(parse("Not allowed.")[0]) == ["Not allowed."]


def test_an_empty_message_has_no_parts() -> None:
    template, found = parse("")
    assert template is not None and template.parts == () and found == []


def test_an_expression_between_braces_is_a_parsed_node_between_literals() -> None:
    template, found = parse("You wrote {len(data.text)} characters")
    assert found == []
    assert literal(template) == ["You wrote ", ast.Call, " characters"]


def test_doubled_braces_are_literal_braces() -> None:
    assert literal(parse("{{x}} and }}")[0]) == ["{x} and }"]


def test_a_brace_inside_a_string_of_the_expression_does_not_close_it() -> None:
    template, found = parse('say {data.a == "}"}!')
    assert found == []
    assert literal(template) == ["say ", ast.Compare, "!"]


def test_a_map_inside_the_expression_does_not_close_it() -> None:
    template, found = parse('{get({"a": 1}, "a")}')
    assert found == [] and literal(template) == [ast.Call]


def test_the_expressions_span_points_inside_the_message_in_the_file() -> None:
    template, _ = parse("ab {data.x}")
    assert template is not None
    node = template.parts[1]
    assert isinstance(node, ast.Node)
    assert (node.span.line, node.span.column) == (1, len(PREFIX) + 5)
    assert node.span.text == "data.x"


def test_the_templates_span_covers_the_whole_message() -> None:
    template, _ = parse("ab {data.x}")
    assert template is not None and template.span.text == "ab {data.x}"


def test_a_lone_closing_brace_is_an_error_at_the_brace() -> None:
    template, found = parse("no :-} here")
    assert template is None
    assert found == [("template", "a lone '}' in a message; write '}}' for a literal brace", 1, 15)]


def test_every_lone_closing_brace_is_reported() -> None:
    _, found = parse("} and }")
    assert [column for _, _, _, column in found] == [10, 16]


def test_an_unclosed_brace_is_an_error_at_the_brace() -> None:
    template, found = parse("You have {len(data.text) characters")
    assert template is None
    assert found == [
        (
            "template",
            "this '{' is never closed; close the expression with '}' or write '{{' for a "
            "literal brace",
            1,
            len(PREFIX) + 10,
        )
    ]


def test_an_expression_that_does_not_parse_is_reported_inside_the_message() -> None:
    template, found = parse("ok {data.x +} ok")
    assert template is None
    assert len(found) == 1 and found[0][2:] == (1, len(PREFIX) + 12)  # the "+"


def test_an_unbalanced_bracket_inside_lets_the_parser_say_where() -> None:
    template, found = parse("{data.x[} rest")
    assert template is None
    assert found and all(code != "template" for code, *_ in found)


@pytest.mark.parametrize("text", ["{", "a{", "{{{"])
def test_an_open_brace_at_the_end_is_never_closed(text: str) -> None:
    template, found = parse(text)
    assert template is None
    assert [code for code, *_ in found] == ["template"]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="{}ab.()'\"[] +1x", max_size=20))
def test_any_message_is_a_template_or_positioned_errors_never_an_exception(text: str) -> None:
    template, found = parse(text)
    if template is None:
        assert found
        assert all(line == 1 and column >= len(PREFIX) + 1 for _, _, line, column in found)
    else:
        assert found == []


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_any_text_with_its_braces_doubled_is_that_text_as_one_literal(text: str) -> None:
    template, found = parse(text.replace("{", "{{").replace("}", "}}"))
    assert found == []
    assert template is not None and list(template.parts) == ([text] if text else [])
