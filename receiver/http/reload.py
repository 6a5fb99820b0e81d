"""Live policies: the loaded set the service answers from, swapped atomically on reload.

Edge stage (after the whole pipeline): consumes the policy directory and the users
file, produces the :class:`Snapshot` requests read.

A :class:`Snapshot` pairs a compiled :class:`~receiver.runtime.policyset.PolicySet` with the
static user directory loaded beside it. :class:`LivePolicies` holds the current one;
a request reads ``live.current`` once and uses that snapshot throughout (no lock), so
no request ever sees a half-loaded set.

A reload (SIGHUP or ``--watch``) runs in two steps:

1. **Verdict, in a child process with a time limit.** A fresh interpreter (the
   ``spawn`` start method: nothing of the serving process is copied into it) loads,
   checks and compiles the files and sends back whether they are good, with the
   rendered errors if not. Past ``timeout`` seconds (``--reload-timeout``) it is
   killed. A load that hangs or spins therefore never holds anything of the serving
   process, not even the GIL its requests need. Start-up costs about half a second of
   one core (importing the package), paid once per reload.
2. **Build, in this process, in a thread**, only once the child said yes: the compiled
   set (closures) cannot cross a process boundary. The same files were just loaded
   within the limit, and loading has limits of its own (file size, YAML aliases,
   expression depth), so this step is bounded in practice; if the files changed in
   between and no longer load, the error is reported as for any failed reload.

Whatever fails (errors in the files, the time limit, a crash of the child, an
internal exception in either step), the reload is logged with what failed, counted
through ``on_reload(False, "")`` (``receiver_policy_reloads_total{result="failed"}``),
and the old snapshot keeps serving. The watcher survives every failure.

A new policy bundle (``receiver serve --policies URL``, ``receiver.http.bundlefeed``) is
applied through :meth:`LivePolicies.reload_from`: the same two steps on the bundle's
freshly extracted directory, the same swap; until the first one serves, ``policies``
is ``None`` and ``ready`` is false.

Reloads run one at a time and coalesce: requests that arrive while one runs are all
answered by a single reload that starts after it, so a burst of signals or file
events costs at most two reloads, never a queue of them.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Literal

from watchfiles import awatch

from receiver.check.expiry import expiry_note
from receiver.errors import PolicyLoadError, ReceiverError
from receiver.http.config import DEFAULT_RELOAD_TIMEOUT
from receiver.runtime.policyset import PolicySet, load_policies
from receiver.text.diagnostics import render_text
from receiver.users.static import StaticDirectory

log = logging.getLogger("receiver.http.reload")

WATCH_RESTART_DELAY = 1.0  # seconds before a failed file watcher starts again
HELD_REVISIONS = 4  # snapshots kept after they stop serving (the console re-explains on them)


@dataclass(frozen=True, slots=True)
class Snapshot:
    policies: PolicySet
    users: StaticDirectory | None
    loaded_at: float = field(default_factory=time.time, compare=False)  # epoch seconds

    @property
    def revision(self) -> str:
        return self.policies.revision


def load_snapshot(policies: Path, users: Path | None) -> Snapshot:
    """Load, check and compile everything; raises ReceiverError with every problem."""
    policyset = load_policies([policies])
    directory = StaticDirectory.from_file(users) if users is not None else None
    return Snapshot(policyset, directory)


class ReloadFailed(Exception):
    """Why a reload failed, in words for the log (no file contents beyond diagnostics).

    ``passing``: the failure says nothing about the files (the time limit, a crash of
    the child), so the same files may load at another attempt.
    """

    def __init__(self, why: str, *, passing: bool = False) -> None:
        super().__init__(why)
        self.passing = passing


def failure_of(err: BaseException) -> str:
    """What a failed load says in the log: the errors, or the exception's kind and text."""
    if isinstance(err, PolicyLoadError):
        return "errors in the policies:\n" + render_text(
            [d for d in err.diagnostics if d.severity == "error"]
        )
    if isinstance(err, ReceiverError | OSError):
        return str(err)
    return f"internal error: {type(err).__name__}: {err}"


def check_in_child(policies: Path, users: Path | None, conn: Connection) -> None:
    """The child's whole job: load everything and send back None (good) or the failure."""
    try:
        load_snapshot(policies, users)
    except BaseException as err:
        conn.send(failure_of(err))
    else:
        conn.send(None)
    finally:
        conn.close()


def check_with_time_limit(policies: Path, users: Path | None, timeout: float) -> None:
    """Load the files in a spawned child; raise ReloadFailed on errors, a crash or the limit.

    Blocks the calling thread for up to ``timeout`` seconds (plus the kill).
    """
    context = multiprocessing.get_context("spawn")
    receiving, sending = context.Pipe(duplex=False)
    child = context.Process(
        target=check_in_child, args=(policies, users, sending), name="receiver-reload-check"
    )
    child.daemon = True
    child.start()
    sending.close()  # only the child writes: its end closing tells a crash from silence
    deadline = time.monotonic() + timeout
    try:
        if not receiving.poll(max(0.0, deadline - time.monotonic())):
            raise ReloadFailed(
                f"loading took longer than the reload time limit ({timeout:g} s); "
                "the load was abandoned",
                passing=True,
            )
        try:
            verdict = receiving.recv()
        except EOFError:
            raise ReloadFailed(
                "the process that loads the policies ended without an answer "
                "(killed, or out of memory?)",
                passing=True,
            ) from None
        if verdict is not None:
            raise ReloadFailed(str(verdict))
    finally:
        receiving.close()
        if child.is_alive():
            child.kill()
        child.join(5)


Outcome = Literal["ok", "bad", "failed"]  # failed: for a passing reason (try again)


class LivePolicies:
    """The serving snapshot and its reloads. ``policies`` is ``None`` while a service
    that takes its policies from a bundle URL waits for its first bundle
    (:meth:`reload_from` then sets it)."""

    def __init__(
        self,
        policies: Path | None,
        users: Path | None,
        on_reload: Callable[[bool, str], None] | None = None,
        timeout: float = DEFAULT_RELOAD_TIMEOUT,
    ) -> None:
        self.policies = policies
        self.users = users
        self.timeout = timeout
        self._on_reload = on_reload
        self._current: Snapshot | None = None
        self._lock = asyncio.Lock()  # one reload at a time; requests never take it
        self._requested = 0  # reload requests so far
        self._covered = 0  # requests already answered by a reload that started after them
        self._last = False  # the result of the latest reload
        # the last few snapshots that served, by revision, oldest first (the current one too)
        self.held: dict[str, Snapshot] = {}

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
        if self.policies is None:
            raise RuntimeError("no policy directory to load (a bundle URL serves)")
        self._current = load_snapshot(self.policies, self.users)
        self._hold(self._current)
        self._count(True, self._current.revision)
        log_expiry(self._current.policies)
        return self._current

    def reload(self) -> bool:
        """Load a new snapshot in this process and swap it in; keep the old one on any error.

        No time limit: for tools and tests. The service reloads with ``reload_async``.
        """
        if self.policies is None:
            return False
        try:
            snapshot = load_snapshot(self.policies, self.users)
        except Exception as err:
            self._failed(failure_of(err), internal=_is_internal(err))
            return False
        self._swap(snapshot)
        return True

    async def reload_async(self) -> bool:
        """Reload with the time limit (see the module docstring); True if the new set serves.

        Never raises. Requests made while a reload runs are answered together by the
        next one.
        """
        self._requested += 1
        wanted = self._requested
        async with self._lock:
            if self._covered >= wanted:
                return self._last
            self._covered = self._requested
            if self.policies is None:  # no bundle yet: nothing to reload
                self._last = False
                return False
            self._last = await self._reload_once(self.policies) == "ok"
            return self._last

    async def reload_from(self, policies: Path) -> Outcome:
        """Check and build the policies in ``policies`` (a new bundle's directory) exactly
        as a reload does, and serve them from now on if they load (``self.policies``
        then names them, for later reloads of the users file). ``bad``: the files do
        not load; ``failed``: the attempt failed for a passing reason."""
        async with self._lock:
            outcome = await self._reload_once(policies)
            if outcome == "ok":
                self.policies = policies
            return outcome

    async def _reload_once(self, policies: Path) -> Outcome:
        try:
            await asyncio.to_thread(check_with_time_limit, policies, self.users, self.timeout)
            snapshot = await asyncio.to_thread(load_snapshot, policies, self.users)
        except ReloadFailed as err:
            self._failed(str(err), internal=False)
            return "failed" if err.passing else "bad"
        except Exception as err:
            self._failed(failure_of(err), internal=_is_internal(err))
            return "bad" if isinstance(err, ReceiverError) else "failed"
        self._swap(snapshot)
        return "ok"

    def _swap(self, snapshot: Snapshot) -> None:
        previous = self._current.revision if self._current else "none"
        self._current = snapshot
        self._hold(snapshot)
        log.info("policies reloaded: revision %s -> %s", previous, snapshot.revision)
        self._count(True, snapshot.revision)
        log_expiry(snapshot.policies)

    def _hold(self, snapshot: Snapshot) -> None:
        """Keep ``snapshot`` among the last :data:`HELD_REVISIONS` (a new dict: readers in
        other threads see the old one or the new one whole)."""
        held = {r: s for r, s in self.held.items() if r != snapshot.revision}
        held[snapshot.revision] = snapshot
        while len(held) > HELD_REVISIONS:
            del held[next(iter(held))]
        self.held = held

    def _failed(self, why: str, *, internal: bool) -> None:
        serving = self._current.revision if self._current else "none"
        log.error(
            "policy reload failed; still serving revision %s: %s",
            serving,
            why,
            exc_info=internal,
        )
        self._count(False, "")

    def _count(self, ok: bool, revision: str) -> None:
        if self._on_reload is None:
            return
        try:
            self._on_reload(ok, revision)
        except Exception:  # a metrics callback must not undo a reload
            log.exception("the reload callback failed")

    async def watch(self) -> None:
        """Reload whenever a policy file or the users file changes (watchfiles).

        Runs until cancelled: a reload never raises, and a failure of the watcher
        itself (a directory removed and so on) is logged and the watcher started again.
        """
        if self.policies is None:
            raise RuntimeError("--watch needs a policy directory, not a bundle URL")
        targets = [self.policies] + ([self.users] if self.users is not None else [])
        while True:
            try:
                async for changes in awatch(*targets, debounce=300, step=100):
                    names = sorted({Path(path).name for _, path in changes})
                    log.info("change detected in %s; reloading", ", ".join(names))
                    await self.reload_async()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "the policy file watcher failed; starting it again in %g s",
                    WATCH_RESTART_DELAY,
                )
            await asyncio.sleep(WATCH_RESTART_DELAY)


def log_expiry(policies: PolicySet, now: float | None = None) -> None:
    """Log each rule that has expired (it no longer applies) or expires within 14 days,
    at every load, as ``receiver check`` warns: an operator sees it in the service's log."""
    moment = time.time() if now is None else now
    for rule in policies.rules:
        expires = rule.doc.expires
        if expires is not None:
            note = expiry_note(rule.qualified_id, expires.value, moment)
            if note is not None:
                log.warning("%s: %s", expires.span, note[1])


def _is_internal(err: BaseException) -> bool:
    """Whether a failure is a bug (worth a traceback) rather than bad files."""
    return not isinstance(err, ReceiverError | OSError)
