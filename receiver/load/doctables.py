"""The field tables of the README and docs/testing.md, written from the field table.

Stage 1 (load), as documentation data. Consumes the field table
(:mod:`receiver.load.fields_doc`) and produces markdown tables; in a source checkout it
rewrites them in place between their markers::

    <!-- table:policy-fields:start -->
    | field | where | meaning |
    ...
    <!-- table:policy-fields:end -->

``python -m receiver.load.doctables`` says which tables differ from the field table
(exit 1 when one does); ``--write`` rewrites them. ``tests/load/test_doctables.py``
fails when a table was edited by hand instead of in ``fields_doc.py``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from receiver.load.fields_doc import (
    CASE_FIELDS,
    COUNTER_FIELDS,
    EXPECT_FIELDS,
    POLICY_TABLE,
    TEST_FILE_FIELDS,
    FieldDoc,
)

__all__ = ["TABLES", "Table", "main", "rewrite", "stale"]


@dataclass(frozen=True, slots=True)
class Table:
    """One docs table: the file (relative to the repository) and its columns."""

    file: str
    header: tuple[str, ...]
    rows: tuple[FieldDoc, ...]
    cells: Callable[[FieldDoc], tuple[str, ...]]

    def render(self) -> str:
        lines = [
            "| " + " | ".join(self.header) + " |",
            "|" + "---|" * len(self.header),
        ]
        for row in self.rows:
            lines.append("| " + " | ".join(_cell(c) for c in self.cells(row)) + " |")
        return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _names(doc: FieldDoc) -> str:
    return ", ".join(f"`{name}`" for name in doc.names)


TABLES: dict[str, Table] = {
    "policy-fields": Table(
        "README.md",
        ("field", "where", "meaning"),
        POLICY_TABLE,
        lambda d: (_names(d), ", ".join(d.where), d.meaning),
    ),
    "counter-fields": Table(
        "README.md", ("field", "meaning"), COUNTER_FIELDS, lambda d: (_names(d), d.meaning)
    ),
    "test-file-fields": Table(
        "docs/testing.md", ("field", "meaning"), TEST_FILE_FIELDS, lambda d: (_names(d), d.meaning)
    ),
    "test-case-fields": Table(
        "docs/testing.md", ("field", "meaning"), CASE_FIELDS, lambda d: (_names(d), d.meaning)
    ),
    "test-expectations": Table(
        "docs/testing.md",
        ("key", "checks", "example"),
        EXPECT_FIELDS,
        lambda d: (_names(d), d.meaning, d.example),
    ),
}


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- table:{name}:start -->\n", f"<!-- table:{name}:end -->"


def _replace(text: str, name: str, table: Table) -> str:
    """``text`` with the table ``name`` between its markers rendered afresh."""
    start, end = _markers(name)
    before, found, rest = text.partition(start)
    if not found or end not in rest:
        raise ValueError(f"{table.file} has no {start.strip()} ... {end} markers")
    return before + start + table.render() + end + rest.split(end, 1)[1]


def stale(root: Path) -> list[str]:
    """The tables whose text under ``root`` differs from the field table."""
    out = []
    for name, table in TABLES.items():
        text = (root / table.file).read_text(encoding="utf-8")
        if _replace(text, name, table) != text:
            out.append(name)
    return out


def rewrite(root: Path) -> list[str]:
    """Write every stale table under ``root``; the names of those written."""
    names = stale(root)
    for name in names:
        table = TABLES[name]
        path = root / table.file
        path.write_text(_replace(path.read_text(encoding="utf-8"), name, table), encoding="utf-8")
    return names


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m receiver.load.doctables",
        description="Check (or --write) the field tables of README.md and docs/testing.md "
        "against receiver/load/fields_doc.py.",
    )
    parser.add_argument("--write", action="store_true", help="rewrite the tables that differ")
    parser.add_argument(
        "--root", type=Path, default=Path(), help="the repository's folder (default: here)"
    )
    args = parser.parse_args(argv)
    names = rewrite(args.root) if args.write else stale(args.root)
    for name in names:
        file = TABLES[name].file
        print(f"{file}: table {name} {'rewritten' if args.write else 'differs'}")
    if names and not args.write:
        print("run: python -m receiver.load.doctables --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
