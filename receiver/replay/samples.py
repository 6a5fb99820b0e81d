"""The explanation of a sampled event's NEW decision, for the diff's reports.

The edge of replay (``receiver diff``). Consumes a policy set (NEW) and a
:class:`~receiver.replay.compare.Sample`: the record, and the
:class:`~receiver.runtime.decide.Decided` of its replay, which holds the counter values
the replay read and what the user source answered. Produces the explanation text of
``receiver eval --explain`` (:func:`~receiver.runtime.explain.render_explanation`).

Only the sampled events are evaluated again, traced, by the one evaluation loop
(:func:`~receiver.runtime.evaluator.evaluation` with a
:class:`~receiver.runtime.trace.Tracer`), with the counter values the replay read
passed in: nothing is counted twice, and the explanation is of the same inputs. Should
the traced decision differ from the replayed one (it cannot, unless a rule reads the
wall clock), the explanation says so.
"""

from __future__ import annotations

from typing import Any

from receiver.dsl.values import Timestamp
from receiver.replay.compare import Sample
from receiver.runtime.decision import Decision
from receiver.runtime.evaluator import drive, evaluation
from receiver.runtime.explain import render_explanation
from receiver.runtime.policyset import PolicySet
from receiver.runtime.trace import Tracer


def explain_new(policies: PolicySet, sample: Sample) -> str:
    """The explanation of ``sample``'s NEW decision (module docstring)."""
    record, decided = sample.record, sample.new
    event = record.event
    prepared = decided.counters
    tracer = Tracer(policies.traced_tree(event.name))
    run = evaluation(
        policies.tree(event.name), event, Timestamp(record.time), tracer=tracer,
        decision_id=record.decision_id,
        counters=prepared.values if prepared is not None else None,
        counters_unavailable=prepared.unavailable if prepared is not None else False,
    )  # fmt: skip
    answer = decided.user

    def user(_user_id: str) -> Any:
        return answer

    traced: Decision = drive(run, user)
    text = render_explanation(policies.tree(event.name), traced, decided.counter_lines())
    if traced.summary() != decided.decision.summary():
        text += "\n(note: the traced evaluation decided differently from the replay)"
    return text
