"""The bundle poller (receiver/bundles/poll.py) over a real file source: results, what
is handed over to be applied, failures logged once, and the retry before ready."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from bundlecraft import good_bundle, write_policies
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from receiver.bundles.fetch import open_source
from receiver.bundles.poll import Applied, BundlePoller
from receiver.bundles.urls import parse_bundle_url
from receiver.bundles.verify import Verified

KEY = Ed25519PrivateKey.generate()


class Target:
    """Stands for the service: applies bundles by recording their revision."""

    def __init__(self, outcome: Applied = "updated") -> None:
        self.outcome: Applied = outcome
        self.revision: str | None = None
        self.applied: list[str] = []

    async def apply(self, bundle: Verified) -> Applied:
        self.applied.append(bundle.revision)
        if self.outcome == "updated":
            self.revision = bundle.revision
        return self.outcome


def poller(path: Path, target: Target, results: list[str]) -> BundlePoller:
    return BundlePoller(
        open_source(parse_bundle_url(f"file://{path}")), KEY.public_key(), target.apply,
        lambda: target.revision, 30.0, on_result=results.append,
    )  # fmt: skip


def put(path: Path, data: bytes) -> None:
    staged = path.with_suffix(".staged")
    staged.write_bytes(data)
    staged.replace(path)


def test_a_sequence_of_polls(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bundle = tmp_path / "b.tar.gz"
    one = good_bundle(write_policies(tmp_path / "one", ("spam",)), KEY)
    two = good_bundle(write_policies(tmp_path / "two", ("spam", "eggs")), KEY)
    other = good_bundle(write_policies(tmp_path / "two", ("spam", "eggs")), None)
    target, results = Target(), []
    feed = poller(bundle, target, results)

    async def go() -> None:
        await feed.poll_once()  # no file yet
        await feed.poll_once()  # the same failure: not logged again
        put(bundle, one)
        await feed.poll_once()
        await feed.poll_once()
        put(bundle, one[:-1] + bytes([one[-1] ^ 1]))  # a changed byte: refused
        await feed.poll_once()
        await feed.poll_once()  # unchanged bad file: no success, no new log
        put(bundle, other)  # unsigned: refused
        await feed.poll_once()
        put(bundle, good_bundle(write_policies(tmp_path / "one"), KEY))  # rebuilt: same revision
        await feed.poll_once()
        put(bundle, two)
        await feed.poll_once()

    with caplog.at_level(logging.INFO, "receiver.bundles"):
        asyncio.run(go())
    assert results == [
        "unreachable", "unreachable", "updated", "not-modified", "refused", "not-modified",
        "refused", "unchanged", "updated",
    ]  # fmt: skip
    assert len(target.applied) == 2  # the same revision is never applied again
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 3  # missing file, bad gzip, unsigned: each once
    assert "no policies serve yet" in errors[0]
    assert "still serving revision" in errors[1]
    assert feed.last_failure is None


def test_a_rejected_bundle_is_not_applied_again_until_it_changes(tmp_path: Path) -> None:
    bundle = tmp_path / "b.tar.gz"
    put(bundle, good_bundle(write_policies(tmp_path / "p"), KEY))
    target, results = Target("rejected"), []
    feed = poller(bundle, target, results)

    async def go() -> None:
        for _ in range(3):
            await feed.poll_once()

    asyncio.run(go())
    assert results == ["rejected", "not-modified", "not-modified"]
    assert len(target.applied) == 1
    assert feed.last_failure is not None and "do not load" in feed.last_failure


def test_a_passing_failure_is_tried_again_at_the_next_poll(tmp_path: Path) -> None:
    bundle = tmp_path / "b.tar.gz"
    put(bundle, good_bundle(write_policies(tmp_path / "p"), KEY))
    target, results = Target("failed"), []
    feed = poller(bundle, target, results)

    async def go() -> None:
        await feed.poll_once()
        target.outcome = "updated"
        await feed.poll_once()

    asyncio.run(go())
    assert results == ["failed", "updated"]


def test_a_revision_that_keeps_failing_is_left_alone_until_a_sighup(tmp_path: Path) -> None:
    bundle = tmp_path / "b.tar.gz"
    put(bundle, good_bundle(write_policies(tmp_path / "p"), KEY))
    target, results = Target("failed"), []
    feed = poller(bundle, target, results)

    async def go() -> None:
        for _ in range(5):
            await feed.poll_once()
        target.outcome = "updated"
        await feed.poll_once(force=True)

    asyncio.run(go())
    assert results == ["failed", "failed", "failed", "not-modified", "not-modified", "updated"]
    assert len(target.applied) == 4  # three tries, then the SIGHUP's


def test_polls_come_sooner_until_a_bundle_serves(tmp_path: Path) -> None:
    target = Target()
    feed = poller(tmp_path / "none", target, [])
    assert feed.next_delay(1.0) == 1.0
    assert feed.next_delay(64.0) == 30.0  # never longer than the interval
    target.revision = "abc"
    assert 27.0 <= feed.next_delay(1.0) <= 30.0


def test_a_forced_poll_tries_a_rejected_bundle_again(tmp_path: Path) -> None:
    bundle = tmp_path / "b.tar.gz"
    put(bundle, good_bundle(write_policies(tmp_path / "p"), KEY))
    target, results = Target("rejected"), []
    feed = poller(bundle, target, results)

    async def go() -> None:
        await feed.poll_once()
        await feed.poll_once()
        target.outcome = "updated"  # what made it fail was fixed (a users file, say)
        await feed.poll_once(force=True)  # SIGHUP

    asyncio.run(go())
    assert results == ["rejected", "not-modified", "updated"]
    assert feed.last_failure is None
