"""Bundle URLs for ``receiver serve --policies URL``: which are accepted, and how they show.

Stage: the edge (policy delivery), settings. Consumes the ``--policies`` value; produces
a :class:`BundleUrl` (or :class:`~receiver.bundles.format.BundleError` saying what is
accepted), and a form of the URL fit for logs (no user name, password or query).
No HTTP client is imported here: the settings of ``receiver serve`` read it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from receiver.bundles.format import BundleError

SCHEMES = ("https", "http", "file")


@dataclass(frozen=True, slots=True)
class BundleUrl:
    url: str  # as given (may hold credentials: never log it, log ``shown``)
    scheme: Literal["https", "http", "file"]
    shown: str  # without user info, query or fragment
    path: Path | None = None  # file:// only


def looks_like_url(value: str) -> bool:
    """Whether a ``--policies`` value is a URL rather than a directory."""
    return "://" in value


def parse_bundle_url(value: str) -> BundleUrl:
    """The bundle URL ``value``; http:// only to loopback hosts, file:// only absolute."""
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as err:
        raise BundleError(f"the bundle URL is malformed: {err}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise BundleError(
            f"bundle URLs must start with https://, http:// (loopback only) or file://, "
            f"not {scheme}://"
        )
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise BundleError("a file:// bundle URL names a local file: file:///path/bundle.tar.gz")
        path = Path(unquote(parts.path))
        if not path.is_absolute():
            raise BundleError(
                "a file:// bundle URL needs an absolute path: file:///path/to/b.tar.gz"
            )
        return BundleUrl(value, "file", f"file://{path}", path)
    if not host:
        raise BundleError(f"the bundle URL {scheme}:// has no host")
    if scheme == "http" and not is_loopback_host(host):
        raise BundleError(
            f"refusing http://{host}/: a plain-HTTP bundle URL is accepted for loopback hosts "
            "only (tests, a local bundle server); use https:// for a bundle server elsewhere"
        )
    port = f":{parts.port}" if parts.port is not None else ""
    shown_host = f"[{host}]" if ":" in host else host
    return BundleUrl(
        value,
        "https" if scheme == "https" else "http",
        f"{scheme}://{shown_host}{port}{parts.path}",
    )


def is_loopback_host(host: str) -> bool:
    """``localhost`` or a loopback address literal (no name resolution: a name could
    resolve elsewhere later)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
