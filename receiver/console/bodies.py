"""Reading a console API request: its JSON body, within a size limit.

Stage: the edge (the console). Consumes a Starlette request; produces the parsed JSON
value, or an :class:`ApiError` saying what was wrong (413 past the limit, 400 for a
body that is not JSON). ``ApiError`` is also what every API module raises for a
request it cannot answer; ``app.py`` turns it into a JSON answer with its status.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from starlette.requests import Request

from receiver.errors import ReceiverError

MAX_BODY_BYTES = 2 * 1024 * 1024  # the policy set and a payload; the shipped set is ~60 KiB


class ApiError(ReceiverError):
    """A request the console API cannot answer: its HTTP status and what to do."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.message, **self.extra}


def too_large() -> ApiError:
    return ApiError(
        413, f"the request body is larger than {MAX_BODY_BYTES:,} bytes, the console's limit"
    )


async def read_json(request: Request) -> Any:
    """The request's JSON body; ApiError 413 past :data:`MAX_BODY_BYTES`, 400 when not JSON."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large()
        chunks.append(chunk)
    return parse_json(b"".join(chunks))


def _not_json(constant: str) -> Any:
    raise ApiError(400, f"the request body is not JSON: {constant} is not a JSON number")


def parse_json(body: bytes) -> Any:
    """``body`` as JSON; ApiError 400 with where it went wrong."""
    if not body.strip():
        raise ApiError(400, "the request body is empty: send a JSON object")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "the request body is not UTF-8 text") from None
    try:
        return json.loads(text, parse_constant=_not_json)
    except json.JSONDecodeError as err:
        raise ApiError(
            400, f"the request body is not JSON: {err.msg} at line {err.lineno} column {err.colno}"
        ) from None
    except RecursionError:
        raise ApiError(400, "the request body is nested too deeply") from None
    except ValueError:  # an integer with more digits than int() converts
        limit = sys.get_int_max_str_digits()
        raise ApiError(
            400, f"the request body has an integer of more than {limit} digits"
        ) from None
