"""Diagnostics: what ``receiver check`` (and every later stage) reports.

Each stage appends :class:`Diagnostic` objects to a shared :class:`Diagnostics`
collector instead of stopping at the first problem. A diagnostic has a stable
``code`` (for machines and docs), a severity, a message that says what to do,
and the :class:`~receiver.text.source.Span` it points at. Rendering as text gives
``FILE:LINE:COL: error: MESSAGE [code]`` followed by the source line and a caret;
rendering as JSON gives one object per diagnostic.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from receiver.text.source import Span

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    span: Span | None
    path: str = ""

    @property
    def location(self) -> str:
        if self.span is not None:
            return str(self.span)
        return self.path or "<input>"

    def sort_key(self) -> tuple[str, int, int, str]:
        if self.span is None:
            return (self.path, 0, 0, self.message)
        return (self.span.path, self.span.line, self.span.column, self.message)

    def render(self) -> str:
        head = f"{self.location}: {self.severity}: {printable(self.message)} [{self.code}]"
        if self.span is None:
            return head
        snippet = self.span.snippet()
        return f"{head}\n{snippet}" if snippet else head

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "file": self.span.path if self.span else self.path,
        }
        if self.span is not None:
            out.update(
                line=self.span.line,
                column=self.span.column,
                end_line=self.span.end_line,
                end_column=self.span.end_column,
            )
        return out


@dataclass(slots=True)
class Diagnostics:
    """An ordered collector of diagnostics, shared by every compile stage."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, code: str, message: str, span: Span | None, path: str = "") -> None:
        self.items.append(Diagnostic(code, "error", message, span, path))

    def warning(self, code: str, message: str, span: Span | None, path: str = "") -> None:
        self.items.append(Diagnostic(code, "warning", message, span, path))

    def extend(self, other: Iterable[Diagnostic]) -> None:
        self.items.extend(other)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "warning"]

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        unique: dict[tuple[object, ...], Diagnostic] = {}
        for diag in self.items:
            unique.setdefault((*diag.sort_key(), diag.code, diag.severity), diag)
        return sorted(unique.values(), key=Diagnostic.sort_key)


def printable(text: str) -> str:
    """Text with control and other invisible characters escaped, so a message stays one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A ``; did you mean 'x'?`` suffix, or an empty string."""
    matches = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"; did you mean '{matches[0]}'?" if matches else ""


def render_text(diagnostics: Iterable[Diagnostic]) -> str:
    return "\n".join(d.render() for d in diagnostics)


def render_json(diagnostics: Iterable[Diagnostic]) -> str:
    items = list(diagnostics)
    summary = {
        "errors": sum(1 for d in items if d.severity == "error"),
        "warnings": sum(1 for d in items if d.severity == "warning"),
    }
    return json.dumps({"diagnostics": [d.to_json() for d in items], "summary": summary}, indent=2)


def summary_line(diagnostics: Iterable[Diagnostic], policies: int) -> str:
    items = list(diagnostics)
    errors = sum(1 for d in items if d.severity == "error")
    warnings = len(items) - errors
    noun = "policy" if policies == 1 else "policies"

    def plural(n: int, word: str) -> str:
        return f"{n} {word}" + ("" if n == 1 else "s")

    return f"{plural(errors, 'error')}, {plural(warnings, 'warning')} in {policies} {noun}"
