"""Remote user directories: ``user`` fetched over HTTP.

The edge (user records), behind the user cache. Consumes a user id and an
:class:`HttpDirectoryConfig`; produces the user record or None (no such user), or raises
:class:`DirectoryError` (:meth:`HttpDirectory.fetch`).

:class:`HttpDirectory` turns a user id into a GET of a URL template such as
``https://users.internal/v1/users/{userId}`` with configured headers (values may
say ``${ENV_VAR}``, so tokens stay in the environment and out of files and logs),
and picks the record out of the JSON answer by an optional dotted path. 404 means
the user does not exist (``None``); anything else that is not a JSON object is a
:class:`DirectoryError`. One pooled ``httpx.AsyncClient`` serves the whole process.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from receiver.errors import ReceiverError
from receiver.text import jsoncodec

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class DirectoryError(ReceiverError):
    """The directory did not give a usable answer (status, body or network)."""


class DirectoryConfigError(ReceiverError):
    """The directory configuration is unusable; the message says what to fix."""


def expand_env(value: str, what: str) -> str:
    """``${VAR}`` replaced from the environment; a missing variable is a config error."""

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise DirectoryConfigError(f"{what} refers to ${{{name}}}, which is not set")
        return os.environ[name]

    return _ENV.sub(sub, value)


@dataclass(frozen=True)
class HttpDirectoryConfig:
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    record_path: str | None = None
    timeout_ms: int = 300

    def check(self) -> None:
        if "{userId}" not in self.url:
            raise DirectoryConfigError(
                f"the user directory URL must contain {{userId}}, e.g. "
                f"https://users.internal/v1/users/{{userId}} (got {self.url})"
            )
        scheme = self.url.split("://", 1)[0].lower()
        if scheme not in ("http", "https"):
            raise DirectoryConfigError(f"the user directory URL must be http(s): {self.url}")


class HttpDirectory:
    def __init__(
        self, config: HttpDirectoryConfig, client: httpx.AsyncClient, max_in_flight: int = 100
    ) -> None:
        config.check()
        self.config = config
        self._client = client
        # At most as many calls as the client has connections (new_client's default): a
        # cold burst of distinct users waits here, in O(1), not in httpcore's pool queue,
        # which is rescanned on every pool event and times out after 3x the timeout.
        self._slots = asyncio.Semaphore(max_in_flight)
        self._headers = {
            name: expand_env(value, f"header {name}") for name, value in config.headers.items()
        }
        self._path = [p for p in (config.record_path or "").split(".") if p]

    def url_for(self, user_id: str) -> str:
        quoted = quote(user_id, safe="")
        if quoted in (".", ".."):  # a dot segment would be resolved away: another resource
            quoted = quoted.replace(".", "%2E")
        return self.config.url.replace("{userId}", quoted)

    async def fetch(self, user_id: str) -> dict[str, Any] | None:
        if not user_id:  # an empty id would address the collection, not a user
            return None
        url = self.url_for(user_id)
        try:
            async with self._slots:
                response = await self._client.get(url, headers=self._headers)
        except httpx.TimeoutException:
            raise DirectoryError("timed out") from None
        except httpx.HTTPError as err:
            raise DirectoryError(f"{type(err).__name__}: {err}") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise DirectoryError(f"HTTP {response.status_code}")
        try:
            body: Any = jsoncodec.loads(response.content)
        except jsoncodec.JSONError as err:
            raise DirectoryError(f"the answer is not JSON ({err})") from None
        for step in self._path:
            body = body.get(step) if isinstance(body, dict) else None
        if body is None:
            return None
        if not isinstance(body, dict):
            raise DirectoryError(f"the user record is a {type(body).__name__}, not an object")
        return body


def new_client(timeout_ms: int, max_connections: int = 100) -> httpx.AsyncClient:
    """The process's one pooled client (keep-alive, bounded pool, no redirects)."""
    seconds = max(timeout_ms, 1) / 1000
    return httpx.AsyncClient(
        timeout=httpx.Timeout(seconds * 3, connect=seconds * 3),
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        follow_redirects=False,
        headers={"Accept": "application/json", "User-Agent": "receiver"},
    )
