"""The checked model: what the checker produces and the compiler consumes.

Stage 2 (check), its output. :class:`CheckedRule` (a rule with resolved, typed
expressions), :class:`Target` (a path a ``set``/``unset`` writes), :class:`PolicyInfo`,
:class:`CheckedCounter` and :class:`CheckResult`; plus the regex options every stage
compiles patterns with.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import re2

from receiver.dsl import ast
from receiver.dsl.analysis import reads_any
from receiver.dsl.functions import Type
from receiver.dsl.template import Template
from receiver.load.documents import Action, CounterDoc, Mode, OnError, PolicyDoc, RuleDoc
from receiver.text.diagnostics import Diagnostics
from receiver.text.source import Span

ERROR: Type = "error"  # the type of a sub-expression that already failed to check
ORDERED = frozenset({"number", "string", "duration", "time"})
DEFAULT_DENY_MESSAGE = "This action is not allowed by the community rules."


def regex_options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False
    return options


def compile_regex(pattern: str) -> re2._Regexp:
    """Compile an RE2 pattern (linear time; no backreferences or lookaround)."""
    return re2.compile(pattern, regex_options())


@dataclass(frozen=True, slots=True)
class Target:
    """Where a ``set``/``unset`` writes: a path under ``data``, or ``text`` (wherever it is)."""

    kind: Literal["data", "text"]
    path: tuple[str | int, ...]
    span: Span

    def __str__(self) -> str:
        if self.kind == "text":
            return "text"
        out = "data"
        for part in self.path:
            if isinstance(part, int):
                out += f"[{part}]"
            elif part.isidentifier():
                out += f".{part}"
            else:
                out += f'["{part}"]'
        return out


@dataclass(frozen=True, slots=True)
class PolicyInfo:
    name: str
    path: str
    priority: int
    on_error: OnError
    description: str
    lists: dict[str, tuple[object, ...]]


@dataclass(frozen=True, slots=True)
class CheckedRule:
    policy: PolicyInfo
    doc: RuleDoc
    order: int
    when: ast.Node | None
    unless: ast.Node | None
    message: Template | None
    sets: tuple[tuple[Target, ast.Node], ...]
    unsets: tuple[Target, ...]
    rollout_key: ast.Node | None = None  # the checked `rollout_key` (None: actor.userId)
    # policy/rule-id, kept: every decision a rule makes names it
    qualified_id: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "qualified_id", f"{self.policy.name}/{self.doc.id.value}")

    @property
    def id(self) -> str:
        return self.doc.id.value

    @property
    def action(self) -> Action:
        return self.doc.action.value

    @property
    def mode(self) -> Mode:
        return self.doc.mode

    @property
    def events(self) -> tuple[str, ...]:
        return tuple(e.value for e in self.doc.events)

    def expressions(self) -> Iterable[ast.Node]:
        if self.when is not None:
            yield self.when
        if self.unless is not None:
            yield self.unless
        if self.message is not None:
            yield from (p for p in self.message.parts if isinstance(p, ast.Node))
        yield from (value for _, value in self.sets)
        if self.rollout_key is not None:
            yield self.rollout_key

    @property
    def rolls_out(self) -> bool:
        """Whether the rule enforces for some keys only, or switches off at an instant
        (as written: a value that failed to load counts too)."""
        return self.doc.limited

    @property
    def needs_user(self) -> bool:
        return "user" in reads_any(self.expressions())


@dataclass(frozen=True, slots=True)
class CheckedCounter:
    policy: str
    doc: CounterDoc
    window_ms: int
    kind: Literal["events", "decisions"]
    events: tuple[str, ...]  # event counters: the event names and globs that feed it
    decisions: tuple[str, ...]  # decision counters: qualified ids of the rules that count
    key: ast.Node
    distinct: ast.Node | None = None
    when: ast.Node | None = None

    @property
    def name(self) -> str:
        return self.doc.name.value

    @property
    def id(self) -> str:
        return f"{self.policy}/{self.doc.name.value}"

    def expressions(self) -> Iterable[ast.Node]:
        yield self.key
        if self.distinct is not None:
            yield self.distinct
        if self.when is not None:
            yield self.when


@dataclass(slots=True)
class CheckResult:
    rules: list[CheckedRule]
    policies: list[PolicyInfo]
    diagnostics: Diagnostics
    documents: list[PolicyDoc] = field(default_factory=list)
    counters: list[CheckedCounter] = field(default_factory=list)
