"""The whole decision of one event: counters read, the user looked up, rules run, strikes
recorded. The service, ``receiver eval`` and the policy test runner all decide here.

Stage 4 (run). Consumes an :class:`~receiver.runtime.payload.Event`, the live
:class:`~receiver.runtime.policyset.PolicySet` (the event's tree and counter plan,
compiled together) and the inputs: the request time, a user source
(:mod:`receiver.runtime.inputs`) and a counter backend. Produces a :class:`Decided`:
the :class:`~receiver.runtime.decision.Decision` and the event's counter work (its
readings, for explanations).

The steps are written once, in :func:`deciding`: a generator that asks its driver for
what needs I/O and is resumed with the answer, ending with the decision.

1. When the event's plan has counters (or the backend is known to be down), it yields
   a :class:`CounterCall` with the reads and adds of the event (ONE backend call) and
   gets back ``(results, source)``; results None means the backend could not answer.
2. The evaluation (:func:`~receiver.runtime.evaluator.evaluation`) yields a user id
   (a ``str``) when the first rule that reads ``user`` is reached, and gets back the
   record, None (no such user) or ``LOOKUP_FAILED`` (the fail-safe: ``user`` is null
   and ``user_lookup_failed()`` is true).
3. When the decision is a strike for some decision counter, it yields one more
   :class:`CounterCall` (the adds; the answer is not used).

Two drivers fulfil the requests: :func:`decide` synchronously (a plain user lookup and
a :class:`~receiver.runtime.counters.SyncBackend` such as the memory backend, through
:func:`~receiver.runtime.evaluator.drive`, the one synchronous loop, which
:func:`~receiver.runtime.evaluator.evaluate` uses too), and
:func:`decide_async` for the service (a user cache that answers from memory without
awaiting when it can, and a counter front that awaits Redis within the deadline and
falls back). A driver adds no logic of its own: what is asked, when, and what the
answers mean is decided by the generator.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Sequence
from time import perf_counter
from typing import Any, NamedTuple, Protocol

from receiver.compile.counters import EMPTY_PLAN, CounterPlan
from receiver.compile.tree import EventTree
from receiver.dsl.values import Timestamp
from receiver.runtime.counters import (
    Op,
    Prepared,
    SyncBackend,
    complete,
    may_strike,
    prepare,
    strike_ops,
)
from receiver.runtime.decision import Decision
from receiver.runtime.evaluator import drive, evaluation
from receiver.runtime.inputs import MISS, AsyncUserSource, UserLookup, look_up
from receiver.runtime.payload import Event
from receiver.runtime.policyset import PolicySet
from receiver.runtime.rollout import Pins
from receiver.runtime.trace import Tracer

counters_log = logging.getLogger("receiver.counters")  # the counter front's own log


class CounterCall(NamedTuple):
    """A request for the counter backend: these operations, in one call."""

    ops: Sequence[Op]
    now_ms: int
    strikes: bool  # the adds of a decision's strikes (their answer is not used)
    problems: Sequence[str] = ()  # keys that failed to compute (the service logs them)


class Decided(NamedTuple):
    """A decision, the counter work it took (None: no counters were involved) and what
    the user source answered (``user_asked`` false: no rule read ``user``), which
    ``serve --record`` keeps so that a replay sees the same record."""

    decision: Decision
    counters: Prepared | None
    user_asked: bool = False
    user: Any = None  # the answer: a record, None (no such user) or LOOKUP_FAILED

    def counter_lines(self) -> list[str]:
        """The counter lines of an explanation (empty without counters)."""
        return self.counters.explain() if self.counters is not None else []


Request = str | CounterCall  # a user id to look up, or a counter backend call
Steps = Generator[Request, Any, Decision]


def deciding(
    tree: EventTree,
    plan: CounterPlan,
    event: Event,
    now: Timestamp,
    *,
    decision_id: str = "",
    deadline: float | None = None,
    tracer: Tracer | None = None,
    counters_down: Callable[[], bool] | None = None,
    rollout_pins: Pins | None = None,
) -> tuple[Steps, Prepared | None]:
    """The decision of ``event`` on ``tree`` as a generator of requests (module docstring),
    and the event's counter work (None when no counter is involved).

    ``plan``: the event's counter plan (``EMPTY_PLAN`` when there is no counter backend);
    ``counters_down()``: whether the backend is known to be unavailable right now (asked
    only for an event without counter operations, which then reads
    ``counters_unavailable()`` as true). Without counters the steps are the evaluation
    itself: the service's usual request pays for no extra generator. ``rollout_pins``:
    the way of the rollout rules they name (the policy test runner's ``rollout:``).
    """
    if plan or (counters_down is not None and counters_down()):
        prepared = prepare(plan, event, now)
        steps = _counted(
            prepared, tree, event, now, decision_id, deadline, tracer, counters_down, rollout_pins
        )
        return steps, prepared
    run = evaluation(
        tree, event, now, tracer=tracer, deadline=deadline, decision_id=decision_id,
        rollout_pins=rollout_pins,
    )  # fmt: skip
    return run, None


def _counted(  # noqa: PLR0917  # the arguments of deciding(), passed on
    prepared: Prepared,
    tree: EventTree,
    event: Event,
    now: Timestamp,
    decision_id: str,
    deadline: float | None,
    tracer: Tracer | None,
    counters_down: Callable[[], bool] | None,
    rollout_pins: Pins | None,
) -> Steps:
    """Counters read (one call), the evaluation, strikes recorded (one more call, if any)."""
    results, source = yield CounterCall(prepared.ops, prepared.now_ms, False, prepared.errors)
    complete(prepared, results, source)
    if not prepared.ops and counters_down is not None and counters_down():
        prepared.unavailable = True
    decision = yield from evaluation(
        tree, event, now, tracer=tracer, deadline=deadline, decision_id=decision_id,
        counters=prepared.values, counters_unavailable=prepared.unavailable,
        rollout_pins=rollout_pins,
    )  # fmt: skip
    if may_strike(decision):
        ops = strike_ops(prepared, decision)
        if ops:
            yield CounterCall(ops, prepared.now_ms, True)
    return decision


def decide(
    policies: PolicySet,
    event: Event,
    now: Timestamp,
    *,
    users: UserLookup | None = None,
    counters: SyncBackend | None = None,
    decision_id: str = "",
    deadline: float | None = None,
    tracer: Tracer | None = None,
    rollout_pins: Pins | None = None,
    counters_unavailable: bool = False,
) -> Decided:
    """Decide ``event`` synchronously: ``users`` answers lookups (none: no such user),
    ``counters`` is the counter backend (none: counters are not consulted, as in a
    service without one). ``tracer``: record the evaluation for an explanation.
    ``rollout_pins``: the way of the rollout rules they name, whatever their bucket
    (the policy test runner's ``rollout:``).

    ``counters_unavailable``: decide as the service did when its counter backend could not
    answer (a replay of such a record): counters read null and ``counters_unavailable()``
    is true. The event's operations still go to ``counters``, as a call that timed out
    has usually reached Redis."""
    tree, plan = policies.compiled(event.name)
    run, prepared = deciding(
        tree, plan if counters is not None else EMPTY_PLAN, event, now,
        decision_id=decision_id, deadline=deadline, tracer=tracer, rollout_pins=rollout_pins,
        counters_down=_down if counters_unavailable and counters is not None else None,
    )  # fmt: skip

    def backend_call(call: CounterCall) -> tuple[list[int] | None, str]:
        if counters is None:  # pragma: no cover - only asked for with a backend
            raise RuntimeError("a counter call without a counter backend")
        results = counters.apply(call.ops, call.now_ms) if call.ops else []
        if counters_unavailable and not call.strikes:
            return None, "unknown"
        return results, counters.name

    answered: list[Any] = []  # the user source's answer, once asked

    def lookup(user_id: str) -> Any:
        answer = users(user_id) if users is not None else None
        answered.append(answer)
        return answer

    decision = drive(run, lookup, backend_call)
    if answered:
        return Decided(decision, prepared, True, answered[0])
    return Decided(decision, prepared)


def _down() -> bool:
    """``counters_down`` of a decision replayed with its counters unavailable."""
    return True


class AsyncCounters(Protocol):
    """The service's counter front (``receiver.counters.service.CounterService``)."""

    @property
    def down(self) -> bool:
        """Whether counters read as unavailable right now (the backend failed recently)."""
        ...

    async def call(
        self, ops: Sequence[Op], now_ms: int, deadline: float | None
    ) -> tuple[list[int] | None, str]:
        """The answers (None: unknown) and which backend gave them, never raising."""
        ...


async def decide_async(
    policies: PolicySet,
    event: Event,
    now: Timestamp,
    *,
    users: UserLookup | None = None,
    user_cache: AsyncUserSource | None = None,
    counters: AsyncCounters | None = None,
    decision_id: str = "",
    deadline: float,
) -> Decided:
    """Decide ``event`` for the service, within ``deadline`` (a ``perf_counter()`` value).

    Users come from ``user_cache`` when there is one (awaited only on a miss, within the
    time left), else from the synchronous ``users``. ``counters``: the counter front
    (none: counters are not consulted). Counter keys that failed to compute are logged.
    """
    tree, plan = policies.compiled(event.name)
    down: Callable[[], bool] | None = None
    if counters is None:
        plan = EMPTY_PLAN
    else:
        front = counters
        down = lambda: front.down  # noqa: E731  # asked only when needed (module docstring)
    run, prepared = deciding(
        tree, plan, event, now, decision_id=decision_id, deadline=deadline, counters_down=down
    )
    asked = False
    record: Any = None
    try:
        request = next(run)
        while True:
            if type(request) is str:
                if user_cache is not None:
                    record = user_cache.fresh(request)  # the warm path: no coroutine, no await
                    if record is MISS:
                        record = await user_cache.lookup(request, deadline - perf_counter())
                else:
                    record = look_up(users, request)
                asked = True
                request = run.send(record)
            else:
                call: CounterCall = request  # type: ignore[assignment]  # not a user id
                if counters is None:  # only asked for with a counter front
                    raise RuntimeError("a counter call without a counter front")
                for problem in call.problems:
                    counters_log.warning("%s: %s", event.name, problem)
                answer = await counters.call(call.ops, call.now_ms, deadline)
                request = run.send(answer)
    except StopIteration as stop:
        return Decided(stop.value, prepared, asked, record)
