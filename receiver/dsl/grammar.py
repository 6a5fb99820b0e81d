"""Loading ``grammar/policy.lark`` and building the one shared LALR parser.

In a built wheel the grammar ships as package data (``receiver/grammar/policy.lark``,
see ``pyproject.toml``); in a source checkout or an editable install it is read
from the project's top-level ``grammar/`` folder next to the package.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from lark import Lark

GRAMMAR_NAME = "policy.lark"


def grammar_text() -> str:
    packaged = resources.files("receiver").joinpath("grammar", GRAMMAR_NAME)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    checkout = Path(__file__).resolve().parents[2] / "grammar" / GRAMMAR_NAME
    return checkout.read_text(encoding="utf-8")


@functools.cache
def parser() -> Lark:
    """The LALR(1) parser; built once per process (a few milliseconds)."""
    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=True,
    )
