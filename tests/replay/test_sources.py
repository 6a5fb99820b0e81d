"""Policy sources of ``receiver diff``: directories, bundles (verified or not), git revisions."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from receiver.bundles import keys
from receiver.bundles.build import build_bundle
from receiver.load.loader import policy_files
from receiver.replay.sources import SourceError, opened, parse_git_spec
from receiver.runtime.policyset import load_policies

DIFF = Path(__file__).resolve().parents[1] / "data" / "diff"

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@localhost", *args],
        cwd=repo, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with two commits of policies/: OLD, then NEW."""
    root = tmp_path / "repo"
    (root / "policies").mkdir(parents=True)
    git(root, "init", "-q")
    shutil.copy(DIFF / "old" / "community.yaml", root / "policies" / "community.yaml")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "old")
    shutil.copy(DIFF / "new" / "community.yaml", root / "policies" / "community.yaml")
    git(root, "commit", "-q", "-am", "new")
    return root


@needs_git
def test_a_git_revision_is_read_as_it_was(repo: Path) -> None:
    expected_old = load_policies([DIFF / "old"]).revision
    with opened("git:HEAD~1:policies", cwd=repo / "policies") as (path, info):
        assert load_policies([path]).revision == expected_old
        assert info.kind == "git"
        assert info.commit == git(repo, "rev-parse", "HEAD~1")
        temp = Path(info.temp)
        assert str(path).startswith(info.temp)
        assert info.shown(f"{path}/community.yaml:3:1: error") == (
            "git:HEAD~1:policies/community.yaml:3:1: error"
        )
    assert not temp.exists()  # removed on the way out
    with opened("git:HEAD:policies/community.yaml", cwd=repo) as (path, _):
        assert path.is_file()
        assert load_policies([path]).revision == load_policies([DIFF / "new"]).revision


@needs_git
@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("git:nope:policies", "unknown revision 'nope'"),
        ("git:HEAD~5:policies", "unknown revision 'HEAD~5'"),
        ("git:HEAD:rules", "has no 'rules'"),
        ("git:HEAD", "write git:REV:PATH"),
        ("git:HEAD:policies/../etc", "where '..' has no place; start it with ./ or ../"),
        ("git:HEAD:../etc", "is not inside a git repository"),
        ("git:HEAD:./rules", "has no 'rules'"),
        ("git:--output=/tmp/x:policies", "unknown revision"),
    ],
)
def test_a_bad_git_source_says_what_to_do(repo: Path, spec: str, fragment: str) -> None:
    with pytest.raises(SourceError, match=fragment.replace("(", r"\(")), opened(spec, cwd=repo):
        pass


@needs_git
def test_outside_a_repository_git_sources_say_so(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not inside a git repository"):  # noqa: SIM117
        with opened("git:HEAD:policies", cwd=tmp_path):
            pass


@needs_git
def test_a_git_path_may_be_absolute_or_relative_to_the_current_directory(
    repo: Path, tmp_path: Path
) -> None:
    expected_old = load_policies([DIFF / "old"]).revision
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (repo / "docs").mkdir()
    cases = [
        (f"git:HEAD~1:{repo / 'policies'}", elsewhere),  # absolute, from outside the repository
        ("git:HEAD~1:../policies", repo / "docs"),  # relative to the current directory
        ("git:HEAD~1:./policies", repo),
        ("git:HEAD~1:./", repo / "policies"),
        (f"git:HEAD~1:{repo / 'policies' / 'gone' / '..'}", elsewhere),  # normalised
    ]
    for spec, cwd in cases:
        with opened(spec, cwd=cwd) as (path, info):
            assert load_policies([path]).revision == expected_old, spec
            assert info.commit == git(repo, "rev-parse", "HEAD~1")
    # A folder deleted since REV is still found through the nearest folder that exists.
    shutil.rmtree(repo / "policies")
    with opened(f"git:HEAD~1:{repo / 'policies'}", cwd=elsewhere) as (path, _):
        assert load_policies([path]).revision == expected_old


def test_git_specs_split_at_the_first_colon() -> None:
    assert parse_git_spec("git:main:policies/") == ("main", "policies")
    assert parse_git_spec("git:v1.2:") == ("v1.2", ".")
    assert parse_git_spec("git:main:/abs/policies") == ("main", "/abs/policies")
    assert parse_git_spec("git:main:../policies") == ("main", "../policies")


@pytest.fixture
def bundles(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    """An unsigned bundle, a signed one, its public key and another public key."""
    files = policy_files([DIFF / "new"])
    key, other = keys.generate(), keys.generate()
    unsigned = tmp_path / "unsigned.tar.gz"
    unsigned.write_bytes(build_bundle(DIFF / "new", files).data)
    signed = tmp_path / "signed.tar.gz"
    signed.write_bytes(build_bundle(DIFF / "new", files, key).data)
    public, wrong = tmp_path / "public.pem", tmp_path / "other.pem"
    public.write_bytes(keys.public_pem(key.public_key()))
    wrong.write_bytes(keys.public_pem(other.public_key()))
    return unsigned, signed, public, wrong


def test_a_bundle_is_verified_and_says_whether_its_signature_was(
    bundles: tuple[Path, Path, Path, Path],
) -> None:
    unsigned, signed, public, wrong = bundles
    revision = load_policies([DIFF / "new"]).revision
    with opened(str(signed)) as (path, info):
        assert load_policies([path]).revision == revision
        assert (info.kind, info.signature, info.verified) == ("bundle", "not-checked", False)
        assert "NOT verified" in info.describe()
    key = keys.load_public_key(public)
    with opened(signed.as_uri(), public_key=key) as (path, info):
        assert (info.signature, info.verified) == ("verified", True)
        assert "signature verified" in info.describe()
    with opened(str(unsigned)) as (path, info):
        assert "unsigned: not verified" in info.describe()
    with pytest.raises(SourceError, match="does not verify"):  # noqa: SIM117
        with opened(str(signed), public_key=keys.load_public_key(wrong)):
            pass
    with pytest.raises(SourceError, match="unsigned"), opened(str(unsigned), public_key=key):
        pass


def test_a_damaged_bundle_is_refused(
    tmp_path: Path, bundles: tuple[Path, Path, Path, Path]
) -> None:
    damaged = tmp_path / "damaged.tar.gz"
    damaged.write_bytes(bundles[0].read_bytes()[:-20])
    with pytest.raises(SourceError, match=str(damaged)), opened(str(damaged)):
        pass


def test_a_bundle_url_other_than_a_file_is_refused() -> None:
    with pytest.raises(SourceError, match="download it first"):  # noqa: SIM117
        with opened("https://example.org/bundle.tar.gz"):
            pass


def test_a_missing_path_names_the_forms_a_source_takes(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="git:REV:PATH"), opened(str(tmp_path / "nope")):
        pass


def test_a_directory_is_itself(tmp_path: Path) -> None:
    with opened(str(DIFF / "old")) as (path, info):
        assert path == DIFF / "old"
        assert (info.kind, info.verified, info.shown("x")) == ("directory", None, "x")
