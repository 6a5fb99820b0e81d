"""The small "chat" policy that the end-to-end server tests run, and how to ask it.

Not a test module: the e2e tests and test_connections import it (pytest puts ``tests/``,
which has no ``__init__.py``, on ``sys.path``). Its deny message carries the policy's
version, so a test can tell which policy set a server (or a worker) is running.
"""

from __future__ import annotations

from typing import Any

from serverproc import Server

SECRET = "e2e-new-secret-0001"

POLICY = """\
policy: chat
rules:
  - id: forbidden
    events: message.shouldCreate
    when: text contains "forbidden"
    action: deny
    message: "{version} (ref {decision_id})"
"""


def policy(version: str) -> str:
    return POLICY.replace("{version}", version)


def message(text: str) -> dict[str, Any]:
    return {
        "eventName": "message.shouldCreate",
        "data": {"text": text, "channelId": "ch_1"},
        "actor": {"_id": "u1", "userId": "u1"},
    }


def answer_message(server: Server, key: str | None = None) -> str:
    """The version in the answer to a "forbidden" message (signed with ``key``, if given)."""
    response = server.post(message("forbidden"), key)
    assert response.status_code == 200
    text: str = response.json()["message"]
    return text.split(" (ref", maxsplit=1)[0]
