"""What the console sees of the service it runs in (``receiver serve --console``).

Stage: the edge (the console inside the service). Consumes the service's live policies
(``receiver.http.reload``), this worker's feed of decisions (``receiver.observe.feed``)
and, with several workers, the others' snapshots (``sharing.py``); produces the feeds of
every worker in one form (:class:`WorkerFeed`), the policy files of the serving revision
(what the playground shows, read-only) and the snapshots held for re-explaining.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from receiver.console.sharing import FeedShare
from receiver.http.reload import LivePolicies, Snapshot
from receiver.observe.feed import DecisionFeed, Item, Minute
from receiver.runtime.policyset import Source


@dataclass(frozen=True, slots=True)
class WorkerFeed:
    """One worker's kept decisions (oldest first) and per-minute counts."""

    pid: int
    items: list[Item]
    minutes: dict[int, Minute]


@dataclass(frozen=True, slots=True)
class Served:
    live: LivePolicies
    feed: DecisionFeed
    share: FeedShare | None  # None: one worker, nothing to share
    workers: int

    @property
    def content(self) -> bool:
        return self.feed.content

    def feeds(self) -> list[WorkerFeed]:
        """This worker's feed (from memory) and every other live worker's last snapshot.
        Reads files: call it from a worker thread."""
        own = WorkerFeed(os.getpid(), self.feed.items(), self.feed.minutes())
        if self.share is None:
            return [own]
        self.share.touch_viewer()
        out = [own]
        for snapshot in self.share.others():
            out.append(_from_snapshot(snapshot))
        return out

    def snapshot(self, revision: str) -> Snapshot | None:
        """The held snapshot of ``revision`` (the current one and the last few)."""
        return self.live.held.get(revision)

    def sources(self) -> list[Source]:
        """The policy files of the serving revision as it was loaded, by name: the texts
        its rules were read from (a file without rules is read from its path)."""
        if not self.live.ready:
            return []
        policyset = self.live.current.policies
        texts: dict[str, str] = {}
        for rule in policyset.rules:
            source = rule.doc.span.source
            texts.setdefault(source.path, source.text)
        out: list[Source] = []
        for policy in policyset.policies:
            text = texts.get(policy.path)
            if text is None:
                with contextlib.suppress(OSError, UnicodeDecodeError):
                    text = Path(policy.path).read_text(encoding="utf-8")
            if text is not None:
                out.append((Path(policy.path).name, text))
        return sorted(out)


def _from_snapshot(snapshot: dict[str, Any]) -> WorkerFeed:
    items: list[Item] = []
    for raw in snapshot.get("items") or []:
        if isinstance(raw, list) and len(raw) == 3 and isinstance(raw[1], dict):
            seq, entry, replay = raw
            if isinstance(seq, int):
                items.append((seq, entry, replay if isinstance(replay, dict) else None))
    minutes: dict[int, Minute] = {}
    raw_minutes = snapshot.get("minutes")
    if isinstance(raw_minutes, dict):
        for key, counts in raw_minutes.items():
            with contextlib.suppress(ValueError):
                if isinstance(counts, dict):
                    minutes[int(key)] = counts
    return WorkerFeed(int(snapshot["pid"]), items, minutes)
