"""Stream and Twilio signatures (receiver/adapters/vendorsigs.py) against the vendors' own
code: Stream's ``verify_webhook`` (stream-chat) and Twilio's ``RequestValidator``
(twilio), both ways, on hypothesis-made bodies, secrets, URLs and parameters.

Stream's SDK only verifies, so the receiver's Stream signer is checked against it and
the receiver's verifier must agree with it on every (body, header) pair, forged ones
included. Twilio's SDK signs and validates: it signs, the receiver verifies; the
receiver signs, it validates; and both refuse the same forgeries.
"""

from __future__ import annotations

import string
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stream_chat import StreamChat
from twilio.request_validator import RequestValidator

from receiver.adapters.signatures import Secrets
from receiver.adapters.vendorsigs import (
    sign_stream,
    sign_twilio,
    url_variants,
    verify_stream,
    verify_twilio,
)

# Stream's SDK warns (PyJWT) on secrets under 32 bytes; real API secrets are longer.
secrets_text = st.text(
    alphabet=string.ascii_letters + string.digits + "-_", min_size=32, max_size=64
)
bodies = st.binary(max_size=2048)
names = st.text(alphabet=string.ascii_letters + string.digits + "._", min_size=1, max_size=20)
values = st.text(max_size=80).filter(lambda v: "\x00" not in v)
params_lists = st.lists(st.tuples(names, values), max_size=12)
hosts = st.sampled_from(
    ["mod.example.com", "mod.example.com:8443", "127.0.0.1:8080", "example.org:443"]
)
paths = st.text(alphabet=string.ascii_letters + string.digits + "/-_", max_size=30)
queries = st.one_of(st.just(""), st.dictionaries(names, values, max_size=3).map(urlencode))
schemes = st.sampled_from(["https", "http"])


@st.composite
def urls(draw: st.DrawFn) -> str:
    query = draw(queries)
    return f"{draw(schemes)}://{draw(hosts)}/{draw(paths)}" + (f"?{query}" if query else "")


def sdk_params(params: list[tuple[str, str]]) -> dict[str, str]:
    """The SDK takes a dict (one value per name): the lists its tests use."""
    return dict(params)


# -- Stream ---------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(secret=secrets_text, body=bodies)
def test_stream_sdk_accepts_our_signature(secret: str, body: bytes) -> None:
    client = StreamChat(api_key="key", api_secret=secret)
    assert client.verify_webhook(body, sign_stream(secret.encode(), body))


@settings(max_examples=200, deadline=None)
@given(
    secret=secrets_text,
    body=bodies,
    header=st.one_of(st.text(alphabet="0123456789abcdef", min_size=64, max_size=64), st.text()),
)
def test_stream_we_agree_with_the_sdk_on_any_header(secret: str, body: bytes, header: str) -> None:
    client = StreamChat(api_key="key", api_secret=secret)
    theirs = client.verify_webhook(body, header)
    ours = verify_stream(body, header, Secrets((secret.encode(),))) == "ok"
    assert ours == theirs


@settings(max_examples=100, deadline=None)
@given(secret=secrets_text, other=secrets_text, body=bodies)
def test_stream_rotation_accepts_each_secret(secret: str, other: str, body: bytes) -> None:
    both = Secrets((other.encode(), secret.encode()))
    assert verify_stream(body, sign_stream(secret.encode(), body), both) == "ok"
    assert verify_stream(body, sign_stream(other.encode(), body), both) == "ok"


@pytest.mark.parametrize(
    ("header", "outcome"),
    [(None, "missing"), ("", "malformed"), ("g" * 64, "malformed"), ("ab " * 21 + "a", "malformed"),
     ("0" * 64, "mismatch")],
)  # fmt: skip
def test_stream_outcomes(header: str | None, outcome: str) -> None:
    assert verify_stream(b"{}", header, Secrets((b"k" * 32,))) == outcome


# -- Twilio ---------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(token=secrets_text, url=urls(), params=params_lists)
def test_twilio_sdk_signature_verifies_with_ours(
    token: str, url: str, params: list[tuple[str, str]]
) -> None:
    mapping = sdk_params(params)
    signature = RequestValidator(token).compute_signature(url, mapping)
    assert verify_twilio(url, list(mapping.items()), signature, Secrets((token.encode(),))) == "ok"


@settings(max_examples=200, deadline=None)
@given(token=secrets_text, url=urls(), params=params_lists)
def test_twilio_sdk_validates_our_signature(
    token: str, url: str, params: list[tuple[str, str]]
) -> None:
    mapping = sdk_params(params)
    signature = sign_twilio(token.encode(), url, list(mapping.items()))
    assert RequestValidator(token).validate(url, mapping, signature)


@settings(max_examples=200, deadline=None)
@given(
    token=secrets_text,
    url=urls(),
    params=params_lists,
    signature=st.one_of(st.text(max_size=40), st.binary(min_size=20, max_size=20).map(
        lambda raw: __import__("base64").b64encode(raw).decode()
    )),
)  # fmt: skip
def test_twilio_we_agree_with_the_sdk_on_any_header(
    token: str, url: str, params: list[tuple[str, str]], signature: str
) -> None:
    mapping = sdk_params(params)
    theirs = RequestValidator(token).validate(url, mapping, signature)
    ours = verify_twilio(url, list(mapping.items()), signature, Secrets((token.encode(),))) == "ok"
    assert ours == theirs


@settings(max_examples=100, deadline=None)
@given(token=secrets_text, url=urls(), params=params_lists)
def test_twilio_signature_binds_the_url(
    token: str, url: str, params: list[tuple[str, str]]
) -> None:
    signature = sign_twilio(token.encode(), url, params)
    moved = url.replace("://", "://evil.", 1)
    assert verify_twilio(moved, params, signature, Secrets((token.encode(),))) == "mismatch"


def test_twilio_documented_example() -> None:
    """The example of Twilio's security guide as the SDK's tests use it: the SDK's own
    signature of it verifies with ours."""
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    token = "12345"
    signature = RequestValidator(token).compute_signature(url, params)
    assert signature == sign_twilio(token.encode(), url, list(params.items()))
    assert verify_twilio(url, list(params.items()), signature, Secrets((b"12345",))) == "ok"


def test_twilio_repeated_names_sign_each_distinct_value_sorted() -> None:
    """What the SDK does for a name given several times (a MultiDict's getall)."""

    class Multi(dict[str, str]):
        def getall(self, name: str) -> list[str]:
            return {"Media": ["b", "a", "b"]}.get(name, [self[name]])

    mapping = Multi({"Media": "b", "Body": "x"})
    signature = RequestValidator("t").compute_signature("https://h/p", mapping)
    params = [("Media", "b"), ("Body", "x"), ("Media", "a"), ("Media", "b")]
    assert verify_twilio("https://h/p", params, signature, Secrets((b"t",))) == "ok"


@pytest.mark.parametrize(
    ("url", "variants"),
    [
        ("https://h/p", ("https://h/p", "https://h:443/p")),
        ("https://h:443/p?q=1", ("https://h:443/p?q=1", "https://h/p?q=1")),
        ("http://h:8080/p", ("http://h:8080/p",)),
        ("not a url", ("not a url",)),
    ],
)
def test_url_variants(url: str, variants: tuple[str, ...]) -> None:
    assert url_variants(url) == variants


@pytest.mark.parametrize(
    ("header", "outcome"),
    [(None, "missing"), ("***", "malformed"), ("QUJD", "malformed"), ("A" * 200, "malformed"),
     ("AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "mismatch")],
)  # fmt: skip
def test_twilio_outcomes(header: str | None, outcome: str) -> None:
    assert verify_twilio("https://h/p", [], header, Secrets((b"t",))) == outcome


@pytest.mark.parametrize("token", ["t", "x" * 64, "y" * 65, "z" * 200])
def test_twilio_tokens_of_any_length_sign_as_the_sdk(token: str) -> None:
    """Keys longer than SHA-1's block are hashed first (RFC 2104), as ``hmac`` does."""
    params = {"EventType": "onMessageAdd", "Body": "hi"}
    url = "https://mod.example.com/hooks/twilio"
    signature = RequestValidator(token).compute_signature(url, params)
    assert sign_twilio(token.encode(), url, list(params.items())) == signature
