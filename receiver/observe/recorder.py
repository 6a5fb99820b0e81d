"""``receiver serve --record DIR``: the records of decided events, written without ever
holding up an answer.

The edge (a sink). Consumes what the service knew when it decided one event (the event,
its ``now``, the user source's answer, the decision, the revision, the fail-safe reason);
produces record lines (:func:`~receiver.observe.records.record_line`, the format
``receiver replay`` reads) in files rotated by size (``receiver.observe.rotating``).

Off unless ``--record`` is given. Events are sampled by actor (``--record-sample``,
``receiver.observe.sampling``). A record is built on the request path and queued; the
decision log's queue and writer thread (``receiver.observe.decisionlog``, labelled
``record``) write it out: a full queue or a failing disk drops records and counts them
(``receiver_records_total{outcome="dropped"}``), logged at most once in ten seconds,
never waited for; :meth:`Recorder.close` (the service's shutdown, SIGTERM included)
writes out what is queued.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from receiver.observe.decisionlog import QUEUE_LINES, DecisionLog
from receiver.observe.records import record_line
from receiver.observe.rotating import RotatingFiles
from receiver.observe.sampling import ActorSample
from receiver.runtime.decision import Decision
from receiver.runtime.payload import Event

DEFAULT_MAX_BYTES: Final = 256 * 1024 * 1024  # --record-max-bytes: one file's size
DEFAULT_KEEP: Final = 4  # --record-keep: closed files kept per writer beside the open one

Count = Callable[[int], None]


@dataclass(frozen=True)
class RecordSettings:
    """``--record DIR``, ``--record-sample``, ``--record-max-bytes``, ``--record-keep``."""

    path: Path
    sample: float = 1.0  # the share of actors recorded, 0 < sample <= 1
    max_bytes: int = DEFAULT_MAX_BYTES
    keep: int = DEFAULT_KEEP


class Recorder:
    """Records decided events into one writer's files (one per process)."""

    def __init__(
        self,
        settings: RecordSettings,
        *,
        capacity: int = QUEUE_LINES,
        on_written: Count | None = None,
        on_dropped: Count | None = None,
        on_unsampled: Count | None = None,
        close_timeout: float | None = None,
    ) -> None:
        self.settings = settings
        self.files = RotatingFiles(
            settings.path, settings.max_bytes, settings.keep, on_written=on_written
        )
        extra: dict[str, Any] = {} if close_timeout is None else {"close_timeout": close_timeout}
        self._queue = DecisionLog(
            self.files, owned=True, capacity=capacity, on_drop=on_dropped, label="record",
            **extra,
        )  # fmt: skip
        self._sample = ActorSample(settings.sample)
        self._on_unsampled = on_unsampled

    @property
    def dropped(self) -> int:
        """Records not written: the queue was full, or the disk failed."""
        return self._queue.dropped

    def record(
        self,
        *,
        decision_id: str,
        now: float,
        platform: str,
        event: Event,
        user_answer: Any,
        user_asked: bool,
        decision: Decision,
        revision: str,
        degraded_reason: str | None = None,
        counters: str | None = None,
    ) -> bool:
        """Queue the record of one decision when its actor is sampled; whether it was."""
        if not self._sample(event.actor):
            if self._on_unsampled is not None:
                self._on_unsampled(1)
            return False
        self._queue.write_line(
            record_line(
                decision_id=decision_id, now=now, platform=platform, event=event,
                user_answer=user_answer, user_asked=user_asked, decision=decision,
                revision=revision, degraded_reason=degraded_reason, counters=counters,
                sample=self._sample.rate,
            )
        )  # fmt: skip
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every record queued so far is written; whether it was."""
        return self._queue.flush(timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Write out what is queued, then close the file and free the writer number."""
        return self._queue.close(timeout)
