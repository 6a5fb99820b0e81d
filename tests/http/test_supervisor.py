"""The pre-fork supervisor (receiver/http/supervisor.py), with real spawned processes.

Workers are small functions (tests/supervisor_targets.py) that leave files behind,
so each test sees which workers started, which handled a SIGHUP and which died. The
crash-loop limit, the back-off, replacing a killed worker, forwarding SIGHUP (also
while workers are still starting) and stopping them all are each checked. Every wait
is bounded.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import supervisor_targets as targets
from serverproc import wait_for

from receiver.http.supervisor import Supervisor, WorkersFailing

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals needed")

WAIT = 30.0


def pids(folder: Path, suffix: str) -> set[int]:
    return {int(p.name.split(".")[0]) for p in folder.glob(f"*.{suffix}")}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def drive(supervisor: Supervisor, body: Callable[[], None]) -> None:
    """Run ``supervisor`` here (signal handlers need the main thread) while ``body`` runs
    in a thread; stop the supervisor when ``body`` ends, and re-raise what it raised."""
    failure: list[BaseException] = []

    def run_body() -> None:
        try:
            body()
        except BaseException as err:  # re-raised in the main thread below
            failure.append(err)
        finally:
            supervisor.stop()

    thread = threading.Thread(target=run_body)
    thread.start()
    try:
        supervisor.run()
    finally:
        supervisor.stop()
        thread.join(WAIT)
    if failure:
        raise failure[0]


def test_workers_that_die_at_start_are_retried_with_back_off_then_given_up(
    tmp_path: Path,
) -> None:
    exited: list[int] = []
    supervisor = Supervisor(
        targets.exit_at_once, (str(tmp_path), 3), 1, graceful=5, on_exit=exited.append,
        crash_limit=3,
    )  # fmt: skip
    started = time.monotonic()
    with pytest.raises(WorkersFailing, match=r"3 in a row within 10 s, the last with code 3"):
        supervisor.run()
    took = time.monotonic() - started
    assert len(pids(tmp_path, "started")) == 3  # no more starts after the limit
    assert sorted(exited) == sorted(pids(tmp_path, "started"))
    assert took >= 0.5 + 1.0  # the two back-offs before the second and third start
    assert took < WAIT


def test_the_back_off_is_capped(tmp_path: Path) -> None:
    supervisor = Supervisor(
        targets.exit_at_once, (str(tmp_path), 1), 1, graceful=5, crash_limit=4, backoff_max=0.2
    )
    started = time.monotonic()
    with pytest.raises(WorkersFailing):
        supervisor.run()
    assert time.monotonic() - started < 0.5 + 3 * 0.2 + 10  # 0.5, 1, 2 uncapped: 3.5 s + starts
    assert len(pids(tmp_path, "started")) == 4


def test_a_killed_worker_is_replaced_and_stop_ends_them_all(tmp_path: Path) -> None:
    exited: list[int] = []
    supervisor = Supervisor(
        targets.serve, (str(tmp_path), 0.0), 2, graceful=10, on_exit=exited.append
    )
    seen: dict[str, set[int]] = {}

    def body() -> None:
        wait_for("two workers", lambda: len(pids(tmp_path, "ready")) == 2)
        first = pids(tmp_path, "ready")
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        wait_for("a third worker", lambda: len(pids(tmp_path, "ready")) == 3)
        wait_for("the supervisor to see the death", lambda: victim in exited)
        seen["first"], seen["all"] = first, pids(tmp_path, "ready")
        assert set(supervisor.pids) == seen["all"] - {victim}

    drive(supervisor, body)
    assert all(not alive(pid) for pid in seen["all"])
    assert sorted(exited) == sorted(seen["all"])  # every worker's metrics marked dead


def test_sighup_reaches_every_worker(tmp_path: Path) -> None:
    supervisor = Supervisor(targets.serve, (str(tmp_path), 0.0), 2, graceful=10)

    def body() -> None:
        wait_for("two workers", lambda: len(pids(tmp_path, "ready")) == 2)
        os.kill(os.getpid(), signal.SIGHUP)  # the supervisor's own handler forwards it
        wait_for("both to reload", lambda: pids(tmp_path, "hup") == pids(tmp_path, "ready"))

    drive(supervisor, body)
    assert len(pids(tmp_path, "started")) == 2


def test_a_sighup_while_workers_start_does_not_kill_them(tmp_path: Path) -> None:
    # The workers install their SIGHUP handler one second after they start; SIGHUPs
    # sent meanwhile (from the first instant of the spawn) must be dropped, not fatal.
    default = signal.getsignal(signal.SIGHUP)
    exited: list[int] = []
    supervisor = Supervisor(
        targets.serve, (str(tmp_path), 1.0), 2, graceful=10, on_exit=exited.append
    )

    def body() -> None:
        wait_for("the supervisor's handler", lambda: signal.getsignal(signal.SIGHUP) != default)
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.01)
        wait_for("two workers", lambda: len(pids(tmp_path, "ready")) == 2)
        assert exited == []
        os.kill(os.getpid(), signal.SIGHUP)
        wait_for("both to reload", lambda: pids(tmp_path, "hup") == pids(tmp_path, "ready"))

    drive(supervisor, body)
    assert len(pids(tmp_path, "started")) == 2  # none was restarted


def test_worker_count_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Supervisor(targets.serve, (), 0, graceful=1)
