"""receiver/profanity/normalize.py: each character normalized on its own, so that every
output character knows the input character it came from."""

from __future__ import annotations

import pytest

from receiver.profanity import normalize
from receiver.profanity.normalize import normalize_char, normalize_with_origins


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello World", "hello world"),
        ("ＦＵＬＬ width", "full width"),  # full-width letters
        ("zero\u200bwidth\u200c\u200d\u2060\ufeff\u00ad", "zerowidth"),  # invisible characters
        ("café naïve façade", "cafe naive facade"),  # diacritics, precomposed
        ("cafe\u0301", "cafe"),  # and combining
        ("раураl", "paypal"),  # Cyrillic look-alikes
        ("ΑΒΕΗΙΚΜΝΟΡΤΧ", "abehikmnoptx"),  # Greek capitals
        ("ανορτ", "avopt"),  # Greek small letters
        ("𝐛𝐨𝐥𝐝 𝑖𝑡𝑎𝑙𝑖𝑐", "bold italic"),  # mathematical letters
        ("ꜱᴍᴀʟʟ ᴄᴀᴘꜱ", "small caps"),
        ("🇫🇷 ⓕ ⒡", "fr f f"),  # regional indicators, circled, parenthesized letters
        ("ﬀ Straße", "ff strasse"),  # ligatures, sharp s
        ("ø ł đ ı", "o l d i"),  # letters with strokes, dotless i
        ("中文 日本語 한국어", "中文 日本語 한국어"),  # other scripts stay
        ("", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_every_normalized_character_knows_its_source() -> None:
    text = "a\u200bｂß\u0301c"
    normalized, origins = normalize_with_origins(text)
    assert normalized == "abssc"
    assert origins == [0, 2, 3, 3, 5]
    assert normalize("x\ud800y") == "x\ud800y"  # lone surrogates pass through


def test_normalize_char_maps_one_character_to_at_most_a_few() -> None:
    assert normalize_char("É") == "e"
    assert normalize_char("\u200b") == ""
    assert normalize_char("ß") == "ss"
