"""Counter declarations: reading ``counters:`` from a policy file, and checking them.

Reading (called by the loader) checks the shape: fields, a duration ``window``, either
``events`` or ``decisions``. Checking (called by the checker, inside the policy's name
scope) parses ``key``, ``distinct`` and ``when`` with positions, rejects inputs that do
not exist before the rules run (``user``, other counters), checks names against the
policy's lists, macros and the reserved words, and, once every policy is checked,
resolves the rule ids of ``decisions`` (with a "did you mean").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

import yaml

from receiver import events as ev
from receiver.diagnostics import Diagnostics, did_you_mean
from receiver.dsl import ast
from receiver.dsl.functions import FUNCTIONS
from receiver.dsl.parser import DURATION_UNITS, RESERVED, ExprSource, parse_expression
from receiver.policy import CounterDoc, Located, PolicyDoc

if TYPE_CHECKING:
    from receiver.checker import CheckedRule, _Scope
    from receiver.loader import _Reader

COUNTER_FIELDS = ("description", "events", "decisions", "key", "distinct", "when", "window")
MAX_WINDOW_SECONDS = 31 * 86400
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
# Inputs a counter's expressions cannot read: they are computed before the rules run.
_NOT_BEFORE_RULES = {
    "user": "the user record is looked up only when a rule needs it; use actor.userId",
    "counters_unavailable": "counter values are not known yet when keys are computed",
    "user_lookup_failed": "the user record is looked up only when a rule needs it",
}

Kind = Literal["events", "decisions"]


def parse_window(text: str) -> float | None:
    """Seconds of a duration literal such as ``60s``, ``10m``, ``1.5h``; None if not one."""
    match = _DURATION.match(text)
    if match is None:
        return None
    return float(match.group(1)) * DURATION_UNITS[match.group(2)]


# -- reading (loader stage) ---------------------------------------------------------------


def read_counters(reader: _Reader, node: yaml.Node, doc: PolicyDoc) -> None:
    """``counters:`` of a policy file: a map from counter name to its declaration."""
    entries = reader.mapping(node, "'counters'", None)
    for name, (key_node, value_node) in (entries or {}).items():
        fields = reader.mapping(value_node, f"counter '{name}'", COUNTER_FIELDS)
        if fields is None:
            continue
        name_loc = Located(name, reader.span(key_node))
        first = reader.source.span(key_node.start_mark.index)
        problems = len(reader.diags.errors)
        missing = [f for f in ("key", "window") if f not in fields]
        if "events" not in fields and "decisions" not in fields:
            missing.insert(0, "events' or 'decisions")
        if missing:
            what = ", ".join(f"'{m}'" for m in missing)
            reader.diags.error("missing-field", f"counter '{name}' has no {what}", first)
        if "events" in fields and "decisions" in fields:
            reader.error(
                "misplaced-field",
                f"counter '{name}' counts either events or decisions, not both",
                fields["decisions"][0],
            )
        if "decisions" in fields:
            for other in ("distinct", "when"):
                if other in fields:
                    reader.error(
                        "misplaced-field",
                        f"'{other}' only applies to event counters ('events:'); a decision "
                        "counter counts the decisions of its rules",
                        fields[other][0],
                    )
        events = reader.read_events(fields["events"][1]) if "events" in fields else None
        decisions = None
        if "decisions" in fields:
            decisions = _strings(reader, fields["decisions"][1], "each entry of 'decisions'")
            if not decisions:
                reader.error(
                    "type", "'decisions' needs at least one rule id", fields["decisions"][1]
                )
        window = _window(reader, fields["window"][1]) if "window" in fields else None
        key = reader.expression(fields["key"][1], "'key'") if "key" in fields else None
        distinct = (
            reader.expression(fields["distinct"][1], "'distinct'") if "distinct" in fields else None
        )
        when = reader.expression(fields["when"][1], "'when'") if "when" in fields else None
        description = ""
        if "description" in fields:
            desc = reader.string(fields["description"][1], "'description'")
            description = desc.value if desc else ""
        if len(reader.diags.errors) > problems:
            continue
        doc.counters[name] = CounterDoc(
            name_loc,
            reader.span(value_node),
            key,
            window,
            events=events,
            decisions=decisions,
            distinct=distinct,
            when=when,
            description=description,
        )


def _strings(reader: _Reader, node: yaml.Node, what: str) -> tuple[Located[str], ...]:
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    out: list[Located[str]] = []
    for item in items:
        located = reader.string(item, what)
        if located is not None:
            out.append(located)
    return tuple(out)


def _window(reader: _Reader, node: yaml.Node) -> Located[str] | None:
    text = node.value if isinstance(node, yaml.ScalarNode) else None
    seconds = parse_window(text) if isinstance(text, str) else None
    if seconds is None:
        reader.error(
            "bad-value",
            "'window' must be a duration such as 60s, 10m, 24h or 7d (units: ms, s, m, h, d, w)",
            node,
        )
        return None
    if not 0.001 <= seconds <= MAX_WINDOW_SECONDS:
        reader.error("bad-value", "'window' must be between 1ms and 31d", node)
        return None
    assert isinstance(text, str)
    return Located(text.strip(), reader.span(node))


# -- checking (checker stage) -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckedCounter:
    policy: str
    doc: CounterDoc
    window_ms: int
    kind: Kind
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


def counter_ids(doc: PolicyDoc) -> dict[str, str]:
    """The counters a policy's expressions can read: name -> ``policy/name``."""
    return {name: f"{doc.name.value}/{name}" for name in doc.counters}


def check_counters(scope: _Scope, doc: PolicyDoc, diags: Diagnostics) -> list[CheckedCounter]:
    """Check one policy's counter declarations inside its name scope."""
    out: list[CheckedCounter] = []
    for name, counter in doc.counters.items():
        errors = len(diags.errors)
        _check_name(name, counter, scope, diags)
        key = _expression(scope, counter.key, "key", diags)
        distinct = _expression(scope, counter.distinct, "distinct", diags)
        when = _expression(scope, counter.when, "when", diags, boolean=True)
        if counter.events is not None:
            for located in counter.events:
                _check_event(located, diags)
        if (
            key is None
            or counter.window is None
            or len(diags.errors) > errors
            or (counter.distinct is not None and distinct is None)
            or (counter.when is not None and when is None)
        ):
            continue
        seconds = parse_window(counter.window.value)
        assert seconds is not None  # the loader checked it
        out.append(
            CheckedCounter(
                doc.name.value,
                counter,
                max(1, round(seconds * 1000)),
                "events" if counter.events is not None else "decisions",
                tuple(e.value for e in counter.events or ()),
                tuple(d.value for d in counter.decisions or ()),
                key,
                distinct,
                when,
            )
        )
    return out


def _check_name(name: str, counter: CounterDoc, scope: _Scope, diags: Diagnostics) -> None:
    span = counter.name.span
    if not name.isidentifier() or not name.isascii():
        message = f"counter name '{name}' must be letters, digits and underscores"
        diags.error("bad-name", message, span)
    elif name in RESERVED or name in ast.VARIABLES:
        diags.error("bad-name", f"'{name}' is a reserved word; pick another counter name", span)
    elif name in FUNCTIONS:
        diags.error("bad-name", f"'{name}' is a built-in function; pick another counter name", span)
    elif name in scope.lists:
        diags.error("bad-name", f"'{name}' is both a list and a counter", span)
    elif name in scope.doc.macros:
        diags.error("bad-name", f"'{name}' is both a macro and a counter", span)


def _expression(
    scope: _Scope, src: ExprSource | None, what: str, diags: Diagnostics, boolean: bool = False
) -> ast.Node | None:
    if src is None:
        return None
    parsed = parse_expression(src, diags)
    if parsed is None:
        return None
    errors = len(diags.errors)
    resolved, t = scope.resolve(parsed, in_lambda=False)
    if len(diags.errors) > errors or scope.bounded(resolved) is None:
        return None
    if boolean and t not in ("bool", "any", "null"):
        diags.error(
            "not-boolean", f"a counter's '{what}' must be a true/false condition, not a {t}",
            resolved.span,
        )  # fmt: skip
        return None
    for node in ast.walk(resolved):
        problem: str | None = None
        if isinstance(node, ast.Var) and node.name == "user":
            problem = f"a counter's '{what}' cannot read 'user': {_NOT_BEFORE_RULES['user']}"
        elif isinstance(node, ast.Call) and node.func in _NOT_BEFORE_RULES:
            problem = (
                f"a counter's '{what}' cannot call {node.func}(): {_NOT_BEFORE_RULES[node.func]}"
            )
        elif isinstance(node, ast.CounterRef):
            problem = (
                f"a counter's '{what}' cannot read the counter '{node.name}': keys are "
                "computed before any counter is read"
            )
        if problem is not None:
            diags.error("counter-input", problem, node.span)
            return None
    return resolved


def _check_event(located: Located[str], diags: Diagnostics) -> None:
    problem = ev.event_problem(located.value)
    if problem is not None:
        diags.warning("unknown-event", problem, located.span)


def warn_unused(scope: _Scope, doc: PolicyDoc, diags: Diagnostics) -> None:
    """A counter that no rule (or used macro) of its policy reads is a warning."""
    read: set[str] = set()
    roots = [b for name, b in scope.macro_bodies.items() if name in scope.used and b is not None]
    for body in roots:
        read.update(n.name for n in ast.walk(body) if isinstance(n, ast.CounterRef))
    for name, counter in doc.counters.items():
        if name not in scope.used and name not in read:
            diags.warning("unused", f"counter '{name}' is never read by a rule", counter.name.span)


def resolve_decisions(
    counters: Sequence[CheckedCounter], rules: Sequence[CheckedRule], diags: Diagnostics
) -> list[CheckedCounter]:
    """Resolve the rule ids of decision counters (``rule`` of the policy, or ``policy/rule``)."""
    by_id = {r.qualified_id: r for r in rules}
    out: list[CheckedCounter] = []
    for counter in counters:
        if counter.kind != "decisions":
            out.append(counter)
            continue
        resolved: list[str] = []
        for located in counter.doc.decisions or ():
            written = located.value
            qualified = written if "/" in written else f"{counter.policy}/{written}"
            rule = by_id.get(qualified)
            if rule is None:
                own = [r.id for r in rules if r.policy.name == counter.policy]
                hint = did_you_mean(written, own + sorted(by_id)) or (
                    "; write a rule id of this policy, or policy/rule"
                )
                diags.error(
                    "unknown-rule",
                    f"no rule '{written}' for counter '{counter.name}'{hint}",
                    located.span,
                )
                continue
            if rule.action == "allow":
                diags.warning(
                    "never-counts",
                    f"'{qualified}' allows: only deny and modify decisions count as strikes",
                    located.span,
                )
            elif rule.mode == "shadow":
                diags.warning(
                    "never-counts",
                    f"'{qualified}' is a shadow rule: shadow hits never count as strikes",
                    located.span,
                )
            resolved.append(qualified)
        out.append(replace(counter, decisions=tuple(dict.fromkeys(resolved))))
    return out
