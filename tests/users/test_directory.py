"""receiver/users/directory.py: HttpDirectory (URLs, headers, record paths, answers)
against the real HTTP fake directory (tests/fake_directory.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar

import httpx
import pytest
from fake_directory import FakeDirectory

from receiver.users.directory import (
    DirectoryConfigError,
    DirectoryError,
    HttpDirectory,
    HttpDirectoryConfig,
    expand_env,
    new_client,
)

T = TypeVar("T")
ALICE = {"role": "member", "version": 1}
WAIT = 30.0  # how long a test waits for something that should happen at once


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def within(awaitable: Awaitable[T], seconds: float = WAIT) -> T:
    return await asyncio.wait_for(awaitable, seconds)


@pytest.fixture
def fake() -> Iterator[FakeDirectory]:
    with FakeDirectory({"alice": ALICE, "bob": {"role": "admin"}}) as service:
        yield service


def http_directory(fake: FakeDirectory, client: httpx.AsyncClient, **config: Any) -> HttpDirectory:
    return HttpDirectory(HttpDirectoryConfig(url=config.pop("url", fake.url), **config), client)


async def fetch(fake: FakeDirectory, user_id: str, **config: Any) -> dict[str, Any] | None:
    async with new_client(10_000) as client:
        return await http_directory(fake, client, **config).fetch(user_id)


@pytest.mark.parametrize(
    ("user_id", "raw"),
    [
        ("a/b c?d#e%f", "a%2Fb%20c%3Fd%23e%25f"),
        ("../admin", "..%2Fadmin"),
        ("..", "%2E%2E"),
        (".", "%2E"),
        ("ünï 用户", "%C3%BCn%C3%AF%20%E7%94%A8%E6%88%B7"),
        ("{userId}", "%7BuserId%7D"),
    ],
)
def test_user_ids_are_one_quoted_path_segment(fake: FakeDirectory, user_id: str, raw: str) -> None:
    fake.records[user_id] = {"odd": True}
    assert run(fetch(fake, user_id)) == {"odd": True}
    assert fake.paths == [f"/v1/users/{raw}"]
    assert fake.calls == {user_id: 1}


def test_an_empty_user_id_is_no_user_without_a_call(fake: FakeDirectory) -> None:
    assert run(fetch(fake, "")) is None
    assert fake.total_calls == 0


def test_headers_take_secrets_from_the_environment(
    fake: FakeDirectory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USERS_TOKEN_FOR_TEST", "s3cret")
    headers = {"Authorization": "Bearer ${USERS_TOKEN_FOR_TEST}", "X-Plain": "a $b {c}"}
    assert run(fetch(fake, "alice", headers=headers)) == ALICE
    sent = fake.headers[0]
    assert sent["authorization"] == "Bearer s3cret"
    assert sent["x-plain"] == "a $b {c}"
    assert sent["accept"] == "application/json"


def test_a_header_naming_a_missing_variable_is_a_config_error(
    fake: FakeDirectory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("USERS_TOKEN_NOT_SET", raising=False)

    async def main() -> None:
        async with new_client(300) as client:
            with pytest.raises(DirectoryConfigError, match=r"\$\{USERS_TOKEN_NOT_SET\}"):
                http_directory(fake, client, headers={"Authorization": "${USERS_TOKEN_NOT_SET}"})

    run(main())


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:1/v1/users", r"\{userId\}"),
        ("ftp://127.0.0.1/{userId}", "http"),
        ("users/{userId}", "http"),
    ],
)
def test_bad_urls_are_config_errors(url: str, message: str) -> None:
    with pytest.raises(DirectoryConfigError, match=message):
        HttpDirectoryConfig(url=url).check()


def test_the_record_path_picks_the_record_out_of_the_answer(fake: FakeDirectory) -> None:
    fake.envelope = "data.user"
    assert run(fetch(fake, "alice", record_path="data.user")) == ALICE
    assert run(fetch(fake, "ghost", record_path="data.user")) is None  # 404
    fake.raw["nobody"] = (200, b'{"data": {"user": null}}')
    assert run(fetch(fake, "nobody", record_path="data.user")) is None
    fake.raw["list"] = (200, b'{"data": {"user": ["not", "a", "record"]}}')
    with pytest.raises(DirectoryError, match="list, not an object"):
        run(fetch(fake, "list", record_path="data.user"))


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (500, b'{"error": "x"}', "HTTP 500"),
        (302, b"", "HTTP 302"),
        (200, b"<html>", "not JSON"),
        (200, b'["a"]', "list, not an object"),
        (200, b'"alice"', "str, not an object"),
    ],
)
def test_unusable_answers_are_directory_errors(
    fake: FakeDirectory, status: int, body: bytes, message: str
) -> None:
    fake.raw["alice"] = (status, body)
    with pytest.raises(DirectoryError, match=message):
        run(fetch(fake, "alice"))


def test_404_means_no_such_user(fake: FakeDirectory) -> None:
    assert run(fetch(fake, "ghost")) is None
    assert fake.calls == {"ghost": 1}


@pytest.mark.parametrize("mode", ["500", "invalid-json", "reset"])
def test_broken_services_are_directory_errors(fake: FakeDirectory, mode: str) -> None:
    fake.set_mode(mode)
    with pytest.raises(DirectoryError):
        run(fetch(fake, "alice"))


def test_a_service_that_is_down_is_a_directory_error(fake: FakeDirectory) -> None:
    fake.stop()
    with pytest.raises(DirectoryError, match="ConnectError"):
        run(fetch(fake, "alice"))


def test_calls_beyond_max_in_flight_wait_for_a_slot(fake: FakeDirectory) -> None:
    fake.set_mode("hang")

    async def main() -> None:
        async with new_client(60_000) as client:
            config = HttpDirectoryConfig(url=fake.url)
            directory = HttpDirectory(config, client, max_in_flight=2)
            users = ["alice", "bob", "u3", "u4", "u5"]
            fetches = asyncio.gather(*(directory.fetch(u) for u in users))
            assert await asyncio.to_thread(fake.wait_for_calls, 2) == 2
            await asyncio.sleep(0.2)  # the other three stay queued here, not in the pool
            assert fake.total_calls == 2
            fake.release()
            results = await within(fetches)
        assert results == [ALICE, {"role": "admin"}, None, None, None]
        assert fake.total_calls == 5

    run(main())


def test_one_pooled_connection_serves_sequential_lookups(fake: FakeDirectory) -> None:
    async def main() -> None:
        async with new_client(10_000) as client:
            directory = http_directory(fake, client)
            for _ in range(5):
                assert await directory.fetch("alice") == ALICE

    connections: list[int] = []
    original: Callable[..., None] = fake._opened

    def count(conn: Any) -> None:
        connections.append(1)
        original(conn)

    fake._opened = count  # type: ignore[method-assign]
    run(main())
    assert fake.calls == {"alice": 5}
    assert len(connections) == 1  # keep-alive: one connection for all five calls


def test_expand_env_replaces_each_variable_and_leaves_other_dollars(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DIR_TEST_A", "one")
    monkeypatch.setenv("DIR_TEST_B", "two")
    assert expand_env("${DIR_TEST_A}-${DIR_TEST_B} $DIR_TEST_A ${}", "header x") == (
        "one-two $DIR_TEST_A ${}"
    )


def test_a_good_config_passes_its_check() -> None:
    HttpDirectoryConfig(url="HTTPS://users.internal/v1/users/{userId}").check()


def test_url_for_quotes_the_id_into_the_template() -> None:
    async def main() -> str:
        async with new_client(300) as client:
            config = HttpDirectoryConfig(url="http://127.0.0.1:1/u/{userId}?full=1")
            return HttpDirectory(config, client).url_for("a b")

    assert run(main()) == "http://127.0.0.1:1/u/a%20b?full=1"


def test_new_client_follows_no_redirects_and_scales_its_timeout() -> None:
    async def main() -> None:
        async with new_client(200, max_connections=7) as client:
            assert client.follow_redirects is False
            assert client.timeout.read == pytest.approx(0.6)
            assert client.timeout.connect == pytest.approx(0.6)
            assert client.headers["user-agent"] == "receiver"

    run(main())
