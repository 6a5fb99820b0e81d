"""How ``--help`` shows an option's default: once, and in the words a user types.

Stage: the edge (the command line). Consumes the options argparse holds; produces their
help lines. argparse's own ``ArgumentDefaultsHelpFormatter`` appends ``%(default)s`` to
every option, which printed ``(default: [PosixPath('policies')])`` for a list of paths,
``(default: None)`` and ``(default: False)`` for options that have no default worth
naming, and a second default after a help text that already says one in its own words
("default: the real time"). :class:`Parser` is the parser class of ``receiver`` and of
every command under it (argparse builds a subcommand's parser with its parent's class), so
each command gets :class:`ReadableDefaults` without asking for it.
"""

from __future__ import annotations

import argparse
import re
from pathlib import PurePath
from typing import Any

__all__ = ["Parser", "ReadableDefaults", "readable"]

# A help text that names its default itself ("(default: stdout)", "; default: the real
# time") is left as written: it knows better than the value (an environment variable, a
# fallback, "unsigned").
_SAYS_ITS_DEFAULT = re.compile(r"\bdefault:", re.IGNORECASE)

# Flags: their default is "not given", which the flag's help already describes.
_FLAGS = (
    argparse._StoreTrueAction,
    argparse._StoreFalseAction,
    argparse._StoreConstAction,
    argparse._AppendConstAction,
    argparse._CountAction,
    argparse._HelpAction,
    argparse._VersionAction,
)


def readable(value: object) -> str:
    """``value`` as a user would type it: a path as the path, a list as its items
    separated by spaces, a whole float without its ``.0``."""
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, list | tuple):
        return " ".join(readable(item) for item in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _shows_default(action: argparse.Action) -> bool:
    default = action.default
    if isinstance(action, _FLAGS) or default is None or default is argparse.SUPPRESS:
        return False
    if default in ("", [], ()):
        return False
    # A positional has a default only when it may be left out.
    return bool(action.option_strings) or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE)


class ReadableDefaults(argparse.HelpFormatter):
    """Adds ``(default: VALUE)`` to an option's help when the option has a default worth
    naming and its help does not name one already."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help
        if text is None or text is argparse.SUPPRESS or not _shows_default(action):
            return text
        if _SAYS_ITS_DEFAULT.search(text):
            return text
        # argparse %-formats help texts: a literal % in the value must be doubled.
        return f"{text} (default: {readable(action.default).replace('%', '%%')})"


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` with :class:`ReadableDefaults` unless told otherwise."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", ReadableDefaults)
        super().__init__(*args, **kwargs)
