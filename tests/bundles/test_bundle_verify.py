"""Reading bundles safely (receiver/bundles/verify.py): good bundles verify and extract
with the loader's revision; hostile ones are refused with a BundleError that says why."""

from __future__ import annotations

import contextlib
import gzip
import os
import tarfile
from pathlib import Path

import pytest
from bundlecraft import Member, good_bundle, members_of, targz, write_policies
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from receiver.bundles import format as fmt
from receiver.bundles.format import BundleError
from receiver.bundles.verify import extract, gunzip, policies_of, remove, verify
from receiver.runtime.policyset import load_policies

KEY = Ed25519PrivateKey.generate()
OTHER = Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_policies(tmp_path_factory.mktemp("p") / "policies", ("spam", "scam", "eggs"))


@pytest.fixture(scope="module")
def signed(policies: Path) -> bytes:
    return good_bundle(policies, KEY)


def test_a_signed_bundle_verifies_with_its_public_key(signed: bytes) -> None:
    verified = verify(signed, KEY.public_key())
    assert verified.signature == "verified"
    assert [e.path for e in verified.manifest.files] == [
        "policies/eggs.yaml", "policies/more/scam.yaml", "policies/spam.yaml",
    ]  # fmt: skip


def test_a_signed_bundle_without_a_key_says_the_signature_was_not_checked(signed: bytes) -> None:
    assert verify(signed).signature == "not-checked"


def test_an_unsigned_bundle_verifies_without_a_key(policies: Path) -> None:
    assert verify(good_bundle(policies)).signature == "unsigned"


def test_an_unsigned_bundle_is_refused_when_a_key_is_given(policies: Path) -> None:
    with pytest.raises(BundleError, match="unsigned"):
        verify(good_bundle(policies), KEY.public_key())


def test_a_bundle_signed_by_another_key_is_refused(policies: Path) -> None:
    with pytest.raises(BundleError, match="does not verify"):
        verify(good_bundle(policies, OTHER), KEY.public_key())


def test_extraction_gives_the_revision_the_loader_computes_for_the_directory(
    policies: Path, signed: bytes
) -> None:
    root = extract(verify(signed, KEY.public_key()))
    try:
        assert (root.stat().st_mode & 0o777) == 0o700
        extracted = load_policies([policies_of(root)])
        assert extracted.revision == load_policies([policies]).revision
        assert extracted.revision == verify(signed).revision
    finally:
        remove(root)
    assert not root.exists()


def _swap(members: list[Member], name: str, data: bytes) -> list[Member]:
    return [Member(m.name, data) if m.name == name else m for m in members]


def test_a_tampered_policy_file_is_refused(signed: bytes) -> None:
    members = _swap(members_of(signed), "policies/spam.yaml", b"policy: evil\nrules: []\n")
    with pytest.raises(BundleError, match="SHA-256"):
        verify(targz(members), KEY.public_key())
    with pytest.raises(BundleError, match="SHA-256"):
        verify(targz(members))  # without a key too: the hashes are always checked


def test_a_tampered_manifest_is_refused(signed: bytes) -> None:
    members = members_of(signed)
    manifest = next(m for m in members if m.name == fmt.MANIFEST).data
    changed = manifest.replace(b'"format": 1', b'"format": 1 ')
    with pytest.raises(BundleError, match="does not verify"):
        verify(targz(_swap(members, fmt.MANIFEST, changed)), KEY.public_key())


@pytest.mark.parametrize(
    ("member", "why"),
    [
        (Member("policies/../../etc/x.yaml", b"x"), "unsafe path"),
        (Member("/etc/passwd", b"x"), "unsafe path"),
        (Member("policies/.hidden.yaml", b"x"), "unsafe path"),
        (Member("policies\\..\\x.yaml", b"x"), "unsafe path"),
        (Member("policies/link.yaml", type=tarfile.SYMTYPE, linkname="/etc/passwd"), "regular"),
        (Member("policies/hard.yaml", type=tarfile.LNKTYPE, linkname="manifest.json"), "regular"),
        (Member("policies/dev", type=tarfile.CHRTYPE), "regular"),
        (Member("policies/fifo", type=tarfile.FIFOTYPE), "regular"),
        (Member("policies/sub", type=tarfile.DIRTYPE), "regular"),
        (Member("other/x.yaml", b"x"), "unexpected file"),
        (Member("policies/extra.yaml", b"x"), "not listed"),
    ],
)
def test_hostile_members_are_refused(signed: bytes, member: Member, why: str) -> None:
    with pytest.raises(BundleError, match=why):
        verify(targz([*members_of(signed), member]))


def test_a_missing_file_is_refused(signed: bytes) -> None:
    members = [m for m in members_of(signed) if m.name != "policies/spam.yaml"]
    with pytest.raises(BundleError, match="missing"):
        verify(targz(members))


def test_a_duplicate_member_is_refused(signed: bytes) -> None:
    members = members_of(signed)
    with pytest.raises(BundleError, match="twice"):
        verify(targz([*members, members[-1]]))


def test_a_gzip_bomb_stops_inflating_at_the_limit() -> None:
    bomb = gzip.compress(b"\0" * (fmt.MAX_UNCOMPRESSED + 1024 * 1024), compresslevel=9)
    assert len(bomb) < 1024 * 1024  # a small download ...
    with pytest.raises(BundleError, match="gzip bomb"):
        verify(bomb)  # ... refused without holding more than the limit


def test_an_oversized_download_is_refused_before_inflating() -> None:
    with pytest.raises(BundleError, match="larger than"):
        gunzip(b"\x1f\x8b" + b"\0" * fmt.MAX_COMPRESSED)


def test_truncated_and_trailing_data_are_refused(signed: bytes) -> None:
    with pytest.raises(BundleError, match=r"truncated|not valid gzip"):
        verify(signed[: len(signed) // 2])
    with pytest.raises(BundleError, match="after its gzip stream"):
        verify(signed + b"junk")


def test_an_oversized_member_is_refused() -> None:
    big = Member("policies/big.yaml", b"#" * (fmt.MAX_FILE + 1))
    with pytest.raises(BundleError, match="larger than"):
        verify(targz([big]))


def test_too_many_members_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("receiver.bundles.verify.MAX_FILES", 3)
    with pytest.raises(BundleError, match="more than 3 files"):
        verify(targz([Member(f"policies/f{i}.yaml", b"x") for i in range(6)]))


def test_a_bundle_without_a_manifest_is_refused() -> None:
    with pytest.raises(BundleError, match=r"no manifest\.json"):
        verify(targz([Member("policies/a.yaml", b"x")]))


# -- properties ---------------------------------------------------------------------------------


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=4096))
def test_any_bytes_verify_or_raise_a_bundle_error(data: bytes) -> None:
    with contextlib.suppress(BundleError):
        verify(data)


NAMES = st.one_of(
    st.sampled_from(
        [
            "manifest.json",
            "manifest.sig",
            "policies/a.yaml",
            "policies/../a.yaml",
            "/abs",
            "policies/./a.yaml",
            "policies//a.yaml",
            "policies/a.yaml/",
            ".",
            "..",
            "policies",
        ]
    ),
    st.text(min_size=1, max_size=40).map(lambda s: "policies/" + s),
)
TYPES = st.sampled_from(
    [tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE, tarfile.CHRTYPE]
)
MEMBERS = st.lists(
    st.builds(Member, NAMES, st.binary(max_size=64), TYPES, st.sampled_from(["", "/etc/passwd"])),
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(members=MEMBERS)
def test_crafted_archives_verify_or_raise_and_never_write_outside_their_directory(
    members: list[Member], tmp_path_factory: pytest.TempPathFactory
) -> None:
    try:
        data = targz(members)
    except (ValueError, UnicodeError):
        return  # tarfile itself cannot write this name
    parent = tmp_path_factory.mktemp("x")
    try:
        verified = verify(data)
    except BundleError:
        assert list(parent.iterdir()) == []
        return
    root = extract(verified, parent)  # pragma: no cover - a crafted archive rarely passes
    assert all(Path(p).resolve().is_relative_to(root) for p in root.rglob("*"))
    remove(root)


@settings(max_examples=150, deadline=None)
@given(position=st.integers(min_value=0), value=st.integers(min_value=1, max_value=255))
def test_any_changed_byte_is_refused_or_changes_nothing_that_is_read(
    signed: bytes, position: int, value: int
) -> None:
    position %= len(signed)
    changed = bytearray(signed)
    changed[position] ^= value
    original = verify(signed, KEY.public_key())
    try:
        again = verify(bytes(changed), KEY.public_key())
    except BundleError:
        return
    # only bytes nobody reads (the gzip header's OS byte, say) may change without a refusal
    assert again.manifest == original.manifest
    assert again.files == original.files


def test_extracted_files_are_private(signed: bytes) -> None:
    root = extract(verify(signed))
    try:
        modes = {os.stat(p).st_mode & 0o777 for p in root.rglob("*")}
        assert modes <= {0o700, 0o600}
    finally:
        remove(root)
