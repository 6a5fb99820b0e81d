"""The Starlette application: routes and lifespan only.

The edge (HTTP). Consumes a :class:`~receiver.http.config.ServiceConfig` (and optionally a
decision log); produces the ASGI application (:func:`create_app`, a :class:`ReceiverApp`)
that routes requests to :class:`~receiver.http.service.Service`.

    POST /hooks/socialplus   social.plus pre-hook (signed; answers allow/deny JSON)
    POST /hooks/socialplus/events  the platform's ordinary webhooks (user changes evict users)
    GET|HEAD /hooks/socialplus  200, for URL checks when the callback is registered
    POST /hooks/braincloud   brainCloud API hook from the bridge script (token; hook answer)
    GET|HEAD /hooks/braincloud  200, for checking the Web Services entry
    POST /hooks/stream       Stream Chat "Before Message Send" hook (X-Signature; message)
    POST /hooks/twilio       Twilio Conversations pre-action webhook (X-Twilio-Signature)
    GET /healthz             alive
    GET /readyz              policies loaded (503 until then); the policy names for operators
    GET /metrics             Prometheus text format, for operators (receiver.http.admin)

With ``serve --console`` the console's routes are added under ``/console`` by
``receiver.console.inservice`` (above this layer), which builds on this app; here only
its feed of decisions is made and given to the service.

The lifespan loads the policies (refusing to start on errors), installs the SIGHUP
reload handler and, with ``watch``, the file watcher; with a user cache and a Redis URL
it starts the eviction broadcast (``receiver.users.broadcast``) and stops it at the end.
With a bundle URL (``receiver.http.bundlefeed``) it starts the bundle poller instead of
loading: the service is up at once, and ready (``/readyz`` 200) when the first good
bundle serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from typing import IO, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from receiver.adapters import stream as stream_adapter
from receiver.adapters import twilio
from receiver.counters.service import CounterService
from receiver.http.admin import AdminAccess
from receiver.http.bundlefeed import BundleFeed
from receiver.http.config import ServiceConfig
from receiver.http.endpoint import Handler, HookEndpoint
from receiver.http.metrics import Metrics
from receiver.http.reload import LivePolicies
from receiver.http.service import JSON, Answer, Service, error_body
from receiver.observe import logqueue
from receiver.observe.decisionlog import DecisionLog, stdout_stream
from receiver.observe.feed import DecisionFeed
from receiver.observe.recorder import Recorder
from receiver.runtime.payload import Event
from receiver.users.broadcast import EvictionBroadcast, channel_name
from receiver.users.cache import UserCache
from receiver.users.directory import HttpDirectory, expand_env, new_client

log = logging.getLogger("receiver")

_NO_EVENT = Event("", {}, {})  # the fail-safe answers made at start-up decide no event


class ReceiverApp(Starlette):
    """The service's Starlette app, with a fast path for the hook calls.

    A POST to a hook path goes straight to its endpoint (``receiver.http.endpoint``): the
    platform's calls are the service's whole load, and Starlette's error middleware,
    exception middleware and router cost about as much again as reading the body. The
    endpoints are also ordinary routes, and everything else (probes, health, metrics,
    404/405 answers) goes through Starlette as usual.
    """

    hooks: dict[str, HookEndpoint]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hooks = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            endpoint = self.hooks.get(scope["path"])
            if endpoint is not None:
                scope["app"] = self
                await endpoint(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(config: ServiceConfig, decision_log: DecisionLog | None = None) -> ReceiverApp:
    metrics = Metrics()

    def on_reload(ok: bool, revision: str) -> None:
        metrics.reloads.labels("ok" if ok else "failed").inc()
        if ok:
            metrics.set_revision(revision)

    from_url = config.policies_url is not None  # a bundle URL: the feed brings the policies
    live = LivePolicies(
        None if from_url else config.policies, config.users, on_reload, config.reload_timeout
    )
    feed = BundleFeed(config, live, metrics) if from_url else None
    logqueue.report_drops(metrics.log_dropped.inc)
    if decision_log is None:
        stream: IO[bytes]
        if config.decision_log is not None:
            stream, owned = config.decision_log.open("ab", buffering=0), True
        else:
            stream, owned = stdout_stream()
        decision_log = DecisionLog(
            stream, config.log_content, owned=owned, capacity=config.log_queue,
            on_drop=metrics.decision_log_dropped.inc,
        )  # fmt: skip
    client = None
    user_cache = None
    if config.users_http is not None:
        client = new_client(config.users_http.timeout_ms)
        directory = HttpDirectory(config.users_http, client)
        user_cache = UserCache(directory, config.users_cache, metrics)
    evictions = None
    if user_cache is not None and config.counters.redis_url:  # whichever counter backend
        url = expand_env(config.counters.redis_url, "the redis URL")
        channel = channel_name(config.counters.key_prefix)
        evictions = EvictionBroadcast(user_cache, url, channel, metrics)
    counters = CounterService(config.counters, metrics.registry)
    recorder = None
    if config.record is not None:  # this process's own files (receiver.observe.rotating)
        recorder = Recorder(
            config.record, capacity=config.log_queue,
            on_written=metrics.records.labels("written").inc,
            on_dropped=metrics.records.labels("dropped").inc,
            on_unsampled=metrics.records.labels("unsampled").inc,
        )  # fmt: skip
    decisions = None  # serve --console: what the console's explorer and rule health show
    if config.console is not None:
        decisions = DecisionFeed(config.console.buffer, content=config.log_content)
    service = Service(
        config, live, metrics, decision_log, user_cache, counters=counters, evictions=evictions,
        recorder=recorder, feed=decisions,
    )  # fmt: skip
    admin = AdminAccess.of(config)

    def hook(
        handle: Handler, fallback: Answer, platform: str, with_target: bool = False
    ) -> HookEndpoint:
        """A route that reads the limited raw body and answers what ``handle`` decides."""

        def escaped(answer: Answer) -> None:  # a bug escaped the handler: still counted
            metrics.evaluation_errors.inc(("internal", "", ""))
            metrics.count_status(platform, "", "error", answer.status)

        return HookEndpoint(handle, config.max_body, fallback, escaped, with_target)

    unavailable = Answer(503, error_body("internal error"))
    socialplus_hook = hook(service.socialplus, service.socialplus_fail_safe(), "socialplus")
    # the bridge then falls back; the platform retries a webhook
    braincloud_hook = hook(service.braincloud, unavailable, "braincloud")
    events_hook = hook(service.socialplus_events, unavailable, "socialplus-webhook")
    # a bug escaping a vendor's handler answers its fail-safe in its own contract
    stream_safe = stream_adapter.response_body(
        _NO_EVENT, stream_adapter.fail_safe(config.default_action)
    )
    stream_hook = hook(service.stream, Answer(200, stream_safe), "stream")
    twilio_status, twilio_body = twilio.answer(_NO_EVENT, twilio.fail_safe(config.default_action))
    twilio_hook = hook(service.twilio, Answer(twilio_status, twilio_body), "twilio", True)

    async def hook_probe(request: Request) -> Response:
        return JSONResponse({"status": "ok", "hint": "POST pre-hook events here"})

    async def braincloud_probe(request: Request) -> Response:
        return JSONResponse({"status": "ok", "hint": "POST brainCloud bridge envelopes here"})

    async def vendor_probe(request: Request) -> Response:
        return JSONResponse({"status": "ok", "hint": "POST this vendor's signed hooks here"})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        if not live.ready:
            waiting = feed.waiting() if feed is not None else {"status": "loading"}
            return JSONResponse(waiting, status_code=503)
        snapshot = live.current
        if not admin.allows(request.headers.raw):  # the policy names are for operators
            return JSONResponse({"status": "ready", "revision": snapshot.revision})
        body: dict[str, object] = {
            "status": "ready",
            "revision": snapshot.revision,
            "policies": [p.name for p in snapshot.policies.policies],
            "rules": len(snapshot.policies.rules),
        }
        if feed is not None:
            body["bundle"] = feed.state()
        return JSONResponse(body)

    async def metrics_endpoint(request: Request) -> Response:
        if admin.allows(request.headers.raw):
            try:
                body = metrics.render()
            except Exception:  # a worker's unreadable file: never a 500 for the scraper
                log.exception("could not collect the metrics")
                return Response(
                    error_body("the metrics could not be collected; try again"), 503,
                    media_type=JSON,
                )  # fmt: skip
            return Response(body, media_type=metrics.content_type)
        if admin.mode == "token":
            return Response(
                error_body("metrics need 'Authorization: Bearer <metrics token>'"), 401,
                headers={"www-authenticate": 'Bearer realm="metrics"'}, media_type=JSON,
            )  # fmt: skip
        return Response(
            error_body("metrics are not served on a public address without a metrics token"),
            403, media_type=JSON,
        )  # fmt: skip

    async def not_found(request: Request, exc: Exception) -> Response:
        return Response(error_body("not found"), 404, media_type=JSON)

    async def method_not_allowed(request: Request, exc: Exception) -> Response:
        return Response(error_body("method not allowed"), 405, media_type=JSON)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        tasks: list[asyncio.Task[None]] = []
        if feed is None:
            live.load()
            snapshot = live.current
            log.info(
                "loaded %d rules from %d policies in %s (revision %s)",
                len(snapshot.policies.rules), len(snapshot.policies.policies),
                config.policies, snapshot.revision,
            )  # fmt: skip
        else:  # not ready (503, fail-safe answers) until the first good bundle
            tasks.append(loop.create_task(feed.run()))

        def on_sighup() -> None:
            tasks[:] = [task for task in tasks if not task.done()]  # reloads coalesce
            if feed is not None:
                log.info("SIGHUP received; polling the policy bundle")
                tasks.append(loop.create_task(feed.sighup()))
            else:
                tasks.append(loop.create_task(_reload(live)))

        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            loop.add_signal_handler(signal.SIGHUP, on_sighup)
        if config.watch:
            tasks.append(loop.create_task(live.watch()))
        if evictions is not None:
            evictions.start()  # subscribes in the background: start-up never waits for Redis
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            if feed is not None:
                await asyncio.gather(*tasks, return_exceptions=True)
                await feed.close()
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                loop.remove_signal_handler(signal.SIGHUP)
            if decision_log is not None:
                decision_log.close()
            if recorder is not None:
                recorder.close()
            if evictions is not None:
                await evictions.stop()
            if client is not None:
                await client.aclose()
            await counters.close()

    app = ReceiverApp(
        routes=[
            Route("/hooks/socialplus", socialplus_hook, methods=["POST"]),
            Route("/hooks/socialplus", hook_probe, methods=["GET", "HEAD"]),
            Route("/hooks/braincloud", braincloud_hook, methods=["POST"]),
            Route("/hooks/braincloud", braincloud_probe, methods=["GET", "HEAD"]),
            Route("/hooks/socialplus/events", events_hook, methods=["POST"]),
            Route("/hooks/stream", stream_hook, methods=["POST"]),
            Route("/hooks/stream", vendor_probe, methods=["GET", "HEAD"]),
            Route("/hooks/twilio", twilio_hook, methods=["POST"]),
            Route("/hooks/twilio", vendor_probe, methods=["GET", "HEAD"]),
            Route("/healthz", healthz, methods=["GET", "HEAD"]),
            Route("/readyz", readyz, methods=["GET", "HEAD"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
        ],
        exception_handlers={404: not_found, 405: method_not_allowed},
        lifespan=lifespan,
    )
    app.hooks = {
        "/hooks/socialplus": socialplus_hook,
        "/hooks/braincloud": braincloud_hook,
        "/hooks/socialplus/events": events_hook,
        "/hooks/stream": stream_hook,
        "/hooks/twilio": twilio_hook,
    }
    app.state.live = live
    app.state.metrics = metrics
    app.state.service = service
    app.state.feed = decisions
    return app


async def _reload(live: LivePolicies) -> None:
    log.info("SIGHUP received; reloading policies")
    await live.reload_async()
