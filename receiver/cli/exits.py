"""The exit codes of the ``receiver`` command line, named.

Stage: the edge (the command line). Imported by the command table itself, so it
imports nothing: ``receiver --version`` loads this package and no stage of the engine.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # policy errors (or, for check --strict, warnings); a failed request
EXIT_USAGE = 2  # bad usage or bad input: an unreadable payload, users file or time
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT
