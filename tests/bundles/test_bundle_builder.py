"""Building bundles (receiver/bundles/build.py): deterministic bytes, the loader's
revision, and refusals that say what to do."""

from __future__ import annotations

import gzip
import io
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bundlecraft import write_policies

from receiver.bundles.build import build_bundle
from receiver.bundles.format import BundleError
from receiver.runtime.policyset import check_paths, load_policies

WHEN = datetime(2026, 12, 6, 7, 40, tzinfo=UTC)


def build(directory: Path, when: datetime = WHEN) -> bytes:
    return build_bundle(directory, check_paths([directory]).files, built_at=when).data


def test_the_same_policies_and_time_give_the_same_bytes(tmp_path: Path) -> None:
    directory = write_policies(tmp_path / "p", ("spam", "scam", "eggs"))
    first = build(directory)
    (directory / "spam.yaml").touch()  # a new mtime changes nothing
    assert build(directory) == first


def test_members_are_ordered_and_carry_no_owner_or_time(tmp_path: Path) -> None:
    data = build(write_policies(tmp_path / "p", ("spam", "scam", "eggs")))
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data)), mode="r:") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == [
        "manifest.json", "policies/eggs.yaml", "policies/more/scam.yaml", "policies/spam.yaml",
    ]  # fmt: skip
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) for m in members} == {
        (0, 0, 0, "", "", 0o644)
    }


def test_the_revision_is_the_loaders(tmp_path: Path) -> None:
    directory = write_policies(tmp_path / "p", ("spam", "scam"))
    built = build_bundle(directory, check_paths([directory]).files)
    assert built.manifest.revision == load_policies([directory]).revision


def test_an_empty_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="no policy files"):
        build_bundle(tmp_path / "empty", [])


def test_a_file_name_a_bundle_cannot_hold_says_to_rename_it(tmp_path: Path) -> None:
    directory = write_policies(tmp_path / "p")
    (directory / "spam.yaml").rename(directory / "my spam.yaml")
    with pytest.raises(BundleError, match="rename the file"):
        build(directory)
