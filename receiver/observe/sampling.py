"""Which decided events ``receiver serve --record-sample RATE`` records.

The edge (a sink's filter). Consumes the rate as written (``0.1`` or ``10%``) and each
event's actor; produces whether the event is recorded (:class:`ActorSample`).

Sampling is by actor, so that a sampled user's whole history is recorded and the counters
keyed by that user replay as production counted them. Whether an actor is sampled does not
depend on the process, the replica or a restart: it is a keyed hash of the actor id (the
actor's ``userId``, else its ``_id``, in text form)::

    share = int.from_bytes(blake2b(actor_id.encode(), key=SAMPLE_KEY, digest_size=8)
                           .digest(), "big") / 2**64
    recorded = share < rate

The key is fixed (:data:`SAMPLE_KEY`) and differs from the hash of a rule's ``rollout:``
buckets, so a 10 % sample and a 10 % rollout pick unrelated users. An event without an
actor id is recorded at random at the same rate.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Mapping
from typing import Any, Final

SAMPLE_KEY: Final = b"receiver serve --record-sample"
_SCALE: Final = float(2**64)


class RateError(ValueError):
    """A sampling rate that is not a fraction in (0, 1] or a percentage in (0 %, 100 %]."""


def parse_rate(value: object) -> float:
    """The rate of ``--record-sample``: a fraction ``0 < RATE <= 1`` (``0.1``) or a
    percentage (``10%``)."""
    if isinstance(value, bool):
        raise RateError(f"the record sample must be a fraction or a percentage, got {value!r}")
    percent = isinstance(value, str) and value.strip().endswith("%")
    text = value.strip().removesuffix("%").strip() if isinstance(value, str) else value
    try:
        rate = float(text)  # type: ignore[arg-type]  # str, int or float; anything else fails
    except (TypeError, ValueError):
        raise RateError(
            f"the record sample must be a fraction such as 0.1 or a percentage such as 10%, "
            f"got {value!r}"
        ) from None
    if percent:
        rate /= 100
    if not (math.isfinite(rate) and 0 < rate <= 1):
        raise RateError(f"the record sample must be above 0 and at most 1 (or 100%), got {value!r}")
    return rate


def actor_id(actor: Mapping[str, Any]) -> str | None:
    """The id an event's actor is sampled by: ``userId``, else ``_id`` (text form)."""
    for key in ("userId", "_id"):
        value = actor.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


def actor_share(identity: str) -> float:
    """Where an actor id falls in [0, 1): the keyed hash of the module docstring."""
    digest = hashlib.blake2b(identity.encode(), key=SAMPLE_KEY, digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


class ActorSample:
    """``sample(actor)``: whether an event of this actor is recorded at ``rate``."""

    def __init__(self, rate: float, chance: Callable[[], float] = random.random) -> None:
        self.rate = rate
        self._chance = chance
        self._all = rate >= 1

    def __call__(self, actor: Mapping[str, Any]) -> bool:
        if self._all:
            return True
        identity = actor_id(actor)
        if identity is None:
            return self._chance() < self.rate
        return actor_share(identity) < self.rate
