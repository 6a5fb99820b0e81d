"""The counter options of ``receiver serve`` (the counter part of receiver/http/settings.py,
its start-up line in receiver/http/server.py): memory counters with several workers are
refused unless per-worker counting is said (``--counters memory-per-worker``), because
each worker would count on its own and every limit would be N times looser."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from receiver import cli
from receiver.cli.exits import EXIT_USAGE
from receiver.counters.service import CounterService
from receiver.counters.settings import CounterSettings
from receiver.http.config import ServiceConfig
from receiver.http.server import _announce_counters
from receiver.http.settings import REDIS_URL_ENV, SettingsError, build


@pytest.fixture(autouse=True)
def _no_env_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REDIS_URL_ENV, raising=False)


@pytest.mark.parametrize("workers", [2, 3, 8])
def test_memory_counters_with_several_workers_are_refused_with_what_to_do(workers: int) -> None:
    with pytest.raises(SettingsError) as caught:
        build({"workers": workers})
    message = str(caught.value)
    assert f"every limit would be {workers} times looser" in message
    assert "--counters redis --redis-url" in message
    assert "--counters memory-per-worker" in message


def test_an_explicit_memory_backend_with_several_workers_is_refused_too() -> None:
    with pytest.raises(SettingsError, match="would count per worker"):
        build({"workers": 2, "counters_backend": "memory"})


@pytest.mark.parametrize(
    ("flags", "backend"),
    [
        ({}, "memory"),
        ({"workers": 1}, "memory"),
        ({"workers": 1, "counters_backend": "memory-per-worker"}, "memory-per-worker"),
        ({"workers": 2, "counters_backend": "memory-per-worker"}, "memory-per-worker"),
        ({"workers": 4, "counters_backend": "memory-per-worker"}, "memory-per-worker"),
        (
            {"workers": 2, "counters_backend": "redis", "counters_redis_url": "redis://h:1/0"},
            "redis",
        ),
    ],
)
def test_these_combinations_start(flags: dict[str, object], backend: str) -> None:
    assert build(flags).counters.backend == backend


def test_the_config_file_says_memory_per_worker_under_counters(tmp_path: Path) -> None:
    config = tmp_path / "receiver.yaml"
    config.write_text("workers: 2\ncounters: {backend: memory-per-worker}\n")
    assert build({"config": config}).counters.backend == "memory-per-worker"
    config.write_text("workers: 2\n")
    with pytest.raises(SettingsError, match="times looser"):
        build({"config": config})


def test_an_unknown_backend_names_the_three_choices() -> None:
    with pytest.raises(SettingsError, match="memory, memory-per-worker or redis, got 'disk'"):
        build({"counters_backend": "disk"})


def test_serve_refuses_two_workers_with_memory_counters_as_a_bad_setting(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["serve", "--workers", "2", "--port", "1"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("receiver: --workers 2 with memory counters would count per worker")
    assert "--counters memory-per-worker" in err


def test_memory_per_worker_counts_in_memory() -> None:
    service = CounterService(build({"counters_backend": "memory-per-worker"}).counters)
    assert service.redis is None and service.backend == "memory"


@pytest.mark.parametrize(
    ("config", "said"),
    [
        (
            ServiceConfig(workers=3, counters=CounterSettings(backend="memory-per-worker")),
            "each of the 3 workers counts on its own, so every limit is 3 times looser",
        ),
        (ServiceConfig(), "counters: memory, in this process only"),
    ],
)
def test_the_start_up_log_says_what_the_counters_guarantee(
    config: ServiceConfig, said: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="receiver.http.server"):
        _announce_counters(config)
    assert said in caplog.text
