"""The console's Decide button: ``POST /api/decide``.

Stage: the edge (the console) over the whole pipeline. Consumes the policy files, a
payload (a social.plus pre-hook payload or a brainCloud bridge envelope, as ``receiver
eval`` takes), the users (YAML text or a map of id to record) and ``now``; produces the
platform's answer, the decision, the deciding rule, the changed data as a list of path
changes, and the trace as data. It decides with :func:`receiver.runtime.decide.decide`
(the one decision path) and a :class:`~receiver.runtime.trace.Tracer`, as ``receiver
eval --explain`` does, with counters that start from 0. Files that do not check raise
:class:`~receiver.errors.PolicyLoadError`; a bad payload, users or time raise
:class:`~receiver.console.bodies.ApiError` (400) naming the field.

Compiled policy sets are kept by revision (a few), so deciding payload after payload
against the same texts compiles them once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from cachetools import LRUCache

from receiver.adapters.platforms import call_of
from receiver.console.bodies import ApiError
from receiver.counters.memory import MemoryBackend
from receiver.dsl import times
from receiver.dsl.values import Timestamp, show, to_json
from receiver.errors import ReceiverError
from receiver.runtime.decide import decide
from receiver.runtime.decision import Decision, TraceStep
from receiver.runtime.payload import Event
from receiver.runtime.policyset import PolicySet, Source, load_sources, revision_of_sources
from receiver.runtime.trace import Tracer
from receiver.text.source import Span
from receiver.users.static import StaticDirectory

MAX_SHOWN = 2000  # characters of one value shown in the trace


class Compiled:
    """Policy sets compiled from texts, kept by revision (the last few)."""

    def __init__(self, size: int = 4) -> None:
        self._sets: LRUCache[str, PolicySet] = LRUCache(maxsize=size)
        self._lock = threading.Lock()

    def get(self, sources: Sequence[Source]) -> PolicySet:
        """The compiled set of ``sources``; PolicyLoadError when they do not check."""
        revision = revision_of_sources(sources)
        with self._lock:
            found = self._sets.get(revision)
        if found is None:
            found = load_sources(sources, eager=False)
            with self._lock:
                self._sets[revision] = found
        return found


def decide_json(policyset: PolicySet, body: Mapping[str, Any]) -> dict[str, Any]:
    """The answer of ``/api/decide`` for a request body whose files compiled to
    ``policyset``."""
    now = _now(body.get("now"))
    users = _users(body.get("users"))
    payload = body.get("payload")
    try:
        call = call_of(payload)
    except ReceiverError as err:
        raise ApiError(400, f"payload: {err}", field="payload") from None
    try:
        return explain(policyset, call.event, now, users.get if users else None, call.answer)
    except RecursionError:
        raise ApiError(400, "payload: the payload is nested too deeply", field="payload") from None


def explain(
    policyset: PolicySet,
    event: Event,
    now: Timestamp,
    users: Callable[[str], Any] | None,
    answer_of: Callable[[Decision], Any] = Decision.response,
) -> dict[str, Any]:
    """The decision of ``event`` with its trace, in ``/api/decide``'s form; also how the
    explorer of ``serve --console`` decides a kept event again (``explorer.py``)."""
    tracer = Tracer(policyset.traced_tree(event.name))
    decided = decide(policyset, event, now, users=users, counters=MemoryBackend(), tracer=tracer)
    decision = decided.decision
    answer = answer_of(decision)
    summary = decision.summary()
    summary["data"] = to_json(decision.data) if decision.data is not None else None
    return {
        "answer": answer,
        "decision": summary,
        "rule": decision.rule,
        "data_diff": data_diff(to_json(event.data), to_json(decision.data))
        if decision.modified and decision.data is not None
        else [],
        "trace": trace_json(policyset, event.name, decision),
        "counters": decided.counter_lines(),
    }


def _now(value: Any) -> Timestamp:
    if value is None or value == "":
        return Timestamp(time.time())
    if not isinstance(value, str):
        raise ApiError(400, "now: give an ISO-8601 time such as 2026-01-31T12:00:00Z", field="now")
    try:
        return Timestamp(times.parse_time(value))
    except ValueError as err:
        raise ApiError(400, f"now: {err}", field="now") from None


def _users(value: Any) -> StaticDirectory | None:
    """The users: YAML (or JSON) text, a map of id to record, or nothing."""
    try:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, str):
            return StaticDirectory.from_text(value, "users")
        if isinstance(value, dict):
            return StaticDirectory.from_records(value, "users")
    except RecursionError:
        raise ApiError(400, "users: nested too deeply", field="users") from None
    except ReceiverError as err:
        raise ApiError(400, str(err), field="users") from None
    raise ApiError(400, "users: give YAML text or a map of user id to record", field="users")


def data_diff(before: Any, after: Any, root: str = "data") -> list[dict[str, Any]]:
    """Each leaf of the event's data that a modify changed, added or removed, in the
    order of the data (maps are walked into; a list is one value)."""
    old, new = dict(_leaves(before, root)), dict(_leaves(after, root))
    out: list[dict[str, Any]] = []
    for path in list(old) + [p for p in new if p not in old]:
        if path not in new:
            out.append({"path": path, "change": "removed", "before": old[path], "after": None})
        elif path not in old:
            out.append({"path": path, "change": "added", "before": None, "after": new[path]})
        elif old[path] != new[path] or type(old[path]) is not type(new[path]):
            out.append({"path": path, "change": "changed", "before": old[path], "after": new[path]})
    return out


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}")
    else:
        yield path, value


def trace_json(policyset: PolicySet, event: str, decision: Decision) -> dict[str, Any]:
    """The ``--explain`` trace as data: each rule considered, in order, with the values
    of its sub-expressions as a tree (outermost first), then shadow results and failures."""
    where = {r.qualified_id: str(r.doc.span) for r in policyset.rules}
    steps = decision.trace or []
    applying = len(policyset.tree(event).rules)
    summary = decision.summary()
    return {
        "event": event,
        "rules": [_step_json(step, where.get(step.rule, "")) for step in steps],
        "not_reached": max(0, applying - len(steps)),
        "shadow": summary["shadow"],
        "errors": summary["errors"],
    }


def _step_json(step: TraceStep, location: str) -> dict[str, Any]:
    return {
        "rule": step.rule,
        "action": step.action,
        "mode": step.mode,
        "outcome": step.outcome,
        "note": step.note,
        "rollout": step.rollout,
        "location": location,
        "values": nest_values(step),
    }


def nest_values(step: TraceStep) -> list[dict[str, Any]]:
    """A step's values as a tree: each sub-expression under the smallest recorded one whose
    source range holds it (a macro's body, written elsewhere, stays beside its name).

    The loop records a value when its expression is done, so children come before their
    parent; reversed, each parent comes before its subtree, and a stack of the open
    ranges finds each value's parent. A step without spans is listed flat."""
    values = list(reversed(step.values))
    spans: list[Span | None] = (
        list(reversed(step.spans)) if len(step.spans) == len(step.values) else [None] * len(values)
    )
    roots: list[dict[str, Any]] = []
    open_: list[tuple[Span, dict[str, Any]]] = []
    for (text, value), span in zip(values, spans, strict=True):
        node: dict[str, Any] = {"expr": text, "value": _shown(value), "children": []}
        if span is not None:
            node["location"] = str(span)  # FILE:LINE:COL
        while open_ and (span is None or not _holds(open_[-1][0], span)):
            open_.pop()
        (open_[-1][1]["children"] if open_ else roots).append(node)
        if span is not None:
            open_.append((span, node))
    return roots


def _holds(outer: Span, inner: Span) -> bool:
    return (
        outer.source is inner.source
        and (outer.line, outer.column) <= (inner.line, inner.column)
        and (inner.end_line, inner.end_column) <= (outer.end_line, outer.end_column)
    )


def _shown(value: Any) -> str:
    text = show(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."
