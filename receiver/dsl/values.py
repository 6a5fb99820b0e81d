"""Runtime values of the policy language and the operations on them.

Below the stages (dsl), used by check (constant folding), compile and run. Consumes runtime
values; produces values (:func:`equals`, :func:`order`, :func:`contains`,
:func:`arithmetic`, ...), their text (:func:`render`, :func:`show`) and their JSON
(:func:`to_json`), or an :class:`~receiver.errors.EvaluationError`.

Values are plain JSON values (``str``, ``int``, ``float``, ``bool``, ``None``,
``list``, ``dict``) plus two of our own: :class:`Duration` (``7d``, ``age(x)``)
and :class:`Timestamp` (``now()``, ``now() - 7d``). The functions here define
the language's equality, ordering, membership and arithmetic, and are shared by
the constant folder and the compiled closures, so both agree by construction.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from receiver.dsl import times
from receiver.errors import EvaluationError

Value = Any  # a JSON value, a Duration or a Timestamp


@dataclass(frozen=True, slots=True, order=True)
class Duration:
    seconds: float

    def __str__(self) -> str:
        return times.format_duration(self.seconds)


@dataclass(frozen=True, slots=True, order=True)
class Timestamp:
    epoch: float

    def __str__(self) -> str:
        return times.format_time(self.epoch)


# Type tuples for isinstance() on hot paths: ``int | float`` there would build a new
# union object on every call.
_NUMBER = (int, float)
_KEYED_AS_ITSELF = (str, Duration, Timestamp)


def type_name(value: Value) -> str:
    """The language's name for the type of a runtime value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, Duration):
        return "duration"
    if isinstance(value, Timestamp):
        return "time"
    return type(value).__name__


def is_number(value: Value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def equals(left: Value, right: Value) -> bool:
    """``==``: like JSON equality; ``true`` is not ``1``; times compare with time strings."""
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    if isinstance(left, Timestamp) or isinstance(right, Timestamp):
        try:
            return as_time(left) == as_time(right)
        except EvaluationError:
            return False
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):  # [true] is not [1]
        return len(left) == len(right) and all(map(equals, left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(equals(v, right[k]) for k, v in left.items())
    return bool(left == right)


def key(value: Value) -> object:
    """A hashable key with the language's equality (used by indexes and constant sets)."""
    if type(value) is str:  # the usual key (a role, a channel id): itself
        return value
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, _NUMBER):
        return ("num", value)
    if isinstance(value, _KEYED_AS_ITSELF) or value is None:
        return value
    return ("json", json.dumps(value, sort_keys=True, default=str))


def as_time(value: Value) -> Timestamp:
    if isinstance(value, Timestamp):
        return value
    if isinstance(value, bool):
        raise EvaluationError("expected a time, got a bool")
    try:
        return Timestamp(times.parse_time(value))
    except ValueError as err:
        raise EvaluationError(str(err)) from None


def order(op: str, left: Value, right: Value) -> bool:
    """``< <= > >=``; false when either side is null; an error for unordered types."""
    if left is None or right is None:
        return False
    lt, rt = type(left), type(right)
    if not ((lt is rt and lt in (str, int, float)) or (is_number(left) and is_number(right))):
        if isinstance(left, Timestamp) or isinstance(right, Timestamp):
            left, right = as_time(left), as_time(right)
        elif not (lt is rt and lt is Duration):
            raise EvaluationError(
                f"cannot compare {type_name(left)} with {type_name(right)} using '{op}'"
            )
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


def contains(container: Value, item: Value) -> bool:
    """``item in container``: list membership, substring, or map key presence."""
    if container is None or item is None:
        return False
    if isinstance(container, str):
        if not isinstance(item, str):
            raise EvaluationError(f"cannot look for a {type_name(item)} inside a string")
        return item in container
    if isinstance(container, list | tuple):
        return any(equals(element, item) for element in container)
    if isinstance(container, dict):
        return isinstance(item, str) and item in container
    if isinstance(container, frozenset):
        return key(item) in container
    raise EvaluationError(
        f"'in' needs a list, string or map on the right, got {type_name(container)}"
    )


def text_op(op: str, left: Value, right: Value) -> bool:
    """``startswith`` / ``endswith``: false when either side is null."""
    if left is None or right is None:
        return False
    if not isinstance(left, str) or not isinstance(right, str):
        raise EvaluationError(
            f"'{op}' needs two strings, got {type_name(left)} and {type_name(right)}"
        )
    return left.startswith(right) if op == "startswith" else left.endswith(right)


def arithmetic(op: str, left: Value, right: Value) -> Value:
    """``+ - * / %`` with numbers, strings, lists, durations and times; null in, null out."""
    if left is None or right is None:
        return None
    if is_number(left) and is_number(right):
        if op in ("+", "-", "*"):
            result = left + right if op == "+" else left - right if op == "-" else left * right
            if isinstance(result, float) and not math.isfinite(result):
                raise EvaluationError(f"the result of '{op}' is too large for a number")
            return result
        if right == 0:
            raise EvaluationError("division by zero")
        if op == "/":
            result = left / right
            return int(result) if result.is_integer() and abs(result) < 2**53 else result
        return left % right
    lt, rt = type(left), type(right)
    if op == "+":
        if lt is rt and lt in (str, list):
            return left + right
        if lt is Duration and rt is Duration:
            return Duration(left.seconds + right.seconds)
        if lt is Timestamp and rt is Duration:
            return Timestamp(left.epoch + right.seconds)
        if lt is Duration and rt is Timestamp:
            return Timestamp(right.epoch + left.seconds)
    elif op == "-":
        if lt is Duration and rt is Duration:
            return Duration(left.seconds - right.seconds)
        if lt is Timestamp and rt is Duration:
            return Timestamp(left.epoch - right.seconds)
        if lt is Timestamp or rt is Timestamp:
            return Duration(as_time(left).epoch - as_time(right).epoch)
    elif op == "*":
        if lt is Duration and is_number(right):
            return Duration(left.seconds * right)
        if is_number(left) and rt is Duration:
            return Duration(left * right.seconds)
    elif op == "/":
        if lt is Duration and is_number(right):
            if right == 0:
                raise EvaluationError("division by zero")
            return Duration(left.seconds / right)
        if lt is Duration and rt is Duration:
            if right.seconds == 0:
                raise EvaluationError("division by zero")
            return left.seconds / right.seconds
    raise EvaluationError(f"cannot use '{op}' on {type_name(left)} and {type_name(right)}")


def negate(value: Value) -> Value:
    if value is None:
        return None
    if is_number(value):
        return -value
    if isinstance(value, Duration):
        return Duration(-value.seconds)
    raise EvaluationError(f"cannot negate a {type_name(value)}")


def truth(value: Value, what: str = "condition") -> bool:
    """The truth of a condition value: ``true``; ``null`` counts as false; others are errors."""
    if value is True:
        return True
    if value is False or value is None:
        return False
    raise EvaluationError(f"the {what} gave a {type_name(value)} ({render(value)}), not true/false")


def render(value: Value) -> str:
    """How a value appears inside a deny message or an explanation."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Duration | Timestamp):
        return str(value)
    return json.dumps(to_json(value), ensure_ascii=False, default=str)


def show(value: Value) -> str:
    """A value as source-like text, for explanations (strings quoted, null shown)."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return render(value)


def to_json(value: Value) -> Any:
    """A runtime value as JSON (times as ISO-8601 strings, durations as seconds)."""
    if isinstance(value, Timestamp):
        return times.format_time(value.epoch)
    if isinstance(value, Duration):
        seconds = value.seconds
        return int(seconds) if float(seconds).is_integer() else seconds
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, frozenset):
        return sorted(str(v) for v in value)
    return value
