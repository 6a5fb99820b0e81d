"""The policy bundle format: names, limits and the manifest.

Stage: the edge (policy delivery), below the builder and the verifier. Consumes
nothing from outside by itself; produces the :class:`Manifest` (and its exact bytes,
which a signature covers) and parses a manifest read from a bundle, refusing anything
that is not exactly what :func:`Manifest.to_bytes` writes in shape.

A bundle is a gzip-compressed tar file holding, in this order:

    manifest.json        format, revision, build time, builder, every file with its
                         size and SHA-256 (keys sorted, UTF-8, one trailing newline)
    manifest.sig         optional: the raw 64-byte Ed25519 signature of manifest.json
    policies/...         the policy files the loader loads, as regular files

The revision is the one the loader computes for the same files
(:func:`receiver.runtime.policyset.revision_of`), so ``/readyz`` shows the same
revision for a directory and for the bundle built from it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from receiver.errors import ReceiverError
from receiver.load.kinds import is_policy_file_name

FORMAT_VERSION = 1
KIND = "receiver-policy-bundle"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
POLICY_DIR = "policies"
SIGNATURE_BYTES = 64  # an Ed25519 signature

# Limits for reading a bundle (outside input). Generous for policies (the shipped set
# is a few dozen kilobytes), small enough that a hostile bundle costs little.
MAX_COMPRESSED = 16 * 1024 * 1024  # the .tar.gz as downloaded
MAX_UNCOMPRESSED = 64 * 1024 * 1024  # the tar stream after gunzip, headers included
MAX_FILE = 8 * 1024 * 1024  # one policy file
MAX_MANIFEST = 4 * 1024 * 1024
MAX_FILES = 10_000  # policy files in one bundle
MAX_PATH = 255  # characters of a path inside the bundle

_HEX64 = re.compile(r"[0-9a-f]{64}")
_REVISION = re.compile(r"[0-9a-f]{12}")
_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")  # no leading dot: no '.', '..', dotfiles


class BundleError(ReceiverError):
    """A bundle cannot be built, read or trusted; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class FileEntry:
    path: str  # inside the bundle: policies/...
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Manifest:
    revision: str
    built_at: str  # ISO 8601, UTC
    builder: str  # "receiver 0.1.0"
    files: tuple[FileEntry, ...]
    format: int = FORMAT_VERSION

    def to_bytes(self) -> bytes:
        """The exact bytes written as ``manifest.json`` (and signed)."""
        doc = {
            "kind": KIND,
            "format": self.format,
            "revision": self.revision,
            "built_at": self.built_at,
            "builder": self.builder,
            "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in self.files],
        }
        return (json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()

    @classmethod
    def parse(cls, data: bytes) -> Manifest:
        """A manifest read from a bundle; :class:`BundleError` for anything malformed."""
        if len(data) > MAX_MANIFEST:
            raise BundleError(f"{MANIFEST} is larger than {MAX_MANIFEST} bytes")
        try:
            doc = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise BundleError(f"{MANIFEST} is not valid JSON: {err}") from None
        if not isinstance(doc, dict) or doc.get("kind") != KIND:
            raise BundleError(f"{MANIFEST} is not the manifest of a receiver policy bundle")
        version = doc.get("format")
        if version != FORMAT_VERSION:
            raise BundleError(
                f"bundle format {version!r} is not supported (this receiver reads format "
                f"{FORMAT_VERSION}); build the bundle with a matching 'receiver bundle build'"
            )
        revision = _field(doc, "revision", str)
        if not _REVISION.fullmatch(revision):
            raise BundleError(f"{MANIFEST}: the revision must be 12 hex digits")
        files_doc = _field(doc, "files", list)
        if len(files_doc) > MAX_FILES:
            raise BundleError(f"{MANIFEST} lists more than {MAX_FILES} files")
        files: list[FileEntry] = []
        seen: set[str] = set()
        for item in files_doc:
            if not isinstance(item, dict):
                raise BundleError(f"{MANIFEST}: every entry of 'files' must be an object")
            path = check_member_path(_field(item, "path", str))
            size = _field(item, "size", int)
            digest = _field(item, "sha256", str)
            if not path.startswith(POLICY_DIR + "/") or not is_policy_name(path):
                raise BundleError(f"{MANIFEST}: {path!r} is not a policy file under policies/")
            if size < 0 or size > MAX_FILE:
                raise BundleError(f"{MANIFEST}: {path}: size out of range")
            if not _HEX64.fullmatch(digest):
                raise BundleError(f"{MANIFEST}: {path}: sha256 must be 64 lowercase hex digits")
            if path in seen:
                raise BundleError(f"{MANIFEST} lists {path} twice")
            seen.add(path)
            files.append(FileEntry(path, size, digest))
        return cls(
            revision=revision,
            built_at=_field(doc, "built_at", str),
            builder=_field(doc, "builder", str),
            files=tuple(files),
            format=version,
        )


def _field(doc: dict[str, Any], key: str, kind: type) -> Any:
    value = doc.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise BundleError(f"{MANIFEST}: '{key}' is missing or not a {kind.__name__}")
    return value


def check_member_path(path: str) -> str:
    """``path`` if it is a safe relative path inside a bundle, else :class:`BundleError`.

    Safe: relative, '/'-separated, at most :data:`MAX_PATH` characters, every part made
    of letters, digits, ``_``, ``-`` and ``.`` and not starting with a dot (so no ``..``,
    no hidden files, no backslashes, no drive letters, no control characters).
    """
    if not path or len(path) > MAX_PATH:
        raise BundleError(f"unsafe path in the bundle: {path[:80]!r} (empty or too long)")
    parts = path.split("/")
    if not all(_PART.fullmatch(part) for part in parts):
        raise BundleError(
            f"unsafe path in the bundle: {path[:80]!r}; each part of a path must be letters, "
            "digits, '_', '-' and '.', and not start with a dot (rename the file)"
        )
    return path


def is_policy_name(path: str) -> bool:
    """Whether the loader loads a file of this name (``receiver.load.kinds``): the one rule,
    so that a bundle holds no test or users file."""
    return is_policy_file_name(path.rsplit("/", 1)[-1])
