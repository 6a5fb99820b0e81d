"""receiver/users/static.py: the ``--users FILE`` directory, read from YAML or JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.errors import ReceiverError
from receiver.users.static import StaticDirectory, UserFileError


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_yaml_file_maps_user_ids_to_records(tmp_path: Path) -> None:
    path = write(tmp_path, "users.yaml", "sam: {trust: 3}\n42: {trust: 1}\n")
    users = StaticDirectory.from_file(path)
    assert len(users) == 2
    assert users.get("sam") == {"trust": 3}
    assert users.get("42") == {"trust": 1}  # ids are looked up as text
    assert users.get("nobody") is None


def test_a_json_file_is_read_as_json(tmp_path: Path) -> None:
    path = write(tmp_path, "users.json", '{"sam": {"roles": ["mod"]}}')
    assert StaticDirectory.from_file(path).get("sam") == {"roles": ["mod"]}


def test_yaml_times_become_iso_text_in_utc(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "users.yaml",
        "sam:\n  createdAt: 2026-01-31T10:00:00Z\n  local: 2026-01-31 12:00:00+02:00\n"
        "  naive: 2026-01-31 10:00:00\n  born: 2000-02-29\n  logins: [2026-01-01T00:00:00Z]\n",
    )
    record = StaticDirectory.from_file(path).get("sam")
    assert record == {
        "createdAt": "2026-01-31T10:00:00Z",
        "local": "2026-01-31T10:00:00Z",
        "naive": "2026-01-31T10:00:00Z",
        "born": "2000-02-29",
        "logins": ["2026-01-01T00:00:00Z"],
    }


def test_an_empty_file_is_an_empty_directory(tmp_path: Path) -> None:
    assert len(StaticDirectory.from_file(write(tmp_path, "users.yaml", "# none yet\n"))) == 0


def test_records_are_copies_of_what_was_given() -> None:
    given = {"sam": {"trust": 3}}
    users = StaticDirectory(given)
    given["sam"]["trust"] = 0
    assert users.get("sam") == {"trust": 3}


def test_a_missing_file_is_a_user_file_error_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    with pytest.raises(UserFileError, match=r"missing\.yaml: cannot read the users file"):
        StaticDirectory.from_file(path)


def test_invalid_json_is_reported_with_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "users.json", '{\n  "sam": [}\n')
    with pytest.raises(UserFileError, match=r"users\.json:2:\d+: invalid JSON"):
        StaticDirectory.from_file(path)


def test_invalid_yaml_is_reported_with_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "users.yaml", "sam: {trust: 3\nbob: x\n")
    with pytest.raises(UserFileError, match=r"users\.yaml:\d+:\d+: YAML syntax error"):
        StaticDirectory.from_file(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- sam\n- bob\n", "must map user ids to records"),
        ("sam: 3\n", "the record of user 'sam' must be a map of fields"),
    ],
)
def test_a_file_of_the_wrong_shape_is_a_user_file_error(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(UserFileError, match=message):
        StaticDirectory.from_file(write(tmp_path, "users.yaml", text))


def test_user_file_errors_are_receiver_errors() -> None:
    assert issubclass(UserFileError, ReceiverError)


def test_ids_are_the_users_with_a_record() -> None:
    assert StaticDirectory({"sam": {}, "lee": {"trust": 1}}).ids() == ["sam", "lee"]


def test_a_text_reads_as_the_same_file_would() -> None:
    users = StaticDirectory.from_text("sam: {trust: 3, createdAt: 2026-01-31T10:00:00Z}\n", "u")
    assert users.get("sam") == {"trust": 3, "createdAt": "2026-01-31T10:00:00Z"}
    assert len(StaticDirectory.from_text("", "u")) == 0


@pytest.mark.parametrize(
    ("text", "says"),
    [("a: [", "u:1:5: YAML syntax error"), ("[1, 2]", "u: the users file must map"),
     ("a: 3", "u: the record of user 'a'"), ("a: \x07", "u: YAML error")],
)  # fmt: skip
def test_a_bad_text_says_what_and_where(text: str, says: str) -> None:
    with pytest.raises(UserFileError, match=None) as caught:
        StaticDirectory.from_text(text, "u")
    assert str(caught.value).startswith(says), str(caught.value)


def test_records_already_parsed_are_checked_the_same_way() -> None:
    assert StaticDirectory.from_records({"a": {"x": 1}}, "m").get("a") == {"x": 1}
    with pytest.raises(UserFileError, match="record of user 'a'"):
        StaticDirectory.from_records({"a": 1}, "m")
