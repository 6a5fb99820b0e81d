"""pytest configuration of the receiver's own test suite."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis
from hypothesis import settings
from redisproc import RedisProcess, reachable

# tests/golden/ holds policy folders that `receiver check` golden tests read, some with
# deliberately broken *.test.yaml files. They are data, not policy tests: keep the
# receiver pytest plugin (which collects *.test.yaml files) out of them.
collect_ignore = ["golden"]

# Hypothesis profiles. Properties that do not pin their own ``max_examples`` run as many
# examples as the profile says: "dev" (the default) keeps the whole suite quick, "ci"
# tries five times as many. Choose one with HYPOTHESIS_PROFILE=ci|dev; "ci" is also the
# default when the CI variable is set (as CI services do).
settings.register_profile("dev", max_examples=100)
settings.register_profile("ci", max_examples=500, print_blob=True)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis: ``$RECEIVER_TEST_REDIS_URL`` when set (``.ci/run`` starts one), else a
    ``redis-server`` on a free loopback port started here for the session; the tests that
    need it skip when there is neither."""
    given = os.environ.get("RECEIVER_TEST_REDIS_URL")
    if given:
        if not reachable(given, timeout=2):
            pytest.skip(f"RECEIVER_TEST_REDIS_URL={given} does not answer")
        yield given
        return
    try:
        server = RedisProcess(tmp_path_factory.mktemp("redis"))
    except FileNotFoundError:
        pytest.skip("no Redis: set RECEIVER_TEST_REDIS_URL or install redis-server")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def redis_url(redis_server_url: str) -> str:
    """The session's Redis, emptied for each test module: counters that one module's
    servers left (a minute's window of messages from ``member_sam``) must not decide the
    next module's requests."""
    client = redis.Redis.from_url(redis_server_url, socket_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()
    return redis_server_url
