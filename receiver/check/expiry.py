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


def expiry_note(name: str, expires: float, now: float) -> tuple[str, str] | None:
    """The warning about rule ``name`` (``policy/rule``) expiring at ``expires``, as seen
    at ``now``: its code and message, or None while the instant is more than 14 days away.
    ``receiver check`` reports it at the value; ``receiver serve`` logs it at each load."""
    at = format_time(expires)
    left = expires - now
    if left <= 0:
        return (
            "expired",
            f"rule '{name}' expired at {at} and no longer applies; remove it "
            "(or move 'expires' later to turn it back on)",
        )
    if left <= WARN_BEFORE_DAYS * _DAY:
        return (
            "expiring",
            f"rule '{name}' expires at {at}, {_when(left)}; from then on it no "
            "longer applies (move 'expires' later to keep it, or plan its removal)",
        )
    return None


def warn_expiry(documents: Iterable[PolicyDoc], now: float, diags: Diagnostics) -> None:
    """A warning for each rule that has expired at ``now`` or expires within 14 days."""
    for doc in documents:
        for rule in doc.rules:
            expires = rule.expires
            if expires is None:
                continue
            note = expiry_note(f"{doc.name.value}/{rule.id.value}", expires.value, now)
            if note is not None:
                diags.warning(note[0], note[1], expires.span)
