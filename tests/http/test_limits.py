"""receiver/http/limits.py: the connection limits of ``receiver serve``, their defaults,
and how flags and the config file set them (through receiver/http/settings.py).

(How each limit is enforced is tested against the real process in test_connections.py.)
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, get_args

import pytest

from receiver import cli
from receiver.http.limits import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_HEAD_BYTES,
    DEFAULT_READ_TIMEOUT,
    REFUSAL_REASONS,
    ConnectionLimits,
    RefusalReason,
)
from receiver.http.settings import SettingsError, build

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_refusal_reasons_are_exactly_the_literal_type() -> None:
    assert get_args(RefusalReason) == REFUSAL_REASONS


@pytest.mark.parametrize(
    ("flag", "field"),
    [
        ("--max-head-bytes BYTES", "max_head_bytes"),
        ("--read-timeout SECONDS", "read_timeout"),
        ("--max-concurrency N", "max_concurrency"),
        ("--max-connections N", "max_connections"),
    ],
)
def test_the_readme_flag_table_shows_each_default(flag: str, field: str) -> None:
    row = re.search(rf"^\| `{re.escape(flag)}` \| (\d+) \|", README.read_text("utf-8"), re.M)
    assert row is not None, f"no README row for {flag}"
    assert float(row.group(1)) == getattr(ConnectionLimits(), field)


def test_every_refusal_reason_is_documented_as_a_metric_label() -> None:
    text = README.read_text("utf-8")
    for reason in REFUSAL_REASONS:
        assert f"`{reason}`" in text or f'reason="{reason}"' in text


def test_limits_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ConnectionLimits().max_connections = 1  # type: ignore[misc]


def test_defaults_are_the_documented_ones() -> None:
    assert build({}).connections == ConnectionLimits(
        max_head_bytes=64 * 1024, read_timeout=10.0, max_concurrency=512, max_connections=1024
    )
    assert (DEFAULT_MAX_HEAD_BYTES, DEFAULT_READ_TIMEOUT) == (65536, 10.0)
    assert (DEFAULT_MAX_CONCURRENCY, DEFAULT_MAX_CONNECTIONS) == (512, 1024)


def test_flags_set_the_limits() -> None:
    args = cli._parser().parse_args(
        ["serve", "--max-head-bytes", "8192", "--read-timeout", "2.5",
         "--max-concurrency", "16", "--max-connections", "100"]
    )  # fmt: skip
    flags = {k: v for k, v in vars(args).items() if k != "command"}
    assert build(flags).connections == ConnectionLimits(8192, 2.5, 16, 100)


def test_config_keys_set_the_limits_and_flags_win(tmp_path: Path) -> None:
    path = tmp_path / "receiver.yaml"
    path.write_text(
        "max_head_bytes: 4096\nread_timeout: 3\nmax_concurrency: 8\nmax_connections: 50\n"
    )
    assert build({"config": path}).connections == ConnectionLimits(4096, 3.0, 8, 50)
    assert build({"config": path, "read_timeout": 0.5}).connections.read_timeout == 0.5


@pytest.mark.parametrize(
    ("flags", "message_part"),
    [
        ({"max_head_bytes": 0}, "max-head-bytes must be positive"),
        ({"read_timeout": -1.0}, "read-timeout must be positive"),
        ({"max_concurrency": 0}, "max-concurrency must be positive"),
        ({"max_connections": -5}, "max-connections must be positive"),
    ],
)
def test_limits_must_be_positive(flags: dict[str, Any], message_part: str) -> None:
    with pytest.raises(SettingsError, match=message_part):
        build(flags)


def test_config_key_of_the_wrong_type_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "receiver.yaml"
    path.write_text("read_timeout: soon\n")
    with pytest.raises(SettingsError, match="'read_timeout' must be a number"):
        build({"config": path})
