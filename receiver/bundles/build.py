"""Building a policy bundle from checked policy files.

Stage: the edge (policy delivery), after load and check. Consumes the policy files
that :func:`receiver.runtime.policyset.check_paths` reported for a directory (the
caller has refused a set with errors) and an optional Ed25519 signing key; produces
the bundle's bytes and its :class:`~receiver.bundles.format.Manifest`.

The tar is deterministic: members in a fixed order (manifest, signature, then the
policy files sorted by path), every mtime, uid and gid zero, no owner names, mode
0644, and a gzip header without a time or a file name. The same policies therefore
give the same bytes except for the build time in the manifest.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from receiver import __version__
from receiver.bundles import keys
from receiver.bundles.format import (
    MANIFEST,
    MAX_FILE,
    MAX_FILES,
    POLICY_DIR,
    SIGNATURE,
    BundleError,
    FileEntry,
    Manifest,
    check_member_path,
)
from receiver.runtime.policyset import revision_of


@dataclass(frozen=True, slots=True)
class Built:
    data: bytes  # the .tar.gz
    manifest: Manifest
    signed: bool


def build_bundle(
    root: Path,
    files: Sequence[Path],
    key: Ed25519PrivateKey | None = None,
    built_at: datetime | None = None,
) -> Built:
    """The bundle of ``files`` (policy files under the directory ``root``)."""
    if not files:
        raise BundleError(f"no policy files (*.yaml) in {root}; nothing to bundle")
    if len(files) > MAX_FILES:
        raise BundleError(f"{len(files)} policy files: a bundle holds at most {MAX_FILES}")
    before = revision_of(files)
    contents: list[tuple[str, bytes]] = []
    for path in files:
        try:
            relative = path.relative_to(root)  # as listed under root (a link keeps its name)
        except ValueError:
            raise BundleError(f"{path} is not inside {root}") from None
        name = check_member_path(f"{POLICY_DIR}/{relative.as_posix()}")
        try:
            data = path.read_bytes()
        except OSError as err:
            raise BundleError(f"cannot read {path}: {err.strerror}") from None
        if len(data) > MAX_FILE:
            raise BundleError(f"{path} is larger than a bundle allows ({MAX_FILE} bytes)")
        contents.append((name, data))
    revision = revision_of(files)
    if revision != before:
        raise BundleError(f"the policies in {root} changed while the bundle was built; run again")
    contents.sort(key=lambda item: item[0].split("/"))
    stamp = (built_at or datetime.now(UTC)).astimezone(UTC)
    manifest = Manifest(
        revision=revision,
        built_at=stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        builder=f"receiver {__version__}",
        files=tuple(
            FileEntry(name, len(data), hashlib.sha256(data).hexdigest()) for name, data in contents
        ),
    )
    manifest_bytes = manifest.to_bytes()
    members = [(MANIFEST, manifest_bytes)]
    if key is not None:
        members.append((SIGNATURE, keys.sign(key, manifest_bytes)))
    members.extend(contents)
    return Built(_targz(members), manifest, key is not None)


def _targz(members: Sequence[tuple[str, bytes]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.type = tarfile.REGTYPE
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=9, mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()
