"""``python -m receiver``: the same command line as the ``receiver`` script."""

from __future__ import annotations

from receiver.cli import main

raise SystemExit(main())
