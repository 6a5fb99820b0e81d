"""Where ``receiver diff`` finds the OLD and NEW policies: a directory, a bundle, a git revision.

The edge (the file system and git). Consumes a source as written on the command line:

- a policy directory, or one policy file;
- a policy bundle (``receiver bundle build``): a file, a ``file://`` URL, or an
  ``https://`` (loopback ``http://``) URL fetched by the caller's ``download``, read and
  verified as ``serve --policies`` reads one (:mod:`receiver.bundles.verify`), with its
  signature checked when a public key is given, and reported unverified otherwise;
- ``git:REV:PATH``: PATH (relative to the repository's root, as ``git show REV:PATH``
  reads it) as it was at revision REV of the repository around the current directory,
  written by ``git archive`` into a private temporary directory. A PATH that is
  absolute, or starts with ``./`` or ``../`` (relative to the current directory, as in
  ``git show REV:./PATH``), is read from the repository that holds it.

Produces, within :func:`opened`, the path to load and a :class:`SourceInfo` that says
what it was (for the report); temporary directories are removed on the way out. Anything
that cannot be read is a :class:`SourceError` that says what to do.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from receiver.bundles.format import MAX_COMPRESSED, BundleError
from receiver.bundles.urls import BundleUrl, looks_like_url, parse_bundle_url
from receiver.bundles.verify import extract, policies_of, remove, verify
from receiver.errors import ReceiverError

SourceKind = Literal["directory", "file", "bundle", "git"]
GIT_PREFIX: Final = "git:"
GZIP_MAGIC: Final = b"\x1f\x8b"
GIT_TIMEOUT: Final = 60.0  # seconds for one git command (archive of a large history)


class SourceError(ReceiverError):
    """A policy source that cannot be read; the message says which and what to do."""


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What a source was, for the report."""

    spec: str  # as written on the command line
    kind: SourceKind
    signature: str | None = None  # bundles: verified, unsigned, not-checked
    commit: str | None = None  # git: the commit REV named
    temp: str = ""  # the private temporary directory it was written to, if any
    prefix: str = ""  # what stands for that directory in messages

    def shown(self, text: str) -> str:
        """``text`` (diagnostics) with the temporary directory written as the source."""
        return text.replace(self.temp + "/", self.prefix) if self.temp else text

    @property
    def verified(self) -> bool | None:
        """Whether a bundle's signature was verified (None: not a bundle)."""
        return None if self.kind != "bundle" else self.signature == "verified"

    def describe(self) -> str:
        """One phrase for the report: what was loaded."""
        if self.kind == "bundle":
            status = {
                "verified": "signature verified",
                "unsigned": "unsigned: not verified",
                "not-checked": "signed, signature NOT verified (no --bundle-public-key)",
            }.get(self.signature or "", "not verified")
            return f"bundle {self.spec} ({status})"
        if self.kind == "git":
            return f"{self.spec} (commit {(self.commit or '')[:12]})"
        return f"{self.kind} {self.spec}"


# Downloads a bundle from an https:// (or loopback http://) URL; raises SourceError.
Download = Callable[[BundleUrl], bytes]


@contextlib.contextmanager
def opened(
    spec: str,
    *,
    public_key: Ed25519PublicKey | None = None,
    cwd: Path | None = None,
    download: Download | None = None,
) -> Iterator[tuple[Path, SourceInfo]]:
    """The policy path of ``spec`` (module docstring) and what it was, while in the block.
    A bundle URL other than ``file://`` is fetched with ``download`` (the command line's:
    this module opens no connection)."""
    if spec.startswith(GIT_PREFIX):
        with _git(spec, cwd or Path.cwd()) as found:
            yield found
        return
    if looks_like_url(spec):
        try:
            url = parse_bundle_url(spec)
        except BundleError as err:
            raise SourceError(f"{spec}: {err}") from None
        if url.path is None:
            if download is None:
                raise SourceError(
                    f"{url.shown}: bundles are read from files here; download it first "
                    "(curl -fo bundle.tar.gz URL) and name the file"
                )
            with _bundle(url.shown, download(url), public_key) as found:
                yield found
            return
        path = url.path
    else:
        path = Path(spec)
        if cwd is not None and not path.is_absolute():
            path = cwd / path
    if not path.exists():
        raise SourceError(
            f"{spec}: no such file or directory; give a policy directory, a bundle file "
            "or git:REV:PATH (e.g. git:HEAD~1:policies)"
        )
    if path.is_file() and _is_gzip(path):
        try:
            with path.open("rb") as stream:
                data = stream.read(MAX_COMPRESSED + 1)
        except OSError as err:
            raise SourceError(f"{spec}: cannot read the bundle: {err.strerror}") from None
        with _bundle(spec, data, public_key) as found:
            yield found
        return
    yield path, SourceInfo(spec, "directory" if path.is_dir() else "file")


def _is_gzip(path: Path) -> bool:
    try:
        with path.open("rb") as stream:
            return stream.read(2) == GZIP_MAGIC
    except OSError as err:
        raise SourceError(f"{path}: cannot read it: {err.strerror}") from None


@contextlib.contextmanager
def _bundle(
    spec: str, data: bytes, public_key: Ed25519PublicKey | None
) -> Iterator[tuple[Path, SourceInfo]]:
    try:
        bundle = verify(data, public_key)
        root = extract(bundle)
    except BundleError as err:
        raise SourceError(f"{spec}: {err}") from None
    try:
        info = SourceInfo(
            spec, "bundle", signature=bundle.signature, temp=str(root), prefix=f"{spec}:"
        )
        yield policies_of(root), info
    finally:
        remove(root)


def _run_git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, timeout=GIT_TIMEOUT, check=False
        )
    except FileNotFoundError:
        raise SourceError("git is not installed; install it, or give a policy directory") from None
    except subprocess.TimeoutExpired:
        raise SourceError(f"git {args[0]} took more than {GIT_TIMEOUT:g} s; gave up") from None


def parse_git_spec(spec: str) -> tuple[str, str]:
    """REV and PATH of ``git:REV:PATH`` (PATH ``.`` for the whole tree). A PATH that is
    absolute or starts with ``./`` or ``../`` is returned as written: it names a place
    in the file system (:func:`_in_repository`), as ``git show REV:./PATH`` does."""
    rest = spec[len(GIT_PREFIX) :]
    rev, sep, path = rest.partition(":")
    if not rev or not sep:
        raise SourceError(
            f"{spec}: write git:REV:PATH, e.g. git:HEAD~1:policies or git:main:policies"
        )
    if _names_a_place(path):
        return rev, path
    path = path.strip("/") or "."
    if any(part == ".." for part in path.split("/")):
        raise SourceError(
            f"{spec}: PATH is relative to the repository's root, where '..' has no place; "
            "start it with ./ or ../ for a path relative to the current directory"
        )
    return rev, path


def _names_a_place(path: str) -> bool:
    return path.startswith(("/", "./", "../")) or path == ".."


def _in_repository(spec: str, path: str, cwd: Path) -> tuple[Path, str]:
    """The repository's root, and PATH relative to it: a root-relative PATH as it is; an
    absolute one, or one relative to ``cwd`` (``./``, ``../``), in the repository that
    holds it."""
    place = Path(os.path.normpath(cwd / path)) if _names_a_place(path) else None
    where = cwd
    if place is not None:  # the nearest folder that exists finds the repository
        where = next((p for p in (place, *place.parents) if p.is_dir()), cwd)
    top = _run_git(["rev-parse", "--show-toplevel"], where)
    if top.returncode != 0:
        raise SourceError(
            f"{spec}: {where} is not inside a git repository; run receiver diff from the "
            "repository, or give a policy directory"
        )
    root = Path(top.stdout.decode("utf-8", "replace").strip())
    if place is None:
        return root, path
    inside = Path(os.path.relpath(os.path.realpath(place), os.path.realpath(root)))
    if inside.parts[:1] == ("..",):
        raise SourceError(f"{spec}: {place} is outside the repository {root}")
    return root, inside.as_posix()


@contextlib.contextmanager
def _git(spec: str, cwd: Path) -> Iterator[tuple[Path, SourceInfo]]:
    rev, written = parse_git_spec(spec)
    root, path = _in_repository(spec, written, cwd)
    commit = _run_git(
        ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"], root
    )
    if commit.returncode != 0:
        raise SourceError(
            f"{spec}: unknown revision {rev!r} in {root}; name a commit, branch or tag "
            "('git log --oneline' lists them)"
        )
    sha = commit.stdout.decode().strip()
    kind = _run_git(["cat-file", "-t", f"{sha}:{path}" if path != "." else f"{sha}^{{tree}}"], root)
    if kind.returncode != 0:
        raise SourceError(
            f"{spec}: revision {rev} has no {path!r}; PATH is relative to the repository's "
            f"root ('git ls-tree --name-only {rev}' lists it)"
        )
    archive = _run_git(["archive", "--format=tar", sha, "--", path], root)
    if archive.returncode != 0:
        message = archive.stderr.decode("utf-8", "replace").strip().splitlines()
        raise SourceError(f"{spec}: git archive failed: {message[-1] if message else '?'}")
    temp = Path(tempfile.mkdtemp(prefix="receiver-git-"))
    try:
        try:
            with tarfile.open(fileobj=io.BytesIO(archive.stdout), mode="r:") as tar:
                tar.extractall(temp, filter="data")
        except (tarfile.TarError, OSError) as err:
            raise SourceError(f"{spec}: cannot unpack git archive's output: {err}") from None
        target = temp if path == "." else temp.joinpath(*path.split("/"))
        info = SourceInfo(spec, "git", commit=sha, temp=str(temp), prefix=f"{GIT_PREFIX}{rev}:")
        yield target, info
    finally:
        shutil.rmtree(temp, ignore_errors=True)
