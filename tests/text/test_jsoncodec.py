"""receiver.text.jsoncodec against the standard library: the same values, and its own refusals.

Every refusal (not UTF-8, NaN and Infinity, numbers beyond a double, integers over
4,300 digits, nesting past the depth limit) is a JSONError with a message saying why,
whichever of the two parsers read the body.
"""

from __future__ import annotations

import json
import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.text import jsoncodec

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def same(a: object, b: object) -> bool:
    """Equal with the same types all the way down (1 == 1.0 == True would hide a bug)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        assert isinstance(b, float)
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list):
        assert isinstance(b, list)
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


@given(values, st.booleans())
def test_loads_agrees_with_the_standard_library(value: object, ascii_only: bool) -> None:
    body = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    assert same(jsoncodec.loads(body), json.loads(body))


@pytest.mark.parametrize(
    "digits",
    ["18446744073709551616", "-9223372036854775809", "123456789012345678901234567890"],
)
def test_integers_beyond_64_bits_stay_exact(digits: str) -> None:
    body = f'{{"n": {digits}, "t": "x"}}'.encode()
    parsed = jsoncodec.loads(body)
    assert parsed["n"] == int(digits)
    assert type(parsed["n"]) is int


@given(
    st.integers(min_value=-(2**80), max_value=2**80), st.text(alphabet="0123456789 ,", max_size=40)
)
def test_digit_runs_around_integers(number: int, noise: str) -> None:
    """Digit runs in strings next to numbers do not change which parser is right."""
    body = json.dumps({"noise": noise, "n": number, "list": [number, noise]}).encode()
    assert same(jsoncodec.loads(body), json.loads(body))


def test_a_lone_surrogate_escape_is_read_as_the_standard_library_does() -> None:
    body = b'{"text": "a\\ud800b"}'
    assert jsoncodec.loads(body) == {"text": "a\ud800b"}


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"{not json", "invalid JSON at line 1, column 2"),
        (b"", "invalid JSON at line 1, column 1"),
        (b'{"a": "\xff"}', "not UTF-8"),
        ('{"a": "é"}'.encode("utf-16"), "not UTF-8"),  # the standard library would read it
        ('{"a": "é"}'.encode("utf-32-le"), "not UTF-8"),
        (b'\xef\xbb\xbf{"a": 1}', "byte-order mark"),
        (b"[" * 100_000, "nested too deeply"),
        (b"[" * 129 + b"]" * 129, "nested too deeply (the limit is 128 levels)"),
        (b'{"a":' * 129 + b"1" + b"}" * 129, "nested too deeply"),
        (b'{"n": ' + b"9" * 4301 + b"}", "an integer has more than 4300 digits"),
        (b'{"t": "' + b"1" * 40 + b'", "n": -' + b"1" * 5000 + b"}", "more than 4300 digits"),
        (b'{"n": NaN}', "NaN is not a JSON number"),
        (b'{"n": Infinity}', "Infinity is not a JSON number"),
        (b"[-Infinity]", "-Infinity is not a JSON number"),
        (b'{"n": 1e999}', "beyond the range of a double"),
        (b'{"n": -1e400, "m": 12345678901234567890}', "beyond the range of a double"),
    ],
)
def test_invalid_bodies_raise_a_json_error_saying_why(body: bytes, says: str) -> None:
    with pytest.raises(jsoncodec.JSONError, match=re.escape(says)):
        jsoncodec.loads(body)


def nested(depth: int, leaf: object = 1) -> object:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


@pytest.mark.parametrize("depth", [1, 2, 64, 127, 128])
def test_documents_up_to_the_depth_limit_are_read(depth: int) -> None:
    for long_run in (False, True):  # orjson's reading and the standard library's
        value = nested(depth, 2**70 if long_run else 1)
        body = json.dumps(value).encode()
        assert same(jsoncodec.loads(body), value)


def nested_bytes(depth: int, leaf: bytes) -> bytes:
    """``nested(depth, leaf)`` written directly (json.dumps has its own recursion limit)."""
    opens = b"".join(b"[" if level % 2 else b'{"k":' for level in range(depth - 1, -1, -1))
    closes = b"".join(b"]" if level % 2 else b"}" for level in range(depth))
    return opens + leaf + closes


def test_nested_bytes_writes_what_json_dumps_writes() -> None:
    assert nested_bytes(5, b"1") == json.dumps(nested(5), separators=(",", ":")).encode()


@pytest.mark.parametrize("depth", [129, 500, 1023, 1500, 50_000])
def test_documents_beyond_the_depth_limit_are_refused_by_either_parser(depth: int) -> None:
    for leaf in (b"1", str(2**70).encode()):
        with pytest.raises(jsoncodec.JSONError, match="nested too deeply"):
            jsoncodec.loads(nested_bytes(depth, leaf))


def test_many_brackets_that_do_not_nest_are_read() -> None:
    value = {"items": [[{"a": [i]}] for i in range(500)], "text": "[[[[{{{{" * 50}
    assert jsoncodec.loads(json.dumps(value).encode()) == value


def test_duplicate_keys_keep_the_last_value_as_javascript_does() -> None:
    assert jsoncodec.loads(b'{"a": 1, "a": 2}') == {"a": 2}
    assert jsoncodec.loads(b'{"a": 1, "a": 12345678901234567890}') == {"a": 12345678901234567890}


json_like = st.one_of(
    st.binary(max_size=300),
    st.text(alphabet='[]{}",:0123456789.eE+- \nNaInfityrulsu\\', max_size=300).map(str.encode),
    values.map(lambda v: json.dumps(v).encode("utf-8", "surrogatepass")),
)


@given(json_like)
def test_loads_either_reads_json_or_raises_json_error(body: bytes) -> None:
    """Whatever the bytes, the only exception is JSONError (a 400 at the edge)."""
    try:
        value = jsoncodec.loads(body)
    except jsoncodec.JSONError as err:
        assert str(err)
    else:
        assert same(value, json.loads(body))


def test_dumps_falls_back_for_lone_surrogates_and_big_integers() -> None:
    assert json.loads(jsoncodec.dumps({"t": "a\ud800", "n": 2**70})) == {"t": "a\ud800", "n": 2**70}


def test_a_control_character_s_error_does_not_end_in_a_dangling_at() -> None:
    # The standard library's message is "Invalid control character at", the position after.
    with pytest.raises(jsoncodec.JSONError) as caught:
        jsoncodec.loads(b'{"a": "\n"}')
    assert str(caught.value) == "invalid JSON at line 1, column 8: Invalid control character"
    assert (caught.value.column, caught.value.reason) == (8, "Invalid control character")
