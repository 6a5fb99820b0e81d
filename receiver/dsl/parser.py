"""Parsing one expression (a ``when``, a ``set`` value, a macro, a ``{...}`` in a message).

Input: an :class:`ExprSource` (the expression text plus, for each character, its
offset in the policy file). Output: an AST whose every node has a file span, or
``None`` with an error added to the diagnostics. Syntax errors become friendly
diagnostics (``use 'and' instead of '&&'``), never exceptions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lark import Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from receiver.diagnostics import Diagnostics
from receiver.dsl import ast
from receiver.dsl.grammar import parser
from receiver.source import SourceFile, Span
from receiver.values import Duration

DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
RESERVED = frozenset(
    [
        "and",
        "or",
        "not",
        "in",
        "contains",
        "startswith",
        "endswith",
        "matches",
        "true",
        "false",
        "null",
    ]
)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "/": "/", "0": "\0"}


@dataclass(frozen=True, slots=True)
class ExprSource:
    """Expression text and where each of its characters sits in a source file."""

    file: SourceFile
    text: str
    offsets: tuple[int, ...]  # len(text) + 1 entries: file offset of each char, then the end

    @classmethod
    def contiguous(cls, file: SourceFile, text: str, start: int) -> ExprSource:
        return cls(file, text, tuple(range(start, start + len(text) + 1)))

    def span(self, start: int, end: int) -> Span:
        start = max(0, min(start, len(self.text)))
        end = max(start, min(end, len(self.text)))
        file_start = self.offsets[start]
        file_end = self.offsets[end - 1] + 1 if end > start else file_start
        return self.file.span(file_start, file_end)

    def sub(self, start: int, end: int) -> ExprSource:
        return ExprSource(self.file, self.text[start:end], self.offsets[start : end + 1])


def parse_duration(text: str) -> float:
    for unit in ("ms", "s", "m", "h", "d", "w"):
        if text.endswith(unit) and text[: -len(unit)].replace(".", "", 1).isdigit():
            return float(text[: -len(unit)]) * DURATION_UNITS[unit]
    raise ValueError(f"not a duration: {text!r}")


def decode_string(raw: str) -> str:
    """The value of a quoted string literal (JSON-like escapes, either quote)."""
    body = raw[1:-1]
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        nxt = body[i + 1] if i + 1 < len(body) else ""
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt == "u" and len(body) >= i + 6:
            digits = body[i + 2 : i + 6]
            try:
                out.append(chr(int(digits, 16)))
            except ValueError:
                if not digits.isprintable():  # keep the message on one line
                    digits = digits.encode("unicode_escape").decode("ascii")
                raise ValueError(f"bad \\u escape '\\u{digits}'") from None
            i += 6
        else:
            # An unprintable character is named, so the message stays on one line.
            shown = f"'\\{nxt}'" if nxt.isprintable() else f"'\\' + U+{ord(nxt):04X}"
            raise ValueError(f"unknown escape {shown} (write '\\\\' for a backslash)")
    return "".join(out)


class _Builder(Transformer[Token, ast.Node]):
    """Lark tree to AST. Only builds nodes; meaning is checked later."""

    def __init__(self, source: ExprSource) -> None:
        super().__init__()
        self.src = source

    def _span(self, item: Any) -> Span:
        if isinstance(item, ast.Node):
            return item.span
        if isinstance(item, Token):
            return self.src.span(item.start_pos or 0, item.end_pos or 0)
        meta = item.meta if isinstance(item, Tree) else item  # a Tree or a lark Meta
        return self.src.span(meta.start_pos, meta.end_pos)

    @v_args(meta=True)
    def or_(self, meta: object, children: list[ast.Node]) -> ast.Node:
        return ast.BoolOp(self._span(meta), "or", children[0], children[1])

    @v_args(meta=True)
    def and_(self, meta: object, children: list[ast.Node]) -> ast.Node:
        return ast.BoolOp(self._span(meta), "and", children[0], children[1])

    @v_args(tree=True)
    def not_(self, tree: Tree[ast.Node]) -> ast.Node:
        operand = tree.children[0]
        assert isinstance(operand, ast.Node)
        return ast.Not(self._span(tree), operand)

    def comp_op(self, tokens: list[Token]) -> tuple[str, Span]:
        op = " ".join(str(t) for t in tokens)
        return op, self._span(tokens[0]).to(self._span(tokens[-1]))

    @v_args(meta=True)
    def compare(self, meta: object, children: list[Any]) -> ast.Node:
        left, (op, op_span), right = children
        assert isinstance(left, ast.Node) and isinstance(right, ast.Node)
        return ast.Compare(self._span(meta), str(op), op_span, left, right)

    @v_args(meta=True)
    def binary(self, meta: object, children: list[object]) -> ast.Node:
        left, op, right = children
        assert isinstance(left, ast.Node) and isinstance(right, ast.Node)
        assert isinstance(op, Token)
        return ast.Arith(self._span(meta), str(op), self._span(op), left, right)  # type: ignore[arg-type]

    @v_args(meta=True)
    def neg(self, meta: object, children: list[object]) -> ast.Node:
        minus, operand = children
        assert isinstance(minus, Token) and isinstance(operand, ast.Node)
        return ast.Neg(self._span(meta), operand)

    @v_args(meta=True)
    def member(self, meta: object, children: list[object]) -> ast.Node:
        obj, name = children
        assert isinstance(obj, ast.Node) and isinstance(name, Token)
        return ast.Member(self._span(meta), obj, str(name))

    @v_args(tree=True)
    def index(self, tree: Tree[ast.Node]) -> ast.Node:
        obj, idx = tree.children
        assert isinstance(obj, ast.Node) and isinstance(idx, ast.Node)
        return ast.Index(self._span(tree), obj, idx)

    @v_args(tree=True)
    def call(self, tree: Tree[object]) -> ast.Node:
        name, args = tree.children
        assert isinstance(name, Token)
        items = list(args) if isinstance(args, list) else []
        positional: list[ast.Node] = []
        keywords: dict[str, _Keyword] = {}
        for item in items:
            if isinstance(item, _Keyword):
                if item.name in keywords:
                    raise _LiteralError(f"keyword argument '{item.name}' is given twice", item.span)
                keywords[item.name] = item
            elif keywords:
                raise _LiteralError(
                    "a positional argument cannot follow keyword arguments; put it before them",
                    self._span(item),
                )
            else:
                positional.append(item)
        return ast.Call(
            self._span(tree),
            str(name),
            self._span(name),
            tuple(positional),
            tuple((k.name, k.value) for k in keywords.values()),
            tuple(k.span for k in keywords.values()),
        )

    def arguments(self, children: list[ast.Node]) -> list[ast.Node]:
        return list(children)

    def call_arguments(self, children: list[object]) -> list[object]:
        return list(children)

    def keyword(self, children: list[object]) -> _Keyword:
        name, value = children
        assert isinstance(name, Token) and isinstance(value, ast.Node)
        return _Keyword(str(name), self._span(name), value)

    def pairs(self, children: list[tuple[str, ast.Node]]) -> list[tuple[str, ast.Node]]:
        return list(children)

    def pair(self, children: list[object]) -> tuple[str, ast.Node]:
        key, value = children
        assert isinstance(key, Token) and isinstance(value, ast.Node)
        text = self._string(key) if key.type == "STRING" else str(key)
        return text, value

    def name(self, children: list[Token]) -> ast.Node:
        # The contextual lexer reads a keyword as a NAME where the keyword cannot occur.
        if str(children[0]) in RESERVED:
            message = f"'{children[0]}' is a reserved word, not a name; a value is missing here"
            raise _LiteralError(message, self._span(children[0]))
        return ast.Name(self._span(children[0]), str(children[0]))

    def _string(self, token: Token) -> str:
        try:
            return decode_string(str(token))
        except ValueError as err:
            raise _LiteralError(str(err), self._span(token)) from None

    def string(self, children: list[Token]) -> ast.Node:
        return ast.Literal(self._span(children[0]), self._string(children[0]))

    def number(self, children: list[Token]) -> ast.Node:
        text = str(children[0])
        value: int | float = float(text) if any(c in text for c in ".eE") else int(text)
        return ast.Literal(self._span(children[0]), value)

    def duration(self, children: list[Token]) -> ast.Node:
        return ast.Literal(self._span(children[0]), Duration(parse_duration(str(children[0]))))

    @v_args(tree=True)
    def true(self, tree: Tree[object]) -> ast.Node:
        return ast.Literal(self._span(tree), True)

    @v_args(tree=True)
    def false(self, tree: Tree[object]) -> ast.Node:
        return ast.Literal(self._span(tree), False)

    @v_args(tree=True)
    def null(self, tree: Tree[object]) -> ast.Node:
        return ast.Literal(self._span(tree), None)

    @v_args(tree=True)
    def list(self, tree: Tree[object]) -> ast.Node:
        args = tree.children[0]
        items = tuple(args) if isinstance(args, list) else ()
        return ast.ListExpr(self._span(tree), items)

    @v_args(tree=True)
    def map(self, tree: Tree[object]) -> ast.Node:
        pairs = tree.children[0]
        items = tuple(pairs) if isinstance(pairs, list) else ()
        return ast.MapExpr(self._span(tree), items)


@dataclass(frozen=True, slots=True)
class _Keyword:
    """``name=value`` inside a call's parentheses (only while building the AST)."""

    name: str
    span: Span
    value: ast.Node


class _LiteralError(Exception):
    def __init__(self, message: str, span: Span) -> None:
        super().__init__(message)
        self.message = message
        self.span = span


# Friendly syntax errors: labelled malformed examples, matched against the parser
# state of the real error with ``UnexpectedInput.match_examples`` (as Lark's own
# grammar loader does). tests/dsl/test_parser.py loops over the same table.
SYNTAX_EXAMPLES: dict[str, Sequence[str]] = {
    "comparisons cannot be chained; write 'a < b and b < c'": [
        "a < b < c",
        "a == b == c",
        "a in b in c",
        "a < b == c",
    ],
    "a value is missing after the operator": [
        "a ==",
        "a and",
        "a or",
        "a +",
        "not",
        "a in",
    ],
    "two values without an operator between them; did you forget 'and', 'or' or '=='?": [
        "a b",
        "a 1",
        '"x" a',
        "f(a) b",
    ],
    "an opening bracket is never closed": ["(a", "[a, b", "f(a", "a[0", "{a: 1"],
    "a closing bracket has no opening one": ["a)", "a]", "a}"],
}

_CHAR_HINTS = {
    "=": "use '==' to compare",
    "&": "use 'and' instead of '&&'",
    "|": "use 'or' instead of '||'",
    "!": "use 'not' instead of '!'",
    '"': "this string is never closed; add the closing '\"'",
    "'": 'this string is never closed; add the closing "\'"',
    "?": "there is no '?:' operator; use coalesce(a, b) or two rules",
}

_TERMINAL_WORDS = {
    "NAME": "a name",
    "STRING": "a string",
    "NUMBER": "a number",
    "DURATION": "a duration",
    "$END": "the end of the expression",
}


def _describe_expected(expected: set[str]) -> str:
    lark = parser()
    words: list[str] = []
    for name in sorted(expected):
        if name in _TERMINAL_WORDS:
            words.append(_TERMINAL_WORDS[name])
            continue
        try:
            pattern = lark.get_terminal(name).pattern
        except KeyError:
            continue
        if pattern.type == "str":
            words.append(f"'{pattern.value}'")
    words = sorted(set(words))
    if not words:
        return ""
    if len(words) > 8:
        return "; expected an operator, a value or a closing bracket"
    return "; expected " + (
        words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
    )


def _syntax_message(err: UnexpectedInput, src: ExprSource) -> tuple[str, int, int]:
    """Message and (start, end) offsets inside the expression for a Lark error."""
    if isinstance(err, UnexpectedCharacters):
        pos: int = err.pos_in_stream or 0
        char = src.text[pos] if pos < len(src.text) else ""
        if char == "=" and src.text[pos : pos + 2] != "==":
            return "'=' is assignment; use '==' to compare", pos, pos + 1
        if char in _CHAR_HINTS:
            width = 2 if src.text[pos : pos + 2] in ("&&", "||") else 1
            return _CHAR_HINTS[char], pos, pos + width
        shown = repr(char) if char.isprintable() else f"U+{ord(char):04X}"
        return f"unexpected character {shown}", pos, pos + 1
    try:
        label = err.match_examples(parser().parse, SYNTAX_EXAMPLES, use_accepts=True)
    except Exception:
        label = None
    if isinstance(err, UnexpectedEOF) or (
        isinstance(err, UnexpectedToken) and err.token.type == "$END"
    ):
        last = len(src.text.rstrip())
        expected = getattr(err, "expected", None) or getattr(err, "accepts", None) or set()
        message = str(label) if label else "the expression ends too early"
        if not label:
            message += _describe_expected(set(expected))
        return message, max(0, last - 1), max(last, 1)
    assert isinstance(err, UnexpectedToken)
    token = err.token
    start = token.start_pos or 0
    end = token.end_pos or start + 1
    if token.type == "EQUAL":  # '=' only separates a call's keyword from its value
        return "'=' is assignment; use '==' to compare", start, end
    if label:
        return str(label), start, end
    expected = err.accepts or err.expected
    return f"unexpected '{token}'" + _describe_expected(set(expected)), start, end


def parse_expression(src: ExprSource, diagnostics: Diagnostics) -> ast.Node | None:
    """Parse one expression; on failure add one ``syntax`` error and return None."""
    if not src.text.strip():
        diagnostics.error("syntax", "the expression is empty", src.span(0, len(src.text)))
        return None
    try:
        tree = parser().parse(src.text)
    except UnexpectedInput as err:
        message, start, end = _syntax_message(err, src)
        diagnostics.error("syntax", message, src.span(start, end))
        return None
    try:
        node = _Builder(src).transform(tree)
    except Exception as err:  # Lark wraps builder errors in VisitError
        inner = getattr(err, "orig_exc", err)
        if isinstance(inner, _LiteralError):
            diagnostics.error("syntax", inner.message, inner.span)
            return None
        raise
    return node
