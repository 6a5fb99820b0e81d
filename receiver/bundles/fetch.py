"""Fetching a bundle from its URL, conditionally: only what changed is downloaded.

Stage: the edge (policy delivery), network and files. Consumes a
:class:`~receiver.bundles.urls.BundleUrl`; produces a :class:`Download` (the bundle's
bytes and the validator that identifies them) or ``None`` when nothing changed, or
raises :class:`FetchFailed` saying why (unreachable, an HTTP status, too large).

- ``https://`` and ``http://`` (loopback): a GET with ``If-None-Match`` (the last
  ETag) or, when the server gave only ``Last-Modified``, ``If-Modified-Since``; 304
  means unchanged. Redirects are not followed (give the final URL). The body is read
  up to :data:`~receiver.bundles.format.MAX_COMPRESSED` bytes and no further.
- ``file://``: the file's size, modification time and inode are the validator; a
  file replaced by a rename (as ``receiver bundle build`` writes) is seen as changed.

A validator is remembered only when the caller says so (:meth:`Source.remember`): a
bundle that could not be applied for a passing reason is downloaded again at the next
poll, one that was refused for what it holds is not, until :meth:`Source.forget` (a
SIGHUP) asks for the bundle whatever it is.
"""

from __future__ import annotations

import asyncio
import os
import stat
from dataclasses import dataclass
from typing import Protocol

import httpx

from receiver import __version__
from receiver.bundles.format import MAX_COMPRESSED
from receiver.bundles.urls import BundleUrl

FETCH_TIMEOUT = 30.0  # seconds httpx waits for each step (connect, each read)
FETCH_DEADLINE = 120.0  # seconds for a whole download: a trickling server cannot hold a poll


class FetchFailed(Exception):
    """The bundle could not be fetched; the message says why (no credentials in it)."""


@dataclass(frozen=True, slots=True)
class Download:
    data: bytes
    validator: object  # what identifies these bytes at the source (ETag, stat, ...)


class Source(Protocol):
    shown: str

    async def fetch(self) -> Download | None: ...

    def remember(self, validator: object) -> None: ...

    def forget(self) -> None: ...

    async def close(self) -> None: ...


def open_source(
    url: BundleUrl, timeout: float = FETCH_TIMEOUT, deadline: float = FETCH_DEADLINE
) -> Source:
    if url.scheme == "file":
        return FileSource(url)
    return HttpSource(url, timeout, deadline)


@dataclass(frozen=True, slots=True)
class _HttpValidator:
    etag: str | None
    last_modified: str | None


class HttpSource:
    def __init__(
        self, url: BundleUrl, timeout: float = FETCH_TIMEOUT, deadline: float = FETCH_DEADLINE
    ) -> None:
        self.url = url.url
        self.deadline = deadline
        self.shown = url.shown
        self._known = _HttpValidator(None, None)
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            headers={"User-Agent": f"receiver/{__version__}", "Accept-Encoding": "identity"},
        )

    def conditions(self) -> dict[str, str]:
        if self._known.etag is not None:
            return {"If-None-Match": self._known.etag}
        if self._known.last_modified is not None:
            return {"If-Modified-Since": self._known.last_modified}
        return {}

    async def fetch(self) -> Download | None:
        try:
            async with asyncio.timeout(self.deadline):
                return await self._fetch()
        except TimeoutError:
            raise FetchFailed(
                f"the download took longer than {self.deadline:g} s; abandoned"
            ) from None

    async def _fetch(self) -> Download | None:
        try:
            async with self._client.stream("GET", self.url, headers=self.conditions()) as answer:
                if answer.status_code == 304:
                    return None
                if answer.status_code != 200:
                    raise FetchFailed(f"the bundle server answered HTTP {answer.status_code}")
                declared = answer.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > MAX_COMPRESSED:
                    raise FetchFailed(f"the bundle is larger than {MAX_COMPRESSED} bytes")
                body = bytearray()
                async for chunk in answer.aiter_raw():
                    body += chunk
                    if len(body) > MAX_COMPRESSED:
                        raise FetchFailed(f"the bundle is larger than {MAX_COMPRESSED} bytes")
                validator = _HttpValidator(
                    answer.headers.get("etag"), answer.headers.get("last-modified")
                )
                return Download(bytes(body), validator)
        except httpx.TimeoutException:
            raise FetchFailed("the bundle server did not answer in time") from None
        except httpx.HTTPError as err:
            raise FetchFailed(f"cannot reach the bundle server: {type(err).__name__}") from None

    def remember(self, validator: object) -> None:
        if isinstance(validator, _HttpValidator):
            self._known = validator

    def forget(self) -> None:
        self._known = _HttpValidator(None, None)

    async def close(self) -> None:
        await self._client.aclose()


class FileSource:
    def __init__(self, url: BundleUrl) -> None:
        if url.path is None:  # pragma: no cover - parse_bundle_url sets it for file://
            raise ValueError("a file:// bundle URL without a path")
        self.path = url.path
        self.shown = url.shown
        self._known: object = None

    async def fetch(self) -> Download | None:
        return await asyncio.to_thread(self._read)

    def _read(self) -> Download | None:
        try:
            # one open: the stat and the bytes are of the same file; O_NONBLOCK so that a
            # FIFO at the path cannot block the poller (it is then refused below)
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
            with os.fdopen(fd, "rb") as handle:
                info = os.fstat(handle.fileno())
                if not stat.S_ISREG(info.st_mode):
                    raise FetchFailed("the bundle path is not a regular file")
                validator = (info.st_size, info.st_mtime_ns, info.st_ino, info.st_dev)
                if validator == self._known:
                    return None
                if info.st_size > MAX_COMPRESSED:
                    raise FetchFailed(f"the bundle is larger than {MAX_COMPRESSED} bytes")
                data = handle.read(MAX_COMPRESSED + 1)
        except OSError as err:
            raise FetchFailed(f"cannot read the bundle file: {err.strerror}") from None
        if len(data) > MAX_COMPRESSED:
            raise FetchFailed(f"the bundle is larger than {MAX_COMPRESSED} bytes")
        return Download(data, validator)

    def remember(self, validator: object) -> None:
        self._known = validator

    def forget(self) -> None:
        self._known = None

    async def close(self) -> None:
        return None


def fetch_once(url: BundleUrl) -> bytes:
    """The bundle at ``url``, downloaded once (``receiver console --policies URL``,
    ``receiver diff URL ...``); :class:`FetchFailed` saying why not."""

    async def fetch() -> bytes:
        source = open_source(url)
        try:
            download = await source.fetch()
        finally:
            await source.close()
        if download is None:  # only a conditional fetch answers "not modified"
            raise FetchFailed("the bundle server sent no bundle")
        return download.data

    return asyncio.run(fetch())
