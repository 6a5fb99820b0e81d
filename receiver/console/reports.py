"""The console's Replay reports: ``GET /api/reports`` and ``GET /api/reports/{name}``.

Stage: the edge (the console) over replay's report document. Consumes the folder given
with ``receiver console --reports DIR`` (read only) and a report's name; produces the
list of the ``receiver diff --format json`` reports at the top of that folder, with a
summary of each, and one report's document as ``receiver diff`` wrote it
(:func:`~receiver.replay.report.build_report`'s document, version
:data:`~receiver.replay.report.REPORT_VERSION`). It also gives the page replay's names for
the kinds of flip and the measures of a rule (:data:`~receiver.replay.answers.KINDS`,
``KIND_TITLES``, :data:`~receiver.replay.compare.MEASURES`), so the page names them as
the text report does.

A name is a plain file name ending in ``.json`` (no directory, no dot first), resolved
inside the folder (a symbolic link leading out of it is refused); a file over
:data:`MAX_REPORT_BYTES` is refused; a JSON file that is not a diff report is not
listed, and asked for by name answers 400. Nothing is written.
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any

from receiver.console.bodies import ApiError
from receiver.replay.answers import KIND_TITLES, KINDS
from receiver.replay.compare import MEASURES
from receiver.replay.report import REPORT_VERSION

MAX_REPORT_BYTES = 16 * 1024 * 1024  # a report with its samples; the test corpus's is 30 KB
MAX_LISTED = 200  # reports listed (newest first)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,159}\.json")


def valid_report_name(name: str) -> bool:
    """A plain ``*.json`` file name: letters, digits, ``.``, ``_``, ``-``, no dot first."""
    return _NAME.fullmatch(name) is not None and ".." not in name


def names_json() -> dict[str, Any]:
    """Replay's names, for the page: the kinds of flip with their titles, the measures."""
    return {
        "kinds": [{"kind": kind, "title": KIND_TITLES[kind]} for kind in KINDS],
        "measures": list(MEASURES),
    }


def is_report(document: Any) -> bool:
    """Whether a JSON document is a ``receiver diff --format json`` report this console reads."""
    return (
        isinstance(document, dict)
        and document.get("diff") == REPORT_VERSION
        and isinstance(document.get("flips"), dict)
        and isinstance(document.get("rules"), list)
    )


def _summary(name: str, path: Path, document: dict[str, Any]) -> dict[str, Any]:
    old, new = document.get("old") or {}, document.get("new") or {}
    gate = document.get("gate")
    return {
        "name": name,
        "bytes": path.stat().st_size,
        "modified": path.stat().st_mtime,
        "events": document.get("events"),
        "flips": document["flips"].get("total"),
        "old": old.get("revision") if isinstance(old, dict) else None,
        "new": new.get("revision") if isinstance(new, dict) else None,
        "gate_held": gate.get("held") if isinstance(gate, dict) else None,
    }


def _load(path: Path) -> Any:
    """A file's JSON; ApiError when too large, unreadable or not JSON."""
    if path.stat().st_size > MAX_REPORT_BYTES:
        raise ApiError(
            413, f"{path.name} is larger than {MAX_REPORT_BYTES:,} bytes, the console's limit"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(400, f"{path.name} is not JSON: is it a receiver diff report?") from None


def _inside(folder: Path, name: str) -> Path | None:
    """``folder/name`` when it is a regular file inside the folder (links included only
    when they stay inside), else None."""
    path = folder / name
    try:
        resolved = path.resolve(strict=True)
        if resolved.parent != folder.resolve() or not resolved.is_file():
            return None
    except (OSError, RuntimeError):
        return None
    return path


def list_reports(folder: Path | None) -> dict[str, Any]:
    """``GET /api/reports``: the reports in the folder (newest first) and replay's names."""
    out: dict[str, Any] = {"folder": folder is not None, "reports": [], **names_json()}
    if folder is None:
        return out
    found: list[dict[str, Any]] = []
    with contextlib.suppress(OSError):
        for path in folder.iterdir():
            if not valid_report_name(path.name) or _inside(folder, path.name) is None:
                continue
            with contextlib.suppress(OSError, ApiError):
                document = _load(path)
                if is_report(document):
                    found.append(_summary(path.name, path, document))
    found.sort(key=lambda r: (-r["modified"], r["name"]))
    out["reports"] = found[:MAX_LISTED]
    return out


def read_report(folder: Path | None, name: str) -> dict[str, Any]:
    """``GET /api/reports/{name}``: ``{"name", "report"}``; ApiError 400/404/413 otherwise."""
    if folder is None:
        raise ApiError(
            404, "no reports folder: start the console with --reports DIR, or open a file"
        )
    if not valid_report_name(name):
        raise ApiError(
            400,
            f"{name[:80]!r} is not a report name: use a plain file name ending in .json "
            "(letters, digits, '.', '_', '-')",
        )
    path = _inside(folder, name)
    if path is None:
        raise ApiError(404, f"no report {name!r} in the reports folder")
    try:
        document = _load(path)
    except OSError:
        raise ApiError(404, f"the report {name!r} cannot be read") from None
    if not is_report(document):
        raise ApiError(
            400,
            f"{name} is not a receiver diff report (version {REPORT_VERSION}): "
            "make one with 'receiver diff OLD NEW RECORDS --format json -o FILE'",
        )
    return {"name": name, "report": document}
