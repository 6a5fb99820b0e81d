"""receiver/load/kinds.py: which files of a policy folder are policies, and a plain error
for a YAML file that is not one (a users map, a test file, anything else)."""

from __future__ import annotations

import textwrap

import pytest

from receiver.load.kinds import is_policy_file_name
from receiver.load.loader import load_text
from receiver.text.diagnostics import Diagnostics


@pytest.mark.parametrize(
    ("name", "policy"),
    [
        ("spam.yaml", True),
        ("spam.yml", True),
        ("spam.test.yaml", False),
        ("spam.test.yml", False),
        ("members.users.yaml", False),
        ("members.users.yml", False),
        ("members.users.json", False),
        ("users.yaml", True),  # read, and then named for what it looks like
        ("notes.txt", False),
        ("users.json", False),
    ],
)
def test_which_names_in_a_policy_folder_are_policies(name: str, policy: bool) -> None:
    assert is_policy_file_name(name) is policy


def load(path: str, text: str) -> list[tuple[str, str, str]]:
    diags = Diagnostics()
    doc = load_text(path, textwrap.dedent(text).lstrip("\n"), diags)
    if diags.has_errors:
        assert doc is None
    return [(d.location, d.code, d.message) for d in diags]


def test_a_users_map_gets_one_error_at_its_first_user_with_the_name_to_give_it() -> None:
    ((location, code, message),) = load(
        "policies/users.yaml",
        """
        # the user directory
        u1: {role: member}
        mod_ana: {role: moderator, reputation: 480}
        """,
    )
    assert (location, code) == ("policies/users.yaml:2:1", "not-a-policy")
    assert message == (
        "this file is not a policy (it has no 'policy: NAME' line); it looks like a users "
        "file (user ids, each with a record): name it users.users.yaml, which policy "
        "commands skip, or move it out of the policy folder"
    )


def test_a_yml_users_map_keeps_its_suffix_in_the_advice() -> None:
    ((_, _, message),) = load("members.yml", "u1:\n  role: member\n")
    assert "name it members.users.yml" in message


def test_a_test_file_without_its_suffix_is_named_a_test_file() -> None:
    ((location, code, message),) = load(
        "spam-cases.yaml", "suite: spam\ncases:\n  - name: x\n    expect: allow\n"
    )
    assert (location, code) == ("spam-cases.yaml:1:1", "not-a-policy")
    assert "its 'cases' make it a test file: name it spam-cases.test.yaml" in message


def test_other_yaml_without_any_policy_field_says_what_a_policy_starts_with() -> None:
    ((location, code, message),) = load("settings.yaml", "port: 8080\nhost: 0.0.0.0\n")
    assert (location, code) == ("settings.yaml:1:1", "not-a-policy")
    assert message.startswith(
        "this file is not a policy: a policy file starts with a 'policy: NAME' line"
    )
    assert "name it settings.users.yaml" in message
    assert "move it out of the policy folder" in message


def test_a_users_file_given_by_name_is_told_to_go_to_users() -> None:
    ((location, code, message),) = load("members.users.yaml", "u1: {role: member}\n")
    assert (location, code) == ("members.users.yaml:1:1", "not-a-policy")
    assert "--users FILE" in message


def test_a_policy_missing_its_name_still_gets_the_policy_errors() -> None:
    """A file with any policy field is a policy with mistakes, reported field by field."""
    found = load("p.yaml", "rules: []\nrulez: []\n")
    assert {code for _, code, _ in found} == {"missing-field", "unknown-field"}


def test_a_file_that_is_not_a_mapping_is_left_to_the_policy_reader() -> None:
    ((_, code, _),) = load("p.yaml", "- a\n- b\n")
    assert code == "type"
