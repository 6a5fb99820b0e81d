"""The service's log output (edge: the stderr sink), which never holds up an answer.

``receiver serve`` logs refused requests, rule failures and reloads. Written straight
to stderr from the event loop, a stderr piped to a reader that stopped reading would
stop every request at its first warning. Instead, :func:`install` puts a
:class:`DroppingQueueHandler` on the root logger: it formats the record where it was
logged (as :class:`logging.handlers.QueueHandler` does) and puts it on a bounded queue
without waiting; when the queue is full the record is dropped and counted
(``receiver_log_dropped_total``). A :class:`BoundedQueueListener` thread writes the
records to stderr, those of a busy moment in one write (as the decision log's writer
does). At exit it writes what is queued, waiting at most :data:`STOP_SECONDS` for a
stalled stderr, also when the process ends by SIGTERM (uvicorn re-raises it after
its graceful shutdown, which skips ``atexit``).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from logging.handlers import QueueHandler, QueueListener
from types import FrameType
from typing import IO

from receiver.observe.decisionlog import LINGER_SECONDS, QUEUE_LINES, write_all

FORMAT = "%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s"
STOP_SECONDS = 2.0  # the longest the exit waits for a stalled stderr

DropCallback = Callable[[int], None]


class DroppingQueueHandler(QueueHandler):
    """A :class:`QueueHandler` whose full queue drops the record and counts it (the
    standard one reports a full queue through ``handleError``, a traceback on stderr)."""

    def __init__(self, records: queue.Queue[logging.LogRecord | None]) -> None:
        super().__init__(records)
        self.dropped = 0
        self._on_drop: DropCallback | None = None
        self._count_lock = threading.Lock()

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            with self._count_lock:
                self.dropped += 1
                on_drop = self._on_drop
            if on_drop is not None:
                on_drop(1)

    def report_drops(self, on_drop: DropCallback) -> None:
        """Count drops with ``on_drop`` from now on, starting with those so far."""
        with self._count_lock:
            self._on_drop = on_drop
            earlier = self.dropped
        if earlier:
            on_drop(earlier)


class StreamSink(logging.Handler):
    """Collects formatted records for :meth:`write_out`, which writes them to a raw stream
    in one call. Only the listener thread uses it, and it never holds the handler's lock
    while it writes: ``logging.shutdown`` at exit takes every handler's lock (and calls
    ``flush``, which writes nothing here), and a write blocked on a stalled stderr would
    never give it back."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__()
        self.stream = stream
        self._lines: list[str] = []

    def handle(self, record: logging.LogRecord) -> bool:
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record) + "\n")
        except Exception:
            self.handleError(record)

    def write_out(self) -> None:
        if not self._lines:
            return
        data = "".join(self._lines).encode("utf-8", "backslashreplace")
        self._lines.clear()
        # stderr is gone (a closed pipe, a closed file): there is nowhere left to say so
        with contextlib.suppress(OSError, ValueError):
            write_all(self.stream, data)


class BoundedQueueListener(QueueListener):
    """A :class:`QueueListener` that writes the records of a busy moment in one write, and
    whose :meth:`stop` waits a bounded time (the standard one waits forever, and cannot
    even queue its stop signal while the queue is full)."""

    def __init__(
        self,
        records: queue.Queue[logging.LogRecord | None],
        sink: StreamSink,
        linger: float = LINGER_SECONDS,
    ) -> None:
        super().__init__(records, sink)
        self.records = records  # the same queue, with its type
        self.sink = sink
        self.linger = linger

    def dequeue(self, block: bool) -> logging.LogRecord | None:  # type: ignore[override]  # None: the stop signal
        try:
            return self.records.get_nowait()
        except queue.Empty:
            if not block:
                raise
        self.sink.write_out()  # the queue is empty: write what was handled, in one call
        record = self.records.get()
        time.sleep(self.linger)  # let the records of a busy moment gather behind this one
        return record

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        thread = self._thread
        if thread is None:
            return
        deadline = time.monotonic() + timeout
        try:
            self.queue.put(self._sentinel, timeout=timeout)  # type: ignore[attr-defined]  # the class's sentinel
        except queue.Full:
            return  # stalled: the thread is a daemon and dies with the process
        thread.join(max(0.0, deadline - time.monotonic()))
        if not thread.is_alive():
            self._thread = None
            self.sink.write_out()  # what came just before the stop signal


_installed: list[tuple[DroppingQueueHandler, BoundedQueueListener]] = []


def stderr_stream() -> IO[bytes]:
    """Standard error as an unbuffered file of its own (see ``decisionlog.stdout_stream``)."""
    try:
        return open(sys.stderr.fileno(), "wb", buffering=0, closefd=False)
    except (AttributeError, OSError, ValueError):  # replaced by one without a descriptor
        return sys.stderr.buffer


def install(level: str, capacity: int = QUEUE_LINES) -> DroppingQueueHandler:
    """Send the root logger's records through a queue of ``capacity`` records to stderr;
    replaces an earlier :func:`install` of this process."""
    if capacity < 1:
        raise ValueError(f"the log queue needs room for a record, got {capacity}")
    root = logging.getLogger()
    if _installed:
        old_handler, old_listener = _installed.pop()
        root.removeHandler(old_handler)
        old_listener.stop()
        atexit.unregister(old_listener.stop)
    records: queue.Queue[logging.LogRecord | None] = queue.Queue(capacity)
    handler = DroppingQueueHandler(records)
    sink = StreamSink(stderr_stream())
    sink.setFormatter(logging.Formatter(FORMAT))
    listener = BoundedQueueListener(records, sink)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # httpx logs a line per request at INFO (each user lookup, each bundle poll), with the
    # URL whole, credentials included: only with --log-level debug
    logging.getLogger("httpx").setLevel(
        logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
    )
    listener.start()
    atexit.register(listener.stop)  # before logging's own exit hook, which runs later
    main = threading.current_thread() is threading.main_thread()
    if main and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _write_out_then_die)
    _installed.append((handler, listener))
    return handler


def _write_out_then_die(signum: int, frame: FrameType | None) -> None:
    """SIGTERM: write out the queued records (boundedly), then die of the signal as before.
    uvicorn, once it has shut down on a SIGTERM, puts back the handler it found and raises
    the signal again, which skips ``atexit``: its last records would be lost."""
    for _handler, listener in _installed:
        listener.stop()
    signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)


def report_drops(on_drop: DropCallback) -> None:
    """Count the installed handler's drops with ``on_drop`` (the service's metric); nothing
    when logging was not installed (an app built in a test)."""
    for handler, _listener in _installed:
        handler.report_drops(on_drop)
