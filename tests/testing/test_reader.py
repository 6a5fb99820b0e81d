"""receiver/testing/reader.py (with fields.py and seeds.py): a policy test file read into
a Suite of Cases. Problems with positions are tested in test_runner.py
(test_test_file_problems_have_positions); here, what a well-formed file becomes."""

from __future__ import annotations

import json
from pathlib import Path

from receiver.testing.model import Case, Suite
from receiver.testing.reader import is_test_file, read_file, read_text
from receiver.text.diagnostics import Diagnostics


def read(tmp_path: Path, text: str, name: str = "links.test.yaml") -> Suite:
    diags = Diagnostics()
    suite = read_text(tmp_path / name, text, diags)
    assert not diags.items, [d.render() for d in diags]
    assert suite is not None
    return suite


def only_case(tmp_path: Path, case: str, head: str = "") -> Case:
    suite = read(tmp_path, f"{head}cases:\n  - name: c\n{case}")
    [found] = suite.cases
    return found


def test_test_files_end_in_test_yaml_or_test_yml() -> None:
    assert is_test_file(Path("a/links.test.yaml"))
    assert is_test_file(Path("links.test.yml"))
    assert not is_test_file(Path("links.yaml"))
    assert not is_test_file(Path("test.yaml"))


def test_the_suite_is_named_after_the_file_and_runs_the_policies_beside_it(
    tmp_path: Path,
) -> None:
    suite = read(tmp_path, "cases:\n  - {name: a, event: message.shouldCreate, expect: allow}\n")
    assert suite.name == "links"
    assert suite.policies == tmp_path
    assert suite.policies_span is None
    assert suite.now is None and suite.users is None and suite.counters == []


def test_suite_policies_now_and_description_are_read(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    suite = read(
        tmp_path,
        "suite: my links\ndescription: about links\npolicies: elsewhere\n"
        "now: 2026-11-22T12:00:00Z\n"
        "cases:\n  - {name: a, event: message.shouldCreate, expect: allow}\n",
    )
    assert suite.name == "my links"
    assert suite.description == "about links"
    assert suite.policies == tmp_path / "elsewhere"
    assert suite.policies_span is not None and suite.policies_span.line == 3
    assert suite.now is not None and str(suite.now) == "2026-11-22T12:00:00Z"


def test_a_case_with_user_gets_an_actor_with_that_user_id(tmp_path: Path) -> None:
    case = only_case(
        tmp_path,
        "    event: message.shouldCreate\n    user: sam\n    data: {text: hi}\n    expect: deny\n",
    )
    assert case.event == "message.shouldCreate"
    assert case.actor == {"_id": "sam", "userId": "sam"}
    assert case.data == {"text": "hi"}
    assert case.expect.action == "deny"
    assert (case.span.line, case.event_span.line) == (2, 3)


def test_user_null_means_no_actor_at_all(tmp_path: Path) -> None:
    case = only_case(tmp_path, "    event: message.shouldCreate\n    user: ~\n    expect: allow\n")
    assert case.actor == {}


def test_defaults_give_the_event_and_user_a_case_does_not(tmp_path: Path) -> None:
    suite = read(
        tmp_path,
        "defaults: {event: message.shouldCreate, user: sam}\ncases:\n"
        "  - {name: a, expect: allow}\n"
        "  - {name: b, event: channel.shouldJoin, actor: {userId: bob}, expect: allow}\n",
    )
    first, second = suite.cases
    assert (first.event, first.actor["userId"]) == ("message.shouldCreate", "sam")
    assert (second.event, second.actor) == ("channel.shouldJoin", {"userId": "bob"})


def test_yaml_times_in_data_become_iso_text(tmp_path: Path) -> None:
    case = only_case(
        tmp_path,
        "    event: message.shouldCreate\n    data: {at: 2026-01-31T10:00:00Z, day: 2026-01-31}\n"
        "    expect: allow\n",
    )
    assert case.data == {"at": "2026-01-31T10:00:00Z", "day": "2026-01-31"}


def test_a_payload_file_is_read_as_production_reads_it(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text(
        json.dumps(
            {"eventName": "message.shouldCreate", "data": {"text": "x"}, "actor": {"userId": "u"}}
        ),
        encoding="utf-8",
    )
    case = only_case(tmp_path, "    payload: p.json\n    expect: allow\n")
    assert (case.event, case.data, case.actor["userId"]) == (
        "message.shouldCreate",
        {"text": "x"},
        "u",
    )
    assert case.hook_type is None


def test_a_braincloud_envelope_names_its_event_and_hook_type(tmp_path: Path) -> None:
    case = only_case(
        tmp_path,
        "    envelope: {version: 1, hookType: pre, service: event, operation: SEND,\n"
        "               profileId: p1, message: {x: 1}}\n    expect: allow\n",
    )
    assert case.event.startswith("braincloud.pre.event.SEND")
    assert case.hook_type == "pre"


def test_inline_users_counters_now_and_description_belong_to_the_case(tmp_path: Path) -> None:
    case = only_case(
        tmp_path,
        "    description: why\n    event: message.shouldCreate\n    now: 2026-11-22T12:00:00Z\n"
        "    users: {sam: {trust: 3}}\n    counters: {per_minute: {sam: 5, '42': 1}}\n"
        "    expect: allow\n",
    )
    assert case.description == "why"
    assert case.now is not None
    assert case.users is not None and case.users.get("sam") == {"trust": 3}
    assert [(s.name, s.key, s.value) for s in case.counters] == [
        ("per_minute", "sam", 5),
        ("per_minute", "42", 1),
    ]


def test_a_users_file_is_relative_to_the_test_file(tmp_path: Path) -> None:
    (tmp_path / "people.yaml").write_text("sam: {trust: 3}\n", encoding="utf-8")
    suite = read(
        tmp_path,
        "users: people.yaml\ncases:\n  - {name: a, event: message.shouldCreate, expect: allow}\n",
    )
    assert suite.users is not None and suite.users.get("sam") == {"trust": 3}


def test_read_file_reads_from_disk_and_reports_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "x.test.yaml"
    path.write_text("cases:\n  - {name: a, event: message.shouldCreate, expect: allow}\n")
    diags = Diagnostics()
    suite = read_file(path, diags)
    assert suite is not None and [c.name for c in suite.cases] == ["a"]
    assert read_file(tmp_path / "missing.test.yaml", diags) is None
    assert [d.code for d in diags] == ["io"]


# -- a user without a record ----------------------------------------------------------------------

USERS = "users:\n  member_sam: {trust: 3}\n  new_nina: {trust: 0}\n"


def problems(tmp_path: Path, text: str) -> list[tuple[str, str, str]]:
    diags = Diagnostics()
    read_text(tmp_path / "x.test.yaml", text, diags)
    return [(d.location, d.code, d.message) for d in diags]


def test_a_case_user_one_typo_from_a_known_user_gets_a_did_you_mean(tmp_path: Path) -> None:
    text = f"{USERS}cases:\n  - {{name: a, event: e, user: member_sma, expect: allow}}\n"
    assert problems(tmp_path, text) == [
        (
            f"{tmp_path / 'x.test.yaml'}:5:31",
            "unknown-user",
            "user 'member_sma' has no record in 'users'; did you mean 'member_sam'? (to test "
            "a user without a record, pick an id unlike any real one)",
        )
    ]


def test_a_default_user_typo_is_reported_once_at_the_default(tmp_path: Path) -> None:
    text = (
        f"{USERS}defaults: {{event: e, user: new_nian}}\ncases:\n"
        "  - {name: a, expect: allow}\n  - {name: b, expect: deny}\n"
    )
    diags = Diagnostics()
    read_text(tmp_path / "x.test.yaml", text, diags)
    assert [(d.span.line if d.span else 0, d.code) for d in diags.sorted()] == [(4, "unknown-user")]
    assert "did you mean 'new_nina'?" in diags.items[0].message


def test_a_user_id_unlike_any_known_one_tests_a_user_without_a_record(tmp_path: Path) -> None:
    text = f"{USERS}cases:\n  - {{name: a, event: e, user: ghost, expect: deny}}\n"
    assert problems(tmp_path, text) == []


def test_a_case_with_its_own_users_is_checked_against_those(tmp_path: Path) -> None:
    text = (
        f"{USERS}cases:\n  - name: a\n    event: e\n    users: {{member_smb: {{trust: 1}}}}\n"
        "    user: member_smb\n    expect: allow\n"
    )
    assert problems(tmp_path, text) == []


def test_the_users_file_is_named_in_the_message(tmp_path: Path) -> None:
    (tmp_path / "people.yaml").write_text("member_sam: {trust: 3}\n", encoding="utf-8")
    text = "users: people.yaml\ncases:\n  - {name: a, event: e, user: member_sma, expect: allow}\n"
    [(_, code, message)] = problems(tmp_path, text)
    assert code == "unknown-user"
    assert message.startswith(
        "user 'member_sma' has no record in the users file people.yaml; did you mean 'member_sam'?"
    )
