"""receiver: a declarative rule-engine webhook receiver for trust-and-safety teams.

Policies are YAML files whose conditions are written in a small expression
language (``grammar/policy.lark``); they are checked and compiled once into
per-event decision trees, then evaluated against each pre-hook payload.
"""

from __future__ import annotations

__version__ = "0.1.0"
