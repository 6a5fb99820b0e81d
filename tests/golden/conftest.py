"""The golden cases are inputs, not tests: ``tests/check/test_golden.py`` runs them.

Some hold broken policy test files on purpose; ``pytest tests/golden`` (and
``pytest tests/`` through ``tests/conftest.py``) must not collect them.
"""

collect_ignore_glob = ["*/**"]
