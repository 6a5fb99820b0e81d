"""Literal prefilters for policy regexes: strings one of which every match contains.

Below the stages (dsl), used by stage 3 (compile) for ``matches``. Consumes a regex
pattern's text; produces a :class:`Prefilter` (the literals) or None.

``text matches "(?i)\\b(discord\\.gg/|t\\.me/)..."`` is false for almost every message,
and a substring test answers that far more cheaply than a call into RE2 (whose Python
binding alone costs about a microsecond and a half). :func:`required_literals` reads
the pattern and returns a few literals such that any text the pattern matches holds at
least one of them; a text holding none is answered ``False`` without RE2.

The reading is conservative: it understands plain characters, escaped punctuation,
groups (capturing, ``(?:...)``, ``(?P<name>...)``), alternation, character classes,
the usual escapes and quantifiers, and a leading ``(?i)``. Anything else (other flags,
``\\Q...\\E``, a non-ASCII literal) gives no prefilter at all, or treats the part as
"some character" -- never a wrong answer, at worst a weaker filter. Under ``(?i)`` the
literals are lowered and decide only for ASCII text: RE2 folds case by Unicode rules
(``k`` matches the Kelvin sign), ``str.lower`` does not.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_LITERAL = 2  # shorter literals filter too little to be worth the substring tests
MAX_ALTERNATIVES = 16

_CLASS_ESCAPES = frozenset("dDwWsSCntrfva")  # one character, not a literal we track
_ZERO_WIDTH_ESCAPES = frozenset("bBAz")


@dataclass(frozen=True, slots=True)
class Prefilter:
    """Any match of the pattern contains one of ``literals`` (lowered: ``ignore_case``)."""

    literals: tuple[str, ...]
    ignore_case: bool


class _Unsure(Exception):
    """A construct the reading does not handle: no prefilter."""


# What a parsed piece of pattern requires: None, or literals one of which any match holds.
Need = frozenset[str] | None


def _better(a: Need, b: Need) -> Need:
    """The more selective of two requirements (longer shortest literal, then fewer)."""
    if a is None:
        return b
    if b is None:
        return a
    key_a = (min(map(len, a)), -len(a))
    key_b = (min(map(len, b)), -len(b))
    return a if key_a >= key_b else b


class _Reader:
    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.pos = 0

    def peek(self) -> str:
        return self.pattern[self.pos] if self.pos < len(self.pattern) else ""

    def take(self) -> str:
        char = self.peek()
        if not char:
            raise _Unsure
        self.pos += 1
        return char

    def alternation(self) -> Need:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.pos += 1
            branches.append(self.sequence())
        if len(branches) == 1:
            return branches[0]
        union: set[str] = set()
        for need in branches:
            if need is None:
                return None
            union |= need
        return frozenset(union) if len(union) <= MAX_ALTERNATIVES else None

    def sequence(self) -> Need:
        best: Need = None
        run: list[str] = []

        def close_run() -> None:
            nonlocal best
            if run:
                best = _better(best, frozenset(["".join(run)]))
                run.clear()

        while self.peek() not in ("", "|", ")"):
            kind, value = self.atom()
            low, unbounded = self.quantifier()
            if low == 0:
                close_run()  # may be absent
                continue
            if kind == "char":
                assert isinstance(value, str)
                run.append(value)
                if unbounded or low > 1:
                    close_run()  # repeated: what follows is not right after one copy
                continue
            close_run()
            if kind == "group":
                assert not isinstance(value, str)
                best = _better(best, value)
        close_run()
        return best

    def quantifier(self) -> tuple[int, bool]:
        """``(least repetitions, whether more may follow)`` of the quantifier here."""
        char = self.peek()
        if char in ("*", "?", "+"):
            self.pos += 1
            low, more = {"*": (0, True), "?": (0, False), "+": (1, True)}[char]
        elif char == "{":
            end = self.pattern.find("}", self.pos)
            if end < 0:
                raise _Unsure
            spec = self.pattern[self.pos + 1 : end]
            least, comma, most = spec.partition(",")
            if not least.isdigit() or not (most == "" or most.isdigit()):
                raise _Unsure  # RE2 reads a malformed repetition as literal text
            self.pos = end + 1
            low, more = int(least), bool(comma)
        else:
            return 1, False
        if self.peek() == "?":  # non-greedy
            self.pos += 1
        return low, more

    def atom(self) -> tuple[str, Need | str]:
        """``("char", c)``, ``("group", need)``, ``("any", None)`` or ``("zero", None)``."""
        char = self.take()
        if char == "(":
            if self.pattern.startswith("?:", self.pos):
                self.pos += 2
            elif self.pattern.startswith("?P<", self.pos):
                end = self.pattern.find(">", self.pos)
                if end < 0:
                    raise _Unsure
                self.pos = end + 1
            elif self.peek() == "?":
                raise _Unsure  # flags: (?i:...), (?s), ...
            need = self.alternation()
            if self.take() != ")":
                raise _Unsure
            return "group", need
        if char == "[":
            return self.char_class()
        if char == "\\":
            return self.escape()
        if char in ("^", "$"):
            return "zero", None
        if char == ".":
            return "any", None
        if char in "*+?{})":
            raise _Unsure
        if not char.isascii():
            return "any", None
        return "char", char

    def escape(self) -> tuple[str, Need | str]:
        char = self.take()
        if char in _ZERO_WIDTH_ESCAPES:
            return "zero", None
        if char in _CLASS_ESCAPES:
            return "any", None
        if char in ("p", "P"):
            if self.take() == "{":
                end = self.pattern.find("}", self.pos)
                if end < 0:
                    raise _Unsure
                self.pos = end + 1
            return "any", None
        if char == "x":
            if self.peek() == "{":
                end = self.pattern.find("}", self.pos)
                if end < 0:
                    raise _Unsure
                self.pos = end + 1
            else:
                self.pos += 2
            return "any", None
        if char.isascii() and not char.isalnum() and char.isprintable():
            return "char", char  # escaped punctuation: itself
        raise _Unsure  # \Q...\E, back references, octal, unknown escapes

    def char_class(self) -> tuple[str, Need | str]:
        """One character from a class; a class of one plain character is that character."""
        start = self.pos
        if self.peek() == "^":
            self.pos += 1
        if self.peek() == "]":
            self.pos += 1  # a leading ] is a member
        while True:
            char = self.take()
            if char == "]":
                break
            if char == "\\":
                self.take()
            elif char == "[" and self.peek() == ":":
                end = self.pattern.find(":]", self.pos)
                if end < 0:
                    raise _Unsure
                self.pos = end + 2
        body = self.pattern[start : self.pos - 1]
        if len(body) == 1 and body.isascii() and body not in "^-\\[":
            return "char", body
        return "any", None


def required_literals(pattern: str) -> Prefilter | None:
    """Literals one of which every match of ``pattern`` (RE2 syntax) contains, or None."""
    ignore_case = pattern.startswith("(?i)")
    reader = _Reader(pattern[4:] if ignore_case else pattern)
    try:
        need = reader.alternation()
        if reader.peek():
            raise _Unsure  # an unbalanced ")"
    except _Unsure:
        return None
    if need is None or min(map(len, need)) < MIN_LITERAL:
        return None
    found = {s.lower() for s in need} if ignore_case else need
    return Prefilter(tuple(sorted(found, key=lambda s: (-len(s), s))), ignore_case)
