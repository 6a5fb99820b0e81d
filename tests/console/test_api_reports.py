"""``GET /api/reports`` and ``GET /api/reports/{name}``: the ``receiver diff --format json``
reports of ``receiver console --reports DIR``, listed and read, names checked, read only."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from urllib.parse import quote

import hypothesis.strategies as st
import pytest
from consolecraft import POLICIES
from hypothesis import HealthCheck, example, given, settings
from starlette.testclient import TestClient

from receiver.cli import main
from receiver.console import reports as reports_module
from receiver.console.app import create_app
from receiver.console.reports import valid_report_name
from receiver.console.workspace import Workspace
from receiver.replay.answers import KIND_TITLES, KINDS
from receiver.replay.compare import MEASURES

TESTS = Path(__file__).resolve().parents[1]
GOLDEN = TESTS / "golden" / "diff" / "report.json"
DATA = TESTS / "data"


def client(reports: Path | None) -> TestClient:
    return TestClient(create_app(Workspace.at(POLICIES, can_save=False, reports=reports), None))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    out = tmp_path / "reports"
    out.mkdir()
    shutil.copy(GOLDEN, out / "golden.json")
    (out / "other.json").write_text('{"not": "a report"}')
    (out / "notes.txt").write_text("not listed")
    return out


def test_the_folder_lists_its_diff_reports_with_a_summary(folder: Path) -> None:
    out = client(folder).get("/api/reports").json()
    assert out["folder"] is True
    assert [r["name"] for r in out["reports"]] == ["golden.json"]
    report = json.loads(GOLDEN.read_text())
    listed = out["reports"][0]
    assert listed["events"] == report["events"] == 420
    assert listed["flips"] == report["flips"]["total"]
    assert listed["old"] == report["old"]["revision"]
    assert listed["gate_held"] is False


def test_the_list_gives_replays_own_names_for_kinds_and_measures() -> None:
    out = client(None).get("/api/reports").json()
    assert out == {
        "folder": False,
        "reports": [],
        "kinds": [{"kind": k, "title": KIND_TITLES[k]} for k in KINDS],
        "measures": list(MEASURES),
    }


def test_a_report_is_answered_as_receiver_diff_wrote_it(folder: Path) -> None:
    answer = client(folder).get("/api/reports/golden.json")
    assert answer.status_code == 200
    assert answer.json() == {"name": "golden.json", "report": json.loads(GOLDEN.read_text())}
    assert answer.headers["cache-control"] == "no-store"


def test_a_report_made_by_receiver_diff_now_is_listed_and_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    monkeypatch.chdir(DATA)
    code = main(["diff", "diff/old", "diff/new", "diff/records.jsonl", "--format", "json",
                 "-o", str(out / "today.json")])  # fmt: skip
    assert code == 0
    report = client(out).get("/api/reports/today.json").json()["report"]
    assert report["flips"]["allow_to_deny"] > 0
    assert report["rules"][0]["delta"]


def test_a_json_file_that_is_not_a_report_is_refused_by_name(folder: Path) -> None:
    answer = client(folder).get("/api/reports/other.json")
    assert answer.status_code == 400
    assert "not a receiver diff report" in answer.json()["error"]


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("missing.json", 404),
        ("notes.txt", 400),
        (".hidden.json", 400),
        ("..%2Fsecret.json", 404),  # a slash: no report route matches
        ("a..json", 400),
    ],
)
def test_names_are_checked(folder: Path, name: str, status: int) -> None:
    answer = client(folder).get(f"/api/reports/{name}")
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]


def test_a_path_with_a_directory_reaches_no_report(folder: Path) -> None:
    answer = client(folder).get("/api/reports/sub/golden.json")
    assert answer.status_code == 404


def test_a_link_leading_out_of_the_folder_is_refused(folder: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    shutil.copy(GOLDEN, outside)
    os.symlink(outside, folder / "link.json")
    assert client(folder).get("/api/reports/link.json").status_code == 404
    assert "link.json" not in [
        r["name"] for r in client(folder).get("/api/reports").json()["reports"]
    ]


def test_a_report_over_the_limit_is_refused(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reports_module, "MAX_REPORT_BYTES", 1000)
    answer = client(folder).get("/api/reports/golden.json")
    assert answer.status_code == 413
    assert client(folder).get("/api/reports").json()["reports"] == []


def test_without_a_reports_folder_a_report_is_not_found_and_the_error_says_what_to_do() -> None:
    answer = client(None).get("/api/reports/golden.json")
    assert answer.status_code == 404
    assert "--reports DIR" in answer.json()["error"]


def test_the_reports_are_read_only(folder: Path) -> None:
    before = sorted((p.name, p.stat().st_mtime) for p in folder.iterdir())
    c = client(folder)
    c.get("/api/reports")
    c.get("/api/reports/golden.json")
    assert c.post("/api/reports/golden.json", json={}).status_code in (404, 405)
    assert sorted((p.name, p.stat().st_mtime) for p in folder.iterdir()) == before


def test_the_workspace_offers_the_reports_view_with_or_without_a_folder(folder: Path) -> None:
    assert "reports" in client(None).get("/api/workspace").json()["features"]
    assert "reports" in client(folder).get("/api/workspace").json()["features"]


def test_the_console_refuses_a_reports_path_that_is_not_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["console", "--policies", str(POLICIES), "--reports", str(tmp_path / "nope")])
    assert code == 2
    assert "--reports" in capsys.readouterr().err


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.text(min_size=1, max_size=60))
@example(name=".")
@example(name="..")
def test_any_name_is_answered_without_a_500_and_never_reads_outside(name: str) -> None:
    reports = GOLDEN.parent  # holds report.json and other formats
    c = client(reports)
    # quote() leaves dots: the client would resolve "." and ".." as path segments (the
    # listing, or /api/), so those names go percent-encoded to reach the report route.
    written = quote(name, safe="") if name not in (".", "..") else name.replace(".", "%2E")
    answer = c.get("/api/reports/" + written)
    assert answer.status_code in (200, 400, 404, 413), answer.text
    if answer.status_code == 200:
        assert valid_report_name(name)
        assert (reports / name).resolve().parent == reports.resolve()
