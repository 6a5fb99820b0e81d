"""receiver/cli/helpformat.py: every command's ``--help`` shows each default once, as a
user would type it (no ``PosixPath(...)``, no list repr, no ``(default: None)``)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from receiver.cli import _parser, main
from receiver.cli.helpformat import Parser, ReadableDefaults, readable


def command_paths(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    """Every command line that reaches a parser: (), ("check",), ("bundle", "build"), ..."""
    paths = [path]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                paths += command_paths(sub, (*path, name))
    return paths


COMMAND_PATHS = command_paths(_parser())


def test_the_walk_finds_every_command_and_the_bundle_actions() -> None:
    assert ("check",) in COMMAND_PATHS
    assert ("test",) in COMMAND_PATHS
    assert ("serve",) in COMMAND_PATHS
    assert {("bundle", "build"), ("bundle", "inspect"), ("bundle", "keygen")} <= set(COMMAND_PATHS)


def help_text(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*path, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def option_entries(text: str) -> dict[str, str]:
    """The help of each argument (``--format {text,json}`` -> its help), on one line:
    an entry starts at two spaces of indent and runs until the next one."""
    entries: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if re.match(r"  \S", line):
            current = entries.setdefault(line.split("  ")[1].strip(), [])
            current.append(line)
        elif line.startswith("    ") and current is not None:
            current.append(line)
        else:
            current = None
    return {name: " ".join(" ".join(lines).split()) for name, lines in entries.items()}


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=lambda path: " ".join(path) or "receiver")
def test_every_help_shows_each_default_once_and_readably(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    text = help_text(path, capsys)
    assert "PosixPath(" not in text
    assert "WindowsPath(" not in text
    entries = option_entries(text)
    assert entries, text
    for name, entry in entries.items():
        said = re.findall(r"\bdefault:", entry, re.IGNORECASE)
        assert len(said) <= 1, f"{' '.join(path)} {name}: the default is said twice: {entry}"
        assert not re.search(r"default: [\[(]", entry), f"{name}: a list repr: {entry}"
        assert "(default: None)" not in entry, f"{name}: {entry}"
        assert "(default: False)" not in entry, f"{name}: {entry}"
        assert "(default: True)" not in entry, f"{name}: {entry}"


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=lambda path: " ".join(path) or "receiver")
def test_every_option_has_help(path: tuple[str, ...]) -> None:
    parser = _parser()
    for name in path:
        (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
        assert isinstance(parser, Parser)
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            assert action.help, f"{' '.join(path)}: {action.option_strings or action.dest}"


def test_the_default_policy_directory_reads_as_the_path(
    capsys: pytest.CaptureFixture[str],
) -> None:
    entries = option_entries(help_text(("check",), capsys))
    assert entries["DIR"].endswith("(default: policies)")
    entries = option_entries(help_text(("test",), capsys))
    assert entries["PATH"].endswith("(default: policies)")


def test_a_help_that_names_its_default_is_left_as_written(
    capsys: pytest.CaptureFixture[str],
) -> None:
    entries = option_entries(help_text(("send",), capsys))
    assert entries["--secret SECRET"] == (
        "--secret SECRET signing secret (default: $RECEIVER_SOCIALPLUS_SECRET, "
        "$RECEIVER_STREAM_SECRET or $RECEIVER_TWILIO_AUTH_TOKEN by platform; none: unsigned)"
    )


def parser_with(**kwargs: object) -> str:
    parser = Parser(prog="p")
    parser.add_argument("--x", **kwargs)  # type: ignore[arg-type]
    return " ".join(parser.format_help().split())


@pytest.mark.parametrize(
    ("kwargs", "shown"),
    [
        ({"default": 5, "help": "h"}, "h (default: 5)"),
        ({"default": 2.0, "help": "h"}, "h (default: 2)"),
        ({"default": Path("a/b"), "help": "h"}, "h (default: a/b)"),
        ({"default": [Path("a"), Path("b")], "help": "h"}, "h (default: a b)"),
        ({"default": "50%", "help": "h"}, "h (default: 50%)"),
        ({"default": None, "help": "h"}, "--x X h"),
        ({"default": [], "action": "append", "help": "h"}, "--x X h"),
        ({"action": "store_true", "help": "h"}, "--x h"),
        ({"default": 5, "help": "h (default: five)"}, "h (default: five)"),
    ],
)
def test_readable_defaults_formats_one_option(kwargs: dict[str, object], shown: str) -> None:
    text = parser_with(**kwargs)
    assert text.endswith(shown)
    assert text.count("default:") <= 1


def test_an_explicit_formatter_still_wins() -> None:
    parser = Parser(prog="p", formatter_class=argparse.RawTextHelpFormatter)
    assert parser.formatter_class is argparse.RawTextHelpFormatter
    assert Parser(prog="p").formatter_class is ReadableDefaults


@pytest.mark.parametrize(
    ("value", "text"),
    [(Path("policies"), "policies"), ((1, "a"), "1 a"), (0.5, "0.5"), (30.0, "30"), ("x", "x")],
)
def test_readable(value: object, text: str) -> None:
    assert readable(value) == text
