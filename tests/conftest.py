"""pytest configuration of the receiver's own test suite."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest
import redis
from hypothesis import settings
from serverproc import free_port, wait_for

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


def _reachable(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except redis.RedisError:
        return False


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis: ``$RECEIVER_TEST_REDIS_URL`` when set (``.ci/run`` starts one), else a
    ``redis-server`` on a free loopback port started here for the session; the tests that
    need it skip when there is neither."""
    given = os.environ.get("RECEIVER_TEST_REDIS_URL")
    if given:
        if not _reachable(given):
            pytest.skip(f"RECEIVER_TEST_REDIS_URL={given} does not answer")
        yield given
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no Redis: set RECEIVER_TEST_REDIS_URL or install redis-server")
    port = free_port()
    log = tmp_path_factory.mktemp("redis") / "redis.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary, "--save", "", "--appendonly", "no", "--bind", "127.0.0.1",
             "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_for("redis-server", lambda: _reachable(url), 20)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


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
