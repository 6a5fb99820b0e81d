"""``POST /api/test``: the folder's test files run against the edited files, through the
same runner as ``receiver test``, with the differences and the coverage."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import hypothesis.strategies as st
from consolecraft import POLICIES, client, shipped_files, with_typo
from hypothesis import HealthCheck, given, settings

from receiver.cli import main
from receiver.console.testrun import run_tests
from receiver.runtime.policyset import revision_of_sources

# An edit that makes the shipped banned-users tests fail: suspended accounts let through.
BANNED = ("when: user.banned == true", "when: user.banned == false")


def edited(files: list[dict[str, str]], name: str, old: str, new: str) -> list[dict[str, str]]:
    out = []
    for f in files:
        text = f["text"]
        if f["name"] == name:
            assert old in text
            text = text.replace(old, new, 1)
        out.append({"name": f["name"], "text": text})
    return out


def run(files: list[dict[str, str]], folder: Path = POLICIES) -> dict[str, object]:
    answer = client(folder).post("/api/test", json={"files": files})
    assert answer.status_code == 200, answer.text
    out: dict[str, object] = answer.json()
    return out


def test_the_shipped_tests_pass_with_full_rule_coverage_as_receiver_test_reports(
    capsys: object,
) -> None:
    out = run(shipped_files())
    assert main(["test", "--coverage", "--format", "json", str(POLICIES)]) == 0
    cli = json.loads(capsys.readouterr().out)  # type: ignore[attr-defined]
    summary = out["summary"]
    assert isinstance(summary, dict)
    assert summary["failed"] == 0
    assert summary["passed"] == cli["summary"]["passed"] > 100
    assert summary["not_run"] == 0 and summary["stopped"] is None
    assert out["coverage"]["rules"] == cli["coverage"]["rules"]  # type: ignore[index]
    lists = out["coverage"]["sets"][0]["lists"]  # type: ignore[index]
    assert lists == cli["coverage"]["sets"][0]["lists"]  # the list entries, the same
    assert [c["name"] for c in out["cases"]] == [c["name"] for c in cli["cases"]]  # type: ignore[attr-defined]
    assert out["revision"] == revision_of_sources([(f["name"], f["text"]) for f in shipped_files()])


def test_an_edit_that_lets_suspended_accounts_through_fails_with_expected_deny_got_allow() -> None:
    out = run(edited(shipped_files(), "banned.yaml", *BANNED))
    cases = out["cases"]
    assert isinstance(cases, list)
    case = next(c for c in cases if c["name"] == "a suspended member can't post a message")
    assert case["status"] == "failed"
    assert case["file"] == "banned.test.yaml" and case["line"] == 9
    action = next(f for f in case["failures"] if f["field"] == "action")
    assert action["expected"] == "deny" and action["actual"] == "allow"
    assert action["summary"] == "expected deny, got allow"
    assert action["detail"] == ["- deny", "+ allow"]
    assert "banned-users/banned-deny" in case["explain"]
    assert case["source"].startswith("  - name: a suspended member can't post a message")
    summary = out["summary"]
    assert isinstance(summary, dict) and summary["failed"] > 0


def test_the_edits_are_run_and_the_files_on_disk_are_left_alone() -> None:
    before = (POLICIES / "banned.yaml").read_text()
    run(edited(shipped_files(), "banned.yaml", *BANNED))
    assert (POLICIES / "banned.yaml").read_text() == before
    again = run(shipped_files())
    assert again["summary"]["failed"] == 0  # type: ignore[index]


def test_each_rule_lists_the_cases_that_hit_it() -> None:
    out = run(shipped_files())
    items = out["coverage"]["sets"][0]["rules"]["items"]  # type: ignore[index]
    staff = next(i for i in items if i["rule"] == "staff-bypass/staff-allow")
    assert "staff.test.yaml::a moderator may join the moderators' room" in staff["cases"]
    assert len(staff["cases"]) == staff["matched"]
    case = next(c for c in out["cases"] if c["name"] == "a moderator may join the moderators' room")  # type: ignore[attr-defined]
    assert case["rules_hit"] == {"staff-bypass/staff-allow": "decided"}


def test_a_rule_no_case_reaches_is_not_hit(tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    shutil.copytree(POLICIES, folder)
    shutil.copytree(POLICIES.parent / "examples", tmp_path / "examples")  # their users
    files = shipped_files()
    files.append(
        {
            "name": "extra.yaml",
            "text": "policy: extra\nrules:\n  - id: never\n    events: [message.shouldCreate]\n"
            "    when: data.text == 'no case sends this'\n    action: deny\n    message: no\n",
        }
    )
    out = run(files, folder)
    items = out["coverage"]["sets"][0]["rules"]["items"]  # type: ignore[index]
    never = next(i for i in items if i["rule"] == "extra/never")
    assert never["matched"] == 0 and never["cases"] == []
    assert out["coverage"]["rules"]["covered"] < out["coverage"]["rules"]["total"]  # type: ignore[index]


def test_a_set_that_does_not_check_answers_422_with_the_diagnostics() -> None:
    answer = client().post("/api/test", json={"files": with_typo(shipped_files())})
    assert answer.status_code == 422
    diagnostics = answer.json()["diagnostics"]
    assert any(d["file"] == "links.yaml" and d["severity"] == "error" for d in diagnostics)


def test_a_folder_without_test_files_answers_an_empty_run(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "a.yaml").write_text("policy: a\nrules: []\n")
    out = run([{"name": "a.yaml", "text": "policy: a\nrules: []\n"}], folder)
    assert out["cases"] == [] and out["files"] == []
    assert out["summary"]["passed"] == 0 and out["summary"]["files"] == 0  # type: ignore[index]


def test_a_broken_test_file_is_reported_with_its_diagnostics_and_the_others_run(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "policies"
    shutil.copytree(POLICIES, folder)
    shutil.copytree(POLICIES.parent / "examples", tmp_path / "examples")  # their users
    (folder / "zz.test.yaml").write_text("suite: zz\ncases:\n  - name: x\n    event: nope\n")
    out = run(shipped_files(), folder)
    broken = next(f for f in out["files"] if f["file"] == "zz.test.yaml")  # type: ignore[attr-defined]
    assert broken["broken"] is True and broken["diagnostics"]
    assert all(not d["file"].startswith("/") for d in broken["diagnostics"])
    assert out["summary"]["broken_files"] == 1 and out["summary"]["passed"] > 100  # type: ignore[index]


def test_a_run_past_its_case_limit_stops_and_says_how_many_did_not_run() -> None:
    files = [(f["name"], f["text"]) for f in shipped_files()]
    out = run_tests(POLICIES, files, max_cases=10)
    assert out["summary"]["passed"] == 10
    assert out["summary"]["not_run"] > 100
    assert "stopped after 10 cases" in out["summary"]["stopped"]
    assert out["limits"] == {"cases": 10, "seconds": 20.0}


def test_a_run_past_its_time_limit_stops_between_cases() -> None:
    files = [(f["name"], f["text"]) for f in shipped_files()]
    out = run_tests(POLICIES, files, max_seconds=0.0)
    assert out["summary"]["passed"] + out["summary"]["failed"] <= 1
    assert "stopped after 0 s" in out["summary"]["stopped"]


def test_answers_name_files_relative_to_the_folder_never_by_server_path() -> None:
    text = json.dumps(run(shipped_files()))
    assert str(POLICIES) not in text


# -- outside input -------------------------------------------------------------------------------

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=JSONISH)
def test_any_json_body_gets_an_answer_never_a_500(body: object) -> None:
    answer = client().post("/api/test", json=body)
    assert answer.status_code in (200, 400, 422), answer.text
    if answer.status_code == 400:
        assert answer.json()["error"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.text(max_size=40), text=st.text(max_size=200))
def test_any_file_name_and_text_get_an_answer_never_a_500(name: str, text: str) -> None:
    answer = client().post("/api/test", json={"files": [{"name": name, "text": text}]})
    assert answer.status_code in (200, 400, 422), answer.text
