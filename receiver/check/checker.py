"""Checking: policy documents to checked rules, with every static problem collected.

Stage 2 of the pipeline. Consumes the :class:`~receiver.load.documents.PolicyDoc` list of
the loader; parses each expression (``when``, ``unless``, ``set`` values,
macros, the ``{...}`` parts of messages), resolves names (variables, lists,
macros, functions), inlines macros, infers types, compiles regexes, and checks
event names, ids and reachability. Produces :class:`CheckedRule` objects in
evaluation order (priority high first, then file name, then position), plus
diagnostics. A sub-expression that fails to check gets the ``error`` type, so
one mistake is reported once and checking goes on.
"""

from __future__ import annotations

from pathlib import PurePath

from receiver.check.counters import check_counters, resolve_decisions
from receiver.check.counters import warn_unused as warn_unused_counters
from receiver.check.model import (
    ERROR,
    CheckedCounter,
    CheckedRule,
    CheckResult,
    PolicyInfo,
    Target,
)
from receiver.check.scope import (
    Scope,
)
from receiver.dsl import ast
from receiver.dsl import events as ev
from receiver.dsl.functions import FUNCTIONS
from receiver.dsl.parser import (
    RESERVED,
    ExprSource,
    ParseCache,
    parse_expression,
)
from receiver.dsl.template import Template, parse_template
from receiver.load.documents import PolicyDoc, RuleDoc
from receiver.text.diagnostics import Diagnostics
from receiver.text.source import Span


def parse_target(
    src: ExprSource, diags: Diagnostics, cache: ParseCache | None = None
) -> Target | None:
    """A ``set``/``unset`` target: ``text``, ``data``, ``data.a.b``, ``data["k"]``, ``data.a[0]``.

    Parsed with the expression parser; anything but a literal path is an error.
    """
    probe = Diagnostics()
    node = parse_expression(src, probe, cache)
    span = src.span(0, len(src.text))
    if node is None:
        diags.error(
            "bad-target",
            f"'{src.text}' is not a field path; write data.field or data[\"field name\"]",
            span,
        )
        return None
    path: list[str | int] = []
    current = node
    while True:
        if isinstance(current, ast.Member):
            path.append(current.name)
            current = current.obj
        elif (
            isinstance(current, ast.Index)
            and isinstance(current.index, ast.Literal)
            and (
                isinstance(current.index.value, str | int)
                and not isinstance(current.index.value, bool)
            )
        ):
            path.append(current.index.value)
            current = current.obj
        else:
            break
    if isinstance(current, ast.Name) and current.name == "text" and not path:
        return Target("text", (), span)
    if isinstance(current, ast.Name) and current.name == "data":
        return Target("data", tuple(reversed(path)), span)
    diags.error(
        "bad-target",
        f"can only change fields of 'data' (or 'text'), not '{src.text}'; "
        "the platform ignores everything else",
        span,
    )
    return None


def _check_events(rule: RuleDoc, diags: Diagnostics) -> None:
    for located in rule.events:
        problem = ev.event_problem(located.value)
        if problem is not None:
            diags.warning("unknown-event", problem, located.span)


def _check_rule(
    scope: Scope, policy: PolicyInfo, rule: RuleDoc, order: int, diags: Diagnostics
) -> CheckedRule:
    def condition(src: ExprSource | None, what: str) -> ast.Node | None:
        if src is None:
            return None
        parsed = parse_expression(src, diags, scope.parsed)
        if parsed is None:
            return None
        resolved, t = scope.resolve(parsed, in_lambda=False)
        if scope.bounded(resolved) is None:
            return None
        if t not in ("bool", "any", ERROR):
            diags.error(
                "not-boolean",
                f"'{what}' must be a true/false condition, but this is a {t}"
                + (
                    f"; did you mean len({src.text.strip()}) > 0?"
                    if t in ("string", "list")
                    else ""
                ),
                resolved.span,
            )
        return resolved

    when = condition(rule.when, "when")
    unless = condition(rule.unless, "unless")
    message: Template | None = None
    if rule.message is not None:
        message = parse_template(rule.message, diags, scope.parsed)
        if message is not None:
            parts: list[str | ast.Node] = []
            for part in message.parts:
                if isinstance(part, str):
                    parts.append(part)
                elif (bounded := scope.bounded(scope.resolve(part, False)[0])) is not None:
                    parts.append(bounded)
            message = Template(tuple(parts), message.span)
    sets: list[tuple[Target, ast.Node]] = []
    seen_targets: dict[str, Span] = {}
    for set_doc in rule.sets:
        tspan = set_doc.target.span
        start = tspan.source.offset(tspan.line, tspan.column)
        start += max(0, tspan.text.find(set_doc.target.value))  # skip a YAML quote
        target_src = ExprSource.contiguous(tspan.source, set_doc.target.value, start)
        target = parse_target(target_src, diags, scope.parsed)
        parsed = parse_expression(set_doc.value, diags, scope.parsed)
        if isinstance(parsed, ast.Name) and parsed.name not in scope.candidates():
            diags.error(
                "unknown-name",
                f"unknown name '{parsed.name}'; to set the string \"{parsed.name}\", quote it "
                f"inside the YAML value: '\"{parsed.name}\"' (YAML removes one level of quotes)",
                parsed.span,
            )
            parsed = None
        value = scope.resolve(parsed, in_lambda=False)[0] if parsed is not None else None
        value = scope.bounded(value) if value is not None else None
        if target is not None and value is not None:
            key = str(target)
            if key in seen_targets:
                diags.error("duplicate-target", f"'{key}' is set twice in this rule", target.span)
            seen_targets[key] = target.span
            sets.append((target, value))
    unsets: list[Target] = []
    for located in rule.unsets:
        offset = located.span.source.offset(located.span.line, located.span.column)
        offset += max(0, located.span.text.find(located.value))  # skip a YAML quote
        target_src = ExprSource.contiguous(located.span.source, located.value, offset)
        target = parse_target(target_src, diags, scope.parsed)
        if target is not None:
            if target.kind == "data" and not target.path:
                diags.error("bad-target", "cannot unset the whole of 'data'", target.span)
                continue
            unsets.append(target)
    _check_events(rule, diags)
    rollout_key: ast.Node | None = None
    if rule.rollout_key is not None:
        parsed = parse_expression(rule.rollout_key, diags, scope.parsed)
        if parsed is not None:
            rollout_key = scope.bounded(scope.resolve(parsed, in_lambda=False)[0])
    return CheckedRule(
        policy, rule, order, when, unless, message, tuple(sets), tuple(unsets), rollout_key
    )


def _check_reachability(rules: list[CheckedRule], diags: Diagnostics) -> None:
    """Warn about rules that an earlier unconditional allow/deny always pre-empts."""
    enders: list[CheckedRule] = []
    for rule in rules:
        if not rule.doc.enabled:
            continue
        for ender in enders:
            if all(any(ev.covers(o, i) for o in ender.events) for i in rule.events):
                diags.warning(
                    "unreachable",
                    f"rule '{rule.id}' can never apply: '{ender.qualified_id}' "
                    f"({ender.doc.id.span.path}:{ender.doc.id.span.line}) always "
                    f"{'denies' if ender.action == 'deny' else 'allows'} these events first",
                    rule.doc.id.span,
                )
                break
        if (
            rule.mode == "enforce"
            and not rule.rolls_out  # it enforces for some keys, or until some instant, only
            and rule.action in ("allow", "deny")
            and rule.doc.when is None  # the doc's: a `when` that failed to parse is still there
            and rule.doc.unless is None
        ):
            enders.append(rule)


def check(documents: list[PolicyDoc], diags: Diagnostics) -> CheckResult:
    """Check loaded policy documents; rules come back in evaluation order."""
    names: dict[str, PolicyDoc] = {}
    ordered = sorted(documents, key=lambda d: (-d.priority, PurePath(d.path).name, d.path))
    rules: list[CheckedRule] = []
    policies: list[PolicyInfo] = []
    counters: list[CheckedCounter] = []
    parsed = ParseCache()
    for doc in ordered:
        if doc.name.value in names:
            first = names[doc.name.value]
            diags.error(
                "duplicate-policy",
                f"another file already defines policy '{doc.name.value}' "
                f"({first.path}:{first.name.span.line}); policy names must be unique",
                doc.name.span,
            )
            continue
        names[doc.name.value] = doc
        scope = Scope(doc, diags, parsed)
        for name, list_doc in doc.lists.items():
            _check_definition_name(name, list_doc.name.span, scope, "list", diags)
        for name, macro_doc in doc.macros.items():
            _check_definition_name(name, macro_doc.name.span, scope, "macro", diags)
            scope.macro(name, macro_doc.name.span)
        info = PolicyInfo(
            doc.name.value, doc.path, doc.priority, doc.on_error, doc.description, scope.lists
        )
        policies.append(info)
        scope.used.clear()
        ids: dict[str, RuleDoc] = {}
        for rule_doc in doc.rules:
            if rule_doc.id.value in ids:
                diags.error(
                    "duplicate-id",
                    f"rule id '{rule_doc.id.value}' is already used on line "
                    f"{ids[rule_doc.id.value].id.span.line}; ids must be unique in a policy",
                    rule_doc.id.span,
                )
                _check_rule(scope, info, rule_doc, -1, diags)  # still report its own problems
                continue
            ids[rule_doc.id.value] = rule_doc
            rules.append(_check_rule(scope, info, rule_doc, len(rules), diags))
        counters.extend(check_counters(scope, doc, diags))
        _mark_macro_uses(scope)
        warn_unused_counters(scope, doc, diags)
        for name, list_doc in doc.lists.items():
            if name not in scope.used:
                diags.warning("unused", f"list '{name}' is never used", list_doc.name.span)
        for name, macro_doc in doc.macros.items():
            if name not in scope.used:
                diags.warning("unused", f"macro '{name}' is never used", macro_doc.name.span)
    _check_reachability(rules, diags)
    counters = resolve_decisions(counters, rules, diags)
    return CheckResult(rules, policies, diags, documents, counters)


def _mark_macro_uses(scope: Scope) -> None:
    """A list or macro used only by a used macro counts as used."""
    changed = True
    while changed:
        changed = False
        for name in list(scope.used):
            body = scope.macro_bodies.get(name)
            if body is None:
                continue
            for node in ast.walk(body):
                inner = node.name if isinstance(node, ast.ListRef | ast.Macro) else None
                if inner and inner not in scope.used:
                    scope.used.add(inner)
                    changed = True


def _check_definition_name(
    name: str, span: Span, scope: Scope, what: str, diags: Diagnostics
) -> None:
    if not name.isidentifier() or not name.isascii():
        diags.error(
            "bad-name", f"{what} name '{name}' must be letters, digits and underscores", span
        )
    elif name in RESERVED or name in ast.VARIABLES:
        diags.error("bad-name", f"'{name}' is a reserved word; pick another {what} name", span)
    elif name in FUNCTIONS:
        diags.error("bad-name", f"'{name}' is a built-in function; pick another {what} name", span)
    elif what == "macro" and name in scope.lists:
        diags.error("bad-name", f"'{name}' is both a list and a macro", span)
