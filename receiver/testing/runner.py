"""Running policy test files through the production pipeline.

Stage: testing (policy tests), running. Consumes test paths (and ``-k`` patterns); produces
a :class:`RunResult` of every case's :class:`CaseResult` (:meth:`Runner.run`), with the
coverage of each policy folder when asked.

For each test file: read it (:mod:`receiver.testing.reader`), load its policy folder
with :func:`~receiver.runtime.policyset.load_policies` (once per folder), check the names it
uses (rule ids, event names) against the loaded policies, then run each case:

1. the verdict: :func:`~receiver.runtime.decide.decide` with a
   :class:`~receiver.users.static.StaticDirectory` and fresh memory counters seeded by
   the file and the case, exactly as ``receiver eval`` and the service decide (the
   case's ``rollout:`` pins passed to the same evaluation loop). With
   coverage on, the decision is traced (:class:`~receiver.runtime.trace.Tracer`, what
   ``receiver eval --explain`` runs): the same loop and closures decide, and the traced
   tree, instrumented to record membership tests (:mod:`receiver.testing.coverage`),
   shows the values. Without coverage, a failing case is decided again, traced, for
   its explanation;
2. the expectations are compared with the verdict (:mod:`receiver.testing.expect`).
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from receiver.check.model import CheckedRule
from receiver.counters.memory import MemoryBackend
from receiver.counters.seed import find_counter, seed
from receiver.dsl import events as ev
from receiver.dsl.values import Timestamp
from receiver.errors import PolicyLoadError
from receiver.runtime.decide import Decided, decide
from receiver.runtime.decision import Decision
from receiver.runtime.explain import render_explanation
from receiver.runtime.inputs import UserLookup
from receiver.runtime.payload import Event
from receiver.runtime.policyset import PolicySet, load_policies
from receiver.runtime.trace import Tracer
from receiver.testing.coverage import SetCoverage
from receiver.testing.expect import Mismatch, compare
from receiver.testing.instrument import Instrument, Record
from receiver.testing.listprobe import ListProbe
from receiver.testing.model import Case, RuleRef, Suite
from receiver.testing.reader import is_test_file, read_file
from receiver.text.diagnostics import Diagnostic, Diagnostics, did_you_mean

TEST_DECISION_ID = "test-decision-id"  # what `{decision_id}` shows in messages under test
BRAINCLOUD_PREFIX = "braincloud."  # brainCloud hooks: braincloud.<type>.<service>.<OPERATION>


def discover(paths: Sequence[Path]) -> tuple[list[Path], list[Diagnostic]]:
    """The test files under files or folders, in path order; missing paths are errors."""
    diags = Diagnostics()
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            diags.error("io", "no such file or folder", None, str(path))
        elif path.is_dir():
            found.extend(p for p in path.rglob("*") if is_test_file(p) and p.is_file())
        else:
            found.append(path)
    unique = sorted(set(found), key=str)
    if not unique and not diags.has_errors:
        shown = ", ".join(str(p) for p in paths)
        diags.error("no-tests", f"no test files (*.test.yaml) found in {shown}", None, shown)
    return unique, diags.sorted()


def selected(case_id: str, patterns: Sequence[str]) -> bool:
    """``-k``: a case runs when its ``FILE::NAME`` contains one of the patterns (any case).

    A pattern with ``*``, ``?`` or ``[`` is a glob matched against the whole id.
    """
    if not patterns:
        return True
    lowered = case_id.lower()
    for pattern in patterns:
        wanted = pattern.lower()
        if any(c in wanted for c in "*?["):
            if fnmatch.fnmatchcase(lowered, wanted) or fnmatch.fnmatchcase(lowered, f"*{wanted}*"):
                return True
        elif wanted in lowered:
            return True
    return False


@dataclass(slots=True)
class LoadedFile:
    """A test file, read and checked against its policies; ready to run unless broken."""

    path: Path
    suite: Suite | None
    policyset: PolicySet | None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def broken(self) -> bool:
        return (
            self.suite is None
            or self.policyset is None
            or any(d.severity == "error" for d in self.diagnostics)
        )

    def case_id(self, case: Case) -> str:
        return f"{self.path}::{case.name}"


@dataclass(slots=True)
class CaseResult:
    file: LoadedFile
    case: Case
    mismatches: list[Mismatch]
    decision: Decision
    explained: Decision
    explanation: str
    seconds: float

    @property
    def passed(self) -> bool:
        return not self.mismatches

    @property
    def id(self) -> str:
        return self.file.case_id(self.case)

    @property
    def location(self) -> str:
        return str(self.case.span)


@dataclass(slots=True)
class FileResult:
    file: LoadedFile
    cases: list[CaseResult] = field(default_factory=list)
    deselected: int = 0


@dataclass(slots=True)
class RunResult:
    files: list[FileResult]
    problems: list[Diagnostic]  # discovery problems (missing paths, no test files)
    coverage: list[SetCoverage]
    not_run: int = 0  # cases left out once ``stop`` said why (``stopped``)
    stopped: str | None = None

    @property
    def cases(self) -> list[CaseResult]:
        return [c for f in self.files for c in f.cases]

    @property
    def passed(self) -> int:
        return sum(1 for c in self.cases if c.passed)

    @property
    def failed(self) -> int:
        return sum(1 for c in self.cases if not c.passed)

    @property
    def broken(self) -> list[FileResult]:
        return [f for f in self.files if f.file.broken]

    @property
    def deselected(self) -> int:
        return sum(f.deselected for f in self.files)


class Runner:
    """Loads test files and runs their cases; policy folders are loaded once each."""

    def __init__(
        self, *, coverage: bool = True, policies: Mapping[Path, PolicySet] | None = None
    ) -> None:
        """``policies``: sets already loaded, by folder, used instead of reading those
        folders (the console runs the tests against the edited, unsaved files)."""
        self.collect_coverage = coverage
        self._sets: dict[Path, PolicySet | PolicyLoadError] = {
            folder.resolve(): loaded for folder, loaded in (policies or {}).items()
        }
        self._reported: set[Path] = set()
        self._instruments: dict[int, tuple[Instrument, ListProbe]] = {}
        self._coverage: dict[Path, SetCoverage] = {}

    # -- loading ------------------------------------------------------------------------

    def policies(self, folder: Path) -> PolicySet | PolicyLoadError:
        resolved = folder.resolve()
        loaded = self._sets.get(resolved)
        if loaded is None:
            try:
                loaded = load_policies([folder])
            except PolicyLoadError as err:
                loaded = err
            self._sets[resolved] = loaded
        return loaded

    def load(self, path: Path) -> LoadedFile:
        diags = Diagnostics()
        suite = read_file(path, diags)
        if suite is None or diags.has_errors:
            return LoadedFile(path, suite, None, diags.sorted())
        loaded = self.policies(suite.policies)
        if isinstance(loaded, PolicyLoadError):
            resolved = suite.policies.resolve()
            if resolved not in self._reported:  # the policies' own errors, once per folder
                self._reported.add(resolved)
                diags.extend(d for d in loaded.diagnostics if d.severity == "error")
            where = suite.policies_span or suite.span
            diags.error(
                "policies",
                f"the policies in {suite.policies} have errors, so these cases can't run; "
                f"run 'receiver check {suite.policies}'",
                where,
            )
            return LoadedFile(path, suite, None, diags.sorted())
        resolve(suite, loaded, diags)
        return LoadedFile(path, suite, loaded, diags.sorted())

    # -- running ------------------------------------------------------------------------

    def _instrument(self, policyset: PolicySet) -> tuple[Instrument, ListProbe]:
        found = self._instruments.get(id(policyset))
        if found is None:
            found = self._instruments[id(policyset)] = (Instrument(policyset), ListProbe(policyset))
        return found

    def coverage_for(self, file: LoadedFile) -> SetCoverage:
        assert file.suite is not None and file.policyset is not None
        resolved = file.suite.policies.resolve()
        cov = self._coverage.get(resolved)
        if cov is None:
            folder = file.suite.policies
            label = (
                f"{folder}/" if folder.is_dir() and not str(folder).endswith("/") else str(folder)
            )
            cov = self._coverage[resolved] = SetCoverage(label, file.policyset)
        return cov

    @property
    def coverage(self) -> list[SetCoverage]:
        return sorted(self._coverage.values(), key=lambda c: c.label)

    def run_case(self, file: LoadedFile, case: Case) -> CaseResult:
        suite, policyset = file.suite, file.policyset
        assert suite is not None and policyset is not None, "a broken test file can't run"
        event = Event(case.event, case.data, case.actor)
        now = case.now if case.now is not None else suite.now
        if now is None:
            now = Timestamp(time.time())
        users = case.users if case.users is not None else suite.users
        lookup = users.get if users is not None else None

        traced = self.collect_coverage
        started = time.perf_counter()
        decided, runs = self._decide(
            policyset, suite, case, event=event, now=now, users=lookup, traced=traced
        )
        seconds = time.perf_counter() - started
        decision = decided.decision

        mismatches = compare(case.expect, decision, case.data, case.hook_type, event)
        explained, explanation = decision, ""
        if mismatches and not traced:  # the explanation of a failure: the same decision, traced
            decided, runs = self._decide(
                policyset, suite, case, event=event, now=now, users=lookup, traced=True
            )
            explained, traced = decided.decision, True
        if traced:
            explanation = render_explanation(
                policyset.tree(event.name), explained, decided.counter_lines()
            )
        if self.collect_coverage:
            _, probe = self._instrument(policyset)
            self.coverage_for(file).add(event.name, explained, probe.exercised(runs))
        return CaseResult(file, case, mismatches, decision, explained, explanation, seconds)

    def _decide(
        self, policyset: PolicySet, suite: Suite, case: Case, *, event: Event, now: Timestamp,
        users: UserLookup | None, traced: bool,
    ) -> tuple[Decided, list[tuple[CheckedRule, list[Record]]]]:  # fmt: skip
        """The case's decision on fresh seeded counters (traced: with the rules' records)."""
        counters = _seeded(policyset, suite, case, now)
        pins = case.pins() or None  # the case's `rollout:`: the way of the rules it names
        if not traced:
            decided = decide(
                policyset, event, now, users=users, counters=counters,
                decision_id=TEST_DECISION_ID, rollout_pins=pins,
            )  # fmt: skip
            return decided, []
        instrument, _ = self._instrument(policyset)
        with instrument.recording() as runs:
            decided = decide(
                policyset, event, now, users=users, counters=counters,
                decision_id=TEST_DECISION_ID, tracer=Tracer(instrument.tree(event.name)),
                rollout_pins=pins,
            )  # fmt: skip
        return decided, runs

    def run(
        self,
        paths: Sequence[Path],
        patterns: Sequence[str] = (),
        stop: Callable[[int], str | None] | None = None,
    ) -> RunResult:
        """Run the selected cases of the test files under ``paths``. ``stop`` (the
        console's limits) is asked before each case, with the count run so far; once it
        gives a reason, the remaining cases are counted as not run."""
        files, problems = discover(paths)
        results: list[FileResult] = []
        ran = not_run = 0
        stopped: str | None = None
        for path in files:
            loaded = self.load(path)
            result = FileResult(loaded)
            results.append(result)
            if loaded.broken or loaded.suite is None:
                continue
            for case in loaded.suite.cases:
                if not selected(loaded.case_id(case), patterns):
                    result.deselected += 1
                    continue
                if stopped is None and stop is not None:
                    stopped = stop(ran)
                if stopped is not None:
                    not_run += 1
                    continue
                result.cases.append(self.run_case(loaded, case))
                ran += 1
        return RunResult(results, problems, self.coverage, not_run, stopped)


def _seeded(policyset: PolicySet, suite: Suite, case: Case, now: Timestamp) -> MemoryBackend:
    """Fresh memory counters for a case, seeded (the file's, then the case's): the same
    backend as ``receiver eval`` and the service's memory counters."""
    backend = MemoryBackend()
    by_id = {c.id: c for c in policyset.counters}
    for seed_ in [*suite.counters, *case.counters]:
        if seed_.counter in by_id:
            seed(backend, by_id[seed_.counter], seed_.key, seed_.value, now)
    return backend


# -- names the policies must confirm ----------------------------------------------------


def _rule_refs(suite: Suite) -> Iterable[RuleRef]:
    for case in suite.cases:
        expect = case.expect
        if expect.rule is not None:
            yield expect.rule
        yield from expect.modified_by or ()
        yield from (s.rule for s in expect.shadow or ())
        if isinstance(expect.errors, list):
            yield from expect.errors
        yield from (way.rule for way in expect.rollout or ())
        yield from (pin.rule for pin in case.rollout)


def _rollout_refs(suite: Suite) -> Iterable[RuleRef]:
    """The rules named by ``rollout:`` (pins and expectations): rollout rules only."""
    for case in suite.cases:
        yield from (way.rule for way in case.expect.rollout or ())
        yield from (pin.rule for pin in case.rollout)


def resolve(suite: Suite, policyset: PolicySet, diags: Diagnostics) -> None:
    """Resolve rule ids (``policy/rule``, or a bare rule id that is unique) and check events."""
    qualified = {r.qualified_id for r in policyset.rules}
    bare: dict[str, list[str]] = {}
    for rule in policyset.rules:
        bare.setdefault(rule.id, []).append(rule.qualified_id)
    shown = f"{suite.policies}/" if suite.policies.is_dir() else str(suite.policies)
    seen: set[int] = set()  # a pin of `defaults` is shared by the cases: report it once
    for ref in _rule_refs(suite):
        if id(ref) in seen:
            continue
        seen.add(id(ref))
        written = ref.written
        if written in qualified:
            ref.resolved = written
        elif "/" not in written and len(bare.get(written, [])) == 1:
            ref.resolved = bare[written][0]
        elif "/" not in written and written in bare:
            options = ", ".join(bare[written])
            diags.error(
                "unknown-rule",
                f"several policies have a rule '{written}' ({options}); write policy/rule",
                ref.span,
            )
        else:
            hint = did_you_mean(written, sorted(qualified) + sorted(bare))
            diags.error("unknown-rule", f"no rule '{written}' in {shown}{hint}", ref.span)
    rolled_out = {r.qualified_id for r in policyset.rules if r.doc.rollout is not None}
    reported: set[int] = set()
    for ref in _rollout_refs(suite):
        if ref.resolved and ref.resolved not in rolled_out and id(ref) not in reported:
            reported.add(id(ref))
            diags.error(
                "not-a-rollout",
                f"rule '{ref.resolved}' has no 'rollout:', so it always goes the way its "
                "'mode' says; name a rule with 'rollout:' here (or use 'shadow' and 'rule' "
                "to check this one)",
                ref.span,
            )
    for seed_ in [*suite.counters, *(s for c in suite.cases for s in c.counters)]:
        found = find_counter(policyset.counters, seed_.name)
        if isinstance(found, str):
            diags.error("unknown-counter", f"{found} in {shown}", seed_.span)
        else:
            seed_.counter = found.id
    known = set(ev.KNOWN_EVENTS)
    patterns = {p for r in policyset.rules for p in r.events}
    known.update(p for p in patterns if not ev.is_glob(p))
    for case in suite.cases:
        if case.event in known or case.event.startswith(BRAINCLOUD_PREFIX):
            continue
        hint = did_you_mean(case.event, known)
        if hint:  # close to a real name: a typo, even when a glob such as "*" matches it
            diags.error(
                "unknown-event", f"'{case.event}' is not a known event{hint}", case.event_span
            )
        elif not any(ev.matches(p, case.event) for p in patterns):
            diags.error(
                "unknown-event",
                f"'{case.event}' is not a known event and no rule applies to it, so every "
                "case with it would be allowed",
                case.event_span,
            )
