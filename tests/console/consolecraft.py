"""What the console tests share: the shipped folders, a client, a broken copy of a policy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from receiver.console.app import create_app
from receiver.console.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
PAYLOADS = ROOT / "examples" / "payloads"
USERS = ROOT / "examples" / "users.yaml"
TOKEN = "s3cret-console-token-0123456789"
NOW = "2026-11-22T12:00:00Z"

# A typo in a condition of a shipped policy: `has_shortner` is not a name it defines.
TYPO = ("when: has_shortener and account_age < 7d", "when: has_shortner and account_age < 7d")


def client(
    policies: Path = POLICIES, *, token: str | None = None, can_save: bool = False
) -> TestClient:
    app = create_app(Workspace.at(policies, can_save=can_save), token)
    return TestClient(app, raise_server_exceptions=True)


def shipped_files() -> list[dict[str, str]]:
    return [
        {"name": p.name, "text": p.read_text(encoding="utf-8")}
        for p in sorted(POLICIES.glob("*.yaml"))
        if not p.name.endswith((".test.yaml", ".users.yaml"))
    ]


def with_typo(files: list[dict[str, str]]) -> list[dict[str, str]]:
    out = []
    for f in files:
        text = f["text"]
        if f["name"] == "links.yaml":
            assert TYPO[0] in text
            text = text.replace(TYPO[0], TYPO[1])
        out.append({"name": f["name"], "text": text})
    return out


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))
