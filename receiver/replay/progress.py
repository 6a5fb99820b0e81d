"""A progress bar for long replays and diffs, on a terminal only.

The edge (the terminal). Consumes the number of events to go and a stream; produces a
:class:`Progress` whose :meth:`~Progress.advance` moves a rich progress bar showing the
count, the rate in events per second and the time left. When the stream is not a terminal
(CI, a pipe, a file), nothing is drawn and rich is not even imported: the command's own
summary says what happened.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, TextIO


class Progress:
    """``with Progress(total, "replaying", sys.stderr) as bar: bar.advance(n)``."""

    def __init__(
        self, total: int, description: str, stream: TextIO, *, enabled: bool | None = None
    ) -> None:
        self.total = total
        self.description = description
        self.stream = stream
        self.enabled = _is_terminal(stream) if enabled is None else enabled
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.console import Console  # noqa: PLC0415  # only on a terminal
            from rich.progress import (  # noqa: PLC0415
                BarColumn,
                MofNCompleteColumn,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress  # noqa: PLC0415

            self._bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]} events/s"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=self.total, rate="-")
        return self

    def advance(self, count: int = 1) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, count)
            task = self._bar.tasks[0]
            speed = task.speed
            if speed:
                self._bar.update(self._task, rate=f"{speed:,.0f}")

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
