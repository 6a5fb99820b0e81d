"""Worker functions for tests/http/test_supervisor.py, importable by spawned processes.

Each records what happened to it as files in ``folder``: ``<pid>.started`` when it
starts, a line in ``<pid>.hup`` per SIGHUP it handles.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

LIFETIME = 60.0  # a worker that was never stopped ends by itself


def exit_at_once(folder: str, code: int) -> None:
    (Path(folder) / f"{os.getpid()}.started").touch()
    sys.exit(code)


def serve(folder: str, handler_after: float) -> None:
    """Run until SIGTERM; handle SIGHUP only after ``handler_after`` seconds."""
    pid = os.getpid()
    (Path(folder) / f"{pid}.started").touch()
    stopping = False

    def on_term(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    def on_hup(signum: int, frame: FrameType | None) -> None:
        with (Path(folder) / f"{pid}.hup").open("a") as out:
            out.write("hup\n")

    signal.signal(signal.SIGTERM, on_term)
    time.sleep(handler_after)
    signal.signal(signal.SIGHUP, on_hup)
    (Path(folder) / f"{pid}.ready").touch()
    deadline = time.monotonic() + LIFETIME
    while not stopping and time.monotonic() < deadline:
        time.sleep(0.05)
