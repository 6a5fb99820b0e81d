"""Webhook signatures (receiver/adapters/signatures.py): HMAC-SHA256 over the raw body.

Unit tests pin the accepted header forms (Base64 in ``x-amity-signature``, hex in
``x-signature``, either encoding in either header, URL-safe Base64, a ``sha256=``
prefix), rotation with several secrets, and the opt-in compact-JSON fallback with its
size limit and budget (a token bucket, driven by a clock the tests move). Property tests
check the round trip for random bodies and secrets, that a changed byte in the body
or a changed digest never verifies, that malformed headers never raise, and that no
representation of the secrets shows a key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import pickle
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from receiver import cli
from receiver.adapters.signatures import (
    MAX_SIGNATURE_TEXT,
    SIGNATURE_HEADERS,
    CompactFallback,
    FallbackSettings,
    Secrets,
    compact_json,
    decode_signature,
    digest,
    sign_base64,
    sign_hex,
    verify,
)
from receiver.http.config import ServiceConfig
from receiver.http.settings import SettingsError
from receiver.http.settings import build as build_settings
from receiver.text import jsoncodec

# As many examples as the Hypothesis profile says (tests/conftest.py), without a deadline.
FAST = settings(deadline=None)

KEY = b"s3cr3t-key-from-social.plus"
BODY = b'{"eventName":"message.shouldCreate","data":{"text":"hi"},"actor":{"userId":"u1"}}'


def unbounded() -> CompactFallback:
    """The compact-JSON fallback without practical bounds: for checking what it accepts."""
    return CompactFallback(jsoncodec.loads, FallbackSettings(max_body=10**9, rate=1e9))


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingParser:
    """jsoncodec.loads, counting its calls: how many fallback attempts really parsed."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, body: bytes) -> Any:
        self.calls += 1
        return jsoncodec.loads(body)


# -- strategies ---------------------------------------------------------------------------------

bodies = st.binary(max_size=2048)
# A secret as configured: text without commas, not blank after stripping (Secrets.parse).
secret_texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters=","),
    min_size=1,
    max_size=64,
).filter(lambda s: s.strip() != "")
keys = secret_texts.map(lambda s: s.strip().encode())
headers_names = st.sampled_from(SIGNATURE_HEADERS)


def encodings(raw: bytes) -> dict[str, str]:
    """Every accepted textual form of a 32-byte digest."""
    std = base64.b64encode(raw).decode()
    url = base64.urlsafe_b64encode(raw).decode()
    return {
        "base64": std,
        "base64-unpadded": std.rstrip("="),
        "urlsafe": url,
        "urlsafe-unpadded": url.rstrip("="),
        "hex": raw.hex(),
        "HEX": raw.hex().upper(),
        "sha256=hex": "sha256=" + raw.hex(),
        "SHA256=base64": "SHA256=" + std,
        "padded-with-spaces": f"  {std}  ",
    }


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(alphabet=string.ascii_letters + "é_ü", max_size=8), inner, max_size=4
        )
    ),
    max_leaves=20,
)

# -- round trip ---------------------------------------------------------------------------------


def test_sign_base64_is_the_base64_hmac_sha256_of_the_raw_body() -> None:
    # RFC 4231 test case 2.
    mac = digest(b"Jefe", b"what do ya want for nothing?")
    assert mac.hex() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert sign_hex(b"Jefe", b"what do ya want for nothing?") == mac.hex()
    assert sign_base64(b"Jefe", b"what do ya want for nothing?") == base64.b64encode(mac).decode()


@pytest.mark.parametrize("header", SIGNATURE_HEADERS)
@pytest.mark.parametrize("form", sorted(encodings(b"\0" * 32)))
def test_every_encoding_is_accepted_in_either_header(header: str, form: str) -> None:
    value = encodings(digest(KEY, BODY))[form]
    result = verify(BODY, {header: value}, Secrets((KEY,)))
    assert result.ok
    assert result.outcome == "ok"
    assert result.method == "raw-body"


def test_either_header_may_carry_the_right_signature_when_the_other_is_wrong() -> None:
    good = sign_base64(KEY, BODY)
    bad = sign_hex(b"other", BODY)
    secrets = Secrets((KEY,))
    assert verify(BODY, {"x-amity-signature": good, "x-signature": bad}, secrets).ok
    assert verify(BODY, {"x-amity-signature": bad, "x-signature": good}, secrets).ok
    assert verify(BODY, {"x-amity-signature": "garbage!", "x-signature": good}, secrets).ok


@FAST
@given(body=bodies, key=keys, header=headers_names, hexed=st.booleans())
def test_round_trip_for_random_bodies_and_secrets(
    body: bytes, key: bytes, header: str, hexed: bool
) -> None:
    value = sign_hex(key, body) if hexed else sign_base64(key, body)
    result = verify(body, {header: value}, Secrets((key,)))
    assert result.ok
    assert result.method == "raw-body"
    # The same with the JSON fallback enabled: raw bytes are tried first.
    assert verify(body, {header: value}, Secrets((key,)), unbounded()).method == "raw-body"


@FAST
@given(body=bodies, text=secret_texts, header=headers_names)
def test_round_trip_through_secrets_parse(body: bytes, text: str, header: str) -> None:
    secrets = Secrets.parse(text)
    assert secrets.keys == (text.strip().encode(),)
    assert verify(body, {header: sign_base64(secrets.keys[0], body)}, secrets).ok


@FAST
@given(body=bodies, key=keys, header=headers_names, form=st.sampled_from(sorted(encodings(b""))))
def test_round_trip_in_every_encoding(body: bytes, key: bytes, header: str, form: str) -> None:
    value = encodings(digest(key, body))[form]
    assert decode_signature(value) == digest(key, body)
    assert verify(body, {header: value}, Secrets((key,))).ok


# -- tampering ----------------------------------------------------------------------------------


@FAST
@given(
    body=bodies.filter(bool),
    key=keys,
    header=headers_names,
    hexed=st.booleans(),
    data=st.data(),
)
def test_any_single_byte_change_to_the_body_fails(
    body: bytes, key: bytes, header: str, hexed: bool, data: st.DataObject
) -> None:
    value = sign_hex(key, body) if hexed else sign_base64(key, body)
    index = data.draw(st.integers(0, len(body) - 1), label="index")
    flip = data.draw(st.integers(1, 255), label="xor")
    changed = bytearray(body)
    changed[index] ^= flip
    tampered = bytes(changed)
    secrets = Secrets((key,))
    assert verify(tampered, {header: value}, secrets).outcome == "mismatch"
    # With the compact-JSON fallback, a changed body can only pass when it is the same
    # JSON value whose compact form is exactly the signed bytes (e.g. 1E+16 for 1e+16).
    with_fallback = verify(tampered, {header: value}, secrets, unbounded())
    if with_fallback.ok:
        assert with_fallback.method == "compact-json"
        assert compact_json(jsoncodec.loads(tampered)) == body


@FAST
@given(body=bodies, key=keys, data=st.data())
def test_any_change_to_the_digest_fails(body: bytes, key: bytes, data: st.DataObject) -> None:
    mac = bytearray(digest(key, body))
    index = data.draw(st.integers(0, 31), label="index")
    mac[index] ^= data.draw(st.integers(1, 255), label="xor")
    secrets = Secrets((key,))
    for value in encodings(bytes(mac)).values():
        for header in SIGNATURE_HEADERS:
            assert verify(body, {header: value}, secrets).outcome == "mismatch"


@FAST
@given(body=bodies, key=keys, header=headers_names, hexed=st.booleans(), data=st.data())
def test_any_single_character_change_to_the_header_fails_unless_it_encodes_the_same_digest(
    body: bytes, key: bytes, header: str, hexed: bool, data: st.DataObject
) -> None:
    """Hex case and the unused low bits of the last Base64 character carry no digest bits;
    every other one-character change must fail (or be malformed)."""
    value = sign_hex(key, body) if hexed else sign_base64(key, body)
    index = data.draw(st.integers(0, len(value) - 1), label="index")
    replacement = data.draw(st.sampled_from(string.printable), label="char")
    assume(replacement != value[index])
    tampered = value[:index] + replacement + value[index + 1 :]
    result = verify(body, {header: tampered}, Secrets((key,)))
    if result.ok:
        assert decode_signature(tampered) == digest(key, body)
    else:
        assert result.outcome in ("mismatch", "malformed")


def test_a_signature_made_with_another_key_fails() -> None:
    value = sign_base64(b"attacker", BODY)
    assert verify(BODY, {"x-amity-signature": value}, Secrets((KEY,))).outcome == "mismatch"


def test_a_signature_of_another_body_fails() -> None:
    value = sign_base64(KEY, BODY + b" ")
    assert verify(BODY, {"x-amity-signature": value}, Secrets((KEY,))).outcome == "mismatch"


# -- rotation -----------------------------------------------------------------------------------


def test_two_comma_separated_secrets_are_both_accepted() -> None:
    secrets = Secrets.parse("new-key, old-key")
    assert secrets.keys == (b"new-key", b"old-key")
    for key in (b"new-key", b"old-key"):
        for header, value in (
            ("x-amity-signature", sign_base64(key, BODY)),
            ("x-signature", sign_hex(key, BODY)),
        ):
            assert verify(BODY, {header: value}, secrets).ok
    third = sign_base64(b"retired-key", BODY)
    assert verify(BODY, {"x-amity-signature": third}, secrets).outcome == "mismatch"


@FAST
@given(body=bodies, first=keys, second=keys, which=st.integers(0, 1))
def test_rotation_accepts_each_configured_key(
    body: bytes, first: bytes, second: bytes, which: int
) -> None:
    secrets = Secrets((first, second))
    key = (first, second)[which]
    assert verify(body, {"x-amity-signature": sign_base64(key, body)}, secrets).ok


def test_secrets_parse_skips_blank_parts_and_rejects_an_empty_secret() -> None:
    assert Secrets.parse(" a ,, b ,").keys == (b"a", b"b")
    assert Secrets.parse("ключ").keys == ("ключ".encode(),)
    for empty in ("", "   ", ",", " , ,"):
        with pytest.raises(ValueError, match="empty"):
            Secrets.parse(empty)


# -- compact-JSON fallback ----------------------------------------------------------------------


def js_stringify(value: Any) -> bytes:
    """What JavaScript's JSON.stringify writes for ordinary values (the platform's guide)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def test_a_signature_over_the_compact_json_is_accepted_as_a_fallback() -> None:
    payload = {"eventName": "message.shouldCreate", "data": {"text": "héllo ✓"}, "actor": {}}
    pretty = json.dumps(payload, indent=2).encode()  # ASCII escapes, spaces, newlines
    value = sign_hex(KEY, js_stringify(payload))
    secrets = Secrets((KEY,))
    result = verify(pretty, {"x-signature": value}, secrets, unbounded())
    assert result.ok
    assert result.method == "compact-json"
    # Without the fallback (the default) it is a mismatch.
    assert verify(pretty, {"x-signature": value}, secrets).outcome == "mismatch"


def test_the_fallback_does_not_accept_a_different_value() -> None:
    payload = {"eventName": "message.shouldCreate", "data": {"text": "a"}}
    value = sign_hex(KEY, js_stringify(payload))
    other = json.dumps({**payload, "data": {"text": "b"}}, indent=1).encode()
    assert verify(other, {"x-signature": value}, Secrets((KEY,)), unbounded()).outcome == (
        "mismatch"
    )


def test_the_fallback_on_a_body_that_is_not_json_is_a_mismatch() -> None:
    value = sign_hex(KEY, b"{}")
    result = verify(b"{not json", {"x-signature": value}, Secrets((KEY,)), unbounded())
    assert result.outcome == "mismatch"


def test_the_fallback_works_with_the_second_secret_too() -> None:
    payload = {"eventName": "post.shouldCreate", "data": {"n": [1, 2.5, None]}}
    value = sign_base64(b"old", js_stringify(payload))
    body = json.dumps(payload).encode()  # Python's default separators add spaces
    result = verify(body, {"x-amity-signature": value}, Secrets.parse("new,old"), unbounded())
    assert result.ok
    assert result.method == "compact-json"


@FAST
@given(
    value=json_values,
    key=keys,
    indent=st.sampled_from([None, 0, 2]),
    ascii_only=st.booleans(),
    header=headers_names,
)
def test_fallback_round_trip_for_random_json(
    value: Any, key: bytes, indent: int | None, ascii_only: bool, header: str
) -> None:
    body = json.dumps(value, indent=indent, ensure_ascii=ascii_only).encode()
    signature = sign_base64(key, js_stringify(value))
    result = verify(body, {header: signature}, Secrets((key,)), unbounded())
    assert result.ok
    assert result.method == ("raw-body" if body == js_stringify(value) else "compact-json")


def pretty_and_compact_signature() -> tuple[bytes, dict[str, str]]:
    payload = {"eventName": "message.shouldCreate", "data": {"text": "hi"}}
    return json.dumps(payload, indent=2).encode(), {
        "x-signature": sign_hex(KEY, js_stringify(payload))
    }


def test_the_fallback_skips_bodies_over_its_size_limit_without_parsing() -> None:
    body, headers = pretty_and_compact_signature()
    parse = CountingParser()
    fallback = CompactFallback(parse, FallbackSettings(max_body=len(body) - 1, rate=100))
    assert verify(body, headers, Secrets((KEY,)), fallback).outcome == "mismatch"
    assert parse.calls == 0
    fallback = CompactFallback(parse, FallbackSettings(max_body=len(body), rate=100))
    assert verify(body, headers, Secrets((KEY,)), fallback).method == "compact-json"
    assert parse.calls == 1


def test_the_fallback_budget_refuses_past_its_rate_and_refills_with_time() -> None:
    body, headers = pretty_and_compact_signature()
    forged = {"x-signature": sign_hex(b"attacker", body)}
    parse, clock = CountingParser(), Clock()
    fallback = CompactFallback(parse, FallbackSettings(max_body=1 << 20, rate=2), clock)
    secrets = Secrets((KEY,))
    # two attempts at once (the burst is the rate), forged or not, then none
    assert verify(body, forged, secrets, fallback).outcome == "mismatch"
    assert verify(body, headers, secrets, fallback).method == "compact-json"
    assert verify(body, headers, secrets, fallback).outcome == "over-budget"
    assert verify(body, forged, secrets, fallback).outcome == "over-budget"
    assert parse.calls == 2
    clock.now += 0.49  # not yet one attempt's worth at 2 a second
    assert verify(body, headers, secrets, fallback).outcome == "over-budget"
    clock.now += 0.02
    assert verify(body, headers, secrets, fallback).method == "compact-json"
    assert verify(body, headers, secrets, fallback).outcome == "over-budget"
    clock.now += 3600  # an idle hour refills the bucket to its size only
    outcomes = [verify(body, forged, secrets, fallback).outcome for _ in range(4)]
    assert outcomes == ["mismatch", "mismatch", "over-budget", "over-budget"]
    assert parse.calls == 5


def test_raw_body_matches_never_spend_the_budget() -> None:
    parse, clock = CountingParser(), Clock()
    fallback = CompactFallback(parse, FallbackSettings(max_body=1 << 20, rate=1), clock)
    headers = {"x-amity-signature": sign_base64(KEY, BODY)}
    for _ in range(5):
        assert verify(BODY, headers, Secrets((KEY,)), fallback).method == "raw-body"
    assert parse.calls == 0
    body, compact_signed = pretty_and_compact_signature()
    assert verify(body, compact_signed, Secrets((KEY,)), fallback).method == "compact-json"


def test_a_rate_below_one_still_allows_one_attempt_at_a_time() -> None:
    body, headers = pretty_and_compact_signature()
    clock = Clock()
    fallback = CompactFallback(jsoncodec.loads, FallbackSettings(1 << 20, rate=0.5), clock)
    assert verify(body, headers, Secrets((KEY,)), fallback).ok
    assert verify(body, headers, Secrets((KEY,)), fallback).outcome == "over-budget"
    clock.now += 2
    assert verify(body, headers, Secrets((KEY,)), fallback).ok


@pytest.mark.parametrize(("max_body", "rate"), [(-1, 1.0), (10, 0.0), (10, -5.0)])
def test_the_fallback_refuses_meaningless_bounds(max_body: int, rate: float) -> None:
    with pytest.raises(ValueError, match="fallback"):
        CompactFallback(jsoncodec.loads, FallbackSettings(max_body, rate))


def test_compact_json_matches_json_stringify_for_non_ascii_text() -> None:
    assert compact_json({"a": [1, "é", {"b": None}]}) == '{"a":[1,"é",{"b":null}]}'.encode()


# -- malformed input ----------------------------------------------------------------------------


def test_no_signature_header_is_missing() -> None:
    result = verify(BODY, {"content-type": "application/json"}, Secrets((KEY,)))
    assert result.outcome == "missing"
    assert not result.ok


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "sha256=",
        "not a signature",
        "zz" * 32,  # 64 characters, not hex, not 32 bytes of Base64
        "00" * 31,  # hex, 31 bytes
        "00" * 33,  # hex, 33 bytes
        base64.b64encode(b"\0" * 31).decode(),
        base64.b64encode(b"\0" * 33).decode(),
        "00 " * 20 + "0000",  # 64 characters of spaced hex: 22 bytes, not a digest
        "é" * 44,
        "\x00" * 44,
        "====",
    ],
)
def test_malformed_values_are_reported_as_malformed(value: str) -> None:
    assert decode_signature(value) is None
    assert verify(BODY, {"x-amity-signature": value}, Secrets((KEY,))).outcome == "malformed"


@pytest.mark.parametrize(
    "value",
    [
        " " * (MAX_SIGNATURE_TEXT - 64) + "00" * 32 + " ",  # a digest with too many spaces
        "A" * (MAX_SIGNATURE_TEXT + 1),
        "0" * 10_000_000,  # a 10 MB header value: refused on its length alone
    ],
)
def test_header_values_longer_than_any_digest_form_are_malformed(value: str) -> None:
    assert decode_signature(value) is None
    assert verify(BODY, {"x-signature": value}, Secrets((KEY,))).outcome == "malformed"


def test_the_longest_accepted_value_still_decodes() -> None:
    mac = digest(KEY, BODY)
    value = "sha256=" + mac.hex()
    padded = value.center(MAX_SIGNATURE_TEXT)
    assert len(padded) == MAX_SIGNATURE_TEXT
    assert verify(BODY, {"x-signature": padded}, Secrets((KEY,))).ok


@FAST
@given(amity=st.none() | st.text(max_size=100), plain=st.none() | st.text(max_size=100))
def test_arbitrary_header_values_never_raise(amity: str | None, plain: str | None) -> None:
    headers = {
        name: value
        for name, value in (("x-amity-signature", amity), ("x-signature", plain))
        if value is not None
    }
    result = verify(BODY, headers, Secrets((KEY,)), unbounded())
    if not headers:
        assert result.outcome == "missing"
    else:
        assert result.outcome in ("malformed", "mismatch")


@FAST
@given(value=st.text(max_size=120))
def test_decode_signature_gives_32_bytes_or_none(value: str) -> None:
    decoded = decode_signature(value)
    assert decoded is None or len(decoded) == 32


@FAST
@given(raw=st.binary(min_size=32, max_size=32), spaces=st.text(alphabet=" \t", max_size=3))
def test_decode_signature_reads_hex_and_base64(raw: bytes, spaces: str) -> None:
    for value in encodings(raw).values():
        assert decode_signature(spaces + value + spaces) == raw


@FAST
@given(body=bodies)
def test_arbitrary_bodies_with_a_json_parser_never_raise(body: bytes) -> None:
    value = sign_base64(KEY, b"something else")
    result = verify(body, {"x-signature": value}, Secrets((KEY,)), unbounded())
    assert result.outcome == "mismatch"


# -- secrets never shown ------------------------------------------------------------------------


@FAST
@given(
    texts=st.lists(
        st.binary(min_size=8, max_size=20).map(lambda raw: f"key-{raw.hex()}"),
        min_size=1,
        max_size=3,
    )
)
def test_repr_of_secrets_never_shows_a_key(texts: list[str]) -> None:
    secrets = Secrets.parse(",".join(texts))
    config = ServiceConfig(secrets=secrets)
    shown = [repr(secrets), str(secrets), f"{secrets}", f"{secrets!r}", repr(config), str(config)]
    for text in texts:
        for rendered in shown:
            assert text not in rendered
    assert repr(secrets) == f"Secrets(<{len(texts)} key{'s' if len(texts) > 1 else ''}>)"


def test_repr_of_secrets_counts_keys() -> None:
    assert repr(Secrets.parse("only-one-key-here")) == "Secrets(<1 key>)"
    assert repr(Secrets.parse("new-key-1234,old-key-5678")) == "Secrets(<2 keys>)"


def _decode_reference(value: str) -> bytes | None:
    """decode_signature before its Base64 shortcut: every value through b64decode."""
    value = value.strip()
    if value.lower().startswith("sha256="):
        value = value[7:]
    if len(value) == 64:
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            pass
        else:
            return raw if len(raw) == 32 else None
    try:
        raw = base64.b64decode(
            value + "=" * (-len(value) % 4),
            altchars=b"-_" if ("-" in value or "_" in value) else None,
            validate=True,
        )
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None


@given(
    st.one_of(
        st.binary(min_size=32, max_size=32).map(lambda d: base64.b64encode(d).decode()),
        st.binary(min_size=32, max_size=32).map(lambda d: base64.urlsafe_b64encode(d).decode()),
        st.text(alphabet=st.sampled_from(list("AZaz09+/=-_ \té")), min_size=40, max_size=48),
    ),
    st.data(),
)
def test_decode_signature_agrees_with_plain_b64decode(value: str, data: st.DataObject) -> None:
    if value and data.draw(st.booleans()):
        at = data.draw(st.integers(0, len(value) - 1))
        value = value[:at] + data.draw(st.sampled_from(list("A=+/-_ é\n"))) + value[at + 1 :]
    assert decode_signature(value) == _decode_reference(value)


@given(st.lists(st.binary(max_size=200), min_size=1, max_size=3), st.binary(max_size=2000))
def test_digests_agree_with_the_standard_librarys_hmac(keys: list[bytes], body: bytes) -> None:
    # keys longer than SHA-256's 64-byte block are hashed first; shorter ones padded
    expected = [hmac.new(key, body, hashlib.sha256).digest() for key in keys]
    assert Secrets(tuple(keys)).digests(body) == expected


@pytest.mark.parametrize("size", [0, 1, 32, 63, 64, 65, 100, 128, 129])
def test_digests_agree_with_hmac_around_the_block_size(size: int) -> None:
    key = bytes(range(size))
    body = b'{"eventName":"message.shouldCreate"}'
    assert Secrets((key,)).digests(body) == [hmac.new(key, body, hashlib.sha256).digest()]


# -- settings: --signature-fallback and its bounds -------------------------------------------


def serve_flags(argv: list[str]) -> dict[str, Any]:
    """The flags ``receiver serve ARGV`` gives the settings (as cmd_serve passes them)."""
    args = cli._parser().parse_args(["serve", *argv])
    return {k: v for k, v in vars(args).items() if k != "command"}


def test_the_fallback_is_off_unless_asked_for() -> None:
    assert build_settings(serve_flags([])).signature_fallback is None
    assert build_settings(serve_flags(["--signature-fallback", "off"])).signature_fallback is None
    assert ServiceConfig().signature_fallback is None


def test_the_fallback_flags_set_its_bounds() -> None:
    config = build_settings(serve_flags(["--signature-fallback", "compact-json"]))
    assert config.signature_fallback == FallbackSettings(64 * 1024, 10.0)
    flags = ["--signature-fallback", "compact-json", "--signature-fallback-max-body", "4096"]
    flags += ["--signature-fallback-rate", "2.5"]
    assert build_settings(serve_flags(flags)).signature_fallback == FallbackSettings(4096, 2.5)


def test_the_config_file_sets_the_fallback_and_flags_win(tmp_path: Path) -> None:
    config_file = tmp_path / "receiver.yaml"
    config_file.write_text(
        "signature_fallback: compact-json\nsignature_fallback_max_body: 1000\n"
        "signature_fallback_rate: 3\n"
    )
    config = build_settings({"config": config_file})
    assert config.signature_fallback == FallbackSettings(1000, 3)
    flags = {"config": config_file, "signature_fallback": "off"}
    assert build_settings(flags).signature_fallback is None


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"signature_fallback": "always"}, "signature_fallback must be off or compact-json"),
        ({"signature_fallback": "compact-json", "signature_fallback_rate": 0}, "rate must be"),
        ({"signature_fallback_max_body": -1}, "signature-fallback-max-body must be positive"),
    ],
)
def test_bad_fallback_settings_are_errors(values: dict[str, Any], says: str) -> None:
    with pytest.raises(SettingsError, match=says):
        build_settings(values)


def test_the_fallback_settings_survive_pickling_to_workers() -> None:
    settings = FallbackSettings(1234, 7.5)
    assert pickle.loads(pickle.dumps(settings)) == settings


# -- pickling (how --workers N hands the settings to each spawned worker) ---------------------


@given(
    text=st.text(alphabet=string.printable + "é€", min_size=1).filter(
        lambda t: any(part.strip() for part in t.split(","))
    )
)
@FAST
def test_pickled_secrets_sign_the_same_as_the_original(text: str) -> None:
    secrets = Secrets.parse(text)
    copy = pickle.loads(pickle.dumps(secrets))
    assert copy.keys == secrets.keys
    assert copy.digests(b'{"a":1}') == secrets.digests(b'{"a":1}')
    assert repr(copy) == repr(secrets)


def test_a_pickled_secret_carries_only_the_keys() -> None:
    # hashlib states cannot be pickled: the copy rebuilds them from the keys.
    secrets = Secrets((KEY, b"old-key"))
    assert secrets.__reduce__() == (Secrets, ((KEY, b"old-key"),))
    body = b'{"eventName":"message.shouldCreate","data":{}}'
    copy = pickle.loads(pickle.dumps(secrets))
    headers = {"x-amity-signature": sign_base64(b"old-key", body)}
    assert verify(body, headers, copy).ok
