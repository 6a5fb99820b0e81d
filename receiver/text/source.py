"""Source text and positions.

Below the stages (text). Consumes the text of a file; produces a :class:`SourceFile` and the
:class:`Span` objects (positions) that every stage attaches to what it produces.

A :class:`SourceFile` holds the text of one input file; a :class:`Span` points
at a range inside it (1-based line and column, end exclusive). Spans travel
from the YAML loader through every AST node into every diagnostic and runtime
error, so anything the user is told can show the line and a caret.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass(eq=False, slots=True)
class SourceFile:
    """The text of one file (or of a synthetic source such as ``<payload>``)."""

    path: str
    text: str = field(repr=False)
    _line_starts: list[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        starts = [0]
        index = self.text.find("\n")
        while index != -1:
            starts.append(index + 1)
            index = self.text.find("\n", index + 1)
        self._line_starts = starts

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def offset(self, line: int, column: int) -> int:
        """Character offset of a 1-based (line, column)."""
        line = max(1, min(line, len(self._line_starts)))
        return min(self._line_starts[line - 1] + column - 1, len(self.text))

    def line_text(self, line: int) -> str:
        if line < 1 or line > len(self._line_starts):
            return ""
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end == -1 else self.text[start:end]

    def span(self, start: int, end: int | None = None) -> Span:
        """A span from character offsets ``start`` to ``end`` (exclusive)."""
        end = start if end is None else max(start, end)
        starts = self._line_starts
        if 0 <= start <= len(self.text):  # position(start), without its clamp
            line = bisect.bisect_right(starts, start)
            column = start - starts[line - 1] + 1
        else:
            line, column = self.position(start)
        next_line = starts[line] if line < len(starts) else len(self.text)
        if start >= 0 and end < next_line:  # on the start's line (most spans): no second search
            return Span(self, line, column, line, column + end - start)
        end_line, end_column = self.position(end)
        return Span(self, line, column, end_line, end_column)


@dataclass(frozen=True, slots=True)
class Span:
    """A range in a source file: 1-based, end exclusive."""

    source: SourceFile
    line: int
    column: int
    end_line: int
    end_column: int

    @property
    def path(self) -> str:
        return self.source.path

    @property
    def text(self) -> str:
        """The source text the span covers."""
        start = self.source.offset(self.line, self.column)
        end = self.source.offset(self.end_line, self.end_column)
        return self.source.text[start:end]

    def to(self, other: Span) -> Span:
        """The span from the start of this one to the end of ``other``."""
        return Span(self.source, self.line, self.column, other.end_line, other.end_column)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"

    def snippet(self) -> str:
        """The source line with a caret (and tildes) under the span."""
        text = self.source.line_text(self.line)
        if not text and self.line > 1 and self.column == 1:
            return ""
        width = 1
        if self.end_line == self.line and self.end_column > self.column:
            width = self.end_column - self.column
        elif self.end_line > self.line:
            width = max(1, len(text) - self.column + 1)
        pad = "".join("\t" if c == "\t" else " " for c in text[: self.column - 1])
        caret = "^" + "~" * (width - 1)
        gutter = f"{self.line:>4} | "
        return f"{gutter}{text}\n{' ' * (len(gutter) - 2)}| {pad}{caret}"
