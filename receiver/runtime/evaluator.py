"""Evaluating an event against its decision tree: the one evaluation loop.

Stage 4 of the pipeline: synchronous and free of I/O. Consumes an event's
:class:`~receiver.compile.tree.EventTree` and the event; produces its
:class:`~receiver.runtime.decision.Decision`. The one input that may need I/O, the
actor's user record, is requested lazily: :func:`evaluation` is a generator that
yields the user id when it reaches the first rule that reads ``user``, and is
resumed with the record (or None, or ``LOOKUP_FAILED``). ``receiver.runtime.decide``
drives it for the service, ``receiver eval`` and the test runner; :func:`evaluate`
drives it with a plain lookup function. Explanations come from the same loop with
a :class:`~receiver.runtime.trace.Tracer`, checked once per rule. Semantics (pinned):

1. rules run in order; a matching ``deny`` ends with deny (pending changes dropped),
   a matching ``allow`` ends with allow, a matching ``modify`` applies its changes
   and evaluation goes on with the new data;
2. no rule ended it: allow; any modification and allow: the whole changed data;
3. shadow rules are evaluated and recorded, never change the answer;
4. a rule that fails at run time is skipped, or denies under ``on_error: deny``,
   and the failure is recorded;
5. a rule with ``rollout:`` that matched enforces when the bucket of its key is inside
   the rollout (:mod:`receiver.runtime.rollout`) and acts as a shadow rule otherwise;
   which way it went is recorded (``Decision.rollouts``). A rule with ``expires:`` is
   off from that instant (its compiled test is false; explanations say ``expired``).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from time import perf_counter
from typing import Any, TypeVar

from receiver.check.model import DEFAULT_DENY_MESSAGE, CheckedRule, Target
from receiver.compile.tree import CompiledRule, EventTree, Step, Switch
from receiver.dsl.context import MISSING, Context
from receiver.dsl.paths import lookup_path
from receiver.dsl.times import format_time
from receiver.dsl.values import Timestamp, Value, to_json
from receiver.errors import EvaluationError
from receiver.runtime.changes import apply
from receiver.runtime.decision import Decision, RolloutResult, RuleFailure, ShadowResult
from receiver.runtime.inputs import LOOKUP_FAILED, UserLookup, look_up
from receiver.runtime.payload import Event
from receiver.runtime.rollout import Pins, describe, way
from receiver.runtime.trace import Tracer

ERROR_DENY_MESSAGE = "This action could not be checked right now. Please try again later."

Evaluation = Generator[str, Value, Decision]
Result = TypeVar("Result")


def _failure(compiled: CompiledRule, err: Exception, shadow: bool = False) -> RuleFailure:
    """``shadow``: the rule acts as shadow here although its mode is enforce (a rollout
    rule outside its rollout)."""
    rule = compiled.rule
    shadow = shadow or rule.mode == "shadow"
    if isinstance(err, EvaluationError):
        where = str(err.span) if err.span is not None else str(rule.doc.id.span)
        return RuleFailure(rule.qualified_id, err.message, where, shadow)
    return RuleFailure(
        rule.qualified_id,
        f"internal error: {type(err).__name__}: {err}",
        str(rule.doc.id.span),
        shadow,
    )


def evaluation(
    tree: EventTree,
    event: Event,
    now: Timestamp,
    *,
    explain: bool = False,
    tracer: Tracer | None = None,
    deadline: float | None = None,
    decision_id: str = "",
    counters: Mapping[str, Value] | None = None,
    counters_unavailable: bool = False,
    rollout_pins: Pins | None = None,
) -> Evaluation:
    """The evaluation as a generator: yields a user id when the user record is needed.

    ``deadline`` is a ``time.perf_counter()`` value checked before each rule: past it,
    evaluation stops and the decision comes back marked ``degraded`` (the caller then
    answers its fail-safe action). ``tracer`` (or ``explain``: a tracer showing the
    values of ``tree``'s own closures) records every rule for explanations; the
    decision is made by the same loop and the same closures either way.
    ``rollout_pins`` (the policy test runner's ``rollout:``): the way of the rollout
    rules it names, whatever their bucket.
    """
    ctx = Context(event.name, event.data, event.actor, now, tree.memo_size, decision_id=decision_id)
    if counters is not None:  # values computed before evaluation (receiver/runtime/counters.py)
        ctx.counters = counters
    ctx.counters_unavailable = counters_unavailable
    decision = Decision("allow")
    if explain and tracer is None:
        tracer = Tracer(tree)
    if tracer is not None:
        decision.trace = tracer.start(tree)
    # The one loop. The steps are walked with an explicit stack of the enclosing levels
    # (no generator per level); everything a rule does besides failing its test happens
    # in helpers, and tracing is one check per rule, so the untraced path stays the hot
    # path it has to be.
    outer: list[tuple[tuple[Step, ...], int]] = []
    steps = tree.steps
    position = 0
    while True:
        if position == len(steps):
            if not outer:
                break
            steps, position = outer.pop()
            continue
        step = steps[position]
        position += 1
        if type(step) is Switch:
            switch: Switch = step
            value = lookup_path(ctx.data if switch.root == "data" else ctx.actor, switch.keys)
            outer.append((steps, position))
            steps, position = switch.select(value), 0
            continue
        compiled: CompiledRule = step  # type: ignore[assignment]  # not a Switch: a rule
        if deadline is not None and perf_counter() > deadline:
            return _degraded(decision)
        if compiled.needs_user and not ctx.user_loaded:
            yield from _load_user(ctx)
            if deadline is not None and perf_counter() > deadline:
                return _degraded(decision)
        if tracer is not None:
            if _traced_rule(compiled, ctx, decision, tree, tracer, rollout_pins):
                return decision
            continue
        test = compiled.test
        if test is not None:
            try:
                if not test(ctx):
                    continue
            except Exception as err:
                if _failed(compiled, err, decision, ctx, rollout_pins):
                    return _denied_by_error(decision, compiled.rule)
                continue
        if _matched(compiled, ctx, decision, tree, None, rollout_pins):
            return decision
    if tracer is not None:
        tracer.finish(ctx)
    return _finish(decision, ctx)


def _traced_rule(  # noqa: PLR0917  # the loop's state, passed on
    compiled: CompiledRule,
    ctx: Context,
    decision: Decision,
    tree: EventTree,
    tracer: Tracer,
    pins: Pins | None,
) -> bool:
    """One rule of a traced evaluation, decided exactly as the untraced loop decides it
    (the same test closure, :func:`_failed` and :func:`_matched`), and recorded; whether
    evaluation ends."""
    tracer.enter(compiled, ctx)
    test = compiled.test
    if test is not None:
        try:
            if not test(ctx):
                expires = compiled.expires
                if expires is not None and ctx.now.epoch >= expires:  # the test said so first
                    tracer.record(compiled, f"expired at {format_time(expires)} (skipped)")
                else:
                    tracer.record(compiled, "no match")
                return False
        except Exception as err:
            deny = _failed(compiled, err, decision, ctx, pins)
            failure = decision.errors[-1]
            outcome = "denied (on_error: deny)" if deny else "rule skipped"
            tracer.record(compiled, "error", f"{failure.location}: {failure.message}; {outcome}")
            if deny:
                _denied_by_error(decision, compiled.rule)
            return deny
    tracer.record(compiled, "matched")
    tracer.effects(compiled)
    return _matched(compiled, ctx, decision, tree, tracer, pins)


def _load_user(ctx: Context) -> Generator[str, Value, None]:
    """Ask the caller for the actor's user record (None, a record, or LOOKUP_FAILED)."""
    user_id = ctx.user_id
    record = (yield user_id) if user_id is not None else None
    ctx.user_failed = record is LOOKUP_FAILED
    ctx.user = record if isinstance(record, dict) else None
    ctx.user_loaded = True


def _degraded(decision: Decision) -> Decision:
    """The decision of an evaluation stopped by its deadline."""
    decision.degraded = True
    return decision


def _finish(decision: Decision, ctx: Context) -> Decision:
    """The decision of an evaluation that ended with allow."""
    if decision.modified_by:
        decision.data = ctx.data
    return decision


def _failed(
    compiled: CompiledRule,
    err: Exception,
    decision: Decision,
    ctx: Context,
    pins: Pins | None,
) -> bool:
    """Record a rule whose test failed; whether it denies (``on_error: deny``; a rollout
    rule only for a key it enforces for: for the others it is a shadow rule)."""
    rule = compiled.rule
    enforced = rule.mode == "enforce"
    if enforced and compiled.rollout is not None:
        try:
            enforced = way(compiled.rollout, ctx, pins).enforced
        except Exception:  # the key failed too: outside the rollout
            enforced = False
    decision.errors.append(_failure(compiled, err, not enforced))
    return enforced and rule.policy.on_error == "deny"


def _matched(  # noqa: PLR0917  # the loop's state, passed on
    compiled: CompiledRule,
    ctx: Context,
    decision: Decision,
    tree: EventTree,
    tracer: Tracer | None = None,
    pins: Pins | None = None,
) -> bool:
    """Apply a rule whose test held; whether evaluation ends (``decision`` is final)."""
    rule = compiled.rule
    if rule.mode == "shadow":
        decision.shadow.append(_shadow(compiled, ctx, decision))
        return False
    if compiled.rollout is not None and not _enforces(compiled, ctx, decision, tracer, pins):
        decision.shadow.append(_shadow(compiled, ctx, decision))
        return False
    if rule.action == "deny":
        _deny(compiled, ctx, decision)
        return True
    if rule.action == "allow":
        decision.rule = rule.qualified_id
        _finish(decision, ctx)
        return True
    try:
        values = _modify(compiled, ctx, tree)
    except Exception as err:
        failure = _failure(compiled, err)
        decision.errors.append(failure)
        if tracer is not None:
            tracer.amend(compiled, "error", f"{failure.location}: {failure.message}")
        if rule.policy.on_error == "deny":
            _denied_by_error(decision, rule)
            return True
        return False
    decision.modified_by.append(rule.qualified_id)
    if tracer is not None:
        tracer.changed(compiled, values)
    return False


def _enforces(
    compiled: CompiledRule,
    ctx: Context,
    decision: Decision,
    tracer: Tracer | None,
    pins: Pins | None,
) -> bool:
    """Which way a matched rollout rule goes (recorded in ``decision.rollouts`` and the
    trace); a key that fails to compute is a failure of the rule, and the rule acts as
    shadow (outside the rollout)."""
    rollout = compiled.rollout
    if rollout is None:  # pragma: no cover - only asked for rollout rules
        return True
    try:
        result = way(rollout, ctx, pins)
    except Exception as err:
        decision.errors.append(_failure(compiled, err, True))
        result = RolloutResult(rollout.rule_id, rollout.percent, None, False)
        if tracer is not None:
            failed = f"rollout {rollout.percent:g}%: its key {rollout.key_text} failed -> shadow"
            tracer.rolled_out(compiled, failed)
    else:
        if tracer is not None:
            tracer.rolled_out(compiled, describe(result, rollout.key_text))
    decision.rollouts.append(result)
    return result.enforced


def _deny(compiled: CompiledRule, ctx: Context, decision: Decision) -> None:
    rule = compiled.rule
    decision.action = "deny"
    decision.message = _message(compiled, ctx, decision)
    decision.rule = rule.qualified_id
    decision.status = rule.doc.status
    decision.reason_code = rule.doc.reason_code


def _modify(compiled: CompiledRule, ctx: Context, tree: EventTree) -> list[tuple[Target, Value]]:
    """Apply a modify rule's changes to ``ctx.data`` (all or, when one fails, none)."""
    values = [(target, fn(ctx)) for target, fn in compiled.sets]
    ctx.data = apply(ctx.data, values, compiled.unsets)
    memo = ctx.memo
    for slot in tree.data_slots:
        memo[slot] = MISSING
    return values


def _denied_by_error(decision: Decision, rule: CheckedRule) -> Decision:
    """The decision of a rule that failed under ``on_error: deny``."""
    decision.action = "deny"
    decision.message = ERROR_DENY_MESSAGE
    decision.rule = rule.qualified_id
    decision.by_error = True
    return decision


def _message(compiled: CompiledRule, ctx: Context, decision: Decision, shadow: bool = False) -> str:
    if compiled.message is None:
        return DEFAULT_DENY_MESSAGE
    try:
        return compiled.message(ctx)
    except Exception as err:
        decision.errors.append(_failure(compiled, err, shadow))
        return DEFAULT_DENY_MESSAGE


def _shadow(compiled: CompiledRule, ctx: Context, decision: Decision) -> ShadowResult:
    rule = compiled.rule
    if rule.action == "deny":
        return ShadowResult(rule.qualified_id, "deny", _message(compiled, ctx, decision, True))
    if rule.action == "modify":
        try:
            changes = {str(t): fn(ctx) for t, fn in compiled.sets}
        except Exception as err:
            decision.errors.append(_failure(compiled, err, True))
            return ShadowResult(rule.qualified_id, "modify")
        changes.update({str(t): None for t in compiled.unsets})
        return ShadowResult(rule.qualified_id, "modify", changes=to_json(changes))
    return ShadowResult(rule.qualified_id, rule.action)


def evaluate(
    tree: EventTree,
    event: Event,
    now: Timestamp,
    users: UserLookup | None = None,
    *,
    explain: bool = False,
    decision_id: str = "",
    deadline: float | None = None,
    counters: Mapping[str, Value] | None = None,
    counters_unavailable: bool = False,
    rollout_pins: Pins | None = None,
) -> Decision:
    """Evaluate synchronously, looking the user up with ``users`` when a rule needs it."""
    run = evaluation(
        tree, event, now, explain=explain, deadline=deadline, decision_id=decision_id,
        counters=counters, counters_unavailable=counters_unavailable, rollout_pins=rollout_pins,
    )  # fmt: skip
    return drive(run, users)


def drive(
    run: Generator[Any, Any, Result],
    users: UserLookup | None,
    other: Callable[[Any], Any] | None = None,
) -> Result:
    """Run ``run`` to its end synchronously: the one loop that answers an evaluation's
    requests in the caller's thread. A user id (``str``) is answered by ``users`` (a copy
    of the record, None, or ``LOOKUP_FAILED``; no ``users``: None); any other request by
    ``other`` (``receiver.runtime.decide``: the counter backend's calls)."""
    try:
        request = next(run)
        while True:
            if type(request) is str:
                request = run.send(look_up(users, request))
            elif other is not None:
                request = run.send(other(request))
            else:
                raise TypeError(f"no answer for the request {request!r}")
    except StopIteration as stop:
        result: Result = stop.value
        return result
