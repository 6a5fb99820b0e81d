"""The ``receiver`` command line: a thin skin over the library.

    receiver check DIR... [--strict] [--format text|json]
    receiver eval DIR [PAYLOAD_FILE|-] [--jsonl] [--users FILE] [--now ISO8601] [--explain]
    receiver tree DIR EVENT
    receiver test [PATH...] [-k PATTERN] [--format text|json] [--junit FILE] [--coverage]
    receiver serve [--policies DIR] [--host H] [--port P] [--workers N] ...
    receiver register --callback-url URL [--default-action allow|deny] [--region us|eu|sg]
    receiver send PAYLOAD_FILE [--url URL] [--secret S]
    receiver bundle build DIR -o FILE.tar.gz [--signing-key KEY] | inspect FILE | keygen
    receiver schema policy|test [-o FILE]
    receiver diff OLD NEW RECORDS... [--format text|json|markdown|html] [-o FILE] [--fail-on EXPR]
    receiver replay POLICIES RECORDS... [-o OUT.jsonl] [--users FILE] [--jobs N]
    receiver console [--policies DIR] [--host H] [--port P] [--console-token-file FILE]

Exit codes: 0 success; 1 policy errors (or, for ``check --strict``, warnings);
2 bad usage or bad input (an unreadable payload, users file or time).

Stage: the edge. Each command is a module of its own (listed in :data:`COMMANDS`) with
``add_parser(subcommands)``, which adds the command and its options, and
``run(args, out, err)``, which runs it and returns the exit code. Only the module of
the command on the command line is imported, so ``receiver --version`` imports
nothing but this package, and ``check``, ``eval``, ``tree`` and ``test`` never load
the web server, the HTTP client or the Redis client (half a second of imports before
they were split). An import-linter contract in ``pyproject.toml`` keeps those four
free of them, and ``bench/cli.py`` measures the start-up.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any, Protocol, TextIO, cast

from receiver import __version__, build
from receiver.cli.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from receiver.cli.helpformat import Parser

__all__ = ["COMMANDS", "EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "main"]

# Command name -> its module, in the order ``receiver --help`` lists them.
COMMANDS: dict[str, str] = {
    "check": "receiver.cli.check",
    "eval": "receiver.cli.eval",
    "serve": "receiver.cli.serve",
    "register": "receiver.cli.register",
    "send": "receiver.cli.send",
    "tree": "receiver.cli.tree",
    "test": "receiver.testing.command",
    "bundle": "receiver.cli.bundle",
    "schema": "receiver.cli.schema",
    "diff": "receiver.cli.diff",
    "replay": "receiver.cli.replay",
    "console": "receiver.cli.console",
}


class Command(Protocol):
    """What a command's module provides."""

    def add_parser(self, commands: Any) -> argparse.ArgumentParser: ...

    def run(self, args: argparse.Namespace, out: TextIO, err: TextIO) -> int: ...


def command(name: str) -> Command:
    """The module of the command ``name`` (imported now, if it was not yet)."""
    return cast(Command, importlib.import_module(COMMANDS[name]))


def _named(argv: Sequence[str]) -> str | None:
    """The command argparse will pick from ``argv``, if it is one: the first argument
    that is not an option (the options before a command take no value)."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    return first if first in COMMANDS else None


class _HelpAction(argparse.Action):
    """``receiver --help``: lists every command with its help, so (unlike any other
    use of the parser) it imports every command's module."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(
            option_strings,
            dest=argparse.SUPPRESS,
            default=argparse.SUPPRESS,
            nargs=0,
            help="show this help message and exit",
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        _parser().print_help()
        parser.exit()


class _Version(argparse.Action):
    """``--version``: ``receiver 0.1.0 (compiled with mypyc: 34 modules)`` or ``(Python
    source)``; the build is looked up only when asked (receiver.build), without the web stack."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(f"receiver {__version__} ({build()})")
        parser.exit()


def _parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv``: with every command's options when ``argv`` is not
    given; else with those of the command ``argv`` names, and the other commands by
    name only (argparse never parses them, and ``--help``, which lists them with
    their help, builds the full parser for that)."""
    named = _named(argv) if argv is not None else None
    parser = Parser(  # every command's parser is a Parser too: readable defaults in --help
        prog="receiver",
        description="Declarative rule-engine webhook receiver for trust-and-safety teams.",
        add_help=False,
    )
    parser.add_argument("-h", "--help", action=_HelpAction)
    parser.add_argument(
        "--version",
        action=_Version,
        nargs=0,
        default=argparse.SUPPRESS,
        help="show the version and the build, and exit",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for name in COMMANDS:
        if argv is None or name == named:
            command(name).add_parser(commands)
        else:
            commands.add_parser(name, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser(argv).parse_args(argv)
    try:
        return command(args.command).run(args, sys.stdout, sys.stderr)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
