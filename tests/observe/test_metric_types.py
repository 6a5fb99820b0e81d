"""The dict-backed counters and histograms render exactly what prometheus-client would.

Differential: the same updates go to a :mod:`receiver.observe.metric_types` collector and to
prometheus-client's own ``Counter``/``Histogram`` in another registry; the
``/metrics`` text of both must be identical.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from receiver.http.metrics import LATENCY_BUCKETS
from receiver.observe import metric_types

LABEL = st.sampled_from(["a", "b", "with space", 'quote"d', "ünï"])
VALUE = st.one_of(
    st.sampled_from([0.0, *LATENCY_BUCKETS, 7.5]),  # on the bounds: "le" includes them
    st.floats(min_value=0, max_value=10, allow_nan=False),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(LABEL, LABEL, VALUE), max_size=30))
def test_histogram_renders_like_prometheus_client(
    updates: list[tuple[str, str, float]],
) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    mine = metric_types.histogram(ours, "x_seconds", "Help.", ["p", "q"], LATENCY_BUCKETS)
    reference = Histogram(
        "x_seconds", "Help.", ["p", "q"], buckets=LATENCY_BUCKETS, registry=theirs
    )
    for p, q, value in updates:
        mine.observe((p, q), value)
        reference.labels(p, q).observe(value)
    assert generate_latest(ours) == generate_latest(theirs)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(LABEL, st.integers(min_value=1, max_value=5)), max_size=30))
def test_counter_renders_like_prometheus_client(updates: list[tuple[str, int]]) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    mine = metric_types.counter(ours, "x_events", "Help.", ["kind"])
    reference = Counter("x_events", "Help.", ["kind"], registry=theirs)
    for kind, amount in updates:
        mine.inc((kind,), amount)
        reference.labels(kind).inc(amount)
    assert generate_latest(ours) == generate_latest(theirs)


def test_multiprocess_mode_uses_prometheus_client_types(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    registry = CollectorRegistry()
    counter = metric_types.counter(registry, "y_events", "Help.", ["kind"])
    assert not isinstance(counter, metric_types.DictCounter)
    counter.inc(("a",))
    counter.inc(("a",), 2)
    assert registry.get_sample_value("y_events_total", {"kind": "a"}) == 3
