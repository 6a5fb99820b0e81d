"""The manifest (receiver/bundles/format.py): what it writes parses back to itself, and
anything else read from a bundle parses or raises a BundleError that says why."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.bundles.format import BundleError, FileEntry, Manifest, check_member_path

PART = st.from_regex(r"[a-z0-9_][a-z0-9_.\-]{0,12}", fullmatch=True)
ENTRIES = st.lists(
    st.builds(
        FileEntry,
        st.builds(lambda d, n: f"policies/{d}{n}.yaml", st.sampled_from(["", "a/", "b/c/"]), PART),
        st.integers(0, 1 << 20),
        st.from_regex(r"[0-9a-f]{64}", fullmatch=True),
    ),
    max_size=8,
    unique_by=lambda e: e.path,
)
MANIFESTS = st.builds(
    Manifest,
    st.from_regex(r"[0-9a-f]{12}", fullmatch=True),
    st.just("2026-12-06T07:40:40Z"),
    st.text(max_size=20),
    ENTRIES.map(tuple),
)


@given(MANIFESTS)
def test_a_written_manifest_parses_back_to_itself(manifest: Manifest) -> None:
    assert Manifest.parse(manifest.to_bytes()) == manifest


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(st.one_of(st.binary(max_size=200), JSONISH.map(lambda v: json.dumps(v).encode())))
def test_anything_else_parses_or_raises_a_bundle_error(data: bytes) -> None:
    with contextlib.suppress(BundleError):
        Manifest.parse(data)


@given(MANIFESTS, st.sampled_from(["format", "revision", "files", "kind", "builder"]), JSONISH)
def test_a_changed_field_parses_or_raises_a_bundle_error(
    manifest: Manifest, key: str, value: object
) -> None:
    doc = json.loads(manifest.to_bytes())
    doc[key] = value
    with contextlib.suppress(BundleError):
        Manifest.parse(json.dumps(doc).encode())


@pytest.mark.parametrize(
    "path",
    ["", "/etc/x", "a/../b", "a//b", "a/./b", ".hidden", "a/.b", "a\\b", "a/b\n", "x" * 300],
)
def test_unsafe_member_paths(path: str) -> None:
    with pytest.raises(BundleError, match="unsafe path"):
        check_member_path(path)


def test_a_newer_format_says_to_use_a_matching_builder() -> None:
    doc = json.loads(Manifest("0" * 12, "t", "b", ()).to_bytes())
    doc["format"] = 2
    with pytest.raises(BundleError, match="format 2 is not supported"):
        Manifest.parse(json.dumps(doc).encode())


@pytest.mark.parametrize(
    "path", ["policies/a.test.yaml", "policies/members.users.yaml", "policies/notes.txt"]
)
def test_a_listed_path_must_be_a_policy_file_under_policies(path: str) -> None:
    doc = json.loads(Manifest("0" * 12, "t", "b", ()).to_bytes())
    doc["files"] = [{"path": path, "size": 1, "sha256": "0" * 64}]
    with pytest.raises(BundleError, match="not a policy file"):
        Manifest.parse(json.dumps(doc).encode())
