"""``receiver bundle build|inspect|keygen`` through ``main(argv)``, in-process."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from bundlecraft import Member, members_of, targz, write_policies
from test_light_imports import probe

from receiver.cli import main
from receiver.runtime.policyset import load_policies


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    private, public = tmp_path / "signing.pem", tmp_path / "public.pem"
    assert (
        main(["bundle", "keygen", "--private-key", str(private), "--public-key", str(public)]) == 0
    )
    return private, public


def test_keygen_writes_a_private_key_only_its_owner_can_read(keys: tuple[Path, Path]) -> None:
    private, public = keys
    assert private.stat().st_mode & 0o777 == 0o600
    assert b"BEGIN PRIVATE KEY" in private.read_bytes()
    assert b"BEGIN PUBLIC KEY" in public.read_bytes()


def test_keygen_never_overwrites_a_key(
    keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    private, _public = keys
    before = private.read_bytes()
    assert main(["bundle", "keygen", "--private-key", str(private), "--public-key", "x"]) == 2
    assert "exists already" in capsys.readouterr().err
    assert private.read_bytes() == before


def test_build_then_inspect_shows_the_revision_the_loader_computes(
    tmp_path: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    policies = write_policies(tmp_path / "policies", ("spam", "scam"))
    out = tmp_path / "bundle.tar.gz"
    code = main(["bundle", "build", str(policies), "-o", str(out), "--signing-key", str(keys[0])])
    assert code == 0
    revision = load_policies([policies]).revision
    assert f"revision {revision}" in capsys.readouterr().out
    assert main(["bundle", "inspect", str(out), "--public-key", str(keys[1])]) == 0
    shown = capsys.readouterr().out
    assert f"revision:  {revision}" in shown
    assert "valid (verified with the public key)" in shown
    assert "policies/more/scam.yaml" in shown
    assert main(["bundle", "inspect", str(out)]) == 0
    assert "NOT CHECKED" in capsys.readouterr().out


def test_inspect_json_holds_the_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policies = write_policies(tmp_path / "policies")
    out = tmp_path / "b.tar.gz"
    assert main(["bundle", "build", str(policies), "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["bundle", "inspect", str(out), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["signature"] == "unsigned"
    assert doc["manifest"]["revision"] == load_policies([policies]).revision
    assert doc["manifest"]["files"][0]["path"] == "policies/spam.yaml"


def test_an_unsigned_bundle_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policies = write_policies(tmp_path / "policies")
    out = tmp_path / "b.tar.gz"
    assert main(["bundle", "build", str(policies), "-o", str(out)]) == 0
    assert main(["bundle", "inspect", str(out)]) == 0
    assert "UNSIGNED" in capsys.readouterr().out


def test_the_same_policies_give_the_same_bytes_but_the_build_time(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    policies = write_policies(tmp_path / "policies", ("spam", "scam", "eggs"))
    first, second = tmp_path / "1.tar.gz", tmp_path / "2.tar.gz"
    for out in (first, second):
        argv = ["bundle", "build", str(policies), "-o", str(out), "--signing-key", str(keys[0])]
        assert main(argv) == 0

    def without_time(path: Path) -> list[Member]:
        members = members_of(path.read_bytes())
        manifest = json.loads(members[0].data)
        manifest.pop("built_at")
        return [Member("manifest", json.dumps(manifest).encode()), *members[2:]]

    assert without_time(first) == without_time(second)
    assert gzip.decompress(first.read_bytes())[512:] != b""  # a real tar after the header


def test_build_refuses_broken_policies_with_their_positions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policies = write_policies(tmp_path / "policies")
    (policies / "broken.yaml").write_text(
        "policy: broken\nrules:\n  - id: x\n    events: [message.shouldCreate]\n"
        "    action: deny\n    when: 1 +\n"
    )
    out = tmp_path / "b.tar.gz"
    assert main(["bundle", "build", str(policies), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "broken.yaml:6:" in err
    assert "no bundle was written" in err
    assert not out.exists()


def test_build_refuses_a_key_that_is_not_ed25519(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policies = write_policies(tmp_path / "policies")
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    argv = [
        "bundle",
        "build",
        str(policies),
        "-o",
        str(tmp_path / "b.tgz"),
        "--signing-key",
        str(bad),
    ]
    assert main(argv) == 2
    assert "not a PEM private key" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("tamper", "why"),
    [
        ("file", "does not match its SHA-256"),
        ("key", "does not verify with the public key"),
        ("extra", "not listed in the manifest"),
    ],
)
def test_inspect_fails_on_a_bad_bundle(
    tmp_path: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str],
    tamper: str, why: str,
) -> None:  # fmt: skip
    policies = write_policies(tmp_path / "policies")
    out = tmp_path / "b.tar.gz"
    assert (
        main(["bundle", "build", str(policies), "-o", str(out), "--signing-key", str(keys[0])]) == 0
    )
    members = members_of(out.read_bytes())
    if tamper == "file":
        members[-1] = Member(members[-1].name, members[-1].data + b"# changed\n")
    elif tamper == "extra":
        members.append(Member("policies/extra.yaml", b"policy: x\n"))
    else:
        other_private, other_public = tmp_path / "o.pem", tmp_path / "op.pem"
        main(
            [
                "bundle",
                "keygen",
                "--private-key",
                str(other_private),
                "--public-key",
                str(other_public),
            ]
        )
        keys = (other_private, other_public)
    out.write_bytes(targz(members))
    assert main(["bundle", "inspect", str(out), "--public-key", str(keys[1])]) == 1
    err = capsys.readouterr().err
    assert "NOT VALID" in err
    assert why in err


def test_build_and_inspect_load_no_web_stack(tmp_path: Path) -> None:
    """``bundle`` is a light command (pyproject's contract; this checks it at run time)."""
    policies = write_policies(tmp_path / "policies")
    out = tmp_path / "b.tar.gz"
    build = probe(["bundle", "build", str(policies), "-o", str(out)], "")
    assert build == {"code": 0, "loaded": []}
    assert probe(["bundle", "inspect", str(out)], "") == {"code": 0, "loaded": []}


def test_serve_refuses_a_plain_http_bundle_url_off_loopback_at_start(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve", "--policies", "http://bundles.example.com/b.tar.gz"]) == 2
    err = capsys.readouterr().err
    assert "loopback hosts only" in err
    assert "use https://" in err
