"""Warnings for rules that expire soon or have expired (``receiver check``).

Stage 2 (check). Consumes the loaded policy documents and an instant ("now": the real
time, or ``receiver check --now`` for reproducible output); produces warnings (never
errors: an expired rule is off, which is what its writer asked for) at each rule's
``expires:`` value:

- ``expiring``: the rule expires within :data:`WARN_BEFORE_DAYS` days of now;
- ``expired``: now is at or past its ``expires``, so it no longer applies: remove it.

Whether a rule applies to a decision is not decided here: the evaluator compares the
decision's own ``now`` with ``expires`` (:mod:`receiver.compile.compiler`).
"""

from __future__ import annotations

from collections.abc import Iterable

from receiver.dsl.times import format_time
from receiver.load.documents import PolicyDoc
from receiver.text.diagnostics import Diagnostics

WARN_BEFORE_DAYS = 14
_DAY = 86_400.0


def _when(seconds: float) -> str:
    """How far away an instant is, in words: ``in 3 days``, ``in 5 hours``."""
    if seconds >= 2 * _DAY:
        return f"in {int(seconds // _DAY)} days"
    hours = int(seconds // 3600)
    if hours >= 2:
        return f"in {hours} hours"
    minutes = max(1, int(seconds // 60))
    return f"in {minutes} minute{'s' if minutes != 1 else ''}"


def warn_expiry(documents: Iterable[PolicyDoc], now: float, diags: Diagnostics) -> None:
    """A warning for each rule that has expired at ``now`` or expires within 14 days."""
    for doc in documents:
        for rule in doc.rules:
            expires = rule.expires
            if expires is None:
                continue
            name = f"{doc.name.value}/{rule.id.value}"
            at = format_time(expires.value)
            left = expires.value - now
            if left <= 0:
                diags.warning(
                    "expired",
                    f"rule '{name}' expired at {at} and no longer applies; remove it "
                    "(or move 'expires' later to turn it back on)",
                    expires.span,
                )
            elif left <= WARN_BEFORE_DAYS * _DAY:
                diags.warning(
                    "expiring",
                    f"rule '{name}' expires at {at}, {_when(left)}; from then on it no "
                    "longer applies (move 'expires' later to keep it, or plan its removal)",
                    expires.span,
                )
