"""The service's bundle feed (receiver/http/bundlefeed.py) with real live policies: a new
bundle is checked in a child process and swapped in; a bundle whose policies do not load
leaves the serving set alone; extracted directories do not pile up; SIGHUP re-reads the
users file beside the bundle."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest
from bundlecraft import write_policies

from receiver.bundles import keys
from receiver.bundles.build import build_bundle
from receiver.http.bundlefeed import BundleFeed
from receiver.http.config import ServiceConfig
from receiver.http.metrics import Metrics
from receiver.http.reload import LivePolicies
from receiver.runtime.policyset import check_paths

KEY = keys.generate()


def signed(directory: Path) -> bytes:
    return build_bundle(directory, check_paths([directory]).files, KEY).data


def put(path: Path, data: bytes) -> None:
    staged = path.with_suffix(".staged")
    staged.write_bytes(data)
    staged.replace(path)


def feed_for(tmp_path: Path, users: Path | None = None) -> tuple[BundleFeed, LivePolicies, Path]:
    public = tmp_path / "public.pem"
    public.write_bytes(keys.public_pem(KEY.public_key()))
    bundle = tmp_path / "bundle.tar.gz"
    config = ServiceConfig(
        policies_url=f"file://{bundle}", bundle_public_key=public, bundle_poll=60, users=users
    )
    live = LivePolicies(None, users, timeout=60)
    return BundleFeed(config, live, Metrics()), live, bundle


def extracted(tmp: Path) -> list[Path]:
    return sorted(tmp.glob("receiver-bundles-*/receiver-bundle-*"))


def test_bundles_swap_in_and_bad_ones_leave_the_serving_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))  # where extracted bundles go
    feed, live, bundle = feed_for(tmp_path)
    one = write_policies(tmp_path / "one", ("spam",))
    two = write_policies(tmp_path / "two", ("spam", "eggs"))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.yaml").write_text("policy: x\nrules:\n  - id: r\n")

    async def go() -> list[str]:
        results = []
        results.append(await feed.poller.poll_once())  # no file: not ready
        assert not live.ready
        assert feed.waiting()["status"] == "waiting-for-bundle"
        put(bundle, signed(one))
        results.append(await feed.poller.poll_once())
        first = live.current.revision
        assert len(extracted(tmp)) == 1
        put(bundle, build_bundle(broken, [broken / "x.yaml"], KEY).data)
        results.append(await feed.poller.poll_once())
        assert live.current.revision == first  # still serving
        assert len(extracted(tmp)) == 1  # the rejected one is gone
        put(bundle, signed(two))
        results.append(await feed.poller.poll_once())
        assert live.current.revision != first
        assert len(extracted(tmp)) == 1  # the previous one removed after the swap
        await feed.close()
        return results

    assert asyncio.run(go()) == ["unreachable", "updated", "rejected", "updated"]
    assert list(tmp.iterdir()) == []  # the feed's whole folder is gone


def test_sighup_polls_and_rereads_the_users_file(tmp_path: Path) -> None:
    users = tmp_path / "users.yaml"
    users.write_text("u1: {roles: [member]}\n")
    feed, live, bundle = feed_for(tmp_path, users)
    put(bundle, signed(write_policies(tmp_path / "p")))

    async def go() -> None:
        await feed.sighup()
        assert live.ready
        directory = live.current.users
        assert directory is not None and directory.get("u2") is None
        users.write_text("u1: {roles: [member]}\nu2: {roles: [staff]}\n")
        await feed.sighup()  # no new bundle: the users file is read again
        directory = live.current.users
        assert directory is not None and directory.get("u2") is not None
        await feed.close()

    asyncio.run(go())
