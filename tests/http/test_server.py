"""receiver/http/server.py: what ``receiver serve`` refuses before binding anything
(preflight). Serving itself runs against the real process in tests/e2e/."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.adapters.signatures import Secrets
from receiver.http.config import ServiceConfig
from receiver.http.server import StartupError, preflight

SHIPPED = Path(__file__).resolve().parents[2] / "policies"
TOKENS = Secrets.parse("bridge-token-current-1234")


@pytest.mark.parametrize(
    ("secrets", "tokens", "host", "refused"),
    [
        (None, None, "127.0.0.1", False),
        (None, None, "0.0.0.0", True),
        (None, TOKENS, "0.0.0.0", False),  # a brainCloud-only deployment
        (Secrets.parse("s"), None, "0.0.0.0", False),  # a social.plus-only deployment
    ],
)
def test_preflight_needs_a_credential_off_loopback(
    secrets: Secrets | None, tokens: Secrets | None, host: str, refused: bool
) -> None:
    config = ServiceConfig(policies=SHIPPED, host=host, secrets=secrets, braincloud_tokens=tokens)
    if refused:
        with pytest.raises(StartupError, match="RECEIVER_BRAINCLOUD_TOKEN"):
            preflight(config)
    else:
        preflight(config)


def test_preflight_opens_the_decision_log_to_fail_before_the_workers(tmp_path: Path) -> None:
    config = ServiceConfig(policies=SHIPPED, decision_log=tmp_path / "decisions.jsonl")
    preflight(config)
    assert (tmp_path / "decisions.jsonl").exists()
    missing = ServiceConfig(policies=SHIPPED, decision_log=tmp_path / "no" / "such.jsonl")
    with pytest.raises(StartupError, match="cannot open the decision log"):
        preflight(missing)


def test_preflight_refuses_policies_with_errors_and_shows_them(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("policy: p\nrules: 5\n", encoding="utf-8")
    with pytest.raises(StartupError) as caught:
        preflight(ServiceConfig(policies=tmp_path))
    message = str(caught.value)
    assert "p.yaml:2:8: error:" in message
    assert message.endswith(f"the policies in {tmp_path} have errors; fix them ('receiver check')")
