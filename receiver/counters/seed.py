"""Seeding counter values: ``receiver eval --counters-seed FILE`` and ``counters:`` in
policy test files. A seed says what a counter holds for a key *before* the event's own
increment: ``{messages_per_minute: {u1: 5}}`` and a message from ``u1`` then reads 6.

The edge of counting, for ``receiver eval`` and the policy tests. Consumes a seed mapping
(or the YAML file of one, :func:`read_seed_file`) and the checked counters
(:class:`~receiver.check.model.CheckedCounter`); produces the seeded entries of a
:class:`~receiver.counters.memory.MemoryBackend`, or a :class:`SeedError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from receiver.check.model import CheckedCounter
from receiver.counters.memory import MemoryBackend
from receiver.dsl.values import Timestamp
from receiver.errors import ReceiverError
from receiver.runtime.counters import Op, now_ms
from receiver.text.diagnostics import did_you_mean
from receiver.text.yamlerrors import located_message
from receiver.text.yamlnodes import safe_load


class SeedError(ReceiverError):
    """A seed names an unknown counter or has a bad value; the message says which."""


def find_counter(counters: Sequence[CheckedCounter], written: str) -> CheckedCounter | str:
    """The counter named ``name`` (unique across policies) or ``policy/name``; else why not."""
    exact = [c for c in counters if c.id == written]
    if exact:
        return exact[0]
    bare = [c for c in counters if c.name == written]
    if len(bare) == 1:
        return bare[0]
    if bare:
        return f"several policies have a counter '{written}' ({', '.join(c.id for c in bare)}); " \
            "write policy/name"  # fmt: skip
    names = sorted({c.name for c in counters} | {c.id for c in counters})
    hint = did_you_mean(written, names) or (
        f"; the counters are {', '.join(names)}" if names else "; the policies declare none"
    )
    return f"no counter '{written}'{hint}"


def seed(
    backend: MemoryBackend, counter: CheckedCounter, key: str, value: int, now: Timestamp
) -> None:
    op = Op(counter.id, counter.window_ms, key, counter.distinct is not None)
    backend.seed(op, value, now_ms(now))


def check_value(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def seed_mapping(
    backend: MemoryBackend,
    counters: Sequence[CheckedCounter],
    seeds: Mapping[str, Any],
    now: Timestamp,
    where: str,
) -> None:
    """Seed from ``{counter: {key: value}}``; problems raise SeedError."""
    if not isinstance(seeds, Mapping):
        raise SeedError(f"{where}: the seeds must be a mapping {{counter: {{key: value}}}}")
    for name, keys in seeds.items():
        found = find_counter(counters, str(name))
        if isinstance(found, str):
            raise SeedError(f"{where}: {found}")
        if not isinstance(keys, Mapping):
            raise SeedError(f"{where}: counter '{name}' needs a mapping {{key: value}}")
        for key, value in keys.items():
            count = check_value(value)
            if count is None:
                raise SeedError(f"{where}: {name}[{key}] must be a whole number >= 0")
            seed(backend, found, str(key), count, now)


def read_seed_file(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise SeedError(f"{path}: cannot read the counter seeds: {err.strerror}") from None
    try:
        return safe_load(text) or {}
    except yaml.YAMLError as err:
        raise SeedError(located_message(err, text, str(path))) from None
