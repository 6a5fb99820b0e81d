"""Tests for receiver.http.reload: failures of any kind, the time limit, coalescing, the watcher.

Reloads run the real child process (``spawn``) unless a test replaces the module's
own helpers in ``receiver.http.reload`` (a pure-Python module) to count or to fail.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from hostile_policies import BOMB

from receiver.dsl.values import Timestamp
from receiver.errors import ReceiverError
from receiver.http import reload
from receiver.http.config import DEFAULT_RELOAD_TIMEOUT
from receiver.http.reload import LivePolicies, ReloadFailed, check_in_child, check_with_time_limit
from receiver.http.settings import build
from receiver.runtime.evaluator import evaluate
from receiver.runtime.payload import parse_event

GOOD = """\
policy: chat
rules:
  - id: forbidden
    events: message.shouldCreate
    when: text contains "{word}"
    action: deny
"""
BROKEN = GOOD.replace('text contains "{word}"', "len(text >")
TOO_DEEP = GOOD.replace('text contains "{word}"', " or ".join(['text == "x"'] * 1000))


def good(word: str) -> str:
    return GOOD.replace("{word}", word)


class Counted:
    """The on_reload callback: every (ok, revision) it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[bool, str]] = []

    def __call__(self, ok: bool, revision: str) -> None:
        self.calls.append((ok, revision))

    @property
    def failed(self) -> int:
        return sum(1 for ok, _ in self.calls if not ok)

    @property
    def ok(self) -> int:
        return sum(1 for ok, _ in self.calls if ok)


def live_policies(tmp_path: Path, timeout: float = 30.0) -> tuple[LivePolicies, Counted, Path]:
    directory = tmp_path / "policies"
    directory.mkdir()
    (directory / "chat.yaml").write_text(good("forbidden"), encoding="utf-8")
    counted = Counted()
    live = LivePolicies(directory, None, counted, timeout)
    live.load()
    return live, counted, directory


def denies(live: LivePolicies, word: str) -> bool:
    event = parse_event({"eventName": "message.shouldCreate", "data": {"text": word}})
    tree = live.current.policies.tree(event.name)
    return evaluate(tree, event, Timestamp(time.time())).action == "deny"


@pytest.mark.parametrize(
    ("text", "said"),
    [(BROKEN, "chat.yaml:5:"), (TOO_DEEP, "too-deep"), (BOMB, "yaml-alias")],
    ids=["syntax", "too-deep", "alias-bomb"],
)
def test_a_failed_reload_is_logged_counted_and_keeps_the_old_set(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str, said: str
) -> None:
    live, counted, directory = live_policies(tmp_path)
    before = live.current.revision
    (directory / "chat.yaml").write_text(text, encoding="utf-8")
    started = time.perf_counter()
    with caplog.at_level(logging.ERROR, logger="receiver.http.reload"):
        assert asyncio.run(live.reload_async()) is False
    assert time.perf_counter() - started < 20
    assert f"still serving revision {before}" in caplog.text
    assert said in caplog.text
    assert counted.calls[-1] == (False, "")
    assert live.current.revision == before
    assert denies(live, "forbidden")


def test_a_good_reload_goes_through_the_child_and_swaps(tmp_path: Path) -> None:
    live, counted, directory = live_policies(tmp_path)
    (directory / "chat.yaml").write_text(good("verboten"), encoding="utf-8")
    assert asyncio.run(live.reload_async()) is True
    assert counted.calls[-1] == (True, live.current.revision)
    assert denies(live, "verboten")
    assert not denies(live, "forbidden")


def test_an_internal_error_while_building_is_logged_with_its_kind_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    live, counted, directory = live_policies(tmp_path)
    before = live.current.revision
    (directory / "chat.yaml").write_text(good("verboten"), encoding="utf-8")

    def broken(*_: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(reload, "load_snapshot", broken)
    with caplog.at_level(logging.ERROR, logger="receiver.http.reload"):
        assert asyncio.run(live.reload_async()) is False
        assert live.reload() is False  # the in-process reload never raises either
    assert "internal error: RecursionError" in caplog.text
    assert "Traceback" in caplog.text  # a bug gets its traceback in the log
    assert counted.failed == 2
    assert live.current.revision == before


def test_the_child_answers_an_internal_error_as_its_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise RecursionError("deep")

    monkeypatch.setattr(reload, "load_snapshot", broken)
    receiving, sending = multiprocessing.Pipe(duplex=False)
    check_in_child(tmp_path, None, sending)
    assert receiving.recv() == "internal error: RecursionError: deep"


def test_a_load_past_the_time_limit_is_abandoned(tmp_path: Path) -> None:
    # Spawning and importing the package alone takes longer than 0.01 s.
    (tmp_path / "chat.yaml").write_text(good("x"), encoding="utf-8")
    started = time.perf_counter()
    with pytest.raises(ReloadFailed, match=r"longer than the reload time limit \(0.01 s\)"):
        check_with_time_limit(tmp_path, None, 0.01)
    assert time.perf_counter() - started < 10


def test_a_users_file_the_child_cannot_read_fails_with_the_childs_words(tmp_path: Path) -> None:
    (tmp_path / "chat.yaml").write_text(good("x"), encoding="utf-8")
    users = tmp_path / "users-is-a-directory"
    users.mkdir()
    with pytest.raises(ReloadFailed, match="users"):
        check_with_time_limit(tmp_path, users, 30)


def test_reload_requests_during_a_reload_coalesce_into_one_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live, _, _ = live_policies(tmp_path)
    runs: list[float] = []

    def slow_check(*_: object) -> None:
        runs.append(time.monotonic())
        time.sleep(0.3)

    monkeypatch.setattr(reload, "check_with_time_limit", slow_check)

    async def burst() -> list[bool]:
        first = asyncio.create_task(live.reload_async())
        await asyncio.sleep(0.05)  # the first one is running now
        rest = [asyncio.create_task(live.reload_async()) for _ in range(20)]
        return await asyncio.gather(first, *rest)

    results = asyncio.run(burst())
    assert results == [True] * 21
    assert len(runs) == 2  # the running one, then one for all twenty that came during it


async def _until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.05)
    return condition()


def _watching(live: LivePolicies, body: Callable[[], Awaitable[None]]) -> None:
    async def run() -> None:
        watcher = asyncio.create_task(live.watch())
        try:
            await asyncio.sleep(0.5)  # let watchfiles start watching
            await body()
            assert not watcher.done()
        finally:
            watcher.cancel()
            with pytest.raises(asyncio.CancelledError):
                await watcher

    asyncio.run(run())


def test_the_watcher_survives_failed_reloads_and_applies_later_edits(tmp_path: Path) -> None:
    live, counted, directory = live_policies(tmp_path)

    async def body() -> None:
        for text in (BOMB, TOO_DEEP):
            failed = counted.failed
            (directory / "chat.yaml").write_text(text, encoding="utf-8")
            assert await _until(lambda f=failed: counted.failed > f, 30)
        (directory / "chat.yaml").write_text(good("verboten"), encoding="utf-8")
        assert await _until(lambda: denies(live, "verboten"), 30)

    _watching(live, body)
    assert not denies(live, "forbidden")


def test_the_watcher_survives_an_internal_error_in_a_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live, counted, directory = live_policies(tmp_path)
    real = reload.check_with_time_limit
    calls: list[int] = []

    def fails_once(*args: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RecursionError("a bug")
        real(*args)

    monkeypatch.setattr(reload, "check_with_time_limit", fails_once)

    async def body() -> None:
        (directory / "chat.yaml").write_text(good("first"), encoding="utf-8")
        assert await _until(lambda: counted.failed == 1, 30)
        (directory / "chat.yaml").write_text(good("second"), encoding="utf-8")
        assert await _until(lambda: denies(live, "second"), 30)

    _watching(live, body)


def test_a_watcher_that_fails_starts_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    live, counted, directory = live_policies(tmp_path)
    starts: list[int] = []

    async def flaky_awatch(*_: object, **__: object) -> AsyncIterator[set[tuple[int, str]]]:
        starts.append(1)
        if len(starts) == 1:
            raise OSError("the watched directory went away")
        yield {(2, str(directory / "chat.yaml"))}
        await asyncio.sleep(3600)

    monkeypatch.setattr(reload, "awatch", flaky_awatch)
    monkeypatch.setattr(reload, "WATCH_RESTART_DELAY", 0.05)
    (directory / "chat.yaml").write_text(good("again"), encoding="utf-8")

    async def body() -> None:
        assert await _until(lambda: denies(live, "again"), 30)

    with caplog.at_level(logging.ERROR, logger="receiver.http.reload"):
        _watching(live, body)
    assert len(starts) == 2
    assert "watcher failed; starting it again" in caplog.text
    assert counted.ok == 2


def test_the_reload_timeout_comes_from_the_flag_or_the_config_file(tmp_path: Path) -> None:
    config_file = tmp_path / "receiver.yaml"
    config_file.write_text("reload_timeout: 5\n", encoding="utf-8")
    assert build({}).reload_timeout == DEFAULT_RELOAD_TIMEOUT == 30
    assert build({"config": config_file}).reload_timeout == 5
    assert build({"config": config_file, "reload_timeout": 2.5}).reload_timeout == 2.5
    with pytest.raises(ReceiverError, match="reload-timeout must be positive"):
        build({"reload_timeout": 0})


EXPIRING = """\
policy: seasonal
rules:
  - id: old-freeze
    events: message.shouldCreate
    action: deny
    expires: 2020-01-01T00:00:00Z
  - id: next-week
    events: message.shouldCreate
    when: text == "x"
    action: deny
    expires: {soon}
  - id: far-away
    events: message.shouldCreate
    when: text == "y"
    action: deny
    expires: 2999-01-01T00:00:00Z
"""


def test_each_load_logs_rules_that_expired_or_expire_soon(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3 * 86_400))
    (tmp_path / "seasonal.yaml").write_text(EXPIRING.format(soon=soon))
    live = LivePolicies(tmp_path, None)
    with caplog.at_level(logging.WARNING, logger="receiver.http.reload"):
        live.load()
        assert live.reload()
    lines = [r.getMessage() for r in caplog.records]
    expired = [line for line in lines if "'seasonal/old-freeze' expired at 2020-01-01" in line]
    expiring = [line for line in lines if "'seasonal/next-week' expires at" in line]
    assert len(expired) == 2 and len(expiring) == 2  # at the first load and the reload
    assert expired[0].startswith(f"{tmp_path / 'seasonal.yaml'}:6:")  # where to change it
    assert not [line for line in lines if "far-away" in line]


def test_the_last_few_revisions_that_served_are_held_for_the_console(tmp_path: Path) -> None:
    live, _, directory = live_policies(tmp_path)
    revisions = [live.current.revision]
    for word in ("one", "two", "three", "four", "one"):  # "one" again: held once, as newest
        (directory / "chat.yaml").write_text(good(word), encoding="utf-8")
        assert live.reload()
        revisions.append(live.current.revision)
    assert len(live.held) == reload.HELD_REVISIONS == 4
    assert list(live.held) == [revisions[2], revisions[3], revisions[4], revisions[1]]
    assert live.held[live.current.revision] is live.current
    (directory / "chat.yaml").write_text(BROKEN, encoding="utf-8")
    assert not live.reload()  # a failed reload holds nothing new
    assert list(live.held)[-1] == live.current.revision == revisions[-1]
    assert live.current.loaded_at <= time.time()
