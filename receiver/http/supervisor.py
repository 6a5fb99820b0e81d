"""The pre-fork supervisor of ``receiver serve --workers N``: the edge, processes only.

Consumes a worker function and its arguments (pickled to each spawned worker; see
``Secrets.__reduce__`` for what cannot be pickled and is rebuilt in the worker);
produces N running workers until a stop signal. It forwards SIGHUP to every worker,
replaces a worker that dies, and on SIGTERM or SIGINT asks every worker to finish its
in-flight requests and waits for them (``graceful`` seconds, then kills).

A worker that exits less than ``crash_window`` seconds after it started has *crashed at
start*. It is started again after a back-off that doubles (0.5 s, 1 s, 2 s, ... up to
``backoff_max``); after ``crash_limit`` crashes at start in a row the supervisor stops
the other workers and gives up with :class:`WorkersFailing`, because what kills a
worker at once (a decision log it cannot open, a broken install, no memory) is not
mended by starting it again, and a supervisor that restarts forever hides the fault
from the process manager above it. A worker that ran longer (killed by the OOM killer
or an operator) is replaced at once and resets the count.

Workers start with SIGHUP blocked and then ignored until their own handler is
installed: a reload signal that races a worker's start is dropped (the worker reads
the current policies as it starts) instead of killing it.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

from receiver.errors import ReceiverError

log = logging.getLogger("receiver.http.supervisor")

CRASH_WINDOW = 10.0  # seconds: a worker that exits sooner after its start crashed at start
CRASH_LIMIT = 5  # crashes at start in a row before giving up
BACKOFF_FIRST = 0.5  # seconds before the first restart after a crash at start; then doubled
BACKOFF_MAX = 30.0
TICK = 0.1  # how often the supervisor looks at its workers


class WorkersFailing(ReceiverError):
    """Workers keep dying right after they start; the message says how often."""


def _run_worker(target: Callable[..., None], args: Sequence[Any]) -> None:
    """The worker process's entry: SIGHUP ignored (and unblocked) until the app handles it."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # drops a SIGHUP pending since the spawn
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})
    target(*args)


@dataclass
class _Slot:
    process: BaseProcess | None = None
    started: float = 0.0
    restart_at: float = 0.0


class Supervisor:
    def __init__(
        self,
        target: Callable[..., None],
        args: Sequence[Any],
        workers: int,
        *,
        graceful: float,
        on_exit: Callable[[int], None] | None = None,
        crash_window: float = CRASH_WINDOW,
        crash_limit: int = CRASH_LIMIT,
        backoff_max: float = BACKOFF_MAX,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self._target = target
        self._args = tuple(args)
        self._slots = [_Slot() for _ in range(workers)]
        self._graceful = graceful
        self._on_exit = on_exit
        self._crash_window = crash_window
        self._crash_limit = crash_limit
        self._backoff_max = backoff_max
        self._context = multiprocessing.get_context("spawn")
        self._stopping = False
        self._crashes = 0  # crashes at start in a row

    @property
    def pids(self) -> list[int]:
        """The workers' process ids (those started and not yet seen dead)."""
        return [s.process.pid for s in self._slots if s.process and s.process.pid is not None]

    def stop(self) -> None:
        """Ask every worker to finish; :meth:`run` returns once they have."""
        self._stopping = True
        self._signal_all(signal.SIGTERM)

    def run(self) -> None:
        """Start the workers and keep them running until :meth:`stop` or a stop signal."""
        handlers = {
            signal.SIGTERM: signal.signal(signal.SIGTERM, self._on_stop),
            signal.SIGINT: signal.signal(signal.SIGINT, self._on_stop),
            signal.SIGHUP: signal.signal(signal.SIGHUP, self._on_hup),
        }
        try:
            now = time.monotonic()
            for slot in self._slots:
                self._start(slot, now)
            while not self._stopping:
                time.sleep(TICK)
                self._tend(time.monotonic())
        finally:
            self._stopping = True
            self._signal_all(signal.SIGTERM)
            self._join_all()
            for signum, handler in handlers.items():
                signal.signal(signum, handler)

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop()

    def _on_hup(self, signum: int, frame: FrameType | None) -> None:
        log.info("SIGHUP: asking %d workers to reload their policies", len(self.pids))
        self._signal_all(signal.SIGHUP)

    def _signal_all(self, signum: int) -> None:
        for slot in self._slots:
            process = slot.process
            if process is not None and process.pid is not None and process.is_alive():
                with contextlib.suppress(ProcessLookupError):  # died just now: _tend sees it
                    os.kill(process.pid, signum)

    def _start(self, slot: _Slot, now: float) -> None:
        process = self._context.Process(
            target=_run_worker, args=(self._target, self._args), daemon=False
        )
        # Blocked here, the signal stays blocked in the child until _run_worker ignores it.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})
        slot.process = process
        slot.started = now

    def _tend(self, now: float) -> None:
        for slot in self._slots:
            process = slot.process
            if process is not None and not process.is_alive():
                self._buried(slot, process, now)
            if self._stopping:
                return
            if slot.process is None and now >= slot.restart_at:
                self._start(slot, now)

    def _buried(self, slot: _Slot, process: BaseProcess, now: float) -> None:
        slot.process = None
        pid, code = process.pid, process.exitcode
        process.close()
        if pid is not None and self._on_exit is not None:
            self._on_exit(pid)
        lived = now - slot.started
        if lived >= self._crash_window:
            self._crashes = 0
            slot.restart_at = now
            log.error("worker %s exited with code %s; starting a new one", pid, code)
            return
        self._crashes += 1
        if self._crashes >= self._crash_limit:
            log.error(
                "worker %s exited with code %s %.1f s after it started: %d workers in a row "
                "died within %.0f s of starting; giving up",
                pid, code, lived, self._crashes, self._crash_window,
            )  # fmt: skip
            self._stopping = True
            raise WorkersFailing(
                f"the workers keep exiting right after they start ({self._crashes} in a row "
                f"within {self._crash_window:.0f} s, the last with code {code}); their "
                "errors are in the log above"
            )
        delay = min(self._backoff_max, BACKOFF_FIRST * 2 ** (self._crashes - 1))
        slot.restart_at = now + delay
        log.error(
            "worker %s exited with code %s %.1f s after it started (%d of %d crashes at start "
            "in a row); starting a new one in %.1f s",
            pid, code, lived, self._crashes, self._crash_limit, delay,
        )  # fmt: skip

    def _join_all(self) -> None:
        deadline = time.monotonic() + self._graceful
        for slot in self._slots:
            process = slot.process
            if process is None:
                continue
            process.join(max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                log.error("worker %s did not stop in %.0f s; killing it", process.pid,
                          self._graceful)  # fmt: skip
                process.kill()
                process.join(5)
            if process.pid is not None and self._on_exit is not None:
                self._on_exit(process.pid)
            slot.process = None
