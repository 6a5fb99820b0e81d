"""The progress bar: drawn on a terminal (rich), nothing at all elsewhere."""

from __future__ import annotations

import io
import subprocess
import sys

from receiver.replay.progress import Progress


def test_off_a_terminal_nothing_is_drawn_and_rich_is_not_imported() -> None:
    code = (
        "import io, sys\n"
        "from receiver.replay.progress import Progress\n"
        "out = io.StringIO()\n"
        "with Progress(10, 'replaying', out) as bar:\n"
        "    bar.advance(10)\n"
        "assert out.getvalue() == '', out.getvalue()\n"
        "assert 'rich' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_on_a_terminal_it_shows_count_rate_and_time_left() -> None:
    out = io.StringIO()
    with Progress(4, "replaying", out, enabled=True) as bar:
        for _ in range(4):
            bar.advance()
    shown = out.getvalue()
    assert "replaying" in shown and "4/4" in shown and "events/s" in shown and "ETA" in shown
