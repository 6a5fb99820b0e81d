"""Velocity and strike counters: declared, named, sliding-window counters in policies.

The stages hold what is the same for every backend: :mod:`receiver.load.counters` reads
``counters:`` of a policy file, :mod:`receiver.check.counters` checks the declarations
(:class:`~receiver.check.model.CheckedCounter`), :mod:`receiver.compile.counters` builds
each event's plan (which counters it feeds, reads and strikes) with its tree, and
:mod:`receiver.runtime.counters` runs a plan around one decision (keys, the one backend
call before evaluation, the strikes after; :func:`~receiver.runtime.decide.decide`).
This package is the edge of counting, the backends and the service's front:

- :mod:`receiver.counters.memory`: the in-memory backend (exact sliding windows, idle
  keys evicted, thread-safe).
- :mod:`receiver.counters.redis_backend`: the Redis backend (one Lua script call per event).
- :mod:`receiver.counters.keyhash`: the keyed hashes (HMAC-SHA256) that Redis holds instead
  of keys and distinct values derived from message content.
- :mod:`receiver.counters.service`: the service's asynchronous front (timeouts bounded by
  the request's deadline, fallback to memory or "unknown", metrics, logs).

Semantics are pinned in the README's "Counters" section.
"""
