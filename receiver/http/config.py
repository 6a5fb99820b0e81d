"""Service configuration: everything ``receiver serve`` needs, in one frozen object.

The edge (HTTP), its settings. Produced by :func:`receiver.http.settings.build`; consumed by
the service, the app, the reloads and ``receiver serve`` (:class:`ServiceConfig`).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

from receiver.adapters.signatures import FallbackSettings, Secrets
from receiver.bundles.urls import parse_bundle_url
from receiver.counters.settings import CounterSettings
from receiver.http.limits import ConnectionLimits
from receiver.observe.decisionlog import QUEUE_LINES
from receiver.observe.feed import DEFAULT_BUFFER
from receiver.observe.recorder import RecordSettings
from receiver.users.cache import CacheSettings
from receiver.users.directory import HttpDirectoryConfig


def shipped_policies() -> Path:
    """The starter policies: ``./policies`` when it exists, else the copy in the package."""
    local = Path("policies")
    if local.is_dir():
        return local
    packaged = Path(str(resources.files("receiver").joinpath("policies")))
    if packaged.is_dir():
        return packaged
    # a source checkout: the repository root, two levels above receiver/http/
    return Path(__file__).resolve().parents[2] / "policies"


DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_DEADLINE_MS = 2000
DEFAULT_MAX_BODY = 256 * 1024
DEFAULT_RELOAD_TIMEOUT = 30.0  # seconds a policy reload may take before it is abandoned
DEFAULT_LOG_QUEUE = QUEUE_LINES  # decision-log lines and log records waiting for their sink
DEFAULT_BUNDLE_POLL = 30.0  # seconds between polls of a policy bundle URL
DEFAULT_CONSOLE_BUFFER = DEFAULT_BUFFER  # serve --console: decisions kept per worker


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    """``serve --console``: the console under ``/console/`` (docs/console.md)."""

    buffer: int = DEFAULT_CONSOLE_BUFFER  # decisions kept per worker (--console-buffer)
    token_file: Path | None = None  # --console-token-file (read by the command line)
    token: str | None = None  # what /console/api/* requires (None: nothing, loopback only)
    share_dir: Path | None = None  # with several workers: their snapshots (private, 0700)

    def __repr__(self) -> str:  # never print the token
        return f"ConsoleSettings(buffer={self.buffer}, token={'set' if self.token else None})"


@dataclass(frozen=True)
class ServiceConfig:
    policies: Path = Path("policies")
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    workers: int = 1
    secrets: Secrets | None = None
    default_action: Literal["allow", "deny"] = "allow"
    deadline_ms: int = DEFAULT_DEADLINE_MS
    max_body: int = DEFAULT_MAX_BODY
    users: Path | None = None  # the file directory
    users_http: HttpDirectoryConfig | None = None  # the http directory
    users_cache: CacheSettings = field(default_factory=CacheSettings)
    decision_log: Path | None = None  # None: stdout
    log_content: bool = False
    watch: bool = False
    reload_timeout: float = DEFAULT_RELOAD_TIMEOUT
    log_level: str = "info"
    log_queue: int = DEFAULT_LOG_QUEUE  # per queue: the decision log's and the log's
    braincloud_tokens: Secrets | None = None  # the bridge's shared token(s)
    braincloud_pre_fail_safe: Literal["allow", "deny"] = "allow"  # post hooks: always null
    counters: CounterSettings = field(default_factory=CounterSettings)  # backend of counters
    signature_fallback: FallbackSettings | None = None  # None: raw-body signatures only
    metrics_tokens: Secrets | None = None  # Bearer token(s) for /metrics (receiver.http.admin)
    public_metrics: bool = False  # no token on a public address: /metrics open to anyone
    connections: ConnectionLimits = field(default_factory=ConnectionLimits)  # per worker
    policies_url: str | None = None  # --policies URL: a bundle, polled (receiver.bundles)
    bundle_poll: float = DEFAULT_BUNDLE_POLL  # seconds between polls of policies_url
    bundle_public_key: Path | None = None  # PEM Ed25519: bundles must be signed with its key
    record: RecordSettings | None = None  # --record DIR: records of decided events
    console: ConsoleSettings | None = None  # --console: the console under /console/
    stream_secrets: Secrets | None = None  # Stream's API secret(s): X-Signature
    twilio_tokens: Secrets | None = None  # Twilio's auth token(s): X-Twilio-Signature
    twilio_public_url: str | None = None  # the URL Twilio calls (None: from the request)

    @property
    def policies_shown(self) -> str:
        """Where the policies come from, for logs: the directory, or the bundle URL
        without credentials."""
        if self.policies_url is None:
            return str(self.policies)
        return parse_bundle_url(self.policies_url).shown

    @property
    def deadline(self) -> float:
        return self.deadline_ms / 1000


def unauthenticated_ok(config: ServiceConfig, credential: object) -> bool:
    """Whether an endpoint whose credential is ``credential`` may accept unauthenticated
    requests: only when none is configured and the service binds loopback addresses only."""
    return credential is None and is_loopback(config.host)


def is_loopback(host: str) -> bool:
    """Whether ``host`` only ever binds loopback addresses."""
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)
