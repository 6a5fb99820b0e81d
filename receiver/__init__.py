"""receiver: a declarative rule-engine webhook receiver for trust-and-safety teams.

Policies are YAML files whose conditions are written in a small expression
language (``grammar/policy.lark``); they are checked and compiled once into
per-event decision trees, then evaluated against each pre-hook payload.
"""

from __future__ import annotations

__version__ = "0.1.0"

# Before any other module of the package: whether the compiled request path may be used.
from receiver import _native

BUILD = _native.RUNNING  # "compiled with mypyc (...)" or "Python source (why)"
