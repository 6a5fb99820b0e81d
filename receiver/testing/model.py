"""Policy test files (``*.test.yaml``) as data: suites, cases and expectations.

Stage: testing (policy tests), its data. Produced by the reader from a test file
(:class:`Suite` of :class:`Case`, each with its :class:`Expectation`); consumed by the
runner (:mod:`receiver.testing.runner`) and the judging (:mod:`receiver.testing.expect`).

The reader (:mod:`receiver.testing.reader`) builds these from YAML, keeping the
position of every value so that problems and failures point into the test file
(``FILE:LINE:COL``), exactly like policy diagnostics do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from receiver.dsl.values import Timestamp
from receiver.text.source import Span
from receiver.users.static import StaticDirectory

ANY_ERRORS = "any"


@dataclass(slots=True)
class RuleRef:
    """A rule named in an expectation: as written, and resolved to ``policy/rule``."""

    written: str
    span: Span
    resolved: str = ""

    @property
    def id(self) -> str:
        return self.resolved or self.written


@dataclass(frozen=True, slots=True)
class RolloutWay:
    """A rollout rule and which way it goes: the case's ``rollout:`` (a pin: ``enforce``
    or ``shadow``) or the expectation's (what happened: ``enforced`` or ``shadow``)."""

    rule: RuleRef
    enforced: bool


@dataclass(frozen=True, slots=True)
class ShadowExpect:
    """One shadow rule expected to match: its id, and optionally what it would do."""

    rule: RuleRef
    action: str | None = None
    message: str | None = None
    message_contains: tuple[str, ...] = ()


@dataclass(slots=True)
class Expectation:
    """What a case expects. ``None`` means "not checked"."""

    span: Span
    action: str | None = None
    message: str | None = None
    message_contains: tuple[str, ...] = ()
    data: dict[str, Any] | None = None
    data_contains: dict[str, Any] | None = None
    rule: RuleRef | None = None
    rule_given: bool = False  # `rule: none` expects that no rule ended evaluation
    modified_by: list[RuleRef] | None = None
    shadow: list[ShadowExpect] | None = None
    errors: list[RuleRef] | str | None = None  # None: no run-time errors allowed
    answer: Any = None  # the exact answer the platform gets (when answer_given)
    answer_given: bool = False
    status: int | None = None  # a deny rule's brainCloud status (when status_given)
    status_given: bool = False
    reason_code: int | None = None  # a deny rule's brainCloud reason code
    reason_code_given: bool = False
    rollout: list[RolloutWay] | None = None  # the way of each rollout rule that matched


@dataclass(slots=True)
class CounterSeed:
    """A counter value before a case's event (``counters:``; see receiver/testing/seeds.py)."""

    name: str  # as written: a counter name or policy/name
    span: Span
    key: str
    value: int
    counter: str = ""  # the resolved counter id (policy/name)


@dataclass(slots=True)
class Case:
    name: str
    span: Span  # the case's `name:` value
    event: str
    event_span: Span
    data: dict[str, Any]
    actor: dict[str, Any]
    expect: Expectation
    now: Timestamp | None = None
    users: StaticDirectory | None = None
    description: str = ""
    hook_type: str | None = None  # brainCloud hooks: pre, post or postFail
    counters: list[CounterSeed] = field(default_factory=list)
    rollout: list[RolloutWay] = field(default_factory=list)  # pins: defaults', then the case's

    def pins(self) -> dict[str, bool]:
        """The pinned way of each rollout rule named (resolved ids), for ``decide()``."""
        return {pin.rule.id: pin.enforced for pin in self.rollout}


@dataclass(slots=True)
class Suite:
    """One test file."""

    path: Path  # as discovered (relative paths stay relative, for display)
    name: str
    policies: Path  # the policy directory (or file) the cases run against
    policies_span: Span | None
    span: Span  # the whole file, for file-level diagnostics
    cases: list[Case] = field(default_factory=list)
    now: Timestamp | None = None
    users: StaticDirectory | None = None
    description: str = ""
    counters: list[CounterSeed] = field(default_factory=list)

    @property
    def display(self) -> str:
        return str(self.path)
