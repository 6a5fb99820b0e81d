"""Sharing the feed between workers (receiver/console/sharing.py): snapshots written only
while a viewer looks and only when something changed, atomically and 0600, read back by
the other workers; files of dead processes and broken files are skipped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from receiver.console.served import _from_snapshot
from receiver.console.sharing import VIEWER, FeedShare
from receiver.observe.feed import DecisionFeed
from receiver.runtime.decision import Decision


def feed_with(count: int) -> DecisionFeed:
    feed = DecisionFeed(10)
    for n in range(count):
        feed.add({"decision_id": f"d{n}", "time": float(n)}, Decision("allow", rule="p/r"))
    return feed


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(10)
    return child.pid


def test_nothing_is_written_until_a_viewer_asks(tmp_path: Path) -> None:
    share = FeedShare(feed_with(2), tmp_path)
    assert not share.write_if_changed()
    assert not share.path.exists()
    share.touch_viewer()
    assert (tmp_path / VIEWER).exists()
    assert share.write_if_changed()
    assert share.path.stat().st_mode & 0o777 == 0o600
    assert not share.write_if_changed()  # unchanged: not written again


def test_a_change_is_written_again(tmp_path: Path) -> None:
    feed = feed_with(1)
    share = FeedShare(feed, tmp_path)
    share.touch_viewer()
    assert share.write_if_changed()
    feed.add({"decision_id": "later", "time": 9.0}, Decision("deny"))
    assert share.write_if_changed()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_other_workers_read_the_snapshot_and_skip_their_own(tmp_path: Path) -> None:
    parent = os.getppid()  # alive: it started this process
    writer = FeedShare(feed_with(3), tmp_path, pid=parent)
    writer.touch_viewer()
    writer.write_if_changed()
    reader = FeedShare(feed_with(0), tmp_path)
    (snapshot,) = reader.others()
    worker = _from_snapshot(snapshot)
    assert worker.pid == parent
    assert [e["decision_id"] for _, e, _ in worker.items] == ["d0", "d1", "d2"]
    (minute,) = worker.minutes.values()
    assert minute["rules"] == {"p/r": [3, 0, 0]}
    assert writer.others() == []  # its own file is not "another worker"


def test_files_of_dead_workers_and_broken_files_are_skipped(tmp_path: Path) -> None:
    gone = FeedShare(feed_with(1), tmp_path, pid=dead_pid())
    gone.touch_viewer()
    gone.write_if_changed()
    (tmp_path / f"console.{os.getppid()}.json").write_bytes(b'{"pid": 1, "items": [')
    (tmp_path / "console.notapid.json").write_text("{}")
    assert FeedShare(feed_with(0), tmp_path).others() == []


def test_stop_removes_the_workers_file(tmp_path: Path) -> None:
    share = FeedShare(feed_with(1), tmp_path, every=0.01)
    share.touch_viewer()
    share.start()
    try:
        share.write_if_changed()
        assert share.path.exists()
    finally:
        share.stop()
    assert not share.path.exists()
