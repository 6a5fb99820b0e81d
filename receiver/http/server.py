"""Running the service: ``receiver serve``.

The edge (HTTP), its outermost part. Consumes a
:class:`~receiver.http.config.ServiceConfig`; produces the running service until it stops,
and its exit code (:func:`serve`), or a :class:`StartupError`.

One worker runs uvicorn in this process. Several workers run a small pre-fork
supervisor (``receiver.http.supervisor``): this process binds the socket, starts N worker
processes that share it (each a uvicorn server on its own event loop, its app built
in the worker), forwards SIGHUP to them (each worker then reloads its policies
atomically), restarts a worker that dies (with a back-off, giving up on a crash loop),
and on SIGTERM or SIGINT lets every worker finish its in-flight requests before
exiting. Metrics of all workers are summed through prometheus-client's multiprocess
mode, in a temporary folder removed on every exit, failed starts included.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import uvicorn
from prometheus_client import multiprocess as prom_multiprocess

import receiver
from receiver.errors import PolicyLoadError, ReceiverError
from receiver.http.admin import AdminAccess
from receiver.http.app import ReceiverApp, create_app
from receiver.http.config import DEFAULT_LOG_QUEUE, ServiceConfig, is_loopback
from receiver.http.connections import protocol_class, raise_fd_limit
from receiver.http.reload import load_snapshot
from receiver.http.supervisor import Supervisor, WorkersFailing
from receiver.observe import logqueue
from receiver.text.diagnostics import render_text
from receiver.users.broadcast import channel_name
from receiver.users.static import StaticDirectory

log = logging.getLogger("receiver.http.server")

GRACEFUL_SECONDS = 30


class StartupError(ReceiverError):
    """The service cannot start with this configuration; the message says why."""


def setup_logging(level: str, queue: int = DEFAULT_LOG_QUEUE) -> None:
    """Log to stderr through a bounded queue and a writer thread (``receiver.observe.logqueue``)."""
    logqueue.install(level, queue)


def preflight(config: ServiceConfig) -> None:
    """Refuse unsafe or broken configurations before binding anything."""
    unprotected = (
        config.secrets is None
        and config.braincloud_tokens is None
        and config.stream_secrets is None
        and config.twilio_tokens is None
    )
    if unprotected and not is_loopback(config.host):
        raise StartupError(
            f"refusing to listen on {config.host} without a signature secret or a bridge "
            "token: anyone could "
            "send decisions requests. Set RECEIVER_SOCIALPLUS_SECRET (or --secret-file) to the "
            "secretKey social.plus gave you, or RECEIVER_BRAINCLOUD_TOKEN (or "
            "--braincloud-token-file) to the token of the brainCloud bridge script, "
            "RECEIVER_STREAM_SECRET (or --stream-secret-file) to Stream's API secret, or "
            "RECEIVER_TWILIO_AUTH_TOKEN (or --twilio-auth-token-file) to the Twilio auth "
            "token, or bind 127.0.0.1 for local testing."
        )
    if config.decision_log is not None:
        try:  # here, not in each worker: a worker that cannot open it dies at start
            config.decision_log.open("ab").close()
        except OSError as err:
            raise StartupError(
                f"cannot open the decision log {config.decision_log}: {err.strerror}"
            ) from None
    if config.policies_url is not None:  # fetched by each worker; the service starts without
        if config.users is not None:
            try:
                StaticDirectory.from_file(config.users)
            except ReceiverError as err:
                raise StartupError(str(err)) from None
        return
    try:
        load_snapshot(config.policies, config.users)
    except PolicyLoadError as err:
        errors = [d for d in err.diagnostics if d.severity == "error"]
        raise StartupError(
            render_text(errors)
            + f"\nthe policies in {config.policies} have errors; fix them ('receiver check')"
        ) from None


AppFactory = Callable[[ServiceConfig], ReceiverApp]


def _uvicorn_config(config: ServiceConfig, factory: AppFactory = create_app) -> uvicorn.Config:
    app = factory(config)
    limits = config.connections
    raise_fd_limit(limits)
    return uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        loop="auto",  # uvloop when installed
        http=protocol_class(limits, app.state.metrics.refused_connection),  # httptools
        h11_max_incomplete_event_size=limits.max_head_bytes,  # the same bound, were h11 chosen
        lifespan="on",
        access_log=False,
        log_config=None,  # uvicorn's loggers propagate to the root's queue (observe.logqueue)
        server_header=False,
        log_level=config.log_level,
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
    )


def _announce(config: ServiceConfig) -> None:
    if config.secrets is None and is_loopback(config.host):
        banner = "!" * 78
        log.warning(
            "\n%s\nNO SIGNATURE SECRET: accepting UNSIGNED requests on %s (loopback only).\n"
            "Set RECEIVER_SOCIALPLUS_SECRET or --secret-file before exposing this service.\n%s",
            banner, config.host, banner,
        )  # fmt: skip
    elif config.secrets is not None:
        count = len(config.secrets.keys)
        log.info("verifying signatures with %d secret%s", count, "s" if count > 1 else "")
        fallback = config.signature_fallback
        if fallback is not None:
            log.info(
                "compact-JSON signature fallback on: bodies up to %d bytes, %g attempts/s",
                fallback.max_body, fallback.rate,
            )  # fmt: skip
    _announce_braincloud(config)
    _announce_vendors(config)
    _announce_counters(config)
    _announce_records(config)
    access = AdminAccess.of(config)
    if access.mode == "token" or (access.mode == "open" and is_loopback(config.host)):
        log.info("%s", access.describe(config.host))
    else:
        log.warning("%s", access.describe(config.host))
    limits = config.connections
    log.info(
        "connection limits per worker: request head %d bytes, read timeout %g s, %d "
        "requests answered at once, %d open connections",
        limits.max_head_bytes, limits.read_timeout, limits.max_concurrency,
        limits.max_connections,
    )  # fmt: skip
    _announce_evictions(config)
    log.info(
        "serving %s on http://%s:%d/hooks/socialplus with %d worker%s; fail-safe action %s, "
        "deadline %d ms; receiver %s (%s)",
        config.policies_shown, config.host, config.port, config.workers,
        "s" if config.workers > 1 else "", config.default_action, config.deadline_ms,
        receiver.__version__, receiver.build(),
    )  # fmt: skip


def _announce_evictions(config: ServiceConfig) -> None:
    """Where a user webhook's eviction reaches (README, "Invalidation"); said once."""
    if config.users_http is None:
        return
    if config.counters.redis_url:
        log.info(
            "user-cache evictions reach every worker of every replica through Redis "
            "(channel %s)", channel_name(config.counters.key_prefix),
        )  # fmt: skip
    elif config.workers > 1:
        log.warning(
            "no Redis URL: a user webhook evicts the user in the one worker that receives "
            "it; the other workers of this replica (%d) and every other replica keep the old "
            "record until it expires (--users-ttl, %g s). Set --redis-url to send evictions "
            "to all of them",
            config.workers - 1, config.users_cache.ttl,
        )  # fmt: skip


def _announce_counters(config: ServiceConfig) -> None:
    """Once, in the start-up log (the supervisor's with several workers): what the counters
    guarantee across workers and replicas."""
    counters = config.counters
    if counters.backend == "redis":
        log.info(
            "counters: redis, one count shared by every worker of every replica; when Redis "
            "fails or is slow they fall back to %s", counters.fallback,
        )  # fmt: skip
        if counters.key_secret is not None:
            log.info(
                "counter keys and distinct values derived from message content are stored in "
                "Redis as HMAC-SHA256 under the deployment's key"
            )
        else:
            log.warning(
                "NO REDIS KEY SECRET: counter keys and distinct values derived from message "
                "content are stored in Redis as plain SHA-256, which anyone who can read "
                "Redis can check a guessed text against. Set RECEIVER_REDIS_KEY_SECRET or "
                "--redis-key-secret-file (the same on every replica)."
            )
    elif counters.backend == "memory-per-worker" and config.workers > 1:
        log.info(
            "counters: memory-per-worker, each of the %d workers counts on its own, so every "
            "limit is %d times looser (--counters redis shares one count)",
            config.workers, config.workers,
        )  # fmt: skip
    else:
        log.info("counters: memory, in this process only (--counters redis shares them)")


def _announce_records(config: ServiceConfig) -> None:
    """What --record keeps, where, and that it holds user content."""
    record = config.record
    if record is None:
        return
    sample = "every actor" if record.sample >= 1 else f"{record.sample:.4g} of the actors"
    log.info(
        "recording decided events (%s) into %s, files per worker of up to %d bytes, %d "
        "closed file%s kept per worker; records hold user content (README, 'Record, "
        "replay and diff')",
        sample, record.path, record.max_bytes, record.keep, "" if record.keep == 1 else "s",
    )  # fmt: skip


def _announce_braincloud(config: ServiceConfig) -> None:
    loopback = is_loopback(config.host)
    if config.secrets is None and not loopback:
        log.warning("no social.plus signature secret: /hooks/socialplus answers 401 to everything")
    if config.braincloud_tokens is None:
        if loopback:
            log.warning(
                "NO BRAINCLOUD BRIDGE TOKEN: accepting unauthenticated brainCloud hooks on %s "
                "(loopback only). Set RECEIVER_BRAINCLOUD_TOKEN or --braincloud-token-file.",
                config.host,
            )
        else:
            log.warning(
                "no brainCloud bridge token: /hooks/braincloud answers 401 to everything "
                "(set RECEIVER_BRAINCLOUD_TOKEN or --braincloud-token-file to enable it)"
            )
    else:
        count = len(config.braincloud_tokens.keys)
        log.info("brainCloud hooks: checking %d bridge token%s", count, "s" if count > 1 else "")
    log.info(
        "brainCloud hooks on http://%s:%d/hooks/braincloud; pre-hook fail-safe %s, post and "
        "post-fail hooks null",
        config.host, config.port, config.braincloud_pre_fail_safe,
    )  # fmt: skip


def _announce_vendors(config: ServiceConfig) -> None:
    """Say how /hooks/stream and /hooks/twilio check their callers."""
    loopback = is_loopback(config.host)
    for path, credential, setting in (
        ("/hooks/stream", config.stream_secrets, "RECEIVER_STREAM_SECRET or --stream-secret-file"),
        ("/hooks/twilio", config.twilio_tokens,
         "RECEIVER_TWILIO_AUTH_TOKEN or --twilio-auth-token-file"),
    ):  # fmt: skip
        if credential is not None:
            count = len(credential.keys)
            log.info("%s: checking signatures with %d key%s", path, count, "s" * (count > 1))
        elif loopback:
            log.warning("%s: no credential, accepting unsigned requests on %s (loopback "
                        "only); set %s", path, config.host, setting)  # fmt: skip
        else:
            log.warning("%s: no credential, answering 401 to everything (set %s)",
                        path, setting)  # fmt: skip


def serve(config: ServiceConfig, factory: AppFactory = create_app) -> int:
    """Run the service until it stops. ``factory`` builds each worker's app from the
    config (a module-level function: it is pickled to spawned workers); ``serve
    --console`` gives one that adds the console (``receiver.console.inservice``)."""
    setup_logging(config.log_level, config.log_queue)
    preflight(config)
    _announce(config)
    if config.workers <= 1:
        uvicorn.Server(_uvicorn_config(config, factory)).run()
        return 0
    return _supervise(config, factory)


def _worker(config: ServiceConfig, sock: socket.socket, factory: AppFactory) -> None:
    setup_logging(config.log_level, config.log_queue)
    uvicorn.Server(_uvicorn_config(config, factory)).run(sockets=[sock])


async def _placeholder(scope: object, receive: object, send: object) -> None:
    """Never called: only lets uvicorn bind the shared socket in the supervisor."""


def _bind(config: ServiceConfig) -> socket.socket:
    # Bind with a placeholder app: the real app (and its decision log) lives in the workers.
    try:
        # log_config=None: uvicorn's "running on" line goes through the service's log queue
        # in its format, not through a handler of uvicorn's own
        bind = uvicorn.Config(_placeholder, host=config.host, port=config.port, log_config=None)
        return bind.bind_socket()
    except SystemExit:  # uvicorn has logged why (address in use, permission denied, ...)
        raise StartupError(f"cannot listen on {config.host}:{config.port}") from None


def _supervise(config: ServiceConfig, factory: AppFactory) -> int:
    sock = _bind(config)
    metrics_dir: str | None = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="receiver-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    share_dir: str | None = None
    if config.console is not None:  # the workers' console snapshots: private to this run
        share_dir = tempfile.mkdtemp(prefix="receiver-console-")  # 0700
        config = replace(config, console=replace(config.console, share_dir=Path(share_dir)))
    supervisor = Supervisor(
        _worker, (config, sock, factory), config.workers, graceful=GRACEFUL_SECONDS + 5,
        on_exit=prom_multiprocess.mark_process_dead,
    )  # fmt: skip
    try:
        supervisor.run()
    except WorkersFailing as err:
        raise StartupError(str(err)) from None
    finally:
        sock.close()
        if share_dir is not None:
            shutil.rmtree(share_dir, ignore_errors=True)
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]
    return 0
