"""The per-request evaluation context that compiled closures read.

Below the stages (dsl), read at stage 4 (run). Consumes the event's name, data and actor,
the request time and the memo size; produces the :class:`Context` that the runtime fills
(user, counters) and the closures of stage 3 (compile) read.

One :class:`Context` is made per request. Compiled expressions are closures
``fn(ctx) -> value``; they read the event, the current data (which ``modify``
rules replace as they apply), the actor, the user record (fetched before the
first rule that needs it), the request time, the ``it`` of ``any``/``all``/
``count``, and a memo table holding each shared pure sub-expression's value so
it is computed at most once per request.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from receiver.dsl.values import Timestamp, Value

MISSING: Any = object()  # an empty memo slot
NO_COUNTERS: Mapping[str, Value] = MappingProxyType({})


class Context:
    __slots__ = (
        "actor",
        "counters",
        "counters_unavailable",
        "data",
        "decision_id",
        "event",
        "it",
        "memo",
        "now",
        "trace",
        "user",
        "user_failed",
        "user_loaded",
    )

    def __init__(
        self,
        event: str,
        data: dict[str, Value],
        actor: dict[str, Value],
        now: Timestamp,
        memo_size: int,
        *,
        decision_id: str = "",
    ) -> None:
        self.decision_id = decision_id
        self.event = event
        self.data = data
        self.actor = actor
        self.now = now
        self.user: Value = None
        self.user_loaded = False
        self.user_failed = False
        self.counters: Mapping[str, Value] = NO_COUNTERS  # counter id -> value (see counters/)
        self.counters_unavailable = False
        self.it: Value = None
        self.memo: list[Value] = [MISSING] * memo_size
        self.trace: list[tuple[object, Value]] | None = None

    @property
    def user_id(self) -> str | None:
        user_id = self.actor.get("userId")
        if type(user_id) is str:
            return user_id
        if isinstance(user_id, int) and not isinstance(user_id, bool):
            return str(user_id)
        return None
