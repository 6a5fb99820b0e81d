"""The decision log: one JSON line per decision, to stdout or a file.

Each line has the decision id, time, platform, event, actor id, action, deciding
rule, modifying rules, shadow results, rule failures, policy revision, latency and
the degraded flag. Content (the payload's data, deny and shadow messages, which may
quote the user's text) is left out unless ``log_content`` is set.

Inside the service (a running event loop), lines written while handling requests are
collected and written out together once per turn of the loop, right after the
requests of that turn were answered: one system call for all the decisions of a
busy moment instead of one each, and no line waits longer than that turn. Outside an
event loop every line is written at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from typing import IO, Any

import orjson

from receiver.decision import Decision
from receiver.payload import Event

log = logging.getLogger("receiver.decisionlog")

_ACTOR_ID = (str, int)  # a tuple: ``str | int`` would build a union on every record


def _milliseconds(value: float) -> float:
    """A non-negative ``value`` to three decimals, as ``round(value, 3)`` but without its
    decimal formatting (which costs as much as the rest of a record): ``k / 1000`` prints
    as the shortest decimal that reads back as that float, which is ``k``'s."""
    return int(value * 1000 + 0.5) / 1000


class DecisionLog:
    def __init__(
        self, stream: IO[bytes], log_content: bool = False, *, owned: bool = False
    ) -> None:
        self._stream = stream
        self._owned = owned  # opened for this log (a file): close() closes it
        self._lock = threading.Lock()
        self._pending: list[bytes] = []  # lines not yet written (see the module's docstring)
        self.log_content = log_content

    def record(
        self,
        *,
        decision_id: str,
        platform: str,
        event: Event,
        decision: Decision,
        revision: str,
        latency: float,
        degraded_reason: str | None = None,
    ) -> dict[str, Any]:
        actor = event.actor.get("userId")
        entry: dict[str, Any] = {
            "decision_id": decision_id,
            "time": _milliseconds(time.time()),
            "platform": platform,
            "event": event.name,
            "actor": actor if isinstance(actor, _ACTOR_ID) else None,
            "action": decision.action,
            "rule": decision.rule,
            "modified_by": decision.modified_by,
            "shadow": [{"rule": s.rule, "action": s.action} for s in decision.shadow]
                      if decision.shadow else [],
            "errors": [{"rule": e.rule, "location": e.location, "error": e.message}
                       for e in decision.errors] if decision.errors else [],
            "revision": revision,
            "latency_ms": _milliseconds(latency * 1000),
            "degraded": decision.degraded,
        }  # fmt: skip
        if degraded_reason:
            entry["degraded_reason"] = degraded_reason
        if self.log_content:
            entry["message"] = decision.message
            entry["data"] = event.data
            entry["shadow"] = [
                {"rule": s.rule, "action": s.action, "message": s.message, "changes": s.changes}
                for s in decision.shadow
            ]
        return entry

    def write(self, entry: dict[str, Any]) -> None:
        try:
            line = orjson.dumps(entry, default=str, option=orjson.OPT_APPEND_NEWLINE)
        except (TypeError, orjson.JSONEncodeError):
            line = json.dumps(entry, default=str).encode("ascii") + b"\n"
        with self._lock:
            self._pending.append(line)
            if len(self._pending) > 1:
                return  # a flush is already scheduled
        try:
            asyncio.get_running_loop().call_soon(self.flush)
        except RuntimeError:  # no event loop: write now
            self.flush()

    def flush(self) -> None:
        with self._lock:
            if not self._pending:
                return
            lines = b"".join(self._pending)
            self._pending.clear()
            try:
                self._stream.write(lines)
                self._stream.flush()
            except (OSError, ValueError):  # a full disk, a closed pipe: lose these lines only
                log.exception("could not write %d decision log line(s)", lines.count(b"\n"))

    def close(self) -> None:
        self.flush()
        with self._lock:
            self._stream.flush()
            if self._owned:
                self._stream.close()
