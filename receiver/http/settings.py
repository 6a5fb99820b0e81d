"""``receiver serve`` settings: command-line flags over an optional YAML config file.

The edge (HTTP), its settings. Consumes the flags of ``receiver serve`` and the YAML file of
``--config``; produces a :class:`~receiver.http.config.ServiceConfig` (:func:`build`), or a
:class:`SettingsError`.

Every setting can come from a flag or from the config file (``--config FILE``); a
flag given on the command line wins. Relative paths in the file are relative to the
file. The result is one validated :class:`~receiver.http.config.ServiceConfig`.

    policies: policies
    host: 127.0.0.1
    port: 8080
    users:
      url: https://users.internal/v1/users/{userId}
      headers: {Authorization: "Bearer ${USERS_API_TOKEN}"}
      record_path: data
      timeout_ms: 300

``policies`` may also be a bundle URL (``https://``, ``http://`` to loopback, ``file://``),
polled every ``bundle_poll`` seconds and verified with ``bundle_public_key``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from receiver.adapters.signatures import (
    DEFAULT_FALLBACK_MAX_BODY,
    DEFAULT_FALLBACK_RATE,
    FallbackSettings,
    Secrets,
)
from receiver.bundles.format import BundleError
from receiver.bundles.keys import load_public_key
from receiver.bundles.urls import looks_like_url, parse_bundle_url
from receiver.counters.settings import (
    BACKENDS,
    DEFAULT_KEY_PREFIX,
    DEFAULT_MAX_KEYS,
    DEFAULT_MAX_PER_KEY,
    DEFAULT_REDIS_TIMEOUT_MS,
    CounterSettings,
)
from receiver.errors import ReceiverError
from receiver.http.config import (
    DEFAULT_BUNDLE_POLL,
    DEFAULT_CONSOLE_BUFFER,
    DEFAULT_DEADLINE_MS,
    DEFAULT_HOST,
    DEFAULT_LOG_QUEUE,
    DEFAULT_MAX_BODY,
    DEFAULT_PORT,
    DEFAULT_RELOAD_TIMEOUT,
    ConsoleSettings,
    ServiceConfig,
    shipped_policies,
)
from receiver.http.limits import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_HEAD_BYTES,
    DEFAULT_READ_TIMEOUT,
    ConnectionLimits,
)
from receiver.observe.recorder import DEFAULT_KEEP, DEFAULT_MAX_BYTES, RecordSettings
from receiver.observe.rotating import RecordDirError, prepare_dir
from receiver.observe.sampling import RateError, parse_rate
from receiver.text.yamlerrors import located_message
from receiver.text.yamlnodes import safe_load
from receiver.users.cache import CacheSettings
from receiver.users.directory import HttpDirectoryConfig, expand_env

SECRET_ENV = "RECEIVER_SOCIALPLUS_SECRET"
REDIS_URL_ENV = "RECEIVER_REDIS_URL"
BRAINCLOUD_TOKEN_ENV = "RECEIVER_BRAINCLOUD_TOKEN"
METRICS_TOKEN_ENV = "RECEIVER_METRICS_TOKEN"
REDIS_KEY_SECRET_ENV = "RECEIVER_REDIS_KEY_SECRET"
STREAM_SECRET_ENV = "RECEIVER_STREAM_SECRET"
TWILIO_TOKEN_ENV = "RECEIVER_TWILIO_AUTH_TOKEN"
MIN_KEY_SECRET_BYTES = 16

TOP_KEYS = {
    "policies": "path",
    "host": "str",
    "port": "int",
    "workers": "int",
    "secret_file": "path",
    "default_action": "str",
    "deadline_ms": "int",
    "max_body": "int",
    "decision_log": "path",
    "log_content": "bool",
    "watch": "bool",
    "reload_timeout": "number",
    "log_level": "str",
    "log_queue": "int",
    "users": "map",
    "braincloud_token_file": "path",
    "braincloud_pre_fail_safe": "str",
    "counters": "map",
    "signature_fallback": "str",
    "signature_fallback_max_body": "int",
    "signature_fallback_rate": "number",
    "metrics_token_file": "path",
    "public_metrics": "bool",
    "max_head_bytes": "int",
    "read_timeout": "number",
    "max_concurrency": "int",
    "max_connections": "int",
    "bundle_poll": "number",
    "bundle_public_key": "path",
    "record": "path",
    "record_sample": "rate",
    "record_max_bytes": "int",
    "record_keep": "int",
    "console": "bool",
    "console_buffer": "int",
    "console_token_file": "path",
    "stream_secret_file": "path",
    "twilio_auth_token_file": "path",
    "twilio_public_url": "str",
}
COUNTER_KEYS = {
    "backend": "str",
    "redis_url": "str",
    "fallback": "str",
    "timeout_ms": "int",
    "max_keys": "int",
    "max_per_key": "int",
    "key_prefix": "str",
    "key_secret_file": "path",
}
USER_KEYS = {
    "file": "path",
    "url": "str",
    "headers": "map",
    "record_path": "str",
    "timeout_ms": "int",
    "cache_size": "int",
    "ttl": "number",
    "negative_ttl": "number",
    "stale_for": "number",
}


class SettingsError(ReceiverError):
    """A setting is missing, unknown or of the wrong type; the message says which."""


def _check(where: str, key: str, value: Any, kind: str, base: Path) -> Any:
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "map": isinstance(value, dict),
        "path": isinstance(value, str),
        "rate": isinstance(value, str | int | float) and not isinstance(value, bool),
    }[kind]
    if not ok:
        noun = {"str": "a string", "int": "a whole number", "number": "a number",
                "bool": "true or false", "map": "a mapping", "path": "a path",
                "rate": "a fraction such as 0.1 or a percentage such as '10%'"}[kind]  # fmt: skip
        raise SettingsError(f"{where}: '{key}' must be {noun}")
    if kind == "path":
        path = Path(value)
        return path if path.is_absolute() else base / path
    return value


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise SettingsError(f"{path}: cannot read the config file: {err.strerror}") from None
    try:
        raw = safe_load(text)
    except yaml.YAMLError as err:
        raise SettingsError(located_message(err, text, str(path))) from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SettingsError(f"{path}: the config file must be a mapping of settings")
    base = path.parent
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in TOP_KEYS:
            raise SettingsError(f"{path}: unknown setting '{key}'; known: {', '.join(TOP_KEYS)}")
        if key == "policies" and isinstance(value, str) and looks_like_url(value):
            out[key] = value  # a bundle URL, not a path relative to the file
            continue
        out[key] = _check(str(path), key, value, TOP_KEYS[key], base)
    users = out.pop("users", None)
    if users is not None:
        for key, value in users.items():
            if key not in USER_KEYS:
                known = ", ".join(USER_KEYS)
                raise SettingsError(f"{path}: unknown setting 'users.{key}'; known: {known}")
            out[f"users_{key}"] = _check(str(path), f"users.{key}", value, USER_KEYS[key], base)
    for key, value in (out.pop("counters", None) or {}).items():
        if key not in COUNTER_KEYS:
            known = ", ".join(COUNTER_KEYS)
            raise SettingsError(f"{path}: unknown setting 'counters.{key}'; known: {known}")
        kind = COUNTER_KEYS[key]
        out[f"counters_{key}"] = _check(str(path), f"counters.{key}", value, kind, base)
    return out


def _file_or_env_secrets(secret_file: Path | None, env: str, what: str) -> Secrets | None:
    """Signing secrets or tokens: the file, else ``$env`` (None when neither is set);
    comma-separated for rotation. ``what`` names them in messages."""
    where = f"${env}"
    if secret_file is not None:
        where = f"{what} file {secret_file}"
        try:
            text = secret_file.read_text(encoding="utf-8")
        except OSError as err:
            raise SettingsError(f"{where}: {err.strerror}") from None
        if not text.strip():
            raise SettingsError(f"{where} is empty")
    else:
        text = os.environ.get(env, "")
        if not text.strip():
            return None
    try:
        return Secrets.parse(text)
    except ValueError:
        raise SettingsError(f"{where} holds no {what} (only commas and spaces)") from None


def _twilio_public_url(value: str | None) -> str | None:
    """``--twilio-public-url``: the absolute http(s) URL Twilio is configured to call."""
    if value is None:
        return None
    url = value.strip()
    if not url.startswith(("https://", "http://")) or len(url.split("/", 3)[2]) == 0:
        raise SettingsError(
            f"--twilio-public-url must be the absolute URL Twilio calls, as entered in its "
            f"console, e.g. https://mod.example.com/hooks/twilio (got {value!r})"
        )
    return url


def _metrics_tokens(token: str | None, token_file: Path | None) -> Secrets | None:
    """``--metrics-token``, else ``--metrics-token-file``, else ``$RECEIVER_METRICS_TOKEN``;
    comma-separated tokens are all accepted, for rotation."""
    if token is not None and token_file is not None:
        raise SettingsError("use either --metrics-token or --metrics-token-file, not both")
    where = "--metrics-token"
    if token_file is not None:
        where = f"metrics token file {token_file}"
        try:
            token = token_file.read_text(encoding="utf-8")
        except OSError as err:
            raise SettingsError(f"{where}: {err.strerror}") from None
    elif token is None:
        where, token = f"${METRICS_TOKEN_ENV}", os.environ.get(METRICS_TOKEN_ENV, "")
        if not token.strip():
            return None
    try:
        return Secrets.parse(token)
    except ValueError:
        raise SettingsError(f"{where} holds no token") from None


def _redis_key_secret(secret: str | None, secret_file: Path | None) -> bytes | None:
    """``--redis-key-secret``, else ``--redis-key-secret-file`` (config file:
    ``counters.key_secret_file``), else ``$RECEIVER_REDIS_KEY_SECRET``: the deployment's
    key of the HMAC that content-derived counter keys are stored under in Redis."""
    if secret is not None and secret_file is not None:
        raise SettingsError("use either --redis-key-secret or --redis-key-secret-file, not both")
    where = "--redis-key-secret"
    if secret_file is not None:
        where = f"redis key secret file {secret_file}"
        try:
            raw = secret_file.read_bytes()  # the bytes as they are: any encoding is a key
        except OSError as err:
            raise SettingsError(f"{where}: {err.strerror}") from None
    else:
        if secret is None:
            where, secret = f"${REDIS_KEY_SECRET_ENV}", os.environ.get(REDIS_KEY_SECRET_ENV)
            if secret is None:
                return None
        # argv and the environment hold undecodable bytes as surrogates: give them back
        raw = secret.encode("utf-8", "surrogateescape")
    key = raw.strip()
    if len(key) < MIN_KEY_SECRET_BYTES:
        raise SettingsError(
            f"{where} must hold at least {MIN_KEY_SECRET_BYTES} bytes (it holds {len(key)}); "
            "make one with: python3 -c 'import secrets; print(secrets.token_hex(32))', and "
            "give every replica the same"
        )
    return key


def _counter_settings(values: Mapping[str, Any], positive: Any) -> CounterSettings:
    """``--counters``, ``--redis-url``, ``--counters-fallback``, ``--redis-timeout-ms`` (or
    ``counters: {backend, redis_url, fallback, timeout_ms, max_keys, max_per_key, key_prefix,
    key_secret_file}`` in the config file), and the Redis key secret."""
    backend = values.get("counters_backend", "memory")
    if backend not in BACKENDS:
        raise SettingsError(
            f"counters backend must be {', '.join(BACKENDS[:-1])} or {BACKENDS[-1]}, "
            f"got {backend!r}"
        )
    fallback = values.get("counters_fallback", "memory")
    if fallback not in ("memory", "unknown"):
        raise SettingsError(f"counters fallback must be memory or unknown, got {fallback!r}")
    url = values.get("counters_redis_url") or os.environ.get(REDIS_URL_ENV) or None
    if backend == "redis" and not url:
        raise SettingsError(
            f"the redis counter backend needs --redis-url (or ${REDIS_URL_ENV}, or "
            "counters.redis_url in the config file)"
        )
    if url:
        expand_env(url, "the redis URL")  # a missing ${VAR} fails here, not at the first event
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError("the redis URL must start with redis://, rediss:// or unix://")
    return CounterSettings(
        backend=backend,
        redis_url=url,
        fallback=fallback,
        timeout_ms=positive("counters_timeout_ms", DEFAULT_REDIS_TIMEOUT_MS),
        max_keys=positive("counters_max_keys", DEFAULT_MAX_KEYS),
        max_per_key=positive("counters_max_per_key", DEFAULT_MAX_PER_KEY),
        key_prefix=values.get("counters_key_prefix", DEFAULT_KEY_PREFIX),
        key_secret=_redis_key_secret(
            values.get("counters_key_secret"), values.get("counters_key_secret_file")
        ),
    )


def _check_workers_share_counters(counters: CounterSettings, workers: int) -> None:
    """Memory counters with several workers would count per worker: refused, unless the
    operator said so (``--counters memory-per-worker``)."""
    if counters.backend == "memory" and workers > 1:
        raise SettingsError(
            f"--workers {workers} with memory counters would count per worker: each of the "
            f"{workers} workers would keep its own counts, so every limit would be {workers} "
            "times looser. Share one count across workers and replicas with --counters redis "
            "--redis-url redis://HOST:6379/0 (config file: counters: {backend: redis, "
            "redis_url: ...}), or say --counters memory-per-worker (counters: {backend: "
            "memory-per-worker}) if per-worker counting is meant."
        )


def _signature_fallback(values: Mapping[str, Any], positive: Any) -> FallbackSettings | None:
    """``--signature-fallback off|compact-json`` and its bounds (off by default)."""
    mode = values.get("signature_fallback", "off")
    if mode not in ("off", "compact-json"):
        raise SettingsError(f"signature_fallback must be off or compact-json, got {mode!r}")
    max_body = positive("signature_fallback_max_body", DEFAULT_FALLBACK_MAX_BODY)
    rate = positive("signature_fallback_rate", DEFAULT_FALLBACK_RATE)
    return FallbackSettings(max_body, rate) if mode == "compact-json" else None


def _policies(values: Mapping[str, Any], positive: Any) -> dict[str, Any]:
    """``--policies DIR|URL``, ``--bundle-poll``, ``--bundle-public-key``: the
    :class:`ServiceConfig` fields for a directory, or for a bundle URL (checked here:
    the scheme, loopback for http://, a readable Ed25519 public key)."""
    given = values.get("policies")
    key_file = values.get("bundle_public_key")
    poll = float(positive("bundle_poll", DEFAULT_BUNDLE_POLL))
    if not (isinstance(given, str) and looks_like_url(given)):
        if key_file is not None or "bundle_poll" in values:
            raise SettingsError(
                "--bundle-public-key and --bundle-poll go with --policies URL (a bundle); "
                "a policy directory is read as it is"
            )
        return {"policies": Path(given) if given else shipped_policies()}
    try:
        parse_bundle_url(given)
        if key_file is not None:
            load_public_key(Path(key_file))
    except BundleError as err:
        raise SettingsError(str(err)) from None
    if values.get("watch"):
        raise SettingsError(
            "--watch watches a policy directory; a bundle URL is polled (--bundle-poll)"
        )
    return {
        "policies": Path("policies"),  # unused: the bundle's directory serves
        "policies_url": given,
        "bundle_poll": poll,
        "bundle_public_key": Path(key_file) if key_file is not None else None,
    }


def _record(values: Mapping[str, Any], positive: Any) -> RecordSettings | None:
    """``--record DIR`` with ``--record-sample``, ``--record-max-bytes`` and
    ``--record-keep``; the directory is created (0700) and must take a file, here, so
    that a bad one stops the start with a clear message."""
    path = values.get("record")
    if path is None:
        given = [k for k in ("record_sample", "record_max_bytes", "record_keep") if k in values]
        if given:
            flags = ", ".join("--" + k.replace("_", "-") for k in given)
            go = "goes" if len(given) == 1 else "go"
            raise SettingsError(f"{flags} {go} with --record DIR, which is not given")
        return None
    try:
        sample = parse_rate(values.get("record_sample", 1.0))
    except RateError as err:
        raise SettingsError(f"--record-sample: {err}") from None
    keep = values.get("record_keep", DEFAULT_KEEP)
    if keep < 0:
        raise SettingsError(f"record-keep must be 0 or more, got {keep}")
    directory = Path(path)
    try:
        prepare_dir(directory)
    except RecordDirError as err:
        raise SettingsError(str(err)) from None
    return RecordSettings(directory, sample, positive("record_max_bytes", DEFAULT_MAX_BYTES), keep)


def _console(values: Mapping[str, Any], positive: Any) -> ConsoleSettings | None:
    """``--console``, ``--console-buffer N``, ``--console-token-file FILE`` (the token itself
    is read by the command line, with ``receiver console``'s rules)."""
    if not values.get("console"):
        for key in ("console_buffer", "console_token_file"):
            if values.get(key) is not None:
                raise SettingsError(f"{key.replace('_', '-')} needs --console")
        return None
    return ConsoleSettings(
        buffer=positive("console_buffer", DEFAULT_CONSOLE_BUFFER),
        token_file=values.get("console_token_file"),
    )


def parse_header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise SettingsError(f"--users-header must look like 'Name: value', got {text!r}")
    return name.strip(), value.strip()


def build(flags: Mapping[str, Any]) -> ServiceConfig:
    """The service config from given flags (absent = not given) and ``--config``."""
    values: dict[str, Any] = {}
    if flags.get("config") is not None:
        values.update(read_config_file(flags["config"]))
    for key, value in flags.items():
        if value is not None and key != "config":
            if key == "users_header":
                values["users_headers"] = dict(parse_header(h) for h in value)
            else:
                values[key] = value

    def positive(key: str, default: int | float) -> Any:
        value = values.get(key, default)
        if value <= 0:
            raise SettingsError(f"{key.replace('_', '-')} must be positive, got {value}")
        return value

    users_file = values.get("users") or values.get("users_file")
    url = values.get("users_url")
    if users_file is not None and url is not None:
        raise SettingsError("use either a users file or a users URL, not both")
    http = None
    if url is not None:
        http = HttpDirectoryConfig(
            url=url,
            headers=dict(values.get("users_headers") or {}),
            record_path=values.get("users_record_path"),
            timeout_ms=positive("users_timeout_ms", 300),
        )
        http.check()
        for name, value in http.headers.items():  # a missing ${VAR} fails here, not at start
            if not isinstance(value, str):
                raise SettingsError(f"users header {name}: the value must be a string")
            expand_env(value, f"users header {name}")
    cache = CacheSettings(
        maxsize=positive("users_cache_size", 10_000),
        ttl=positive("users_ttl", 60.0),
        negative_ttl=positive("users_negative_ttl", 10.0),
        stale_for=values.get("users_stale_for", 300.0),
        timeout=positive("users_timeout_ms", 300) / 1000,
    )
    action = values.get("default_action", "allow")
    if action not in ("allow", "deny"):
        raise SettingsError(f"default_action must be allow or deny, got {action!r}")
    pre_fail_safe = values.get("braincloud_pre_fail_safe", "allow")
    if pre_fail_safe not in ("allow", "deny"):
        raise SettingsError(
            f"braincloud_pre_fail_safe must be allow or deny, got {pre_fail_safe!r}"
        )
    counters = _counter_settings(values, positive)
    _check_workers_share_counters(counters, positive("workers", 1))
    metrics_tokens = _metrics_tokens(values.get("metrics_token"), values.get("metrics_token_file"))
    public_metrics = bool(values.get("public_metrics", False))
    if metrics_tokens is not None and public_metrics:
        raise SettingsError(
            "--public-metrics opens /metrics to anyone: it cannot go with a metrics token"
        )
    connections = ConnectionLimits(
        max_head_bytes=positive("max_head_bytes", DEFAULT_MAX_HEAD_BYTES),
        read_timeout=float(positive("read_timeout", DEFAULT_READ_TIMEOUT)),
        max_concurrency=positive("max_concurrency", DEFAULT_MAX_CONCURRENCY),
        max_connections=positive("max_connections", DEFAULT_MAX_CONNECTIONS),
    )
    return ServiceConfig(
        counters=counters,
        connections=connections,
        **_policies(values, positive),
        host=values.get("host", DEFAULT_HOST),
        port=values.get("port", DEFAULT_PORT),
        workers=positive("workers", 1),
        secrets=_file_or_env_secrets(values.get("secret_file"), SECRET_ENV, "secret"),
        default_action=action,
        deadline_ms=positive("deadline_ms", DEFAULT_DEADLINE_MS),
        max_body=positive("max_body", DEFAULT_MAX_BODY),
        users=users_file,
        users_http=http,
        users_cache=cache,
        decision_log=values.get("decision_log"),
        log_content=bool(values.get("log_content", False)),
        watch=bool(values.get("watch", False)),
        reload_timeout=positive("reload_timeout", DEFAULT_RELOAD_TIMEOUT),
        log_level=values.get("log_level", "info"),
        log_queue=positive("log_queue", DEFAULT_LOG_QUEUE),
        braincloud_tokens=_file_or_env_secrets(
            values.get("braincloud_token_file"), BRAINCLOUD_TOKEN_ENV, "brainCloud token"
        ),
        braincloud_pre_fail_safe=pre_fail_safe,
        signature_fallback=_signature_fallback(values, positive),
        metrics_tokens=metrics_tokens,
        public_metrics=public_metrics,
        record=_record(values, positive),
        console=_console(values, positive),
        stream_secrets=_file_or_env_secrets(
            values.get("stream_secret_file"), STREAM_SECRET_ENV, "Stream API secret"
        ),
        twilio_tokens=_file_or_env_secrets(
            values.get("twilio_auth_token_file"), TWILIO_TOKEN_ENV, "Twilio auth token"
        ),
        twilio_public_url=_twilio_public_url(values.get("twilio_public_url")),
    )
