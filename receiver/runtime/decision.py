"""Decisions: what evaluating an event produced, and the pinned response JSON.

Stage 4 (run), its output. :class:`Decision` is what the evaluator produces and what the
adapters, the decision log, the metrics, ``receiver eval`` and the policy tests consume;
:meth:`Decision.response` produces its JSON.

``{"action": "allow"}``, ``{"action": "allow", "data": {...}}`` (the whole data
after every modification) or ``{"action": "deny", "message": "..."}``. The
decision also keeps what a response does not show: which rule decided, which
rules modified the data, what shadow rules would have done, which rules failed,
and (for ``--explain``) the trace of every rule considered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from receiver.dsl.values import Value, to_json
from receiver.text.source import Span

Verdict = Literal["allow", "deny"]


@dataclass(frozen=True, slots=True)
class RuleFailure:
    rule: str  # policy/rule-id
    message: str
    location: str  # FILE:LINE:COL of the failing sub-expression
    shadow: bool = False


@dataclass(frozen=True, slots=True)
class ShadowResult:
    rule: str
    action: str  # what it would have done: allow, deny or modify
    message: str | None = None
    changes: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RolloutResult:
    """Which way a rollout rule that matched went (:mod:`receiver.runtime.rollout`)."""

    rule: str  # policy/rule-id
    percent: float  # its rollout percentage
    bucket: int | None  # 0 to 9999; None: the key was null (outside the rollout)
    enforced: bool  # False: it acted as a shadow rule
    pinned: bool = False  # the test case's `rollout:` chose the way

    def to_json(self) -> dict[str, Any]:
        """``{"rule", "bucket", "enforced"}``: the decision log's and JSON output's form."""
        return {"rule": self.rule, "bucket": self.bucket, "enforced": self.enforced}


@dataclass(frozen=True, slots=True)
class TraceStep:
    """One rule considered while evaluating, for explanations."""

    rule: str
    action: str
    mode: str
    outcome: str  # matched, no match, error, skipped (index), not reached
    values: tuple[tuple[str, Value], ...] = ()
    note: str = ""
    rollout: str = ""  # a rollout rule's way: "rollout 10%: bucket 07.31% -> enforced"
    # Where each of ``values`` was written, in the same order (the console nests values by
    # it); not part of a step's equality or repr, which are about what was decided.
    spans: tuple[Span, ...] = field(default=(), compare=False, repr=False)


@dataclass(slots=True, init=False)
class Decision:
    action: Verdict
    message: str | None = None
    data: dict[str, Value] | None = None
    rule: str | None = None  # the rule that ended evaluation, if any
    modified_by: list[str] = field(default_factory=list)
    shadow: list[ShadowResult] = field(default_factory=list)
    errors: list[RuleFailure] = field(default_factory=list)
    degraded: bool = False
    by_error: bool = False  # denied because a rule failed under on_error: deny
    status: int | None = None  # a deny rule's brainCloud status, when it set one
    reason_code: int | None = None  # a deny rule's brainCloud reason code, when it set one
    trace: list[TraceStep] | None = None
    rollouts: list[RolloutResult] = field(default_factory=list)  # rollout rules that matched

    # Written out, not generated: one per request, and where this module is compiled the
    # generated __init__ would be the one Python function left in making a decision.
    # Measured on the compiled wheel (adapters.socialplus.fail_safe, best of 7 x 200,000):
    # about 0.15 µs written out, 0.65 to 1 µs as the dataclass's generated __init__.
    def __init__(
        self,
        action: Verdict,
        message: str | None = None,
        *,
        data: dict[str, Value] | None = None,
        rule: str | None = None,
        modified_by: list[str] | None = None,
        shadow: list[ShadowResult] | None = None,
        errors: list[RuleFailure] | None = None,
        degraded: bool = False,
        by_error: bool = False,
        status: int | None = None,
        reason_code: int | None = None,
        trace: list[TraceStep] | None = None,
        rollouts: list[RolloutResult] | None = None,
    ) -> None:
        self.action = action
        self.message = message
        self.data = data
        self.rule = rule
        self.modified_by = [] if modified_by is None else modified_by
        self.shadow = [] if shadow is None else shadow
        self.errors = [] if errors is None else errors
        self.degraded = degraded
        self.by_error = by_error
        self.status = status
        self.reason_code = reason_code
        self.trace = trace
        self.rollouts = [] if rollouts is None else rollouts

    @property
    def modified(self) -> bool:
        return bool(self.modified_by)

    def response(self) -> dict[str, Any]:
        """The pinned social.plus response body."""
        if self.action == "deny":
            return {"action": "deny", "message": self.message or ""}
        if self.modified_by and self.data is not None:
            return {"action": "allow", "data": to_json(self.data)}
        return {"action": "allow"}

    def summary(self) -> dict[str, Any]:
        """Everything but the trace, as JSON (for logs and ``--format json``); ``rollout``
        only when a rollout rule matched."""
        out: dict[str, Any] = {
            "action": self.action,
            "message": self.message,
            "rule": self.rule,
            "modified_by": list(self.modified_by),
            "shadow": [
                {"rule": s.rule, "action": s.action, "message": s.message, "changes": s.changes}
                for s in self.shadow
            ],
            "errors": [
                {"rule": e.rule, "message": e.message, "location": e.location, "shadow": e.shadow}
                for e in self.errors
            ],
            "degraded": self.degraded,
        }
        if self.rollouts:
            out["rollout"] = [r.to_json() for r in self.rollouts]
        return out


def dumps(value: Any) -> str:
    """Compact JSON, UTF-8 where possible; ``\\u`` escapes when the data holds lone surrogates."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text
