"""What the commands of the ``receiver`` command line share: exit codes, and loading a
policy directory with its errors written to stderr.

Stage: the edge (the command line). Consumes a policy path; produces a
:class:`~receiver.runtime.policyset.PolicySet`, or ``None`` after reporting why not.
Light on purpose: ``check``, ``eval``, ``tree`` and ``test`` import it, and none of
them may load the web server, the HTTP client or the Redis client.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from receiver.errors import PolicyLoadError
from receiver.runtime.policyset import PolicySet, load_policies
from receiver.text.diagnostics import render_text

EXIT_OK = 0
EXIT_FAILED = 1  # policy errors (or, for check --strict, warnings); a failed request
EXIT_USAGE = 2  # bad usage or bad input: an unreadable payload, users file or time
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT

DEFAULT_POLICIES = Path("policies")


def load_or_report(policies: Path, err: TextIO) -> PolicySet | None:
    """The loaded policies, or ``None`` once their errors are written to ``err``."""
    try:
        return load_policies([policies])
    except PolicyLoadError as exc:
        errors = [d for d in exc.diagnostics if d.severity == "error"]
        err.write(render_text(errors) + "\n")
        err.write(f"receiver: {policies}: the policies have errors; run 'receiver check'\n")
        return None
