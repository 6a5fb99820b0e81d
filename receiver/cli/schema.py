"""``receiver schema policy|test``: print the JSON Schema of a file format.

Stage: the edge (the command line) over :mod:`receiver.load.schema`. Consumes the
format's name and an optional output file; produces the JSON Schema (draft 2020-12) of
policy files or of policy test files, on stdout or in the file. Editors use it for
completion, hover descriptions and errors (docs/editors.md); ``schemas/`` in the
repository holds the same text (a test keeps them equal). Light: it loads no web
server, HTTP client or Redis client.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from receiver.cli.exits import EXIT_OK, EXIT_USAGE
from receiver.load.schema import KINDS, render, schema


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add ``schema`` with its arguments to the ``receiver`` parser's subcommands."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "schema",
        help="print the JSON Schema of policy files or test files, for editors",
        description="Print the JSON Schema (draft 2020-12) of policy files ('policy') or "
        "of policy test files ('test'). Editors read it for completion, hover text and "
        "errors (docs/editors.md); 'receiver check' and 'receiver test' remain the "
        "authority, since a schema cannot see inside expressions.",
    )
    parser.add_argument(
        "kind", choices=list(KINDS), metavar="{policy,test}", help="which file format"
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help="write the schema to FILE instead of stdout",
    )
    return parser


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    return cmd_schema(args.kind, args.output, out, err)


def cmd_schema(kind: str, output: Path | None, out: TextIO, err: TextIO) -> int:
    text = render(schema(kind))
    if output is None:
        out.write(text)
        return EXIT_OK
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        err.write(f"receiver schema: cannot write {output}: {exc.strerror}; pick a writable path\n")
        return EXIT_USAGE
    err.write(f"wrote {output}: the JSON Schema of {kind} files\n")
    return EXIT_OK
