"""Loading ``grammar/policy.lark`` and building the LALR parsers made from it.

Below the stages (dsl), under the parser (:mod:`receiver.dsl.parser`). Consumes the grammar
file; produces the Lark LALR parser (:func:`parser`, :func:`build_parser`).

In a built wheel the grammar ships as package data (``receiver/grammar/policy.lark``,
see ``pyproject.toml``); in a source checkout or an editable install it is read
from the project's top-level ``grammar/`` folder next to the package.

Analysing the grammar into LALR tables takes about 50 ms, a sixth of a ``receiver
eval``; Lark's ``cache`` keeps the tables in a file and reads them back in about 5 ms.
The file lives in the user's own cache folder (``$XDG_CACHE_HOME/receiver``, else
``~/.cache/receiver``), never in the shared temporary folder that Lark's default
uses: the cache is a pickle, and reading someone else's pickle runs their code. Lark
checks the grammar, its options, its own version and Python's against the file, and
rebuilds the file when any differs; a file it cannot read or write is skipped, and so
is a folder it cannot create (a read-only root filesystem, a home that is not
writable) or a cache home that is not an absolute path (a user without a home: a
numeric container user with neither ``$HOME`` nor a passwd entry). The container
image writes the file at build time, so a read-only image reads it back.
``RECEIVER_PARSER_CACHE=0`` turns the cache off.
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import lark as lark_package
from lark import Lark, Transformer
from lark.parsers.lalr_analysis import Reduce

GRAMMAR_NAME = "policy.lark"
CACHE_ENV = "RECEIVER_PARSER_CACHE"


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
    text = grammar_text()
    lark = Lark(
        text,
        parser="lalr",
        lexer="contextual",
        maybe_placeholders=True,
        transformer=transformer,
        cache=cache_file(text) or False,
    )
    _plain_rule_names(lark)
    return lark


def cache_file(text: str) -> str | None:
    """The file for Lark's tables of grammar ``text``, or None: no cache (turned off,
    or no private folder for it: one that this user cannot create, or that another
    user owns or may write to)."""
    if os.environ.get(CACHE_ENV, "1") == "0":
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):
        # A user without a home (a numeric container user with no $HOME and no passwd
        # entry leaves "~" unexpanded) or a relative $XDG_CACHE_HOME, which the XDG spec
        # says to ignore: never a cache folder under the current directory.
        return None
    folder = Path(base) / "receiver"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
    except OSError:
        return None
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return None
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return None
    # One file per grammar, so that two checkouts with different grammars do not
    # rebuild each other's file on every start.
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    version = f"{lark_package.__version__}-py{sys.version_info[0]}.{sys.version_info[1]}"
    return str(folder / f"grammar-{digest}-lark{version}.pickle")


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
