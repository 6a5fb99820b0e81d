"""Bundle URLs (receiver/bundles/urls.py): what ``--policies URL`` accepts."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.bundles.format import BundleError
from receiver.bundles.urls import looks_like_url, parse_bundle_url


@pytest.mark.parametrize(
    "url",
    [
        "https://bundles.example.com/receiver/bundle.tar.gz",
        "http://127.0.0.1:8000/bundle.tar.gz",
        "http://localhost/b.tar.gz",
        "http://[::1]:9000/b.tar.gz",
        "file:///srv/bundles/b.tar.gz",
    ],
)
def test_accepted_urls(url: str) -> None:
    assert parse_bundle_url(url).url == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://bundles.example.com/b.tar.gz", "loopback hosts only"),
        ("http://10.0.0.5/b.tar.gz", "loopback hosts only"),
        ("ftp://127.0.0.1/b.tar.gz", "must start with"),
        ("file://server/share/b.tar.gz", "names a local file"),
        ("https:///b.tar.gz", "has no host"),
        ("https://h:99999/b", "malformed"),
    ],
)
def test_refused_urls_say_what_is_accepted(url: str, why: str) -> None:
    with pytest.raises(BundleError, match=why):
        parse_bundle_url(url)


def test_the_shown_url_carries_no_credentials_or_query() -> None:
    shown = parse_bundle_url("https://user:s3cret@h.example/b.tar.gz?token=abc").shown
    assert shown == "https://h.example/b.tar.gz"


def test_a_file_url_gives_its_path() -> None:
    assert parse_bundle_url("file:///srv/b%20x.tar.gz").path == Path("/srv/b x.tar.gz")


def test_a_directory_is_not_a_url() -> None:
    assert not looks_like_url("policies/")
    assert looks_like_url("file:///x")


URLISH = st.builds(
    str.__add__,
    st.sampled_from(["http://", "https://", "file://", "HTTP://", "gopher://", ""]),
    st.text(max_size=60),
)


@given(URLISH)
def test_any_text_parses_or_raises_a_bundle_error(text: str) -> None:
    try:
        url = parse_bundle_url(text)
    except BundleError:
        return
    assert url.scheme in ("https", "http", "file")
    if url.scheme == "http":
        assert url.shown.startswith("http://")  # and its host is loopback (checked above)
    assert "?" not in url.shown or url.scheme == "file"
