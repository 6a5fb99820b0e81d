"""``receiver replay``: decide recorded events again with a policy set, and compare.

Stage: the edge (the command line) over replay. Consumes a policy path, record files
(``serve --record``'s, or decision-log files written with ``--log-content``), and
optionally a users file, counter seeds and a job count; produces one JSON line per record
(``receiver.replay.run``) on stdout or in ``-o FILE``, and the summary on stderr (and in
``--summary-json FILE``). Exit codes as ``receiver eval``'s: 1 when the policies have
errors (reported as ``receiver check`` reports them), 2 for a bad record (its file and
line named), users file, seed file or option.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import time
from pathlib import Path
from typing import IO, Any, TextIO

from receiver.cli.common import load_or_report
from receiver.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from receiver.counters.seed import read_seed_file
from receiver.errors import ReceiverError
from receiver.observe.records import cut_short
from receiver.replay.engine import fresh_counters
from receiver.replay.progress import Progress
from receiver.replay.run import Inputs, measure, reading, run_replay, user_source
from receiver.text import jsoncodec


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add ``replay`` with its options to the ``receiver`` parser's subcommands."""
    rp: argparse.ArgumentParser = commands.add_parser(
        "replay",
        help="decide recorded events again with a policy set and compare with what was answered",
    )
    rp.add_argument("policies", type=Path, metavar="POLICIES", help="policy directory (or file)")
    rp.add_argument(
        "records",
        type=Path,
        nargs="+",
        metavar="RECORDS",
        help="record files of 'serve --record' (.jsonl, .jsonl.gz), decision-log files "
        "written with --log-content, or directories of them; replayed in time order",
    )
    rp.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="OUT.jsonl",
        help="write one JSON line per record here (default: standard output)",
    )
    rp.add_argument(
        "--users",
        type=Path,
        metavar="FILE",
        help="YAML/JSON map from userId to user record, answering every lookup "
        "(default: the user record captured with each event)",
    )
    rp.add_argument(
        "--counters-seed",
        type=Path,
        metavar="FILE",
        help="YAML {counter: {key: value}}: counter values before the first record "
        "(default: all counters start empty)",
    )
    rp.add_argument(
        "--jobs",
        default="1",
        metavar="N",
        help="worker processes; 0 or 'auto': one per core. Events sharing a counter key "
        "stay in one process, in time order, so the output is the same for any N",
    )
    rp.add_argument(
        "--summary-json",
        type=Path,
        metavar="FILE",
        help="also write the summary as JSON to FILE",
    )
    return rp


def jobs_of(text: str) -> int:
    """``--jobs``: a count of processes, 0 or ``auto`` for one per core; ValueError for
    anything else."""
    count = 0 if text.strip().lower() == "auto" else int(text)
    if count < 0:
        raise ValueError(text)
    if count == 0:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    return count


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        jobs = jobs_of(args.jobs)
    except ValueError:
        err.write(f"receiver: --jobs: expected a number of processes or 'auto': {args.jobs!r}\n")
        return EXIT_USAGE
    policies = load_or_report(args.policies, err, eager=False)
    if policies is None:
        return EXIT_FAILED
    started = time.perf_counter()  # the summary's rate: reading, deciding and writing
    with contextlib.ExitStack() as closing:
        try:
            user_source(args.users)  # a bad users file is reported before any work
            seeds = read_seed_file(args.counters_seed) if args.counters_seed else None
            records = closing.enter_context(reading(args.records))
            inputs = Inputs(
                policies=args.policies,
                users=args.users,
                seeds=seeds,
                seeds_where=str(args.counters_seed or ""),
                seed_time=records[0].time if records else 0.0,
                revision=policies.revision,
            )
            fresh_counters(policies, seeds, inputs.seed_time, inputs.seeds_where)  # seeds fit
        except ReceiverError as exc:  # a bad record (file:line), users file or seed file
            err.write(f"receiver: {exc}\n")
            return EXIT_USAGE
        except OSError as exc:
            err.write(f"receiver: {exc.filename}: cannot read the records: {exc.strerror}\n")
            return EXIT_USAGE
        try:
            output = _output(args.output, out, closing)
        except OSError as exc:
            err.write(f"receiver: {args.output}: cannot write the output: {exc.strerror}\n")
            return EXIT_USAGE
        bar = Progress(len(records), "replaying", err)
        try:
            summary = run_replay(policies, records, inputs, output, jobs=jobs, progress=bar)
        except ReceiverError as exc:
            err.write(f"receiver: {exc}\n")
            return EXIT_FAILED
        output.flush()
    measure(summary, started)
    summary.cut_short = cut_short(args.records)
    err.write(summary.render() + "\n")
    if args.summary_json is not None:
        try:
            args.summary_json.write_bytes(jsoncodec.dumps(summary.to_json()) + b"\n")
        except OSError as exc:
            err.write(f"receiver: {args.summary_json}: cannot write the summary: {exc.strerror}\n")
            return EXIT_USAGE
    return EXIT_OK


def _output(path: Path | None, out: TextIO, closing: contextlib.ExitStack) -> IO[bytes]:
    """Where the lines go: ``-o FILE`` (closed with ``closing``), or standard output's
    bytes (a text-only stand-in for it gets them decoded, once the replay is done)."""
    if path is not None:
        return closing.enter_context(path.open("wb"))
    out.flush()
    buffer: IO[bytes] | None = getattr(out, "buffer", None)
    if buffer is not None:
        return buffer
    collected = io.BytesIO()
    closing.callback(lambda: out.write(collected.getvalue().decode("utf-8")))
    return collected
