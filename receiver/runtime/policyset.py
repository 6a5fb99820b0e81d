"""A loaded policy set: every stage from files to decision trees, behind one object.

``load_policies(paths)`` runs load, check and compile, and raises
:class:`~receiver.errors.PolicyLoadError` (with every diagnostic) when there are
errors. The resulting :class:`PolicySet` is immutable: it holds the checked
rules, the trees of the known events (compiled eagerly, unless the caller decides
only one or two events and asks for ``eager=False``), a bounded cache of trees
for other event names (compiled on first sight; event names come from outside,
so the cache cannot grow without bound), and a revision hash of the files.

Each tree is compiled together with its event's counter plan
(:func:`~receiver.compile.counters.build_plan`): the plan lives next to its tree, so
nothing is compiled on the request path of a known event, and an unknown event's
plan is built once with its tree.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cachetools import LRUCache

from receiver.check.checker import check
from receiver.check.expiry import warn_expiry
from receiver.check.model import CheckedCounter, CheckedRule, PolicyInfo
from receiver.compile.compiler import TreeCompiler, compile_tree
from receiver.compile.counters import EMPTY_PLAN, CounterPlan, build_plan
from receiver.compile.tree import EventTree
from receiver.dsl import events as ev
from receiver.errors import PolicyLoadError
from receiver.load.documents import PolicyDoc
from receiver.load.loader import MAX_POLICY_FILE_BYTES, load_text, policy_files
from receiver.text.diagnostics import Diagnostic, Diagnostics
from receiver.text.yamlnodes import read_source_text, too_large_message

EXTRA_TREE_CACHE = 512

Source = tuple[str, str]  # a policy file given as (name, text)


@dataclass(frozen=True, slots=True)
class CheckReport:
    files: list[Path]
    documents: list[PolicyDoc]
    rules: list[CheckedRule]
    policies: list[PolicyInfo]
    diagnostics: list[Diagnostic]
    counters: list[CheckedCounter] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.diagnostics)


def check_paths(paths: Sequence[Path], *, now: float | None = None) -> CheckReport:
    """Load and check every policy file under ``paths``; never raises for bad policies.

    ``now`` (epoch seconds; ``receiver check``): also warn about rules that expire within
    14 days of it or have expired (:mod:`receiver.check.expiry`)."""
    diags = Diagnostics()
    files = policy_files(p for p in paths if p.exists())  # a missing path is reported once
    for path in paths:
        if not path.exists():
            diags.error("io", "no such file or directory", None, str(path))
    if not files and not diags.has_errors:
        shown = ", ".join(str(p) for p in paths)
        diags.warning("no-policies", f"no policy files (*.yaml) found in {shown}", None, shown)
    sources = [
        (str(path), text)
        for path in files
        if (text := read_source_text(path, diags, MAX_POLICY_FILE_BYTES)) is not None
    ]
    return _check(files, sources, diags, now)


def check_sources(sources: Sequence[Source], *, now: float | None = None) -> CheckReport:
    """Load and check policy files given as ``(name, text)`` pairs instead of paths (the
    console's editors): the same loader, checker and diagnostics as :func:`check_paths`,
    each diagnostic naming its file by the name given. Files are taken in name order,
    as a directory's are; one larger than a policy file may be is refused (``too-large``)."""
    diags = Diagnostics()
    ordered = sorted(sources, key=lambda source: source[0])
    if not ordered:
        diags.warning("no-policies", "no policy files (*.yaml) given", None, "")
    kept: list[Source] = []
    for name, text in ordered:
        if len(text.encode("utf-8", "surrogatepass")) > MAX_POLICY_FILE_BYTES:
            diags.error("too-large", too_large_message(MAX_POLICY_FILE_BYTES), None, name)
        else:  # universal newlines, as a file read from disk has them
            kept.append((name, text.replace("\r\n", "\n").replace("\r", "\n")))
    return _check([Path(name) for name, _ in ordered], kept, diags, now)


def _check(
    files: list[Path], sources: Sequence[Source], diags: Diagnostics, now: float | None
) -> CheckReport:
    """The one check path of :func:`check_paths` and :func:`check_sources`."""
    documents = [doc for name, text in sources if (doc := load_text(name, text, diags))]
    result = check(documents, diags)
    if now is not None:
        warn_expiry(documents, now, diags)
    return CheckReport(
        files, documents, result.rules, result.policies, diags.sorted(), result.counters
    )


@dataclass(eq=False)
class PolicySet:
    rules: tuple[CheckedRule, ...]
    policies: tuple[PolicyInfo, ...]
    revision: str
    warnings: tuple[Diagnostic, ...] = ()
    trees: dict[str, EventTree] = field(default_factory=dict)
    plans: dict[str, CounterPlan] = field(default_factory=dict)  # per tree in ``trees``
    _extra: LRUCache[str, tuple[EventTree, CounterPlan]] = field(
        default_factory=lambda: LRUCache(maxsize=EXTRA_TREE_CACHE)
    )
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _traced: dict[str, EventTree] = field(default_factory=dict)
    _compiler: TreeCompiler | None = None  # shared by the trees: each rule compiled once
    _traced_compiler: TreeCompiler | None = None
    counters: tuple[CheckedCounter, ...] = ()  # declared counters (receiver/counters/)

    @classmethod
    def build(
        cls,
        rules: Iterable[CheckedRule],
        policies: Iterable[PolicyInfo],
        revision: str,
        warnings: Iterable[Diagnostic] = (),
        counters: Iterable[CheckedCounter] = (),
        *,
        eager: bool = True,
    ) -> PolicySet:
        """``eager=False``: compile no tree now, each one when first asked for (a command
        that decides one event need not compile the others)."""
        rules = tuple(rules)
        policyset = cls(rules, tuple(policies), revision, tuple(warnings))
        policyset.counters = tuple(counters)
        names = set(ev.KNOWN_EVENTS)
        for rule in rules:
            names.update(p for p in rule.events if not ev.is_glob(p))
        compiler = policyset._compiler = TreeCompiler(rules)
        for name in sorted(names) if eager else ():
            tree = compile_tree(rules, name, compiler=compiler)
            policyset.trees[name] = tree
            policyset.plans[name] = policyset._plan(tree)
        return policyset

    def _plan(self, tree: EventTree) -> CounterPlan:
        return build_plan(self.counters, tree) if self.counters else EMPTY_PLAN

    def compiled(self, event: str) -> tuple[EventTree, CounterPlan]:
        """The decision tree and the counter plan for an event name (any name: unknown
        ones get allow-all trees); compiled once, with the set or on first sight."""
        tree = self.trees.get(event)
        if tree is not None:
            return tree, self.plans[event]
        with self._lock:
            found = self._extra.get(event)
        if found is None:
            if not any(ev.matches(p, event) for r in self.rules for p in r.events):
                tree = EventTree(event, (), ())
                if not any(_feeds(c, event) for c in self.counters):
                    return tree, EMPTY_PLAN
            else:
                tree = compile_tree(self.rules, event, compiler=self._compiler)
            found = (tree, self._plan(tree))
            with self._lock:
                self._extra[event] = found
        return found

    def tree(self, event: str) -> EventTree:
        """The decision tree for an event name (any name: unknown ones get allow-all trees)."""
        tree = self.trees.get(event)
        return tree if tree is not None else self.compiled(event)[0]

    def plan(self, event: str) -> CounterPlan:
        """The counters an event feeds, reads and strikes (:class:`CounterPlan`)."""
        plan = self.plans.get(event)
        return plan if plan is not None else self.compiled(event)[1]

    def traced_tree(self, event: str) -> EventTree:
        """The same tree compiled with value recording, for explanations (cached)."""
        tree = self._traced.get(event)
        if tree is None:
            with self._lock:
                if self._traced_compiler is None:
                    self._traced_compiler = TreeCompiler(self.rules, trace=True)
            tree = compile_tree(self.rules, event, trace=True, compiler=self._traced_compiler)
            with self._lock:
                if len(self._traced) > EXTRA_TREE_CACHE:
                    self._traced.clear()
                self._traced[event] = tree
        return tree


def _feeds(counter: CheckedCounter, event: str) -> bool:
    """Whether an event counter counts this event (whether or not a rule applies to it)."""
    return counter.kind == "events" and any(ev.matches(p, event) for p in counter.events)


def revision_of(files: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.name.encode())
        digest.update(b"\0")
        with contextlib.suppress(OSError):
            digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def revision_of_sources(sources: Iterable[Source]) -> str:
    """The revision of files given as ``(name, text)``: what :func:`revision_of` gives for
    the same files written into one directory (LF line ends)."""
    digest = hashlib.sha256()
    for name, text in sorted(sources):
        digest.update(Path(name).name.encode())
        digest.update(b"\0")
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def load_policies(paths: Sequence[Path], *, eager: bool = True) -> PolicySet:
    """Load, check and compile; raise PolicyLoadError listing every error.
    ``eager=False``: compile each event's tree when it is first asked for."""
    with _gc_paused():
        report = check_paths(paths)
        return _build(report, lambda: revision_of(report.files), eager)


def load_sources(sources: Sequence[Source], *, eager: bool = True) -> PolicySet:
    """:func:`load_policies` for files given as ``(name, text)`` (the console)."""
    with _gc_paused():
        report = check_sources(sources)
        return _build(report, lambda: revision_of_sources(sources), eager)


def _build(report: CheckReport, revision: Callable[[], str], eager: bool) -> PolicySet:
    if report.has_errors:
        raise PolicyLoadError(report.diagnostics)
    return PolicySet.build(
        report.rules,
        report.policies,
        revision(),
        [d for d in report.diagnostics if d.severity == "warning"],
        report.counters,
        eager=eager,
    )


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while loading.

    Loading allocates millions of long-lived objects (YAML nodes, parse trees, ASTs,
    closures) and almost no cyclic garbage; each allocation burst triggers full
    collections that traverse everything allocated so far (bench/generated.py: about
    a fifth of the load time of 10,000 rules). Results are unchanged.

    Afterwards everything the load allocated is moved straight to the oldest
    generation (``freeze`` then ``unfreeze`` does that without a collection): left in
    the youngest one, it would all be traversed by the first young collection after
    the load (half a second for 10,000 rules), and again by the next older one,
    although it is long-lived. It stays collectable as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if was_enabled:
            gc.enable()
