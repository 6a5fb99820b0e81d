"""The request pipeline of the HTTP service, independent of the web framework.

For one social.plus pre-hook call: body size limit -> signature on the raw bytes
(before any parsing) -> JSON and envelope -> the current policy snapshot's tree for
the event -> evaluation under the deadline -> response body, metrics, decision log.
Nothing here may raise: bad input becomes a 4xx with a short JSON error, and any
internal failure becomes HTTP 200 with the fail-safe action, logged and counted.
"""

from __future__ import annotations

import logging
import secrets as _secrets
import time
from dataclasses import dataclass, replace
from time import perf_counter

from receiver import jsoncodec
from receiver.adapters import socialplus
from receiver.config import ServiceConfig
from receiver.decision import Decision
from receiver.decisionlog import DecisionLog
from receiver.errors import PayloadError
from receiver.evaluator import evaluate
from receiver.metrics import Metrics
from receiver.payload import Event
from receiver.reload import LivePolicies
from receiver.signatures import verify
from receiver.values import Timestamp

log = logging.getLogger("receiver.service")

PLATFORM = "socialplus"
JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    decision_id: str | None = None


def new_decision_id() -> str:
    return _secrets.token_hex(10)


def error_body(message: str) -> bytes:
    return jsoncodec.dumps({"error": message})


class Service:
    def __init__(
        self,
        config: ServiceConfig,
        live: LivePolicies,
        metrics: Metrics,
        decision_log: DecisionLog | None,
    ) -> None:
        self.config = config
        self.live = live
        self.metrics = metrics
        self.decision_log = decision_log
        self.fail_safe = config.default_action

    def refuse(self, status: int, reason: str, message: str, started: float) -> Answer:
        if status == 401:
            self.metrics.signature_failures.labels(PLATFORM, reason).inc()
        else:
            self.metrics.bad_requests.labels(PLATFORM, reason).inc()
        self.metrics.count_status(PLATFORM, "", "refused", status)
        self.metrics.latency.labels(PLATFORM).observe(perf_counter() - started)
        return Answer(status, error_body(message))

    async def socialplus(
        self, body: bytes | None, headers: dict[str, str], started: float
    ) -> Answer:
        if body is None:
            limit = self.config.max_body
            return self.refuse(
                413, "too-large", f"the body is larger than the limit of {limit} bytes", started
            )
        if self.config.secrets is not None:
            check = verify(body, headers, self.config.secrets, jsoncodec.loads)
            if not check.ok:
                what = {
                    "missing": "missing signature (x-amity-signature or x-signature)",
                    "malformed": "the signature header is not a Base64 or hex HMAC-SHA256",
                    "mismatch": "the signature does not match",
                }[check.outcome]
                log.warning("refused a request: %s", what)
                return self.refuse(401, check.outcome, what, started)
        try:
            event = socialplus.parse_request(body)
        except PayloadError as err:
            return self.refuse(400, "malformed", str(err), started)
        decision_id = new_decision_id()
        return self.decide(event, decision_id, started)

    def decide(self, event: Event, decision_id: str, started: float) -> Answer:
        snapshot = self.live.current
        degraded_reason: str | None = None
        try:
            tree = snapshot.policies.tree(event.name)
            users = snapshot.users
            decision = evaluate(
                tree,
                event,
                Timestamp(time.time()),
                users.get if users is not None else None,
                decision_id=decision_id,
                deadline=started + self.config.deadline,
            )
            if decision.degraded:
                degraded_reason = "deadline"
                log.warning(
                    "decision %s for %s ran out of its %d ms deadline; answered %s",
                    decision_id, event.name, self.config.deadline_ms, self.fail_safe,
                )  # fmt: skip
        except Exception:
            log.exception("internal error deciding %s (%s); answered %s",
                          event.name, decision_id, self.fail_safe)  # fmt: skip
            self.metrics.evaluation_errors.labels("internal", "", "").inc()
            decision = Decision(self.fail_safe, degraded=True)
            degraded_reason = "error"
        if degraded_reason is not None:
            safe = socialplus.fail_safe(self.fail_safe)
            decision = replace(
                decision, action=safe.action, message=safe.message, data=None, modified_by=[]
            ) if degraded_reason == "deadline" else safe  # fmt: skip
            self.metrics.degraded.labels(PLATFORM, degraded_reason).inc()
        elapsed = perf_counter() - started
        self.metrics.observe(PLATFORM, event.name, decision, 200, elapsed)
        self.metrics.count_rules(decision, {})
        for failure in decision.errors:
            log.warning("rule %s failed at %s: %s", failure.rule, failure.location, failure.message)
        if self.decision_log is not None:
            try:
                self.decision_log.write(
                    self.decision_log.record(
                        decision_id=decision_id,
                        platform=PLATFORM,
                        event=event,
                        decision=decision,
                        revision=snapshot.revision,
                        latency=elapsed,
                        degraded_reason=degraded_reason,
                    )
                )
            except Exception:
                log.exception("could not write the decision log")
        return Answer(200, socialplus.response_body(decision), decision_id)
