"""Property tests of the front end: parser, loader, checker and check_paths never raise.

Whatever text they are given, they answer with an AST or with diagnostics, and every
diagnostic points inside the file it is about (or names a path). Well-formed
expressions generated from the grammar always parse, to the tree they were built from.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from receiver.check.checker import check
from receiver.dsl import ast
from receiver.dsl.parser import RESERVED, ExprSource, ParseCache, parse_expression
from receiver.dsl.times import DURATION_UNITS
from receiver.dsl.values import Duration
from receiver.load.loader import load_text
from receiver.runtime.policyset import check_paths
from receiver.text.diagnostics import (
    Diagnostic,
    Diagnostics,
    render_json,
    render_text,
    summary_line,
)
from receiver.text.source import SourceFile

FAST = settings(max_examples=150, deadline=None)
SLOW = settings(max_examples=40, deadline=None)  # examples that write files

# -- invariants ----------------------------------------------------------------------------------


def assert_located(diag: Diagnostic, text: str) -> None:
    """The diagnostic has a span inside ``text`` (1-based, end exclusive), or else a path."""
    if diag.span is None:
        assert diag.path
        return
    span = diag.span
    assert span.source.text == text
    lines = text.split("\n")
    assert 1 <= span.line <= span.end_line <= len(lines)
    assert 1 <= span.column <= len(lines[span.line - 1]) + 1
    assert 1 <= span.end_column <= len(lines[span.end_line - 1]) + 1
    assert span.line < span.end_line or span.column <= span.end_column


def assert_renders(diags: list[Diagnostic]) -> None:
    for diag in diags:
        head = diag.render().splitlines()[0]
        assert head.startswith(diag.location)
        assert head.endswith(f"[{diag.code}]")
    render_text(diags)
    parsed = json.loads(render_json(diags))
    assert len(parsed["diagnostics"]) == len(diags)
    summary_line(diags, 1)


def parse(text: str) -> tuple[ast.Node | None, list[Diagnostic], str]:
    diags = Diagnostics()
    node = parse_expression(ExprSource.contiguous(SourceFile("<e>", text), text, 0), diags)
    return node, list(diags), text


def assert_parse_outcome(node: ast.Node | None, diags: list[Diagnostic], text: str) -> None:
    """Either a tree and no diagnostics, or no tree and exactly one located syntax error."""
    if node is None:
        assert [d.code for d in diags] == ["syntax"]
        assert_located(diags[0], text)
        assert_renders(diags)
    else:
        assert diags == []
        for sub in ast.walk(node):
            assert sub.span.source.text == text
            assert sub.span.text.strip() != "" or isinstance(sub, ast.Literal)


# -- well-formed expressions, built with the tree they should parse to ---------------------------

# (text, shape): the source text and a fully parenthesised rendering of the expected AST.
Expr = tuple[str, str]

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,7}", fullmatch=True).filter(
    lambda n: n not in RESERVED
)
spaces = st.sampled_from([" ", "  ", "\n", "\t", " \n  "])


def quote(value: str, mark: str, unicode_escapes: list[bool]) -> str:
    out = [mark]
    for char, as_u in zip(value, unicode_escapes, strict=True):
        if as_u and ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        elif char == "\\":
            out.append("\\\\")
        elif char == mark:
            out.append("\\" + mark)
        elif char == "\n":
            out.append("\\n")
        else:
            out.append(char)
    out.append(mark)
    return "".join(out)


@st.composite
def string_literals(draw: st.DrawFn) -> Expr:
    value = draw(st.text(max_size=8))
    escapes = draw(st.lists(st.booleans(), min_size=len(value), max_size=len(value)))
    mark = draw(st.sampled_from(['"', "'"]))
    return quote(value, mark, escapes), repr(value)


@st.composite
def number_literals(draw: st.DrawFn) -> Expr:
    whole = draw(st.integers(0, 10**6))
    if draw(st.booleans()):
        return str(whole), repr(whole)
    fraction = draw(st.integers(0, 999))
    text = f"{whole}.{fraction}"
    return text, repr(float(text))


_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@st.composite
def duration_literals(draw: st.DrawFn) -> Expr:
    amount = draw(st.sampled_from(["1", "30", "500", "1.5", "0.25"]))
    unit = draw(st.sampled_from(sorted(DURATION_UNITS)))
    seconds = float(amount) / 1000 if unit == "ms" else float(amount) * _UNIT_SECONDS[unit]
    return amount + unit, repr(Duration(seconds))


atoms: st.SearchStrategy[Expr] = st.one_of(
    names.map(lambda n: (n, n)),
    string_literals(),
    number_literals(),
    duration_literals(),
    st.sampled_from([("true", "True"), ("false", "False"), ("null", "None")]),
)


def operand(expr: Expr) -> str:
    """An operand in source form: compound expressions are put in parentheses."""
    text, shape = expr
    return text if shape == text else f"({text})"


COMPARISONS = ["==", "!=", "<", "<=", ">", ">=", "in", "not in", "contains", "startswith"]


def extend(inner: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    def binary(ops: list[str]) -> st.SearchStrategy[Expr]:
        return st.builds(
            lambda left, op, right, ws: (
                f"{operand(left)}{ws}{op}{ws}{operand(right)}",
                f"({op} {left[1]} {right[1]})",
            ),
            inner,
            st.sampled_from(ops),
            inner,
            spaces,
        )

    def items(min_size: int = 0) -> st.SearchStrategy[list[Expr]]:
        return st.lists(inner, min_size=min_size, max_size=3)

    def listing(parts: list[str], trailing: bool) -> str:
        return ", ".join(parts) + ("," if trailing and parts else "")

    return st.one_of(
        binary(["or", "and"]),
        binary(COMPARISONS),
        binary(["+", "-", "*", "/", "%"]),
        st.builds(lambda x: (f"not {operand(x)}", f"(not {x[1]})"), inner),
        st.builds(lambda x: (f"-{operand(x)}", f"(neg {x[1]})"), inner),
        st.builds(
            lambda x, name: (f"{operand(x)}.{name}", f"(. {x[1]} {name})"),
            inner,
            names | st.sampled_from(sorted(RESERVED)),
        ),
        st.builds(
            lambda x, i: (f"{operand(x)}[{i[0]}]", f"([] {x[1]} {i[1]})"),
            inner,
            inner,
        ),
        st.builds(
            lambda f, args, trailing: (
                f"{f}({listing([a[0] for a in args], trailing)})",
                f"({f}(){''.join(' ' + a[1] for a in args)})",
            ),
            names,
            items(),
            st.booleans(),
        ),
        st.builds(
            lambda xs, trailing: (
                f"[{listing([x[0] for x in xs], trailing)}]",
                "[" + " ".join(x[1] for x in xs) + "]",
            ),
            items(),
            st.booleans(),
        ),
        st.builds(
            lambda keys, values, trailing: (
                "{"
                + listing([f"{k}: {v[0]}" for k, v in zip(keys, values, strict=False)], trailing)
                + "}",
                "{" + " ".join(f"{k!r}: {v[1]}" for k, v in zip(keys, values, strict=False)) + "}",
            ),
            st.lists(names, max_size=3),
            items(3),
            st.booleans(),
        ),
    )


expressions: st.SearchStrategy[Expr] = st.recursive(atoms, extend, max_leaves=12)


def shape_of(node: ast.Node) -> str:
    if isinstance(node, ast.Name):
        return node.name
    if isinstance(node, ast.Literal):
        return repr(node.value)
    if isinstance(node, ast.BoolOp | ast.Compare | ast.Arith):
        return f"({node.op} {shape_of(node.left)} {shape_of(node.right)})"
    if isinstance(node, ast.Not):
        return f"(not {shape_of(node.operand)})"
    if isinstance(node, ast.Neg):
        return f"(neg {shape_of(node.operand)})"
    if isinstance(node, ast.Member):
        return f"(. {shape_of(node.obj)} {node.name})"
    if isinstance(node, ast.Index):
        return f"([] {shape_of(node.obj)} {shape_of(node.index)})"
    if isinstance(node, ast.Call):
        return f"({node.func}(){''.join(' ' + shape_of(a) for a in node.args)})"
    if isinstance(node, ast.ListExpr):
        return "[" + " ".join(shape_of(i) for i in node.items) + "]"
    if isinstance(node, ast.MapExpr):
        return "{" + " ".join(f"{k!r}: {shape_of(v)}" for k, v in node.items) + "}"
    raise AssertionError(f"unexpected node {node!r}")


@FAST
@given(expressions, spaces, spaces)
def test_well_formed_expressions_parse_to_the_tree_they_were_built_from(
    expr: Expr, before: str, after: str
) -> None:
    text, shape = expr
    node, diags, _ = parse(before + text + after)
    assert [d.message for d in diags] == []
    assert node is not None
    assert shape_of(node) == shape


@FAST
@given(string_literals())
def test_string_literals_decode_to_the_text_they_encode(literal: Expr) -> None:
    text, shape = literal
    node, _, _ = parse(text)
    assert isinstance(node, ast.Literal)
    assert repr(node.value) == shape
    assert node.span.text == text


@FAST
@given(expressions, st.text(st.sampled_from("ab é\n"), max_size=12))
def test_a_text_parsed_again_elsewhere_gives_the_tree_a_parse_there_gives(
    expr: Expr, prefix: str
) -> None:
    text = expr[0]
    cache = ParseCache()
    parse_expression(ExprSource.contiguous(SourceFile("<a>", text), text, 0), Diagnostics(), cache)
    there = ExprSource.contiguous(SourceFile("<b>", prefix + text), text, len(prefix))
    assert parse_expression(there, Diagnostics(), cache) == parse_expression(there, Diagnostics())


# -- random and mutated expressions --------------------------------------------------------------

EXPRESSION_CHARS = [*"abnot _.,()[]{}:'\"\\=!<>&|+-*/%?#0123456789msh\n\t", "in", "not", "or"]
expression_noise = st.lists(st.sampled_from(EXPRESSION_CHARS), max_size=30).map("".join)


@st.composite
def mutated(draw: st.DrawFn, base: str, alphabet: st.SearchStrategy[str]) -> str:
    """``base`` with a few random characters inserted, deleted or replaced."""
    text = base
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        if action == "insert" or not text:
            text = text[:at] + draw(alphabet) + text[at:]
        elif action == "delete":
            end = min(len(text), at + draw(st.integers(1, 3)))
            text = text[:at] + text[end:]
        else:
            at = min(at, len(text) - 1)
            text = text[:at] + draw(alphabet) + text[at + 1 :]
    return text


noise_chars = st.one_of(st.sampled_from(EXPRESSION_CHARS), st.characters())


@FAST
@given(st.one_of(st.text(max_size=40), expression_noise))
def test_parsing_random_text_gives_a_tree_or_one_located_syntax_error(text: str) -> None:
    assert_parse_outcome(*parse(text))


@FAST
@given(expressions.flatmap(lambda e: mutated(e[0], noise_chars)))
def test_parsing_mutated_expressions_gives_a_tree_or_one_located_syntax_error(text: str) -> None:
    assert_parse_outcome(*parse(text))


# -- the loader and the checker ------------------------------------------------------------------

POLICIES = [
    """\
policy: community
description: Baseline rules.
priority: 1
on_error: skip
lists:
  staff_roles: [moderator, admin]
  shorteners: [bit.ly, t.co]
macros:
  is_staff: user.role in staff_roles
  shares_shortener: any(urls(data.text), domain(it) in shorteners)
rules:
  - id: staff-bypass
    events: ["message.*", "post.*"]
    when: is_staff
    action: allow
  - id: too-long
    events: message.shouldCreate
    when: len(data.text) > 2000
    action: deny
    message: "Limit is 2000 characters (yours has {len(data.text)}); {{sorry}}."
  - id: censor
    events: [message.shouldCreate, post.shouldCreate]
    when: profane(data.text)
    unless: data.channelId == "ch_adults"
    action: modify
    set:
      data.text: censor(data.text)
      'data["tags"]': '["censored"]'
    unset: [data.draft]
  - id: links
    events: post.shouldCreate
    when: |
      shares_shortener
        and age(user.createdAt) < 7d
    action: deny
    mode: shadow
    enabled: true
""",
    """\
policy: shouting
rules:
  - id: caps
    description: Too many capitals.
    events: ['*.shouldCreate']
    when: 'caps_ratio(text) > 0.7 and len(text) >= 10 and not (text matches "(?i)^ok")'
    action: deny
    message: >
      Please do not shout
      ({caps_ratio(text) * 100}% capitals).
""",
]

YAML_TOKENS = [
    "policy",
    "rules",
    "id",
    "events",
    "when",
    "action",
    "deny",
    "modify",
    "set",
    "lists",
    "macros",
    ":",
    ": ",
    "- ",
    "  ",
    "\n",
    "\t",
    "[",
    "]",
    "{",
    "}",
    ",",
    '"',
    "'",
    "#",
    "|",
    ">",
    "!",
    "!!int ",
    "&a ",
    "*a",
    "?",
    "data.x",
    "==",
    "2020-13-45",
    "true",
    "5",
    "message.shouldCreate",
    "\x01",
    "é",
]
yamlish = st.lists(st.sampled_from(YAML_TOKENS), max_size=40).map("".join)
policy_alphabet = st.one_of(st.sampled_from(YAML_TOKENS), st.characters())
mutated_policies = st.sampled_from(POLICIES).flatmap(lambda p: mutated(p, policy_alphabet))


def load_and_check(text: str) -> list[Diagnostic]:
    diags = Diagnostics()
    doc = load_text("p.yaml", text, diags)
    if doc is not None:
        check([doc], diags)
    return diags.sorted()


def test_the_base_policies_are_clean() -> None:
    for text in POLICIES:
        assert [d.render() for d in load_and_check(text)] == []


@FAST
@given(st.one_of(yamlish, st.text(max_size=60)))
def test_loading_and_checking_random_yaml_like_text_reports_located_diagnostics(text: str) -> None:
    found = load_and_check(text)
    for diag in found:
        assert_located(diag, text)
    assert_renders(found)


@FAST
@given(mutated_policies)
def test_loading_and_checking_mutated_policies_reports_located_diagnostics(text: str) -> None:
    found = load_and_check(text)
    for diag in found:
        assert_located(diag, text)
    assert_renders(found)


@SLOW
@given(st.lists(st.one_of(mutated_policies, yamlish), min_size=1, max_size=3))
def test_check_paths_never_raises_on_mutated_policy_folders(texts: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        written: dict[str, str] = {}
        for index, text in enumerate(texts):
            path = root / f"p{index}.yaml"
            path.write_text(text, encoding="utf-8", newline="")
            written[str(path)] = text
        report = check_paths([root])
    for diag in report.diagnostics:
        if diag.span is not None:
            # Files are read with universal newlines, as editors show them.
            as_read = written[diag.span.path].replace("\r\n", "\n").replace("\r", "\n")
            assert_located(diag, as_read)
        else:
            assert diag.path
    assert_renders(report.diagnostics)
    assert report.diagnostics == sorted(report.diagnostics, key=Diagnostic.sort_key)
