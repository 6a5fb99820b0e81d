"""Tests for receiver.dsl.parser: precedence, literals, names, spans and friendly syntax errors."""

from __future__ import annotations

import textwrap

import pytest
from lark.exceptions import UnexpectedInput

from receiver.dsl import ast
from receiver.dsl.grammar import parser
from receiver.dsl.parser import SYNTAX_EXAMPLES, ExprSource, ParseCache, parse_expression
from receiver.dsl.values import Duration
from receiver.load.loader import load_text
from receiver.text.diagnostics import Diagnostic, Diagnostics
from receiver.text.source import SourceFile

# -- helpers ---------------------------------------------------------------------------------


def source(text: str) -> ExprSource:
    return ExprSource.contiguous(SourceFile("<expr>", text), text, 0)


def parse(text: str) -> ast.Node:
    diags = Diagnostics()
    node = parse_expression(source(text), diags)
    assert [d.message for d in diags] == []
    assert node is not None
    return node


def syntax_error(text: str) -> Diagnostic:
    diags = Diagnostics()
    node = parse_expression(source(text), diags)
    assert node is None
    assert len(diags) == 1, [d.message for d in diags]
    (diag,) = diags
    assert diag.code == "syntax"
    assert diag.severity == "error"
    return diag


def error_at(text: str) -> tuple[str, int, int]:
    """(message, column, end column) of the one syntax error of a single-line expression."""
    diag = syntax_error(text)
    assert diag.span is not None
    assert diag.span.line == diag.span.end_line == 1
    return diag.message, diag.span.column, diag.span.end_column


def sexpr(node: ast.Node) -> str:
    """A fully parenthesised rendering of an AST, to compare tree shapes."""
    if isinstance(node, ast.Name):
        return node.name
    if isinstance(node, ast.Literal):
        return repr(node.value)
    if isinstance(node, ast.BoolOp | ast.Compare | ast.Arith):
        return f"({node.op} {sexpr(node.left)} {sexpr(node.right)})"
    if isinstance(node, ast.Not):
        return f"(not {sexpr(node.operand)})"
    if isinstance(node, ast.Neg):
        return f"(neg {sexpr(node.operand)})"
    if isinstance(node, ast.Member):
        return f"(. {sexpr(node.obj)} {node.name})"
    if isinstance(node, ast.Index):
        return f"([] {sexpr(node.obj)} {sexpr(node.index)})"
    if isinstance(node, ast.Call):
        return f"({node.func}(){''.join(' ' + sexpr(a) for a in node.args)})"
    if isinstance(node, ast.ListExpr):
        return "[" + " ".join(sexpr(i) for i in node.items) + "]"
    if isinstance(node, ast.MapExpr):
        return "{" + " ".join(f"{k!r}: {sexpr(v)}" for k, v in node.items) + "}"
    raise AssertionError(f"unexpected node {node!r}")


def shape(text: str) -> str:
    return sexpr(parse(text))


def located_when(yaml_text: str) -> ExprSource:
    """The ``when`` of the first rule of a policy file, located in the file by the loader."""
    diags = Diagnostics()
    doc = load_text("policy.yaml", textwrap.dedent(yaml_text).lstrip("\n"), diags)
    assert [d.message for d in diags] == []
    assert doc is not None and doc.rules[0].when is not None
    return doc.rules[0].when


def find(node: ast.Node, kind: type[ast.Node], text: str | None = None) -> ast.Node:
    """The first node of a kind (and, if given, whose span covers exactly ``text``)."""
    for sub in ast.walk(node):
        if isinstance(sub, kind) and (text is None or sub.span.text == text):
            return sub
    raise AssertionError(f"no {kind.__name__} {text!r} in {sexpr(node)}")


def position(node: ast.Node) -> tuple[int, int, int, int]:
    span = node.span
    return span.line, span.column, span.end_line, span.end_column


# -- precedence ------------------------------------------------------------------------------


def test_and_binds_tighter_than_or() -> None:
    assert shape("a or b and c") == "(or a (and b c))"
    assert shape("a and b or c") == "(or (and a b) c)"


def test_not_binds_tighter_than_and() -> None:
    assert shape("not a and b") == "(and (not a) b)"
    assert shape("a and not b") == "(and a (not b))"


def test_comparison_binds_tighter_than_not() -> None:
    assert shape("not a == b") == "(not (== a b))"


def test_sum_binds_tighter_than_comparison() -> None:
    assert shape("a + b == c - d") == "(== (+ a b) (- c d))"
    assert shape("a + 1 in b") == "(in (+ a 1) b)"


def test_product_binds_tighter_than_sum() -> None:
    assert shape("a + b * c") == "(+ a (* b c))"
    assert shape("a / b - c % d") == "(- (/ a b) (% c d))"


def test_unary_minus_binds_tighter_than_product() -> None:
    assert shape("-a * b") == "(* (neg a) b)"
    assert shape("a * -b") == "(* a (neg b))"


def test_postfix_binds_tighter_than_unary_minus() -> None:
    assert shape("-a.b") == "(neg (. a b))"
    assert shape("-a[0]") == "(neg ([] a 0))"
    assert shape("-f(x)") == "(neg (f() x))"


def test_postfix_operators_chain_left_to_right() -> None:
    assert shape("a.b[0].c") == "(. ([] (. a b) 0) c)"
    assert shape('f(x).y["z"]') == "([] (. (f() x) y) 'z')"


def test_binary_operators_are_left_associative() -> None:
    assert shape("a - b - c") == "(- (- a b) c)"
    assert shape("a / b % c") == "(% (/ a b) c)"
    assert shape("a or b or c") == "(or (or a b) c)"
    assert shape("a and b and c") == "(and (and a b) c)"


def test_prefix_operators_nest() -> None:
    assert shape("not not a") == "(not (not a))"
    assert shape("- -a") == "(neg (neg a))"
    assert shape("--a") == "(neg (neg a))"


def test_parentheses_override_precedence() -> None:
    assert shape("(a or b) and c") == "(and (or a b) c)"
    assert shape("(a + b) * c") == "(* (+ a b) c)"
    assert shape("-(a * b)") == "(neg (* a b))"
    assert shape("not (a) == b") == "(not (== a b))"


@pytest.mark.parametrize(
    "op",
    ["==", "!=", "<", "<=", ">", ">=", "in", "not in", "contains", "startswith", "endswith"],
)
def test_every_comparison_operator_parses_to_a_compare_node(op: str) -> None:
    node = parse(f"a {op} b")
    assert isinstance(node, ast.Compare)
    assert node.op == op
    assert node.op_span.text == op


def test_matches_parses_to_a_compare_node_with_the_pattern_on_the_right() -> None:
    assert shape('data.text matches "(?i)^free"') == "(matches (. data text) '(?i)^free')"


def test_not_in_is_a_single_operator() -> None:
    node = parse("a not in b")
    assert isinstance(node, ast.Compare)
    assert (node.op, sexpr(node.left), sexpr(node.right)) == ("not in", "a", "b")
    assert (node.op_span.column, node.op_span.end_column) == (3, 9)


def test_not_in_allows_any_whitespace_between_its_words() -> None:
    node = parse("a not \n  in b")
    assert isinstance(node, ast.Compare)
    assert node.op == "not in"


def test_leading_not_negates_a_whole_in_test() -> None:
    assert shape("not a in b") == "(not (in a b))"


# -- keywords and names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["index", "inside", "android", "order", "nothing", "notify", "nullable", "trueish", "falsey"],
)
def test_words_that_start_with_a_keyword_are_names(name: str) -> None:
    node = parse(name)
    assert isinstance(node, ast.Name)
    assert node.name == name


def test_names_may_contain_underscores_and_digits() -> None:
    assert shape("_a1 == b_2") == "(== _a1 b_2)"


def test_a_name_followed_by_parentheses_is_a_call() -> None:
    node = parse("index(data.items, 0)")
    assert isinstance(node, ast.Call)
    assert (node.func, node.func_span.text) == ("index", "index")
    assert [sexpr(a) for a in node.args] == ["(. data items)", "0"]


@pytest.mark.parametrize(("text", "value"), [("true", True), ("false", False), ("null", None)])
def test_true_false_and_null_are_literals(text: str, value: object) -> None:
    node = parse(text)
    assert isinstance(node, ast.Literal)
    assert node.value is value


def test_keywords_after_a_dot_are_field_names() -> None:
    assert shape("data.in or data.not") == "(or (. data in) (. data not))"


def test_keywords_are_allowed_as_map_keys() -> None:
    assert shape("{in: 1, true: 2}") == "{'in': 1 'true': 2}"


@pytest.mark.parametrize(
    ("text", "word", "column"),
    [
        ("and", "and", 1),
        ("in", "in", 1),
        ("a == and", "and", 6),
        ("x == not", "not", 6),
        ("a in in", "in", 6),
        ("f(or)", "or", 3),
        ("[contains]", "contains", 2),
    ],
)
def test_a_keyword_where_a_value_belongs_is_a_syntax_error(
    text: str, word: str, column: int
) -> None:
    message = f"'{word}' is a reserved word, not a name; a value is missing here"
    assert error_at(text) == (message, column, column + len(word))


# -- numbers and durations -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("30s", 30),
        ("5m", 300),
        ("2h", 7200),
        ("7d", 604800),
        ("2w", 1209600),
        ("1.5h", 5400),
    ],
)
def test_duration_literals_are_converted_to_seconds(text: str, seconds: float) -> None:
    node = parse(text)
    assert isinstance(node, ast.Literal)
    assert node.value == Duration(seconds)
    assert node.span.text == text


def test_durations_compare_with_expressions() -> None:
    assert (
        shape("age(user.createdAt) < 7d")
        == "(< (age() (. user createdAt)) Duration(seconds=604800.0))"
    )


def test_integer_literals_are_ints_and_decimals_are_floats() -> None:
    whole, decimal, exponent = parse("42"), parse("2.5"), parse("1e3")
    assert isinstance(whole, ast.Literal) and whole.value == 42 and type(whole.value) is int
    assert isinstance(decimal, ast.Literal) and decimal.value == 2.5
    assert isinstance(exponent, ast.Literal) and exponent.value == 1000.0


def test_a_number_with_an_unknown_unit_is_a_syntax_error_at_the_unit() -> None:
    message, column, end = error_at("5min")
    assert message == "unexpected 'min'; expected an operator, a value or a closing bracket"
    assert (column, end) == (2, 5)


# -- strings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('"plain"', "plain"),
        ("'plain'", "plain"),
        ('"it\'s"', "it's"),
        ("'say \"hi\"'", 'say "hi"'),
        (r'"say \"hi\""', 'say "hi"'),
        (r"'it\'s'", "it's"),
        (r'"a\nb\tc\rd"', "a\nb\tc\rd"),
        (r"'a\nb\tc'", "a\nb\tc"),
        (r'"back\\slash"', "back\\slash"),
        (r'"a\/b"', "a/b"),
        (r'"nul\0"', "nul\0"),
        ('""', ""),
        ("''", ""),
    ],
)
def test_string_literals_decode_escapes_in_both_quote_styles(text: str, value: str) -> None:
    node = parse(text)
    assert isinstance(node, ast.Literal)
    assert node.value == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (r'"caf\u00e9"', "café"),
        (r"'caf\u00E9'", "café"),
        (r'"\u65e5\u672c"', "日本"),
        (r'"\u0041BC"', "ABC"),
    ],
)
def test_unicode_escapes_take_four_hex_digits(text: str, value: str) -> None:
    node = parse(text)
    assert isinstance(node, ast.Literal)
    assert node.value == value


def test_an_unknown_escape_is_a_syntax_error_on_the_string() -> None:
    assert error_at(r'x == "a\qb"') == (r"unknown escape '\q' (write '\\' for a backslash)", 6, 12)


def test_a_unicode_escape_with_non_hex_digits_is_a_syntax_error() -> None:
    assert error_at(r'"\uZZZZ"') == (r"bad \u escape '\uZZZZ'", 1, 9)


def test_a_unicode_escape_with_too_few_digits_is_a_syntax_error() -> None:
    message, column, _ = error_at(r'"\u12"')
    assert message == r"unknown escape '\u' (write '\\' for a backslash)"
    assert column == 1


def test_a_string_may_not_span_lines() -> None:
    message, column, _ = error_at('"a\nb"')
    assert message == "this string is never closed; add the closing '\"'"
    assert column == 1


# -- lists, maps, calls ----------------------------------------------------------------------


def test_list_literals_allow_a_trailing_comma() -> None:
    assert shape("[1, 'a', x,]") == "[1 'a' x]"


def test_empty_list_and_map_literals_parse() -> None:
    assert (shape("[]"), shape("{}")) == ("[]", "{}")


def test_map_literals_take_name_or_string_keys_and_a_trailing_comma() -> None:
    assert shape("{a: 1, \"b c\": x, 'd': [2],}") == "{'a': 1 'b c': x 'd': [2]}"


def test_map_keys_written_as_strings_decode_escapes() -> None:
    assert shape(r'{"a\"b": 1}') == "{'a\"b': 1}"


def test_literals_nest() -> None:
    assert shape("{a: [1, {b: [2,],},],}") == "{'a': [1 {'b': [2]}]}"


def test_call_arguments_allow_a_trailing_comma() -> None:
    assert shape("coalesce(a, b,)") == "(coalesce() a b)"


def test_a_call_may_have_no_arguments() -> None:
    assert shape("now()") == "(now())"


@pytest.mark.parametrize("text", ["[,]", "f(,)", "{,}", "[1,,2]"])
def test_a_lone_or_doubled_comma_is_a_syntax_error(text: str) -> None:
    syntax_error(text)


# -- spans in a bare expression --------------------------------------------------------------


def test_nodes_span_exactly_their_text() -> None:
    node = parse('len(data.text) > 5 and not data.x[0] in ["a"]')
    assert node.span.text == 'len(data.text) > 5 and not data.x[0] in ["a"]'
    assert find(node, ast.Compare, "len(data.text) > 5").span.column == 1
    assert find(node, ast.Call).span.text == "len(data.text)"
    assert find(node, ast.Not).span.text == 'not data.x[0] in ["a"]'
    assert find(node, ast.Index).span.text == "data.x[0]"
    assert find(node, ast.ListExpr).span.text == '["a"]'


def test_parenthesised_operands_are_inside_the_span_of_their_operator() -> None:
    node = parse("(a or b) and (c)")
    assert node.span.text == "(a or b) and (c)"
    assert find(node, ast.BoolOp, "a or b").span.column == 2
    assert parse("(a) == (b)").span.text == "(a) == (b)"
    assert parse("-(a)").span.text == "-(a)"
    assert parse("(a).b").span.text == "(a).b"
    assert parse("(a)[0]").span.text == "(a)[0]"


def test_operator_spans_cover_only_the_operator() -> None:
    node = parse("a  *  b")
    assert isinstance(node, ast.Arith)
    assert (node.op_span.column, node.op_span.end_column) == (4, 5)


def test_spans_of_a_multi_line_expression_have_lines_and_columns() -> None:
    node = parse("a and\n  len(b) > 1")
    compare = find(node, ast.Compare)
    assert position(compare) == (2, 3, 2, 13)
    assert position(node) == (1, 1, 2, 13)


# -- spans inside YAML -----------------------------------------------------------------------


def test_spans_point_into_a_plain_single_line_yaml_scalar() -> None:
    src = located_when(
        """
        policy: p
        rules:
          - id: r
            events: message.shouldCreate
            when: len(data.text) > 5 and user.role == "mod"
            action: deny
        """
    )
    node = parse_expression(src, Diagnostics())
    assert node is not None
    assert position(node) == (5, 11, 5, 52)
    assert position(find(node, ast.Call)) == (5, 11, 5, 25)
    assert position(find(node, ast.Literal, '"mod"')) == (5, 47, 5, 52)


def test_spans_point_into_a_double_quoted_yaml_scalar_with_escapes() -> None:
    src = located_when(
        r"""
        policy: p
        rules:
          - id: r
            events: message.shouldCreate
            when: "data.x == \"a\" or len(data.y) > 2"
            action: deny
        """
    )
    node = parse_expression(src, Diagnostics())
    assert node is not None
    call = find(node, ast.Call)
    assert position(call) == (5, 31, 5, 42)
    assert call.span.text == "len(data.y)"
    assert position(find(node, ast.Member, "data.x")) == (5, 12, 5, 18)


def test_spans_point_into_a_single_quoted_yaml_scalar_with_doubled_quotes() -> None:
    src = located_when(
        """
        policy: p
        rules:
          - id: r
            events: message.shouldCreate
            when: 'data.x == ''a'' or data.y'
            action: deny
        """
    )
    node = parse_expression(src, Diagnostics())
    assert node is not None
    assert find(node, ast.Member, "data.y").span.column == 31
    assert find(node, ast.Literal).span.column == 22


def test_spans_point_into_a_literal_block_yaml_scalar_line_by_line() -> None:
    src = located_when(
        """
        policy: p
        rules:
          - id: r
            events: message.shouldCreate
            when: |
              data.x == 1 and
                len(data.y) > 2
            action: deny
        """
    )
    node = parse_expression(src, Diagnostics())
    assert node is not None
    assert position(find(node, ast.Compare, "data.x == 1")) == (6, 7, 6, 18)
    assert position(find(node, ast.Call)) == (7, 9, 7, 20)
    assert (node.span.line, node.span.column, node.span.end_line) == (6, 7, 7)


def test_spans_point_into_a_non_string_plain_yaml_scalar() -> None:
    src = located_when(
        """
        policy: p
        rules:
          - id: r
            events: message.shouldCreate
            when: true
            action: allow
        """
    )
    node = parse_expression(src, Diagnostics())
    assert isinstance(node, ast.Literal) and node.value is True
    assert position(node) == (5, 11, 5, 15)


def test_a_syntax_error_inside_a_block_scalar_points_at_its_file_line_and_column() -> None:
    src = located_when(
        """
        policy: p
        rules:
          - id: r
            events: message.shouldCreate
            when: |
              data.x == 1
                && data.y
            action: deny
        """
    )
    diags = Diagnostics()
    assert parse_expression(src, diags) is None
    (diag,) = diags
    assert diag.span is not None
    assert (diag.message, str(diag.span)) == ("use 'and' instead of '&&'", "policy.yaml:7:9")


def test_a_syntax_error_inside_a_double_quoted_scalar_points_inside_the_quotes() -> None:
    src = located_when(
        """
        policy: p
        rules:
          - id: r
            events: message.shouldCreate
            when: "data.x = 1"
            action: deny
        """
    )
    diags = Diagnostics()
    assert parse_expression(src, diags) is None
    (diag,) = diags
    assert str(diag.span) == "policy.yaml:5:19"


# -- a repeated text is parsed once ----------------------------------------------------------

CACHED = 'f(a, k=[1, {"x": (b)}]) and not (c.d)[0] in ["é"] or\n  -(e) > 2 * g(h=i)'


def scattered(text: str) -> ExprSource:
    """``text`` with filler characters and line breaks between its characters in the file."""
    raw: list[str] = []
    offsets: list[int] = []
    for index, char in enumerate(text):
        offsets.append(len(raw))
        raw.extend([char, *["~", "\n", ""][index % 3]])
    offsets.append(len(raw))
    return ExprSource(SourceFile("<scattered>", "".join(raw)), text, tuple(offsets))


def test_a_repeated_text_gives_the_tree_a_parse_at_its_new_place_gives() -> None:
    cache = ParseCache()
    here = source(CACHED)
    first = parse_expression(here, Diagnostics(), cache)
    assert first is not None and first == parse_expression(here, Diagnostics())
    prefix = "policy: é\n  when: "
    elsewhere = ExprSource.contiguous(SourceFile("<b>", prefix + CACHED), CACHED, len(prefix))
    for src in (elsewhere, scattered(CACHED)):
        reused = parse_expression(src, Diagnostics(), cache)
        assert reused == parse_expression(src, Diagnostics())
        assert reused is not None and reused.span.source is src.file


def test_a_text_that_fails_to_parse_is_reported_at_each_place() -> None:
    cache = ParseCache()
    for column in (1, 5):
        text = " " * (column - 1) + "a && b"
        diags = Diagnostics()
        assert parse_expression(source(text), diags, cache) is None
        assert [(d.message, d.span.column if d.span else 0) for d in diags] == [
            ("use 'and' instead of '&&'", column + 2)
        ]


# -- friendly syntax errors ------------------------------------------------------------------

LABELLED_EXAMPLES = [
    (label, example) for label, examples in SYNTAX_EXAMPLES.items() for example in examples
]


@pytest.mark.parametrize(
    ("label", "example"), LABELLED_EXAMPLES, ids=[e for _, e in LABELLED_EXAMPLES]
)
def test_each_syntax_example_is_reported_with_exactly_its_label(label: str, example: str) -> None:
    assert syntax_error(example).message == label


@pytest.mark.parametrize(
    ("label", "example"), LABELLED_EXAMPLES, ids=[e for _, e in LABELLED_EXAMPLES]
)
def test_each_syntax_example_matches_its_own_label_in_lark(label: str, example: str) -> None:
    with pytest.raises(UnexpectedInput) as caught:
        parser().parse(example)
    assert caught.value.match_examples(parser().parse, SYNTAX_EXAMPLES, use_accepts=True) == label


def test_assignment_suggests_double_equals() -> None:
    assert error_at("a = b") == ("'=' is assignment; use '==' to compare", 3, 4)


def test_double_ampersand_suggests_and() -> None:
    assert error_at("a && b") == ("use 'and' instead of '&&'", 3, 5)


def test_double_bar_suggests_or() -> None:
    assert error_at("a || b") == ("use 'or' instead of '||'", 3, 5)


def test_exclamation_mark_suggests_not() -> None:
    assert error_at("!a") == ("use 'not' instead of '!'", 1, 2)


def test_question_mark_suggests_coalesce() -> None:
    assert error_at("a ? b : c") == (
        "there is no '?:' operator; use coalesce(a, b) or two rules",
        3,
        4,
    )


def test_unterminated_double_quoted_string_asks_for_the_closing_quote() -> None:
    assert error_at('x == "abc') == ("this string is never closed; add the closing '\"'", 6, 7)


def test_unterminated_single_quoted_string_asks_for_the_closing_quote() -> None:
    assert error_at("x == 'abc") == ('this string is never closed; add the closing "\'"', 6, 7)


def test_empty_expression_is_reported() -> None:
    assert error_at("") == ("the expression is empty", 1, 1)


def test_blank_expression_is_reported_as_empty() -> None:
    assert error_at("   ") == ("the expression is empty", 1, 4)


def test_unknown_character_is_named() -> None:
    assert error_at("a # b") == ("unexpected character '#'", 3, 4)


def test_unprintable_character_is_shown_as_a_code_point() -> None:
    assert error_at("a \x07 b") == ("unexpected character U+0007", 3, 4)


def test_missing_value_at_the_end_points_at_the_last_character() -> None:
    assert error_at("a and   ") == ("a value is missing after the operator", 5, 6)


def test_chained_comparison_points_at_the_second_operator() -> None:
    assert error_at("a < b < c") == ("comparisons cannot be chained; write 'a < b and b < c'", 7, 8)


def test_an_unexpected_token_lists_what_was_expected() -> None:
    assert error_at("a.") == ("the expression ends too early; expected a name", 2, 3)
