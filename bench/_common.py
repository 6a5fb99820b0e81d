"""Shared helpers of the benchmark scripts: interleaved timing, percentiles, tables.

Not a test module and not part of the package: the scripts in this directory
import it as ``_common`` (``python bench/NAME.py`` puts ``bench/`` on the path).
"""

from __future__ import annotations

import gc
import json
import math
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Case = Callable[[int], object]  # one timed call, on payload number i


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks."""
    ordered = sorted(samples)
    if not ordered:
        return math.nan
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass
class Result:
    name: str
    samples: list[int]  # nanoseconds, one per timed call
    indices: list[int]  # the payload number of each sample
    outputs: dict[int, object] = field(default_factory=dict)  # last round's, with keep=True

    def only(self, keep: set[int]) -> Result:
        """The samples of the given payload numbers."""
        pairs = [(s, i) for s, i in zip(self.samples, self.indices, strict=True) if i in keep]
        outputs = {i: o for i, o in self.outputs.items() if i in keep}
        return Result(self.name, [s for s, _ in pairs], [i for _, i in pairs], outputs)

    @property
    def median_us(self) -> float:
        return percentile(self.samples, 50) / 1000

    @property
    def p99_us(self) -> float:
        return percentile(self.samples, 99) / 1000

    @property
    def payload_p99_us(self) -> float:
        """p99 over each payload's median: the slow payloads, without the scheduler's noise."""
        by_index: dict[int, list[int]] = {}
        for sample, index in zip(self.samples, self.indices, strict=True):
            by_index.setdefault(index, []).append(sample)
        return percentile([round(percentile(s, 50)) for s in by_index.values()], 99) / 1000


def measure(
    cases: dict[str, Case],
    indices: Sequence[int],
    rounds: int,
    seed: int,
    *,
    warmup: int = 1,
    keep: bool = False,
) -> dict[str, Result]:
    """Time every case on every index, ``rounds`` times, interleaved.

    Each round visits the indices in a fresh (seeded) random order and, for each
    index, runs every case back to back in a rotating order, so slow drifts of the
    machine (frequency scaling, a noisy neighbour) hit all cases alike and the
    ratios between cases stay meaningful. ``warmup`` untimed rounds come first.
    ``keep`` keeps what each case returned, per index, in the last round.
    """
    rng = random.Random(seed)
    names = list(cases)
    fns = [cases[n] for n in names]
    samples: list[list[int]] = [[] for _ in names]
    visited: list[int] = []
    outputs: list[dict[int, object]] = [{} for _ in names]
    clock = time.perf_counter_ns
    order = list(indices)
    for _ in range(warmup):
        for i in order:
            for fn in fns:
                fn(i)
    gc.collect()
    shift = 0
    for _ in range(rounds):
        rng.shuffle(order)
        for i in order:
            visited.append(i)
            shift = (shift + 1) % len(fns)
            for k in range(len(fns)):
                j = (k + shift) % len(fns)
                fn = fns[j]
                t0 = clock()
                out = fn(i)
                samples[j].append(clock() - t0)
                if keep:
                    outputs[j][i] = out
    return {n: Result(n, s, visited, o) for n, s, o in zip(names, samples, outputs, strict=True)}


def json_reference(raws: Sequence[str]) -> Case:
    """The machine-independent yardstick: parse a payload's JSON and serialise it again."""
    loads, dumps = json.loads, json.dumps

    def ref(i: int) -> object:
        return dumps(loads(raws[i]))

    return ref


def table(rows: Sequence[tuple[str, int, Result]], reference: Result) -> str:
    """case | calls | median | p99 | p99 of payload medians | ratios against the reference."""
    head = ("case", "calls", "median µs", "p99 µs", "p99 of payload medians µs")
    head += ("median/ref", "p99/ref")
    body = [
        (
            label,
            str(n),
            f"{r.median_us:.2f}",
            f"{r.p99_us:.2f}",
            f"{r.payload_p99_us:.2f}",
            f"{r.median_us / reference.median_us:.1f}x",
            f"{r.p99_us / reference.p99_us:.1f}x",
        )
        for label, n, r in rows
    ]
    widths = [max(len(h), *(len(row[c]) for row in body)) for c, h in enumerate(head)]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(w) for cell, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest])

    out = [line(head), line(["-" * w for w in widths])]
    out.extend(line(row) for row in body)
    return "\n".join(out)


def verdict(label: str, measured: float, target: float, unit: str) -> str:
    status = "PASS" if measured < target else "MISS"
    return f"{status}  {label}: {measured:.2f} {unit} (target < {target:g} {unit})"


def header(title: str, **params: Any) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in params.items())
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"== {title} ({shown}; {python} on {sys.platform}, {platform.machine()})"
