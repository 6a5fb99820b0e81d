"""Polling a bundle URL: fetch, verify, and hand a new revision over to be applied.

Stage: the edge (policy delivery). Consumes a :class:`~receiver.bundles.fetch.Source`,
an optional public key and an ``apply`` coroutine (the service's check, build and
atomic swap); produces one result per poll, reported through ``on_result`` (the label
of ``receiver_bundle_fetches_total``), and the state ``/readyz`` shows.

One poll:

1. fetch conditionally (ETag, Last-Modified, or size+mtime+inode for a file); nothing
   new -> ``not-modified``; a network or HTTP failure -> ``unreachable``;
2. verify the bundle in a thread (:func:`receiver.bundles.verify.verify`: limits,
   paths, hashes, signature) -> ``refused`` when it fails;
3. a bundle whose revision is the one serving -> ``unchanged``: nothing is reloaded;
4. else ``apply(bundle)``: ``updated`` when the new set serves, ``rejected`` when its
   policies do not load, ``failed`` when the attempt failed for a passing reason (a
   time limit, a crash, a full disk), which the next poll tries again, up to
   :data:`MAX_TRIES` times for one revision (a set that always outlives the reload time
   limit would otherwise cost a reload per poll); a SIGHUP tries it again.

A bad or unreachable bundle never replaces the serving one (``apply`` is only called
for a verified bundle, and only swaps in a set that loaded). Each distinct failure is
logged once, not at every poll; the first success after failures is logged too. Until
the first bundle serves, polls are retried sooner (1 s, doubling up to the interval).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from receiver.bundles.fetch import FetchFailed, Source
from receiver.bundles.format import BundleError
from receiver.bundles.verify import Verified, verify

log = logging.getLogger("receiver.bundles")

Applied = Literal["updated", "rejected", "failed"]
RESULTS = ("updated", "not-modified", "unchanged", "unreachable", "refused", "rejected", "failed")
FIRST_RETRY = 1.0  # seconds before polling again while no bundle serves yet
MAX_TRIES = 3  # passing failures of one revision before it is left alone until it changes


def _ignore(_: object) -> None:
    return None


class BundlePoller:
    def __init__(
        self,
        source: Source,
        public_key: Ed25519PublicKey | None,
        apply: Callable[[Verified], Awaitable[Applied]],
        serving: Callable[[], str | None],
        interval: float,
        *,
        on_result: Callable[[str], None] = _ignore,
        on_success: Callable[[float], None] = _ignore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.public_key = public_key
        self.interval = interval
        self._apply = apply
        self._serving = serving
        self._on_result = on_result
        self._on_success = on_success
        self._clock = clock
        self._lock = asyncio.Lock()  # one poll at a time (the timer's or a SIGHUP's)
        self.last_failure: str | None = None  # why the latest poll failed, for /readyz
        self._bad: str | None = None  # the source's current bundle was refused: why
        self._logged: str | None = None  # the failure last logged (each is logged once)
        self._tries: dict[str, int] = {}  # passing failures of the latest revision tried

    async def poll_once(self, *, force: bool = False) -> str:
        """Poll now; the result label. Never raises (a bug is logged and counted).
        ``force``: download the bundle even if it did not change (a bundle rejected
        earlier, say for a users file since fixed, is then tried again)."""
        async with self._lock:
            if force:
                self.source.forget()
                self._bad = None
                self._tries = {}
            try:
                result = await self._poll()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("internal error while polling the policy bundle")
                result = self._failed("failed", "internal error while polling (see the log)")
        with contextlib.suppress(Exception):  # a metrics callback must not stop the poller
            self._on_result(result)
        return result

    async def _poll(self) -> str:
        try:
            download = await self.source.fetch()
        except FetchFailed as err:
            return self._failed("unreachable", str(err))
        if download is None:
            if self._bad is not None:  # still the bundle that was refused
                return "not-modified"
            return self._succeeded("not-modified")
        try:
            bundle = await asyncio.to_thread(verify, download.data, self.public_key)
        except BundleError as err:
            self.source.remember(download.validator)  # the same bytes would fail the same way
            self._bad = f"the bundle was refused: {err}"
            return self._failed("refused", self._bad)
        if bundle.revision == self._serving():
            self.source.remember(download.validator)
            return self._succeeded("unchanged")
        outcome = await self._apply(bundle)
        if outcome == "updated":
            self.source.remember(download.validator)
            log.info(
                "policy bundle from %s now serves: revision %s built %s (signature %s)",
                self.source.shown, bundle.revision, bundle.manifest.built_at, bundle.signature,
            )  # fmt: skip
            return self._succeeded("updated")
        if outcome == "rejected":
            self.source.remember(download.validator)
            self._bad = f"the policies of bundle revision {bundle.revision} do not load"
            return self._failed("rejected", self._bad)
        tries = self._tries.get(bundle.revision, 0) + 1
        self._tries = {bundle.revision: tries}  # only the latest revision's count matters
        if tries >= MAX_TRIES:  # passing, in name only: stop paying a reload per poll
            self.source.remember(download.validator)
            self._bad = (
                f"bundle revision {bundle.revision} could not be applied {tries} times; "
                "not tried again until it changes or a SIGHUP"
            )
            return self._failed("failed", self._bad)
        return self._failed(
            "failed", f"bundle revision {bundle.revision} could not be applied; trying again"
        )

    def _succeeded(self, result: str) -> str:
        self._bad = None
        if self.last_failure is not None:
            log.info("policy bundle from %s: polling works again", self.source.shown)
        self.last_failure = self._logged = None
        with contextlib.suppress(Exception):
            self._on_success(self._clock())
        return result

    def _failed(self, result: str, why: str) -> str:
        self.last_failure = why
        if why != self._logged:
            self._logged = why
            serving = self._serving()
            still = (
                f"still serving revision {serving}"
                if serving is not None
                else "no policies serve yet: /readyz answers 503 and hooks get the fail-safe answer"
            )
            log.error("policy bundle from %s: %s; %s", self.source.shown, why, still)
        return result

    def next_delay(self, retry: float) -> float:
        """Seconds until the next poll: the interval (less up to a tenth, so that replicas
        spread out) once a bundle serves, else ``retry``."""
        if self._serving() is None:
            return min(retry, self.interval)
        return self.interval * random.uniform(0.9, 1.0)

    async def run(self) -> None:
        """Poll until cancelled: at once, then every interval (sooner until ready)."""
        retry = FIRST_RETRY
        while True:
            await self.poll_once()
            delay = self.next_delay(retry)
            retry = min(retry * 2, self.interval) if self._serving() is None else FIRST_RETRY
            await asyncio.sleep(delay)
