"""Times and durations of the policy language: parsing and printing them.

Stage 1 (the language itself), below the runtime values (:mod:`receiver.dsl.values`)
that print with it and the parser that reads duration literals with it. Consumes
text (ISO-8601 times, epoch numbers, duration literals such as ``1.5h``) or numbers
of seconds; produces epoch seconds, seconds, or their text. :func:`parse_duration`
is the one duration parser (duration literals in expressions and counter windows).

The patterns are ASCII, so a text that is not ASCII never matches; they run with
RE2 (linear time) like every pattern applied to request text.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import re2

__all__ = ["DURATION_UNITS", "format_duration", "format_time", "parse_duration", "parse_time"]


def _compile(pattern: str) -> Any:
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


def _fullmatch(regex: Any, text: str) -> bool:
    return text.isascii() and regex.fullmatch(text.encode("ascii")) is not None


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECONDS_THRESHOLD: Final = 1e11  # |epoch| >= this is in milliseconds (year 5138+)
_MAX_TIME_CHARS: Final = 64
_TIME_EXPECTED: Final = "expected an ISO-8601 time or epoch seconds/milliseconds"
_NUMBER_RE: Final = _compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _describe(value: object) -> str:
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return repr(shown)
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    return f"a {type(value).__name__}"


def _epoch_from_number(number: float, original: object) -> float:
    if not math.isfinite(number):
        raise ValueError(f"{_TIME_EXPECTED}, got {_describe(original)}")
    return number / 1000 if abs(number) >= _MILLISECONDS_THRESHOLD else number


def parse_time(value: object) -> float:
    """Epoch seconds for an ISO-8601 string or an epoch number.

    Strings are parsed with :meth:`datetime.fromisoformat` (a trailing ``Z`` is
    accepted; naive times and bare dates are UTC).  Numbers, and strings that look
    like numbers, are epoch seconds, or milliseconds when their magnitude is at least
    1e11.  Booleans and anything else raise :class:`ValueError`.
    """
    if isinstance(value, bool):
        raise ValueError(f"{_TIME_EXPECTED}, got {_describe(value)}")
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            raise ValueError(f"{_TIME_EXPECTED}, got a number out of range") from None
        return _epoch_from_number(number, value)
    if not isinstance(value, str):
        raise ValueError(f"{_TIME_EXPECTED}, got {_describe(value)}")

    text = value.strip()
    if not text or len(text) > _MAX_TIME_CHARS:
        raise ValueError(f"{_TIME_EXPECTED}, got {_describe(value)}")
    if _fullmatch(_NUMBER_RE, text):
        return _epoch_from_number(float(text), value)
    if text[-1] in "zZ":
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        raise ValueError(f"{_TIME_EXPECTED}, got {_describe(value)}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH).total_seconds()


def format_time(epoch: object) -> str:
    """ISO-8601 UTC for epoch seconds, e.g. ``2024-01-31T10:00:00Z``.

    Milliseconds are shown only when non-zero (``2024-01-31T10:00:00.250Z``); the value
    is rounded to the nearest millisecond.
    """
    if isinstance(epoch, bool) or not isinstance(epoch, int | float):
        raise ValueError(f"expected epoch seconds, got {_describe(epoch)}")
    if not math.isfinite(epoch):
        raise ValueError(f"expected a finite epoch, got {epoch!r}")
    whole = math.floor(epoch)
    millis = round((epoch - whole) * 1000)
    try:
        moment = _EPOCH + timedelta(seconds=whole, milliseconds=millis)
    except OverflowError:
        raise ValueError(f"epoch {epoch!r} is outside the supported range") from None
    text = moment.replace(tzinfo=None).isoformat(timespec="seconds")
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}"
    return text + "Z"


# ------------------------------------------------------------------------ duration

_FORMAT_UNITS: Final[tuple[tuple[str, int], ...]] = (
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
)
_DURATION_RE: Final = _compile(r"[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h|d|w)")
# The units of a duration literal (the grammar's DURATION token spells them too).
DURATION_UNITS: Final = ("ms", "s", "m", "h", "d", "w")
_UNIT_SECONDS: Final[dict[str, int]] = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}


def format_duration(seconds: object) -> str:
    """Compact form using the policy language's units, largest first.

    ``0.5`` -> ``500ms``, ``90`` -> ``1m30s``, ``90061`` -> ``1d1h1m1s``, ``0`` -> ``0s``;
    negative values get a ``-`` prefix.  Rounded to the nearest millisecond.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ValueError(f"expected a number of seconds, got {_describe(seconds)}")
    if not math.isfinite(seconds):
        raise ValueError(f"expected a finite number of seconds, got {seconds!r}")
    magnitude = abs(seconds)
    whole = math.floor(magnitude)  # exact int, even for huge floats
    remaining = whole * 1000 + round((magnitude - whole) * 1000)
    if remaining == 0:
        return "0s"
    parts = ["-"] if seconds < 0 else []
    for unit, size in _FORMAT_UNITS:
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def parse_duration(text: object) -> float:
    """Seconds for a duration literal: ``500ms``, ``30s``, ``5m``, ``2h``, ``7d``, ``2w``, ``1.5h``.

    The one duration parser: the grammar's duration literals and counter windows both
    come here. Surrounding whitespace is ignored; anything else, and a value too large
    for a float, raises :class:`ValueError`.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected a duration such as '30s' or '1.5h', got {_describe(text)}")
    literal = text.strip()
    if not _fullmatch(_DURATION_RE, literal):
        raise ValueError(f"expected a duration such as '30s' or '1.5h', got {_describe(text)}")
    if literal.endswith("ms"):  # divided: the float nearest to the exact value
        seconds = float(literal[:-2]) / 1000
    else:
        seconds = float(literal[:-1]) * _UNIT_SECONDS[literal[-1]]
    if not math.isfinite(seconds):
        raise ValueError(f"duration {_describe(text)} is too large")
    return seconds
