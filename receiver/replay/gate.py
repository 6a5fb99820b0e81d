"""``receiver diff --fail-on EXPR``: the gate a diff must pass in CI.

The edge (the command line's input). Consumes the text of ``--fail-on`` (outside input:
a CI file, a shell); produces a :class:`Gate` (:func:`parse_gate`), or a
:class:`GateError` naming the column, with a caret line and what to write there. A gate
is evaluated against a diff's figures (:meth:`Gate.check`): whether it held, and which
comparisons made it hold.

The grammar (also in docs/replay.md, "Diff")::

    gate       := or
    or         := and ("or" and)*
    and        := atom ("and" atom)*
    atom       := "(" or ")" | comparison
    comparison := figure OP amount
    figure     := NAME | "rule" "(" STRING ")" "." MEASURE
    OP         := ">" | ">=" | "<" | "<=" | "==" | "!="
    amount     := ["-"] NUMBER ["%"]        (a count, or a percent of the replayed events)

NAME is one of :data:`FIGURES`; ``rule("policy/rule").MEASURE`` is NEW minus OLD of that
rule's count (:data:`MEASURES`), so it can be negative. A tiny hand-written parser: the
language has five token kinds, and a hand parser gives every error its own column and
advice without a grammar file to ship.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from receiver.errors import ReceiverError
from receiver.replay.compare import MEASURES
from receiver.text.diagnostics import did_you_mean

FIGURES: Final = ("flips", "allow_to_deny", "deny_to_allow", "message_changed", "data_changed")
OPERATORS: Final = (">=", "<=", "==", "!=", ">", "<")
EXAMPLE: Final = "e.g. 'allow_to_deny > 0.5%' or 'deny_to_allow > 0 or flips >= 100'"


class GateError(ReceiverError):
    """A ``--fail-on`` expression that does not parse; ``column`` is 1-based."""

    def __init__(self, text: str, column: int, message: str) -> None:
        super().__init__(f"column {column}: {message}")
        self.text = text
        self.column = column
        self.message = message

    def render(self) -> str:
        """The message, the expression and a caret under the column."""
        shown = "".join(c if c.isprintable() else " " for c in self.text)  # one line
        caret = " " * (self.column - 1) + "^"
        return f"--fail-on: column {self.column}: {self.message}\n  {shown}\n  {caret}"


@dataclass(frozen=True, slots=True)
class Figure:
    """What a comparison reads: a flip count, or a rule's change (``rule`` set)."""

    name: str  # one of FIGURES, or a measure of MEASURES when ``rule`` is set
    rule: str | None = None

    def __str__(self) -> str:
        if self.rule is None:
            return self.name
        return f"rule({_quote(self.rule)}).{self.name}"


@dataclass(frozen=True, slots=True)
class Amount:
    value: float
    percent: bool = False

    def __str__(self) -> str:
        text = _number(self.value)
        return f"{text}%" if self.percent else text

    def threshold(self, events: int) -> float:
        """The count this amount stands for when ``events`` were replayed."""
        return self.value * events / 100 if self.percent else self.value


@dataclass(frozen=True, slots=True)
class Comparison:
    figure: Figure
    op: str
    amount: Amount

    def __str__(self) -> str:
        return f"{self.figure} {self.op} {self.amount}"


@dataclass(frozen=True, slots=True)
class Both:
    """``left and right`` (``op`` "and") or ``left or right`` (``op`` "or")."""

    op: str
    left: Node
    right: Node

    def __str__(self) -> str:
        left = _part(self.left, self.op)
        right = f"({self.right})" if isinstance(self.right, Both) else str(self.right)
        return f"{left} {self.op} {right}"  # both operators group to the left


Node = Comparison | Both

_COMPARE: Final[Mapping[str, Callable[[float, float], bool]]] = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


class Figures:
    """What a gate reads from a diff: the flip counts, each rule's change, the events."""

    def __init__(
        self, events: int, flips: Mapping[str, int], rules: Mapping[str, Mapping[str, int]]
    ) -> None:
        self.events = events
        self.flips = flips
        self.rules = rules  # rule -> measure -> NEW minus OLD

    def value(self, figure: Figure) -> int:
        if figure.rule is None:
            return self.flips.get(figure.name, 0)
        return self.rules.get(figure.rule, {}).get(figure.name, 0)


@dataclass(frozen=True, slots=True)
class Held:
    """A comparison that held, with the figure's value, for the report."""

    comparison: Comparison
    value: int
    events: int

    def __str__(self) -> str:
        shown = f"{self.value:,}"
        if self.events:
            shown += f", {100 * self.value / self.events:.2f}% of {self.events:,} events"
        return f"{self.comparison} ({self.comparison.figure} = {shown})"


@dataclass(frozen=True, slots=True)
class Gate:
    text: str
    root: Node

    def __str__(self) -> str:
        return str(self.root)

    def check(self, figures: Figures) -> list[Held]:
        """The comparisons that made the gate hold; empty when it did not."""
        held, parts = _check(self.root, figures)
        return parts if held else []

    def unknown_rules(self, known: set[str]) -> list[str]:
        """Rules the gate names that neither policy set has (likely a typo)."""
        named = {c.figure.rule for c in _comparisons(self.root) if c.figure.rule is not None}
        return sorted(named - known)


def _check(node: Node, figures: Figures) -> tuple[bool, list[Held]]:
    if isinstance(node, Comparison):
        value = figures.value(node.figure)
        held = _COMPARE[node.op](value, node.amount.threshold(figures.events))
        return held, [Held(node, value, figures.events)] if held else []
    left, left_parts = _check(node.left, figures)
    if node.op == "or":
        if left:
            return True, left_parts
        return _check(node.right, figures)
    if not left:
        return False, []
    right, right_parts = _check(node.right, figures)
    return right, left_parts + right_parts if right else []


def _comparisons(node: Node) -> list[Comparison]:
    if isinstance(node, Comparison):
        return [node]
    return _comparisons(node.left) + _comparisons(node.right)


def _part(node: Node, within: str) -> str:
    if isinstance(node, Both) and node.op != within:
        return f"({node})"
    return str(node)


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---------------------------------------------------------------------------------------
# The parser

_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<op>>=|<=|==|!=|>|<)
      | (?P<punct>[()%.\-])""",
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # number, name, string, op, punct, end
    text: str
    column: int  # 1-based


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            char = text[position]
            if char == '"':
                raise GateError(text, position + 1, 'a rule name is not closed: end it with "')
            if char in "=!":
                raise GateError(
                    text, position + 1, f"unknown operator {char!r}: write one of "
                    + ", ".join(OPERATORS)
                )  # fmt: skip
            if char in "'/":  # rule('spam/x') or rule(spam/x)
                raise GateError(
                    text, position + 1, f"unexpected character {char!r}: write the rule's "
                    'id in double quotes, e.g. rule("spam/spam-phrases").decided > 10'
                )  # fmt: skip
            raise GateError(text, position + 1, f"unexpected character {char!r}; {EXAMPLE}")
        kind = match.lastgroup or ""
        if kind != "space":
            out.append(_Token(kind, match.group(), position + 1))
        position = match.end()
    out.append(_Token("end", "", len(text) + 1))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.at = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.at]

    def fail(self, message: str, token: _Token | None = None) -> GateError:
        token = token or self.token
        if token.kind == "end":
            message = f"the expression ends early: {message}"
        return GateError(self.text, token.column, message)

    def take(self) -> _Token:
        token = self.token
        self.at += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.token
        if token.kind == "name" and token.text == word:
            self.at += 1
            return True
        return False

    def gate(self) -> Node:
        if self.token.kind == "end":
            raise self.fail(f"write a condition, {EXAMPLE}")
        node = self.either()
        token = self.token
        if token.kind != "end":
            if token.kind == "punct" and token.text == ")":
                raise self.fail("this ')' closes no '('")
            raise self.fail(f"expected 'and', 'or' or the end, not {token.text!r}")
        return node

    def either(self) -> Node:
        node = self.both()
        while self.keyword("or"):
            node = Both("or", node, self.both())
        return node

    def both(self) -> Node:
        node = self.atom()
        while self.keyword("and"):
            node = Both("and", node, self.atom())
        return node

    def atom(self) -> Node:
        token = self.token
        if token.kind == "punct" and token.text == "(":
            self.take()
            node = self.either()
            if not (self.token.kind == "punct" and self.token.text == ")"):
                raise self.fail(f"expected ')' to close the '(' at column {token.column}")
            self.take()
            return node
        return self.comparison()

    def comparison(self) -> Comparison:
        figure = self.figure()
        token = self.token
        if token.kind != "op":
            raise self.fail(
                f"expected a comparison after {str(figure)!r}: one of "
                f"{', '.join(OPERATORS)}, e.g. '{figure} > 0'"
            )
        self.take()
        return Comparison(figure, token.text, self.amount(figure, token.text))

    def figure(self) -> Figure:
        token = self.token
        if token.kind != "name" or token.text in ("and", "or"):
            raise self.fail(f"expected what to compare: one of {', '.join(FIGURES)}, or "
                            'rule("policy/rule").decided')  # fmt: skip
        self.take()
        if token.text == "rule":
            return self.rule_figure()
        if token.text not in FIGURES:
            raise self.fail(
                f"unknown figure {token.text!r}{_suggest(token.text, (*FIGURES, 'rule'))} "
                f'(known: {", ".join(FIGURES)}, rule("policy/rule").MEASURE)',
                token,
            )
        return Figure(token.text)

    def rule_figure(self) -> Figure:
        self.expect("(", 'rule("policy/rule").decided')
        token = self.token
        if token.kind != "string":
            raise self.fail(
                'expected the rule\'s id in double quotes, e.g. rule("spam/spam-phrases")'
            )
        self.take()
        rule = re.sub(r"\\(.)", r"\1", token.text[1:-1])
        if not rule:
            raise self.fail("the rule's id is empty: write policy/rule", token)
        self.expect(")", "a ')' after the rule's id")
        self.expect(".", f"'.' and a measure: {', '.join(MEASURES)}")
        measure = self.token
        if measure.kind != "name" or measure.text not in MEASURES:
            shown = measure.text or "nothing"
            raise self.fail(
                f"unknown measure {shown!r}{_suggest(measure.text, MEASURES)} (a rule's "
                f"measures: {', '.join(MEASURES)})"
            )
        self.take()
        return Figure(measure.text, rule)

    def expect(self, punct: str, what: str) -> None:
        token = self.token
        if token.kind == "punct" and token.text == punct:
            self.take()
            return
        raise self.fail(f"expected {punct!r} here ({what})")

    def amount(self, figure: Figure, op: str) -> Amount:
        negative = False
        if self.token.kind == "punct" and self.token.text == "-":
            self.take()
            negative = True
        token = self.token
        if token.kind != "number":
            raise self.fail(
                f"expected a number or a percent after {op!r}, e.g. '{figure} {op} 0' or "
                f"'{figure} {op} 0.5%'"
            )
        self.take()
        value = float(token.text)
        if not math.isfinite(value):
            raise self.fail("the number is too large", token)
        percent = False
        if self.token.kind == "punct" and self.token.text == "%":
            self.take()
            percent = True
        return Amount(-value if negative else value, percent)


def _suggest(word: str, choices: tuple[str, ...]) -> str:
    return did_you_mean(word, choices)


def parse_gate(text: str) -> Gate:
    """The gate written in ``text`` (module docstring), or a :class:`GateError`."""
    return Gate(text, _Parser(text).gate())
