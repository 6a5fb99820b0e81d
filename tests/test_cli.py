"""End-to-end tests of the ``receiver`` command line.

The commands run in this process, through ``main(argv)`` with standard input, output
and error swapped for strings: starting an interpreter per command cost most of this
file's time. The few commands that prove the entry points themselves run as
subprocesses: ``python -m receiver`` and the installed ``receiver`` console script.
The module fixture runs every command of the table below once, and each test then
checks one behaviour of one result.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import traceback
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from receiver import __version__, build
from receiver.cli import main

MODULE = (sys.executable, "-m", "receiver")
SCRIPT_PATH = Path(sys.executable).parent / "receiver"
SCRIPT = (str(SCRIPT_PATH),)
IN_PROCESS = ("receiver",)  # main(argv[1:]) in this process
NOW = "2026-01-31T12:00:00Z"

POLICY = """\
policy: main
rules:
  - id: banned
    events: message.shouldCreate
    when: user.role == "banned"
    action: deny
    message: Banned users cannot post.
  - id: fresh
    events: message.shouldCreate
    when: age(data.createdAt) < 1d
    action: deny
    message: "Too fresh: {age(data.createdAt)} old."
  - id: shout
    events: message.shouldCreate
    when: caps_ratio(data.text) > 0.5
    action: modify
    set:
      data.text: lower(data.text)
  - id: closed-a
    events: channel.shouldJoin
    when: data.channelId == "a"
    action: deny
  - id: closed-b
    events: channel.shouldJoin
    when: data.channelId == "b"
    action: deny
"""

WARNING_POLICY = """\
policy: warn
lists:
  unused: [a, b]
rules:
  - id: r
    events: message.shouldCreate
    when: data.x == 1
    action: deny
"""

BAD_POLICY = """\
policy: bad
rules:
  - id: r
    events: message.shouldCreate
    when: len(data.text) > "long"
    action: deny
"""

PAYLOAD = {
    "eventName": "message.shouldCreate",
    "data": {"text": "HELLO THERE", "createdAt": "2026-01-01T00:00:00Z"},
    "actor": {"userId": "u1"},
}
FRESH_PAYLOAD = {
    "eventName": "message.shouldCreate",
    "data": {"text": "hi", "createdAt": "2026-01-31T00:00:00Z"},
    "actor": {"userId": "u1"},
}
QUIET = {"action": "allow", "data": {"text": "hello there", "createdAt": "2026-01-01T00:00:00Z"}}


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def good(self) -> str:
        return str(self.root / "good")

    @property
    def warn(self) -> str:
        return str(self.root / "warn")

    @property
    def bad(self) -> str:
        return str(self.root / "bad")

    def file(self, name: str) -> str:
        return str(self.root / name)


def make_workspace(root: Path) -> Workspace:
    for name, text in (("good", POLICY), ("warn", WARNING_POLICY), ("bad", BAD_POLICY)):
        (root / name).mkdir()
        (root / name / "p.yaml").write_text(text, encoding="utf-8")
    files = {
        "payload.json": json.dumps(PAYLOAD),
        "fresh.json": json.dumps(FRESH_PAYLOAD),
        "broken.json": '{\n  "eventName": "message.shouldCreate",\n  "data": {,}\n}\n',
        "no-event.json": json.dumps({"data": {}}),
        "list-data.json": json.dumps({"eventName": "message.shouldCreate", "data": [1]}),
        "users.yaml": "u1:\n  role: banned\n",
        "users.json": json.dumps({"u1": {"role": "banned"}, "u2": {"role": "member"}}),
    }
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return Workspace(root)


def commands(ws: Workspace) -> dict[str, tuple[Sequence[str], str]]:
    """Every command line the tests look at: name -> (argv, standard input)."""
    payload = ws.file("payload.json")
    return {
        "check-good": ([*IN_PROCESS, "check", ws.good], ""),
        "check-bad": ([*IN_PROCESS, "check", ws.bad], ""),
        "check-bad-json": ([*IN_PROCESS, "check", ws.bad, "--format", "json"], ""),
        "check-warn": ([*IN_PROCESS, "check", ws.warn], ""),
        "check-warn-strict": ([*IN_PROCESS, "check", ws.warn, "--strict"], ""),
        "eval-file": ([*IN_PROCESS, "eval", ws.good, payload, "--now", NOW], ""),
        "eval-stdin": ([*IN_PROCESS, "eval", ws.good, "-", "--now", NOW], json.dumps(PAYLOAD)),
        "eval-users-yaml": (
            [*IN_PROCESS, "eval", ws.good, payload, "--now", NOW, "--users", ws.file("users.yaml")],
            "",
        ),
        "eval-users-json": (
            [*IN_PROCESS, "eval", ws.good, payload, "--now", NOW, "--users", ws.file("users.json")],
            "",
        ),
        "eval-now": ([*IN_PROCESS, "eval", ws.good, ws.file("fresh.json"), "--now", NOW], ""),
        "eval-explain": ([*IN_PROCESS, "eval", ws.good, payload, "--now", NOW, "--explain"], ""),
        "eval-broken-json": ([*IN_PROCESS, "eval", ws.good, ws.file("broken.json")], ""),
        "eval-no-event": ([*IN_PROCESS, "eval", ws.good, ws.file("no-event.json")], ""),
        "eval-list-data": ([*IN_PROCESS, "eval", ws.good, ws.file("list-data.json")], ""),
        "eval-bad-policies": ([*IN_PROCESS, "eval", ws.bad, payload], ""),
        "eval-bad-now": ([*IN_PROCESS, "eval", ws.good, payload, "--now", "next tuesday"], ""),
        "eval-missing-users": (
            [*IN_PROCESS, "eval", ws.good, payload, "--users", ws.file("nobody.yaml")],
            "",
        ),
        "tree-switch": ([*IN_PROCESS, "tree", ws.good, "channel.shouldJoin"], ""),
        "tree-bad": ([*IN_PROCESS, "tree", ws.bad, "message.shouldCreate"], ""),
        "help-check": ([*IN_PROCESS, "check", "--help"], ""),
        "help-eval": ([*IN_PROCESS, "eval", "--help"], ""),
        "help-tree": ([*IN_PROCESS, "tree", "--help"], ""),
        "version": ([*MODULE, "--version"], ""),
        "version-script": ([*SCRIPT, "--version"], ""),
        "eval-script": ([*SCRIPT, "eval", ws.good, "-", "--now", NOW], json.dumps(PAYLOAD)),
    }


def run(argv: Sequence[str], stdin: str) -> Result:
    done = subprocess.run(
        list(argv), input=stdin, capture_output=True, text=True, timeout=300, check=False
    )
    return Result(tuple(argv), done.returncode, done.stdout, done.stderr)


@contextmanager
def standard_input(text: str) -> Iterator[None]:
    saved = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(text.encode("utf-8")), encoding="utf-8")
    try:
        yield
    finally:
        sys.stdin = saved


def run_in_process(argv: Sequence[str], stdin: str) -> Result:
    """``main(argv[1:])`` as the console script would run it; an exception that escapes
    is written to the captured stderr as the interpreter would print it."""
    out, err = io.StringIO(), io.StringIO()
    with standard_input(stdin), redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(argv[1:]))
        except SystemExit as exc:  # argparse: --help, usage errors
            code = exc.code if isinstance(exc.code, int) else 1
        except Exception:
            err.write(traceback.format_exc())
            code = 1
    return Result(tuple(argv), code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return make_workspace(tmp_path_factory.mktemp("cli"))


@pytest.fixture(scope="module")
def results(ws: Workspace) -> dict[str, Result]:
    """Every command of the table: the subprocesses at once, meanwhile the rest here."""
    assert SCRIPT_PATH.exists(), f"the console script is not installed at {SCRIPT_PATH}"
    table = commands(ws)
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            name: pool.submit(run, argv, stdin)
            for name, (argv, stdin) in table.items()
            if tuple(argv[: len(IN_PROCESS)]) != IN_PROCESS
        }
        done = {
            name: run_in_process(argv, stdin)
            for name, (argv, stdin) in table.items()
            if name not in futures
        }
        return done | {name: future.result() for name, future in futures.items()}


def one_json_line(text: str) -> object:
    assert text.endswith("\n")
    assert text.count("\n") == 1, text
    return json.loads(text)


# -- no command ever shows a traceback ---------------------------------------------------


def test_no_command_prints_a_traceback(results: dict[str, Result]) -> None:
    for name, result in results.items():
        assert "Traceback" not in result.stderr, (name, result.stderr)
        assert "Traceback" not in result.stdout, (name, result.stdout)


# -- check -----------------------------------------------------------------------------------


def test_check_of_clean_policies_exits_0(results: dict[str, Result]) -> None:
    result = results["check-good"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 errors, 0 warnings in 1 policy" in result.stdout


def test_check_with_errors_exits_1_with_file_line_col(
    results: dict[str, Result], ws: Workspace
) -> None:
    result = results["check-bad"]
    assert result.returncode == 1
    assert f"{ws.bad}/p.yaml:5:26: error: cannot compare a number with a string" in result.stdout
    assert "1 error, 0 warnings in 1 policy" in result.stdout


def test_check_with_errors_shows_source_line_and_caret(results: dict[str, Result]) -> None:
    lines = results["check-bad"].stdout.splitlines()
    source = next(i for i, line in enumerate(lines) if 'len(data.text) > "long"' in line)
    assert lines[source + 1].strip().endswith("^")


def test_check_with_only_warnings_exits_0(results: dict[str, Result]) -> None:
    result = results["check-warn"]
    assert result.returncode == 0
    assert "warning: list 'unused' is never used" in result.stdout


def test_check_strict_turns_warnings_into_exit_1(results: dict[str, Result]) -> None:
    result = results["check-warn-strict"]
    assert result.returncode == 1
    assert "list 'unused' is never used" in result.stdout


def test_check_json_format_parses_with_file_line_column(
    results: dict[str, Result], ws: Workspace
) -> None:
    result = results["check-bad-json"]
    assert result.returncode == 1
    report = json.loads(result.stdout)
    (diagnostic,) = report["diagnostics"]
    assert diagnostic["file"] == f"{ws.bad}/p.yaml"
    assert (diagnostic["line"], diagnostic["column"]) == (5, 26)
    assert diagnostic["severity"] == "error"
    assert report["summary"] == {"errors": 1, "warnings": 0}


# -- eval ------------------------------------------------------------------------------------


def test_eval_payload_file_prints_response_on_one_line(results: dict[str, Result]) -> None:
    result = results["eval-file"]
    assert result.returncode == 0, result.stderr
    assert one_json_line(result.stdout) == QUIET


def test_eval_response_is_compact_json(results: dict[str, Result]) -> None:
    assert results["eval-file"].stdout.startswith('{"action":"allow","data":{')


@pytest.mark.parametrize("name", ["eval-stdin", "eval-script"])
def test_eval_reads_payload_from_stdin_dash(results: dict[str, Result], name: str) -> None:
    result = results[name]
    assert result.returncode == 0, result.stderr
    assert one_json_line(result.stdout) == QUIET


@pytest.mark.parametrize("name", ["eval-users-yaml", "eval-users-json"])
def test_eval_users_file_provides_the_user_record(results: dict[str, Result], name: str) -> None:
    result = results[name]
    assert result.returncode == 0, result.stderr
    assert one_json_line(result.stdout) == {
        "action": "deny",
        "message": "Banned users cannot post.",
    }


def test_eval_now_pins_the_clock(results: dict[str, Result]) -> None:
    result = results["eval-now"]
    assert result.returncode == 0, result.stderr
    assert one_json_line(result.stdout) == {"action": "deny", "message": "Too fresh: 12h old."}


def test_eval_explain_keeps_stdout_to_one_json_line(results: dict[str, Result]) -> None:
    result = results["eval-explain"]
    assert result.returncode == 0, result.stderr
    assert one_json_line(result.stdout) == QUIET


def test_eval_explain_mentions_each_rule_on_stderr(results: dict[str, Result]) -> None:
    stderr = results["eval-explain"].stderr
    for rule in ("main/banned", "main/fresh", "main/shout"):
        assert rule in stderr


def test_eval_explain_shows_values_and_decision(results: dict[str, Result]) -> None:
    stderr = results["eval-explain"].stderr
    assert "user.role = null" in stderr
    assert 'data.text = "HELLO THERE"' in stderr
    assert "caps_ratio(data.text) > 0.5 = true" in stderr
    assert 'changed data.text = "hello there"' in stderr
    assert "decision: allow (no rule ended evaluation); data modified by main/shout" in stderr


def test_eval_invalid_json_exits_2_with_file_line_col(
    results: dict[str, Result], ws: Workspace
) -> None:
    result = results["eval-broken-json"]
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"{ws.file('broken.json')}:3:12: invalid JSON" in result.stderr


def test_eval_payload_without_event_name_exits_2(results: dict[str, Result]) -> None:
    result = results["eval-no-event"]
    assert result.returncode == 2
    assert "the payload needs a string 'eventName'" in result.stderr


def test_eval_payload_with_non_object_data_exits_2(results: dict[str, Result]) -> None:
    result = results["eval-list-data"]
    assert result.returncode == 2
    assert "'data' must be a JSON object, not a list" in result.stderr


def test_eval_with_policy_errors_exits_1_with_diagnostics(
    results: dict[str, Result], ws: Workspace
) -> None:
    result = results["eval-bad-policies"]
    assert result.returncode == 1
    assert result.stdout == ""
    assert f"{ws.bad}/p.yaml:5:26: error:" in result.stderr
    assert "run 'receiver check'" in result.stderr


def test_eval_bad_now_exits_2(results: dict[str, Result]) -> None:
    result = results["eval-bad-now"]
    assert result.returncode == 2
    assert "--now" in result.stderr
    assert "next tuesday" in result.stderr


def test_eval_missing_users_file_exits_2(results: dict[str, Result]) -> None:
    result = results["eval-missing-users"]
    assert result.returncode == 2
    assert "nobody.yaml: cannot read the users file" in result.stderr


# -- tree ------------------------------------------------------------------------------------


def test_tree_prints_a_switch_for_indexed_rules(results: dict[str, Result]) -> None:
    result = results["tree-switch"]
    assert result.returncode == 0, result.stderr
    assert "1 indexed switch" in result.stdout
    assert "switch on data.channelId (2 rules, 2 values)" in result.stdout
    assert "main/closed-a" in result.stdout
    assert "otherwise -> allow" in result.stdout


def test_tree_with_policy_errors_exits_1(results: dict[str, Result]) -> None:
    result = results["tree-bad"]
    assert result.returncode == 1
    assert "error:" in result.stderr


# -- help and version ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("help-check", ["--strict", "--format"]),
        ("help-eval", ["--users", "--now", "--explain", "PAYLOAD_FILE"]),
        ("help-tree", ["EVENT"]),
    ],
)
def test_each_command_has_help(results: dict[str, Result], name: str, options: list[str]) -> None:
    result = results[name]
    assert result.returncode == 0
    assert result.stdout.startswith("usage: receiver ")
    for option in options:
        assert option in result.stdout


@pytest.mark.parametrize("name", ["version", "version-script"])
def test_version_prints_package_version(results: dict[str, Result], name: str) -> None:
    result = results[name]
    assert result.returncode == 0
    assert result.stdout.strip() == f"receiver {__version__} ({build()})"
