"""Running counter plans around one decision: keys and reads before, strikes after.

For an event name, the :class:`CounterPlan` lists the counters that matter: event
counters the event feeds (its name matches their ``events``), counters its decision
tree reads, and decision counters whose listed rules apply to it. Per request:

1. :func:`prepare` computes each counter's key (and ``distinct`` value and ``when``) on
   the incoming event and makes the backend operations: an add for each event counter
   fed (the current event counts), a read for everything else that is read;
2. the caller sends them to the backend in ONE call and gives the answers to
   :func:`complete`, which makes ``ctx.counters`` (counter id -> value);
3. after the decision, :func:`strike_ops` says which decision counters to add to (one
   more call, only when a listed enforced rule denied or its modification was applied).

Keys are text: a string key is itself, other values are their compact JSON (so the
string ``"5"`` and the number ``5`` are the same key). A key (or distinct value) that
is null, or whose expression fails, counts nothing and reads as 0.

Stage 4 (run). Consumes a :class:`~receiver.compile.counters.CounterPlan` and an event;
produces the operations for a counter backend (:class:`Op`, each saying which of its
parts are derived from content, as the plan decided) and, from the answers, the
``ctx.counters`` the rules read. The backend is given: anything with ``apply(ops,
now_ms)`` (:class:`SyncBackend`), such as ``receiver.counters.memory.MemoryBackend``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from receiver.compile.counters import CounterPlan, PlannedCounter
from receiver.dsl.context import Context
from receiver.dsl.paths import lookup_path
from receiver.dsl.values import Timestamp, Value, show, to_json, truth
from receiver.runtime.decision import Decision
from receiver.runtime.payload import Event


class Op(NamedTuple):
    """One counter operation of an event: read a key, or add to it and read it."""

    counter: str  # the counter's id, policy/name
    window_ms: int
    key: str  # the key's text
    distinct: bool = False
    member: str | None = None  # distinct adds: the value (plain counts need none)
    add: bool = False
    # Derived from content (receiver.compile.counters.names_an_identifier): a shared
    # store (Redis) keeps only a keyed hash of the key, of the member; memory keeps text.
    hash_key: bool = False
    hash_member: bool = False


class SyncBackend(Protocol):
    """A counter backend that answers in the caller's thread (the in-memory one)."""

    name: str  # said in explanations: where the counter values came from

    def apply(self, ops: Sequence[Op], now_ms: int) -> list[int]: ...


MAX_KEY_CHARS = 200  # longer keys (a whole message text) are stored as their SHA-256


def key_text(value: Value) -> str | None:
    if type(value) is str and len(value) <= MAX_KEY_CHARS:  # the usual key: itself
        return value
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    else:
        text = json.dumps(to_json(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= MAX_KEY_CHARS else _digest(text)


def _digest(text: str) -> str:
    data = text.encode("utf-8", "surrogatepass")
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(slots=True)
class Reading:
    """One counter as an explanation shows it."""

    counter: str
    key: str | None
    value: int | None = None
    counted: bool = False
    note: str = ""

    def render(self) -> str:
        key = "key null" if self.key is None else f"[{show(self.key)}]"
        value = "unknown (backend unavailable)" if self.value is None else str(self.value)
        what = "this event counted" if self.counted else "read"
        note = f"; {self.note}" if self.note else ""
        return f"  {self.counter} {key} = {value} ({what}{note})"


class Prepared:
    """The counter work of one request: operations, values, and what to explain."""

    __slots__ = ("errors", "now_ms", "ops", "plan", "results", "slots", "source", "strikes",
                 "unavailable", "values")  # fmt: skip

    def __init__(self, plan: CounterPlan, now_ms: int) -> None:
        self.plan = plan
        self.now_ms = now_ms
        self.ops: list[Op] = []
        self.slots: list[tuple[PlannedCounter, str | None, int | None]] = []
        self.values: dict[str, Value] = {}
        self.results: Sequence[int] | None = None
        self.unavailable = False
        self.source = ""  # which backend answered: memory, redis, fallback-memory, unknown
        self.errors: list[str] = []
        self.strikes: list[str] = []

    @property
    def readings(self) -> list[Reading]:
        out: list[Reading] = []
        results = self.results
        for planned, key, index in self.slots:
            if index is None:
                value: int | None = 0
            else:
                value = None if results is None else int(results[index])
            counted = index is not None and self.ops[index].add and results is not None
            note = ""
            if planned.strikes:
                note = "strikes are counted after the decision"
            elif key is None:
                note = "key is null or failed: not counted"
            out.append(Reading(planned.id, key, value, counted, note))
        return out

    def explain(self) -> list[str]:
        if not self.plan:
            return []
        lines = ["counters" + (f" ({self.source})" if self.source else "") + ":"]
        lines.extend(r.render() for r in self.readings)
        lines.extend(f"  strike recorded: {s}" for s in self.strikes)
        lines.extend(f"  error: {e}" for e in self.errors)
        return lines


_op = tuple.__new__  # an Op from a tuple, skipping NamedTuple's Python-level __new__


def now_ms(now: Timestamp) -> int:
    return int(now.epoch * 1000)


def prepare(plan: CounterPlan, event: Event, now: Timestamp) -> Prepared:
    """Compute the keys on the incoming event and the backend operations (one call)."""
    prepared = Prepared(plan, int(now.epoch * 1000))
    if not plan.counters:
        return prepared
    ctx: Context | None = None
    ops = prepared.ops
    slots = prepared.slots
    for planned in plan.counters:
        direct = planned.direct
        member: str | None = None
        if direct is not None:  # a plain path: read straight from the event
            value = lookup_path(event.actor if direct[0] == "actor" else event.data, direct[1])
            key = key_text(value)
            fed = planned.feeds
        else:
            if ctx is None:
                ctx = Context(event.name, event.data, event.actor, now, plan.memo_size)
            try:
                key = key_text(planned.key(ctx))
                if planned.distinct is not None:
                    member = key_text(planned.distinct(ctx))
                when = planned.when
                fed = planned.feeds and (when is None or truth(when(ctx), "'when'"))
            except Exception as err:  # a failing key counts nothing and reads 0, like null
                prepared.errors.append(f"counter {planned.id}: {err}")
                key, member, fed = None, None, False
            if planned.is_distinct and member is None:
                fed = False
        index: int | None = None
        if key is not None and (fed or planned.reads):
            index = len(ops)
            ops.append(
                _op(Op, (planned.id, planned.window_ms, key, planned.is_distinct,
                         member if fed else None, fed, planned.hash_key, planned.hash_member))
            )  # fmt: skip
        slots.append((planned, key, index))
    return prepared


def complete(prepared: Prepared, results: Sequence[int] | None, source: str) -> Prepared:
    """Turn the backend's answers (None: unavailable) into ``ctx.counters`` values."""
    prepared.source = source
    prepared.results = results
    prepared.unavailable = results is None and bool(prepared.ops)
    values = prepared.values
    for planned, _key, index in prepared.slots:
        if planned.reads:
            if index is None:
                values[planned.id] = 0
            else:
                values[planned.id] = None if results is None else results[index]
    return prepared


def may_strike(decision: Decision) -> bool:
    """Whether a decision can be a strike at all: only a deciding rule or a modification
    can (most decisions have neither, and skip the strike step)."""
    return decision.rule is not None or bool(decision.modified_by)


def striking_rules(decision: Decision) -> set[str]:
    """The rules whose decision counts as a strike: the enforced deny that ended evaluation
    (not a failure under on_error: deny), or the modify rules whose changes were applied."""
    if decision.degraded:
        return set()
    if decision.action == "deny":
        return {decision.rule} if decision.rule and not decision.by_error else set()
    return set(decision.modified_by)


def strike_ops(prepared: Prepared, decision: Decision) -> list[Op]:
    """The adds to decision counters after the decision (empty for most events)."""
    if not may_strike(decision):
        return []
    striking = striking_rules(decision)
    if not striking:
        return []
    ops: list[Op] = []
    for planned, key, _ in prepared.slots:
        hit = planned.strikes & striking
        if key is None or not hit:
            continue
        ops.append(Op(planned.id, planned.window_ms, key, False, None, True, planned.hash_key))
        prepared.strikes.append(f"{planned.id} [{show(key)}] (by {', '.join(sorted(hit))})")
    return ops
