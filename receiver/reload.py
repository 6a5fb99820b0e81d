"""Live policies: the loaded set the service answers from, swapped atomically on reload.

A :class:`Snapshot` pairs a compiled :class:`~receiver.policyset.PolicySet` with the
static user directory loaded beside it. :class:`LivePolicies` holds the current one;
a request reads ``live.current`` once and uses that snapshot throughout, so no request
ever sees a half-loaded set. A reload builds and fully checks the new snapshot first
(in a thread, off the event loop); if anything is wrong the old one keeps serving, and
the errors are logged and counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchfiles import awatch

from receiver.diagnostics import render_text
from receiver.errors import PolicyLoadError, ReceiverError
from receiver.policyset import PolicySet, load_policies
from receiver.users import StaticDirectory

log = logging.getLogger("receiver.reload")


@dataclass(frozen=True, slots=True)
class Snapshot:
    policies: PolicySet
    users: StaticDirectory | None

    @property
    def revision(self) -> str:
        return self.policies.revision


def load_snapshot(policies: Path, users: Path | None) -> Snapshot:
    """Load, check and compile everything; raises ReceiverError with every problem."""
    policyset = load_policies([policies])
    directory = StaticDirectory.from_file(users) if users is not None else None
    return Snapshot(policyset, directory)


class LivePolicies:
    def __init__(
        self,
        policies: Path,
        users: Path | None,
        on_reload: Callable[[bool, str], None] | None = None,
    ) -> None:
        self.policies = policies
        self.users = users
        self._on_reload = on_reload
        self._current: Snapshot | None = None
        self._lock = asyncio.Lock()

    @property
    def current(self) -> Snapshot:
        if self._current is None:
            raise RuntimeError("policies are not loaded yet")
        return self._current

    @property
    def ready(self) -> bool:
        return self._current is not None

    def load(self) -> Snapshot:
        """The first load: errors propagate (the service refuses to start)."""
        self._current = load_snapshot(self.policies, self.users)
        if self._on_reload is not None:
            self._on_reload(True, self._current.revision)
        return self._current

    def reload(self) -> bool:
        """Load a new snapshot and swap it in; keep the old one on any error."""
        try:
            snapshot = load_snapshot(self.policies, self.users)
        except PolicyLoadError as err:
            errors = [d for d in err.diagnostics if d.severity == "error"]
            log.error(
                "policy reload failed; still serving revision %s:\n%s",
                self._current.revision if self._current else "none",
                render_text(errors),
            )
            if self._on_reload is not None:
                self._on_reload(False, "")
            return False
        except (ReceiverError, OSError) as err:
            log.error("policy reload failed; still serving the previous set: %s", err)
            if self._on_reload is not None:
                self._on_reload(False, "")
            return False
        previous = self._current.revision if self._current else "none"
        self._current = snapshot
        log.info("policies reloaded: revision %s -> %s", previous, snapshot.revision)
        if self._on_reload is not None:
            self._on_reload(True, snapshot.revision)
        return True

    async def reload_async(self) -> bool:
        """Reload off the event loop; concurrent reloads run one at a time."""
        async with self._lock:
            return await asyncio.to_thread(self.reload)

    async def watch(self) -> None:
        """Reload whenever a policy file or the users file changes (watchfiles)."""
        targets = [self.policies] + ([self.users] if self.users is not None else [])
        async for changes in awatch(*targets, debounce=300, step=100):
            names = sorted({Path(path).name for _, path in changes})
            log.info("change detected in %s; reloading", ", ".join(names))
            await self.reload_async()
