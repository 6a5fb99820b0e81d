"""Fixtures of the counter tests: a policy folder whose rules read event and strike counters."""

from __future__ import annotations

from pathlib import Path

import pytest

POLICY = """\
policy: rate
description: counters shared by replicas
counters:
  messages_per_minute:
    events: message.shouldCreate
    key: actor.userId
    window: 60s
  channels_per_text:
    events: message.shouldCreate
    key: lower(text)
    distinct: data.channelId
    window: 10m
  strikes:
    decisions: [flood, censor]
    key: actor.userId
    window: 1h
rules:
  - id: strikes-out
    events: message.shouldCreate
    when: strikes >= 2
    action: deny
    message: "strikes {strikes}"
  - id: flood
    events: message.shouldCreate
    when: messages_per_minute > 5
    action: deny
    message: "flood {messages_per_minute}"
  - id: same-text
    events: message.shouldCreate
    when: channels_per_text > 3
    action: deny
    message: "same text {channels_per_text}"
  - id: censor
    events: message.shouldCreate
    when: text contains "darn"
    action: modify
    set: {text: '"****"'}
  - id: unknown
    events: channel.shouldJoin
    when: counters_unavailable()
    action: deny
    message: counters unavailable
"""


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "rate.yaml").write_text(POLICY, encoding="utf-8")
    return folder
