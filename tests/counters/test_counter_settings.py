"""Tests for receiver.counters.settings (named like test_counter_service.py: tests/http/ has a
test_settings.py, and test modules need unique basenames here): the counter backend settings
and their documented defaults (README "Backends" table)."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from receiver.counters.memory import MemoryBackend
from receiver.counters.settings import CounterSettings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_defaults_are_memory_counters_falling_back_to_memory() -> None:
    settings = CounterSettings()
    assert (settings.backend, settings.redis_url, settings.fallback) == ("memory", None, "memory")
    assert (settings.timeout_ms, settings.retry_after) == (50, 1.0)
    assert (settings.max_keys, settings.max_per_key) == (100_000, 10_000)
    assert settings.key_prefix == "receiver:counter"


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("backend", "`memory`"),
        ("fallback", "`memory`"),
        ("timeout_ms", "50"),
        ("max_keys", "100000"),
        ("max_per_key", "10000"),
        ("key_prefix", "`receiver:counter`"),
    ],
)
def test_the_readme_states_each_default(key: str, shown: str) -> None:
    value = getattr(CounterSettings(), key)
    assert shown.strip("`") == str(value)
    assert f"| `{key}` | {shown} |" in README.read_text(encoding="utf-8")


def test_the_memory_backend_is_bounded_by_the_default_settings() -> None:
    backend, settings = MemoryBackend(), CounterSettings()
    assert (backend.max_keys, backend.max_per_key) == (settings.max_keys, settings.max_per_key)


def test_settings_are_frozen() -> None:
    settings = CounterSettings()
    with pytest.raises(FrozenInstanceError):
        settings.backend = "redis"  # type: ignore[misc]
