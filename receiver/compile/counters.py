"""Counter plans: which counters an event feeds, reads and strikes, with their
expressions compiled for that event.

Stage 3 (compile). Consumes the checked counters (:class:`~receiver.check.model.CheckedCounter`)
and an event's decision tree; produces a :class:`CounterPlan`: event counters the event
feeds (its name matches their ``events``), counters its tree reads, and decision
counters whose listed rules apply to it. Running a plan is ``receiver.runtime.counters``.

The plan also says, once per counter, whether its key and its ``distinct`` value are
identifiers or derived from content (:func:`names_an_identifier`): a shared store (Redis)
keeps only a keyed hash of content, never the text itself (README, "What Redis holds").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from receiver.check.model import CheckedCounter
from receiver.compile.closures import compile_expressions
from receiver.dsl import ast
from receiver.dsl import events as ev
from receiver.dsl.analysis import static_path, unwrap
from receiver.dsl.context import Context
from receiver.dsl.values import Value

if TYPE_CHECKING:
    from receiver.compile.tree import EventTree


Fn = Callable[[Context], Value]

# Field names that name an identifier rather than hold content: besides these, any name
# ending in Id, ID or _id (userId, channelId, parentID, message_id).
IDENTIFIER_FIELDS = frozenset({"id", "ID", "event", "eventName", "platform", "type"})


def is_identifier_field(name: str | int) -> bool:
    """Whether a path's last segment names an identifier (an index never does)."""
    return isinstance(name, str) and (
        name in IDENTIFIER_FIELDS or name.endswith(("Id", "ID", "_id"))
    )


def names_an_identifier(expr: ast.Node) -> bool:
    """Whether a counter's key (or ``distinct``) expression yields an identifier, which a
    shared store may keep readable: the event name (``event``), or a plain path of
    ``data`` or ``actor`` whose last segment names an identifier (``actor.userId``,
    ``data.channelId``, ``data.message["id"]``). Anything else (``text``,
    ``data.text``, ``lower(text)``, a concatenation, a list, a template, any function
    call, even ``lower(actor.userId)``) counts as derived from content and is stored
    as a keyed hash."""
    node = unwrap(expr)
    if isinstance(node, ast.Var):
        return node.name == "event"
    path = static_path(node)
    return (
        path is not None
        and path[0] in ("data", "actor")
        and bool(path[1])
        and is_identifier_field(path[1][-1])
    )


class PlannedCounter:
    """A counter as one event uses it, with its expressions compiled for that event."""

    __slots__ = ("counter", "direct", "distinct", "feeds", "hash_key", "hash_member", "id",
                 "is_distinct", "key", "reads", "strikes", "when", "window_ms")  # fmt: skip

    def __init__(
        self,
        counter: CheckedCounter,
        *,
        key: Fn,
        distinct: Fn | None,
        when: Fn | None,
        feeds: bool,
        reads: bool,
        strikes: frozenset[str],
    ) -> None:
        self.counter = counter
        self.key = key
        self.distinct = distinct
        self.when = when
        self.feeds = feeds  # an event counter this event feeds
        self.reads = reads  # the event's decision tree reads it
        self.strikes = strikes  # decision counter: its listed rules that apply to this event
        self.id = counter.id
        self.window_ms = counter.window_ms
        self.is_distinct = distinct is not None
        # Derived from content: a shared store keeps only a keyed hash (decided here, once)
        self.hash_key = not names_an_identifier(counter.key)
        self.hash_member = counter.distinct is not None and not names_an_identifier(
            counter.distinct
        )
        # A key that is a plain path of data or actor, without distinct and when, is read
        # straight from the event (no evaluation context): the usual actor.userId.
        self.direct: tuple[str, tuple[str | int, ...]] | None = None
        path = static_path(counter.key)
        if path is not None and path[0] in ("data", "actor") and distinct is None and when is None:
            self.direct = path


@dataclass(frozen=True, slots=True)
class CounterPlan:
    event: str
    counters: tuple[PlannedCounter, ...] = ()
    memo_size: int = 0  # the memo slots of the context its expressions run on

    def __bool__(self) -> bool:
        return bool(self.counters)


EMPTY_PLAN = CounterPlan("")


def tree_reads(tree: EventTree) -> set[str]:
    """The ids of the counters an event tree's rules read (macros included)."""
    return {
        node.counter
        for compiled in tree.rules
        for expr in compiled.rule.expressions()
        for node in ast.walk(expr)
        if isinstance(node, ast.CounterRef)
    }


def build_plan(counters: Sequence[CheckedCounter], tree: EventTree) -> CounterPlan:
    event = tree.event
    reads = tree_reads(tree)
    applying = {c.rule.qualified_id for c in tree.rules if c.rule.mode == "enforce"}
    chosen: list[tuple[CheckedCounter, bool, frozenset[str]]] = []
    for counter in counters:
        feeds = counter.kind == "events" and any(ev.matches(p, event) for p in counter.events)
        strikes = frozenset(counter.decisions) & applying
        if feeds or strikes or counter.id in reads:
            chosen.append((counter, feeds, strikes))
    # Every key, distinct value and condition of the event in one compilation, so that
    # what they repeat (trim(text) in a key and its condition) is computed once per event.
    exprs = [
        expr
        for counter, _, _ in chosen
        for expr in (counter.key, counter.distinct, counter.when)
        if expr is not None
    ]
    compiled, memo_size = compile_expressions(exprs, event)
    fns = iter(compiled)
    planned = [
        PlannedCounter(
            counter,
            key=next(fns),
            distinct=next(fns) if counter.distinct else None,
            when=next(fns) if counter.when else None,
            feeds=feeds,
            reads=counter.id in reads,
            strikes=strikes,
        )
        for counter, feeds, strikes in chosen
    ]
    return CounterPlan(event, tuple(planned), memo_size)
