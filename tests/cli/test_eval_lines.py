"""``receiver eval --jsonl`` (receiver/cli/eval.py): one payload per line, one answer per
line, in this process through ``main(argv)``."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from receiver.cli import main

NOW = "2026-01-31T12:00:00Z"

POLICY = """\
policy: main
counters:
  messages_per_minute:
    events: message.shouldCreate
    key: actor.userId
    window: 60s
rules:
  - id: banned
    events: message.shouldCreate
    when: user.role == "banned"
    action: deny
    message: Banned users cannot post.
  - id: flood
    events: message.shouldCreate
    when: messages_per_minute > 1
    action: deny
    message: "Slow down ({messages_per_minute} messages in a minute)."
  - id: shout
    events: message.shouldCreate
    when: caps_ratio(data.text) > 0.5
    action: modify
    set:
      data.text: lower(data.text)
"""

BAD_POLICY = """\
policy: bad
rules:
  - id: r
    events: message.shouldCreate
    when: len(data.text) > "long"
    action: deny
"""


def message(text: str, user: str = "u1") -> str:
    payload = {"eventName": "message.shouldCreate", "data": {"text": text}}
    return json.dumps(payload | {"actor": {"userId": user}})


QUIET = {"action": "allow"}
LOWERED = {"action": "allow", "data": {"text": "hello there"}}


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    (tmp_path / "p.yaml").write_text(POLICY, encoding="utf-8")
    return tmp_path / "p.yaml"


def feed(monkeypatch: pytest.MonkeyPatch, data: str | bytes) -> None:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8"))


def output_lines(text: str) -> list[object]:
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_each_line_gets_its_answer_in_order(
    policies: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    feed(monkeypatch, f"{message('hi')}\n{message('HELLO THERE')}\n{message('ok')}\n")
    assert main(["eval", str(policies), "-", "--jsonl", "--now", NOW]) == 0
    out, err = capsys.readouterr()
    assert output_lines(out) == [QUIET, LOWERED, QUIET]
    assert err == ""


def test_the_last_line_needs_no_newline(
    policies: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    feed(monkeypatch, f"{message('hi')}\n{message('HELLO THERE')}")
    assert main(["eval", str(policies), "--jsonl"]) == 0
    assert output_lines(capsys.readouterr().out) == [QUIET, LOWERED]


def test_each_line_is_decided_as_on_its_own_counters_start_from_zero(
    policies: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same user three times: as three separate ``receiver eval`` calls, never a flood."""
    feed(monkeypatch, "\n".join([message("hi")] * 3) + "\n")
    assert main(["eval", str(policies), "-", "--jsonl", "--now", NOW]) == 0
    assert output_lines(capsys.readouterr().out) == [QUIET, QUIET, QUIET]


def test_the_counters_seed_applies_to_every_line(
    policies: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text("messages_per_minute: {u1: 1}\n", encoding="utf-8")
    feed(monkeypatch, f"{message('hi')}\n{message('hi', user='u2')}\n{message('hi')}\n")
    argv = ["eval", str(policies), "-", "--jsonl", "--now", NOW, "--counters-seed", str(seed)]
    assert main(argv) == 0
    slow = {"action": "deny", "message": "Slow down (2 messages in a minute)."}
    assert output_lines(capsys.readouterr().out) == [slow, QUIET, slow]


def test_a_seed_for_an_unknown_counter_exits_2_before_any_line(
    policies: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text("nope: {u1: 1}\n", encoding="utf-8")
    feed(monkeypatch, message("hi") + "\n")
    argv = ["eval", str(policies), "-", "--jsonl", "--counters-seed", str(seed)]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "nope" in err


def test_the_users_file_is_read_once_for_every_line(
    policies: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    users = tmp_path / "users.yaml"
    users.write_text("u1:\n  role: banned\n", encoding="utf-8")
    feed(monkeypatch, f"{message('hi')}\n{message('hi', user='u2')}\n{message('hi')}\n")
    assert main(["eval", str(policies), "--jsonl", "--users", str(users)]) == 0
    banned = {"action": "deny", "message": "Banned users cannot post."}
    assert output_lines(capsys.readouterr().out) == [banned, QUIET, banned]


@pytest.mark.parametrize(
    "case",
    [
        (
            b'{"eventName": }',
            {"line": 2, "column": 15, "error": "invalid JSON: Expecting value"},
            "<stdin>:2:15: invalid JSON: Expecting value",
        ),
        (
            b"",
            {"line": 2, "error": "empty line: expected a JSON payload"},
            "<stdin>:2: empty line: expected a JSON payload",
        ),
        (
            b"\xff{}",
            {"line": 2, "error": "the line is not UTF-8 text"},
            "<stdin>:2: the line is not UTF-8 text",
        ),
        (
            b'{"data": {}}',
            {"line": 2, "error": "the payload needs a string 'eventName'"},
            "<stdin>:2: the payload needs a string 'eventName'",
        ),
        (
            b"[1]",
            {"line": 2, "error": "the payload must be a JSON object, not a list"},
            "<stdin>:2: the payload must be a JSON object, not a list",
        ),
        (
            b'{"eventName": "message.shouldCreate", "data": ' + b"[" * 5000 + b"]" * 5000 + b"}",
            {"line": 2, "error": "the payload is nested too deeply"},
            "<stdin>:2: the payload is nested too deeply",
        ),
    ],
    ids=["json", "empty", "utf8", "event-name", "list", "deep"],
)
def test_a_bad_line_gets_an_error_line_and_the_rest_are_answered(
    policies: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    case: tuple[bytes, dict[str, object], str],
) -> None:
    line, answer, diagnostic = case
    good = message("HELLO THERE").encode()
    feed(monkeypatch, good + b"\n" + line + b"\n" + good + b"\n")
    assert main(["eval", str(policies), "-", "--jsonl"]) == 2
    out, err = capsys.readouterr()
    assert output_lines(out) == [LOWERED, answer, LOWERED]
    assert err == f"receiver: {diagnostic}\n"
    assert "Traceback" not in err


def test_a_payloads_file_is_read_line_by_line_and_named_in_errors(
    policies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = tmp_path / "payloads.jsonl"
    lines.write_text(f"{message('HELLO THERE')}\nnot json\n", encoding="utf-8")
    assert main(["eval", str(policies), str(lines), "--jsonl"]) == 2
    out, err = capsys.readouterr()
    assert output_lines(out) == [
        LOWERED,
        {"line": 2, "column": 1, "error": "invalid JSON: Expecting value"},
    ]
    assert err == f"receiver: {lines}:2:1: invalid JSON: Expecting value\n"


def test_a_missing_payloads_file_exits_2(
    policies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", str(policies), str(tmp_path / "none.jsonl"), "--jsonl"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "none.jsonl: cannot read the payloads: No such file or directory" in err


def test_policy_errors_exit_1_without_reading_a_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.yaml").write_text(BAD_POLICY, encoding="utf-8")
    feed(monkeypatch, message("hi") + "\n")
    assert main(["eval", str(tmp_path / "bad.yaml"), "-", "--jsonl"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "run 'receiver check'" in err


def test_a_bad_now_exits_2(
    policies: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    feed(monkeypatch, message("hi") + "\n")
    assert main(["eval", str(policies), "--jsonl", "--now", "next tuesday"]) == 2
    assert "--now" in capsys.readouterr().err


def test_explain_writes_each_lines_explanation_after_its_number(
    policies: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    feed(monkeypatch, f"{message('hi')}\n{message('HELLO THERE')}\n")
    assert main(["eval", str(policies), "-", "--jsonl", "--explain", "--now", NOW]) == 0
    out, err = capsys.readouterr()
    assert output_lines(out) == [QUIET, LOWERED]
    assert "line 1: event message.shouldCreate: 3 rules apply" in err
    assert "line 2: event message.shouldCreate: 3 rules apply" in err
    assert err.index("line 1: ") < err.index("line 2: ")
    assert 'changed data.text = "hello there"' in err.split("line 2: ")[1]


def test_a_braincloud_envelope_line_is_answered_in_braincloud_form(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "none.yaml").write_text("policy: none\nrules: []\n", encoding="utf-8")
    envelope = {"hookType": "pre", "service": "entity", "operation": "CREATE", "message": {}}
    feed(monkeypatch, json.dumps(envelope) + "\n")
    assert main(["eval", str(tmp_path / "none.yaml"), "-", "--jsonl"]) == 0
    assert output_lines(capsys.readouterr().out) == [{"status": 200}]


def test_without_jsonl_several_lines_are_one_invalid_document(
    policies: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The flag is what selects JSON Lines: a plain ``eval`` still reads one document."""
    feed(monkeypatch, f"{message('hi')}\n{message('hi')}\n")
    assert main(["eval", str(policies), "-"]) == 2
    assert "<stdin>:2:1: invalid JSON: Extra data" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ('{"eventName": "message.shouldCreate", "data": {"x": ' + "[" * 200_000 + "]" * 200_000
         + "}}", "the payload is nested too deeply"),
        ('{"eventName": "message.shouldCreate", "data": {"x": 1' + "0" * 5000 + "}}",
         f"invalid JSON: an integer has more than {sys.get_int_max_str_digits()} digits"),
    ],
    ids=["too-deep", "huge-integer"],
)  # fmt: skip
def test_one_payload_that_no_parser_takes_is_a_usage_error_not_a_traceback(
    policies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], payload: str, error: str
) -> None:
    path = tmp_path / "payload.json"
    path.write_text(payload, encoding="utf-8")
    assert main(["eval", str(policies), str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"receiver: {path}: {error}\n"
