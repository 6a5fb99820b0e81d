"""Deny-message templates: literal text with ``{expression}`` parts.

Below the stages (dsl), used by stage 2 (check) and stage 3 (compile). Consumes a message's
:class:`~receiver.dsl.parser.ExprSource`; produces a :class:`Template` (literal text and
expression ASTs, :func:`parse_template`), or None with the problems in the
:class:`~receiver.text.diagnostics.Diagnostics`.

``"Messages are limited to 2000 characters (yours has {len(data.text)})."``
``{{`` and ``}}`` stand for literal braces. Each ``{...}`` part is parsed as an
expression with its own positions, so errors point inside the message.
"""

from __future__ import annotations

from dataclasses import dataclass

from receiver.dsl import ast
from receiver.dsl.parser import ExprSource, ParseCache, parse_expression
from receiver.text.diagnostics import Diagnostics
from receiver.text.source import Span


@dataclass(frozen=True, slots=True)
class Template:
    parts: tuple[str | ast.Node, ...]
    span: Span


def _closing_brace(text: str, start: int) -> int:
    """Index of the ``}`` closing the ``{`` at ``start - 1``, skipping strings and nesting."""
    depth = 0
    i = start
    quote = ""
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 2
                continue
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "{[(":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return -1


def parse_template(
    src: ExprSource, diags: Diagnostics, cache: ParseCache | None = None
) -> Template | None:
    text = src.text
    parts: list[str | ast.Node] = []
    literal: list[str] = []
    ok = True
    i = 0
    while i < len(text):
        char = text[i]
        if char == "{" and text.startswith("{{", i):
            literal.append("{")
            i += 2
        elif char == "}" and text.startswith("}}", i):
            literal.append("}")
            i += 2
        elif char == "}":
            diags.error(
                "template",
                "a lone '}' in a message; write '}}' for a literal brace",
                src.span(i, i + 1),
            )
            ok = False
            i += 1
        elif char == "{":
            end = _closing_brace(text, i + 1)
            if end == -1:
                end = text.find("}", i + 1)  # unbalanced inside: let the parser say where
            if end == -1:
                diags.error(
                    "template",
                    "this '{' is never closed; close the expression with '}' "
                    "or write '{{' for a literal brace",
                    src.span(i, i + 1),
                )
                return None
            if literal:
                parts.append("".join(literal))
                literal = []
            node = parse_expression(src.sub(i + 1, end), diags, cache)
            if node is None:
                ok = False
            else:
                parts.append(node)
            i = end + 1
        else:
            literal.append(char)
            i += 1
    if literal:
        parts.append("".join(literal))
    if not ok:
        return None
    return Template(tuple(parts), src.span(0, len(text)))
