"""Rule gating and indexing: grouping an event's rules into switches on a field.

Stage 3 (compile). Consumes one event's compiled rules
(:class:`~receiver.compile.tree.CompiledRule`, in evaluation order) and their gates;
produces the steps of its decision tree, where runs of rules gated on an equality of
the same field (``data.channelId == "ch_42" and ...``) become one
:class:`~receiver.compile.tree.Switch`: the field is read once and only the rules for
its value are tested. :func:`gate_of` finds a rule's gate, the conjunct of its
``when`` that must hold for the rule to match; :func:`touches` says whether a
``modify`` rule may change a gate's field (which ends a switch).
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from receiver.check.model import CheckedRule
from receiver.compile.tree import CompiledRule, Gate, Step, Switch
from receiver.dsl import ast
from receiver.dsl.analysis import constant_items, constant_set, static_path, unwrap
from receiver.dsl.values import Value, key


@dataclass(frozen=True, slots=True)
class Gating:
    """A rule's gate, with where it sits in the condition (for the gate-free variant)."""

    gate: Gate
    node: ast.Node  # the gating conjunct
    above: frozenset[int]  # ids of the nodes between the ``when`` root and it (macros too)


def gate_of(rule: CheckedRule) -> Gating | None:
    """An equality on a data/actor field that must hold for the rule to match."""
    if rule.when is None:
        return None
    conjuncts: list[tuple[ast.Node, frozenset[int]]] = []
    stack: list[tuple[ast.Node, frozenset[int]]] = [(rule.when, frozenset())]
    while stack:
        node, above = stack.pop()
        while isinstance(node, ast.Macro):
            above |= {id(node)}
            node = node.body
        if isinstance(node, ast.BoolOp) and node.op == "and":
            inner = above | {id(node)}
            stack.extend([(node.right, inner), (node.left, inner)])
        else:
            conjuncts.append((node, above))
    for position, (node, above) in enumerate(conjuncts):
        if not isinstance(node, ast.Compare) or node.op not in ("==", "in"):
            continue
        left, right = unwrap(node.left), unwrap(node.right)
        if node.op == "==" and isinstance(left, ast.Literal):
            left, right = right, left
        path = static_path(left)
        if path is None or path[0] not in ("data", "actor"):
            continue
        if node.op == "==" and isinstance(right, ast.Literal):
            values: tuple[Value, ...] = (right.value,)
        elif node.op == "in" and isinstance(right, ast.ListRef | ast.ListExpr):
            items = constant_items(right)
            if items is None or constant_set(right) is None:
                continue
            values = tuple(items)
        else:
            continue
        if any(v is None or isinstance(v, list | dict) for v in values):
            continue
        if not all(_cannot_fail(c) for c, _ in conjuncts[:position]):
            return None  # an earlier conjunct may fail: skipping the rule would hide that
        gate = Gate(path[0], path[1], frozenset(key(v) for v in values), node.span.text)
        return Gating(gate, node, above)
    return None


def _cannot_fail(node: ast.Node) -> bool:
    """Whether a conjunct never raises: ``==``/``!=``/constant ``in`` of names, paths, literals."""
    node = unwrap(node)
    if not isinstance(node, ast.Compare):
        return False
    left, right = unwrap(node.left), unwrap(node.right)
    plain = isinstance(left, ast.Literal | ast.Var) or static_path(left) is not None
    if node.op in ("==", "!="):
        return plain and (isinstance(right, ast.Literal | ast.Var) or bool(static_path(right)))
    if node.op in ("in", "not in") and isinstance(right, ast.ListRef | ast.ListExpr):
        return plain and constant_set(right) is not None
    return False


FieldRef = tuple[str, tuple[str | int, ...]]  # ("data", ("channelId",))


def touches(rule: CheckedRule, ref: FieldRef) -> bool:
    """Whether an enforced modify rule may change the field ``ref``."""
    root, keys = ref
    if rule.action != "modify" or rule.mode != "enforce" or root != "data":
        return False
    for target in [t for t, _ in rule.sets] + list(rule.unsets):
        paths = [target.path] if target.kind == "data" else [("text",), ("data", "text")]
        for path in paths:
            n = min(len(path), len(keys))
            if path[:n] == keys[:n]:
                return True
    return False


class Indexer:
    """Groups one event's compiled rules into switches (see :mod:`receiver.compile.tree`).

    The most common gate field (``data.channelId``) dispatches regions: a region ends
    with a rule that may change the field. A region with at least two rules gated on
    the field becomes a :class:`Switch` whose branches merge each value's gated rules
    (gate-free) with the region's other steps. Those other steps, and every region
    without such a switch, group runs of consecutive rules gated on another field
    into smaller switches of gated rules only; a run that a gated rule of some value
    falls into is split, for that value's branch, around the rule.
    """

    def __init__(
        self,
        rules: list[CompiledRule],
        gatings: list[Gating | None],
        gate_free: Callable[[CompiledRule], CompiledRule],
    ) -> None:
        self.rules = rules
        self.gatings = gatings  # each rule's gate, if it has one
        self.gate_free = gate_free  # the rule tested without its gate
        self.used: list[Gate | None] = [None] * len(rules)  # the gate each rule is indexed by
        self.pieces: dict[tuple[int, ...], list[Step]] = {}

    def build(self) -> tuple[list[Step], list[Gate | None]]:
        counts = Counter(_ref(g.gate) for g in self.gatings if g is not None)
        if not counts:
            return list(self.rules), self.used
        main = counts.most_common(1)[0][0]
        steps: list[Step] = []
        start = 0
        while start < len(self.rules):
            end = start + 1
            while end < len(self.rules) and not touches(self.rules[end - 1].rule, main):
                end += 1
            steps.extend(self._region(list(range(start, end)), main))
            start = end
        return steps, self.used

    def _on(self, position: int, ref: FieldRef) -> bool:
        gating = self.gatings[position]
        return gating is not None and _ref(gating.gate) == ref

    def _region(self, positions: list[int], main: FieldRef) -> list[Step]:
        gated = [p for p in positions if self._on(p, main)]
        if len(gated) < 2:
            return [step for step, _ in self._others(positions)]
        others = [p for p in positions if not self._on(p, main)]
        parts = self._others(others)
        owner: list[int] = []  # index into parts of each entry of `others`
        for number, (_, span) in enumerate(parts):
            owner.extend([number] * (span[1] - span[0]))

        def segment(a: int, b: int) -> list[Step]:
            """The steps for others[a:b], reusing whole parts and splitting cut ones."""
            out: list[Step] = []
            k = a
            while k < b:
                step, (s, e) = parts[owner[k]]
                if s == k and e <= b:
                    out.append(step)
                else:
                    out.extend(self._piece(tuple(others[k : min(e, b)])))
                k = min(e, b)
            return out

        by_value: dict[object, list[int]] = {}
        for p in gated:
            gating = self.gatings[p]
            assert gating is not None
            self.used[p] = gating.gate
            for k in gating.gate.values:
                by_value.setdefault(k, []).append(p)
        table: dict[object, tuple[Step, ...]] = {}
        for k, chosen in by_value.items():
            steps: list[Step] = []
            cursor = 0
            for p in chosen:
                cut = bisect.bisect_left(others, p)
                steps.extend(segment(cursor, cut))
                steps.append(self.gate_free(self.rules[p]))
                cursor = cut
            steps.extend(segment(cursor, len(others)))
            table[k] = tuple(steps)
        root, keys = main
        return [
            Switch(
                root=root,
                keys=keys,
                table=table,
                default=tuple(step for step, _ in parts),
                rules=tuple(self.rules[p] for p in positions),
                gated=len(gated),
            )
        ]

    def _piece(self, positions: tuple[int, ...]) -> list[Step]:
        """The steps of part of a run (memoized: many values cut a run at the same place)."""
        found = self.pieces.get(positions)
        if found is None:
            found = self.pieces[positions] = [step for step, _ in self._others(list(positions))]
        return found

    def _others(self, positions: list[int]) -> list[tuple[Step, tuple[int, int]]]:
        """Steps for rules at ``positions`` (in order), each with the slice it covers:
        runs of at least two consecutive rules gated on the same field become a switch
        of those rules (a run ends with a rule that may change its field)."""
        out: list[tuple[Step, tuple[int, int]]] = []
        i = 0
        while i < len(positions):
            gating = self.gatings[positions[i]]
            j = i + 1
            if gating is not None:
                ref = _ref(gating.gate)
                if not touches(self.rules[positions[i]].rule, ref):
                    while j < len(positions) and self._on(positions[j], ref):
                        j += 1
                        if touches(self.rules[positions[j - 1]].rule, ref):
                            break
            if gating is None or j - i < 2:
                out.append((self.rules[positions[i]], (i, i + 1)))
            else:
                out.append((self._run(tuple(positions[i:j])), (i, j)))
            i = j
        return out

    def _run(self, positions: tuple[int, ...]) -> Switch:
        table: dict[object, list[Step]] = {}
        gate: Gate | None = None
        for p in positions:
            gating = self.gatings[p]
            assert gating is not None
            gate = self.used[p] = gating.gate
            free = self.gate_free(self.rules[p])
            for k in gate.values:
                table.setdefault(k, []).append(free)
        assert gate is not None
        return Switch(
            root=gate.root,
            keys=gate.keys,
            table={k: tuple(v) for k, v in table.items()},
            default=(),
            rules=tuple(self.rules[p] for p in positions),
            gated=len(positions),
        )


def _ref(gate: Gate) -> FieldRef:
    return gate.root, gate.keys
