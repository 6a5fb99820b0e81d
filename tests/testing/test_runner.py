"""Policy tests: the ``*.test.yaml`` format, ``receiver test`` and coverage.

The runner must decide with the production path, show readable differences, exit
0/1/2 as documented, report positions of problems in test files as ``FILE:LINE:COL``,
and count rule and list-entry coverage soundly. The shipped policies' own test files
must pass with 100% rule coverage.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from receiver.cli import main
from receiver.testing import Runner, read_text
from receiver.testing.expect import same, subset_differences
from receiver.text.diagnostics import Diagnostics

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"

POLICY = """\
policy: demo
lists:
  staff_roles: [moderator, admin]
  blocked: [spam, scam, free money]
rules:
  - id: staff-allow
    events: "*"
    when: user.role in staff_roles
    action: allow
  - id: no-blocked-words
    events: [message.shouldCreate, post.shouldCreate]
    when: contains_any(text, blocked)
    action: deny
    message: "Blocked words are not allowed ({decision_id})."
  - id: quiet
    events: message.shouldCreate
    when: caps_ratio(text) > 0.7 and len(text) > 5
    action: modify
    set:
      text: lower(text)
  - id: measure-long
    events: message.shouldCreate
    when: len(text) > 20
    action: deny
    message: Long texts would be refused.
    mode: shadow
  - id: count-tags
    events: post.shouldCreate
    when: len(data.tags) > 3
    action: deny
    message: "Too many tags ({len(data.tags)})."
"""

PASSING = """\
now: 2026-11-22T12:00:00Z
users:
  mod_mo: {role: moderator}
  sam: {role: member}
defaults:
  event: message.shouldCreate
  user: sam
cases:
  - name: plain message
    data: {text: hello}
    expect: allow
  - name: blocked word
    data: {text: "FREE   money!"}
    expect:
      action: deny
      message: Blocked words are not allowed (test-decision-id).
      rule: no-blocked-words
  - name: shouting is lowered
    data: {text: HELLO THERE, channelId: ch_1}
    expect:
      data: {text: hello there, channelId: ch_1}
      modified_by: [demo/quiet]
      shadow: none
  - name: staff are allowed
    user: mod_mo
    data: {text: spam}
    expect: {action: allow, rule: staff-allow}
  - name: long texts are measured in shadow mode
    data: {text: this text is longer than twenty characters}
    expect:
      action: allow
      shadow:
        - rule: demo/measure-long
          action: deny
          message_contains: would be refused
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["test", *args])
    out, err = capsys.readouterr()
    assert err == ""
    return code, out


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A policy folder with one passing test file; the current folder is its parent."""
    write(tmp_path, "policies/demo.yaml", POLICY)
    write(tmp_path, "policies/demo.test.yaml", PASSING)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "policies"


def failing_file(folder: Path) -> Path:
    return write(
        folder,
        "failing.test.yaml",
        """\
now: 2026-11-22T12:00:00Z
cases:
  - name: expects the wrong verdict
    event: message.shouldCreate
    data: {text: "a scam"}
    expect:
      action: allow
  - name: expects the wrong data
    event: message.shouldCreate
    data: {text: "LOUD NOISES", n: 1}
    expect:
      data: {text: "LOUD NOISES", n: 1}
  - name: expects the wrong message
    event: post.shouldCreate
    data: {tags: [a, b, c, d, e]}
    expect:
      message: Too many tags (4).
""",
    )


# -- the runner on good files -------------------------------------------------------------


def test_passing_cases_print_one_line_each_and_exit_0(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "policies")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "PASS  policies/demo.test.yaml:9  plain message"
    assert sum(1 for line in lines if line.startswith("PASS ")) == 5
    assert lines[-1] == "5 passed (1 test file)"


def test_default_path_is_policies(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys)
    assert code == 0
    assert "5 passed" in out


def test_failures_show_readable_differences_and_the_explanation(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    failing_file(demo)
    code, out = run(capsys, "policies")
    assert code == 1
    assert "FAIL  policies/failing.test.yaml:3  expects the wrong verdict" in out
    assert out.splitlines()[-1] == "3 failed, 5 passed (2 test files)"
    details = out.split("failures:", 1)[1]
    # the verdict: expected vs actual, and who denied
    assert "FAIL policies/failing.test.yaml:3:11: expects the wrong verdict" in details
    assert "    action: expected allow, got deny\n      - allow\n      + deny\n" in details
    assert '(denied by demo/no-blocked-words: "Blocked words' in details
    # the data: a line diff of the JSON
    assert '      -   "text": "LOUD NOISES"\n      +   "text": "loud noises"\n' in details
    # the message: both texts, and where they start to differ
    assert '      - "Too many tags (4)."\n      + "Too many tags (5)."\n' in details
    assert "(the texts differ from character 16)" in details
    # the explain trace of the failing case
    assert "  explain:\n    event message.shouldCreate: 4 rules apply" in details
    assert "decision: deny by demo/no-blocked-words" in details


def test_without_coverage_only_failing_cases_are_decided_again_traced(demo: Path) -> None:
    failing_file(demo)
    result = Runner(coverage=False).run([demo])
    failed = [c for c in result.cases if not c.passed]
    passed = [c for c in result.cases if c.passed]
    assert len(failed) == 3 and len(passed) == 5
    for case in failed:  # explained by a second, traced decision that agrees with the first
        assert case.explained is not case.decision
        assert case.explained.summary() == case.decision.summary()
        assert case.explained.trace is not None and case.decision.trace is None
        assert case.explanation.startswith(f"event {case.case.event}: ")
        assert case.explanation.splitlines()[-1].startswith(f"decision: {case.decision.action}")
    for case in passed:
        assert case.explained is case.decision and case.explanation == ""


def test_k_selects_cases_by_file_and_name(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    failing_file(demo)
    code, out = run(capsys, "policies", "-k", "BLOCKED")
    assert code == 0
    assert [line for line in out.splitlines() if line.startswith(("PASS", "FAIL"))] == [
        "PASS  policies/demo.test.yaml:12  blocked word"
    ]
    assert out.splitlines()[-1] == "1 passed, 7 deselected (2 test files)"
    code, out = run(capsys, "policies", "-k", "failing.test*verdict", "-k", "plain")
    assert code == 1
    assert "1 failed, 1 passed, 6 deselected" in out
    code, out = run(capsys, "policies", "-k", "no such case")
    assert code == 2
    assert "no case matches -k no such case" in out


def test_json_format(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    failing_file(demo)
    code, out = run(capsys, "policies", "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert report["summary"] == {
        "passed": 5,
        "failed": 3,
        "broken_files": 0,
        "deselected": 0,
        "files": 2,
    }
    cases = {c["name"]: c for c in report["cases"]}
    verdict = cases["expects the wrong verdict"]
    assert verdict["id"] == "policies/failing.test.yaml::expects the wrong verdict"
    assert (verdict["file"], verdict["line"], verdict["column"]) == (
        "policies/failing.test.yaml",
        3,
        11,
    )
    assert verdict["status"] == "failed"
    assert verdict["failures"][0] == {
        "field": "action",
        "summary": "expected allow, got deny",
        "expected": "allow",
        "actual": "deny",
    }
    assert verdict["response"]["action"] == "deny"
    assert verdict["decision"]["rule"] == "demo/no-blocked-words"
    assert "explain" in verdict
    assert cases["plain message"]["status"] == "passed"
    assert "explain" not in cases["plain message"]
    data = cases["expects the wrong data"]["failures"][0]
    assert data["field"] == "data"
    assert data["actual"] == {"text": "loud noises", "n": 1}
    assert "coverage" not in report


def test_junit_xml_is_valid_and_counts(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    failing_file(demo)
    write(demo, "broken.test.yaml", "cases: [\n")
    junit = demo.parent / "reports" / "junit.xml"
    code, _ = run(capsys, "policies", "--junit", str(junit))
    assert code == 2
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("9", "3", "1")
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {
        "policies/broken.test.yaml",
        "policies/demo.test.yaml",
        "policies/failing.test.yaml",
    }
    failing = suites["policies/failing.test.yaml"]
    assert (failing.get("tests"), failing.get("failures")) == ("3", "3")
    case = failing.find("testcase[@name='expects the wrong verdict']")
    assert case is not None
    assert case.get("classname") == "policies/failing.test.yaml"
    assert case.get("line") == "3"
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == "action: expected allow, got deny"
    assert "explain:" in (failure.text or "")
    error = suites["policies/broken.test.yaml"].find("testcase/error")
    assert error is not None
    assert "policies/broken.test.yaml:2:1: error: YAML syntax error" in (error.text or "")


# -- exit codes and problems in test files --------------------------------------------------


def test_a_broken_test_file_exits_2_with_positions(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        demo,
        "broken.test.yaml",
        """\
now: yesterday
cases:
  - name: typo in a field
    event: message.shouldCreate
    expext: deny
  - name: a verdict that is not one
    event: message.shouldCreate
    expect: {action: modify}
  - name: a deny with data
    event: message.shouldCreate
    expect: {action: deny, data_contains: {text: x}}
""",
    )
    code, out = run(capsys, "policies")
    assert code == 2
    assert "ERROR policies/broken.test.yaml: the test file has errors" in out
    assert "policies/broken.test.yaml:1:6: error: 'now': " in out
    assert "policies/broken.test.yaml:3:5: error: this case has no 'expect' [missing-field]" in out
    assert (
        "policies/broken.test.yaml:5:5: error: unknown field 'expext' in a case; "
        "did you mean 'expect'? [unknown-field]"
    ) in out
    assert "     5 |     expext: deny\n       |     ^~~~~~" in out
    assert "policies/broken.test.yaml:8:22: error: 'action' must be allow or deny" in out
    assert "policies/broken.test.yaml:11:28: error: 'data_contains' only applies when" in out
    # the other file still ran
    assert "5 passed, 1 broken test file (2 test files)" in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cases: [\n", "x.test.yaml:2:1: error: YAML syntax error"),
        ("", "x.test.yaml:1:1: error: the test file is empty [empty-file]"),
        ("- a\n", "x.test.yaml:1:1: error: a test file must be a mapping"),
        ("suite: s\n", "x.test.yaml:1:1: error: a test file needs a 'cases:' list"),
        ("cases: []\n", "x.test.yaml:1:8: error: 'cases' must be a list of cases"),
        (
            "counters: {x: 1}\ncases:\n  - {name: a, event: e, expect: allow}\n",
            "x.test.yaml:1:15: error: counter 'x' needs a mapping of key: value",
        ),
        (
            "cases:\n  - {name: a, event: e, counters: {c: {u1: -1}}, expect: allow}\n",
            "x.test.yaml:2:44: error: c[u1] must be a whole number >= 0",
        ),
        (
            "cases:\n  - {name: a, event: e, expect: allow}\n"
            "  - {name: a, event: e, expect: deny}\n",
            "x.test.yaml:3:12: error: two cases are named 'a' (the other is at line 2)",
        ),
        (
            "cases:\n  - {name: a, event: e, user: u, actor: {userId: u}, expect: allow}\n",
            "x.test.yaml:2:34: error: give either 'user' (the actor's userId) or 'actor'",
        ),
        (
            "cases:\n  - {name: a, event: e, data: [1], expect: allow}\n",
            "x.test.yaml:2:31: error: 'data' must be a mapping",
        ),
        (
            "cases:\n  - {name: a, event: e, data: {on: 1}, expect: allow}\n",
            "x.test.yaml:2:32: error: keys in 'data' must be plain names ('on' reads as true",
        ),
        (
            "cases:\n  - {name: a, event: e, expect: maybe}\n",
            "x.test.yaml:2:33: error: 'expect' must be allow, deny or a map of expectations",
        ),
        (
            "cases:\n  - {name: a, event: e, expect: {shadow: [{acton: deny}]}}\n",
            "x.test.yaml:2:44: error: unknown field 'acton' in an entry of 'shadow'",
        ),
        (
            "cases:\n  - {name: a, payload: nope.json, expect: allow}\n",
            "x.test.yaml:2:24: error: 'payload': ",
        ),
        (
            "users: nope.yaml\ncases:\n  - {name: a, event: e, expect: allow}\n",
            "x.test.yaml:1:8: error: 'users': ",
        ),
        (
            "cases:\n  - {name: a, event: e, expect: allow}\n\tbad: tab\n",
            "x.test.yaml:3:1: error: YAML syntax error",
        ),
    ],
)
def test_test_file_problems_have_positions(tmp_path: Path, text: str, expected: str) -> None:
    diags = Diagnostics()
    read_text(tmp_path / "x.test.yaml", text, diags)
    rendered = "\n".join(d.render() for d in diags.sorted())
    assert expected.replace("x.test.yaml", str(tmp_path / "x.test.yaml")) in rendered


def test_unknown_rules_and_events_are_test_file_errors(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        demo,
        "names.test.yaml",
        """\
cases:
  - name: typo in the event
    event: message.shouldCreat
    expect: allow
  - name: typo in the rule
    event: message.shouldCreate
    expect: {rule: demo/no-blocked-word, modified_by: [quiet], shadow: [nope]}
""",
    )
    code, out = run(capsys, "policies/names.test.yaml")
    assert code == 2
    assert (
        "policies/names.test.yaml:3:12: error: 'message.shouldCreat' is not a known event; "
        "did you mean 'message.shouldCreate'? [unknown-event]"
    ) in out
    assert (
        "policies/names.test.yaml:7:20: error: no rule 'demo/no-blocked-word' in policies/; "
        "did you mean 'demo/no-blocked-words'? [unknown-rule]"
    ) in out
    assert "policies/names.test.yaml:7:73: error: no rule 'nope' in policies/ [unknown-rule]" in out
    assert "no rule 'quiet'" not in out  # a bare rule id that is unique resolves


def test_broken_policies_exit_2_and_are_reported_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        tmp_path,
        "p/bad.yaml",
        "policy: bad\nrules:\n  - {id: r, events: '*', when: lenght(text) > 1, action: deny}\n",
    )
    case = "cases:\n  - {name: a, event: message.shouldCreate, expect: allow}\n"
    write(tmp_path, "p/one.test.yaml", case)
    write(tmp_path, "p/two.test.yaml", case)
    monkeypatch.chdir(tmp_path)
    code, out = run(capsys, "p")
    assert code == 2
    assert out.count("unknown function 'lenght'; did you mean 'len'?") == 1
    assert out.count("error: the policies in p have errors, so these cases can't run") == 2
    assert "0 passed, 2 broken test files (2 test files)" in out


def test_missing_paths_and_empty_folders_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, str(tmp_path / "nope"))
    assert code == 2
    assert "nope: error: no such file or folder [io]" in out
    code, out = run(capsys, str(tmp_path))
    assert code == 2
    assert "error: no test files (*.test.yaml) found in" in out


def test_policies_key_points_elsewhere_relative_to_the_test_file(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        demo.parent,
        "tests/elsewhere.test.yaml",
        "policies: ../policies\ncases:\n  - {name: a, event: message.shouldCreate, "
        "data: {text: scam}, expect: deny}\n",
    )
    code, out = run(capsys, "tests")
    assert code == 0, out
    assert "PASS  tests/elsewhere.test.yaml:3  a" in out


# -- what cases can say ----------------------------------------------------------------------


def test_payload_files_users_files_and_case_overrides(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        demo.parent,
        "payloads/long.json",
        json.dumps(
            {
                "eventName": "message.shouldCreate",
                "data": {"text": "word " * 10},
                "actor": {"_id": "sam", "userId": "sam"},
            }
        ),
    )
    write(demo.parent, "users.yaml", "sam: {role: member, createdAt: 2026-01-01T00:00:00Z}\n")
    write(
        demo,
        "more.test.yaml",
        """\
users: ../users.yaml
cases:
  - name: a whole payload from a file
    payload: ../payloads/long.json
    expect:
      action: allow
      shadow: [measure-long]
  - name: inline users replace the file for one case
    event: message.shouldCreate
    user: sam
    users: {sam: {role: admin}}
    data: {text: scam}
    expect: {action: allow, rule: staff-allow}
  - name: no actor at all
    event: post.shouldCreate
    user: ~
    data: {text: fine, tags: [a]}
    expect: {action: allow, rule: none, modified_by: none, shadow: []}
""",
    )
    code, out = run(capsys, "policies/more.test.yaml")
    assert code == 0, out
    assert "3 passed" in out


def test_data_contains_checks_only_the_keys_given(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        demo,
        "partial.test.yaml",
        """\
cases:
  - name: partial match
    event: message.shouldCreate
    data: {text: SHOUT SHOUT, meta: {lang: en, seen: 2}, tags: [a]}
    expect:
      data_contains: {text: shout shout, meta: {lang: en}}
  - name: partial mismatch
    event: message.shouldCreate
    data: {text: SHOUT SHOUT, meta: {lang: en}}
    expect:
      data_contains: {text: SHOUT SHOUT, meta: {lang: fr, tone: calm}}
""",
    )
    code, out = run(capsys, "policies/partial.test.yaml")
    assert code == 1
    assert "PASS  policies/partial.test.yaml:2  partial match" in out
    assert (
        "    data_contains: the resulting data does not contain what was expected\n"
        "      data.text:\n"
        '        - "SHOUT SHOUT"\n'
        '        + "shout shout"\n'
        "      data.meta.lang:\n"
        '        - "fr"\n'
        '        + "en"\n'
        "      data.meta.tone:\n"
        '        - "calm"\n'
        "        + (missing)\n"
    ) in out


def test_runtime_errors_fail_a_case_unless_expected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        tmp_path,
        "p/p.yaml",
        "policy: p\nrules:\n  - {id: r, events: '*', when: len(data.count) > 1, action: deny}\n",
    )
    write(
        tmp_path,
        "p/p.test.yaml",
        """\
cases:
  - name: unexpected failure
    event: message.shouldCreate
    data: {count: 5}
    expect: allow
  - name: expected failure
    event: message.shouldCreate
    data: {count: 5}
    expect: {action: allow, errors: [p/r]}
  - name: any failures
    event: message.shouldCreate
    data: {count: 5}
    expect: {action: allow, errors: any}
  - name: a failure that does not happen
    event: message.shouldCreate
    data: {count: [1, 2]}
    expect: {action: deny, errors: [r]}
""",
    )
    monkeypatch.chdir(tmp_path)
    code, out = run(capsys, "p")
    assert code == 1
    assert "FAIL  p/p.test.yaml:2  unexpected failure" in out
    assert "PASS  p/p.test.yaml:6  expected failure" in out
    assert "PASS  p/p.test.yaml:10  any failures" in out
    assert "FAIL  p/p.test.yaml:14  a failure that does not happen" in out
    assert "    errors: a rule failed at run time (add 'errors: [RULE]'" in out
    assert "      + p/r failed at p/p.yaml:3:" in out
    assert "      - p/r (expected to fail at run time; it did not)" in out


def test_braincloud_envelopes_and_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        tmp_path,
        "bc.test.yaml",
        f"""\
policies: {POLICIES}
cases:
  - name: XP over the limit
    envelope:
      hookType: pre
      service: playerStatistics
      operation: SET_XPPOINTS
      message: {{xp_points: 6000}}
      parms: {{experienceMultiplier: 2}}
    expect:
      status: 500
      reason_code: 50000
      answer: {{status: 500, reasonCode: 50000, errorMessage: XP value is too low!}}
  - name: not an envelope
    envelope: {{hookType: sideways, service: x, operation: Y}}
    expect: allow
""",
    )
    code, out = run(capsys, str(tmp_path / "bc.test.yaml"))
    assert code == 2
    assert "bc.test.yaml:15:15: error: 'envelope': 'hookType' must be pre, post or postFail" in out
    write(
        tmp_path,
        "bc.test.yaml",
        (tmp_path / "bc.test.yaml").read_text().rsplit("  - name: not", 1)[0],
    )
    code, out = run(capsys, str(tmp_path / "bc.test.yaml"))
    assert code == 1
    assert "    answer: the answer to the platform differs\n" in out
    assert '      -   "errorMessage": "XP value is too low!",\n' in out
    assert '      +   "errorMessage": "XP value is too high!",\n' in out
    assert "    status:" not in out


def test_json_equality_is_strict_about_types() -> None:
    assert same({"a": 1, "b": [1.0]}, {"b": [1], "a": 1})
    assert not same(True, 1)
    assert not same(0, False)
    assert not same(None, {})
    assert not same("1", 1)
    assert not same([1, 2], [2, 1])
    differences = list(
        subset_differences({"a": {"b": 1}, "c": True}, {"a": {"b": 1, "x": 2}}, "data")
    )
    assert [d[0] for d in differences] == ["data.c"]


# -- coverage ----------------------------------------------------------------------------------


def coverage_report(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code, out = run(capsys, *args, "--format", "json", "--coverage")
    return code, json.loads(out)


def test_rule_coverage_counts_decided_modified_and_shadow_rules(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = coverage_report(capsys, "policies")
    assert code == 0
    (cov,) = report["coverage"]["sets"]
    assert cov["rules"]["covered"] == 4
    assert cov["rules"]["total"] == 5
    assert cov["rules"]["percent"] == 80.0
    items = {i["rule"]: i for i in cov["rules"]["items"]}
    assert items["demo/staff-allow"] == {
        "rule": "demo/staff-allow",
        "matched": 1,
        "decided": 1,
        "modified": 0,
        "shadow": 0,
    }
    assert items["demo/quiet"]["modified"] == 1
    assert items["demo/measure-long"]["shadow"] == 1
    assert items["demo/count-tags"]["matched"] == 0
    events = {e["event"]: e for e in cov["events"]}
    assert events["message.shouldCreate"]["cases"] == 5
    assert [r["rule"] for r in events["message.shouldCreate"]["rules"] if r["matched"]] == [
        "demo/staff-allow",
        "demo/no-blocked-words",
        "demo/quiet",
        "demo/measure-long",
    ]
    assert events["post.shouldCreate"]["cases"] == 0
    assert report["coverage"]["rules"] == {"covered": 4, "total": 5, "percent": 80.0}


def test_coverage_text_and_fail_under(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "policies", "--coverage", "--fail-under", "80")
    assert code == 0
    assert "coverage of policies/ (1 policy, 5 rules, 5 cases)" in out
    assert "  rules: 4 of 5 decided or matched in at least one case (80.0%)" in out
    assert "  never matched in any case:\n    demo/count-tags\n" in out
    assert "    post.shouldCreate: 0 of 3 rules, 0 cases\n" in out
    assert "      never  demo/count-tags" in out
    assert "      ok     demo/quiet             modified 1" in out
    assert "rule coverage 80.0%, required 80% (--fail-under): ok" in out
    code, out = run(capsys, "policies", "--fail-under", "80.1")
    assert code == 1
    assert "rule coverage 80.0%, required 80.1% (--fail-under): FAILED" in out
    assert "never matched in any case" not in out  # --fail-under alone prints only the total


LISTS_POLICY = """\
policy: lists
lists:
  channels: [ch_a, ch_b, ch_c]
  domains: [bit.ly, t.co]
  phrases: [free money, crypto giveaway]
  roles: [admin, moderator]
  terms: [alpha, beta]
  levels: [1, 2, 3]
rules:
  - id: role-not
    events: message.shouldCreate
    when: user.role not in roles
    action: modify
    set: {data.member: true}
  - id: term-exact
    events: message.shouldCreate
    when: text in terms
    action: modify
    set: {data.term: true}
  - id: level
    events: message.shouldCreate
    when: levels contains data.level
    action: modify
    set: {data.leveled: true}
  - id: prefix
    events: message.shouldCreate
    when: any(terms, lower(text) startswith it)
    action: modify
    set: {data.prefixed: true}
  - id: channel
    events: message.shouldCreate
    when: data.channelId in channels and data.flag == true
    action: deny
  - id: short
    events: message.shouldCreate
    when: any(urls(text), domain(it) in domains)
    action: deny
  - id: phrase
    events: message.shouldCreate
    when: contains_any(text, phrases)
    action: deny
"""

LISTS_TESTS = """\
users: {boss: {role: admin}}
defaults: {event: message.shouldCreate}
cases:
  - name: a value in each kind of membership test
    user: boss
    data: {text: alpha, level: 2, channelId: ch_b}
    expect: allow
  - name: any() stops at the first shortener, and the deny ends evaluation
    data: {text: "see bit.ly/x and t.co/y FREE money"}
    expect: {action: deny, rule: short}
  - name: every phrase found counts
    data: {text: "Crypto  giveaway and free money"}
    expect: {action: deny, rule: phrase}
  - name: an any() over the list itself
    data: {text: "Beta release"}
    expect: allow
"""


def test_list_entries_count_when_a_membership_test_was_decided_by_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "p/lists.yaml", LISTS_POLICY)
    write(tmp_path, "p/lists.test.yaml", LISTS_TESTS)
    monkeypatch.chdir(tmp_path)
    code, report = coverage_report(capsys, "p")
    assert code == 0, report
    lists = report["coverage"]["sets"][0]["lists"]
    exercised = {
        item["list"]: [e["value"] for e in item["entries"] if e["exercised"]]
        for item in lists["items"]
    }
    assert exercised == {
        "channels": ["ch_b"],  # `in`: tested even though the rule did not match
        "domains": ["bit.ly"],  # t.co was never tested: any() stopped at bit.ly
        "phrases": ["free money", "crypto giveaway"],  # contains_any: every phrase present
        "roles": ["admin"],  # `not in`: decided (false) by admin
        "terms": ["alpha", "beta"],  # `text in terms`, then any(terms, ...) for beta
        "levels": [2],  # `levels contains data.level`
    }
    assert (lists["exercised"], lists["total"]) == (8, 14)
    code, out = run(capsys, "p", "--coverage")
    assert "  list entries: 8 of 14 exercised by a membership test (57.1%)" in out
    assert "    lists/domains: 1 of 2; never: t.co" in out
    assert "    lists/levels: 1 of 3; never: 1, 3" in out
    assert "    lists/phrases: 2 of 2\n" in out


def test_coverage_does_not_change_decisions(demo: Path) -> None:
    with_coverage = Runner(coverage=True).run([demo])
    without = Runner(coverage=False).run([demo])
    assert [c.decision.response() for c in with_coverage.cases] == [
        c.decision.response() for c in without.cases
    ]
    assert all(c.explained.response() == c.decision.response() for c in with_coverage.cases)
    assert all(c.passed for c in with_coverage.cases)


# -- the shipped policies ------------------------------------------------------------------------


def test_every_shipped_policy_file_has_a_test_file() -> None:
    policies = {p.name for p in POLICIES.glob("*.yaml") if not p.name.endswith(".test.yaml")}
    tests = {p.name.replace(".test.yaml", ".yaml") for p in POLICIES.glob("*.test.yaml")}
    assert policies, "no shipped policies"
    assert policies - tests == set(), "shipped policies without a test file"


def test_shipped_policy_tests_pass_with_full_rule_coverage() -> None:
    result = Runner().run([POLICIES])
    assert result.broken == []
    failures = [c.id for c in result.cases if not c.passed]
    assert failures == []
    (cov,) = result.coverage
    covered, total = cov.covered()
    assert (covered, total) == (total, len([r for r in cov.policyset.rules if r.doc.enabled]))


def test_ci_command_on_the_shipped_policies() -> None:
    """What .ci/run runs, through the console entry point."""
    command = [sys.executable, "-m", "receiver", "test", "policies/", "--coverage"]
    result = subprocess.run(
        [*command, "--fail-under", "100"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rule coverage 100.0%, required 100% (--fail-under): ok" in result.stdout
