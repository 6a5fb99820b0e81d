"""Loading ``grammar/policy.lark`` and building the LALR parsers made from it.

In a built wheel the grammar ships as package data (``receiver/grammar/policy.lark``,
see ``pyproject.toml``); in a source checkout or an editable install it is read
from the project's top-level ``grammar/`` folder next to the package.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any

from lark import Lark, Transformer
from lark.parsers.lalr_analysis import Reduce

GRAMMAR_NAME = "policy.lark"


def grammar_text() -> str:
    packaged = resources.files("receiver").joinpath("grammar", GRAMMAR_NAME)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    checkout = Path(__file__).resolve().parents[2] / "grammar" / GRAMMAR_NAME
    return checkout.read_text(encoding="utf-8")


def build_parser(transformer: Transformer[Any, Any] | None = None) -> Lark:
    """A new LALR(1) parser (about 0.1 s to build).

    With a ``transformer``, its methods run inside the parser, as each rule is reduced,
    and ``parse`` returns what they build: no parse tree is made at all.
    """
    lark = Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        maybe_placeholders=True,
        transformer=transformer,
    )
    _plain_rule_names(lark)
    return lark


def _plain_rule_names(lark: Lark) -> None:
    """Make the rule names the LALR parser looks up after each reduction plain ``str``.

    Lark keeps them as its ``Token`` (a ``str`` subclass with a Python ``__eq__``), so
    every goto-table lookup, several per token, ran Python code to compare two names:
    about a tenth of the parse time. The names are equal either way. Should Lark's
    internals differ from what this expects, the parser is left as it is.
    """
    try:
        states = lark.parser.parser.parser.parse_table.states
    except AttributeError:
        return
    for actions in states.values():
        for action, arg in actions.values():
            if action is Reduce:
                origin = arg.origin
                origin.name = str(origin.name)


@functools.cache
def parser() -> Lark:
    """The parser that builds Lark trees; built once per process.

    The AST builder has its own parser (``receiver.dsl.parser``); this one serves the
    syntax-error messages, which match the state of a failed parse against examples.
    """
    return build_parser()
