"""Which entries of a policy's named lists a test case exercised.

Stage: testing (policy tests), coverage. Consumes the :class:`~receiver.testing.instrument.Record`
lists of one case (per rule evaluated) and the checked rules of its policy set, and
produces ``(policy, list, entry index)`` for every entry a membership test was decided
by. An entry of a named list is exercised when, in some case, the engine ran a
membership test against the list and the value tested was that entry:

- ``x in LIST`` / ``x not in LIST`` / ``LIST contains x``: the entries equal to the
  value of ``x`` (with the language's equality);
- ``contains_any(s, LIST)``: every phrase of the list that occurs in ``s`` (found
  with the production phrase matcher, so the same whole-word, any-case rules apply);
- ``any(LIST, cond)``, ``all(LIST, cond)``, ``count(LIST, cond)``: the entries for
  which ``cond`` was true.

Other uses of a list (``len(LIST)``, ``LIST[0]``, ``LIST + [...]``) exercise no entry,
and a test the engine never ran (a rule not reached, a short-circuited ``and``)
exercises nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from receiver.check.model import CheckedRule
from receiver.dsl import ast
from receiver.dsl.analysis import unwrap as _unwrap
from receiver.dsl.functions import FUNCTIONS
from receiver.dsl.paths import text_of
from receiver.dsl.textfuncs import PhraseMatcher
from receiver.dsl.values import Timestamp, Value, equals, key
from receiver.runtime.policyset import PolicySet
from receiver.testing.instrument import Record

# the built-ins whose second argument is a condition run per item (any, all, count)
LAMBDAS = frozenset(name for name, fn in FUNCTIONS.items() if fn.form == "each")


@dataclass(frozen=True, slots=True)
class _Membership:
    listref: ast.ListRef
    operand: ast.Node
    kind: str  # "in" (key equality), "contains" (==), "phrase" (contains_any)


def _membership(node: object) -> _Membership | None:
    if isinstance(node, ast.Compare):
        right, left = _unwrap(node.right), _unwrap(node.left)
        if node.op in ("in", "not in") and isinstance(right, ast.ListRef):
            return _Membership(right, node.left, "in")
        if node.op == "contains" and isinstance(left, ast.ListRef):
            return _Membership(left, node.right, "contains")
    if isinstance(node, ast.Call) and node.func == "contains_any" and len(node.args) == 2:
        phrases = _unwrap(node.args[1])
        if isinstance(phrases, ast.ListRef):
            return _Membership(phrases, node.args[0], "phrase")
    return None


def _var_value(name: str, record: Record) -> Value:
    if name == "text":
        return text_of(record.data) if isinstance(record.data, dict) else None
    return {
        "data": record.data,
        "actor": record.actor,
        "user": record.user,
        "it": record.it,
        "decision_id": record.decision_id,
    }.get(name)


_NOT_FOUND: Any = object()


def _operand(records: list[Record], index: int, operand: ast.Node) -> Value:
    """The value the membership test at ``records[index]`` tested, or ``_NOT_FOUND``."""
    inner = _unwrap(operand)
    if isinstance(inner, ast.Var):
        return _var_value(inner.name, records[index])
    if isinstance(inner, ast.Literal):
        return inner.value
    if index > 0 and records[index - 1].node is operand:  # the operand is computed last
        return records[index - 1].value
    return _NOT_FOUND  # e.g. a memoized call answered from its slot: counted when computed


class _Matchers:
    def __init__(self) -> None:
        self._phrases: dict[str, PhraseMatcher] = {}

    def phrase(self, entry: object) -> PhraseMatcher:
        text = str(entry)
        matcher = self._phrases.get(text)
        if matcher is None:
            matcher = self._phrases[text] = PhraseMatcher([text])
        return matcher


def _entry_hit(kind: str, entry: object, value: Value, matchers: _Matchers) -> bool:
    """Whether the membership test of ``value`` was decided by ``entry`` (as the engine tests)."""
    if value is None:
        return False
    if kind == "phrase":
        return isinstance(value, str) and matchers.phrase(entry).search(value) is not None
    if kind == "contains" or type(value) is Timestamp:
        return equals(entry, value)
    try:
        return bool(key(value) == key(entry))
    except TypeError:
        return False


class ListProbe:
    """Finds the list entries exercised in recorded evaluations of one policy set."""

    def __init__(self, policyset: PolicySet) -> None:
        self._members: dict[int, _Membership | None] = {}
        self._lambda_conds: dict[int, tuple[str, ast.ListRef]] = {}
        self._matchers = _Matchers()
        for rule in policyset.rules:
            for expr in rule.expressions():
                for node in ast.walk(expr):
                    if (
                        isinstance(node, ast.Call)
                        and node.func in LAMBDAS
                        and len(node.args) == 2
                        and isinstance(_unwrap(node.args[0]), ast.ListRef)
                    ):
                        listref = _unwrap(node.args[0])
                        assert isinstance(listref, ast.ListRef)
                        self._lambda_conds[id(node.args[1])] = (node.func, listref)

    def _membership(self, node: object) -> _Membership | None:
        ident = id(node)
        if ident not in self._members:
            self._members[ident] = _membership(node)
        return self._members[ident]

    def exercised(self, runs: list[tuple[CheckedRule, list[Record]]]) -> set[tuple[str, str, int]]:
        """``(policy, list, entry index)`` of every entry a recorded test was decided by."""
        out: set[tuple[str, str, int]] = set()
        for rule, records in runs:
            policy = rule.policy.name
            for index, record in enumerate(records):
                found = self._membership(record.node)
                if found is not None:
                    value = _operand(records, index, found.operand)
                    if value is _NOT_FOUND:
                        continue
                    for position, entry in enumerate(found.listref.items):
                        if _entry_hit(found.kind, entry, value, self._matchers):
                            out.add((policy, found.listref.name, position))
                    continue
                cond = self._lambda_conds.get(id(record.node))
                if cond is not None and record.value is True:
                    for position, entry in enumerate(cond[1].items):
                        if _entry_hit("in", entry, record.it, self._matchers):
                            out.add((policy, cond[1].name, position))
        return out
