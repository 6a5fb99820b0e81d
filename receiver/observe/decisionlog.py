"""The decision log: one JSON line per decision, to stdout or a file (edge: the sink).

Each line has the decision id, time, platform, event, actor id, action, deciding
rule, modifying rules, shadow results, rule failures, policy revision, latency, the
degraded flag and, when a rollout rule matched, which way each went (``rollout``); a
deny that set a status or reason code (brainCloud) has them too (``status``,
``reason_code``), since they are part of the answer.
Content (the payload's data, deny and shadow messages, which may quote the user's
text) is left out unless ``log_content`` is set.

A sink never holds up an answer. :meth:`DecisionLog.write` encodes the line and
appends it to a bounded queue (``--log-queue`` lines, and at most
:data:`QUEUE_BYTES` bytes), waking the writer thread only when it sleeps; the writer (one
per log, so one per process) lets lines gather for :data:`LINGER_SECONDS` and writes
everything queued in one call. When the queue is
full (stdout piped to a reader that stopped reading, a stalled disk), lines are
dropped and counted (``dropped``, and the ``on_drop`` callback, which the service
points at ``receiver_decision_log_dropped_total``), never waited for. :meth:`close`
writes out everything queued, waiting at most ``close_timeout`` seconds for a stalled
sink; the writer is a daemon thread, so a sink that never takes the lines cannot keep
the process from exiting either.

The queue and writer serve ``serve --record`` too (``receiver.observe.recorder``): a
:class:`DecisionLog` built with ``label="record"`` writes whatever entries it is given to
any stream, there a set of files rotated by size (``receiver.observe.rotating``); its
log lines then name the records instead of the decision log.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any, Protocol

import orjson

from receiver.runtime.decision import Decision
from receiver.runtime.payload import Event

log = logging.getLogger("receiver.observe.decisionlog")

_ACTOR_ID = (str, int)  # a tuple: ``str | int`` would build a union on every record


def _milliseconds(value: float) -> float:
    """A non-negative ``value`` to three decimals, as ``round(value, 3)`` but without its
    decimal formatting (which costs as much as the rest of a record): ``k / 1000`` prints
    as the shortest decimal that reads back as that float, which is ``k``'s."""
    return int(value * 1000 + 0.5) / 1000


QUEUE_LINES = 10_000  # default of --log-queue: lines waiting for the sink
QUEUE_BYTES = 64 * 1024 * 1024  # whatever the line count (--log-content lines hold payloads)
CLOSE_SECONDS = 5.0  # the longest close() waits for a stalled sink
WARN_SECONDS = 10.0  # at most one "dropping lines" warning (and one write error) this often
# After waking and after each write the writer sleeps this long, so that the lines of a
# busy moment go out in one write and the writer takes the GIL a few hundred times a
# second at most, instead of once per line (which cost 15 % of the CPU per request).
LINGER_SECONDS = 0.005
RETRY_SECONDS = 0.01  # a non-blocking sink that is full: try again this much later


class ByteSink(Protocol):
    """What the writer thread writes to: a binary file or pipe, or the record files."""

    def write(self, data: memoryview, /) -> Any: ...
    def flush(self) -> Any: ...
    def close(self) -> Any: ...


def write_all(stream: ByteSink, data: bytes) -> None:
    """Write all of ``data``: a raw stream (an unbuffered file, a pipe) may take part of
    it, and one in non-blocking mode (a parent may have set it) may take none for now."""
    raw: Any = stream  # typeshed says write() returns int, and compiled code would check it
    view = memoryview(data)
    while view:
        count = raw.write(view)
        if count is None:  # non-blocking and full: the writer thread may wait
            time.sleep(RETRY_SECONDS)
        else:
            view = view[count:]


def stdout_stream() -> tuple[IO[bytes], bool]:
    """Standard output for the writer thread, and whether :meth:`DecisionLog.close` should
    close it: an unbuffered file of its own on the same descriptor (closing it leaves the
    descriptor open). Not ``sys.stdout.buffer``: a writer blocked on a stalled pipe would
    hold that buffer's lock, and the interpreter's exit would wait for it forever."""
    try:
        return open(sys.stdout.fileno(), "wb", buffering=0, closefd=False), True
    except (AttributeError, OSError, ValueError):  # replaced by one without a descriptor
        return sys.stdout.buffer, False


def decision_entry(
    *,
    decision_id: str,
    platform: str,
    event: Event,
    decision: Decision,
    revision: str,
    latency: float,
    degraded_reason: str | None = None,
    log_content: bool = False,
    now: float | None = None,
) -> dict[str, Any]:
    """The decision log's line of one decision, as a dict (content only with
    ``log_content``); the console's feed keeps the same dict (``receiver.observe.feed``).
    ``now``: the instant the rules saw (epoch seconds; the clock when not given)."""
    actor = event.actor.get("userId")
    entry: dict[str, Any] = {
        "decision_id": decision_id,
        "time": _milliseconds(time.time() if now is None else now),
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
    if decision.rollouts:  # rollout rules that matched: which way each went
        entry["rollout"] = [r.to_json() for r in decision.rollouts]
    if decision.status is not None:  # a deny's own status and reason code are its answer
        entry["status"] = decision.status
    if decision.reason_code is not None:
        entry["reason_code"] = decision.reason_code
    if degraded_reason:
        entry["degraded_reason"] = degraded_reason
    if log_content:
        entry["message"] = decision.message
        entry["data"] = event.data
        entry["shadow"] = [
            {"rule": s.rule, "action": s.action, "message": s.message, "changes": s.changes}
            for s in decision.shadow
        ]
    return entry


class DecisionLog:
    def __init__(
        self,
        stream: ByteSink,
        log_content: bool = False,
        *,
        owned: bool = False,
        capacity: int = QUEUE_LINES,
        max_bytes: int = QUEUE_BYTES,
        on_drop: Callable[[int], None] | None = None,
        close_timeout: float = CLOSE_SECONDS,
        linger: float = LINGER_SECONDS,
        label: str = "decision log",
    ) -> None:
        if capacity < 1:
            raise ValueError(f"the {label} queue needs room for a line, got {capacity}")
        self._label = label  # what the log lines call these lines
        self._stream = stream
        self._owned = owned  # opened for this log (a file): close() closes it
        self._capacity = capacity
        self._max_bytes = max_bytes
        self._on_drop = on_drop
        self._close_timeout = close_timeout
        self._linger = linger
        self._lock = threading.Lock()
        self._idle_changed = threading.Condition(self._lock)  # flush() waits on it
        self._wake = threading.Event()  # set when lines arrive for a sleeping writer
        self._pending: list[bytes] = []  # lines not yet taken by the writer
        self._pending_bytes = 0
        self._writing = 0  # lines the writer has taken and not yet written
        self._idle = True  # the writer sleeps (or was never started)
        self._closing = False
        # Started by the first line. (Not "_thread": mypyc would name its C field __thread,
        # a C keyword.)
        self._writer: threading.Thread | None = None
        self._next_warning = 0.0  # of the request path's "dropping" warning
        self._next_error = 0.0  # of the writer's "could not write" error
        self.dropped = 0  # lines not written: the queue was full, or the sink failed
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
        now: float | None = None,
    ) -> dict[str, Any]:
        """The line of one decision (:func:`decision_entry`, with this log's content rule)."""
        return decision_entry(
            decision_id=decision_id, platform=platform, event=event, decision=decision,
            revision=revision, latency=latency, degraded_reason=degraded_reason,
            log_content=self.log_content, now=now,
        )  # fmt: skip

    def write(self, entry: dict[str, Any]) -> None:
        """Queue one line for the writer thread; never waits for the sink."""
        try:
            line = orjson.dumps(entry, default=str, option=orjson.OPT_APPEND_NEWLINE)
        except (TypeError, orjson.JSONEncodeError):
            line = json.dumps(entry, default=str).encode("ascii") + b"\n"
        self.write_line(line)

    def write_line(self, line: bytes) -> None:
        """Queue one line already encoded (ending in a newline); never waits for the sink."""
        size = len(line)
        with self._lock:
            if (
                len(self._pending) < self._capacity
                and self._pending_bytes + size <= self._max_bytes
                and not self._closing
            ):
                self._pending.append(line)
                self._pending_bytes += size
                if not self._idle:
                    return  # the writer is awake and will take it
                self._idle = False
                if self._writer is None:
                    self._writer = threading.Thread(
                        target=self._run,
                        name=f"receiver-{self._label.replace(' ', '-')}",
                        daemon=True,
                    )
                    self._writer.start()
                    return
                wake = True
            else:
                self.dropped += 1
                wake = False
        if wake:
            self._wake.set()
        else:
            self._dropped_lines(1)

    def _dropped_lines(self, count: int) -> None:
        if self._on_drop is not None:
            self._on_drop(count)
        now = time.monotonic()
        if now >= self._next_warning and not self._closing:
            self._next_warning = now + WARN_SECONDS
            with self._lock:
                waiting = len(self._pending) + self._writing
                dropped = self.dropped
            log.warning(
                "%s: the sink is not keeping up (%d line(s) waiting); %d line(s) "
                "dropped so far",
                self._label, waiting, dropped,
            )  # fmt: skip

    def _run(self) -> None:
        """The writer thread: write everything queued in one call, sleep when nothing is."""
        while True:
            with self._lock:
                batch = self._pending
                if not batch:
                    self._writing = 0
                    self._idle = True
                    self._idle_changed.notify_all()
                    if self._closing:
                        return
                    self._wake.clear()  # under the lock: a line queued later sets it again
                else:
                    self._pending = []
                    self._pending_bytes = 0
                    self._writing = len(batch)
            if batch:
                self._write_out(batch)
            else:
                self._wake.wait()
            if not self._closing:
                time.sleep(self._linger)  # let lines gather (see LINGER_SECONDS)

    def _write_out(self, batch: list[bytes]) -> None:
        try:
            write_all(self._stream, b"".join(batch))
            self._stream.flush()
        except Exception as err:  # a full disk, a closed pipe: lose these lines only
            with self._lock:
                self.dropped += len(batch)
                dropped = self.dropped
            if self._on_drop is not None:
                self._on_drop(len(batch))
            now = time.monotonic()
            if now >= self._next_error:  # a sink that stays broken: not an error a batch
                self._next_error = now + WARN_SECONDS
                log.error(
                    "could not write %d %s line(s): %s; %d line(s) dropped so far",
                    len(batch), self._label,
                    getattr(err, "strerror", None) or type(err).__name__, dropped,
                )  # fmt: skip

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every line queued so far is written (at most ``timeout`` seconds);
        whether it was."""
        with self._lock:
            return self._idle_changed.wait_for(lambda: self._idle and not self._pending, timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Write out everything queued, stop the writer and close an owned stream; waits at
        most ``timeout`` seconds (default ``close_timeout``) for a stalled sink, then
        gives up on what it holds. Whether everything was written."""
        with self._lock:
            self._closing = True  # lines written from now on are dropped and counted
            thread = self._writer
        if thread is not None:
            self._wake.set()
            thread.join(self._close_timeout if timeout is None else timeout)
            if thread.is_alive():
                with self._lock:
                    stuck = len(self._pending) + self._writing
                log.error(
                    "%s: the sink did not take the queued lines within %.1f s; "
                    "giving up on %d line(s)",
                    self._label, self._close_timeout if timeout is None else timeout, stuck,
                )  # fmt: skip
                return False
        try:
            if self._owned:
                self._stream.close()
            else:
                self._stream.flush()
        except (OSError, ValueError):
            pass
        return True
