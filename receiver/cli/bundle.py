"""``receiver bundle``: build, sign, inspect and verify policy bundles; make signing keys.

    receiver bundle build DIR -o FILE.tar.gz [--signing-key KEY]
    receiver bundle inspect FILE [--public-key KEY] [--format text|json]
    receiver bundle keygen --private-key FILE --public-key FILE

Stage: the edge (the command line) over load, check and the bundle format
(``receiver.bundles``). Consumes a policy directory, a bundle or key files; produces a
bundle file, key files, or the manifest and the verdict on stdout, with exit code 1 on
policy errors or a bundle that does not verify, 2 on bad usage (unreadable key, ...).
Light, like ``check``: no web server, HTTP client or Redis client is imported.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any, TextIO

from receiver.bundles import keys
from receiver.bundles.build import build_bundle
from receiver.bundles.format import BundleError
from receiver.bundles.verify import verify
from receiver.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from receiver.runtime.policyset import check_paths
from receiver.text.diagnostics import render_text


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add ``bundle`` and its three subcommands to the ``receiver`` parser's subcommands."""
    bundle: argparse.ArgumentParser = commands.add_parser(
        "bundle",
        help="build, sign and inspect policy bundles (for serve --policies URL)",
        description="Policy bundles carry a checked policy set to every replica: a gzip tar "
        "with the policy files, a manifest (revision, build time, SHA-256 of every file) "
        "and an optional Ed25519 signature of the manifest.",
    )
    actions = bundle.add_subparsers(dest="bundle_command", metavar="ACTION")
    actions.required = True
    build = actions.add_parser(
        "build",
        help="check a policy directory and write it as a bundle",
    )
    build.add_argument("directory", type=Path, metavar="DIR", help="policy directory")
    build.add_argument(
        "-o", "--output", type=Path, required=True, metavar="FILE", help="bundle to write"
    )
    build.add_argument(
        "--signing-key",
        type=Path,
        metavar="KEY",
        help="PEM Ed25519 private key; the manifest is signed with it (default: unsigned)",
    )
    inspect = actions.add_parser(
        "inspect",
        help="show a bundle's manifest and verify its files (and signature, with a key)",
    )
    inspect.add_argument("bundle", type=Path, metavar="FILE", help="bundle file (.tar.gz)")
    inspect.add_argument(
        "--public-key",
        type=Path,
        metavar="KEY",
        help="PEM Ed25519 public key; the signature must verify with it (default: the "
        "signature is not checked)",
    )
    inspect.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    keygen = actions.add_parser(
        "keygen",
        help="make an Ed25519 key pair for signing bundles",
        description="Writes a new PEM Ed25519 private key (mode 0600) and its public key. "
        "The same as: openssl genpkey -algorithm ed25519 -out PRIVATE.pem && "
        "openssl pkey -in PRIVATE.pem -pubout -out PUBLIC.pem",
    )
    keygen.add_argument(
        "--private-key",
        type=Path,
        required=True,
        metavar="FILE",
        help="where to write the private key (for bundle build --signing-key); kept secret",
    )
    keygen.add_argument(
        "--public-key",
        type=Path,
        required=True,
        metavar="FILE",
        help="where to write the public key (for serve --bundle-public-key)",
    )
    return bundle


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.bundle_command == "build":
        return cmd_build(args.directory, args.output, args.signing_key, out, err)
    if args.bundle_command == "inspect":
        return cmd_inspect(args.bundle, args.public_key, args.format, out, err)
    return cmd_keygen(args.private_key, args.public_key, out, err)


def cmd_build(
    directory: Path, output: Path, signing_key: Path | None, out: TextIO, err: TextIO
) -> int:
    if not directory.is_dir():
        err.write(f"receiver: {directory} is not a directory; give the policy directory\n")
        return EXIT_USAGE
    try:
        key = keys.load_private_key(signing_key) if signing_key is not None else None
    except BundleError as exc:
        err.write(f"receiver: {exc}\n")
        return EXIT_USAGE
    report = check_paths([directory])
    if report.has_errors:
        errors = [d for d in report.diagnostics if d.severity == "error"]
        err.write(render_text(errors) + "\n")
        err.write(f"receiver: {directory}: the policies have errors; no bundle was written\n")
        return EXIT_FAILED
    try:
        built = build_bundle(directory, report.files, key)
        _write_atomically(output, built.data)
    except BundleError as exc:
        err.write(f"receiver: {exc}\n")
        return EXIT_FAILED
    except OSError as exc:
        err.write(f"receiver: cannot write {output}: {exc.strerror}\n")
        return EXIT_FAILED
    manifest = built.manifest
    signed = "signed" if built.signed else "unsigned"
    out.write(
        f"wrote {output}: revision {manifest.revision}, {len(manifest.files)} policy "
        f"file{'s' if len(manifest.files) != 1 else ''}, {len(built.data)} bytes, {signed}\n"
    )
    return EXIT_OK


def _write_atomically(path: Path, data: bytes) -> None:
    """Write through a temporary file and a rename: a server reading ``path`` while it is
    replaced sees the old bundle or the new one, never half of one."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def cmd_inspect(bundle: Path, public_key: Path | None, fmt: str, out: TextIO, err: TextIO) -> int:
    try:
        key = keys.load_public_key(public_key) if public_key is not None else None
    except BundleError as exc:
        err.write(f"receiver: {exc}\n")
        return EXIT_USAGE
    try:
        data = bundle.read_bytes()
    except OSError as exc:
        err.write(f"receiver: cannot read {bundle}: {exc.strerror}\n")
        return EXIT_USAGE
    try:
        verified = verify(data, key)
    except BundleError as exc:
        err.write(f"receiver: {bundle}: NOT VALID: {exc}\n")
        return EXIT_FAILED
    manifest = verified.manifest
    signature = {
        "verified": "valid (verified with the public key)",
        "unsigned": "none: the bundle is UNSIGNED",
        "not-checked": "present but NOT CHECKED (give --public-key to verify it)",
    }[verified.signature]
    if fmt == "json":
        doc = {
            "bundle": str(bundle),
            "valid": True,
            "signature": verified.signature,
            "manifest": json.loads(manifest.to_bytes()),
        }
        out.write(json.dumps(doc, indent=2) + "\n")
        return EXIT_OK
    out.write(f"bundle:    {bundle}\n")
    out.write(f"revision:  {manifest.revision}\n")
    out.write(f"built at:  {manifest.built_at}\n")
    out.write(f"builder:   {manifest.builder}\n")
    out.write(f"signature: {signature}\n")
    out.write(f"files:     {len(manifest.files)}\n")
    for entry in manifest.files:
        out.write(f"  {entry.path}  {entry.size} bytes  sha256 {entry.sha256}\n")
    out.write("every file matches its SHA-256; no file is missing or extra\n")
    return EXIT_OK


def cmd_keygen(private: Path, public: Path, out: TextIO, err: TextIO) -> int:
    key = keys.generate()
    try:
        if public.exists():
            raise BundleError(f"{public} exists already; remove it or choose another name")
        keys.write_new(private, keys.private_pem(key), 0o600)
        try:
            keys.write_new(public, keys.public_pem(key.public_key()), 0o644)
        except BundleError:
            private.unlink(missing_ok=True)
            raise
    except BundleError as exc:
        err.write(f"receiver: {exc}\n")
        return EXIT_USAGE
    out.write(
        f"wrote the signing key {private} (mode 0600: keep it secret, on the build machine "
        f"only) and the public key {public} (give it to every replica: --bundle-public-key)\n"
    )
    return EXIT_OK
