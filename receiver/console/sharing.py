"""The console's view across workers: each worker's feed, shared through files.

Stage: the edge (the console of ``receiver serve --console --workers N``). Each worker is
a process of its own and a console request lands on any one of them, so each worker's
background thread writes a snapshot of its feed (``receiver.observe.feed``) to
``console.<pid>.json`` in the run's private directory (made 0700 by the supervisor,
removed when the service stops), atomically (a temporary file, then a rename) and 0600;
at most once a second, only when something changed, and only while a console viewer
asked within the last :data:`VIEWER_SECONDS` (the API touches the ``viewer`` file). The
worker that answers reads the others' snapshots (not those of dead processes) and merges
them with its own feed, read from memory: what another worker decided shows up within
about a second or two. Nothing here runs on the request path of the hooks.

Consumes the feed and the directory; produces the other workers' snapshots
(:meth:`FeedShare.others`). A snapshot that cannot be read or parsed is skipped (a
worker writing it just now, or killed mid-way: the rename makes the second rare).
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from receiver.observe.feed import DecisionFeed

log = logging.getLogger("receiver.console")

WRITE_EVERY = 1.0  # seconds between snapshots of a worker, at most
VIEWER_SECONDS = 60.0  # workers write snapshots while a viewer asked this recently
TOUCH_EVERY = 5.0  # the API touches the viewer file at most this often (per worker)
VIEWER = "viewer"
PREFIX, SUFFIX = "console.", ".json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive, though not ours
        return True
    return True


class FeedShare:
    """One worker's part: writes its snapshots, reads the others'."""

    def __init__(
        self, feed: DecisionFeed, directory: Path, *, pid: int | None = None,
        every: float = WRITE_EVERY,
    ) -> None:  # fmt: skip
        self.feed = feed
        self.directory = directory
        self.pid = os.getpid() if pid is None else pid
        self._every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._written = -1  # the feed version last written
        self._touched = 0.0  # monotonic time this worker last touched the viewer file
        self.failures = 0  # snapshots that could not be written

    @property
    def path(self) -> Path:
        return self.directory / f"{PREFIX}{self.pid}{SUFFIX}"

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="receiver-console-share", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        with contextlib.suppress(OSError):
            self.path.unlink()

    def touch_viewer(self) -> None:
        """Say a viewer is looking (at most every few seconds): the workers write snapshots."""
        now = time.monotonic()
        if now - self._touched < TOUCH_EVERY:
            return
        self._touched = now
        viewer = self.directory / VIEWER
        try:
            viewer.touch(mode=0o600)
            os.utime(viewer)
        except OSError as err:
            log.warning("console: cannot touch %s: %s", viewer, err.strerror)

    def viewer_recent(self) -> bool:
        try:
            return time.time() - (self.directory / VIEWER).stat().st_mtime < VIEWER_SECONDS
        except OSError:
            return False

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self.write_if_changed()
            except Exception as err:  # the thread lives on; the next tick tries again
                self.failures += 1
                if self.failures in (1, 10, 100) or self.failures % 1000 == 0:
                    log.error("console: could not write this worker's snapshot (%d so far): %s",
                              self.failures, type(err).__name__)  # fmt: skip

    def write_if_changed(self) -> bool:
        """Write a snapshot when the feed changed and a viewer looks; whether it did."""
        version = self.feed.version
        if version == self._written or not self.viewer_recent():
            return False
        self.write()
        self._written = version
        return True

    def write(self) -> None:
        data = orjson.dumps({"pid": self.pid, **self.feed.snapshot()}, default=str)
        fd, temporary = tempfile.mkstemp(prefix=f".{PREFIX}{self.pid}.", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as file:  # mkstemp makes it 0600
                file.write(data)
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    def others(self) -> list[dict[str, Any]]:
        """The snapshots of the other live workers (unreadable ones and dead ones skipped)."""
        out: list[dict[str, Any]] = []
        try:
            names = os.listdir(self.directory)
        except OSError:
            return out
        for name in names:
            if not (name.startswith(PREFIX) and name.endswith(SUFFIX)):
                continue
            try:
                pid = int(name[len(PREFIX) : -len(SUFFIX)])
            except ValueError:
                continue
            if pid == self.pid or not _alive(pid):
                continue
            try:
                snapshot = orjson.loads((self.directory / name).read_bytes())
            except (OSError, orjson.JSONDecodeError):
                continue
            if isinstance(snapshot, dict) and snapshot.get("pid") == pid:
                out.append(snapshot)
        return out
