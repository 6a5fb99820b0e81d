"""The README's examples are real: its expression table and console sessions are run here."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from receiver.cli import main
from receiver.compile.closures import compile_expression
from receiver.dsl import times
from receiver.dsl.context import Context
from receiver.dsl.values import Duration, Timestamp, to_json
from receiver.runtime.policyset import check_paths

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
NOW = Timestamp(times.parse_time("2026-11-22T12:00:00Z"))


def _blocks(language: str) -> list[tuple[int, str]]:
    pattern = re.compile(rf"^```{language}\n(.*?)^```", re.MULTILINE | re.DOTALL)
    return [(m.start(), m.group(1)) for m in pattern.finditer(README)]


def _example_rows() -> list[tuple[str, str]]:
    section = README.split("<!-- examples:start -->")[1].split("<!-- examples:end -->")[0]
    rows = []
    for line in section.splitlines():
        cells = re.findall(r"`([^`]*)`", line)
        if line.startswith("| `") and len(cells) == 2:
            rows.append((cells[0], cells[1]))
    return rows


def _sample() -> tuple[dict[str, object], dict[str, object]]:
    start = README.index("<!-- examples:start -->")
    payload = next(json.loads(body) for pos, body in reversed(_blocks("json")) if pos < start)
    users = next(yaml.safe_load(body) for pos, body in reversed(_blocks("yaml")) if pos < start)
    return payload, users


ROWS = _example_rows()


def test_readme_has_expression_examples() -> None:
    assert len(ROWS) >= 20


@pytest.mark.parametrize(("expression", "expected"), ROWS, ids=[r[0] for r in ROWS])
def test_readme_expression_example(tmp_path: Path, expression: str, expected: str) -> None:
    payload, users = _sample()
    policy = {
        "policy": "readme",
        "rules": [
            {
                "id": "r",
                "events": "message.shouldCreate",
                "action": "modify",
                "set": {"data.result": expression},
            }
        ],
    }
    (tmp_path / "readme.yaml").write_text(yaml.safe_dump(policy), encoding="utf-8")
    report = check_paths([tmp_path])
    assert not report.has_errors, [d.render() for d in report.diagnostics]
    node = report.rules[0].sets[0][1]
    fn = compile_expression(node, "message.shouldCreate")
    data = payload["data"]
    actor = payload["actor"]
    assert isinstance(data, dict) and isinstance(actor, dict)
    ctx = Context("message.shouldCreate", data, actor, NOW, 0)
    ctx.user, ctx.user_loaded = users.get("u1"), True
    value = fn(ctx)
    if isinstance(value, Duration | Timestamp):
        assert str(value) == json.loads(expected)
    else:
        assert to_json(value) == json.loads(expected)


def _files_and_sessions() -> tuple[dict[str, str], list[tuple[str, str]]]:
    files: dict[str, str] = {}
    for match in re.finditer(r"^`([\w.-]+\.yaml)`:\n\n```yaml\n(.*?)^```", README, re.M | re.S):
        files[match.group(1)] = match.group(2)
    sessions: list[tuple[str, str]] = []
    for _, body in _blocks("console"):
        command, output = "", []
        for line in body.splitlines():
            if line.startswith("$ "):
                if command:
                    sessions.append((command, "\n".join(output)))
                command, output = line[2:], []
            else:
                output.append(line)
        if command:
            sessions.append((command, "\n".join(output)))
    return files, sessions


FILES, SESSIONS = _files_and_sessions()


def test_readme_has_console_sessions() -> None:
    assert FILES and len(SESSIONS) >= 3


# A session is `receiver ARGS`, optionally fed by `echo 'TEXT' |`, with `<(echo 'TEXT')`
# for a file argument: the shapes the README uses, read here so that every session runs
# in-process through the same main(argv) as the console script.
_SESSION = re.compile(r"^(?:echo '(?P<stdin>[^']*)' \| )?receiver (?P<args>.*)$")
_SUBSTITUTION = re.compile(r"<\(echo '(?P<text>[^']*)'\)")


def run_in_process(
    command: str, cwd: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    """What bash would give for ``command``: the exit code, stdout and stderr."""
    match = _SESSION.match(command)
    assert match is not None, f"a README session this test cannot read: {command}"
    args = match.group("args")
    for number, sub in enumerate(_SUBSTITUTION.finditer(args)):
        path = cwd / f"substituted-{number}"
        path.write_text(sub.group("text") + "\n", encoding="utf-8")
        args = args.replace(sub.group(0), shlex.quote(str(path)), 1)
    stdin = (match.group("stdin") or "") + "\n" if match.group("stdin") is not None else ""
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode("utf-8"))))
    code = main(shlex.split(args))
    out, err = capsys.readouterr()
    return code, out, err


def write_files(folder: Path) -> None:
    for name, text in FILES.items():
        (folder / name).write_text(text, encoding="utf-8")


@pytest.mark.parametrize(("command", "expected"), SESSIONS, ids=[s[0][:60] for s in SESSIONS])
def test_readme_console_session(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
    expected: str,
) -> None:
    write_files(tmp_path)
    if _SESSION.match(command):
        code, out, err = run_in_process(command, tmp_path, monkeypatch, capsys)
    else:  # another shape (a pipe from printf): bash and the installed console script
        code, out, err = run_in_shell(command, tmp_path)
    assert code == 0, err
    assert out.rstrip("\n") == expected


def run_in_shell(command: str, cwd: Path) -> tuple[int, str, str]:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    return result.returncode, result.stdout, result.stderr


def test_a_readme_console_session_runs_as_written_in_a_shell(tmp_path: Path) -> None:
    """One session through bash and the installed console script: the README's commands
    are real shell, not only what run_in_process reads out of them."""
    command, expected = next((c, e) for c, e in SESSIONS if "<(echo" in c)
    write_files(tmp_path)
    code, out, err = run_in_shell(command, tmp_path)
    assert code == 0, err
    assert out.rstrip("\n") == expected
