"""``receiver replay``'s work: records in, one output line per record and a summary out,
in one process or spread over several with the same output.

The edge of replay. Consumes the loaded policy set (and the paths it came from, for worker
processes, which load their own), the records in time order (read by
:func:`~receiver.observe.records.read_records`), a users file, counter seeds and a job
count; produces the output lines (JSON Lines bytes, in the records' order) on a binary
stream and a :class:`~receiver.replay.summary.Summary`.

One output line per record::

    {"decision_id": "...", "time": 1764950400.12, "platform": "socialplus",
     "event": "message.shouldCreate", "actor": "u1",
     "decision": {...},              # the replayed decision, record_decision()'s shape
     "recorded": {"action": ..., "rule": ..., "message": ...},
     "same": true | false | null,    # null: the recorded answer was the fail-safe one
     "change": null | "allow_to_deny" | "deny_to_allow" | "message_changed" | "data_changed"}

With ``jobs`` above 1, the records are grouped so that no two groups share counter state
(:mod:`receiver.replay.groups`), the groups are packed into bins of about equal size, and
each bin is replayed in a worker process in time order, on counters of its own seeded
alike. Records of different groups never see each other's counts, so every decision, and
so the output, is the one of a single process. Counters replay without the memory
backend's limit on keys per counter (Redis has none either), so that a count never
depends on which other keys share the process.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from receiver.adapters.platforms import PLATFORMS
from receiver.errors import ReceiverError
from receiver.observe.records import (
    Record,
    RecordError,
    read_records,
    record_decision,
    rotated_out,
)
from receiver.replay.answers import change, comparable, recorded_view
from receiver.replay.engine import ReplayStats, fresh_counters, replay
from receiver.replay.groups import partition, spread
from receiver.replay.progress import Progress
from receiver.replay.summary import Summary
from receiver.runtime.inputs import UserLookup
from receiver.runtime.policyset import PolicySet, load_policies
from receiver.text import jsoncodec
from receiver.users.static import StaticDirectory

BINS_PER_JOB: Final = 4  # more bins than processes: even loads, and a moving progress bar
PROGRESS_EVERY: Final = 512  # records between progress bar updates in one process


@dataclass(frozen=True, slots=True)
class Inputs:
    """What deciding the records needs besides the records, by path, so that a worker
    process can load it for itself."""

    policies: Path
    users: Path | None = None
    seeds: Mapping[str, Any] | None = None  # read from the seed file, checked already
    seeds_where: str = ""  # the seed file's name, for messages
    seed_time: float = 0.0  # when the seeds count from: the first record's time
    revision: str = ""  # the policies' revision as the parent loaded them


def user_source(path: Path | None) -> UserLookup | None:
    """The users file's lookup, or None (each record's captured user answers)."""
    return StaticDirectory.from_file(path).get if path is not None else None


def output_line(record: Record, decided_decision: Any, summary: Summary) -> bytes:
    """A record's output line (module docstring), counted in ``summary``."""
    decision = record_decision(decided_decision)
    recorded = record.decision
    compared = comparable(recorded)
    kind = change(recorded, decision) if compared else None
    summary.add(
        record.time, record.platform, record.revision, decision["action"],
        compared=compared, kind=kind,
    )  # fmt: skip
    actor = record.event.actor.get("userId")
    line = {
        "decision_id": record.decision_id,
        "time": record.time,
        "platform": record.platform,
        "event": record.event.name,
        "actor": actor if isinstance(actor, str | int) and not isinstance(actor, bool) else None,
        "decision": decision,
        "recorded": recorded_view(recorded),
        "same": (kind is None) if compared else None,
        "change": kind,
    }
    return jsoncodec.dumps(line) + b"\n"


def replay_lines(
    policies: PolicySet,
    records: Iterable[Record],
    inputs: Inputs,
    users: UserLookup | None,
    summary: Summary,
) -> Iterator[bytes]:
    """Each record's output line, in order, decided in this process on fresh counters."""
    counters = fresh_counters(policies, inputs.seeds, inputs.seed_time, inputs.seeds_where)
    stats = ReplayStats()
    try:
        for replayed in replay(policies, records, users=users, counters=counters, stats=stats):
            yield output_line(replayed.record, replayed.decided.decision, summary)
    finally:
        summary.users_missing += stats.users_missing
        summary.counters_unavailable += stats.counters_unavailable
        summary.counters_fallback += stats.counters_fallback


def run_replay(
    policies: PolicySet,
    records: Sequence[Record],
    inputs: Inputs,
    output: IO[bytes],
    *,
    jobs: int = 1,
    progress: Progress | None = None,
) -> Summary:
    """Replay ``records`` (in time order) and write their lines to ``output``; the
    summary's time is left to the caller, who knows when reading began. ``progress`` is
    entered here, once any worker processes have started."""
    summary = Summary(replayed_revision=policies.revision, jobs=1)
    rates = [record.sample for record in records if record.sample < 1]
    if rates:
        summary.sampled, summary.sample = len(rates), min(rates)
    summary.rotated_out = [tuple(gap) for gap in rotated_out(records)]  # type: ignore[misc]
    bar = progress if progress is not None else contextlib.nullcontext()
    if jobs <= 1 or len(records) < 2:
        users = user_source(inputs.users)
        with bar:
            advance = progress.advance if progress is not None else _ignore
            write = output.write
            pending = 0
            for line in replay_lines(policies, records, inputs, users, summary):
                write(line)
                pending += 1
                if pending == PROGRESS_EVERY:
                    advance(pending)
                    pending = 0
            advance(pending)
        return summary
    groups = partition(policies, records)
    bins = spread(groups, jobs * BINS_PER_JOB)
    summary.jobs = min(jobs, len(bins))
    summary.groups = len(groups)
    summary.largest_group = max(map(len, groups))
    lines: list[bytes] = [b""] * len(records)
    # Forked workers share the records read here (no copy until written to); elsewhere
    # each worker gets them once, pickled.
    context = multiprocessing.get_context("fork" if _can_fork() else None)
    with ProcessPoolExecutor(
        summary.jobs, context, initializer=_start_worker, initargs=(inputs, records)
    ) as pool:
        futures = {pool.submit(_replay_bin, positions): positions for positions in bins}
        with bar:
            advance = progress.advance if progress is not None else _ignore
            for future in as_completed(futures):
                bin_lines, part = future.result()
                for position, line in zip(futures[future], bin_lines, strict=True):
                    lines[position] = line
                summary.merge(part)
                advance(len(bin_lines))
    output.writelines(lines)
    return summary


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def known_platforms(records: list[Record]) -> list[Record]:
    """``records``, unless one names a platform receiver does not answer (a record of
    another tool, or of a newer receiver): then a RecordError at that record."""
    for record in records:
        if record.platform not in PLATFORMS:
            raise RecordError(
                f"{record.source}: platform {record.platform!r} is not one receiver answers "
                f"({', '.join(PLATFORMS)}): a record of another tool, or of a newer receiver?"
            )
    return records


@contextlib.contextmanager
def reading(paths: Iterable[Path]) -> Iterator[list[Record]]:
    """The records of ``paths`` (:func:`~receiver.observe.records.read_records`) for the
    time of a replay. The cyclic garbage collector is paused while they are read (they
    hold no cycles; collections triggered by a million new dicts cost as much again as
    the reading) and leaves them alone until the replay is done (``gc.freeze``): they
    are never garbage, and forked workers then do not copy the pages it would touch."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        records = known_platforms(read_records(paths))
    finally:
        if enabled:
            gc.enable()
    gc.freeze()
    try:
        yield records
    finally:
        gc.unfreeze()


def _ignore(_count: int) -> None:
    return None


class PoliciesChanged(ReceiverError):
    """The policy files changed while a replay was starting its worker processes."""


# A worker process's own policy set, inputs, users and the records, loaded once by
# _start_worker, or why they could not be (raised by the first bin, so that the parent
# reports it).
_worker: tuple[PolicySet, Inputs, UserLookup | None, Sequence[Record]] | ReceiverError | None
_worker = None


def _start_worker(inputs: Inputs, records: Sequence[Record]) -> None:
    global _worker  # noqa: PLW0603  # one per worker process, set as it starts
    try:
        policies = load_policies([inputs.policies], eager=False)
        _worker = (policies, inputs, user_source(inputs.users), records)
    except ReceiverError as err:  # the files changed since the parent read them
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        _worker = PoliciesChanged(
            f"{inputs.policies}: the policies or the users file changed while the replay "
            f"started ({first}); run the replay again"
        )


def _check_revision(policies: PolicySet, inputs: Inputs) -> None:
    if inputs.revision and policies.revision != inputs.revision:
        raise PoliciesChanged(
            f"{inputs.policies}: the policies changed while the replay started (revision "
            f"{inputs.revision}, now {policies.revision}); run the replay again"
        )


def _replay_bin(positions: list[int]) -> tuple[list[bytes], Summary]:
    """One bin's lines, in its records' (time) order, on counters of its own."""
    if _worker is None:  # pragma: no cover - the pool's initializer always ran
        raise RuntimeError("a replay worker without its policies")
    if isinstance(_worker, ReceiverError):
        raise _worker
    policies, inputs, users, records = _worker
    _check_revision(policies, inputs)
    part = Summary()
    chosen = [records[position] for position in positions]
    return list(replay_lines(policies, chosen, inputs, users, part)), part


def measure(summary: Summary, started: float) -> Summary:
    """``summary`` with its wall time since ``started`` (a ``perf_counter()`` value)."""
    summary.seconds = time.perf_counter() - started
    return summary
