"""Tests for receiver.dsl.links: the URLs in a text (urls) and the host of one (domain)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.dsl import links
from receiver.dsl.links import COMMON_TLDS, domain, urls

# Text that may contain lone surrogates, as json.loads can produce from "\ud800".
texts_with_surrogates = st.text(
    alphabet=st.one_of(st.characters(), st.characters(categories=["Cs"])),
)
# Text dense in URL-ish characters, so the URL scanner's branches get exercised.
url_ish_texts = st.text(
    alphabet=st.sampled_from(list("abwhtps.:/@-_ ()[]'\"!?,<>\\#%é日\u00a0\u200b\ud800")),
)
# A host whose last label is a common TLD.
hosts = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(
        st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True),
        min_size=1,
        max_size=16,
    ),
    st.sampled_from(sorted(COMMON_TLDS)),
).filter(lambda host: len(host) <= 253)  # a longer name is not a domain (RFC 1035)


# ----------------------------------------------------------------------------- urls


def test_urls_finds_http_and_https_urls_with_any_case_scheme() -> None:
    assert urls("go to http://a.com/x or HTTPS://B.org/y") == ["http://a.com/x", "HTTPS://B.org/y"]


def test_urls_finds_www_hosts_whatever_their_tld() -> None:
    assert urls("try www.example.foo/page and WWW.Example.com") == [
        "www.example.foo/page",
        "WWW.Example.com",
    ]


def test_urls_finds_bare_domains_with_common_tlds() -> None:
    assert urls("click bit.ly/abc or example.com now") == ["bit.ly/abc", "example.com"]


def test_urls_keeps_port_path_query_and_fragment() -> None:
    assert urls("see example.com:8080/a/b?c=d&e=f#g and https://x.io:443/p?q#r") == [
        "example.com:8080/a/b?c=d&e=f#g",
        "https://x.io:443/p?q#r",
    ]


def test_urls_returns_urls_in_order_of_appearance() -> None:
    assert urls("c.com then https://b.com then www.a.net") == [
        "c.com",
        "https://b.com",
        "www.a.net",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "http://a.com/x.",
        "http://a.com/x,",
        "http://a.com/x;",
        "http://a.com/x:",
        "http://a.com/x!",
        "http://a.com/x?",
        "(http://a.com/x)",
        "[http://a.com/x]",
        "{http://a.com/x}",
        "'http://a.com/x'",
        '"http://a.com/x"',
        "<http://a.com/x>",
        "http://a.com/x?!).",
    ],
)
def test_urls_strips_trailing_punctuation(text: str) -> None:
    assert urls(text) == ["http://a.com/x"]


def test_urls_strips_trailing_punctuation_from_bare_domains() -> None:
    assert urls("Visit example.com. Or bit.ly/abc!") == ["example.com", "bit.ly/abc"]


def test_urls_keeps_closing_parenthesis_that_balances_an_opening_one() -> None:
    text = "(see https://en.wikipedia.org/wiki/Foo_(bar))."
    assert urls(text) == ["https://en.wikipedia.org/wiki/Foo_(bar)"]


def test_urls_drops_a_markdown_links_closing_parenthesis() -> None:
    assert urls("[docs](http://x.com/docs)") == ["http://x.com/docs"]


@pytest.mark.parametrize(
    "text",
    [
        "e.g. this",
        "i.e. that",
        "open file.txt please",
        "version 1.2.3",
        "pi is 3.14",
        "www.google is not a url",
        "example.community",
        "http://",
        "http://.",
        "no links here",
    ],
)
def test_urls_ignores_text_that_is_not_a_url(text: str) -> None:
    assert urls(text) == []


@pytest.mark.parametrize(
    "text",
    ["mail a@b.com", "first.me@x.com", "user@www.evil.com", "ping @example.com"],
)
def test_urls_does_not_report_email_domains(text: str) -> None:
    assert urls(text) == []


def test_urls_still_finds_url_next_to_an_email_address() -> None:
    assert urls("a@b.com,bit.ly/x") == ["bit.ly/x"]


def test_urls_accepts_internationalised_hosts() -> None:
    assert urls("https://пример.рф/путь и www.пример.рф и café.com") == [
        "https://пример.рф/путь",
        "www.пример.рф",
        "café.com",
    ]


def test_urls_matches_tld_case_insensitively() -> None:
    assert urls("EXAMPLE.COM and Bit.Ly/X") == ["EXAMPLE.COM", "Bit.Ly/X"]


def test_urls_end_at_unicode_whitespace_and_invisible_characters() -> None:
    assert urls("http://a.com/x\u00a0y http://b.com/z\u200bw http://c.com/\u3000") == [
        "http://a.com/x",
        "http://b.com/z",
        "http://c.com/",
    ]


def test_urls_rejected_candidate_does_not_hide_a_following_url() -> None:
    assert urls("notes.txt/https://evil.com") == ["https://evil.com"]


def test_urls_path_of_accepted_url_is_not_rescanned() -> None:
    assert urls("bit.ly/example.com") == ["bit.ly/example.com"]


def test_urls_bare_domain_keeps_possessive_outside() -> None:
    assert urls("example.com's rules") == ["example.com"]


def test_urls_tolerates_lone_surrogates_and_returns_substrings() -> None:
    text = "a\ud800 http://x.com/\ud800y bit.ly/\udfff"
    assert urls(text) == ["http://x.com/\ud800y", "bit.ly/\udfff"]


# Texts made of what decides the prefilter: dots, digits, whitespace, "www" in any case,
# TLD pieces, the Kelvin sign (it lower-cases to "k": "example.\u212ae" is a .ke host).
PREFILTER_PIECES = [
    ".", "..", "0", "1", " ", "\u00a0", "\n", "w", "W", "www", "WwW", "x", "co", "m", "com",
    "ly", "\u212a", "e", "_", "-", "é", "/", ":", "@", "a",
]  # fmt: skip
prefilter_texts = st.lists(st.sampled_from(PREFILTER_PIECES), max_size=14).map("".join)


@given(st.one_of(prefilter_texts, url_ish_texts, texts_with_surrogates))
def test_urls_prefilter_never_hides_a_url(text: str) -> None:
    links._last_scan[0] = ("", ())
    assert urls(text) == links._scan_urls(text)


def test_urls_prefilter_skips_texts_without_a_possible_host() -> None:
    for text in ("send 0.1 BTC", "wait... ok", "Thanks. See you", "v2.0 is out"):
        assert links._MAYBE_HOST.search(text) is None
    for text in ("example.\u212ae", "www.1.2", "WWW.x", "a.b"):
        assert links._MAYBE_HOST.search(text) is not None
    assert urls("example.\u212ae and www.1.2") == ["example.\u212ae", "www.1.2"]


def test_common_tlds_is_a_compact_lowercase_set() -> None:
    assert isinstance(COMMON_TLDS, frozenset)
    assert 70 <= len(COMMON_TLDS) <= 120
    assert {"com", "ly", "io", "xyz", "uk", "loan"} <= COMMON_TLDS
    assert all(tld.isascii() and tld.islower() and tld.isalpha() for tld in COMMON_TLDS)
    assert "txt" not in COMMON_TLDS


@given(texts_with_surrogates)
def test_urls_never_raises_and_returns_substrings(text: str) -> None:
    assert all(url and url in text for url in urls(text))


@given(url_ish_texts)
def test_urls_on_url_dense_text_returns_substrings(text: str) -> None:
    assert all(url and url in text for url in urls(text))


@given(st.one_of(texts_with_surrogates, url_ish_texts))
def test_urls_quick_rejection_agrees_with_the_full_scan(text: str) -> None:
    # urls() skips the RE2 scan for texts without "://" and without a "." followed by a
    # non-space; the scan must find nothing in those.
    assert urls(text) == links._scan_urls(text)


@given(hosts, st.sampled_from(["", "/", "/path", "/a?b=c"]), st.sampled_from(["", ".", "!", ")"]))
def test_urls_finds_generated_bare_domain_in_a_sentence(host: str, path: str, end: str) -> None:
    assert urls(f"see {host}{path}{end} now") == [host + path]
    without_www = host.removeprefix("www.")
    assert domain(host + path) == (without_www if "." in without_www else host)


# --------------------------------------------------------------------------- domain


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://WWW.Bit.ly:443/x?y", "bit.ly"),
        ("bit.ly/abc", "bit.ly"),
        ("example.com", "example.com"),
        ("http://sub.Example.co.uk/path", "sub.example.co.uk"),
        ("http://user:pw@evil.com./", "evil.com"),
        ("ftp://files.example.org/x", "files.example.org"),
        ("//cdn.example.net/lib.js", "cdn.example.net"),
        ("example.com:8080", "example.com"),
        ("example.com#frag", "example.com"),
        ("example.com?q=1", "example.com"),
        ("  example.com\n", "example.com"),
        ("localhost", "localhost"),
        ("http://LOCALHOST:8000/", "localhost"),
        ("http://192.168.0.1/admin", "192.168.0.1"),
        ("www.пример.рф/путь", "пример.рф"),
    ],
)
def test_domain_extracts_the_lowercased_host(url: str, expected: str) -> None:
    assert domain(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "not a url",
        "http://exa mple.com",
        "foo",
        "http://intranet/",
        "a..b",
        ".com",
        "example.com:abc",
        "example.com:123456",
        "ex%61mple.com",
        "http://",
        "evil.com\u200b",
        "a\ud800.com",
        "x" * 250 + ".com",
    ],
)
def test_domain_returns_none_when_there_is_no_valid_host(url: str) -> None:
    assert domain(url) is None


def test_domain_removes_only_one_leading_www() -> None:
    assert domain("www.www.example.com") == "www.example.com"


def test_domain_keeps_www_when_nothing_with_a_dot_would_remain() -> None:
    assert domain("www.com") == "www.com"


def test_domain_takes_the_host_after_the_last_at_sign() -> None:
    assert domain("http://good.com@evil.com/") == "evil.com"


def test_domain_treats_backslash_as_path_separator_like_browsers() -> None:
    assert domain("http://evil.com\\@good.com/") == "evil.com"


def test_domain_ignores_scheme_separator_inside_the_query() -> None:
    assert domain("bit.ly/r?to=http://evil.com") == "bit.ly"


def test_domain_returns_ipv6_literal_without_brackets() -> None:
    assert domain("http://[::1]:8080/x") == "::1"
    assert domain("[2001:DB8::1]") == "2001:db8::1"
    assert domain("[::1]8080") is None


@given(texts_with_surrogates)
def test_domain_never_raises(text: str) -> None:
    result = domain(text)
    assert result is None or (result and not any(c.isspace() for c in result))


@given(url_ish_texts)
def test_domain_never_raises_on_url_dense_text(text: str) -> None:
    domain(text)


def test_urls_of_the_same_text_object_are_scanned_once() -> None:
    # The cache is observed through its one entry (links._last_scan), not by wrapping
    # the scanner: where links is compiled (mypyc), its calls bypass module attributes.
    text = "see example.com/a and https://x.org"
    first = urls(text)
    first.append("changed by the caller")
    assert urls(text) == ["example.com/a", "https://x.org"]
    assert links._last_scan[0] == (text, ("example.com/a", "https://x.org"))
    links._last_scan[0] = (text, ("answered from the cache",))
    assert urls(text) == ["answered from the cache"]  # the same str object: no new scan
    equal_but_other = "".join(["see example.com/a", " and https://x.org"])
    assert urls(equal_but_other) == ["example.com/a", "https://x.org"]  # scanned
    assert links._last_scan[0][0] is equal_but_other
    assert urls("other.net") == ["other.net"]


@pytest.mark.parametrize("text", ["0.0://", "see 0.0://.", "x://", "a://b"])
def test_a_scheme_separator_that_trailing_punctuation_strips_is_no_url(text: str) -> None:
    """Found by hypothesis: the candidate ``0.0://`` loses ``://`` as trailing punctuation,
    and the scan then looked for it in what was left (a ValueError out of a rule)."""
    links._last_scan[0] = ("", ())
    found = urls(text)
    assert all("://" in url and len(url) > url.index("://") + 3 for url in found)
