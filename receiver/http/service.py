"""The request pipeline of the HTTP service, independent of the web framework.

The edge (HTTP), around the whole pipeline. Consumes a request's raw body and headers;
produces an :class:`Answer` (status, body, decision id), through the adapters and
:func:`~receiver.runtime.decide.decide_async`.

For one social.plus pre-hook call: body size limit -> signature on the raw bytes
(before any parsing) -> JSON and envelope -> the decision on the current policy
snapshot under the deadline (:func:`~receiver.runtime.decide.decide_async`: counters,
the user cache, the rules, strikes) -> response body, metrics, decision log.
A brainCloud API hook forwarded by the bridge script goes the same way, with the
bridge's token (or HMAC) in place of the signature, the bridge envelope, and
brainCloud's return contract and per-hook-type fail-safe answers.
Nothing here may raise: bad input becomes a 4xx with a short JSON error, and any
internal failure becomes HTTP 200 with the fail-safe action, logged and counted.
"""

from __future__ import annotations

import functools
import itertools
import logging
import secrets as _secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from time import perf_counter
from typing import Any, NamedTuple

from receiver.adapters import braincloud, socialplus, stream, twilio
from receiver.adapters.signatures import CompactFallback, verify
from receiver.adapters.vendorsigs import (
    STREAM_HEADER,
    TWILIO_HEADER,
    Outcome,
    verify_stream,
    verify_twilio,
)
from receiver.counters.service import CounterService
from receiver.dsl.values import Timestamp
from receiver.errors import PayloadError
from receiver.http.config import ServiceConfig, unauthenticated_ok
from receiver.http.metrics import Metrics
from receiver.http.reload import LivePolicies
from receiver.http.tokens import verify_bridge
from receiver.observe.decisionlog import DecisionLog, decision_entry
from receiver.observe.feed import DecisionFeed, replay_facts
from receiver.observe.recorder import Recorder
from receiver.observe.records import counter_state
from receiver.observe.throttle import LogThrottle, held_note
from receiver.runtime.decide import Decided, decide_async
from receiver.runtime.decision import Decision
from receiver.runtime.payload import Event
from receiver.text import jsoncodec
from receiver.users.broadcast import EvictionBroadcast
from receiver.users.cache import UserCache

log = logging.getLogger("receiver.http.service")

PLATFORM = "socialplus"
BRAINCLOUD = "braincloud"
STREAM = "stream"
TWILIO = "twilio"
# Pseudo-headers the Twilio route adds (receiver.http.endpoint): what the URL Twilio
# signed is rebuilt from without --twilio-public-url. No real header name has a colon.
TARGET_HEADER = ":target"  # the raw path and query string, as requested
SCHEME_HEADER = ":scheme"
JSON = "application/json"
NO_SECRET = (
    "social.plus hooks are off: no signature secret is configured "
    "(RECEIVER_SOCIALPLUS_SECRET or --secret-file) and the service is not bound to loopback"
)
NO_TOKEN = (
    "brainCloud hooks are off: no bridge token is configured "
    "(RECEIVER_BRAINCLOUD_TOKEN or --braincloud-token-file) and the service is not bound "
    "to loopback"
)


NO_STREAM_SECRET = (
    "Stream hooks are off: no API secret is configured (RECEIVER_STREAM_SECRET or "
    "--stream-secret-file) and the service is not bound to loopback"
)
NO_TWILIO_TOKEN = (
    "Twilio hooks are off: no auth token is configured (RECEIVER_TWILIO_AUTH_TOKEN or "
    "--twilio-auth-token-file) and the service is not bound to loopback"
)
STREAM_PROBLEMS = {
    "missing": "missing X-Signature header (Stream signs every hook)",
    "malformed": "X-Signature is not a hex HMAC-SHA256 (64 hex digits)",
    "mismatch": "X-Signature does not match the body with any configured Stream API secret",
}
TWILIO_PROBLEMS = {
    "missing": "missing X-Twilio-Signature header (Twilio signs every webhook)",
    "malformed": "X-Twilio-Signature is not a Base64 HMAC-SHA1",
    "mismatch": "X-Twilio-Signature does not match: check the auth token, and that "
    "--twilio-public-url is the URL entered in Twilio's console",
}


class Answer(NamedTuple):
    """An HTTP answer: status, JSON body, decision id (for ``X-Decision-Id``). A NamedTuple,
    immutable and, unlike a frozen dataclass, cheap to make once per request."""

    status: int
    body: bytes
    decision_id: str | None = None


_ID_PREFIX = _secrets.token_hex(6)  # random per process, so ids from several workers differ
_id_counter = itertools.count(1)


SIGNATURE_PROBLEMS = {
    "missing": "missing signature (x-amity-signature or x-signature)",
    "malformed": "the signature header is not a Base64 or hex HMAC-SHA256",
    "mismatch": "the signature does not match",
    # the compact-JSON fallback's budget was spent: to the client, a mismatch like any other
    "over-budget": "the signature does not match",
}


def new_decision_id() -> str:
    """Unique across processes, and cheap: a random per-process prefix and a counter."""
    return f"{_ID_PREFIX}{next(_id_counter):08x}"


def error_body(message: str) -> bytes:
    return jsoncodec.dumps({"error": message})


class Service:
    def __init__(
        self,
        config: ServiceConfig,
        live: LivePolicies,
        metrics: Metrics,
        decision_log: DecisionLog | None,
        user_cache: UserCache | None = None,
        *,
        counters: CounterService | None = None,
        clock: Callable[[], float] = time.time,
        evictions: EvictionBroadcast | None = None,
        recorder: Recorder | None = None,
        feed: DecisionFeed | None = None,
    ) -> None:
        self.recorder = recorder  # serve --record: the records of decided events
        self.feed = feed  # serve --console: the explorer's and rule health's decisions
        self.config = config
        self.evictions = evictions  # tells the other workers (Redis), when configured
        self.counters = counters
        self.clock = clock  # the request time (seconds since the epoch) rules and counters see
        self.live = live
        self.metrics = metrics
        self.decision_log = decision_log
        self.fail_safe = config.default_action
        self._socialplus_safe = functools.partial(socialplus.fail_safe, self.fail_safe)
        self.user_cache = user_cache
        # Without a credential, an endpoint answers unauthenticated requests on loopback only.
        self.socialplus_open = unauthenticated_ok(config, config.secrets)
        self.braincloud_open = unauthenticated_ok(config, config.braincloud_tokens)
        self.stream_open = unauthenticated_ok(config, config.stream_secrets)
        self.twilio_open = unauthenticated_ok(config, config.twilio_tokens)
        self._stream_safe = functools.partial(stream.fail_safe, self.fail_safe)
        self._twilio_safe = functools.partial(twilio.fail_safe, self.fail_safe)
        # each vendor's deadline stays under its own timeout (docs/protocols.md C.4, D.4)
        self.stream_deadline = min(config.deadline_ms, stream.DEADLINE_MS) / 1000
        self.twilio_deadline = min(config.deadline_ms, twilio.DEADLINE_MS) / 1000
        # refusals and rule failures are caused from outside: at most a line per kind per 10 s
        self.log_throttle = LogThrottle()
        fallback = config.signature_fallback  # its budget is this process's own
        self.signature_fallback = (
            CompactFallback(jsoncodec.loads, fallback) if fallback is not None else None
        )

    def socialplus_fail_safe(self) -> Answer:
        """The answer when deciding failed: the platform's own default action."""
        return Answer(200, socialplus.response_body(socialplus.fail_safe(self.fail_safe)))

    def refuse(
        self, status: int, reason: str, message: str, started: float, platform: str = PLATFORM
    ) -> Answer:
        if status == 401:
            self.metrics.signature_failures.labels(platform, reason).inc()
        else:
            self.metrics.bad_requests.labels(platform, reason).inc()
        self.metrics.count_status(platform, "", "refused", status)
        self.metrics.latency.observe((platform,), perf_counter() - started)
        return Answer(status, error_body(message))

    def too_large(self, started: float, platform: str = PLATFORM) -> Answer:
        limit = self.config.max_body
        message = f"the body is larger than the limit of {limit} bytes"
        return self.refuse(413, "too-large", message, started, platform)

    def check_socialplus_signature(
        self, body: bytes, headers: Mapping[str, str], started: float
    ) -> Answer | None:
        """The refusal of an unsigned or wrongly signed social.plus call, or None."""
        if self.config.secrets is None:
            if self.socialplus_open:
                return None
            return self.refuse(401, "not-configured", NO_SECRET, started)
        check = verify(body, headers, self.config.secrets, self.signature_fallback)
        if check.ok:
            return None
        what = SIGNATURE_PROBLEMS[check.outcome]
        held = self.log_throttle.admit(f"socialplus:{check.outcome}")
        if held >= 0:
            log.warning("refused a request: %s (%s)%s", what, check.outcome, held_note(held))
        return self.refuse(401, check.outcome, what, started)

    async def socialplus(
        self, body: bytes | None, headers: Mapping[str, str], started: float
    ) -> Answer:
        if body is None:
            return self.too_large(started)
        refused = self.check_socialplus_signature(body, headers, started)
        if refused is not None:
            return refused
        try:
            event = socialplus.parse_request(body)
        except PayloadError as err:
            return self.refuse(400, "malformed", str(err), started)
        decision_id = new_decision_id()
        decision = await self.decision(event, decision_id, started, PLATFORM, self._socialplus_safe)
        return Answer(200, socialplus.response_body(decision), decision_id)

    async def braincloud(
        self, body: bytes | None, headers: Mapping[str, str], started: float
    ) -> Answer:
        """One brainCloud API hook forwarded by the bridge script."""
        if body is None:
            return self.too_large(started, BRAINCLOUD)
        tokens = self.config.braincloud_tokens
        if tokens is None and not self.braincloud_open:
            return self.refuse(401, "not-configured", NO_TOKEN, started, BRAINCLOUD)
        if tokens is not None:
            check = verify_bridge(body, headers, tokens)
            if not check.ok:
                what = {
                    "missing": "missing bridge token (x-receiver-token or x-receiver-signature)",
                    "malformed": "x-receiver-signature is not a hex or Base64 HMAC-SHA256",
                    "mismatch": "the bridge token does not match",
                }[check.outcome]
                held = self.log_throttle.admit(f"braincloud:{check.outcome}")
                if held >= 0:
                    log.warning("refused a brainCloud hook: %s%s", what, held_note(held))
                return self.refuse(401, check.outcome, what, started, BRAINCLOUD)
        try:
            call = braincloud.parse_request(body)
        except braincloud.EnvelopeError as err:
            return self.refuse(400, err.reason, str(err), started, BRAINCLOUD)
        decision_id = new_decision_id()
        hook_type, pre_action = call.hook_type, self.config.braincloud_pre_fail_safe
        decision = await self.decision(
            call.event, decision_id, started, BRAINCLOUD,
            lambda: braincloud.fail_safe(hook_type, pre_action),
        )  # fmt: skip
        return Answer(200, braincloud.response_body(call.hook_type, decision), decision_id)

    def refuse_signature(
        self, outcome: Outcome, what: str, started: float, platform: str
    ) -> Answer:
        """The 401 for a vendor call whose signature is missing or wrong (logged, throttled)."""
        held = self.log_throttle.admit(f"{platform}:{outcome}")
        if held >= 0:
            log.warning("refused a %s hook: %s (%s)%s", platform, what, outcome, held_note(held))
        return self.refuse(401, outcome, what, started, platform)

    async def stream(
        self, body: bytes | None, headers: Mapping[str, str], started: float
    ) -> Answer:
        """One Stream Chat "Before Message Send" hook (docs/protocols.md C)."""
        if body is None:
            return self.too_large(started, STREAM)
        secrets = self.config.stream_secrets
        if secrets is None:
            if not self.stream_open:
                return self.refuse(401, "not-configured", NO_STREAM_SECRET, started, STREAM)
        else:
            outcome = verify_stream(body, headers.get(STREAM_HEADER), secrets)
            if outcome != "ok":
                return self.refuse_signature(outcome, STREAM_PROBLEMS[outcome], started, STREAM)
        try:
            event = stream.parse_request(body)
        except PayloadError as err:
            return self.refuse(400, "malformed", str(err), started, STREAM)
        decision_id = new_decision_id()
        decision = await self.decision(
            event, decision_id, started, STREAM, self._stream_safe, deadline=self.stream_deadline
        )
        return Answer(200, stream.response_body(event, decision), decision_id)

    def twilio_url(self, headers: Mapping[str, str]) -> str:
        """The URL Twilio signed: ``--twilio-public-url`` (with the request's query string
        when it has none), else rebuilt from the request's scheme, Host and target."""
        target = headers.get(TARGET_HEADER, "/hooks/twilio")
        public = self.config.twilio_public_url
        if public is not None:
            query = target.partition("?")[2]
            return f"{public}?{query}" if query and "?" not in public else public
        scheme = headers.get(SCHEME_HEADER, "http")
        host = headers.get("host", f"{self.config.host}:{self.config.port}")
        return f"{scheme}://{host}{target}"

    async def twilio(
        self, body: bytes | None, headers: Mapping[str, str], started: float
    ) -> Answer:
        """One Twilio Conversations pre-action webhook (docs/protocols.md D)."""
        if body is None:
            return self.too_large(started, TWILIO)
        tokens = self.config.twilio_tokens
        if tokens is None and not self.twilio_open:
            return self.refuse(401, "not-configured", NO_TWILIO_TOKEN, started, TWILIO)
        try:
            params = twilio.parse_form(body)
        except PayloadError as err:
            if tokens is not None:  # unsigned garbage is a signature failure first
                signature = headers.get(TWILIO_HEADER)
                if signature is None:
                    return self.refuse_signature(
                        "missing", TWILIO_PROBLEMS["missing"], started, TWILIO
                    )
            return self.refuse(400, "malformed", str(err), started, TWILIO)
        if tokens is not None:
            url = self.twilio_url(headers)
            outcome = verify_twilio(url, params, headers.get(TWILIO_HEADER), tokens)
            if outcome != "ok":
                return self.refuse_signature(outcome, TWILIO_PROBLEMS[outcome], started, TWILIO)
        try:
            event = twilio.parse_request(params)
        except PayloadError as err:
            return self.refuse(400, "malformed", str(err), started, TWILIO)
        decision_id = new_decision_id()
        decision = await self.decision(
            event, decision_id, started, TWILIO, self._twilio_safe, deadline=self.twilio_deadline
        )
        status, content = twilio.answer(event, decision)
        return Answer(status, content, decision_id)

    async def decision(
        self, event: Event, decision_id: str, started: float, platform: str,
        fail_safe: Callable[[], Decision], *, deadline: float | None = None,
    ) -> Decision:  # fmt: skip
        """Decide under the deadline (``deadline`` seconds, else the service's), answering
        ``fail_safe()`` on errors; count and log it."""
        snapshot = self.live.current if self.live.ready else None
        degraded_reason: str | None = None
        now = Timestamp(self.clock())  # the decision's now(), kept for its record
        decided: Decided | None = None
        try:
            if snapshot is None:  # no policies yet (a bundle URL not fetched): fail safe
                raise NotReady
            users = snapshot.users
            decided = await decide_async(
                snapshot.policies, event, now,
                users=users.get if users is not None else None, user_cache=self.user_cache,
                counters=self.counters, decision_id=decision_id,
                deadline=started + (self.config.deadline if deadline is None else deadline),
            )  # fmt: skip
            decision = decided.decision
            if decision.degraded:
                degraded_reason = "deadline"
                safe = fail_safe()
                log.warning(
                    "decision %s for %s ran out of its %d ms deadline; answered %s",
                    decision_id, event.name,
                    round(1000 * (self.config.deadline if deadline is None else deadline)),
                    safe.action,
                )  # fmt: skip
        except NotReady:
            decision = safe = fail_safe()
            degraded_reason = "not-ready"
            held = self.log_throttle.admit("not-ready")
            if held >= 0:
                log.warning("no policies serve yet (see /readyz); answered %s%s",
                            safe.action, held_note(held))  # fmt: skip
        except Exception:
            safe = fail_safe()
            log.exception("internal error deciding %s (%s); answered %s",
                          event.name, decision_id, safe.action)  # fmt: skip
            self.metrics.evaluation_errors.inc(("internal", "", ""))
            decision = safe
            degraded_reason = "error"
        if degraded_reason is not None:
            decision = replace(
                decision, action=safe.action, message=safe.message, data=None, modified_by=[],
                status=safe.status, reason_code=safe.reason_code, by_error=False,
            ) if degraded_reason == "deadline" else safe  # fmt: skip
            self.metrics.degraded.labels(platform, degraded_reason).inc()
        elapsed = perf_counter() - started
        self.metrics.observe(platform, event.name, decision, 200, elapsed)
        self.metrics.count_rules(decision)
        for failure in decision.errors:
            held = self.log_throttle.admit(f"rule:{failure.rule}")
            if held >= 0:
                log.warning("rule %s failed at %s: %s%s", failure.rule, failure.location,
                            failure.message, held_note(held))  # fmt: skip
        revision = snapshot.revision if snapshot is not None else "none"
        entry: dict[str, Any] | None = None
        if self.decision_log is not None:
            try:
                entry = self.decision_log.record(
                    decision_id=decision_id,
                    platform=platform,
                    event=event,
                    decision=decision,
                    revision=revision,
                    latency=elapsed,
                    degraded_reason=degraded_reason,
                    now=now.epoch,
                )
                self.decision_log.write(entry)
            except Exception:
                log.exception("could not write the decision log")
        if self.feed is not None:
            self.keep(entry, event, decision_id, now, platform, decided, decision, revision,
                      degraded_reason, elapsed)  # fmt: skip
        if self.recorder is not None:
            self.record(event, decision_id, now, platform, decided, decision, revision,
                        degraded_reason)  # fmt: skip
        return decision

    def keep(  # noqa: PLR0917  # the facts of one decision, passed on
        self, entry: dict[str, Any] | None, event: Event, decision_id: str, now: Timestamp,
        platform: str, decided: Decided | None, decision: Decision, revision: str,
        degraded_reason: str | None, elapsed: float,
    ) -> None:  # fmt: skip
        """Give a decision to the console's feed (``serve --console``): the decision log's
        entry when it has the same content rule (not built twice), with content what
        re-explaining needs. Memory only; a failure is logged (at most a line in 10 s)."""
        feed = self.feed
        if feed is None:
            return
        try:
            log_ = self.decision_log
            if entry is None or log_ is None or log_.log_content != feed.content:
                entry = decision_entry(
                    decision_id=decision_id, platform=platform, event=event,
                    decision=decision, revision=revision, latency=elapsed,
                    degraded_reason=degraded_reason, log_content=feed.content, now=now.epoch,
                )  # fmt: skip
            replay = None
            if feed.content:
                replay = replay_facts(
                    platform=platform, event_name=event.name, actor=event.actor,
                    now=now.epoch,
                    user=decided.user if decided is not None else None,
                    user_asked=decided.user_asked if decided is not None else False,
                )  # fmt: skip
            feed.add(entry, decision, replay)
        except Exception as err:
            held = self.log_throttle.admit("console-feed")
            if held >= 0:
                log.error("could not keep decision %s for the console: %s%s", decision_id,
                          type(err).__name__, held_note(held))  # fmt: skip

    def record(  # noqa: PLR0917  # the facts of one decision, passed on
        self, event: Event, decision_id: str, now: Timestamp, platform: str,
        decided: Decided | None, decision: Decision, revision: str, degraded_reason: str | None,
    ) -> None:  # fmt: skip
        """Queue the record of a decision (``serve --record``); a failure is logged (at
        most a line in 10 s) and counted as dropped, never raised into the answer."""
        recorder = self.recorder
        if recorder is None:
            return
        try:
            recorder.record(
                decision_id=decision_id, now=now.epoch, platform=platform, event=event,
                user_answer=decided.user if decided is not None else None,
                user_asked=decided.user_asked if decided is not None else False,
                decision=decision, revision=revision, degraded_reason=degraded_reason,
                counters=counter_state(decided.counters) if decided is not None else None,
            )  # fmt: skip
        except Exception as err:  # a value the record cannot hold: lose this record only
            self.metrics.records.labels("dropped").inc()
            held = self.log_throttle.admit("record")
            if held >= 0:
                log.error("could not record decision %s: %s%s", decision_id,
                          type(err).__name__, held_note(held))  # fmt: skip

    async def socialplus_events(
        self, body: bytes | None, headers: Mapping[str, str], started: float
    ) -> Answer:
        """The platform's ordinary webhooks: user changes evict the user from the cache,
        here at once and, with Redis, in every other worker (published before answering,
        within a short timeout; a failure to publish is logged and counted, never a 500)."""
        if body is None:
            return self.too_large(started)
        refused = self.check_socialplus_signature(body, headers, started)
        if refused is not None:
            return refused
        try:
            payload = jsoncodec.loads(body)
        except jsoncodec.JSONError as err:
            return self.refuse(400, "malformed", str(err), started)
        if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
            return self.refuse(400, "malformed", "the webhook needs a string 'event'", started)
        name = payload["event"]
        if name in USER_EVENTS:
            evicted = 0
            ids = user_ids(payload.get("data"))
            for user_id in ids:
                if self.user_cache is not None and self.user_cache.evict(user_id):
                    evicted += 1
            self.metrics.evicted("local", evicted)
            published = ""
            if self.evictions is not None and ids:
                ok = await self.evictions.publish(ids)
                published = "; published to the other workers" if ok else "; NOT published"
            log.info("%s: evicted %d cached user(s)%s", name, evicted, published)
        self.metrics.count_status(
            "socialplus-webhook", name if name in USER_EVENTS else "", "ok", 200
        )
        return Answer(200, b"{}")


class NotReady(Exception):
    """No policy set serves yet: the answer is the fail-safe one (reason ``not-ready``)."""


USER_EVENTS = frozenset({"user.didUpdate", "user.didBan", "user.didUnban"})


def user_ids(data: object) -> list[str]:
    """User ids in a webhook's data: ``users[].userId`` (documented), ``user``, ``userId``."""
    found: list[str] = []
    if not isinstance(data, dict):
        return found
    candidates: list[object] = []
    users = data.get("users")
    if isinstance(users, list):
        candidates.extend(users)
    candidates.append(data.get("user"))
    candidates.append(data)
    for item in candidates:
        if isinstance(item, dict):
            for key in ("userId", "_id"):
                value = item.get(key)
                if isinstance(value, str) and value and value not in found:
                    found.append(value)
    return found
