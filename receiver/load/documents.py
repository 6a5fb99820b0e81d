"""Policy documents: what the loader reads out of one YAML file.

These are the pinned policy-file fields with every value's position kept. The
loader produces them; the checker consumes them. Expression fields hold an
:class:`~receiver.dsl.parser.ExprSource` (the text and where each character sits
in the file), so parse and type errors point inside the condition string.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from receiver.dsl.parser import ExprSource
from receiver.text.source import SourceFile, Span

T = TypeVar("T")

Action = Literal["allow", "deny", "modify"]
Mode = Literal["enforce", "shadow"]
OnError = Literal["skip", "deny"]

ACTIONS: tuple[Action, ...] = ("allow", "deny", "modify")
MODES: tuple[Mode, ...] = ("enforce", "shadow")
ON_ERROR: tuple[OnError, ...] = ("skip", "deny")


@dataclass(frozen=True, slots=True)
class Located(Generic[T]):
    value: T
    span: Span


@dataclass(frozen=True, slots=True)
class ListDoc:
    name: Located[str]
    items: tuple[Located[object], ...]


@dataclass(frozen=True, slots=True)
class MacroDoc:
    name: Located[str]
    expr: ExprSource


@dataclass(frozen=True, slots=True)
class SetDoc:
    target: Located[str]
    value: ExprSource


@dataclass(frozen=True, slots=True)
class RuleDoc:
    id: Located[str]
    span: Span
    events: tuple[Located[str], ...]
    action: Located[Action]
    when: ExprSource | None = None
    unless: ExprSource | None = None
    message: ExprSource | None = None
    sets: tuple[SetDoc, ...] = ()
    unsets: tuple[Located[str], ...] = ()
    mode: Mode = "enforce"
    enabled: bool = True
    description: str = ""
    status: int | None = None  # brainCloud deny: the error status (default 403)
    reason_code: int | None = None  # brainCloud deny: the reason code (default 50000)
    rollout: Located[float] | None = None  # percent of keys for which it enforces (0 to 100)
    rollout_key: ExprSource | None = None  # what is hashed (None: actor.userId)
    expires: Located[float] | None = None  # epoch seconds from which the rule is off
    limited: bool = False  # `rollout` or `expires` written, even a bad one: not always on


@dataclass(frozen=True, slots=True)
class CounterDoc:
    """A declared sliding-window counter (``counters:``); see receiver/counters/."""

    name: Located[str]
    span: Span
    key: ExprSource | None
    window: Located[str] | None
    events: tuple[Located[str], ...] | None = None  # event counter: what feeds it
    decisions: tuple[Located[str], ...] | None = None  # strike counter: which rules count
    distinct: ExprSource | None = None
    when: ExprSource | None = None
    description: str = ""


@dataclass(slots=True)
class PolicyDoc:
    path: str
    source: SourceFile
    name: Located[str]
    span: Span
    description: str = ""
    priority: int = 0
    on_error: OnError = "skip"
    lists: dict[str, ListDoc] = field(default_factory=dict)
    macros: dict[str, MacroDoc] = field(default_factory=dict)
    rules: list[RuleDoc] = field(default_factory=list)
    counters: dict[str, CounterDoc] = field(default_factory=dict)
