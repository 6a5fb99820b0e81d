"""Reading a rule's ``rollout:`` percentage and ``expires:`` instant.

Stage 1 (load). Consumes the YAML scalar of either field (as written, and as YAML types
it: an unquoted ``2027-01-31T00:00:00Z`` is a timestamp to YAML, an unquoted ``10`` a
number); produces the percentage (a float from 0 to 100) or the instant (epoch
seconds), or a message saying what to write instead. The loader
(:mod:`receiver.load.loader`) reports those messages at the value's position.

``rollout``: ``10%``, ``0.5%``, ``100%`` (a string ending in ``%``) or a plain number
from 0 to 100, read as a percent. ``expires``: an ISO-8601 date-time with a zone
(``2027-01-31T00:00:00Z``, ``2027-01-31T09:00:00+09:00``) or a date (``2027-01-31``,
midnight UTC). A date-time without a zone is refused: which midnight was meant depends
on where the writer sat, and a rule that switches off hours early or late is the
surprise this field exists to avoid.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

_PERCENT_EXAMPLE = "write a percentage such as 10%, 0.5% or 100%"
_INSTANT_EXAMPLE = "write a date-time with its zone such as 2027-01-31T00:00:00Z, or a date"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_percent(value: object) -> float:
    """The percentage of a ``rollout:`` value; ValueError with what to write instead."""
    if isinstance(value, bool):
        raise ValueError(f"'rollout' is a percentage, not {str(value).lower()}; {_PERCENT_EXAMPLE}")
    if isinstance(value, int | float):
        number = float(value)
        shown = f"{value}"
    elif isinstance(value, str):
        text = value.strip()
        if not text.endswith("%"):
            raise ValueError(
                f"'rollout' must end with % (it is a percentage of keys), not '{value}'; "
                + _PERCENT_EXAMPLE
            )
        shown = text
        try:
            number = float(text[:-1].strip())
        except ValueError:
            raise ValueError(
                f"'rollout' must be a number followed by %, not '{value}'; {_PERCENT_EXAMPLE}"
            ) from None
    else:
        raise ValueError(f"'rollout' must be a percentage; {_PERCENT_EXAMPLE}")
    if not math.isfinite(number) or not 0 <= number <= 100:
        raise ValueError(f"'rollout' must lie between 0% and 100%, not {shown}; {_PERCENT_EXAMPLE}")
    return number


def parse_instant(text: str, typed: object) -> float:
    """Epoch seconds of an ``expires:`` value: ``text`` as written, ``typed`` as YAML typed
    it (a ``datetime`` or ``date`` for unquoted timestamps); ValueError saying what to do."""
    if isinstance(typed, datetime):
        moment = typed
    elif isinstance(typed, date):
        moment = datetime(typed.year, typed.month, typed.day, tzinfo=UTC)
    else:
        written = text.strip()
        if not written or len(written) > 64:
            raise ValueError(f"'expires' must be an instant; {_INSTANT_EXAMPLE}")
        iso = written[:-1] + "+00:00" if written[-1] in "zZ" else written
        try:
            if len(iso) == 10:  # a date alone: midnight UTC
                day = date.fromisoformat(iso)
                moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            else:
                moment = datetime.fromisoformat(iso)
        except ValueError:
            raise ValueError(
                f"'expires' is not a date or date-time: '{written}'; {_INSTANT_EXAMPLE}"
            ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"'expires' needs a zone: add Z (UTC) or an offset such as +09:00 to "
            f"'{text.strip()}', so that every replica switches the rule off at the same instant"
        )
    return (moment - _EPOCH).total_seconds()
