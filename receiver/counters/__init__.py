"""Velocity and strike counters: declared, named, sliding-window counters in policies.

- :mod:`receiver.check.counters`: reading (``counters:`` of a policy file) and checking
  the declarations; :class:`~receiver.check.counters.CheckedCounter`.
- :mod:`receiver.compile.counters`: per event, which counters it feeds and reads, their keys
  computed from the event, the one backend call before evaluation, and the strikes after.
- :mod:`receiver.counters.memory`: the in-memory backend (exact sliding windows, idle
  keys evicted, thread-safe).
- :mod:`receiver.counters.redis_backend`: the Redis backend (one Lua script call per event).
- :mod:`receiver.counters.service`: the service's asynchronous front (timeouts bounded by
  the request's deadline, fallback to memory or "unknown", metrics, logs).

Semantics are pinned in the README's "Counters" section.
"""
