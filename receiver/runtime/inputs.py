"""What a decision takes from outside: the user source protocols and their sentinels.

Stage 4 (run). Produces nothing; it names the inputs :func:`~receiver.runtime.decide.decide`
consumes besides the event and the policy set, so that the sources (``receiver.users``:
the static directory, the cache in front of the remote directory) depend on these
names, not on the evaluator's internals.

A user source answers a user id with the user's record (a mapping), ``None`` when
there is no such user, or :data:`LOOKUP_FAILED` when the directory could not answer
(then ``user`` is null and ``user_lookup_failed()`` is true: the documented fail-safe).

- :data:`UserLookup`: synchronous, a plain function (``StaticDirectory.get``);
- :class:`AsyncUserSource`: the service's cache, answering from memory without an
  ``await`` when it can (:meth:`~AsyncUserSource.fresh` gives :data:`MISS` otherwise),
  and awaiting the remote directory within the time left (:meth:`~AsyncUserSource.lookup`).

The counter backends are named in :mod:`receiver.runtime.counters` (``SyncBackend``)
and ``receiver.counters.service`` (the asynchronous front with its fallbacks).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol


class _Sentinel:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


LOOKUP_FAILED: Any = _Sentinel("LOOKUP_FAILED")
"""A user source's answer when the directory could not answer (timeout, error)."""

MISS: Any = _Sentinel("MISS")
""":meth:`AsyncUserSource.fresh`'s answer when the user must be fetched (awaited)."""

UserLookup = Callable[[str], Mapping[str, Any] | None]
"""A synchronous user source: a record, None (no such user) or :data:`LOOKUP_FAILED`."""


def look_up(users: UserLookup | None, user_id: str) -> Any:
    """A synchronous source's answer as an evaluation takes it: a record of its own (a
    copy: rules may not change the source's), None, or :data:`LOOKUP_FAILED`."""
    record = users(user_id) if users is not None else None
    if record is not None and record is not LOOKUP_FAILED:
        return dict(record)
    return record


class AsyncUserSource(Protocol):
    """A user source that may have to await a remote directory (``receiver.users.cache``)."""

    def fresh(self, user_id: str) -> Any:
        """The answer when known without waiting, else :data:`MISS`."""
        ...

    async def lookup(self, user_id: str, remaining: float | None = None) -> Any:
        """The answer, waiting at most ``remaining`` seconds (then :data:`LOOKUP_FAILED`)."""
        ...
