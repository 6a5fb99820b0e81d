"""Labelled counters and histograms for the request path, cheap in one process.

Sinks (observe), below the service's metrics (:mod:`receiver.http.metrics`) and the counter
front. Consumes label values and amounts; produces the metrics that prometheus-client
renders (:func:`counter`, :func:`histogram`).

prometheus-client's ``Counter``/``Histogram`` take a lock and walk Python objects on
every update (a histogram tests each bucket in turn): a few microseconds per request
on the hottest path of the service. In a single process, :class:`DictCounter` and
:class:`DictHistogram` keep their values in plain dicts (one dict update per count, a
``bisect`` per observation; the event loop is the only writer) and hand them to
prometheus-client as a custom collector, so ``/metrics`` renders exactly what the
library's own types would. With several worker processes (prometheus-client's
multiprocess mode) values must go to the library's shared files instead:
:func:`counter` and :func:`histogram` then return thin wrappers around the library's
types with the same two methods.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Sequence
from typing import Protocol, cast

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

Labels = tuple[str, ...]


class LabelledCounter(Protocol):
    def inc(self, labels: Labels, amount: float = 1.0) -> None: ...


class LabelledHistogram(Protocol):
    def observe(self, labels: Labels, value: float) -> None: ...


def multiprocess() -> bool:
    """Whether prometheus-client's multiprocess mode is on (``receiver serve --workers``)."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class DictCounter:  # a Collector by duck typing (a compiled class cannot subclass it)
    """A labelled counter whose values live in a plain dict: label values -> count."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str]) -> None:
        self._name = name
        self._documentation = documentation
        self._labelnames = list(labelnames)
        self.counts: dict[Labels, float] = {}

    def inc(self, labels: Labels, amount: float = 1.0) -> None:
        counts = self.counts
        counts[labels] = counts.get(labels, 0.0) + amount

    def describe(self) -> list[Metric]:
        return [CounterMetricFamily(self._name, self._documentation, labels=self._labelnames)]

    def collect(self) -> list[Metric]:
        family = CounterMetricFamily(self._name, self._documentation, labels=self._labelnames)
        for labels, count in list(self.counts.items()):
            family.add_metric(list(labels), count)
        return [family]


class DictHistogram:  # a Collector by duck typing, as DictCounter
    """A labelled histogram in plain lists: per label values, bucket counts and a sum."""

    def __init__(
        self, name: str, documentation: str, labelnames: Sequence[str], buckets: Sequence[float]
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._labelnames = list(labelnames)
        self._bounds = tuple(sorted(float(b) for b in buckets))
        # the "le" labels as prometheus-client writes them ("0.005", "1.0", "+Inf")
        self._le = [floatToGoString(b) for b in (*self._bounds, float("inf"))]  # type: ignore[no-untyped-call]
        # per label values: [count in bucket 0, ..., count above the last bound, sum]
        self.series: dict[Labels, list[float]] = {}

    def observe(self, labels: Labels, value: float) -> None:
        series = self.series.get(labels)
        if series is None:
            series = self.series[labels] = [0.0] * (len(self._bounds) + 2)
        series[bisect_left(self._bounds, value)] += 1.0  # le: a value on a bound is in it
        series[-1] += value

    def describe(self) -> list[Metric]:
        return [HistogramMetricFamily(self._name, self._documentation, labels=self._labelnames)]

    def collect(self) -> list[Metric]:
        family = HistogramMetricFamily(self._name, self._documentation, labels=self._labelnames)
        for labels, series in list(self.series.items()):
            cumulative = 0.0
            buckets: list[tuple[str, float]] = []
            for le, count in zip(self._le, series, strict=False):  # the sum is left out
                cumulative += count
                buckets.append((le, cumulative))
            family.add_metric(list(labels), buckets, sum_value=series[-1])
        return [family]


class _ClientCounter:
    """prometheus-client's Counter behind :class:`LabelledCounter` (multiprocess mode)."""

    def __init__(self, metric: Counter) -> None:
        self._metric = metric
        self._children: dict[Labels, Counter] = {}

    def inc(self, labels: Labels, amount: float = 1.0) -> None:
        child = self._children.get(labels)
        if child is None:
            child = self._children[labels] = self._metric.labels(*labels)
        child.inc(amount)


class _ClientHistogram:
    """prometheus-client's Histogram behind :class:`LabelledHistogram` (multiprocess mode)."""

    def __init__(self, metric: Histogram) -> None:
        self._metric = metric
        self._children: dict[Labels, Histogram] = {}

    def observe(self, labels: Labels, value: float) -> None:
        child = self._children.get(labels)
        if child is None:
            child = self._children[labels] = self._metric.labels(*labels)
        child.observe(value)


def counter(
    registry: CollectorRegistry, name: str, documentation: str, labelnames: Sequence[str]
) -> LabelledCounter:
    if multiprocess():
        return _ClientCounter(Counter(name, documentation, labelnames, registry=registry))
    collector = DictCounter(name, documentation, labelnames)
    registry.register(cast(Collector, collector))
    return collector


def histogram(
    registry: CollectorRegistry,
    name: str,
    documentation: str,
    labelnames: Sequence[str],
    buckets: Sequence[float],
) -> LabelledHistogram:
    if multiprocess():
        metric = Histogram(name, documentation, labelnames, buckets=buckets, registry=registry)
        return _ClientHistogram(metric)
    collector = DictHistogram(name, documentation, labelnames, buckets)
    registry.register(cast(Collector, collector))
    return collector
