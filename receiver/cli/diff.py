"""``receiver diff``: what a policy change would have done to recorded traffic.

    receiver diff OLD NEW RECORDS... [--format text|json|markdown|html] [-o FILE]
                  [--fail-on EXPR] [--no-samples] [--samples N] [--users FILE]
                  [--counters-seed FILE] [--bundle-public-key KEY]

Stage: the edge (the command line) over replay (``receiver.replay``). Consumes two
policy sources (a directory or file, a bundle, ``git:REV:PATH``:
:mod:`receiver.replay.sources`) and record files (:mod:`receiver.observe.records`);
replays the records through both (:func:`receiver.replay.compare.compare`), and writes
the report in the format asked for to stdout or ``-o FILE``. Exit codes: 0 (no gate, or
the gate did not hold), 1 (the ``--fail-on`` gate held, or a side's policies have
errors), 2 (bad usage: unreadable records, a bad source, a bad ``--fail-on``).
Light, like ``check``: no web server, HTTP client or Redis client is imported.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TextIO

from receiver.bundles import keys
from receiver.bundles.format import BundleError
from receiver.bundles.urls import BundleUrl
from receiver.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from receiver.counters.seed import read_seed_file
from receiver.errors import PolicyLoadError, ReceiverError
from receiver.observe.records import cut_note, cut_short, read_records
from receiver.replay.compare import compare
from receiver.replay.engine import fresh_counters
from receiver.replay.gate import Figures, Gate, GateError, parse_gate
from receiver.replay.progress import Progress
from receiver.replay.report import build_report, render_json
from receiver.replay.report_html import render_html
from receiver.replay.report_markdown import render_markdown
from receiver.replay.report_text import render_text
from receiver.replay.run import known_platforms
from receiver.replay.samples import explain_new
from receiver.replay.sources import SourceError, SourceInfo, opened
from receiver.runtime.policyset import PolicySet, load_policies
from receiver.text.diagnostics import did_you_mean
from receiver.text.diagnostics import render_text as render_diagnostics
from receiver.users.static import StaticDirectory

FORMATS: Final[dict[str, Callable[[dict[str, Any]], str]]] = {
    "text": render_text,
    "json": render_json,
    "markdown": render_markdown,
    "html": render_html,
}
DEFAULT_SAMPLES: Final = 3


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add ``diff`` with its options to the ``receiver`` parser's subcommands."""
    diff: argparse.ArgumentParser = commands.add_parser(
        "diff",
        help="replay recorded events through two policy versions and report what flips",
        description="Replays the recorded events through OLD and NEW (each with its own "
        "counters, in time order, with the user recorded with each event) and reports the "
        "verdicts that flip, how each rule's counts move, and sampled events with the "
        "explanation of the NEW decision. Samples hold user content: --no-samples leaves "
        "them out.",
    )
    source = "a policy directory or file, a bundle file (receiver bundle build) or " \
        "https:// URL, or " \
        "git:REV:PATH (e.g. git:HEAD~1:policies; PATH from the repository's root, or " \
        "absolute, or ./ or ../ from here)"  # fmt: skip
    diff.add_argument("old", metavar="OLD", help=f"the policies in force: {source}")
    diff.add_argument("new", metavar="NEW", help="the proposed policies, the same forms")
    diff.add_argument(
        "records",
        nargs="+",
        type=Path,
        metavar="RECORDS",
        help="record files (serve --record; *.jsonl, *.jsonl.gz, or decision logs written "
        "with --log-content), or directories of them",
    )
    diff.add_argument("--format", choices=tuple(FORMATS), default="text", help="report format")
    diff.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write the report here (default: stdout)"
    )
    diff.add_argument(
        "--fail-on",
        metavar="EXPR",
        help="exit 1 when this holds, e.g. 'allow_to_deny > 0.5%%' or 'deny_to_allow > 0 or "
        "flips >= 100' (grammar: docs/replay.md) (default: no gate)",
    )
    diff.add_argument(
        "--no-samples",
        action="store_true",
        help="leave the sampled events (user content) out, e.g. for a public PR comment",
    )
    diff.add_argument(
        "--samples",
        type=int,
        default=DEFAULT_SAMPLES,
        metavar="N",
        help="sampled events per kind of flip: the first event of each change of "
        "answering rules, the most frequent first, then the earliest others",
    )
    diff.add_argument(
        "--users",
        type=Path,
        metavar="FILE",
        help="YAML/JSON map from userId to user record, answering every lookup (default: "
        "the user recorded with each event)",
    )
    diff.add_argument(
        "--counters-seed",
        type=Path,
        metavar="FILE",
        help="YAML {counter: {key: value}}: counter values before the first record, on "
        "both sides (default: all 0)",
    )
    diff.add_argument(
        "--bundle-public-key",
        type=Path,
        metavar="KEY",
        help="PEM Ed25519 public key: bundle sources must be signed with its private key "
        "(default: bundle signatures are not checked, and the report says so)",
    )
    return diff


def _download(url: BundleUrl) -> bytes:
    """A bundle at an https:// (or loopback http://) URL, fetched as serve fetches one.
    The HTTP client is imported here only: diff without a URL starts without it."""
    from receiver.bundles.fetch import FetchFailed, fetch_once  # noqa: PLC0415

    try:
        return fetch_once(url)
    except FetchFailed as exc:
        raise SourceError(f"{url.shown}: {exc}") from None


def _load(path: Path, info: SourceInfo, name: str, err: TextIO) -> PolicySet | None:
    """One side's policies, or None once their errors are written as ``check`` writes them."""
    try:
        return load_policies([path], eager=False)
    except PolicyLoadError as exc:
        errors = [d for d in exc.diagnostics if d.severity == "error"]
        err.write(info.shown(render_diagnostics(errors)) + "\n")
        err.write(
            f"receiver: {name} ({info.spec}): the policies have errors; run 'receiver check'\n"
        )
        return None


def _unknown_rules(gate: Gate, old: PolicySet, new: PolicySet) -> str | None:
    known = {r.qualified_id for r in old.rules} | {r.qualified_id for r in new.rules}
    unknown = gate.unknown_rules(known)
    if not unknown:
        return None
    return (
        f"--fail-on: no rule {unknown[0]!r} in OLD or NEW{did_you_mean(unknown[0], known)} "
        "(a rule is named policy/rule-id)"
    )


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.samples < 0:
        err.write("receiver: --samples must be 0 or more\n")
        return EXIT_USAGE
    try:
        gate = parse_gate(args.fail_on) if args.fail_on is not None else None
    except GateError as exc:
        err.write(f"receiver: {exc.render()}\n")
        return EXIT_USAGE
    try:
        public_key = (
            keys.load_public_key(args.bundle_public_key) if args.bundle_public_key else None
        )
        users = StaticDirectory.from_file(args.users).get if args.users else None
        seeds = read_seed_file(args.counters_seed) if args.counters_seed else None
        records = known_platforms(read_records(args.records))
    except (BundleError, ReceiverError) as exc:
        err.write(f"receiver: {exc}\n")
        return EXIT_USAGE
    if not records:  # a gate over no events would pass whatever the change does
        shown = ", ".join(str(p) for p in args.records)
        err.write(
            f"receiver: no records in {shown}; name record files (serve --record PATH writes "
            "them) or directories holding *.jsonl or *.jsonl.gz files\n"
        )
        return EXIT_USAGE
    with contextlib.ExitStack() as stack:
        try:
            old_path, old_info = stack.enter_context(
                opened(args.old, public_key=public_key, download=_download)
            )
            new_path, new_info = stack.enter_context(
                opened(args.new, public_key=public_key, download=_download)
            )
        except SourceError as exc:
            err.write(f"receiver: {exc}\n")
            return EXIT_USAGE
        old = _load(old_path, old_info, "OLD", err)
        new = _load(new_path, new_info, "NEW", err)
        if old is None or new is None:
            return EXIT_FAILED
        if gate is not None and (problem := _unknown_rules(gate, old, new)):
            err.write(f"receiver: {problem}\n")
            return EXIT_USAGE
        start = records[0].time
        try:
            old_counters = fresh_counters(old, seeds, start, str(args.counters_seed))
            new_counters = fresh_counters(new, seeds, start, str(args.counters_seed))
        except ReceiverError as exc:
            err.write(f"receiver: {exc}\n")
            return EXIT_USAGE
        with Progress(len(records), "diffing", err) as bar:
            comparison = compare(
                old, new, records, users=users, old_counters=old_counters,
                new_counters=new_counters, samples=0 if args.no_samples else args.samples,
                advance=bar.advance,
            )  # fmt: skip
        flips = {"flips": comparison.total_flips, **comparison.flips}
        figures = Figures(comparison.events, flips, comparison.rule_deltas())
        held = gate.check(figures) if gate is not None else []
        report = build_report(
            comparison, (old_info, old), (new_info, new),
            explain=None if args.no_samples else (lambda sample: explain_new(new, sample)),
            gate=gate, held=held,
        )  # fmt: skip
    text = FORMATS[args.format](report)
    if args.output is not None:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as exc:
            err.write(f"receiver: {args.output}: cannot write the report: {exc.strerror}\n")
            return EXIT_USAGE
        err.write(
            f"receiver: wrote {args.output}: {comparison.total_flips:,} of "
            f"{comparison.events:,} verdicts flip\n"
        )
    else:
        out.write(text)
    cut = cut_short(args.records)
    if cut:
        err.write(f"receiver: {cut_note(cut)}\n")
    if held:
        err.write(f"receiver: the --fail-on gate held: {'; '.join(str(h) for h in held)}\n")
        return EXIT_FAILED
    return EXIT_OK
