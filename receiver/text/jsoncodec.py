"""JSON in and out of the service: orjson where it can, the standard library where it must.

The edge's parser: request bytes in, a JSON value out, or :class:`JSONError` (a 400
for the caller) for anything that is not one bounded JSON document. orjson parses and
serialises several times faster than ``json`` and is strict about UTF-8. It rejects
two things a JavaScript platform can legitimately send or that a policy can produce:
lone surrogate escapes (``"\\ud800"``) and integers beyond 64 bits. Those fall back to
the standard library, so the answer is always the same JSON.

What :func:`loads` refuses, whichever parser runs (README, "Never failing the platform"):

- text that is not UTF-8 (a byte-order mark included), and anything but one JSON value;
- ``NaN``, ``Infinity`` and ``-Infinity`` (not JSON; the standard library accepts them)
  and numbers beyond a double's range such as ``1e999`` (read as infinity otherwise);
- integers of more than 4,300 digits (Python's limit on converting digits to ``int``);
- documents nested deeper than :data:`MAX_DEPTH` arrays and objects, so that every
  later stage (evaluation, changes, the decision log, the answer) can walk the value
  recursively without running out of stack.

Duplicate keys are accepted, the last one winning, as JavaScript's ``JSON.parse``
(the platform's own reader) and both parsers here do. Lone surrogate escapes are
accepted as the standard library reads them: JavaScript strings may hold them.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any, NoReturn

import orjson

MAX_DEPTH = 128  # arrays and objects inside each other; orjson alone would allow 1024

# orjson does not reject integers beyond 64 bits: it silently reads them as floats. A body
# with a run of 19 or more digits (which any such integer has) is parsed by ``json``.
# The run is found by mapping every digit to "0" and every other byte to " " and looking
# for nineteen "0"s: two C loops over the body, several times faster than the regular
# expression [0-9]{19} (which tries every position), itself slower than orjson. The
# search is bytes.find: ``bytes in bytes`` first tries its operand as an integer and
# builds, then drops, a TypeError every time (as much work again as the search).
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_LONG_RUN = b"0" * 19
_CONTAINERS = (dict, list)
_TOO_DEEP = f"invalid JSON: nested too deeply (the limit is {MAX_DEPTH} levels)"
_MAX_DIGITS = sys.get_int_max_str_digits() or 4300  # 0: no limit in this interpreter


class JSONError(ValueError):
    """The body is not valid JSON, or is JSON this service refuses; ``str()`` says why.
    A syntax error also has its ``column`` (1-based, in its line) and its ``reason``."""

    column: int | None = None
    reason: str = ""


def _no_constant(name: str) -> NoReturn:
    raise JSONError(f"invalid JSON: {name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise JSONError("invalid JSON: a number is beyond the range of a double")
    return value


_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite)


def loads(body: bytes) -> Any:
    if body.translate(_DIGITS_AS_ZERO).find(_LONG_RUN) < 0:
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            value = _standard(body)
    else:
        value = _standard(body)
    # A document with fewer brackets than the limit cannot be nested deeper: two C
    # counts over the body instead of a walk over the value, for every usual body.
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH:
        _check_depth(value)
    return value


def _standard(body: bytes) -> Any:
    """The standard library's reading of ``body``, every refusal a :class:`JSONError`."""
    try:
        text = body.decode("utf-8")  # json.loads(bytes) would also take UTF-16 and UTF-32
    except UnicodeDecodeError as err:
        raise JSONError(f"the body is not UTF-8 text (byte {err.start})") from None
    if text.startswith("\ufeff"):
        raise JSONError("invalid JSON: the body starts with a byte-order mark")
    try:
        return _DECODER.decode(text)
    except RecursionError:
        raise JSONError(_TOO_DEEP) from None
    except json.JSONDecodeError as err:
        reason = err.msg.removesuffix(" at")  # "Invalid control character at": where follows
        error = JSONError(f"invalid JSON at line {err.lineno}, column {err.colno}: {reason}")
        error.column, error.reason = err.colno, reason
        raise error from None
    except JSONError:
        raise
    except ValueError:
        # int() refusing a digit run over its limit: the only other ValueError json raises
        raise JSONError(f"invalid JSON: an integer has more than {_MAX_DIGITS} digits") from None


def _check_depth(value: Any) -> None:
    """Raise :class:`JSONError` when ``value`` nests more than :data:`MAX_DEPTH` levels.

    Level by level rather than recursively: the check must not need the stack it
    protects. ``[]`` is one level, ``[[]]`` two.
    """
    level: list[Any] = [value] if isinstance(value, _CONTAINERS) else []
    depth = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            raise JSONError(_TOO_DEEP)
        below: list[Any] = []
        for item in level:
            for child in item.values() if isinstance(item, dict) else item:
                if isinstance(child, _CONTAINERS):
                    below.append(child)
        level = below


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), default=str)
        return text.encode("ascii")
