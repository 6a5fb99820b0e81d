"""A users file kept beside the policies: named ``*.users.yaml`` it is skipped by
``receiver check`` and ``receiver test`` (and read by the test file that names it);
under any other name it gets one plain error that says what to rename it to."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.cli import main

POLICY = """\
policy: members
rules:
  - id: no-banned
    events: message.shouldCreate
    when: user.role == "banned"
    action: deny
    message: Banned users cannot post.
"""

USERS = """\
sam: {role: member}
bo: {role: banned}
"""


def cases_naming(users: str) -> str:
    return f"""\
now: 2026-11-22T12:00:00Z
users: {users}
defaults: {{event: message.shouldCreate}}
cases:
  - name: a member posts
    user: sam
    data: {{text: hi}}
    expect: allow
  - name: a banned user does not
    user: bo
    data: {{text: hi}}
    expect: {{action: deny, rule: members/no-banned}}
"""


def folder(root: Path, users_name: str) -> Path:
    (root / "members.yaml").write_text(POLICY, encoding="utf-8")
    (root / users_name).write_text(USERS, encoding="utf-8")
    (root / "members.test.yaml").write_text(cases_naming(users_name), encoding="utf-8")
    return root


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize("name", ["users.users.yaml", "users.users.yml"])
def test_check_and_test_pass_with_a_users_file_beside_the_policies(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = folder(tmp_path, name)
    code, out = run(["check", str(root)], capsys)
    assert (code, out) == (0, "0 errors, 0 warnings in 1 policy\n")
    code, out = run(["test", str(root)], capsys)
    assert code == 0, out
    assert "2 passed (1 test file)" in out


def test_a_users_file_under_a_policy_name_is_one_plain_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = folder(tmp_path, "users.yaml")
    code, out = run(["check", str(root)], capsys)
    assert code == 1
    assert f"{root / 'users.yaml'}:1:1: error: this file is not a policy" in out
    assert "name it users.users.yaml" in out
    assert "unknown field" not in out
    assert out.endswith("1 error, 0 warnings in 1 policy\n")
    code, out = run(["test", str(root)], capsys)
    assert code == 2
    assert "name it users.users.yaml" in out
