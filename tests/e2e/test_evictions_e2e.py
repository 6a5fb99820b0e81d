"""User-cache evictions end to end: a webhook sent to one replica reaches every worker of
every replica, through the real ``receiver serve`` processes in the production shape.

Two ``receiver serve --workers 2`` processes (signatures on, a metrics token, Redis
counters on one Redis, an HTTP user directory from ``fake_directory``). Each worker's
cache is warmed on its own (the others are stopped with SIGSTOP meanwhile, so the
kernel hands it every new connection; ``serverproc.Server.only``); the directory counts
fetches per user. Then the record changes, the user webhook goes to ONE process, and
every worker of both processes answers with the new record. Every wait is bounded.

The start-up log line for the case without Redis, and a webhook answered while Redis is
unreachable, are checked in-process (the real app and its lifespan).
"""

from __future__ import annotations

import io
import json
import logging
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_directory import FakeDirectory
from prometheus_client.parser import text_string_to_metric_families
from serverproc import Launch, Server, launcher, policy_dir, wait_for
from starlette.testclient import TestClient

from receiver.adapters.signatures import Secrets, sign_base64
from receiver.counters.settings import CounterSettings
from receiver.http import server as http_server
from receiver.http.app import create_app
from receiver.http.config import ServiceConfig
from receiver.observe.decisionlog import DecisionLog
from receiver.users.cache import CacheSettings
from receiver.users.directory import HttpDirectoryConfig

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGSTOP"), reason="POSIX signals (SIGSTOP, process groups) needed"
)

SECRET = "evictions-secret"
METRICS_TOKEN = "evictions-metrics-token"
WAIT = 10.0  # far above the fan-out time (milliseconds), far below a TTL of an hour
POLICY = """\
policy: users
rules:
  - id: echo
    events: message.shouldCreate
    action: deny
    message: "hello {user.name} v{user.version}"
"""
EVENTS = "/hooks/socialplus/events"


def message(user: str) -> dict[str, Any]:
    return {
        "eventName": "message.shouldCreate",
        "data": {"channelId": "ch_1", "data": {"text": "hi"}},
        "actor": {"userId": user},
    }


def greeting(server: Server, user: str) -> str:
    response = server.post(message(user), key=SECRET)
    assert response.status_code == 200, response.text
    text: str = response.json()["message"]
    return text


def post_event(server: Server, event: dict[str, Any]) -> httpx.Response:
    body = json.dumps(event).encode()
    headers = {
        "content-type": "application/json",
        "x-amity-signature": sign_base64(SECRET.encode(), body),
    }
    return server.client.post(server.base + EVENTS, content=body, headers=headers)


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    with launcher(tmp_path) as start:
        yield start


def test_a_webhook_to_one_replica_evicts_the_user_in_every_worker_of_every_replica(
    launch: Launch, tmp_path: Path, redis_url: str
) -> None:
    with FakeDirectory(
        {"u1": {"name": "Ann", "version": 1}, "u2": {"name": "Bo", "version": 1}}
    ) as fake:
        args = (
            "--policies", str(policy_dir(tmp_path, POLICY)),
            "--counters", "redis", "--redis-url", redis_url,
            "--users-url", fake.url, "--users-ttl", "3600",
        )  # fmt: skip
        env = {"RECEIVER_SOCIALPLUS_SECRET": SECRET, "RECEIVER_METRICS_TOKEN": METRICS_TOKEN}
        servers = [launch(*args, env=env, workers=2) for _ in range(2)]
        for server in servers:
            wait_for(
                "both workers' subscriptions",
                lambda s=server: s.metric("receiver_user_eviction_subscriptions_total") == 2,
                WAIT,
            )
        workers = [(server, pid) for server in servers for pid in sorted(server.workers())]
        assert len(workers) == 4
        for server, pid in workers:
            with server.only(pid):
                assert greeting(server, "u1") == "hello Ann v1"
                assert greeting(server, "u2") == "hello Bo v1"
        assert fake.calls == {"u1": 4, "u2": 4}  # one fetch per worker: four caches
        for server, pid in workers:  # all cached now
            with server.only(pid):
                assert greeting(server, "u1") == "hello Ann v1"
        assert fake.calls == {"u1": 4, "u2": 4}

        fake.records["u1"] = {"name": "Ann", "version": 2}
        started = time.monotonic()
        webhook = {"event": "user.didUpdate", "data": {"users": [{"userId": "u1"}]}}
        response = post_event(servers[0], webhook)
        assert (response.status_code, response.content) == (200, b"{}")

        def received() -> float:  # peer messages applied, over both replicas
            return sum(
                s.metric("receiver_user_eviction_messages_total", result="peer") for s in servers
            )

        wait_for("the three other workers", lambda: received() == 3, WAIT)
        for server, pid in workers:
            with server.only(pid):
                assert greeting(server, "u1") == "hello Ann v2"
                assert greeting(server, "u2") == "hello Bo v1"  # not evicted
        assert time.monotonic() - started < WAIT
        assert fake.calls == {"u1": 8, "u2": 4}  # every worker fetched u1 again, once
        evicted = [
            (s.metric("receiver_user_evictions_total", origin="local"),
             s.metric("receiver_user_evictions_total", origin="peer"))
            for s in servers
        ]  # fmt: skip
        assert evicted == [(1, 1), (0, 2)]
        assert servers[0].metric("receiver_user_eviction_messages_total", result="own") == 1
        assert sum(s.metric("receiver_user_eviction_fanout_seconds_count") for s in servers) == 3
        assert sum(s.metric("receiver_user_eviction_publish_failures_total") for s in servers) == 0
        for server in servers:
            assert "Traceback" not in server.err()
            assert "user-cache evictions reach every worker of every replica" in server.err()


def _config(workers: int, redis_url: str | None) -> ServiceConfig:
    return ServiceConfig(
        workers=workers,
        secrets=Secrets.parse(SECRET),
        users_http=HttpDirectoryConfig("http://127.0.0.1:9/{userId}"),
        users_cache=CacheSettings(ttl=45),
        counters=CounterSettings(redis_url=redis_url),
    )


@pytest.mark.parametrize(
    ("workers", "redis_url", "expected"),
    [
        (2, None, "no Redis URL: a user webhook evicts the user in the one worker"),
        (2, "redis://127.0.0.1:9/0", "reach every worker of every replica through Redis"),
        (1, None, None),
    ],
)
def test_the_start_up_log_says_where_an_eviction_reaches(
    caplog: pytest.LogCaptureFixture, workers: int, redis_url: str | None, expected: str | None
) -> None:
    with caplog.at_level(logging.INFO, logger="receiver.http.server"):
        http_server._announce(_config(workers, redis_url))
    lines = [r.getMessage() for r in caplog.records if "evict" in r.getMessage()]
    if expected is None:
        assert lines == []
    else:
        assert len(lines) == 1
        assert expected in lines[0]
    if redis_url is None and workers > 1:
        assert "the other workers of this replica (1) and every other replica" in lines[0]
        assert "--users-ttl, 45 s" in lines[0]


def test_the_webhook_is_answered_at_once_when_redis_is_unreachable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """In process (the real app and lifespan): the local eviction happens, the failed
    publish is counted and logged once, and the platform gets ``200 {}`` within the
    publish timeout, never a 500."""
    with (
        socket.socket() as closed,
        FakeDirectory({"u1": {"name": "Ann", "version": 1}}) as fake,
    ):
        closed.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        config = ServiceConfig(
            policies=policy_dir(tmp_path, POLICY),
            secrets=Secrets.parse(SECRET),
            users_http=HttpDirectoryConfig(fake.url),
            users_cache=CacheSettings(ttl=3600),
            counters=CounterSettings(redis_url=f"redis://127.0.0.1:{closed.getsockname()[1]}/0"),
        )
        webhook = {"event": "user.didBan", "data": {"users": [{"userId": "u1"}]}}
        body = json.dumps(webhook).encode()
        headers = {"x-amity-signature": sign_base64(SECRET.encode(), body)}
        with (
            caplog.at_level(logging.INFO, logger="receiver"),
            TestClient(create_app(config, DecisionLog(io.BytesIO()))) as client,
        ):
            message_body = json.dumps(message("u1")).encode()
            signed = {"x-amity-signature": sign_base64(SECRET.encode(), message_body)}
            for version in (1, 2):
                fake.records["u1"] = {"name": "Ann", "version": version}
                answer = client.post("/hooks/socialplus", content=message_body, headers=signed)
                assert answer.json()["message"] == f"hello Ann v{version}"
                started = time.monotonic()
                response = client.post(EVENTS, content=body, headers=headers)
                assert (response.status_code, response.content) == (200, b"{}")
                assert time.monotonic() - started < 2.0
            text = client.get("/metrics").text
        assert fake.calls["u1"] == 2  # evicted locally both times
        assert metric(text, "receiver_user_eviction_publish_failures_total") == 2
        assert metric(text, "receiver_user_evictions_total", origin="local") == 2
        lines = [r.getMessage() for r in caplog.records]
        assert len([line for line in lines if "could not publish" in line]) == 1
        assert len([line for line in lines if "NOT published" in line]) == 2


def metric(text: str, name: str, **labels: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )
