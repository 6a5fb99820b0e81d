"""The console's live diagnostics: ``POST /api/check``.

Stage: the edge (the console) over load and check. Consumes the policy files the page's
editors hold, as ``(name, text)`` sources; produces the diagnostics of ``receiver check``
(the same loader, checker, codes and messages: :func:`~receiver.runtime.policyset.
check_sources` is the path ``check_paths`` takes too), as JSON with 1-based lines and
columns, and the revision of those texts. Expiry is warned about against the real time,
as ``receiver check`` does.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from receiver.runtime.policyset import Source, check_sources, revision_of_sources
from receiver.text.diagnostics import Diagnostic


def diagnostic_json(diagnostic: Diagnostic) -> dict[str, Any]:
    """One diagnostic as ``receiver check --format json`` writes it; one without a
    position (a file too large to read) points at the start of its file."""
    out = diagnostic.to_json()
    if diagnostic.span is None:
        out.update(line=1, column=1, end_line=1, end_column=1)
    return out


def diagnostics_json(diagnostics: Iterable[Diagnostic]) -> list[dict[str, Any]]:
    return [diagnostic_json(d) for d in diagnostics]


def check_json(sources: Sequence[Source], now: float | None = None) -> dict[str, Any]:
    """``{"diagnostics": [...], "revision": "..."}`` for the given files."""
    report = check_sources(sources, now=time.time() if now is None else now)
    return {
        "diagnostics": diagnostics_json(report.diagnostics),
        "revision": revision_of_sources(sources),
    }
