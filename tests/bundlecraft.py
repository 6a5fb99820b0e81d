"""Making bundles for tests: good ones through the real builder, hostile ones by hand."""

from __future__ import annotations

import gzip
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from receiver.bundles.build import build_bundle
from receiver.runtime.policyset import check_paths

POLICY = """\
policy: {name}
rules:
  - id: no-{word}
    events: [message.shouldCreate]
    when: contains_any(data.text, ["{word}"])
    action: deny
    message: "no {word} here"
"""


def write_policies(root: Path, words: tuple[str, ...] = ("spam",)) -> Path:
    """A small valid policy directory, one file per word (one in a subfolder)."""
    root.mkdir(parents=True, exist_ok=True)
    for i, word in enumerate(words):
        folder = root / "more" if i % 2 else root
        folder.mkdir(exist_ok=True)
        (folder / f"{word}.yaml").write_text(POLICY.format(name=f"p-{word}", word=word))
    return root


def good_bundle(root: Path, key: Ed25519PrivateKey | None = None) -> bytes:
    report = check_paths([root])
    assert not report.has_errors, report.diagnostics
    return build_bundle(root, report.files, key).data


@dataclass(frozen=True)
class Member:
    name: str
    data: bytes = b""
    type: bytes = tarfile.REGTYPE
    linkname: str = ""


def tar_bytes(members: list[Member]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            info = tarfile.TarInfo(member.name)
            info.type = member.type
            info.linkname = member.linkname
            info.size = len(member.data) if member.type == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(member.data) if info.size else None)
    return raw.getvalue()


def targz(members: list[Member]) -> bytes:
    return gzip.compress(tar_bytes(members), mtime=0)


def members_of(bundle: bytes) -> list[Member]:
    """A bundle's members, to be altered and packed again with :func:`targz`."""
    out: list[Member] = []
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(bundle)), mode="r:") as tar:
        for info in tar:
            handle = tar.extractfile(info)
            out.append(Member(info.name, handle.read() if handle else b"", info.type))
    return out
