"""Checking counter declarations inside their policy's name scope.

Stage 2 (check). Parses ``key``, ``distinct`` and ``when`` with positions, rejects
inputs that do not exist before the rules run (``user``, other counters), checks
names against the policy's lists, macros and the reserved words, and, once every
policy is checked, resolves the rule ids of ``decisions`` (with a "did you mean").
Produces :class:`~receiver.check.model.CheckedCounter` objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from receiver.check.model import CheckedCounter, CheckedRule
from receiver.check.scope import Scope
from receiver.dsl import ast
from receiver.dsl import events as ev
from receiver.dsl.analysis import own_reads
from receiver.dsl.functions import FUNCTIONS
from receiver.dsl.parser import RESERVED, ExprSource, parse_expression
from receiver.load.counters import parse_window
from receiver.load.documents import CounterDoc, Located, PolicyDoc
from receiver.text.diagnostics import Diagnostics, did_you_mean

# Inputs a counter's expressions cannot read: they are computed before the rules run.
# Which calls read them comes from the function table (Function.reads).
_NOT_BEFORE_RULES = {
    "user": "the user record is looked up only when a rule needs it",
    "counters": "counter values are not known yet when keys are computed",
}


def check_counters(scope: Scope, doc: PolicyDoc, diags: Diagnostics) -> list[CheckedCounter]:
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


def _check_name(name: str, counter: CounterDoc, scope: Scope, diags: Diagnostics) -> None:
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
    scope: Scope, src: ExprSource | None, what: str, diags: Diagnostics, boolean: bool = False
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
        late = _late_input(node)
        if isinstance(node, ast.Var) and late is not None:
            problem = (
                f"a counter's '{what}' cannot read '{node.name}': {_NOT_BEFORE_RULES[late]}; "
                "use actor.userId"
            )
        elif isinstance(node, ast.Call) and late is not None:
            problem = f"a counter's '{what}' cannot call {node.func}(): {_NOT_BEFORE_RULES[late]}"
        elif isinstance(node, ast.CounterRef):
            problem = (
                f"a counter's '{what}' cannot read the counter '{node.name}': keys are "
                "computed before any counter is read"
            )
        if problem is not None:
            diags.error("counter-input", problem, node.span)
            return None
    return resolved


def _late_input(node: ast.Node) -> str | None:
    """The input known only once the rules run that this node itself reads, if any
    (a variable, or a call whose function reads it besides its arguments)."""
    found = sorted(own_reads(node) & _NOT_BEFORE_RULES.keys())
    return found[0] if found else None


def _check_event(located: Located[str], diags: Diagnostics) -> None:
    problem = ev.event_problem(located.value)
    if problem is not None:
        diags.warning("unknown-event", problem, located.span)


def warn_unused(scope: Scope, doc: PolicyDoc, diags: Diagnostics) -> None:
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
