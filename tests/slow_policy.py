"""Policies that take a chosen time to evaluate, for the deadline and shutdown tests.

Not a test module: ``from slow_policy import slow_policy, words_taking`` works because
pytest puts ``tests/`` (which has no ``__init__.py``) on ``sys.path``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from receiver.dsl.values import Timestamp
from receiver.runtime.evaluator import evaluate
from receiver.runtime.payload import Event
from receiver.runtime.policyset import load_policies


def slow_policy(rules: int, last_message: str) -> str:
    """``rules`` rules that each walk every word of the text and never match, then a deny
    with ``last_message``.

    Built from the language itself (no monkeypatching), so the time is spent where a
    slow real policy spends it: in rule evaluation, between two deadline checks.
    """
    slow = [
        f"""\
  - id: slow-{k}
    events: message.shouldCreate
    when: count(words(text), len(it) > {k + 3}) < 0
    action: deny
    message: never
"""
        for k in range(rules)
    ]
    last = f"""\
  - id: last
    events: message.shouldCreate
    action: deny
    message: {last_message}
"""
    return "policy: slow\nrules:\n" + "".join(slow) + last


def words_taking(seconds: float, policy_text: str, sample: int = 5000) -> int:
    """How many words of text make the rules of ``policy_text`` take ``seconds`` here."""
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "slow.yaml").write_text(policy_text)
        policyset = load_policies([Path(tmp)])
    event = Event("message.shouldCreate", {"text": "hello " * sample}, {})
    tree = policyset.tree(event.name)
    evaluate(tree, event, Timestamp(time.time()))  # warm up
    # The fastest of three runs: this machine's pace changes by up to 2x from one moment
    # to the next, and erring towards more words only makes the policy slower.
    fastest = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        evaluate(tree, event, Timestamp(time.time()))
        fastest = min(fastest, time.perf_counter() - started)
    per_word = max(fastest / sample, 1e-9)
    return max(sample, int(seconds / per_word))
