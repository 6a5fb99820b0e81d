"""``receiver serve --policies URL`` settings (receiver/http/settings.py): bundle URLs,
``--bundle-poll``, ``--bundle-public-key``, the config file's keys, and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.bundles import keys
from receiver.http.settings import SettingsError, build

URL = "http://127.0.0.1:8000/bundle.tar.gz"


@pytest.fixture
def public_key(tmp_path: Path) -> Path:
    path = tmp_path / "public.pem"
    path.write_bytes(keys.public_pem(keys.generate().public_key()))
    return path


def test_a_url_gives_a_bundle_config_with_the_default_poll() -> None:
    config = build({"policies": URL})
    assert config.policies_url == URL
    assert config.bundle_poll == 30.0
    assert config.bundle_public_key is None
    assert config.policies_shown == URL


def test_a_directory_stays_a_directory(tmp_path: Path) -> None:
    config = build({"policies": str(tmp_path)})
    assert config.policies == tmp_path
    assert config.policies_url is None


def test_poll_and_public_key_flags(public_key: Path) -> None:
    config = build({"policies": URL, "bundle_poll": 2.5, "bundle_public_key": public_key})
    assert config.bundle_poll == 2.5
    assert config.bundle_public_key == public_key


def test_the_config_file_keys(tmp_path: Path, public_key: Path) -> None:
    settings = tmp_path / "receiver.yaml"
    settings.write_text(f"policies: {URL}\nbundle_poll: 5\nbundle_public_key: {public_key.name}\n")
    config = build({"config": settings})
    assert config.policies_url == URL
    assert config.bundle_poll == 5
    assert config.bundle_public_key == public_key  # relative to the file


@pytest.mark.parametrize(
    ("flags", "why"),
    [
        ({"policies": "http://bundles.example.com/b.tar.gz"}, "loopback hosts only"),
        ({"policies": "ftp://127.0.0.1/b"}, "must start with https://"),
        ({"policies": URL, "bundle_poll": 0}, "bundle-poll must be positive"),
        ({"policies": URL, "watch": True}, "--watch watches a policy directory"),
        ({"policies": "policies", "bundle_poll": 5}, "go with --policies URL"),
        ({"policies": URL, "bundle_public_key": Path("/nonexistent.pem")}, "cannot read"),
    ],
)
def test_refused_settings_say_why(flags: dict[str, object], why: str) -> None:
    with pytest.raises(SettingsError, match=why):
        build(flags)


def test_a_key_that_is_not_an_ed25519_public_key_is_refused(tmp_path: Path) -> None:
    private = tmp_path / "private.pem"
    private.write_bytes(keys.private_pem(keys.generate()))
    with pytest.raises(SettingsError, match="not a PEM public key"):
        build({"policies": URL, "bundle_public_key": private})


def test_the_shown_url_hides_credentials() -> None:
    config = build({"policies": "https://u:secret@bundles.example.com/b.tar.gz?sig=x"})
    assert "secret" not in config.policies_shown
    assert "sig=x" not in config.policies_shown
