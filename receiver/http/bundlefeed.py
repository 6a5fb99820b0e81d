"""The service's policy bundle feed: ``receiver serve --policies URL``.

The edge (HTTP), beside the reloads. Consumes the service config (the URL, the poll
interval, the public key), the :class:`~receiver.http.reload.LivePolicies` and the
metrics; produces the polling task the lifespan runs, the SIGHUP action, and what
``/readyz`` says while no bundle serves.

Each poll that brings a verified bundle with a new revision extracts it into a fresh
private directory and calls :meth:`LivePolicies.reload_from`: the same child-process
check under ``--reload-timeout``, then the build, then the atomic swap, as any reload.
The directory of the bundle that serves is kept (later SIGHUPs re-read the users file
beside it); the previous one is removed after the swap, and a rejected one at once.

With ``--workers N`` every worker runs its own feed. Each worker holds its own compiled
set anyway (a compiled set cannot cross a process boundary), so a supervisor that
fetched for them would still have to make each worker reload, through a channel of its
own; polling in each worker needs no such channel, a worker the supervisor restarts
fetches for itself, and the cost is N conditional requests per interval (a 304 each
when nothing changed).
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path
from typing import Any

from receiver.bundles.fetch import open_source
from receiver.bundles.format import BundleError
from receiver.bundles.keys import load_public_key
from receiver.bundles.poll import RESULTS, Applied, BundlePoller
from receiver.bundles.urls import parse_bundle_url
from receiver.bundles.verify import Verified, extract, policies_of, remove
from receiver.http.config import ServiceConfig
from receiver.http.metrics import Metrics
from receiver.http.reload import LivePolicies

log = logging.getLogger("receiver.http.bundlefeed")


class BundleFeed:
    def __init__(self, config: ServiceConfig, live: LivePolicies, metrics: Metrics) -> None:
        if config.policies_url is None:  # pragma: no cover - the app checks it
            raise ValueError("a bundle feed needs a policies URL")
        url = parse_bundle_url(config.policies_url)
        key = (
            load_public_key(config.bundle_public_key)
            if config.bundle_public_key is not None
            else None
        )
        self.live = live
        self.users = config.users
        # every bundle of this worker is extracted under one private folder (made at the
        # first bundle), removed whole on close, even one whose extraction a shutdown cut
        self._root: Path | None = None
        self._directory: Path | None = None  # the extracted bundle that serves
        for result in RESULTS:  # every result shows, at 0 until it happens
            metrics.bundle_fetches.labels(result)
        self.poller = BundlePoller(
            open_source(url), key, self._apply,
            lambda: live.current.revision if live.ready else None,
            config.bundle_poll,
            on_result=lambda result: metrics.bundle_fetches.labels(result).inc(),
            on_success=metrics.bundle_last_success.set,
        )  # fmt: skip
        if key is None:
            log.warning(
                "policy bundles from %s are NOT signature-checked: whoever can change the "
                "file there changes the policies. Sign them ('receiver bundle build "
                "--signing-key') and give --bundle-public-key.",
                url.shown,
            )
        else:
            log.info(
                "policy bundles from %s must be signed by %s", url.shown, config.bundle_public_key
            )

    async def _apply(self, bundle: Verified) -> Applied:
        try:
            if self._root is None:
                self._root = Path(tempfile.mkdtemp(prefix="receiver-bundles-"))
            directory = await asyncio.to_thread(extract, bundle, self._root)
        except BundleError as err:
            log.error("bundle revision %s cannot be extracted: %s", bundle.revision, err)
            return "rejected"
        except OSError as err:
            log.error("bundle revision %s cannot be extracted: %s", bundle.revision, err)
            return "failed"
        outcome = await self.live.reload_from(policies_of(directory))
        if outcome != "ok":
            remove(directory)
            return "rejected" if outcome == "bad" else "failed"
        previous, self._directory = self._directory, directory
        if previous is not None:
            remove(previous)
        return "updated"

    async def run(self) -> None:
        await self.poller.run()

    async def sighup(self) -> None:
        """Poll at once, downloading the bundle even if unchanged (one rejected before is
        tried again); when no new bundle came, reload the users file beside the one that
        serves (a SIGHUP reloads both, as with a policy directory)."""
        result = await self.poller.poll_once(force=True)
        if result != "updated" and self.users is not None and self.live.ready:
            await self.live.reload_async()

    def waiting(self) -> dict[str, Any]:
        """What ``/readyz`` answers (with 503) while no bundle serves."""
        why = self.poller.last_failure or "the first policy bundle is being fetched"
        return {"status": "waiting-for-bundle", "reason": why}

    def state(self) -> dict[str, Any]:
        """For operators (``/readyz`` with the metrics token): the source and whether the
        latest poll failed."""
        return {"source": self.poller.source.shown, "last_failure": self.poller.last_failure}

    async def close(self) -> None:
        await self.poller.source.close()
        self._directory = None
        if self._root is not None:
            remove(self._root)
            self._root = None
