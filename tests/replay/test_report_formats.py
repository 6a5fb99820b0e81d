"""The reports hold user content safely: HTML escapes every text, Markdown keeps it inside
code blocks it cannot close; and the HTML report opens in a real browser with its chart.

User text reaches the reports through the samples (the event's data, and a deny message
that quotes it), so the properties below replay events with arbitrary text through a
policy whose NEW side quotes the text in its message, and render every format.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from receiver.observe.records import Record
from receiver.replay.compare import MEASURES, Comparison, compare
from receiver.replay.report import baseline_warning, build_report, render_json
from receiver.replay.report_html import CHAR_WIDTH, COLOURS, RULE_RIGHT, _chart, render_html
from receiver.replay.report_markdown import COMMENT_LIMIT, render_markdown
from receiver.replay.report_text import render_text
from receiver.replay.samples import explain_new
from receiver.replay.sources import SourceInfo
from receiver.runtime.payload import Event
from receiver.runtime.policyset import PolicySet, load_policies

HERE = Path(__file__).resolve().parent
GOLDEN_HTML = HERE.parent / "golden" / "diff" / "report.html"
OLD = """\
policy: p
rules:
  - id: never
    events: message.shouldCreate
    when: false
    action: deny
"""
NEW = """\
policy: p
rules:
  - id: quote
    events: message.shouldCreate
    when: len(text) > 0
    action: deny
    message: "You wrote {text}"
"""  # fmt: skip
HOSTILE = [
    "<script>alert('x')</script>",
    "</pre><img src=x onerror=alert(1)>",
    "```\n</details>\n| a | b |\n```",
    "`` ` `` <!-- x --> &amp; &lt;",
    "]]><svg onload=alert(1)>",
]


@pytest.fixture(scope="module")
def sides(tmp_path_factory: pytest.TempPathFactory) -> tuple[PolicySet, PolicySet]:
    root = tmp_path_factory.mktemp("policies")
    for name, text in (("old", OLD), ("new", NEW)):
        (root / name).mkdir()
        (root / name / "p.yaml").write_text(text, encoding="utf-8")
    return load_policies([root / "old"]), load_policies([root / "new"])


def messages(
    texts: list[str], actor: str = "", decision: dict[str, Any] | None = None, **fields: Any
) -> list[Record]:
    """One recorded social.plus message per text, a second apart, each from ``actor`` (by
    default a user named as the text) and answered ``decision`` (by default allow)."""
    return [
        Record(f"d{i}", 1000.0 + i, "socialplus",
               Event("message.shouldCreate", {"text": t},
                     {"userId": actor or t, "_id": actor or t}),
               "not-needed", None, decision or {"action": "allow"}, **fields)
        for i, t in enumerate(texts)
    ]  # fmt: skip


def report_for(
    sides: tuple[PolicySet, PolicySet], comparison: Comparison, explained: bool = True
) -> dict[str, Any]:
    """The diff report of two policy directories, its samples explained or not."""
    old, new = sides
    return build_report(
        comparison,
        (SourceInfo("old", "directory"), old),
        (SourceInfo("new", "directory"), new),
        explain=(lambda sample: explain_new(new, sample)) if explained else None,
    )


def report_of(sides: tuple[PolicySet, PolicySet], texts: list[str]) -> dict[str, Any]:
    old, new = sides
    return report_for(sides, compare(old, new, messages(texts), samples=len(texts)))


ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "div",
                "span", "br", "b", "i", "ul", "li", "table", "tr", "th", "td", "code", "pre",
                "details", "summary", "svg", "line", "text", "rect"}  # fmt: skip


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.pre_texts: list[str] = []
        self._in_pre = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)
        self._in_pre = tag == "pre"

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre":
            self._in_pre = False

    def handle_data(self, data: str) -> None:
        if self._in_pre:
            self.pre_texts.append(data)


def check_html(page: str, texts: list[str]) -> None:
    parser = Tags()
    parser.feed(page)
    assert parser.tags <= ALLOWED_TAGS, parser.tags - ALLOWED_TAGS
    assert not {a for a in parser.attributes if a.startswith("on")}
    assert "<script" not in page.lower()
    assert not re.search(r"<[a-z]+[^>]* (?:src|href|on[a-z]+)=", page)  # no live attribute
    shown = "".join(parser.pre_texts)
    for text in texts:
        assert json.dumps(text, ensure_ascii=False)[1:-1] in shown  # as written, in JSON


def fenced_lines(markdown: str) -> set[int]:
    """The numbers of the lines inside fenced code blocks (CommonMark's rule: a fence
    closes with a run of at least as many backticks, alone on its line)."""
    inside: set[int] = set()
    fence = ""
    for number, line in enumerate(markdown.splitlines()):
        if fence:
            if re.fullmatch(rf"{fence}`*\s*", line):
                fence = ""
            else:
                inside.add(number)
        elif match := re.match(r"(`{3,})", line):
            fence = match.group(1)
    return inside


def check_markdown(markdown: str, texts: list[str], template: str = "") -> None:
    """User text only inside code blocks; a piece the report writes itself (``template``:
    the same report of harmless text, e.g. a heading's ``####``) is not user text."""
    inside = fenced_lines(markdown)
    lines = markdown.splitlines()
    outside = [line for number, line in enumerate(lines) if number not in inside]
    assert outside.count("<details>") == outside.count("</details>") >= 1  # structure intact
    assert not fenced_lines(markdown) & {len(lines) - 1}  # every fence closed
    for number, line in enumerate(lines):
        if line in ("<details>", "</details>"):  # the report's own, counted above
            continue
        for text in texts:
            for piece in filter(None, (p.strip() for p in text.splitlines())):
                if len(piece) >= 4 and piece in line and number not in inside:
                    if piece in template:
                        continue
                    pytest.fail(f"user text {piece!r} outside a code block: {line!r}")


def test_hostile_text_is_escaped_in_html_and_fenced_in_markdown(
    sides: tuple[PolicySet, PolicySet],
) -> None:
    report = report_of(sides, HOSTILE)
    assert len(report["samples"]["allow_to_deny"]) == len(HOSTILE)
    check_html(render_html(report), HOSTILE)
    check_markdown(render_markdown(report), HOSTILE)
    for render in (render_text, render_json):
        render(report).encode("utf-8")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=3))
@example(["####"])  # the report's own heading marks: not user text outside a block
def test_any_text_is_escaped_in_html_and_fenced_in_markdown(
    sides: tuple[PolicySet, PolicySet], texts: list[str]
) -> None:
    report = report_of(sides, texts)
    page = render_html(report)
    parser = Tags()
    parser.feed(page)
    assert parser.tags <= ALLOWED_TAGS
    assert not {a for a in parser.attributes if a.startswith("on")}
    template = render_markdown(report_of(sides, ["harmless"] * len(texts)))
    check_markdown(render_markdown(report), texts, template)
    for render in (render_text, render_json, render_markdown):
        render(report).encode("utf-8")  # writable, whatever the surrogates
    page.encode("utf-8")


def test_the_html_report_fetches_nothing() -> None:
    page = GOLDEN_HTML.read_text(encoding="utf-8")
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert not re.search(r"(?:src|href)=", page)
    assert "url(" not in page
    assert page.count("<svg") == 1


# --- the real browser -------------------------------------------------------------------


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the rows of RGB(A) bytes of an 8-bit, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks, header = 8, [], b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        position += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, interlace) == (8, 0) and colour in (2, 6)
    step = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * step
    rows: list[bytes] = []
    previous = bytearray(stride)
    at = 0
    for _ in range(height):
        kind, line = raw[at], bytearray(raw[at + 1 : at + 1 + stride])
        at += 1 + stride
        for i in range(stride):
            left = line[i - step] if i >= step else 0
            up, corner = previous[i], previous[i - step] if i >= step else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                guess = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + guess) & 0xFF
        rows.append(
            bytes(line) if step == 3 else bytes(b for j, b in enumerate(line) if j % 4 != 3)
        )
        previous = line
    return width, height, rows


def count_colour(rows: list[bytes], colour: str, tolerance: int = 6) -> int:
    target = bytes.fromhex(colour.removeprefix("#"))
    count = 0
    for row in rows:
        for i in range(0, len(row), 3):
            if all(abs(row[i + k] - target[k]) <= tolerance for k in range(3)):
                count += 1
    return count


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (CI installs it: apt-get install chromium)"
)
def test_the_html_report_opens_in_a_browser_and_shows_its_chart(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    page = tmp_path / "report.html"
    shutil.copy(GOLDEN_HTML, page)
    shot = tmp_path / "shot.png"
    env = dict(os.environ, HOME=str(tmp_path))  # chromium writes its profile under HOME
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
         "--window-size=1280,800", page.as_uri()],
        capture_output=True, timeout=120, check=False, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert shot.exists(), "chromium wrote no screenshot"
    width, height, rows = png_pixels(shot.read_bytes())
    assert (width, height) == (1280, 800)
    # the chart's bars, in the first screen: decided (3 rules), modified, shadow
    decided = count_colour(rows, COLOURS["decided"])
    assert decided > 3000, decided
    assert count_colour(rows, COLOURS["modified"]) > 1000
    assert count_colour(rows, COLOURS["shadow"]) > 500
    assert count_colour(rows, COLOURS["errors"]) < 400  # the legend's swatch only


def chart_rows(deltas: list[tuple[str, str, int]]) -> list[dict[str, Any]]:
    rows = []
    for rule, measure, delta in deltas:
        old = dict.fromkeys(MEASURES, 0)
        new = dict(old, **{measure: max(delta, 0)})
        old[measure] = max(-delta, 0)
        rows.append(
            {"rule": rule, "old": old, "new": new, "delta": {m: new[m] - old[m] for m in MEASURES}}
        )
    return rows


@pytest.mark.parametrize("delta", [232, -232, 12_345, -12_345])
def test_the_chart_s_value_labels_stay_clear_of_the_rule_names_and_the_edge(delta: int) -> None:
    # "-232 decided" beside the longest bar to the left was drawn over the rule's name, and
    # "+232 decided" beside the longest bar to the right ran off the chart ("+232 decide").
    rows = chart_rows(
        [("rate-limits/message-flood", "decided", delta), ("scams/tag-links", "modified", 28),
         ("links/links-from-brand-new-accounts", "enforced", -1)]
    )  # fmt: skip
    svg = _chart(rows)
    width = float(re.search(r'<svg[^>]* width="([\d.]+)"', svg).group(1))  # type: ignore[union-attr]
    labels = re.findall(
        r'<text x="([\d.]+)" y="[\d.]+" text-anchor="(start|end)">([+-][^<]*)</text>', svg
    )
    assert len(labels) == 3
    for x, anchor, text in labels:
        extent = len(text) * CHAR_WIDTH
        if anchor == "start":
            assert float(x) + extent <= width, text
        else:
            assert float(x) - extent >= RULE_RIGHT, text


def test_samples_0_does_not_say_that_no_verdict_flipped(
    sides: tuple[PolicySet, PolicySet],
) -> None:
    # receiver diff --samples 0 printed "none: no verdict flipped" under 644 flips.
    old, new = sides
    comparison = compare(old, new, messages(["hello", "buy crypto", "free money"]), samples=0)
    assert comparison.total_flips > 0
    report = report_for(sides, comparison)
    for render in (render_text, render_markdown, render_html):
        page = render(report)
        assert "No event sampled (--samples 0)." in page
        assert "no verdict flipped" not in page.lower()


def test_the_baseline_warning_says_when_the_records_were_sampled(
    sides: tuple[PolicySet, PolicySet],
) -> None:
    # A diff of records made with --record-sample warned "is OLD the version that was
    # running?" with nothing on what a sample does to counters keyed by a text or channel.
    old, new = sides
    records = messages(["hi", "hi"], "u", {"action": "deny", "message": "limit"}, sample=0.1)
    report = report_for(sides, compare(old, new, records, samples=0), explained=False)
    assert (report["baseline"]["sampled"], report["baseline"]["sample"]) == (2, 0.1)
    warning = baseline_warning(report)
    assert warning is not None
    assert "The records were recorded with --record-sample 0.1: counters keyed by" in warning
    for render in (render_text, render_markdown, render_html):
        assert "--record-sample 0.1" in render(report)


def test_every_format_lists_the_flips_by_rule(sides: tuple[PolicySet, PolicySet]) -> None:
    report = report_of(sides, ["hello", "there"])
    assert report["flips_by_rule"] == [
        {"kind": "allow_to_deny", "old": "(no rule)", "new": "p/quote", "events": 2}
    ]
    assert "allow -> deny        2  (no rule) -> p/quote" in render_text(report)
    assert "| allow \u2192 deny | `(no rule)` | `p/quote` | 2 |" in render_markdown(report)
    assert "<h2>Flips by rule</h2>" in render_html(report)


def test_the_baseline_warning_does_not_doubt_a_revision_that_recorded_the_events(
    sides: tuple[PolicySet, PolicySet],
) -> None:
    # "is OLD (revision R) the version that was running? The records name revision R"
    # asked about the very revision the records name (decision-log lines without users).
    old, new = sides
    records = messages(["hi"], "u", {"action": "deny", "message": "limit"}, revision=old.revision)
    report = report_for(sides, compare(old, new, records, samples=0), explained=False)
    warning = baseline_warning(report)
    assert warning is not None
    assert f"under this very revision ({old.revision}): the replay lacks" in warning
    assert "the version that was running?" not in warning


def test_one_event_without_its_user_is_one_event(sides: tuple[PolicySet, PolicySet]) -> None:
    # The diff said "Note: 1 events read a user that was not recorded with them".
    report = report_of(sides, ["hello"])
    report["users_missing"] = {"old": 1, "new": 1}
    assert "Note: 1 event read a user that was not recorded with it (seen as" in render_text(report)
    assert "> 1 event read a user that was not recorded with it: pass" in render_markdown(report)
    report["users_missing"] = {"old": 2, "new": 0}
    assert "2 events read a user that was not recorded with them" in render_html(report)


def test_a_markdown_report_fits_a_pull_request_comment() -> None:
    # GitHub refuses a comment over 65,536 characters: the explanations go first, then the
    # samples, each time saying so and where to find them.
    report = json.loads(GOLDEN_HTML.with_name("report.json").read_text(encoding="utf-8"))
    full = render_markdown(report)
    assert "Why NEW decided so:" in full and len(full) <= COMMENT_LIMIT
    short = render_markdown(report, limit=len(full) - 1)
    assert len(short) < len(full) and "Why NEW decided so:" not in short
    assert "**#1**" in short and "Their explanations are left out" in short
    bare = render_markdown(report, limit=len(short) - 1)
    assert "**#1**" not in bare and "The samples are left out" in bare
    assert "`--format html`" in bare
    assert "#### Rules that moved" in bare  # the rest of the report stays whole
