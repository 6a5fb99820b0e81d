"""``receiver tree``: print the compiled decision tree of one event.

Stage: the edge (the command line) over load, check and compile. Consumes a policy
path and an event name; produces the tree as text on stdout (``render_tree``), or the
policies' errors on stderr and exit code 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from receiver.cli.common import load_or_report
from receiver.cli.exits import EXIT_FAILED, EXIT_OK
from receiver.compile.tree import render_tree


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add ``tree`` with its arguments to the ``receiver`` parser's subcommands."""
    tree: argparse.ArgumentParser = commands.add_parser(
        "tree",
        help="print the compiled decision tree for an event",
    )
    tree.add_argument("policies", type=Path, metavar="DIR", help="policy directory (or file)")
    tree.add_argument("event", metavar="EVENT", help="event name, e.g. message.shouldCreate")
    return tree


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    return cmd_tree(args.policies, args.event, out, err)


def cmd_tree(policies: Path, event: str, out: TextIO, err: TextIO) -> int:
    policyset = load_or_report(policies, err)
    if policyset is None:
        return EXIT_FAILED
    out.write(render_tree(policyset.tree(event)) + "\n")
    return EXIT_OK
