"""Parsing one expression (a ``when``, a ``set`` value, a macro, a ``{...}`` in a message).

Stage: dsl (parsing), the first stage after loading. Input: an :class:`ExprSource`
(the expression text plus, for each character, its offset in the policy file). Output:
an AST (:mod:`receiver.dsl.ast`) whose every node has a file span, or ``None`` with one
``syntax`` or ``too-deep`` error added to the diagnostics. Syntax errors become
friendly diagnostics (``use 'and' instead of '&&'``), never exceptions.

Longer than 400 lines as one cohesive thing: everything here is the contract with
``grammar/policy.lark``. In file order: :class:`ExprSource` (expression offsets to file
positions) and the literal decoders; ``_Builder``, the Lark transformer with one method
per ``-> alias`` of the grammar (it only builds nodes, meaning is checked later);
``SYNTAX_EXAMPLES`` and the message helpers, which name the grammar's terminals and
parser states to turn a Lark error into one message; :class:`ParseCache` and
:func:`parse_expression`, the entry point. A change to the grammar changes the builder
and the messages together, and neither has another user. If the builder grows much
further it is the part to move into a module of its own.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lark import Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from receiver.dsl import ast
from receiver.dsl.grammar import build_parser, parser
from receiver.dsl.times import parse_duration
from receiver.dsl.values import Duration
from receiver.text.diagnostics import Diagnostics
from receiver.text.source import SourceFile, Span

# How many levels an expression may nest (each operator, call, list, index or field
# access is a level; brackets alone are not), macros inlined: the checker, compiler,
# evaluator, explanations and coverage recurse up to about six frames per level, and
# this keeps them far from Python's recursion limit of 1,000 (tests/dsl/test_depth.py
# runs every stage at the limit within 700 frames). Deeper expressions get ``too-deep``.
MAX_EXPRESSION_DEPTH = 100

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
        if not 0 <= start <= end <= len(self.text):  # clamp (rarely needed)
            start = max(0, min(start, len(self.text)))
            end = max(start, min(end, len(self.text)))
        file_start = self.offsets[start]
        file_end = self.offsets[end - 1] + 1 if end > start else file_start
        return self.file.span(file_start, file_end)

    def sub(self, start: int, end: int) -> ExprSource:
        return ExprSource(self.file, self.text[start:end], self.offsets[start : end + 1])

    def is_contiguous(self) -> bool:
        """Whether the text is written as is in the file (no escapes, quotes or folding inside)."""
        start = self.offsets[0]
        return self.offsets == tuple(range(start, start + len(self.text) + 1))


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


@dataclass(frozen=True, slots=True)
class _Group:
    """A parenthesised expression while the AST is built: the node, and its brackets.

    The node keeps its own span (without the brackets), but a node around it starts
    or ends at the brackets: in ``(a or b) and c`` the ``and`` covers the ``(``.
    """

    node: ast.Node
    outer: Span


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


_Child = ast.Node | _Group  # a sub-expression as the builder's methods receive it


def _node(child: _Child) -> ast.Node:
    return child.node if isinstance(child, _Group) else child


class _Builder(Transformer[Token, object]):
    """Builds the AST while Lark parses: each method runs when its rule is reduced.

    Only builds nodes; meaning is checked later. A node's span runs from the start
    of its first child (token or node, brackets included) to the end of its last one.
    Problems inside literals (a bad escape, a reserved word used as a name) are
    recorded, not raised: the first one is reported once the whole text has parsed,
    so that a syntax error anywhere still takes precedence, as with a parse tree.

    One instance serves every parse (Lark binds its methods once, when the parser is
    built); ``build`` holds a lock while the per-parse fields are in use.
    """

    def __init__(self) -> None:
        super().__init__()
        self.src = ExprSource.contiguous(SourceFile("<none>", ""), "", 0)
        self.error: _LiteralError | None = None
        self._lock = threading.Lock()
        self._lark = build_parser(self)

    def build(self, src: ExprSource) -> ast.Node:
        """The AST of ``src``; raises Lark's UnexpectedInput or the first _LiteralError."""
        with self._lock:
            self.src, self.error = src, None
            result = self._lark.parse(src.text)
            if self.error is not None:
                raise self.error
        assert isinstance(result, ast.Node | _Group)
        return _node(result)

    # -- spans and recorded errors ---------------------------------------------------------

    def _token_span(self, token: Token) -> Span:
        return self.src.span(token.start_pos or 0, token.end_pos or 0)

    def _outer(self, item: _Child | Token) -> Span:
        if isinstance(item, Token):
            return self._token_span(item)
        return item.outer if isinstance(item, _Group) else item.span

    def _around(self, first: _Child | Token, last: _Child | Token) -> Span:
        return self._outer(first).to(self._outer(last))

    def _fail(self, message: str, span: Span) -> None:
        if self.error is None:
            self.error = _LiteralError(message, span)

    # -- operators ---------------------------------------------------------------------------

    def or_(self, children: list[_Child]) -> ast.Node:
        left, right = children
        return ast.BoolOp(self._around(left, right), "or", _node(left), _node(right))

    def and_(self, children: list[_Child]) -> ast.Node:
        left, right = children
        return ast.BoolOp(self._around(left, right), "and", _node(left), _node(right))

    def not_(self, children: list[Any]) -> ast.Node:
        keyword, operand = children
        return ast.Not(self._around(keyword, operand), _node(operand))

    def comp_op(self, tokens: list[Token]) -> tuple[str, Span]:
        op = " ".join(str(t) for t in tokens)
        return op, self._token_span(tokens[0]).to(self._token_span(tokens[-1]))

    def compare(self, children: list[Any]) -> ast.Node:
        left, (op, op_span), right = children
        return ast.Compare(self._around(left, right), op, op_span, _node(left), _node(right))

    def binary(self, children: list[Any]) -> ast.Node:
        left, op, right = children
        span = self._around(left, right)
        return ast.Arith(span, str(op), self._token_span(op), _node(left), _node(right))  # type: ignore[arg-type]

    def neg(self, children: list[Any]) -> ast.Node:
        minus, operand = children
        return ast.Neg(self._around(minus, operand), _node(operand))

    def member(self, children: list[Any]) -> ast.Node:
        obj, _dot, name = children
        return ast.Member(self._around(obj, name), _node(obj), str(name))

    def index(self, children: list[Any]) -> ast.Node:
        obj, _open, idx, close = children
        return ast.Index(self._around(obj, close), _node(obj), _node(idx))

    def group(self, children: list[Any]) -> _Group:
        open_, inner, close = children
        return _Group(_node(inner), self._around(open_, close))

    # -- calls, lists, maps ----------------------------------------------------------------

    def call(self, children: list[Any]) -> ast.Node:
        name, _open, args, close = children
        span = self._around(name, close)
        positional: list[ast.Node] = []
        keywords: dict[str, _Keyword] = {}
        for item in args or ():
            if isinstance(item, _Keyword):
                if item.name in keywords:
                    self._fail(f"keyword argument '{item.name}' is given twice", item.span)
                keywords[item.name] = item
            elif keywords:
                self._fail(
                    "a positional argument cannot follow keyword arguments; put it before them",
                    item.span,
                )
            else:
                positional.append(item)
        return ast.Call(
            span,
            str(name),
            self._token_span(name),
            tuple(positional),
            tuple((k.name, k.value) for k in keywords.values()),
            tuple(k.span for k in keywords.values()),
        )

    def arguments(self, children: list[_Child]) -> list[ast.Node]:
        return [_node(child) for child in children]

    def call_arguments(self, children: list[_Child | _Keyword]) -> list[ast.Node | _Keyword]:
        return [child if isinstance(child, _Keyword) else _node(child) for child in children]

    def keyword(self, children: list[Any]) -> _Keyword:
        name, value = children
        return _Keyword(str(name), self._token_span(name), _node(value))

    def pairs(self, children: list[tuple[str, ast.Node]]) -> list[tuple[str, ast.Node]]:
        return children

    def pair(self, children: list[Any]) -> tuple[str, ast.Node]:
        key, value = children
        text = self._string(key) if key.type == "STRING" else str(key)
        return text, _node(value)

    # -- names and literals ------------------------------------------------------------------

    def name(self, children: list[Token]) -> ast.Node:
        (token,) = children
        span = self._token_span(token)
        # The contextual lexer reads a keyword as a NAME where the keyword cannot occur.
        if str(token) in RESERVED:
            self._fail(f"'{token}' is a reserved word, not a name; a value is missing here", span)
        return ast.Name(span, str(token))

    def _string(self, token: Token) -> str:
        try:
            return decode_string(str(token))
        except ValueError as err:
            self._fail(str(err), self._token_span(token))
            return str(token)

    def string(self, children: list[Token]) -> ast.Node:
        (token,) = children
        return ast.Literal(self._token_span(token), self._string(token))

    def number(self, children: list[Token]) -> ast.Node:
        (token,) = children
        text = str(token)
        value: int | float = float(text) if any(c in text for c in ".eE") else int(text)
        return ast.Literal(self._token_span(token), value)

    def duration(self, children: list[Token]) -> ast.Node:
        (token,) = children
        span = self._token_span(token)
        try:
            seconds = parse_duration(str(token))
        except ValueError as err:  # the token's form is the grammar's: too large
            self._fail(str(err), span)
            seconds = 0.0
        return ast.Literal(span, Duration(seconds))

    def true(self, children: list[Token]) -> ast.Node:
        return ast.Literal(self._token_span(children[0]), True)

    def false(self, children: list[Token]) -> ast.Node:
        return ast.Literal(self._token_span(children[0]), False)

    def null(self, children: list[Token]) -> ast.Node:
        return ast.Literal(self._token_span(children[0]), None)

    # Last: once defined, these names shadow the builtins in the annotations below them.

    def map(self, children: list[Any]) -> ast.Node:
        open_, pairs, close = children
        return ast.MapExpr(self._around(open_, close), tuple(pairs or ()))

    def list(self, children: list[Any]) -> ast.Node:
        open_, items, close = children
        return ast.ListExpr(self._around(open_, close), tuple(items or ()))


_builder = functools.cache(_Builder)


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


class ParseCache:
    """The trees of the expressions parsed so far (during one check), by text.

    A text met again (``{len(text)}`` in many messages, a condition shared by rules)
    is not parsed again: the first tree is copied with its spans moved to the new
    place. That is the very tree a parse there would give, since a span depends only
    on where the characters it covers sit. Trees are kept only from contiguous sources,
    where a span's file position gives back the offsets inside the expression.
    """

    def __init__(self) -> None:
        self._trees: dict[str, tuple[ExprSource, ast.Node]] = {}

    def get(self, src: ExprSource) -> ast.Node | None:
        found = self._trees.get(src.text)
        if found is None:
            return None
        first, tree = found
        return ast.with_spans(tree, functools.partial(_moved_span, first, src))

    def add(self, src: ExprSource, tree: ast.Node) -> None:
        if src.text not in self._trees and src.is_contiguous():
            self._trees[src.text] = (src, tree)


def _moved_span(first: ExprSource, to: ExprSource, span: Span) -> Span:
    """A span of a tree parsed from ``first`` (contiguous): the same characters in ``to``."""
    base = first.offsets[0]
    start = first.file.offset(span.line, span.column) - base
    end = first.file.offset(span.end_line, span.end_column) - base
    return to.span(start, end)


def parse_expression(
    src: ExprSource, diagnostics: Diagnostics, cache: ParseCache | None = None
) -> ast.Node | None:
    """Parse one expression; on failure add one ``syntax`` (or ``too-deep``) error, return None."""
    if cache is not None and (tree := cache.get(src)) is not None:
        return tree
    if not src.text.strip():
        diagnostics.error("syntax", "the expression is empty", src.span(0, len(src.text)))
        return None
    try:
        tree = _builder().build(src)
    except UnexpectedInput as err:
        message, start, end = _syntax_message(_tree_parser_error(src.text, err), src)
        diagnostics.error("syntax", message, src.span(start, end))
    except _LiteralError as err:
        diagnostics.error("syntax", err.message, err.span)
    else:
        found = ast.deeper_than(tree, MAX_EXPRESSION_DEPTH)
        if found is not None:
            diagnostics.error("too-deep", too_deep_message(), found[1].span)
            return None
        if cache is not None:
            cache.add(src, tree)
        return tree
    return None


def too_deep_message(macros: bool = False) -> str:
    where = " with the macros it uses inlined" if macros else ""
    return (
        f"this expression nests more than {MAX_EXPRESSION_DEPTH} levels deep{where} (each "
        "operator, call, list, index or field access is a level); write a long chain of "
        "alternatives as a list (x in [a, b, c]) or a list of lists, or split the rule"
    )


def _tree_parser_error(text: str, err: UnexpectedInput) -> UnexpectedInput:
    """The same syntax error as raised by ``parser()``, whose states SYNTAX_EXAMPLES match.

    Both parsers come from the same grammar and fail at the same token, but only the
    error of the parser the examples are run through can be matched against them.
    """
    try:
        parser().parse(text)
    except UnexpectedInput as tree_err:
        return tree_err
    return err  # pragma: no cover  (both parsers accept the same texts)
