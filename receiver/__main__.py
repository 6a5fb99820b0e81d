"""``python -m receiver``: the same command line as the ``receiver`` script.

The edge (the command line). Consumes the arguments of ``python -m receiver``; produces the
exit code of :func:`receiver.cli.main`.
"""

from __future__ import annotations

from receiver.cli import main

raise SystemExit(main())
