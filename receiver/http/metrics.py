"""Prometheus metrics of the service (prometheus-client).

The edge (HTTP), its sink for operators. Consumes what the service observes (requests and
their decisions, refused connections, user lookups, the policy revision); produces the
Prometheus text of ``/metrics`` (:meth:`Metrics.render`).

Each :class:`Metrics` has its own registry, so several apps can live in one process
(tests). With several worker processes the values go through prometheus-client's
multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set by ``receiver serve``) and
``/metrics`` on any worker shows the sum over all of them. Label values that come
from outside (event names) are bounded: unknown event names count as ``other``.
"""

from __future__ import annotations

import glob
import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import multiprocess as prom_multiprocess

from receiver.dsl.events import BRAINCLOUD_HOOK_TYPES, BRAINCLOUD_PREFIX, KNOWN_EVENTS
from receiver.http.limits import REFUSAL_REASONS
from receiver.observe.metric_types import counter, histogram
from receiver.runtime.decision import Decision

LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.0, 3.0, 5.0,
)  # fmt: skip

FANOUT_BUCKETS = (
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)  # fmt: skip

_KNOWN = frozenset(KNOWN_EVENTS)
_STATUS = {code: str(code) for code in range(100, 600)}  # status labels without str() calls

disable_created_metrics()  # type: ignore[no-untyped-call]  # the *_created series double the output and nobody graphs them


def event_label(name: str) -> str:
    if not name:
        return "none"
    if name in _KNOWN:
        return name
    if name.startswith(BRAINCLOUD_PREFIX):
        # braincloud.<hookType>.<service>.<operation>: counted by hook type only, since
        # services and operations come from outside (the decision log has the full name).
        hook_type = name.split(".", 2)[1]
        return f"braincloud.{hook_type}" if hook_type in BRAINCLOUD_HOOK_TYPES else "other"
    return "other"


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        # Updated on every request: plain dicts in one process (receiver/observe/metric_types.py).
        self.requests = counter(
            r, "receiver_requests",
            "Requests answered, by platform, event, action and HTTP status.",
            ["platform", "event", "action", "status"],
        )  # fmt: skip
        self.latency = histogram(
            r, "receiver_request_duration_seconds",
            "Time from reading the request to answering it.",
            ["platform"], LATENCY_BUCKETS,
        )  # fmt: skip
        self.rule_hits = counter(
            r, "receiver_rule_hits",
            "Rules that matched, by policy, rule, action and mode (enforce or shadow).",
            ["policy", "rule", "action", "mode"],
        )  # fmt: skip
        self.rollout_decisions = counter(
            r, "receiver_rollout_decisions",
            "Rollout rules that matched, by rule (policy/rule) and which way the event went "
            "(enforced: inside the rollout; shadow: outside it).",
            ["rule", "way"],
        )  # fmt: skip
        self.signature_failures = Counter(
            "receiver_signature_failures",
            "Requests refused for a missing or wrong signature.",
            ["platform", "reason"],
            registry=r,
        )
        self.bad_requests = Counter(
            "receiver_bad_requests",
            "Requests refused as malformed (400) or too large (413).",
            ["platform", "reason"],
            registry=r,
        )
        self.evaluation_errors = counter(
            r, "receiver_evaluation_errors",
            "Rules that failed at run time (kind=rule) and unexpected internal errors "
            "(kind=internal).",
            ["kind", "policy", "rule"],
        )  # fmt: skip
        self.degraded = Counter(
            "receiver_degraded_answers",
            "Answers given with the fail-safe action, by reason (deadline, error, or not-ready: "
            "no policies serve yet).",
            ["platform", "reason"],
            registry=r,
        )
        self.reloads = Counter(
            "receiver_policy_reloads",
            "Policy reloads, by result (ok or failed).",
            ["result"],
            registry=r,
        )
        self.revision = Gauge(
            "receiver_policy_revision",
            "The loaded policy revision (a hash of the policy files), as a label.",
            ["revision"],
            registry=r,
            multiprocess_mode="liveall",
        )
        self.user_lookups = counter(
            r, "receiver_user_lookups",
            "User lookups by result: hit, negative-hit (cached 'not found'), miss (fetched), "
            "stale (served after a directory failure) or failed.",
            ["result"],
        )  # fmt: skip
        self.user_directory = Histogram(
            "receiver_user_directory_seconds",
            "Latency of calls to the remote user directory.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.user_directory_failures = Counter(
            "receiver_user_directory_failures",
            "Failed calls to the remote user directory, by reason (timeout or error).",
            ["reason"],
            registry=r,
        )
        self.user_evictions = Counter(
            "receiver_user_evictions",
            "Users evicted from the cache by platform webhooks, by origin: local (the "
            "webhook came to this worker), peer (another worker's, through Redis) or "
            "reconnect (the whole cache, after the eviction channel was lost).",
            ["origin"],
            registry=r,
        )
        for origin in ("local", "peer", "reconnect"):
            self.user_evictions.labels(origin)
        self.eviction_messages = Counter(
            "receiver_user_eviction_messages",
            "Messages received on the Redis eviction channel, by result: peer (applied), "
            "own (this worker's, skipped) or malformed (ignored).",
            ["result"],
            registry=r,
        )
        for result in ("peer", "own", "malformed"):
            self.eviction_messages.labels(result)
        self.eviction_fanout_seconds = Histogram(
            "receiver_user_eviction_fanout_seconds",
            "Delay from publishing an eviction to applying it in another worker (its "
            "receive time minus its publish time, on the two hosts' clocks).",
            buckets=FANOUT_BUCKETS,
            registry=r,
        )
        self.eviction_publish_failures = Counter(
            "receiver_user_eviction_publish_failures",
            "Evictions that could not be published on Redis (the local one happened).",
            registry=r,
        )
        self.eviction_subscriptions = Counter(
            "receiver_user_eviction_subscriptions",
            "Subscriptions to the Redis eviction channel: 1 per worker at start, then 1 "
            "per reconnect after Redis was lost.",
            registry=r,
        )
        self.connections_refused = Counter(
            "receiver_connections_refused",
            "Connections refused or closed by the connection limits, by reason: "
            "head-too-large (431), read-timeout (408, or closed when nothing had arrived), "
            "over-capacity (503) or too-many-connections (closed at once).",
            ["reason"],
            registry=r,
        )
        for reason in REFUSAL_REASONS:  # every reason shows, at 0 until it happens
            self.connections_refused.labels(reason)
        self.decision_log_dropped = Counter(
            "receiver_decision_log_dropped",
            "Decision-log lines not written: the queue was full (the sink is stalled or "
            "slower than the requests) or the sink failed.",
            registry=r,
        )
        self.records = Counter(
            "receiver_records",
            "Records of decided events (serve --record), by outcome: written, dropped (the "
            "record queue was full or the disk failed) or unsampled (the actor is outside "
            "--record-sample).",
            ["outcome"],
            registry=r,
        )
        for outcome in ("written", "dropped", "unsampled"):
            self.records.labels(outcome)
        self.log_dropped = Counter(
            "receiver_log_dropped",
            "Log records dropped because the log queue was full (stderr stalled or slower "
            "than the service).",
            registry=r,
        )
        self.bundle_fetches = Counter(
            "receiver_bundle_fetches",
            "Polls of the policy bundle URL, by result: updated (a new revision serves), "
            "not-modified, unchanged (same revision), unreachable, refused (failed "
            "verification: limits, hashes, signature), rejected (its policies do not load) "
            "or failed (a passing failure, tried again).",
            ["result"],
            registry=r,
        )
        self.bundle_last_success = Gauge(
            "receiver_bundle_last_success_timestamp_seconds",
            "When a poll last confirmed that the policies serving are the bundle server's "
            "current bundle (Unix time); the oldest of the live workers.",
            registry=r,
            multiprocess_mode="livemin",
        )
        self._current_revision: str | None = None
        self._children: dict[tuple[Any, ...], Any] = {}

    def set_revision(self, revision: str) -> None:
        if self._current_revision is not None and self._current_revision != revision:
            # Multiprocess mode cannot remove a label set (it warns and keeps the value): zero it.
            self.revision.labels(self._current_revision).set(0)
            if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
                self.revision.remove(self._current_revision)
        self.revision.labels(revision).set(1)
        self._current_revision = revision

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe(
        self, platform: str, event: str, decision: Decision, status: int, seconds: float
    ) -> None:
        self.requests.inc((platform, event_label(event), decision.action, _STATUS[status]))
        self.latency.observe((platform,), seconds)

    def count_rules(self, decision: Decision) -> None:
        """Hits per rule: the deciding rule, every modifier, every shadow hit; and the way
        of every rollout rule that matched."""
        rule = decision.rule
        if decision.rollouts:  # label values: the rule ids of the policy set (bounded)
            rolled = self.rollout_decisions.inc
            for result in decision.rollouts:
                rolled((result.rule, "enforced" if result.enforced else "shadow"))
        if rule is None and not (decision.modified_by or decision.shadow or decision.errors):
            return  # most allows: nothing to count
        inc = self.rule_hits.inc
        if rule is not None and not decision.by_error:
            policy, _, rule_id = rule.partition("/")
            inc((policy, rule_id, decision.action, "enforce"))
        for qualified in decision.modified_by:
            policy, _, rule_id = qualified.partition("/")
            inc((policy, rule_id, "modify", "enforce"))
        for shadow in decision.shadow:
            policy, _, rule_id = shadow.rule.partition("/")
            inc((policy, rule_id, shadow.action, "shadow"))
        for failure in decision.errors:
            policy, _, rule_id = failure.rule.partition("/")
            self.evaluation_errors.inc(("rule", policy, rule_id))

    def count_status(self, platform: str, event: str, action: str, status: int) -> None:
        self.requests.inc((platform, event_label(event), action, _STATUS[status]))

    def refused_connection(self, reason: str) -> None:
        self._child(self.connections_refused, reason).inc()

    def lookup(self, result: str) -> None:
        self.user_lookups.inc((result,))

    def directory_call(self, seconds: float, failure: str | None) -> None:
        self.user_directory.observe(seconds)
        if failure is not None:
            self._child(self.user_directory_failures, failure).inc()

    def evicted(self, origin: str, count: int) -> None:
        self._child(self.user_evictions, origin).inc(count)

    def eviction_message(self, result: str) -> None:
        self._child(self.eviction_messages, result).inc()

    def eviction_fanout(self, seconds: float) -> None:
        self.eviction_fanout_seconds.observe(seconds)

    def eviction_publish_failed(self) -> None:
        self.eviction_publish_failures.inc()

    def eviction_subscribed(self) -> None:
        self.eviction_subscriptions.inc()

    def render(self) -> bytes:
        path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if path:
            registry = CollectorRegistry()
            registry.register(WrittenFilesCollector(path))
            return generate_latest(registry)
        return generate_latest(self.registry)


class WrittenFilesCollector:
    """The workers' metrics, summed, from the files they have written so far.

    prometheus-client's collector reads every ``*.db`` file of the directory, and fails
    the whole scrape (a 500 from ``/metrics``) on a file of 0 bytes: a worker creates its
    file before sizing it, so a scrape while a worker starts can meet one, and a worker
    killed in that moment leaves it for good (prometheus/client_python#1199; seen here as a
    500 while ``--workers 2`` started on a loaded machine). Such a file holds no value yet:
    it is left out, as is a file removed between listing and reading. The files are merged
    by prometheus-client's own ``MultiProcessCollector.merge``. (A class of its own, not a
    subclass: this module is compiled, and a compiled class cannot take the attributes a
    Python base class sets.)"""

    def __init__(self, path: str) -> None:
        self.path = path

    def collect(self) -> Any:
        files = []
        for name in glob.glob(os.path.join(self.path, "*.db")):
            try:
                if os.path.getsize(name) > 0:
                    files.append(name)
            except OSError:  # removed meanwhile (a dead worker's gauge files)
                continue
        merge = prom_multiprocess.MultiProcessCollector.merge
        return merge(files, accumulate=True)  # type: ignore[no-untyped-call]
