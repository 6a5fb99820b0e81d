"""receiver/http/config.py: the service configuration, its defaults, and which addresses
count as loopback (where an endpoint without a credential may stay open)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from receiver.adapters.signatures import Secrets
from receiver.http.config import (
    DEFAULT_DEADLINE_MS,
    DEFAULT_HOST,
    DEFAULT_MAX_BODY,
    DEFAULT_PORT,
    ServiceConfig,
    is_loopback,
    shipped_policies,
    unauthenticated_ok,
)


def test_the_defaults_bind_loopback_port_8080_and_fail_open() -> None:
    config = ServiceConfig()
    assert (config.host, config.port, config.workers) == (DEFAULT_HOST, DEFAULT_PORT, 1)
    assert (DEFAULT_HOST, DEFAULT_PORT) == ("127.0.0.1", 8080)
    assert config.default_action == "allow"
    assert config.deadline_ms == DEFAULT_DEADLINE_MS == 2000
    assert config.max_body == DEFAULT_MAX_BODY == 256 * 1024
    assert config.secrets is None and config.braincloud_tokens is None
    assert config.counters.backend == "memory"


def test_the_deadline_is_given_in_seconds() -> None:
    assert ServiceConfig(deadline_ms=1500).deadline == 1.5


def test_the_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ServiceConfig().port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "ip6-localhost"]
)
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.1", "192.168.1.5", "2001:db8::1"])
def test_hosts_that_reach_other_machines_are_not_loopback(host: str) -> None:
    assert not is_loopback(host)


def test_a_name_that_does_not_resolve_is_not_loopback() -> None:
    assert not is_loopback("no-such-host.invalid")


def test_without_a_credential_only_a_loopback_service_accepts_unauthenticated_calls() -> None:
    assert unauthenticated_ok(ServiceConfig(host="127.0.0.1"), None)
    assert not unauthenticated_ok(ServiceConfig(host="0.0.0.0"), None)
    assert not unauthenticated_ok(ServiceConfig(host="127.0.0.1"), Secrets.parse("s"))


def test_the_shipped_policies_are_the_local_folder_when_there_is_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "policies").mkdir()
    monkeypatch.chdir(tmp_path)
    assert shipped_policies() == Path("policies")


def test_elsewhere_the_shipped_policies_are_the_packaged_starter_policies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    found = shipped_policies()
    assert found.is_absolute()
    assert found.is_dir()
    assert any(found.glob("*.yaml"))
