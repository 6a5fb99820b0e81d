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
     "change": null | "allow_to_deny" | "deny_to_allow" | "message" | "data"}

With ``jobs`` above 1, the records are grouped so that no two groups share a counter key
(:mod:`receiver.replay.groups`), the groups are packed into bins of about equal size, and
each bin is replayed in a worker process in time order, on counters of its own seeded
alike. Records of different groups never see each other's counts, so every decision, and
so the output, is the one of a single process. Counters replay without the memory
backend's limit on keys per counter (Redis has none either), so that a count never
depends on which other keys share the process.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from receiver.errors import ReceiverError
from receiver.observe.records import Record, record_decision
from receiver.replay.compare import change, comparable, recorded_view
from receiver.replay.engine import ReplayStats, fresh_counters, replay
from receiver.replay.groups import partition, spread
from receiver.replay.progress import Progress
from receiver.replay.summary import Summary
from receiver.runtime.inputs import UserLookup
from receiver.runtime.policyset import PolicySet, load_policies
from receiver.text import jsoncodec
from receiver.users.static import StaticDirectory

UNLIMITED_KEYS: Final = sys.maxsize
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
    counters = fresh_counters(
        policies, inputs.seeds, inputs.seed_time, inputs.seeds_where, max_keys=UNLIMITED_KEYS
    )
    stats = ReplayStats()
    try:
        for replayed in replay(policies, records, users=users, counters=counters, stats=stats):
            yield output_line(replayed.record, replayed.decided.decision, summary)
    finally:
        summary.users_missing += stats.users_missing


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
    summary's time is left to the caller, who knows when reading began."""
    summary = Summary(replayed_revision=policies.revision, jobs=1)
    advance: Callable[[int], None] = progress.advance if progress is not None else _ignore
    if jobs <= 1 or len(records) < 2:
        write = output.write
        pending = 0
        users = user_source(inputs.users)
        for line in replay_lines(policies, records, inputs, users, summary):
            write(line)
            pending += 1
            if pending == PROGRESS_EVERY:
                advance(pending)
                pending = 0
        advance(pending)
        return summary
    bins = spread(partition(policies, records), jobs * BINS_PER_JOB)
    summary.jobs = min(jobs, len(bins))
    lines: list[bytes] = [b""] * len(records)
    with ProcessPoolExecutor(
        max_workers=summary.jobs, initializer=_start_worker, initargs=(inputs,)
    ) as pool:
        futures: dict[Future[tuple[list[bytes], Summary]], list[int]] = {
            pool.submit(_replay_bin, [records[i] for i in positions]): positions
            for positions in bins
        }
        for future in as_completed(futures):
            bin_lines, part = future.result()
            for position, line in zip(futures[future], bin_lines, strict=True):
                lines[position] = line
            summary.merge(part)
            advance(len(bin_lines))
    output.writelines(lines)
    return summary


def _ignore(_count: int) -> None:
    return None


class PoliciesChanged(ReceiverError):
    """The policy files changed while a replay was starting its worker processes."""


# A worker process's own policy set, inputs and users, loaded once by _start_worker,
# or why they could not be (raised by the first bin, so that the parent reports it).
_worker: tuple[PolicySet, Inputs, UserLookup | None] | ReceiverError | None = None


def _start_worker(inputs: Inputs) -> None:
    global _worker  # noqa: PLW0603  # one per worker process, set as it starts
    try:
        policies = load_policies([inputs.policies], eager=False)
        _worker = (policies, inputs, user_source(inputs.users))
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


def _replay_bin(records: list[Record]) -> tuple[list[bytes], Summary]:
    """One bin's lines, in its records' (time) order, on counters of its own."""
    if _worker is None:  # pragma: no cover - the pool's initializer always ran
        raise RuntimeError("a replay worker without its policies")
    if isinstance(_worker, ReceiverError):
        raise _worker
    policies, inputs, users = _worker
    _check_revision(policies, inputs)
    part = Summary()
    return list(replay_lines(policies, records, inputs, users, part)), part


def measure(summary: Summary, started: float) -> Summary:
    """``summary`` with its wall time since ``started`` (a ``perf_counter()`` value)."""
    summary.seconds = time.perf_counter() - started
    return summary
