"""``receiver serve --console``'s flags and refusals, in-process: each refusal exits 2
before anything is bound, with ``receiver console``'s token rules and wording."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from receiver.cli import main
from receiver.console.auth import TOKEN_ENV
from receiver.http.settings import SettingsError, build

ROOT = Path(__file__).resolve().parents[2]
POLICIES = str(ROOT / "policies")


@pytest.fixture(autouse=True)
def _no_token_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)


@pytest.fixture
def secret(tmp_path: Path) -> str:
    path = tmp_path / "secret"
    path.write_text("serve-console-secret")
    return str(path)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10"])
def test_off_loopback_without_a_console_token_serve_exits_2_naming_the_flag(
    host: str, secret: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["serve", "--console", "--policies", POLICIES, "--host", host, "--secret-file", secret]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"--console: --host {host} is reachable from other machines" in err
    assert "--console-token-file FILE or $RECEIVER_CONSOLE_TOKEN" in err


def test_a_short_console_token_is_refused(
    tmp_path: Path, secret: str, capsys: pytest.CaptureFixture[str]
) -> None:
    token = tmp_path / "token"
    token.write_text("short\n")
    argv = ["serve", "--console", "--console-token-file", str(token), "--secret-file", secret]
    assert main(argv) == 2
    assert "at least 16 characters" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--console-buffer", "10"], "console-buffer needs --console"),
        (["--console", "--console-buffer", "0"], "console-buffer must be positive"),
    ],
)
def test_bad_console_flags_exit_2(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--policies", POLICIES, *argv]) == 2
    assert says in capsys.readouterr().err


def test_the_console_settings_come_from_flags_or_the_config_file(tmp_path: Path) -> None:
    assert build({"policies": POLICIES}).console is None
    config = build({"policies": POLICIES, "console": True})
    assert config.console is not None and config.console.buffer == 1000
    file = tmp_path / "receiver.yaml"
    file.write_text("console: true\nconsole_buffer: 50\nconsole_token_file: token\n")
    from_file = build({"config": file, "policies": POLICIES})
    assert from_file.console is not None
    assert from_file.console.buffer == 50
    assert from_file.console.token_file == tmp_path / "token"
    file.write_text("console: yes please\n")
    with pytest.raises(SettingsError, match="'console' must be true or false"):
        build({"config": file})


def test_the_token_never_shows_in_the_settings_repr() -> None:
    config = build({"policies": POLICIES, "console": True})
    assert config.console is not None
    with_token = replace(config.console, token="a-very-secret-token-0123")
    assert "a-very-secret-token-0123" not in repr(with_token)


def test_serve_help_lists_the_console_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    for flag in ("--console ", "--console-token-file", "--console-buffer"):
        assert flag in out
