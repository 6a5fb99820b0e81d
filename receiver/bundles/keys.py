"""Ed25519 keys for signing policy bundles: make, write, read, sign, verify.

Stage: the edge (policy delivery). Consumes PEM key files (``openssl genpkey
-algorithm ed25519`` writes the same ones); produces keys, signatures and verdicts.
All cryptography is the ``cryptography`` package's; nothing here is hand-made.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from receiver.bundles.format import BundleError

OPENSSL_HINT = (
    "make one with 'receiver bundle keygen --private-key FILE --public-key FILE' "
    "(or: openssl genpkey -algorithm ed25519 -out FILE)"
)


def generate() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def write_new(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to a file that must not exist yet, created with ``mode``."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except FileExistsError:
        raise BundleError(f"{path} exists already; remove it or choose another name") from None
    except OSError as err:
        raise BundleError(f"cannot create {path}: {err.strerror}") from None
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(path, mode)  # the umask may have narrowed it; never widened beyond mode


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise BundleError(f"cannot read the {what} {path}: {err.strerror}") from None


def load_private_key(path: Path) -> Ed25519PrivateKey:
    data = _read(path, "signing key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise BundleError(
            f"{path} is encrypted with a password; the signing key must be an unencrypted "
            "PEM file kept readable by the builder only (chmod 600)"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise BundleError(f"{path} is not a PEM private key; {OPENSSL_HINT}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BundleError(f"{path} is not an Ed25519 private key; {OPENSSL_HINT}")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    data = _read(path, "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise BundleError(
            f"{path} is not a PEM public key; derive it from the signing key with "
            "'openssl pkey -in PRIVATE.pem -pubout -out PUBLIC.pem'"
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise BundleError(f"{path} is not an Ed25519 public key")
    return key


def sign(key: Ed25519PrivateKey, data: bytes) -> bytes:
    return key.sign(data)


def verifies(key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True
