"""The service's log output (receiver/observe/logqueue.py): a bounded queue that drops, never waits.

A full queue drops the record and counts it; the sink writes whole lines without
holding its handler's lock (so ``logging.shutdown`` cannot hang on a stalled stderr);
the listener's stop writes out what is queued, and gives up after a bounded wait when
the sink takes nothing; ``install`` routes the root logger to stderr through all this.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from receiver import cli
from receiver.http.app import create_app
from receiver.http.config import ServiceConfig
from receiver.http.settings import SettingsError, build
from receiver.observe import logqueue
from receiver.observe.logqueue import BoundedQueueListener, DroppingQueueHandler, StreamSink

WAIT = 5.0


class StalledStream(io.BytesIO):
    """Writes block until ``release`` is set (stderr piped to a reader that stopped)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Event()

    def write(self, data: Any) -> int:
        self.entered.set()
        if not self.release.wait(WAIT * 4):
            raise AssertionError("the test never released the sink")
        return super().write(data)


def record(message: str, level: int = logging.WARNING) -> logging.LogRecord:
    return logging.LogRecord("receiver.test", level, __file__, 1, message, None, None)


def sink_on(stream: io.BytesIO) -> StreamSink:
    sink = StreamSink(stream)
    sink.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    return sink


def test_a_full_queue_drops_and_counts_instead_of_raising_or_waiting() -> None:
    records: queue.Queue[logging.LogRecord | None] = queue.Queue(2)
    handler = DroppingQueueHandler(records)
    started = time.monotonic()
    for n in range(5):
        handler.handle(record(f"refused {n}"))
    assert time.monotonic() - started < 1.0
    assert records.qsize() == 2 and handler.dropped == 3
    counted: list[int] = []
    handler.report_drops(counted.append)
    assert counted == [3]  # the drops so far, then each new one
    handler.handle(record("one more"))
    assert counted == [3, 1] and handler.dropped == 4


def test_records_are_formatted_where_they_are_logged() -> None:
    records: queue.Queue[logging.LogRecord | None] = queue.Queue(2)
    handler = DroppingQueueHandler(records)
    handler.handle(logging.LogRecord("r", logging.INFO, __file__, 1, "%d rules", (12,), None))
    queued = records.get_nowait()
    assert queued is not None and queued.getMessage() == "12 rules" and queued.args is None


def test_the_sink_writes_whole_lines_in_one_call_without_holding_its_lock() -> None:
    stream = StalledStream()
    sink = sink_on(stream)
    sink.handle(record("slow"))
    sink.handle(record("slower"))
    writer = threading.Thread(target=sink.write_out, daemon=True)
    writer.start()
    assert stream.entered.wait(WAIT)  # blocked in the write
    # What logging.shutdown() does to every handler at exit: it must not wait for the write.
    taken = sink.lock is not None and sink.lock.acquire(timeout=1.0)
    assert taken
    sink.flush()  # writes nothing: the listener's thread does the writing
    sink.release()
    stream.release.set()
    writer.join(WAIT)
    assert stream.getvalue() == b"WARNING slow\nWARNING slower\n"


def test_a_closed_stderr_loses_the_records_without_killing_the_listener() -> None:
    # pytest closes the capture a test's logging wrote to; a closed stderr or pipe is alike
    stream = io.BytesIO()
    sink = sink_on(stream)
    stream.close()
    sink.handle(record("into the void"))
    sink.write_out()  # no ValueError out of the listener's thread
    sink.handle(record("again"))
    sink.write_out()


def test_the_listener_writes_the_records_of_a_busy_moment_in_one_call() -> None:
    class Counting(io.BytesIO):
        writes = 0

        def write(self, data: Any) -> int:
            self.writes += 1
            return super().write(data)

    stream = Counting()
    records: queue.Queue[logging.LogRecord | None] = queue.Queue(100)
    listener = BoundedQueueListener(records, sink_on(stream), linger=0.2)
    handler = DroppingQueueHandler(records)
    listener.start()
    for n in range(20):  # within the listener's linger after the first
        handler.handle(record(f"line {n}"))
    deadline = time.monotonic() + WAIT
    while stream.writes == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stream.writes == 1
    assert stream.getvalue().decode().splitlines() == [f"WARNING line {n}" for n in range(20)]
    listener.stop()


def test_stop_writes_out_everything_queued() -> None:
    stream = io.BytesIO()
    records: queue.Queue[logging.LogRecord | None] = queue.Queue(100)
    listener = BoundedQueueListener(records, sink_on(stream))
    handler = DroppingQueueHandler(records)
    listener.start()
    for n in range(50):
        handler.handle(record(f"line {n}"))
    listener.stop()
    assert stream.getvalue().decode().splitlines() == [f"WARNING line {n}" for n in range(50)]


def test_stop_gives_up_after_a_bounded_wait_on_a_stalled_sink() -> None:
    stream = StalledStream()
    records: queue.Queue[logging.LogRecord | None] = queue.Queue(3)
    listener = BoundedQueueListener(records, sink_on(stream))
    handler = DroppingQueueHandler(records)
    listener.start()
    handler.handle(record("held"))
    assert stream.entered.wait(WAIT)
    for n in range(10):
        handler.handle(record(f"line {n}"))
    assert handler.dropped == 7  # three queued behind the held one
    started = time.monotonic()
    listener.stop(timeout=0.2)  # the queue is full: not even the stop signal fits
    assert 0.15 < time.monotonic() - started < 2.0
    stream.release.set()


@pytest.fixture
def installed() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    yield
    for handler, listener in logqueue._installed:
        root.removeHandler(handler)
        listener.stop()
    logqueue._installed.clear()
    root.setLevel(level)


def test_install_sends_the_root_loggers_records_to_stderr(
    installed: None, capfd: pytest.CaptureFixture[str]
) -> None:
    logqueue.install("info", 100)
    logqueue.install("warning", 100)  # again: replaces the first, does not add a second
    logging.getLogger("receiver.test").info("not at this level")
    logging.getLogger("receiver.test").warning("refused a request: %s", "bad signature")
    [(_handler, listener)] = logqueue._installed
    listener.stop()
    err = capfd.readouterr().err
    assert err.count("refused a request") == 1
    assert " WARNING receiver.test[" in err
    assert err.endswith("]: refused a request: bad signature\n")
    assert "not at this level" not in err


def test_report_drops_reaches_the_installed_handler(installed: None) -> None:
    handler = logqueue.install("info", 100)
    counted: list[int] = []
    logqueue.report_drops(counted.append)
    handler.dropped = 2  # as if two records had been dropped before the app existed
    logqueue.report_drops(counted.append)
    assert counted == [2]


def test_a_queue_without_room_is_refused(installed: None) -> None:
    with pytest.raises(ValueError, match="room for a record"):
        logqueue.install("info", 0)


# -- the --log-queue setting (receiver/http/settings.py, receiver/cli.py) ---------------


def test_the_log_queue_defaults_to_ten_thousand_lines_and_the_flag_sets_it(tmp_path: Path) -> None:
    assert build({}).log_queue == 10_000
    args = cli._parser().parse_args(["serve", "--log-queue", "500"])
    assert build({k: v for k, v in vars(args).items() if k != "command"}).log_queue == 500
    config_file = tmp_path / "receiver.yaml"
    config_file.write_text("log_queue: 50\n", encoding="utf-8")
    assert build({"config": config_file}).log_queue == 50
    assert build({"config": config_file, "log_queue": 70}).log_queue == 70  # the flag wins


@pytest.mark.parametrize(
    ("text", "message"),
    [("log_queue: 0", "log-queue must be positive"), ("log_queue: lots", "must be a whole")],
)
def test_a_log_queue_without_room_or_a_number_is_an_error(
    tmp_path: Path, text: str, message: str
) -> None:
    config_file = tmp_path / "receiver.yaml"
    config_file.write_text(text + "\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=message):
        build({"config": config_file})


def test_the_service_queues_at_most_log_queue_decision_log_lines(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "chat.yaml").write_text(
        "policy: chat\nrules:\n  - id: r\n    events: message.shouldCreate\n"
        "    when: text contains 'x'\n    action: deny\n"
    )
    fifo = tmp_path / "decisions.fifo"  # a pipe nobody reads: the stalled sink
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        app = create_app(ServiceConfig(policies=policies, decision_log=fifo, log_queue=3))
        log = app.state.service.decision_log
        log.write({"pad": "x" * (1 << 20)})  # more than the pipe holds: the writer blocks
        drained = bytearray()
        deadline = time.monotonic() + WAIT
        while not drained and time.monotonic() < deadline:  # the writer has taken it
            with contextlib.suppress(BlockingIOError):
                drained += os.read(reader, 1)
        for n in range(10):
            log.write({"n": n})
        assert log.dropped == 7  # three queued behind the blocked write
        assert "receiver_decision_log_dropped_total 7.0" in app.state.metrics.render().decode()
        deadline = time.monotonic() + WAIT
        while not drained.endswith(b'{"n":2}\n') and time.monotonic() < deadline:
            with contextlib.suppress(BlockingIOError):
                drained += os.read(reader, 1 << 16)
        assert drained.endswith(b'{"n":0}\n{"n":1}\n{"n":2}\n')
        assert log.close()
    finally:
        os.close(reader)
