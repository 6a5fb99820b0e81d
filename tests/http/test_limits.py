"""receiver/http/limits.py: the connection limits of ``receiver serve`` and their defaults.

(How each limit is enforced is tested in test_connections.py.)
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import get_args

import pytest

from receiver.http.limits import REFUSAL_REASONS, ConnectionLimits, RefusalReason

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_refusal_reasons_are_exactly_the_literal_type() -> None:
    assert get_args(RefusalReason) == REFUSAL_REASONS


def test_the_defaults_are_the_documented_ones() -> None:
    limits = ConnectionLimits()
    assert limits.max_head_bytes == 64 * 1024
    assert limits.read_timeout == 10.0
    assert limits.max_concurrency == 512
    assert limits.max_connections == 1024


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
