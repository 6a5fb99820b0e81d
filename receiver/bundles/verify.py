"""Reading a policy bundle safely: limits, paths, hashes and signature, then extraction.

Stage: the edge (policy delivery), before load. Consumes a bundle's bytes (outside
input: a download, or a file an operator names) and an optional Ed25519 public key;
produces a :class:`Verified` bundle (its manifest and file contents, all checked) and,
on request, a fresh private directory holding its policy files
(:func:`extract`), whose revision the loader computes is checked to be the manifest's.

What is refused, always with :class:`~receiver.bundles.format.BundleError`:

- a download over :data:`~receiver.bundles.format.MAX_COMPRESSED` bytes, a tar stream
  that inflates past :data:`~receiver.bundles.format.MAX_UNCOMPRESSED` (inflation stops
  there: a gzip bomb costs at most that much memory), truncated or trailing data;
- more than :data:`~receiver.bundles.format.MAX_FILES` members, a file over
  :data:`~receiver.bundles.format.MAX_FILE`, a duplicate name;
- any member that is not a regular file (links, devices, directories, FIFOs, sparse
  files), any name other than ``manifest.json``, ``manifest.sig`` and ``policies/...``,
  any absolute path, ``..``, dot-file, backslash or control character;
- a file missing from the manifest or from the bundle, a size or SHA-256 that differs;
- with a public key: an unsigned bundle, or a signature that the key does not verify.

Nothing is written to disk before all of that has passed, and then only into a new
directory made by :func:`tempfile.mkdtemp` (mode 0700), never into a policy directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from receiver.bundles import keys
from receiver.bundles.format import (
    MANIFEST,
    MAX_COMPRESSED,
    MAX_FILE,
    MAX_FILES,
    MAX_MANIFEST,
    MAX_UNCOMPRESSED,
    POLICY_DIR,
    SIGNATURE,
    SIGNATURE_BYTES,
    BundleError,
    Manifest,
    check_member_path,
)
from receiver.load.loader import policy_files
from receiver.runtime.policyset import revision_of

SignatureStatus = Literal["verified", "unsigned", "not-checked"]
_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Verified:
    manifest: Manifest
    files: dict[str, bytes]  # path inside the bundle (policies/...) -> content
    signature: SignatureStatus  # not-checked: signed, but no public key was given

    @property
    def revision(self) -> str:
        return self.manifest.revision


def gunzip(data: bytes, limit: int = MAX_UNCOMPRESSED) -> bytes:
    """Inflate one gzip member, stopping as soon as the output passes ``limit``."""
    if len(data) > MAX_COMPRESSED:
        raise BundleError(f"the bundle is larger than {MAX_COMPRESSED} bytes")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = bytearray()
    pending = data
    try:
        while True:
            chunk = inflater.decompress(pending, _CHUNK)
            out += chunk
            if len(out) > limit:
                raise BundleError(
                    f"the bundle inflates to more than {limit} bytes; refused (a gzip bomb?)"
                )
            pending = inflater.unconsumed_tail
            if inflater.eof or (not pending and not chunk):
                break
    except zlib.error as err:
        raise BundleError(f"the bundle is not valid gzip: {err}") from None
    if not inflater.eof:
        raise BundleError("the bundle is truncated (the gzip stream does not end)")
    if inflater.unused_data:
        raise BundleError("the bundle has data after its gzip stream; refused")
    return bytes(out)


def read_members(data: bytes) -> dict[str, bytes]:
    """The regular files of a bundle by name, every name and size checked."""
    raw = gunzip(data)
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            for count, member in enumerate(tar, start=1):
                if count > MAX_FILES + 2:
                    raise BundleError(f"the bundle holds more than {MAX_FILES} files")
                name = check_member_path(member.name)
                if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
                    raise BundleError(
                        f"{name} in the bundle is not a regular file (links, directories "
                        "and devices are refused)"
                    )
                if name not in (MANIFEST, SIGNATURE) and not name.startswith(POLICY_DIR + "/"):
                    raise BundleError(f"unexpected file {name} in the bundle")
                largest = MAX_MANIFEST if name == MANIFEST else MAX_FILE
                if member.size > largest:
                    raise BundleError(f"{name} in the bundle is larger than {largest} bytes")
                if name in members:
                    raise BundleError(f"{name} appears twice in the bundle")
                extracted = tar.extractfile(member)
                if extracted is None:  # pragma: no cover - regular files always have data
                    raise BundleError(f"{name} in the bundle has no data")
                members[name] = extracted.read()
                if len(members[name]) != member.size:
                    raise BundleError(f"{name} in the bundle is truncated")
    except BundleError:
        raise
    except (tarfile.TarError, EOFError, ValueError, UnicodeError, OSError) as err:
        raise BundleError(f"the bundle is not a valid tar archive: {err}") from None
    return members


def verify(
    data: bytes, public_key: Ed25519PublicKey | None = None, *, require_signature: bool = False
) -> Verified:
    """Check a bundle completely (see the module docstring); nothing is written.

    With ``public_key`` the signature must be present and valid; without one, a
    signature present is reported as not checked (``require_signature`` then refuses).
    """
    members = read_members(data)
    manifest_bytes = members.pop(MANIFEST, None)
    if manifest_bytes is None:
        raise BundleError(f"the bundle has no {MANIFEST}; build it with 'receiver bundle build'")
    signature = members.pop(SIGNATURE, None)
    status: SignatureStatus
    if signature is None:
        if public_key is not None or require_signature:
            raise BundleError(
                "the bundle is unsigned, and a signature is required (--bundle-public-key); "
                "build it with 'receiver bundle build --signing-key KEY'"
            )
        status = "unsigned"
    elif public_key is None:
        if require_signature:
            raise BundleError("no public key to check the bundle's signature with")
        status = "not-checked"
    else:
        if len(signature) != SIGNATURE_BYTES or not keys.verifies(
            public_key, signature, manifest_bytes
        ):
            raise BundleError(
                "the bundle's signature does not verify with the public key: it was signed "
                "with another key, or its manifest was changed after signing"
            )
        status = "verified"
    manifest = Manifest.parse(manifest_bytes)
    if not manifest.files:
        raise BundleError("the bundle holds no policy files")
    listed = {entry.path for entry in manifest.files}
    missing = sorted(listed - members.keys())
    extra = sorted(members.keys() - listed)
    if missing:
        raise BundleError(f"files listed in the manifest are missing: {', '.join(missing[:5])}")
    if extra:
        raise BundleError(f"files not listed in the manifest: {', '.join(extra[:5])}")
    for entry in manifest.files:
        content = members[entry.path]
        if len(content) != entry.size or hashlib.sha256(content).hexdigest() != entry.sha256:
            raise BundleError(f"{entry.path} does not match its SHA-256 in the manifest")
    return Verified(manifest, members, status)


def extract(bundle: Verified, parent: Path | None = None) -> Path:
    """Write a verified bundle's files into a new private directory; return it.

    The directory (mode 0700, from :func:`tempfile.mkdtemp`) holds ``policies/...``;
    the caller removes it (:func:`remove`) when it is no longer served. The revision the
    loader computes for the written files is checked against the manifest's.
    """
    root = Path(tempfile.mkdtemp(prefix="receiver-bundle-", dir=parent))
    try:
        for path, content in bundle.files.items():
            target = root.joinpath(*path.split("/"))
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            fd = os.open(target, flags, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(content)
        files = policy_files([root / POLICY_DIR])
        if len(files) != len(bundle.files) or revision_of(files) != bundle.revision:
            raise BundleError(
                f"the bundle's files do not give its manifest's revision {bundle.revision}"
            )
    except BaseException:
        remove(root)
        raise
    return root


def policies_of(root: Path) -> Path:
    """The policy directory inside an extracted bundle."""
    return root / POLICY_DIR


def remove(root: Path) -> None:
    """Remove an extracted bundle's directory (never fails)."""
    with contextlib.suppress(OSError):
        shutil.rmtree(root)
