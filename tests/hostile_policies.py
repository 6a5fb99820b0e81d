"""Policy files that would hang or crash a load without its limits, for the reload tests.

Not a test module: ``from hostile_policies import BOMB, TOO_DEEP`` works because pytest
puts ``tests/`` (which has no ``__init__.py``) on ``sys.path``.
"""

from __future__ import annotations

# A YAML alias bomb of about 600 bytes: ten levels of nine aliases, 9**10 nodes expanded.
BOMB = (
    "policy: bomb\nlists:\n  l0: &l0 [a, a, a, a, a, a, a, a, a]\n"
    + "".join(f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, 11))
    + "rules: []\n"
)

# A condition of 1,000 'or' terms: nested deeper than any stage may recurse.
TOO_DEEP = """\
policy: deep
rules:
  - id: deep
    events: message.shouldCreate
    when: {condition}
    action: deny
""".replace("{condition}", " or ".join(f"data.n == {i}" for i in range(1000)))
