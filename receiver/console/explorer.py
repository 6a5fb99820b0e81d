"""The decision explorer's API: ``GET /console/api/decisions`` and ``.../decisions/{id}``.

Stage: the edge (the console inside ``receiver serve --console``). Consumes the query
parameters and the feeds of every worker (``served.py``); produces the newest kept
decisions that pass the filters, merged by time, with a cursor for live updates; and
one decision with its re-explanation on the current revision and on the revision that
decided it (``deciding.explain``, the playground's form, plus ``revision``).

The cursor is opaque to the page: per worker, the last sequence number seen
(``PID-SEQ`` joined by ``.``), so that a decision of another worker that shows up late
(its snapshot is written once a second) is still newer than the cursor. Bad parameters
raise :class:`~receiver.console.bodies.ApiError` (400) saying what to send instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from receiver.adapters.platforms import answer_for
from receiver.console.bodies import ApiError
from receiver.console.deciding import explain
from receiver.console.served import Served, WorkerFeed
from receiver.dsl.values import Timestamp
from receiver.runtime.payload import parse_event

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_FILTER_CHARS = 200
PARAMETERS = ("after", "action", "rule", "event", "actor", "limit")
NO_CONTENT = "start serve with --log-content to keep content and re-explain"


@dataclass(frozen=True, slots=True)
class Query:
    after: dict[int, int] | None  # per worker pid: the last sequence number seen
    action: str | None
    rule: str | None
    event: re.Pattern[str] | None
    actor: str | None
    limit: int

    def matches(self, entry: Mapping[str, Any]) -> bool:
        if self.action is not None and entry.get("action") != self.action:
            return False
        if self.rule is not None and not _names_rule(entry, self.rule):
            return False
        if self.event is not None:
            name = entry.get("event")
            if not isinstance(name, str) or self.event.fullmatch(name) is None:
                return False
        if self.actor is not None:
            actor = entry.get("actor")
            return actor is not None and str(actor) == self.actor
        return True


def _names_rule(entry: Mapping[str, Any], rule: str) -> bool:
    if entry.get("rule") == rule:
        return True
    modified = entry.get("modified_by") or []
    if isinstance(modified, list) and rule in modified:
        return True
    shadow = entry.get("shadow") or []
    return isinstance(shadow, list) and any(
        isinstance(s, dict) and s.get("rule") == rule for s in shadow
    )


def parse_query(params: Mapping[str, str]) -> Query:
    """The explorer's query from the URL's parameters; empty values mean "any"."""
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        raise ApiError(
            400, f"unknown parameter {unknown[0]!r}: give any of {', '.join(PARAMETERS)}"
        )
    values: dict[str, str | None] = {}
    for name in PARAMETERS:
        value = params.get(name)
        if value is not None and len(value) > MAX_FILTER_CHARS:
            raise ApiError(400, f"{name}: at most {MAX_FILTER_CHARS} characters")
        values[name] = value if value else None
    event = values["event"]
    return Query(
        after=parse_cursor(values["after"]) if values["after"] is not None else None,
        action=values["action"],
        rule=values["rule"],
        event=_glob(event) if event is not None else None,
        actor=values["actor"],
        limit=_limit(values["limit"]),
    )


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_LIMIT:
        raise ApiError(400, f"limit: give a whole number from 1 to {MAX_LIMIT}")
    return int(value)


def _glob(pattern: str) -> re.Pattern[str]:
    """An event name, or a glob where ``*`` stands for any characters (nothing else is
    special)."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def parse_cursor(text: str) -> dict[int, int]:
    cursor: dict[int, int] = {}
    for part in text.split("."):
        pid, dash, seq = part.partition("-")
        if not (dash and pid.isascii() and pid.isdigit() and seq.isascii() and seq.isdigit()):
            raise ApiError(
                400, "after: not a cursor this console gave; leave it out to start again"
            )
        if len(pid) > 10 or len(seq) > 19:
            raise ApiError(400, "after: not a cursor this console gave; leave it out")
        cursor[int(pid)] = int(seq)
    return cursor


def format_cursor(cursor: Mapping[int, int]) -> str:
    return ".".join(f"{pid}-{seq}" for pid, seq in sorted(cursor.items()))


def shown(entry: Mapping[str, Any], pid: int, replayable: bool) -> dict[str, Any]:
    """An entry as the page gets it: the decision log's fields and the worker."""
    out = dict(entry)
    out["worker"] = pid
    out["explainable"] = replayable
    return out


def decisions_json(served: Served, feeds: list[WorkerFeed], query: Query) -> dict[str, Any]:
    """``GET /console/api/decisions``."""
    after = query.after or {}
    cursor = dict(after)
    found: list[tuple[float, int, int, dict[str, Any], bool]] = []
    for feed in feeds:
        if feed.items:
            cursor[feed.pid] = max(cursor.get(feed.pid, 0), feed.items[-1][0])
        since = after.get(feed.pid, 0)
        for seq, entry, replay in feed.items:
            if seq > since and query.matches(entry):
                moment = entry.get("time")
                when = float(moment) if isinstance(moment, int | float) else 0.0
                found.append((when, feed.pid, seq, entry, replay is not None))
    found.sort(key=lambda item: (item[0], item[1], item[2]), reverse=True)
    return {
        "entries": [shown(e, pid, ok) for _, pid, _, e, ok in found[: query.limit]],
        "cursor": format_cursor(cursor),
        "content": served.content,
        "buffer": served.feed.capacity,
        "workers": served.workers,
        "revision": served.live.current.revision if served.live.ready else None,
    }


def decision_json(served: Served, feeds: list[WorkerFeed], decision_id: str) -> dict[str, Any]:
    """``GET /console/api/decisions/{decision_id}``: 404 once it left every buffer."""
    for feed in feeds:
        for _seq, entry, replay in reversed(feed.items):
            if entry.get("decision_id") == decision_id:
                return {
                    "entry": shown(entry, feed.pid, replay is not None),
                    "explain": reexplain(served, entry, replay),
                }
    raise ApiError(
        404,
        f"decision {decision_id} is no longer kept (each worker keeps its last "
        f"{served.feed.capacity}; --console-buffer keeps more)",
    )


def reexplain(
    served: Served, entry: Mapping[str, Any], replay: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The kept event decided again, traced, on the current revision and on its own."""
    if replay is None:
        return {"current": None, "original": None, "note": NO_CONTENT}
    event = parse_event(
        {"eventName": replay.get("event"), "data": entry.get("data"), "actor": replay.get("actor")}
    )
    hook = answer_for(str(replay.get("platform")), event)  # in its platform's form, as it was
    now = Timestamp(float(replay.get("now") or 0.0))
    record = replay.get("user")
    users = (lambda _user_id: record) if isinstance(record, dict) else None
    notes: list[str] = []
    if replay.get("user_failed"):
        notes.append("the user directory failed for this decision; decided again without "
                     "a user record")  # fmt: skip
    notes.append("counters start from 0 when a decision is explained again")
    current_result = None
    if served.live.ready:
        current = served.live.current
        current_result = {**explain(current.policies, event, now, users, hook), "revision":
                          current.revision}  # fmt: skip
    revision = str(entry.get("revision", ""))
    original_result = None
    held = served.snapshot(revision)
    if current_result is not None and held is not None and held is served.live.current:
        original_result = current_result
        notes.insert(0, f"decided on the current revision {revision}: both are the same")
    elif held is not None:
        original_result = {**explain(held.policies, event, now, users, hook), "revision": revision}
    else:
        notes.insert(0, f"revision {revision} is no longer held (the service keeps the "
                        "last few it loaded); only the current one is shown")  # fmt: skip
    return {"current": current_result, "original": original_result, "note": "; ".join(notes)}
