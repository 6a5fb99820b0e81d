"""Records of decided events: the JSON Lines format of ``receiver serve --record``, read back
by ``receiver replay`` and ``receiver diff``.

The edge (a sink and its reader). Consumes what the service knew when it decided one
event (the event, its time, the user record the rules saw, the decision); produces one
record line (:func:`record_entry`, a JSON-ready dict). Back the other way, consumes
record files, and decision-log files written with ``--log-content``; produces
:class:`Record` values (:func:`read_records`), or a :class:`RecordError` naming the file
and line and saying what is wrong. :func:`record_line` is :func:`record_entry` encoded as
the line the service writes, without copying the event first.

A record, format version 1 (one JSON object per line)::

    {"record": 1, "decision_id": "...", "time": 1764950400.123456, "platform": "socialplus",
     "revision": "...", "event": "message.shouldCreate", "actor": {...}, "data": {...},
     "user_lookup": "found" | "none" | "failed" | "not-needed", "user": {...} | null,
     "decision": {"action": ..., "message": ..., "data": ..., "rule": ..., ...}}

- ``time`` is the instant the rules saw as ``now()`` (seconds since the epoch, full
  precision), so that counters and ``age()`` replay exactly;
- ``actor`` and ``data`` are the event's as the platform sent them (before any change);
- ``user_lookup`` says what the user source answered: a record (``found``, kept in
  ``user``), no such user (``none``), a failed lookup (``failed``), or nothing because no
  rule read ``user`` (``not-needed``);
- ``sample`` (present only under ``--record-sample`` below 1): the share of actors
  recorded, so that a replay can say that counters keyed by anything but the actor saw
  only part of the traffic;
- ``counters`` (present only when the counter backend did not answer as usual):
  ``unavailable`` when it could not answer (counters read null and
  ``counters_unavailable()`` was true: a replay decides the event the same way), or
  ``fallback`` when the values came from a worker's own memory (``--counters-fallback
  memory``), which a replay cannot know;
- ``decision`` is :meth:`~receiver.runtime.decision.Decision.summary` plus ``data`` (the
  whole data after the changes, for an allow that modified it) and, when the answer was
  the fail-safe one, ``degraded_reason``.

A decision-log line written with ``--log-content`` is read as a record too: its ``actor``
is the actor id only (read as ``{"userId": id, "_id": id}``), its ``time`` is the
instant the rules saw to the millisecond, and the user record is unknown (``user_lookup``
``unknown``: replay with ``--users``).
"""

from __future__ import annotations

import gzip
import json
import math
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Final, Literal, NamedTuple

import orjson

from receiver.dsl.values import to_json
from receiver.errors import ReceiverError
from receiver.runtime.counters import Prepared
from receiver.runtime.decision import Decision
from receiver.runtime.inputs import LOOKUP_FAILED
from receiver.runtime.payload import Event
from receiver.text import jsoncodec

FORMAT_VERSION: Final = 1
SUPPORTED_VERSIONS: Final = frozenset({1})

UserLookupState = Literal["found", "none", "failed", "not-needed", "unknown"]
USER_STATES: Final = ("found", "none", "failed", "not-needed", "unknown")
COUNTER_STATES: Final = ("unavailable", "fallback")  # the "counters" member, when present


class RecordError(ReceiverError):
    """A record file that cannot be read; the message names the file and line."""


class Record(NamedTuple):
    """One decided event as recorded (or as its decision-log line with content)."""

    decision_id: str
    time: float  # the decision's now(), seconds since the epoch
    platform: str
    event: Event
    user_lookup: UserLookupState
    user: dict[str, Any] | None  # the record the rules saw, when user_lookup is "found"
    decision: dict[str, Any]  # the recorded decision (record_decision()'s shape)
    revision: str = ""
    source: str = ""  # FILE:LINE the record was read from
    counters: str = ""  # "", or a COUNTER_STATES entry: how the counter backend answered
    sample: float = 1.0  # the --record-sample rate it was recorded at (1: every actor)

    @property
    def degraded(self) -> bool:
        """Whether the recorded answer was a fail-safe one (deadline, error, not ready)."""
        return bool(self.decision.get("degraded"))


def lookup_state(answer: Any, asked: bool) -> UserLookupState:
    """What a user source's answer was: ``found``, ``none``, ``failed`` or ``not-needed``."""
    if not asked:
        return "not-needed"
    if answer is LOOKUP_FAILED:
        return "failed"
    if isinstance(answer, Mapping):
        return "found"
    return "none"


def counter_state(prepared: Prepared | None) -> str | None:
    """The ``counters`` member of a record: None when the backend answered as usual (or no
    counter was involved), else ``unavailable`` or ``fallback``."""
    if prepared is None:
        return None
    if prepared.unavailable:
        return "unavailable"
    if prepared.source.startswith("fallback"):
        return "fallback"
    return None


def record_decision(decision: Decision, degraded_reason: str | None = None) -> dict[str, Any]:
    """The ``decision`` member of a record, and of a replay's output line."""
    summary = decision.summary()
    if decision.action == "allow" and decision.modified_by and decision.data is not None:
        summary["data"] = to_json(decision.data)
    if decision.status is not None:
        summary["status"] = decision.status
    if decision.reason_code is not None:
        summary["reason_code"] = decision.reason_code
    if degraded_reason:
        summary["degraded_reason"] = degraded_reason
    return summary


def record_entry(
    *,
    decision_id: str,
    now: float,
    platform: str,
    event: Event,
    user_answer: Any,
    user_asked: bool,
    decision: Decision,
    revision: str,
    degraded_reason: str | None = None,
    counters: str | None = None,
    sample: float = 1.0,
    as_json: bool = True,
) -> dict[str, Any]:
    """One record line's content. ``as_json`` false leaves the event's actor and data and
    the user record as they are (:func:`record_line` hands them to the encoder, which
    converts what is not JSON as :func:`to_json` does, without copying them first)."""
    state = lookup_state(user_answer, user_asked)
    actor, data = event.actor, event.data
    user = user_answer if state == "found" else None
    if as_json:
        actor, data = to_json(actor), to_json(data)
        user = to_json(dict(user)) if user is not None else None
    entry = {
        "record": FORMAT_VERSION,
        "decision_id": decision_id,
        "time": now,
        "platform": platform,
        "revision": revision,
        "event": event.name,
        "actor": actor,
        "data": data,
        "user_lookup": state,
        "user": user,
        "decision": record_decision(decision, degraded_reason),
    }
    if counters is not None:
        entry["counters"] = counters
    if sample < 1:
        entry["sample"] = sample
    return entry


def record_line(
    *,
    decision_id: str,
    now: float,
    platform: str,
    event: Event,
    user_answer: Any,
    user_asked: bool,
    decision: Decision,
    revision: str,
    degraded_reason: str | None = None,
    counters: str | None = None,
    sample: float = 1.0,
) -> bytes:
    """:func:`record_entry` as one JSON line, the same bytes as encoding its dict, but
    cheaper on the request path: the event and the user record go to the encoder as they
    are (values that are not JSON, such as times, are converted as :func:`to_json` does),
    instead of being copied by :func:`to_json` first."""
    facts: dict[str, Any] = {
        "decision_id": decision_id, "now": now, "platform": platform, "event": event,
        "user_answer": user_answer, "user_asked": user_asked, "decision": decision,
        "revision": revision, "degraded_reason": degraded_reason, "counters": counters,
        "sample": sample,
    }  # fmt: skip
    try:
        return orjson.dumps(record_entry(**facts, as_json=False), default=_converted,
                            option=_OPTIONS)  # fmt: skip
    except (TypeError, orjson.JSONEncodeError):  # keys that are not text, integers past 64 bits
        entry = record_entry(**facts)
        return json.dumps(entry, default=str, ensure_ascii=False).encode() + b"\n"


# Times and durations are dataclasses, which orjson would write field by field: it hands
# them to _converted instead.
_OPTIONS: Final = orjson.OPT_APPEND_NEWLINE | orjson.OPT_PASSTHROUGH_DATACLASS


def _converted(value: Any) -> Any:
    """orjson's fallback for a value it cannot encode: what :func:`to_json` makes of it."""
    converted = to_json(value)
    if converted is value:
        raise TypeError(f"{type(value).__name__} is not JSON")
    return converted


def parse_record(entry: Any, where: str) -> Record:
    """A record (or a decision-log line with content) from one parsed JSON line."""
    if not isinstance(entry, dict):
        raise RecordError(f"{where}: a record must be a JSON object")
    if "record" in entry:
        return _record(entry, where)
    return _decision_log_line(entry, where)


def _record(entry: dict[str, Any], where: str) -> Record:
    version = entry.get("record")
    if version not in SUPPORTED_VERSIONS:
        raise RecordError(
            f"{where}: record format {version!r} is not one this version reads "
            f"({', '.join(map(str, sorted(SUPPORTED_VERSIONS)))}); upgrade the receiver"
        )
    event = _event(entry, where, entry.get("actor"))
    state = entry.get("user_lookup")
    if state not in USER_STATES:
        raise RecordError(f"{where}: 'user_lookup' must be one of {', '.join(USER_STATES)}")
    user = entry.get("user")
    if state == "found" and not isinstance(user, dict):
        raise RecordError(f"{where}: 'user_lookup' is 'found' but 'user' is not an object")
    counters = entry.get("counters")
    if counters is not None and counters not in COUNTER_STATES:
        raise RecordError(f"{where}: 'counters' must be one of {', '.join(COUNTER_STATES)}")
    sample = entry.get("sample", 1.0)
    if isinstance(sample, bool) or not isinstance(sample, int | float) or not 0 < sample <= 1:
        raise RecordError(f"{where}: 'sample' must be a number above 0 and at most 1")
    return Record(
        decision_id=_text(entry, "decision_id", where),
        time=_time(entry, where),
        platform=_text(entry, "platform", where),
        event=event,
        user_lookup=state,
        user=user if state == "found" else None,
        decision=_decision(entry.get("decision"), where),
        revision=str(entry.get("revision") or ""),
        source=where,
        counters=counters or "",
        sample=float(sample),
    )


def _decision_log_line(entry: dict[str, Any], where: str) -> Record:
    if "decision_id" not in entry or "action" not in entry or "event" not in entry:
        if "eventName" in entry or {"service", "operation"} <= entry.keys():  # a payload
            raise RecordError(
                f"{where}: a platform payload, not a record: replay needs what the service "
                "saw and answered, which 'receiver serve --record DIR' writes (a decision log "
                "written with --log-content is read too); to decide plain payloads, run "
                "'receiver eval POLICIES FILE --jsonl'"
            )
        raise RecordError(
            f"{where}: neither a record (no 'record' key) nor a decision-log line "
            "(no 'decision_id', 'event' and 'action'); 'receiver serve --record DIR' "
            "writes records"
        )
    if "data" not in entry:
        raise RecordError(
            f"{where}: this decision-log line holds no content; replay needs the event's "
            "data: run the service with --record PATH, or with --log-content"
        )
    actor_id = entry.get("actor")
    actor = {"userId": actor_id, "_id": actor_id} if isinstance(actor_id, str | int) else {}
    decision = {
        key: entry.get(key)
        for key in ("action", "message", "rule", "modified_by", "shadow", "errors", "degraded")
    }
    for key in ("status", "reason_code"):  # a deny's own status and reason code (brainCloud)
        if entry.get(key) is not None:
            decision[key] = entry[key]
    if entry.get("degraded_reason"):
        decision["degraded_reason"] = entry["degraded_reason"]
    return Record(
        decision_id=_text(entry, "decision_id", where),
        time=_time(entry, where),
        platform=_text(entry, "platform", where),
        event=_event(entry, where, actor),
        user_lookup="unknown",
        user=None,
        decision=_decision(decision, where),
        revision=str(entry.get("revision") or ""),
        source=where,
    )


def _event(entry: dict[str, Any], where: str, actor: Any) -> Event:
    name = entry.get("event")
    if not isinstance(name, str) or not name:
        raise RecordError(f"{where}: 'event' must be the event's name")
    data = entry.get("data")
    if not isinstance(data, dict):
        raise RecordError(f"{where}: 'data' must be a JSON object")
    if actor is None:
        actor = {}
    if not isinstance(actor, dict):
        raise RecordError(f"{where}: 'actor' must be a JSON object")
    return Event(name, data, actor)


def _text(entry: dict[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise RecordError(f"{where}: '{key}' must be a non-empty string")
    return value


def _time(entry: dict[str, Any], where: str) -> float:
    value = entry.get("time")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RecordError(f"{where}: 'time' must be seconds since the epoch (a number)")
    return float(value)


def _decision(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or value.get("action") not in ("allow", "deny"):
        raise RecordError(f"{where}: 'decision' must be an object whose action is allow or deny")
    return value


def open_lines(path: Path) -> IO[bytes]:
    """A record file's bytes; ``.gz`` files (rotated and compressed) are read through gzip."""
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]  # a binary file object
    return path.open("rb")


def iter_file(path: Path) -> Iterator[Record]:
    """The records of one file, in file order. Blank lines are skipped; a line cut short
    at the very end (a file still being written) is skipped too, any other bad line is a
    :class:`RecordError`, and so is a ``.gz`` file that is not gzip or is cut short."""
    try:
        yield from _file_records(path)
    except gzip.BadGzipFile as err:
        raise RecordError(
            f"{path}: not a gzip file ({err}); name it .jsonl if it is text"
        ) from None
    except (EOFError, zlib.error) as err:
        raise RecordError(
            f"{path}: not a whole gzip file ({err}): a copy or compression that did not "
            "finish? Replay the whole file, or decompress what it holds (zcat) to a .jsonl"
        ) from None


def _file_records(path: Path) -> Iterator[Record]:
    with open_lines(path) as stream:
        pending: tuple[int, bytes] | None = None
        for number, line in enumerate(stream, 1):
            if pending is not None:
                yield _parse_line(path, *pending)
                pending = None
            if not line.strip():
                continue
            pending = (number, line)
        if pending is not None:
            number, line = pending
            if line.endswith(b"\n"):
                yield _parse_line(path, number, line)


def _parse_line(path: Path, number: int, line: bytes) -> Record:
    where = f"{path}:{number}"
    try:
        entry = jsoncodec.loads(line)
    except jsoncodec.JSONError as err:
        if err.column is None:  # not UTF-8, nested too deeply, ...
            raise RecordError(f"{where}: {err}") from None
        # A record is one line of the file: "line 1" of the document would mislead.
        raise RecordError(f"{where}: invalid JSON at column {err.column}: {err.reason}") from None
    return parse_record(entry, where)


def record_files(paths: Iterable[Path]) -> list[Path]:
    """The files named: a directory stands for its ``*.jsonl`` and ``*.jsonl.gz`` files. A
    file named twice (itself and its directory) is listed once."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(p for p in path.iterdir() if p.name.endswith((".jsonl", ".jsonl.gz")))
            )
        elif path.exists():
            found.append(path)
        else:
            raise RecordError(f"{path}: no such file or directory")
    seen: set[Path] = set()
    unique = []
    for path in found:
        resolved = path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            unique.append(path)
    return unique


def read_records(paths: Iterable[Path]) -> list[Record]:
    """Every record of the files (and directories) named, in time order (ties keep file
    order): the order the service decided them in, across workers and rotated files. A
    decision read twice (a record and the decision-log line of the same event, or a copy
    of a file) is a :class:`RecordError`: it would be counted twice."""
    records = [record for path in record_files(paths) for record in iter_file(path)]
    first: dict[str, str] = {}
    for record in records:
        where = first.setdefault(record.decision_id, record.source)
        if where != record.source:
            raise RecordError(
                f"{record.source}: decision {record.decision_id} was read already, at "
                f"{where}: the same event twice would count twice; name each file once, "
                "and the records or the decision log of some traffic, not both"
            )
    records.sort(key=_by_time)
    return records


TAIL_BYTES: Final = 65_536  # how far back cut_short looks for a file's last line


def cut_short(paths: Iterable[Path]) -> list[str]:
    """The record files (not ``.gz``) whose last line is cut short, without its newline:
    a file still being written. :func:`iter_file` leaves that line out; this says so."""
    found: list[str] = []
    for path in record_files(paths):
        if path.suffix == ".gz":
            continue
        try:
            with path.open("rb") as stream:
                size = stream.seek(0, 2)
                stream.seek(max(0, size - TAIL_BYTES))
                tail = stream.read()
        except OSError:
            continue  # reading the records says what is wrong with it
        if tail and not tail.endswith(b"\n") and tail.rsplit(b"\n", 1)[-1].strip():
            found.append(str(path))
    return found


def cut_note(files: Sequence[str]) -> str:
    """What a replay or a diff says of the lines :func:`cut_short` found."""
    named = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
    return f"left out: the last line of {named}, cut short (a file still being written?)"


# A writer's file of serve --record: DIR/<host>.w<N>.<SEQ>.jsonl (receiver.observe.rotating)
_WRITER_FILE: Final = re.compile(r"(?P<writer>.+\.w\d+)\.(?P<seq>\d{6,})\.jsonl(?:\.gz)?")


class Gap(NamedTuple):
    """A writer whose first files are gone (rotated out, or deleted): its events before
    ``complete_from`` are missing from the records read."""

    writer: str  # <host>.w<N>
    first_file: str  # the name of the first file still there
    complete_from: float  # the time of its first record still there


def rotated_out(records: Iterable[Record]) -> list[Gap]:
    """The writers of ``serve --record`` whose records begin with a file after their first
    (``<SEQ>`` above 1): what they recorded before is missing, and counters replayed from
    the first record count less than the service did until then."""
    first: dict[str, tuple[int, str, float]] = {}  # writer -> (seq, file name, first time)
    for record in records:
        name = Path(record.source.rpartition(":")[0]).name
        match = _WRITER_FILE.fullmatch(name)
        if match is None:
            continue
        writer, seq = match["writer"], int(match["seq"])
        known = first.get(writer)
        if known is None or seq < known[0] or (seq == known[0] and record.time < known[2]):
            first[writer] = (seq, name, record.time)
    return sorted(
        (Gap(writer, name, at) for writer, (seq, name, at) in first.items() if seq > 1),
        key=lambda gap: gap.writer,
    )


def _by_time(record: Record) -> float:
    return record.time
