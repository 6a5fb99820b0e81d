"""receiver.jsoncodec against the standard library: the same values, the same refusals."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receiver import jsoncodec

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


@settings(max_examples=400)
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
        (b'{"a": "\xff"}', "not UTF-8"),
        (b"[" * 100_000, "nested too deeply"),
    ],
)
def test_invalid_bodies_raise_a_json_error_saying_where(body: bytes, says: str) -> None:
    with pytest.raises(jsoncodec.JSONError, match=says):
        jsoncodec.loads(body)


def test_dumps_falls_back_for_lone_surrogates_and_big_integers() -> None:
    assert json.loads(jsoncodec.dumps({"t": "a\ud800", "n": 2**70})) == {"t": "a\ud800", "n": 2**70}
