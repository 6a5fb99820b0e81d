"""Gradual rollout: which bucket a key falls in, and whether a rule enforces for it.

Stage 4 (run). Consumes a rule's compiled :class:`~receiver.compile.tree.Rollout` (its
percentage and key closure), the evaluation context and the test runner's pins;
produces a :class:`~receiver.runtime.decision.RolloutResult` (the rule, the bucket, and
whether it enforced). The evaluator (:mod:`receiver.runtime.evaluator`) asks here for
every rollout rule that matched, in every command alike.

The bucket formula is pinned and documented in the README ("Gradual rollout") so that
other tools can reproduce it::

    digest = sha256(f"{policy}/{rule}\\x00{key}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % 10000

and the rule enforces when ``bucket < round(percent * 100)``. SHA-256 of the rule's id
and the key, never Python's ``hash()``: the bucket of a key is the same in every
process, replica and restart (``PYTHONHASHSEED`` plays no part). Salting with the rule's
id rolls rules out independently; comparing with a threshold makes raising a rule from
10% to 20% keep every key of the 10% enforced. The key is the text form of the
``rollout_key`` value (``actor.userId`` by default), as a deny message would show it; a
null key (no actor, no such field) falls outside the rollout: the rule acts as shadow.
"""

from __future__ import annotations

from collections.abc import Mapping
from hashlib import sha256

from receiver.compile.tree import Rollout
from receiver.dsl.context import Context
from receiver.dsl.values import render
from receiver.runtime.decision import RolloutResult

BUCKETS = 10_000  # buckets of 0.01% each
Pins = Mapping[str, bool]  # rule id (policy/rule) -> enforce (True) or shadow (False)


def bucket(rule_id: str, key: str) -> int:
    """The bucket (0 to 9999) of ``key`` for the rule ``policy/rule``: the pinned formula."""
    digest = sha256(f"{rule_id}\x00{key}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def threshold(percent: float) -> int:
    """The buckets below this enforce: ``round(percent * 100)``."""
    return round(percent * 100)


def enforces(bucket_: int, percent: float) -> bool:
    """Whether a rule rolled out to ``percent`` enforces for a key in ``bucket_``."""
    return bucket_ < threshold(percent)


def way(rollout: Rollout, ctx: Context, pins: Pins | None) -> RolloutResult:
    """Which way a matched rollout rule goes for this event: enforced or shadow.

    ``pins`` (the policy test runner's ``rollout:`` field) overrides the bucket for the
    rules it names; the bucket is still computed and shown. A key that fails to compute
    (a ``rollout_key`` expression that errs) raises, like any of the rule's closures.
    """
    value = rollout.key(ctx)
    found = None if value is None else bucket(rollout.rule_id, render(value))
    pinned = pins.get(rollout.rule_id) if pins else None
    if pinned is not None:
        return RolloutResult(rollout.rule_id, rollout.percent, found, pinned, pinned=True)
    enforced = found is not None and found < rollout.threshold
    return RolloutResult(rollout.rule_id, rollout.percent, found, enforced)


def describe(result: RolloutResult, key_text: str) -> str:
    """The rule's line in an explanation: ``rollout 10%: bucket 07.31% -> enforced``."""
    percent = f"{result.percent:g}%"
    way_ = "enforced" if result.enforced else "shadow"
    where = (
        f"bucket {result.bucket / 100:05.2f}%"
        if result.bucket is not None
        else f"no key ({key_text} is null)"
    )
    pinned = " (pinned by the test case)" if result.pinned else ""
    return f"rollout {percent}: {where} -> {way_}{pinned}"
