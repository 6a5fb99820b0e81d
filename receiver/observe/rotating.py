"""Record files rotated by size, one set per writer process (the edge: the files of
``receiver serve --record DIR``).

Consumes batches of whole JSON lines (from the record queue's writer thread,
``receiver.observe.recorder``); produces files in the record directory, named::

    DIR/<host>.w<N>.<SEQ>.jsonl

- ``<host>`` is the machine's name (letters, digits, ``-`` and ``_`` kept), so replicas
  may share a directory;
- ``<N>`` is the writer number: the lowest one no live process on this host holds,
  claimed with an ``flock`` on ``DIR/.<host>.w<N>.lock`` and released when the process
  ends. Each worker of ``--workers N`` writes its own files, never a line into another's;
  a worker the supervisor restarts, or the next run of the service, takes a free number
  back and continues its sequence, so the number of files stays bounded;
- ``<SEQ>`` counts the writer's files (six digits and more).

A writer never appends to a file that exists (one left by a killed process may end in a
cut line): it starts the next ``<SEQ>``, when the first line comes. A file is closed when
the next line would take it over ``max_bytes`` (a single longer line gets a file of its
own); the writer then deletes its own oldest files so that at most ``keep`` closed files
remain beside the open one: a writer holds at most ``(keep + 1) * max_bytes`` bytes.

Files are created 0600 (they hold user content), the directory 0700 when created here.
A write that fails (a full disk) raises to the queue's writer, which drops the batch,
counts it and logs once in a while; the part that reached the file is cut off again, so
the file holds whole lines only and the next batch can follow it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Final

SUFFIX: Final = ".jsonl"
MAX_WRITERS: Final = 4096  # writer numbers tried on one host before giving up
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class RecordDirError(OSError):
    """The record directory cannot be used; the message says why and what to do."""


def host_name() -> str:
    """This machine's name as it appears in record file names."""
    return _UNSAFE.sub("_", socket.gethostname())[:64] or "host"


def prepare_dir(directory: Path) -> None:
    """Create the record directory (0700) when missing, and prove a file can be created in
    it; a :class:`RecordDirError` saying what is wrong otherwise."""
    if directory.exists() and not directory.is_dir():
        raise RecordDirError(f"--record {directory}: not a directory; give a directory")
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as err:
        raise RecordDirError(
            f"cannot create the record directory {directory}: {err.strerror}; --record takes "
            "a directory the service may write to"
        ) from None
    probe = directory / f".probe-{os.getpid()}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        probe.unlink()
    except OSError as err:
        raise RecordDirError(
            f"cannot write in the record directory {directory}: {err.strerror}; give the "
            "service's user write access, or another --record directory"
        ) from None


class RotatingFiles:
    """A raw binary stream (``write``, ``flush``, ``close``) over one writer's record files."""

    def __init__(
        self,
        directory: Path,
        max_bytes: int,
        keep: int,
        *,
        on_written: Callable[[int], None] | None = None,
        host: str | None = None,
    ) -> None:
        if max_bytes < 1 or keep < 0:
            raise ValueError("record files need max_bytes >= 1 and keep >= 0")
        prepare_dir(directory)
        self.directory = directory
        self.max_bytes = max_bytes
        self.keep = keep
        self._on_written = on_written
        self.host = host or host_name()
        self.writer, self._lock_fd = self._claim()
        self.prefix = f"{self.host}.w{self.writer}."
        self._fd: int | None = None  # the open file, from the first line on
        self._seq = 0
        self._size = 0  # bytes of whole lines in the open file
        self.path: Path | None = None

    def _claim(self) -> tuple[int, int]:
        """The lowest writer number no live process holds, and its lock's descriptor."""
        for number in range(MAX_WRITERS):
            lock = self.directory / f".{self.host}.w{number}.lock"
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return number, fd
        raise RecordDirError(f"{self.directory}: {MAX_WRITERS} record writers on this host")

    def sequences(self) -> list[int]:
        """The sequence numbers of this writer's files, lowest first."""
        found: list[int] = []
        for path in self.directory.iterdir():
            name = path.name
            if name.startswith(self.prefix) and name.endswith((SUFFIX, SUFFIX + ".gz")):
                middle = name[len(self.prefix) :].split(".", 1)[0]
                if middle.isdigit():
                    found.append(int(middle))
        return sorted(found)

    def _open_next(self) -> None:
        self._close_file()
        existing = self.sequences()
        self._seq = max([self._seq, *existing]) + 1
        self.path = self.directory / f"{self.prefix}{self._seq:06d}{SUFFIX}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
        self._fd = os.open(self.path, flags, 0o600)
        self._size = 0
        self._prune([*existing, self._seq])

    def _prune(self, sequences: list[int]) -> None:
        """Delete this writer's oldest closed files beyond ``keep``."""
        closed = [seq for seq in sorted(set(sequences)) if seq != self._seq]
        for seq in closed[: max(0, len(closed) - self.keep)]:
            for suffix in (SUFFIX, SUFFIX + ".gz"):
                with contextlib.suppress(FileNotFoundError):
                    (self.directory / f"{self.prefix}{seq:06d}{suffix}").unlink()

    def write(self, data: bytes | memoryview) -> int:
        """Write whole lines, rotating first whenever the next line would not fit."""
        lines = bytes(data)
        start, end = 0, len(lines)
        while start < end:
            if self._fd is None:
                self._open_next()
            room = self.max_bytes - self._size
            stop = end
            if end - start > room:
                stop = lines.rfind(b"\n", start, start + room) + 1 if room > 0 else 0
                if stop == 0 and self._size > 0:
                    self._open_next()  # the next line does not fit: a new file
                    continue
                if stop == 0:  # a line longer than a file: a file of its own
                    stop = lines.find(b"\n", start) + 1 or end
            self._write_chunk(memoryview(lines)[start:stop])
            start = stop
            if self._size >= self.max_bytes:
                self._close_file()
        if self._on_written is not None:
            self._on_written(lines.count(b"\n"))
        return end

    def _write_chunk(self, chunk: memoryview) -> None:
        fd = self._fd
        if fd is None:  # pragma: no cover  # opened by write() just before
            raise RuntimeError("no record file open")
        written = 0
        try:
            while written < len(chunk):
                written += os.write(fd, chunk[written:])
        except OSError:
            try:  # keep whole lines only: the next batch follows the last good one
                os.ftruncate(fd, self._size)
            except OSError:
                self._close_file()  # the next line starts a new file
            raise
        self._size += written

    def flush(self) -> None:
        """Nothing is buffered: each batch went to the file in :meth:`write`."""

    def _close_file(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        """Close the open file and give the writer number back."""
        self._close_file()
        if self._lock_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = -1
