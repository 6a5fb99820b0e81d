"""``receiver serve`` settings (receiver/http/settings.py) for the worker and metrics features.

The metrics token from ``--metrics-token``, ``--metrics-token-file``,
``$RECEIVER_METRICS_TOKEN`` or the config file's ``metrics_token_file``, and the
contradictions that are refused; ``public_metrics``; and that a configuration with
every credential and directory set survives the pickling that hands it to each
spawned worker (``--workers N``) and verifies the same signatures there.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from receiver import cli
from receiver.adapters.signatures import sign_base64, verify
from receiver.http.settings import METRICS_TOKEN_ENV, SettingsError, build
from receiver.http.tokens import verify_bridge


@pytest.fixture(autouse=True)
def _no_env_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (METRICS_TOKEN_ENV, "RECEIVER_SOCIALPLUS_SECRET", "RECEIVER_BRAINCLOUD_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def test_no_metrics_token_by_default() -> None:
    config = build({})
    assert config.metrics_tokens is None
    assert config.public_metrics is False


def test_the_metrics_token_comes_from_the_flag_the_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_file = tmp_path / "metrics.token"
    token_file.write_text("from-file-1, from-file-2\n", encoding="utf-8")
    monkeypatch.setenv(METRICS_TOKEN_ENV, "from-env")
    from_flag = build({"metrics_token": "from-flag"}).metrics_tokens
    assert from_flag is not None and from_flag.keys == (b"from-flag",)
    from_file = build({"metrics_token_file": token_file}).metrics_tokens
    assert from_file is not None and from_file.keys == (b"from-file-1", b"from-file-2")
    from_env = build({}).metrics_tokens
    assert from_env is not None and from_env.keys == (b"from-env",)


def test_the_config_file_sets_the_metrics_token_file_relative_to_itself(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "metrics").write_text("tøken", encoding="utf-8")
    config_file = tmp_path / "receiver.yaml"
    config_file.write_text("metrics_token_file: secrets/metrics\n")
    tokens = build({"config": config_file}).metrics_tokens
    assert tokens is not None and tokens.keys == ("tøken".encode(),)
    config_file.write_text("public_metrics: true\nhost: 0.0.0.0\n")
    assert build({"config": config_file}).public_metrics is True


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"metrics_token": "a", "metrics_token_file": Path("f")}, "either --metrics-token or"),
        ({"metrics_token": " , "}, "--metrics-token holds no token"),
        ({"metrics_token": "a", "public_metrics": True}, "cannot go with a metrics token"),
    ],
)
def test_contradictory_or_empty_metrics_settings_are_errors(
    flags: dict[str, object], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        build(flags)


def test_an_unreadable_or_empty_token_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"metrics token file .*missing: No such file"):
        build({"metrics_token_file": tmp_path / "missing"})
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(SettingsError, match="holds no token"):
        build({"metrics_token_file": empty})


def test_the_config_file_checks_the_type_of_public_metrics(tmp_path: Path) -> None:
    config_file = tmp_path / "receiver.yaml"
    config_file.write_text("public_metrics: yes please\n")
    with pytest.raises(SettingsError, match="'public_metrics' must be true or false"):
        build({"config": config_file})


def test_a_fully_configured_service_survives_pickling_for_the_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECEIVER_SOCIALPLUS_SECRET", "sp-new,sp-old")
    monkeypatch.setenv("RECEIVER_BRAINCLOUD_TOKEN", "bc-token")
    monkeypatch.setenv(METRICS_TOKEN_ENV, "m-token")
    monkeypatch.setenv("USERS_TOKEN", "u")
    config = build(
        {
            "workers": 2,
            "users_url": "http://127.0.0.1:1/users/{userId}",
            "users_header": ["Authorization: Bearer ${USERS_TOKEN}"],
            "counters_backend": "redis",
            "counters_redis_url": "redis://127.0.0.1:1/0",
            "decision_log": tmp_path / "decisions.jsonl",
            "watch": True,
        }
    )
    copy = pickle.loads(pickle.dumps(config))
    assert copy == config
    body = b'{"eventName":"message.shouldCreate","data":{}}'
    assert copy.secrets is not None and copy.braincloud_tokens is not None
    assert verify(body, {"x-amity-signature": sign_base64(b"sp-old", body)}, copy.secrets).ok
    assert verify_bridge(body, {"x-receiver-token": "bc-token"}, copy.braincloud_tokens).ok
    assert copy.metrics_tokens is not None and copy.metrics_tokens.keys == (b"m-token",)


def test_a_metrics_token_on_the_command_line_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Broken policies: serve refuses to start right after the settings are read.
    (tmp_path / "bad.yaml").write_text("policy: p\nrules: [{id: r, when: '(', action: deny}]\n")
    argv = ["serve", "--policies", str(tmp_path), "--metrics-token", "visible-in-ps"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "--metrics-token shows the token to anyone who can list processes" in err
    assert "visible-in-ps" not in err


@pytest.mark.parametrize(
    ("key", "what"),
    [("secret_file", "secret"), ("braincloud_token_file", "brainCloud token"),
     ("stream_secret_file", "Stream API secret"), ("twilio_auth_token_file", "Twilio auth token")],
)  # fmt: skip
def test_every_secret_file_is_read_the_same_way(key: str, what: str, tmp_path: Path) -> None:
    # One reader for the four: a brainCloud token file of only commas raised a bare
    # ValueError before, where the others said what was wrong.
    path = tmp_path / "f"
    path.write_text(" , \n")
    with pytest.raises(SettingsError, match=f"{what} file {path} holds no {what}"):
        build({key: path})
    path.write_text("")
    with pytest.raises(SettingsError, match=f"{what} file {path} is empty"):
        build({key: path})
    with pytest.raises(SettingsError, match=f"{what} file {tmp_path / 'none'}: "):
        build({key: tmp_path / "none"})
    path.write_text("one, two\n")
    assert build({key: path}) is not None
