"""``receiver console``'s refusals, in-process: each exits 2 before anything is bound."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.cli import main
from receiver.console.auth import TOKEN_ENV, authorized, is_loopback, read_token, refusal

ROOT = Path(__file__).resolve().parents[2]
POLICIES = str(ROOT / "policies")


@pytest.fixture(autouse=True)
def _no_token_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "example.org"])
def test_a_reachable_address_without_a_token_is_refused(
    host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["console", "--policies", POLICIES, "--host", host]) == 2
    err = capsys.readouterr().err
    assert f"--host {host} is reachable from other machines" in err
    assert "--console-token-file" in err


def test_a_short_token_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token = tmp_path / "token"
    token.write_text("short\n")
    argv = ["console", "--policies", POLICIES, "--console-token-file", str(token)]
    assert main(argv) == 2
    assert "at least 16 characters" in capsys.readouterr().err


def test_an_unreadable_token_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["console", "--policies", POLICIES, "--console-token-file", str(tmp_path / "none")]
    assert main(argv) == 2
    assert "cannot read it" in capsys.readouterr().err


def test_a_policy_folder_that_is_not_one_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["console", "--policies", str(tmp_path / "none")]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_the_token_comes_from_the_file_else_the_environment(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("from-the-file-0123456789\nignored\n")
    assert read_token(token, {TOKEN_ENV: "from-the-env-0123456789"}) == "from-the-file-0123456789"
    assert read_token(None, {TOKEN_ENV: " from-the-env-0123456789 "}) == "from-the-env-0123456789"
    assert read_token(None, {}) is None


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True),
     ("localhost", True), ("0.0.0.0", False), ("::", False), ("10.0.0.1", False),
     ("console.example", False)],
)  # fmt: skip
def test_only_loopback_addresses_go_without_a_token(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    assert (refusal(host, None) is None) is loopback
    assert refusal(host, "a-token-of-enough-length") is None


@pytest.mark.parametrize(
    ("header", "ok"),
    [(None, False), ("", False), ("Bearer", False), ("Bearer wrong-token-0123456789", False),
     ("Basic the-right-token-0123", False), ("the-right-token-0123", False),
     ("Bearer the-right-token-0123", True), ("bearer the-right-token-0123", True),
     ("Bearer  the-right-token-0123 ", True), ("Bearer the-right-token-0123x", False)],
)  # fmt: skip
def test_the_header_must_carry_the_token_as_a_bearer(header: str | None, ok: bool) -> None:
    assert authorized(header, "the-right-token-0123") is ok
    assert authorized(header, None) is True
