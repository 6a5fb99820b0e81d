"""What the policy commands of the ``receiver`` command line share: the default policy
directory, and loading policies with their errors written to stderr.

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

DEFAULT_POLICIES = Path("policies")


def load_or_report(policies: Path, err: TextIO, *, eager: bool = True) -> PolicySet | None:
    """The loaded policies, or ``None`` once their errors are written to ``err``.
    ``eager=False``: compile each event's tree when it is first decided."""
    try:
        return load_policies([policies], eager=eager)
    except PolicyLoadError as exc:
        errors = [d for d in exc.diagnostics if d.severity == "error"]
        err.write(render_text(errors) + "\n")
        err.write(f"receiver: {policies}: the policies have errors; run 'receiver check'\n")
        return None
