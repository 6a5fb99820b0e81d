"""What a replay found, in a few lines: events, rate, answers, changes, and caveats.

The edge of replay (``receiver replay``'s summary on stderr and ``--summary-json``).
Consumes each replayed record's outcome (:meth:`Summary.add`), and the partial summaries
of worker processes (:meth:`Summary.merge`); produces the summary as text
(:meth:`Summary.render`) and as JSON (:meth:`Summary.to_json`).

Besides the counts, the summary says what limits the comparison: recorded answers that
were fail-safe ones (not comparable, counted apart), events whose rules read ``user``
with no user record captured (``--users`` gives one), the time span of the records, and
the policy revisions they were recorded under against the one replayed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from receiver.dsl.times import format_time
from receiver.observe.records import cut_note
from receiver.replay.answers import KIND_TITLES, KINDS, Kind


@dataclass
class Summary:
    """Counts over a replay; partial ones (one per worker) add up with :meth:`merge`."""

    events: int = 0
    by_action: Counter[str] = field(default_factory=Counter)
    changes: Counter[str] = field(default_factory=Counter)  # Kind -> records
    compared: int = 0
    degraded: int = 0  # recorded answers that were the fail-safe: not compared
    users_missing: int = 0
    counters_unavailable: int = 0  # recorded while the counter backend could not answer
    counters_fallback: int = 0  # recorded with a worker's own fallback counters
    sampled: int = 0  # records made under --record-sample below 1
    sample: float = 1.0  # the smallest --record-sample rate among them
    # writers whose first record files are gone: (writer, first file left, its first time)
    rotated_out: list[tuple[str, str, float]] = field(default_factory=list)
    cut_short: list[str] = field(default_factory=list)  # files whose last line is cut short
    first: float | None = None
    last: float | None = None
    revisions: Counter[str] = field(default_factory=Counter)  # recorded under -> records
    by_platform: Counter[str] = field(default_factory=Counter)
    replayed_revision: str = ""
    seconds: float = 0.0  # wall time of the replay, reading and writing included
    jobs: int = 1
    groups: int = 0  # with jobs > 1: groups of records sharing counter keys
    largest_group: int = 0  # records in the largest group (one process replays it)

    def add(
        self, time: float, platform: str, revision: str, action: str, *,
        compared: bool, kind: Kind | None,
    ) -> None:  # fmt: skip
        """Count one replayed record: its replayed action and how it compared."""
        self.events += 1
        self.by_action[action] += 1
        self.by_platform[platform] += 1
        self.revisions[revision] += 1
        if compared:
            self.compared += 1
            if kind is not None:
                self.changes[kind] += 1
        else:
            self.degraded += 1
        if self.first is None or time < self.first:
            self.first = time
        if self.last is None or time > self.last:
            self.last = time

    def merge(self, other: Summary) -> None:
        """Add another summary's counts (a worker's) to this one."""
        self.events += other.events
        self.by_action.update(other.by_action)
        self.changes.update(other.changes)
        self.compared += other.compared
        self.degraded += other.degraded
        self.users_missing += other.users_missing
        self.counters_unavailable += other.counters_unavailable
        self.counters_fallback += other.counters_fallback
        self.revisions.update(other.revisions)
        self.by_platform.update(other.by_platform)
        for moment in (other.first, other.last):
            if moment is not None:
                self.first = moment if self.first is None else min(self.first, moment)
                self.last = moment if self.last is None else max(self.last, moment)

    @property
    def differing(self) -> int:
        return sum(self.changes.values())

    @property
    def rate(self) -> float:
        """Events per second of wall time (0 before the time is known)."""
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        """The summary as JSON (``--summary-json``): every count, by name."""
        return {
            "events": self.events,
            "seconds": round(self.seconds, 6),
            "events_per_second": round(self.rate, 1),
            "jobs": self.jobs,
            "groups": self.groups,
            "largest_group": self.largest_group,
            "by_action": dict(sorted(self.by_action.items())),
            "by_platform": dict(sorted(self.by_platform.items())),
            "compared": self.compared,
            "same": self.compared - self.differing,
            "differing": self.differing,
            "changes": {kind: self.changes.get(kind, 0) for kind in KINDS},
            "degraded": self.degraded,
            "users_missing": self.users_missing,
            "counters_unavailable": self.counters_unavailable,
            "counters_fallback": self.counters_fallback,
            "sampled": self.sampled,
            "rotated_out": [
                {"writer": writer, "first_file": name, "complete_from": format_time(at)}
                for writer, name, at in self.rotated_out
            ],
            "cut_short": self.cut_short,
            "first": None if self.first is None else format_time(self.first),
            "last": None if self.last is None else format_time(self.last),
            "recorded_revisions": dict(self.revisions.most_common()),
            "replayed_revision": self.replayed_revision,
        }

    def render(self) -> str:
        """The summary as text, for stderr."""
        rate = f", {self.rate:,.0f} events/s" if self.seconds > 0 else ""
        jobs = f" in {self.jobs} processes" if self.jobs > 1 else ""
        events = "event" if self.events == 1 else "events"
        lines = [f"replayed {self.events:,} {events} in {self.seconds:.2f} s{rate}{jobs}"]
        if not self.events:
            lines.append("no records to replay: the files named hold none")
        if self.jobs > 1 and self.events:
            lines.append(
                f"{self.groups:,} groups of events sharing counter keys; the largest, "
                f"{self.largest_group:,} events ({self.largest_group / self.events:.0%}), "
                "is replayed in one process"
            )
        if self.first is not None and self.last is not None:
            lines.append(
                f"records from {format_time(self.first)} to {format_time(self.last)} "
                f"({_span(self.last - self.first)})"
            )
        recorded = ", ".join(
            f"{revision or '(unknown)'} ({count:,})"
            for revision, count in self.revisions.most_common()
        )
        lines.append(
            f"policies replayed: revision {self.replayed_revision}; "
            f"recorded under: {recorded or 'nothing'}"
        )
        answers = ", ".join(
            f"{action} {count:,}" for action, count in sorted(self.by_action.items())
        )
        lines.append(f"replayed answers: {answers or 'none'}")
        same = self.compared - self.differing
        lines.append(
            f"against the recorded answers: {self.compared:,} compared, {same:,} the same, "
            f"{self.differing:,} differ{':' if self.differing else ''}"
        )
        lines.extend(
            f"  {KIND_TITLES[kind]:<22} {self.changes[kind]:>10,}"
            for kind in KINDS
            if self.changes.get(kind)
        )
        if self.sampled:
            lines.append(sampled_note(self.sampled, self.events, self.sample))
        if self.rotated_out:
            lines.append(rotated_note(self.rotated_out))
        if self.cut_short:
            lines.append(cut_note(self.cut_short))
        if self.degraded:
            were = "answer was" if self.degraded == 1 else "answers were"
            lines.append(
                f"{self.degraded:,} recorded {were} the fail-safe answer (degraded): not compared"
            )
        if self.users_missing:
            events = "event" if self.users_missing == 1 else "events"
            their = "its record holds" if self.users_missing == 1 else "their records hold"
            lines.append(
                f"{self.users_missing:,} {events} read 'user' but {their} no user "
                "(decision-log lines, or recorded when no rule read it): they saw no such "
                "user; pass --users FILE to give them one"
            )
        if self.counters_unavailable:
            lines.append(
                f"{self.counters_unavailable:,} recorded while the counter backend could not "
                "answer: decided again with counters unavailable, as the service decided them"
            )
        if self.counters_fallback:
            lines.append(
                f"{self.counters_fallback:,} recorded with a worker's own fallback counters: "
                "decided with the replay's counters, which may differ"
            )
        return "\n".join(lines)


def sampled_note(sampled: int, events: int, rate: float) -> str:
    """What records made under ``--record-sample`` mean for the counts (docs/replay.md)."""
    which = "The records were" if sampled == events else f"{sampled:,} of the records were"
    return (
        f"{which} recorded with --record-sample {rate:.4g}: counters keyed by something "
        "other than the actor (a channel, a text) counted only the sampled actors' events "
        "in this replay, so their rules fire later than in production; differences on "
        "them are expected"
    )


def rotated_note(gaps: list[tuple[str, str, float]]) -> str:
    """What records whose writers' first files are gone mean for the counts."""
    named = "; ".join(f"{writer} begins with {name}" for writer, name, _ in gaps)
    complete = format_time(max(at for _, _, at in gaps))
    return (
        f"Some record files are gone (rotated out or deleted: {named}): events those "
        f"writers recorded before are missing, so counters counted less than the service "
        f"did, and answers before {complete} (plus the longest counter window) may differ "
        "from the recorded ones; keep more files (--record-keep) to replay a span whole"
    )


def _span(seconds: float) -> str:
    """A duration for people: ``42 s``, ``3 min 20 s``, ``5 h 2 min``, ``3 d 4 h``."""
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"
