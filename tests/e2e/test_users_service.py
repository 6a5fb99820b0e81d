"""User lookups end to end: the Starlette app (TestClient) and the real ``receiver serve``
process, both against a real local HTTP user service (``fake_directory``); and the
``serve`` settings for user directories (``--config`` file and flags).
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fake_directory import FakeDirectory
from prometheus_client.parser import text_string_to_metric_families
from serverproc import free_port
from starlette.applications import Starlette
from starlette.testclient import TestClient

from receiver import cli
from receiver.adapters.signatures import Secrets, sign_base64, sign_hex
from receiver.adapters.socialplus import FAIL_SAFE_DENY_MESSAGE
from receiver.cli import serve as serve_command
from receiver.errors import ReceiverError
from receiver.http.app import create_app
from receiver.http.config import ServiceConfig
from receiver.http.settings import build
from receiver.observe.decisionlog import DecisionLog
from receiver.users.cache import CacheSettings
from receiver.users.directory import HttpDirectoryConfig

SECRET = "users-test-secret"
WAIT = 60.0  # generous bound for things that should happen quickly
POLICY = """\
policy: users
rules:
  - id: locked-channel
    events: message.shouldCreate
    when: data.channelId == "ch_locked"
    action: deny
    message: locked
  - id: lookup-failed
    events: message.shouldCreate
    when: user_lookup_failed()
    action: deny
    message: try later
  - id: unknown-user
    events: message.shouldCreate
    when: user == null
    action: deny
    message: who are you?
  - id: banned
    events: message.shouldCreate
    when: user.banned == true
    action: deny
    message: banned
  - id: echo
    events: message.shouldCreate
    action: deny
    message: "hello {user.name} v{user.version}"
  - id: closed
    events: channel.shouldJoin
    when: data.channelId == "ch_closed"
    action: deny
    message: closed
"""


def record(name: str, version: int = 1, **extra: Any) -> dict[str, Any]:
    return {"name": name, "version": version, **extra}


def hello(name: str, version: int = 1) -> dict[str, str]:
    return {"action": "deny", "message": f"hello {name} v{version}"}


def message(user_id: str | None, channel: str = "ch_1") -> dict[str, Any]:
    actor = {"userId": user_id, "_id": user_id} if user_id is not None else {}
    return {
        "eventName": "message.shouldCreate",
        "data": {"channelId": channel, "text": "hi"},
        "actor": actor,
    }


def join(user_id: str, channel: str = "ch_1") -> dict[str, Any]:
    return {
        "eventName": "channel.shouldJoin",
        "data": {"channelId": channel},
        "actor": {"userId": user_id},
    }


def user_event(event: str, *user_ids: str) -> dict[str, Any]:
    return {"event": event, "data": {"users": [{"userId": u} for u in user_ids]}}


def signed(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    headers = {
        "content-type": "application/json",
        "x-amity-signature": sign_base64(SECRET.encode(), body),
    }
    return body, headers


def metric(text: str, name: str, **labels: str) -> float:
    """A sample's value in Prometheus text (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


@pytest.fixture
def fake() -> Iterator[FakeDirectory]:
    with FakeDirectory(
        {"u1": record("Ann"), "u2": record("Bo"), "staff": record("Sam", role="admin")}
    ) as service:
        yield service


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    directory = tmp_path / "policies"
    directory.mkdir()
    (directory / "users.yaml").write_text(POLICY, encoding="utf-8")
    return directory


# -- through the Starlette app ----------------------------------------------------------


class Hooks:
    def __init__(self, client: TestClient) -> None:
        self.client = client

    def post(self, payload: dict[str, Any]) -> dict[str, Any]:
        body, headers = signed(payload)
        response = self.client.post("/hooks/socialplus", content=body, headers=headers)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def event(self, payload: dict[str, Any]) -> httpx.Response:
        body, headers = signed(payload)
        return self.client.post("/hooks/socialplus/events", content=body, headers=headers)

    def metric(self, name: str, **labels: str) -> float:
        return metric(self.client.get("/metrics").text, name, **labels)


def make_app(
    policies: Path,
    fake: FakeDirectory,
    *,
    timeout_ms: int = 5_000,
    deadline_ms: int = 10_000,
    default_action: str = "allow",
    **cache: Any,
) -> Starlette:
    cache.setdefault("timeout", timeout_ms / 1000)
    config = ServiceConfig(
        policies=policies,
        secrets=Secrets.parse(SECRET),
        deadline_ms=deadline_ms,
        default_action=default_action,  # type: ignore[arg-type]
        users_http=HttpDirectoryConfig(url=fake.url, timeout_ms=timeout_ms),
        users_cache=CacheSettings(**cache),
    )
    return create_app(config, DecisionLog(io.BytesIO()))


@pytest.fixture
def hooks_for(
    policies: Path, fake: FakeDirectory
) -> Iterator[Callable[..., tuple[Hooks, Starlette]]]:
    clients: list[TestClient] = []

    def start(**settings: Any) -> tuple[Hooks, Starlette]:
        app = make_app(policies, fake, **settings)
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return Hooks(client), app

    yield start
    fake.release()  # nothing may stay hung when the app's event loop closes
    for client in clients:
        client.__exit__(None, None, None)


def test_app_fifty_concurrent_requests_make_one_directory_call(
    hooks_for: Callable[..., tuple[Hooks, Starlette]],
    fake: FakeDirectory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hooks, app = hooks_for(timeout_ms=int(WAIT * 1000), deadline_ms=int(WAIT * 2000))
    cache = app.state.service.user_cache
    lookup = cache.lookup
    waiting = threading.Condition()
    entered = 0

    async def counting_lookup(user_id: str, remaining: float | None = None) -> Any:
        nonlocal entered
        with waiting:
            entered += 1
            waiting.notify_all()
        return await lookup(user_id, remaining)

    monkeypatch.setattr(cache, "lookup", counting_lookup)
    fake.set_mode("hang")
    with ThreadPoolExecutor(50) as pool:
        answers = [pool.submit(hooks.post, message("u1")) for _ in range(50)]
        try:
            with waiting:  # every request is inside the cache, waiting for the directory
                assert waiting.wait_for(lambda: entered == 50, WAIT)
            assert fake.wait_for_calls(1) == 1
        finally:
            fake.release()
        results = [answer.result(WAIT) for answer in answers]
    assert results == [hello("Ann")] * 50
    assert fake.calls == {"u1": 1}
    assert hooks.metric("receiver_user_lookups_total", result="miss") == 50
    assert hooks.post(message("u1")) == hello("Ann")
    assert hooks.metric("receiver_user_lookups_total", result="hit") == 1
    assert fake.calls == {"u1": 1}


def test_app_deadline_holds_and_the_policy_decides_when_the_directory_hangs(
    hooks_for: Callable[..., tuple[Hooks, Starlette]], fake: FakeDirectory
) -> None:
    hooks, _ = hooks_for(timeout_ms=300, deadline_ms=2_000)
    fake.set_mode("hang")
    started = time.perf_counter()
    assert hooks.post(message("u1")) == {"action": "deny", "message": "try later"}
    assert time.perf_counter() - started < 2.0 + 1.5
    assert fake.calls == {"u1": 1}
    assert hooks.metric("receiver_user_lookups_total", result="failed") == 1
    fake.release()


def test_app_lookup_never_outlasts_the_request_deadline(
    hooks_for: Callable[..., tuple[Hooks, Starlette]], fake: FakeDirectory
) -> None:
    hooks, _ = hooks_for(timeout_ms=30_000, deadline_ms=400, default_action="deny")
    fake.set_mode("hang")
    started = time.perf_counter()
    answer = hooks.post(message("u1"))
    elapsed = time.perf_counter() - started
    assert elapsed < 0.4 + 4.0  # the deadline, far from the 30 s lookup timeout
    # at the deadline: the fail-safe answer (or, by a hair before it, the policy's)
    assert answer["action"] == "deny"
    assert answer["message"] in (FAIL_SAFE_DENY_MESSAGE, "try later")
    fake.release()


def test_app_serves_stale_when_the_directory_is_down_after_expiry(
    hooks_for: Callable[..., tuple[Hooks, Starlette]], fake: FakeDirectory
) -> None:
    hooks, _ = hooks_for(ttl=0.3, stale_for=600)
    assert hooks.post(message("u1")) == hello("Ann")
    fetched = time.monotonic()
    fake.stop()
    fake.records["u1"] = record("Ann", 2)
    time.sleep(max(0.0, fetched + 0.4 - time.monotonic()))  # past the ttl, for sure
    assert hooks.post(message("u1")) == hello("Ann", 1)  # stale
    assert hooks.post(message("u2")) == {"action": "deny", "message": "try later"}  # never seen
    assert hooks.metric("receiver_user_lookups_total", result="stale") == 1
    assert hooks.metric("receiver_user_directory_failures_total", reason="error") == 2
    fake.start()
    assert hooks.post(message("u1")) == hello("Ann", 2)  # back: fresh again
    assert fake.calls == {"u1": 2}


def test_app_unknown_users_are_null_and_cached_negatively(
    hooks_for: Callable[..., tuple[Hooks, Starlette]], fake: FakeDirectory
) -> None:
    hooks, _ = hooks_for()
    for _ in range(3):
        assert hooks.post(message("ghost")) == {"action": "deny", "message": "who are you?"}
    assert fake.calls == {"ghost": 1}
    assert hooks.metric("receiver_user_lookups_total", result="negative-hit") == 2


def test_app_events_that_never_read_user_make_no_directory_call(
    hooks_for: Callable[..., tuple[Hooks, Starlette]], fake: FakeDirectory
) -> None:
    hooks, _ = hooks_for()
    assert hooks.post(join("u1")) == {"action": "allow"}
    assert hooks.post(join("u1", "ch_closed")) == {"action": "deny", "message": "closed"}
    no_rules = {"eventName": "post.shouldCreate", "data": {}, "actor": {"userId": "u1"}}
    assert hooks.post(no_rules) == {"action": "allow"}
    # the event reads user, but the rule that ends evaluation comes first
    assert hooks.post(message("u1", "ch_locked")) == {"action": "deny", "message": "locked"}
    # no actor: user is null without asking anyone (and the lookup did not fail)
    assert hooks.post(message(None)) == {"action": "deny", "message": "who are you?"}
    assert fake.total_calls == 0
    text = hooks.client.get("/metrics").text
    assert metric(text, "receiver_user_lookups_total", result="miss") == 0
    assert metric(text, "receiver_user_directory_seconds_count") == 0


def test_app_user_webhooks_evict_the_user(
    hooks_for: Callable[..., tuple[Hooks, Starlette]], fake: FakeDirectory
) -> None:
    hooks, _ = hooks_for(ttl=3600)
    assert hooks.post(message("u1")) == hello("Ann")
    assert hooks.post(message("u2")) == hello("Bo")
    fake.records["u1"] = record("Ann", 2, banned=True)
    assert hooks.post(message("u1")) == hello("Ann")  # cached
    response = hooks.event(user_event("user.didBan", "u1"))
    assert (response.status_code, response.content) == (200, b"{}")
    assert hooks.post(message("u1")) == {"action": "deny", "message": "banned"}
    assert hooks.post(message("u2")) == hello("Bo")  # not evicted
    assert fake.calls == {"u1": 2, "u2": 1}
    assert hooks.metric("receiver_user_evictions_total") == 1

    fake.records["u1"] = record("Ann", 3)
    fake.records["u2"] = record("Bo", 3)
    response = hooks.event(user_event("user.didUnban", "u1", "u2", "never-cached"))
    assert response.status_code == 200
    assert hooks.post(message("u1")) == hello("Ann", 3)
    assert hooks.post(message("u2")) == hello("Bo", 3)
    assert hooks.metric("receiver_user_evictions_total") == 3

    fake.records["u1"] = record("Ann", 4)
    assert hooks.event(user_event("user.didUpdate", "u1")).status_code == 200
    assert hooks.post(message("u1")) == hello("Ann", 4)
    assert fake.calls == {"u1": 4, "u2": 2}


def test_app_other_and_unsigned_webhooks_evict_nothing(
    hooks_for: Callable[..., tuple[Hooks, Starlette]], fake: FakeDirectory
) -> None:
    hooks, _ = hooks_for(ttl=3600)
    assert hooks.post(message("u1")) == hello("Ann")
    fake.records["u1"] = record("Ann", 2)
    other = {"event": "message.didCreate", "data": {"users": [{"userId": "u1"}]}}
    assert hooks.event(other).status_code == 200
    body = json.dumps(user_event("user.didBan", "u1")).encode()
    unsigned = hooks.client.post("/hooks/socialplus/events", content=body)
    assert unsigned.status_code == 401
    wrong = {"x-signature": sign_hex(b"not-the-secret", body)}
    response = hooks.client.post("/hooks/socialplus/events", content=body, headers=wrong)
    assert response.status_code == 401
    bad, headers = b"{not json", {"x-signature": sign_hex(SECRET.encode(), b"{not json")}
    response = hooks.client.post("/hooks/socialplus/events", content=bad, headers=headers)
    assert response.status_code == 400
    assert hooks.post(message("u1")) == hello("Ann")  # still the cached record
    assert fake.calls == {"u1": 1}
    assert hooks.metric("receiver_user_evictions_total") == 0


# -- through the real `receiver serve` process ------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base: str
    log: Path

    def post(self, payload: dict[str, Any], client: httpx.Client | None = None) -> Any:
        body, headers = signed(payload)
        poster = client or httpx
        response = poster.post(
            f"{self.base}/hooks/socialplus", content=body, headers=headers, timeout=WAIT
        )
        assert response.status_code == 200, response.text
        return response.json()

    def event(self, payload: dict[str, Any]) -> httpx.Response:
        body, headers = signed(payload)
        return httpx.post(
            f"{self.base}/hooks/socialplus/events", content=body, headers=headers, timeout=WAIT
        )

    def metric(self, name: str, **labels: str) -> float:
        return metric(httpx.get(f"{self.base}/metrics", timeout=WAIT).text, name, **labels)


def start_server(args: list[str], tmp_path: Path, env: dict[str, str]) -> Server:
    log = tmp_path / f"serve-{len(list(tmp_path.glob('serve-*.log')))}.log"
    for _attempt in range(3):  # another process may take the free port first
        port = free_port()
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "receiver", "serve", "--port", str(port), *args],
                stdout=subprocess.DEVNULL,
                stderr=out,
                cwd=tmp_path,
                env={**os.environ, "RECEIVER_SOCIALPLUS_SECRET": SECRET, **env},
            )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                    return Server(process, base, log)
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        stop_server(process)
        if "address already in use" not in log.read_text().lower():
            break
    pytest.fail(f"receiver serve did not become ready:\n{log.read_text()}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(WAIT)


@pytest.fixture
def serve_with(
    tmp_path: Path, policies: Path, fake: FakeDirectory
) -> Iterator[Callable[..., Server]]:
    """``receiver serve --config FILE`` with an http directory behind a bearer token."""
    servers: list[Server] = []

    def start(deadline_ms: int = 1500, **users: Any) -> Server:
        settings = {
            "url": fake.url,
            "headers": {"Authorization": "Bearer ${USERS_TEST_TOKEN}"},
            "ttl": 3600,
            "negative_ttl": 60,
            **users,
        }
        config = tmp_path / f"receiver-{len(servers)}.yaml"
        text = yaml.safe_dump(
            {"policies": "policies", "deadline_ms": deadline_ms, "users": settings}
        )
        config.write_text(text, encoding="utf-8")
        server = start_server(["--config", str(config)], tmp_path, {"USERS_TEST_TOKEN": "t0ken"})
        servers.append(server)
        return server

    yield start
    fake.release()
    for server in servers:
        stop_server(server.process)


def test_serve_fifty_concurrent_requests_make_one_directory_call(
    serve_with: Callable[..., Server], fake: FakeDirectory
) -> None:
    served = serve_with(timeout_ms=5_000)
    sent = threading.Semaphore(0)

    def trace(name: str, info: dict[str, Any]) -> None:
        if name == "http11.send_request_body.complete":
            sent.release()

    def post(client: httpx.Client) -> Any:
        body, headers = signed(message("u1"))
        response = client.post(
            f"{served.base}/hooks/socialplus",
            content=body,
            headers=headers,
            timeout=WAIT,
            extensions={"trace": trace},
        )
        return response.json()

    fake.set_mode("hang")
    limits = httpx.Limits(max_connections=50)
    with httpx.Client(limits=limits) as client, ThreadPoolExecutor(50) as pool:
        answers = [pool.submit(post, client) for _ in range(50)]
        try:
            for _ in range(50):  # every request is sent...
                assert sent.acquire(timeout=WAIT)
            assert fake.wait_for_calls(1) == 1  # ...and the one directory call hangs
            time.sleep(0.3)  # only makes the proof stronger (more "miss"); not needed to pass
        finally:
            fake.release()
        results = [answer.result(WAIT) for answer in answers]
    assert fake.calls == {"u1": 1}
    hits = served.metric("receiver_user_lookups_total", result="hit")
    misses = served.metric("receiver_user_lookups_total", result="miss")
    failed = served.metric("receiver_user_lookups_total", result="failed")
    assert hits + misses + failed == 50
    assert misses >= 2  # at least two requests waited for the same (only) call
    assert results.count(hello("Ann")) == hits + misses
    assert results.count({"action": "deny", "message": "try later"}) == failed
    assert fake.headers[0]["authorization"] == "Bearer t0ken"


def test_serve_deadline_holds_when_the_directory_hangs(
    serve_with: Callable[..., Server], fake: FakeDirectory
) -> None:
    served = serve_with(deadline_ms=1500, timeout_ms=300)
    fake.set_mode("hang")
    started = time.perf_counter()
    assert served.post(message("u1")) == {"action": "deny", "message": "try later"}
    assert time.perf_counter() - started < 1.5 + 2.0
    assert served.metric("receiver_user_lookups_total", result="failed") == 1
    fake.release()


def test_serve_invalidation_through_the_events_webhook(
    serve_with: Callable[..., Server], fake: FakeDirectory
) -> None:
    served = serve_with()
    assert served.post(join("u1")) == {"action": "allow"}  # never reads user
    assert served.post(message("u1", "ch_locked")) == {"action": "deny", "message": "locked"}
    assert fake.total_calls == 0
    assert served.post(message("u1")) == hello("Ann")
    fake.records["u1"] = record("Ann", 2, banned=True)
    assert served.post(message("u1")) == hello("Ann")
    assert fake.calls == {"u1": 1}
    response = served.event(user_event("user.didBan", "u1"))
    assert (response.status_code, response.content) == (200, b"{}")
    assert served.post(message("u1")) == {"action": "deny", "message": "banned"}
    assert fake.calls == {"u1": 2}
    assert served.metric("receiver_user_evictions_total") == 1


def test_serve_with_flags_serves_stale_when_the_directory_goes_down(
    tmp_path: Path, policies: Path, fake: FakeDirectory
) -> None:
    args = [
        "--policies", str(policies),
        "--users-url", fake.url,
        "--users-header", "X-Api-Key: ${USERS_TEST_KEY}",
        "--users-ttl", "0.3",
        "--users-stale-for", "600",
        "--users-timeout-ms", "2000",
    ]  # fmt: skip
    server = start_server(args, tmp_path, {"USERS_TEST_KEY": "k3y"})
    try:
        assert server.post(message("u1")) == hello("Ann")
        fetched = time.monotonic()
        fake.stop()
        fake.records["u1"] = record("Ann", 2)
        time.sleep(max(0.0, fetched + 0.4 - time.monotonic()))  # past the ttl, for sure
        assert server.post(message("u1")) == hello("Ann", 1)
        assert server.metric("receiver_user_lookups_total", result="stale") == 1
        fake.start()
        assert server.post(message("u1")) == hello("Ann", 2)
        assert fake.headers[0]["x-api-key"] == "k3y"
    finally:
        stop_server(server.process)


# -- settings -----------------------------------------------------------------------------


def test_without_user_settings_there_is_no_http_directory() -> None:
    config = build({})
    assert config.users_http is None
    assert config.users is None
    assert config.users_cache == CacheSettings(
        maxsize=10_000, ttl=60.0, negative_ttl=10.0, stale_for=300.0, timeout=0.3
    )


def test_flags_configure_the_http_directory_and_the_cache(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("USERS_TEST_TOKEN", "t0ken")
    config = build(
        {
            "users_url": "https://users.internal/v1/users/{userId}",
            "users_header": ["Authorization: Bearer ${USERS_TEST_TOKEN}", "X-Team: t&s"],
            "users_record_path": "data.user",
            "users_timeout_ms": 250,
            "users_cache_size": 500,
            "users_ttl": 30.0,
            "users_negative_ttl": 5.0,
            "users_stale_for": 0.0,
        }
    )
    assert config.users_http == HttpDirectoryConfig(
        url="https://users.internal/v1/users/{userId}",
        headers={"Authorization": "Bearer ${USERS_TEST_TOKEN}", "X-Team": "t&s"},  # expanded at use
        record_path="data.user",
        timeout_ms=250,
    )
    assert config.users_cache == CacheSettings(
        maxsize=500, ttl=30.0, negative_ttl=5.0, stale_for=0.0, timeout=0.25
    )


def test_the_config_file_configures_users_and_flags_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USERS_TEST_TOKEN", "t0ken")
    config_file = tmp_path / "conf" / "receiver.yaml"
    config_file.parent.mkdir()
    config_file.write_text(
        """\
policies: ../policies
users:
  url: http://127.0.0.1:9/users/{userId}
  headers: {Authorization: "Bearer ${USERS_TEST_TOKEN}"}
  record_path: user
  timeout_ms: 150
  cache_size: 42
  ttl: 120
  negative_ttl: 15
  stale_for: 900
""",
        encoding="utf-8",
    )
    config = build({"config": config_file})
    assert config.policies == config_file.parent / "../policies"
    assert config.users_http == HttpDirectoryConfig(
        url="http://127.0.0.1:9/users/{userId}",
        headers={"Authorization": "Bearer ${USERS_TEST_TOKEN}"},
        record_path="user",
        timeout_ms=150,
    )
    assert config.users_cache == CacheSettings(
        maxsize=42, ttl=120, negative_ttl=15, stale_for=900, timeout=0.15
    )
    config = build({"config": config_file, "users_ttl": 7.0, "users_timeout_ms": 90})
    assert config.users_cache.ttl == 7.0
    assert config.users_cache.timeout == 0.09
    assert config.users_http is not None
    assert config.users_http.timeout_ms == 90


def test_a_users_file_in_the_config_file_is_relative_to_it(tmp_path: Path) -> None:
    config_file = tmp_path / "receiver.yaml"
    config_file.write_text("users:\n  file: users.yaml\n", encoding="utf-8")
    config = build({"config": config_file})
    assert config.users == tmp_path / "users.yaml"
    assert config.users_http is None


@pytest.mark.parametrize(
    ("text", "flags", "message"),
    [
        ("users: {file: u.yaml, url: 'http://h/{userId}'}", {}, "either a users file or"),
        ("users: {file: u.yaml}", {"users_url": "http://h/{userId}"}, "either a users file or"),
        ("users: {url: 'http://h/{userId}'}", {"users": Path("u.yaml")}, "either a users file"),
        ("user: {url: 'http://h/{userId}'}", {}, "unknown setting 'user'"),
        ("users: {url: 'http://h/{userId}', ttl_s: 5}", {}, "unknown setting 'users.ttl_s'"),
        ("users: {url: 'http://h/{userId}', ttl: soon}", {}, "'users.ttl' must be a number"),
        ("users: {url: 'http://h/{userId}', headers: x}", {}, "'users.headers' must be a map"),
        ("users: {url: 'http://h/{userId}', headers: {X-V: 2}}", {}, "X-V: the value must be"),
        ("users: {url: 'http://h/{userId}', ttl: -1}", {}, "users-ttl must be positive"),
        ("users: {url: 'http://h/users'}", {}, r"must contain \{userId\}"),
        ("users: {url: 'file:///{userId}'}", {}, "must be http"),
        (
            "users: {url: 'http://h/{userId}', headers: {A: 'Bearer ${USERS_UNSET_VAR}'}}",
            {},
            r"\$\{USERS_UNSET_VAR\}, which is not set",
        ),
        ("users: [1, 2]", {}, "'users' must be a mapping"),
        ("users: {url: 'http://h/{userId}'", {}, "YAML syntax error"),
    ],
)
def test_bad_user_settings_are_errors(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    flags: dict[str, Any],
    message: str,
) -> None:
    monkeypatch.delenv("USERS_UNSET_VAR", raising=False)
    config_file = tmp_path / "receiver.yaml"
    config_file.write_text(text + "\n", encoding="utf-8")
    with pytest.raises(ReceiverError, match=message):
        build({"config": config_file, **flags})


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"users": Path("u.yaml"), "users_url": "http://h/{userId}"}, "either a users file"),
        ({"users_url": "http://h/{userId}", "users_header": ["NoColon"]}, "Name: value"),
        ({"users_url": "http://h/{userId}", "users_header": [": v"]}, "Name: value"),
        ({"users_url": "http://h/{userId}", "users_timeout_ms": 0}, "must be positive"),
        ({"users_cache_size": 0}, "must be positive"),
        (
            {"users_url": "http://h/{userId}", "users_header": ["A: ${USERS_UNSET_VAR}"]},
            "USERS_UNSET_VAR",
        ),
    ],
)
def test_bad_user_flags_are_errors(
    monkeypatch: pytest.MonkeyPatch, flags: dict[str, Any], message: str
) -> None:
    monkeypatch.delenv("USERS_UNSET_VAR", raising=False)
    with pytest.raises(ReceiverError, match=message):
        build(flags)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--users-url", "http://127.0.0.1:9/{userId}", "--users-header", "A: ${USERS_UNSET}"],
         "${USERS_UNSET}, which is not set"),
        (["--config", "missing.yaml"], "cannot read the config file"),
        (["--users", "u.yaml", "--users-url", "http://127.0.0.1:9/{userId}"], "not both"),
    ],
)  # fmt: skip
def test_serve_refuses_bad_user_settings_with_a_message(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    monkeypatch.delenv("USERS_UNSET", raising=False)
    monkeypatch.chdir(tmp_path)

    def started(config: object) -> int:
        raise AssertionError("serve started despite the bad settings")

    # in-process: refused before serving (the command's own reference to serve())
    monkeypatch.setattr(serve_command, "serve", started)
    code = cli.main(["serve", "--port", "9", *args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err
