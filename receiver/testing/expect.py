"""Comparing a decision with a case's expectations, and showing the differences.

Stage: testing (policy tests), judging. Consumes a case's
:class:`~receiver.testing.model.Expectation` (read by :mod:`receiver.testing.expectations`),
the :class:`~receiver.runtime.decision.Decision` the production path gave and the data
sent, and produces the list of :class:`Mismatch` (empty when the case passes). Each
expectation that does not hold becomes one: the field, the expected and actual values
(as JSON, for ``--format json``) and a few lines that show the difference to a person
(``-`` expected, ``+`` actual; a line diff for ``data``, one line per differing path for
``data_contains``).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from receiver.adapters import braincloud
from receiver.adapters.platforms import answer_for, platform_of
from receiver.dsl.values import to_json
from receiver.runtime.decision import Decision, RolloutResult
from receiver.runtime.payload import Event
from receiver.testing.model import ANY_ERRORS, Expectation, RolloutWay, ShadowExpect

MAX_SHOWN = 300
FULL_DIFF_LINES = 40  # values up to this many lines are shown whole in a diff
_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class Mismatch:
    field: str  # the expectation key: action, message, data, rule, ...
    summary: str  # one line, e.g. "expected deny, got allow"
    expected: Any = None
    actual: Any = None
    detail: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "summary": self.summary,
            "expected": self.expected,
            "actual": self.actual,
        }


def show(value: Any, limit: int = MAX_SHOWN) -> str:
    """A JSON value on one line, long texts shortened."""
    text = json.dumps(value, ensure_ascii=False)
    if len(text) > limit:
        text = f"{text[: limit - 1]}… ({len(text) - limit + 1} more characters)"
    return text


def same(a: Any, b: Any) -> bool:
    """JSON equality: ``true`` is not ``1``, ``1`` is ``1.0``, maps ignore key order."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def _path(base: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{base}[{key}]"
    if key.replace("_", "").isalnum() and not key[:1].isdigit():
        return f"{base}.{key}"
    return f"{base}[{json.dumps(key, ensure_ascii=False)}]"


def subset_differences(expected: Any, actual: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    """``(path, expected, actual)`` where ``actual`` does not contain ``expected``.

    Maps are compared key by key (keys not mentioned are ignored, at every depth);
    everything else, lists included, must be equal. A missing key gives ``_MISSING``.
    """
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key, value in expected.items():
            if key not in actual:
                yield _path(path, key), value, _MISSING
            else:
                yield from subset_differences(value, actual[key], _path(path, key))
    elif not same(expected, actual):
        yield path, expected, actual


def _first_difference(a: str, b: str) -> int:
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return index
    return min(len(a), len(b))


def _pair(expected: str, actual: str) -> tuple[str, ...]:
    return (f"- {expected}", f"+ {actual}")


def _text_pair(expected: str, actual: str | None) -> tuple[str, ...]:
    lines = _pair(show(expected), show(actual) if actual is not None else "(no message)")
    if actual is not None and expected != actual:
        at = _first_difference(expected, actual)
        lines += (f"  (the texts differ from character {at + 1})",)
    return lines


def _json_lines(value: Any) -> list[str]:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True).splitlines()


def data_diff(expected: Any, actual: Any) -> tuple[str, ...]:
    """A line diff of two JSON values (``-`` expected, ``+`` actual), with context."""
    old, new = _json_lines(expected), _json_lines(actual)
    context = max(len(old), len(new)) if max(len(old), len(new)) <= FULL_DIFF_LINES else 3
    diff = difflib.unified_diff(old, new, lineterm="", n=context)
    out: list[str] = []
    for line in diff:
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            if out:
                out.append("  ...")
            continue
        out.append(f"{line[:1] or ' '} {line[1:]}")
    return tuple(out)


def _rule_name(rule: str | None) -> str:
    return rule if rule is not None else "none"


def actual_data(decision: Decision, data: dict[str, Any]) -> Any:
    """The data an allow answer leaves: the changed data, else the data as sent."""
    response = decision.response()
    return response["data"] if "data" in response else to_json(data)


def platform_answer(decision: Decision, hook_type: str | None, event: Event | None = None) -> Any:
    """What the platform receives: the social.plus response, brainCloud's return value,
    or Stream's or Twilio's answer (``receiver.adapters.platforms``, by the event's name)."""
    if hook_type in braincloud.HOOK_TYPES:
        return braincloud.answer(hook_type, decision)
    if event is not None:
        return answer_for(platform_of(event.name), event)(decision)
    return decision.response()


def compare(
    expect: Expectation,
    decision: Decision,
    data: dict[str, Any],
    hook_type: str | None = None,
    event: Event | None = None,
) -> list[Mismatch]:
    """Every expectation of ``expect`` that ``decision`` does not meet."""
    out: list[Mismatch] = []
    action = decision.action
    expected_action = expect.action
    if expected_action is None and (expect.message is not None or expect.message_contains):
        expected_action = "deny"
    if expected_action is None and (expect.data is not None or expect.data_contains is not None):
        expected_action = "allow"
    if expected_action is not None and action != expected_action:
        detail = _pair(expected_action, action)
        if action == "deny":
            by = f" by {decision.rule}" if decision.rule else ""
            detail += (f"  (denied{by}: {show(decision.message)})",)
        out.append(
            Mismatch(
                "action",
                f"expected {expected_action}, got {action}",
                expected_action,
                action,
                detail,
            )
        )
    message = decision.message if action == "deny" else None
    if expect.message is not None and message != expect.message:
        out.append(
            Mismatch(
                "message",
                "the deny message differs" if message is not None else "there is no deny message",
                expect.message,
                message,
                _text_pair(expect.message, message),
            )
        )
    for part in expect.message_contains:
        if message is None or part not in message:
            shown = show(message) if message is not None else "(no message: the answer is allow)"
            out.append(
                Mismatch(
                    "message_contains",
                    f"the message does not contain {show(part)}",
                    part,
                    message,
                    (f"- contains {show(part)}", f"+ {shown}"),
                )
            )
    if expect.data is not None or expect.data_contains is not None:
        out.extend(_compare_data(expect, decision, data))
    if expect.rule_given:
        wanted = expect.rule.id if expect.rule is not None else None
        if decision.rule != wanted:
            actual = _rule_name(decision.rule)
            if decision.rule is None:
                actual += " (no rule ended evaluation)"
            elif decision.by_error:
                actual += " (it failed at run time and its policy says on_error: deny)"
            out.append(
                Mismatch(
                    "rule",
                    f"expected the deciding rule {_rule_name(wanted)}, got "
                    f"{_rule_name(decision.rule)}",
                    wanted,
                    decision.rule,
                    _pair(_rule_name(wanted), actual),
                )
            )
    if expect.modified_by is not None:
        wanted_list = [r.id for r in expect.modified_by]
        if wanted_list != decision.modified_by:
            note = ""
            if sorted(wanted_list) == sorted(decision.modified_by):
                note = " (same rules, in another order)"
            out.append(
                Mismatch(
                    "modified_by",
                    f"the rules that changed the data differ{note}",
                    wanted_list,
                    list(decision.modified_by),
                    _pair(_list(wanted_list), _list(decision.modified_by)),
                )
            )
    if expect.shadow is not None:
        out.extend(_compare_shadow(expect.shadow, decision))
    if expect.rollout is not None:
        out.extend(_compare_rollout(expect.rollout, decision))
    if expect.answer_given:
        answer = platform_answer(decision, hook_type, event)
        if not same(expect.answer, answer):
            out.append(
                Mismatch(
                    "answer",
                    "the answer to the platform differs",
                    expect.answer,
                    answer,
                    data_diff(expect.answer, answer),
                )
            )
    for key, label in (("status", "status"), ("reason_code", "reason code")):
        if getattr(expect, f"{key}_given"):
            wanted, got = getattr(expect, key), getattr(decision, key, None)
            if wanted != got:
                out.append(
                    Mismatch(
                        key,
                        f"the deny rule's {label} differs",
                        wanted,
                        got,
                        _pair(_number(wanted), _number(got)),
                    )
                )
    out.extend(_compare_errors(expect, decision))
    return out


def _number(value: int | None) -> str:
    return "none" if value is None else str(value)


def _list(items: list[str]) -> str:
    return "[" + ", ".join(items) + "]" if items else "none"


def _compare_data(expect: Expectation, decision: Decision, data: dict[str, Any]) -> list[Mismatch]:
    if decision.action == "deny":
        wanted = expect.data if expect.data is not None else expect.data_contains
        key = "data" if expect.data is not None else "data_contains"
        return [
            Mismatch(
                key,
                "the answer is deny, which carries no data",
                wanted,
                None,
                (f"- {show(wanted)}", "+ (no data: the answer is deny)"),
            )
        ]
    actual = actual_data(decision, data)
    out: list[Mismatch] = []
    if expect.data is not None and not same(expect.data, actual):
        out.append(
            Mismatch(
                "data",
                "the resulting data differs",
                expect.data,
                actual,
                data_diff(expect.data, actual),
            )
        )
    if expect.data_contains is not None:
        detail: list[str] = []
        for path, wanted, got in subset_differences(expect.data_contains, actual, "data"):
            detail.append(f"{path}:")
            detail.append(f"  - {show(wanted)}")
            detail.append("  + (missing)" if got is _MISSING else f"  + {show(got)}")
        if detail:
            out.append(
                Mismatch(
                    "data_contains",
                    "the resulting data does not contain what was expected",
                    expect.data_contains,
                    actual,
                    tuple(detail),
                )
            )
    return out


def _compare_shadow(expected: list[ShadowExpect], decision: Decision) -> list[Mismatch]:
    actual = {s.rule: s for s in decision.shadow}
    wanted = {e.rule.id: e for e in expected}
    detail: list[str] = []
    for rule in wanted:
        if rule not in actual:
            detail.append(f"- {rule} (expected to match in shadow mode; it did not)")
    for rule, result in actual.items():
        if rule not in wanted:
            detail.append(f"+ {rule} (matched in shadow mode, would {result.action})")
    for rule, item in wanted.items():
        got = actual.get(rule)
        if got is None:
            continue
        if item.action is not None and got.action != item.action:
            detail.append(f"  {rule}: would {got.action}, expected {item.action}")
        if item.message is not None and got.message != item.message:
            detail.append(f"  {rule}: message")
            detail.extend("    " + line for line in _text_pair(item.message, got.message))
        for part in item.message_contains:
            if got.message is None or part not in got.message:
                detail.append(
                    f"  {rule}: message {show(got.message)} does not contain {show(part)}"
                )
    if not detail:
        return []
    return [
        Mismatch(
            "shadow",
            "the shadow results differ",
            [e.rule.id for e in expected],
            [s.rule for s in decision.shadow],
            tuple(detail),
        )
    ]


def rollout_way(result: RolloutResult) -> str:
    """``enforced (bucket 07.31% of 10%)``: which way a rollout rule went, and why."""
    way = "enforced" if result.enforced else "shadow"
    if result.pinned:
        return f"{way} (pinned by the case)"
    where = "no key" if result.bucket is None else f"bucket {result.bucket / 100:05.2f}%"
    return f"{way} ({where}, rollout {result.percent:g}%)"


def _compare_rollout(expected: list[RolloutWay], decision: Decision) -> list[Mismatch]:
    """The way each named rollout rule went (it must have matched)."""
    actual = {r.rule: r for r in decision.rollouts}
    detail: list[str] = []
    for way in expected:
        rule, wanted = way.rule.id, "enforced" if way.enforced else "shadow"
        got = actual.get(rule)
        if got is None:
            detail.append(f"- {rule}: {wanted}")
            detail.append(f"+ {rule}: did not match, so it went neither way")
        elif got.enforced != way.enforced:
            detail.append(f"- {rule}: {wanted}")
            detail.append(f"+ {rule}: {rollout_way(got)}")
    if not detail:
        return []
    return [
        Mismatch(
            "rollout",
            "the rollout rules went another way",
            {w.rule.id: "enforced" if w.enforced else "shadow" for w in expected},
            {r.rule: "enforced" if r.enforced else "shadow" for r in decision.rollouts},
            tuple(detail),
        )
    ]


def _compare_errors(expect: Expectation, decision: Decision) -> list[Mismatch]:
    if expect.errors == ANY_ERRORS:
        return []
    failed = [e.rule for e in decision.errors]
    wanted = [] if expect.errors is None or isinstance(expect.errors, str) else expect.errors
    wanted_ids = [r.id for r in wanted]
    if sorted(set(failed)) == sorted(set(wanted_ids)):
        return []
    detail: list[str] = []
    for rule in wanted_ids:
        if rule not in failed:
            detail.append(f"- {rule} (expected to fail at run time; it did not)")
    for failure in decision.errors:
        if failure.rule not in wanted_ids:
            detail.append(f"+ {failure.rule} failed at {failure.location}: {failure.message}")
    summary = (
        "a rule failed at run time (add 'errors: [RULE]' to the expectations if that is intended)"
        if not wanted_ids
        else "the rules that failed at run time differ"
    )
    return [Mismatch("errors", summary, wanted_ids, failed, tuple(detail))]
