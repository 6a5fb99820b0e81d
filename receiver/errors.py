"""The few runtime exceptions of the receiver, with one root.

    ReceiverError
    ├── PolicyLoadError       a policy set has errors; carries the diagnostics
    ├── PayloadError          an incoming payload is not a usable event
    └── EvaluationError       a rule failed at run time (e.g. ``len(5)``); carries the span

Static problems in policies are never raised one by one: they are collected as
:class:`~receiver.text.diagnostics.Diagnostic` objects and raised once, at the stage
boundary, as :class:`PolicyLoadError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from receiver.text.diagnostics import Diagnostic
    from receiver.text.source import Span


class ReceiverError(Exception):
    """Root of every exception the receiver raises on purpose."""


class PolicyLoadError(ReceiverError):
    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        errors = [d for d in diagnostics if d.severity == "error"]
        first = errors[0].render().splitlines()[0] if errors else "policy errors"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(first + more)
        self.diagnostics = list(diagnostics)


class PayloadError(ReceiverError):
    """The payload is not a JSON object with a string ``eventName`` and an object ``data``."""


class EvaluationError(ReceiverError):
    """A rule's expression failed at run time."""

    def __init__(self, message: str, span: Span | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.span = span

    def at(self, span: Span) -> EvaluationError:
        """This error, located at ``span`` unless it already has a position."""
        if self.span is None:
            self.span = span
        return self

    def __str__(self) -> str:
        if self.span is None:
            return self.message
        return f"{self.span}: {self.message}"
