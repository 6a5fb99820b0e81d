"""``receiver eval`` and rollout/expiry: the same decision path as the service and the
policy tests, so ``--now`` before a rule's ``expires`` sees it and one after does not,
and ``--explain`` shows the way of a rollout rule and the expiry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from receiver.cli import main
from receiver.runtime.rollout import bucket

POLICY = """\
policy: p
rules:
  - id: lockdown
    events: message.shouldCreate
    action: deny
    message: locked
    expires: 2026-12-27T00:00:00Z
  - id: links
    events: message.shouldCreate
    when: text contains "http"
    action: deny
    message: no links
    rollout: 100%
"""


def evaluate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, now: str, *options: str
) -> tuple[dict[str, object], str]:
    (tmp_path / "p.yaml").write_text(POLICY, encoding="utf-8")
    payload = tmp_path / "payload.json"
    payload.write_text(
        json.dumps(
            {
                "eventName": "message.shouldCreate",
                "data": {"text": text},
                "actor": {"userId": "sam"},
            }
        ),
        encoding="utf-8",
    )
    assert main(["eval", str(tmp_path), str(payload), "--now", now, *options]) == 0
    out = capsys.readouterr()
    return json.loads(out.out), out.err


def test_eval_sees_a_rule_before_its_expiry_and_not_after(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before, _ = evaluate(tmp_path, capsys, "hi", "2026-12-26T23:59:59Z")
    assert before == {"action": "deny", "message": "locked"}
    after, explained = evaluate(tmp_path, capsys, "hi", "2026-12-27T00:00:00Z", "--explain")
    assert after == {"action": "allow"}
    assert "p/lockdown  deny: expired at 2026-12-27T00:00:00Z (skipped)" in explained


def test_eval_explains_the_way_of_a_rollout_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answer, explained = evaluate(tmp_path, capsys, "http://x", "2027-01-01T00:00:00Z", "--explain")
    assert answer == {"action": "deny", "message": "no links"}
    shown = f"{bucket('p/links', 'sam') / 100:05.2f}%"
    assert f"p/links  deny: matched; rollout 100%: bucket {shown} -> enforced" in explained
