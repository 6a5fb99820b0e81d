"""``receiver eval`` on every platform's payload (receiver/cli/eval.py over
receiver/adapters/platforms.py), and the shipped cross-platform example
(examples/all-platforms) with its tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from receiver.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "all-platforms"
NOW = "2026-11-22T12:00:00Z"


def run_eval(capsys: pytest.CaptureFixture[str], *args: str) -> object:
    assert main(["eval", str(EXAMPLE), *args, "--now", NOW]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_stream_body_is_recognised_and_answered_as_stream(
    capsys: pytest.CaptureFixture[str],
) -> None:
    answer = run_eval(capsys, str(ROOT / "examples" / "stream" / "message-new.json"))
    assert isinstance(answer, dict)
    assert answer["message"]["type"] == "error"
    assert answer["message"]["text"] == "Invite links to other communities are not allowed here."


def test_a_twilio_form_body_with_platform_twilio(capsys: pytest.CaptureFixture[str]) -> None:
    form = str(ROOT / "examples" / "twilio" / "on-message-add.form")
    answer = run_eval(capsys, form, "--platform", "twilio")
    assert answer == {"status": 200, "body": {"body": "what the ****, see you at noon"}}


def test_twilio_parameters_as_json_are_recognised(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    payload = tmp_path / "t.json"
    payload.write_text(json.dumps({"EventType": "onMessageAdd", "Body": "discord.gg/x"}))
    answer = run_eval(capsys, str(payload))
    assert answer == {
        "status": 403,
        "body": {"message": "Invite links to other communities are not allowed here."},
    }


def test_platform_forces_the_reading(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    payload = tmp_path / "p.json"
    payload.write_text(json.dumps({"eventName": "message.shouldCreate", "data": {"text": "x"}}))
    assert main(["eval", str(EXAMPLE), str(payload), "--platform", "stream"]) == 2
    assert "'message' object" in capsys.readouterr().err


def test_jsonl_mixes_platforms(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    lines = [
        {"eventName": "message.shouldCreate", "data": {"text": "discord.gg/x"}},
        json.loads((ROOT / "examples" / "stream" / "message-new.json").read_text()),
        {"EventType": "onMessageAdd", "Body": "hello"},
    ]
    payload = tmp_path / "mixed.jsonl"
    payload.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert main(["eval", str(EXAMPLE), str(payload), "--jsonl", "--now", NOW]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert out[0]["action"] == "deny"
    assert out[1]["message"]["type"] == "error"
    assert out[2] == {"status": 200, "body": {}}


def test_the_cross_platform_example_passes_its_tests(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(EXAMPLE)]) == 0
    assert "10 passed" in capsys.readouterr().out


def test_the_cross_platform_example_checks_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(EXAMPLE)]) == 0
    assert "0 errors, 0 warnings" in capsys.readouterr().out
