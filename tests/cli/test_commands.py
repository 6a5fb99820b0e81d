"""The command table of receiver/cli/__init__.py: every command is reachable, the
parser holds the options of the named command only, and the top-level help and usage
errors are what they were when every command was built up front."""

from __future__ import annotations

import argparse
import sys

import pytest

from receiver.cli import COMMANDS, _parser, command, main
from receiver.cli.send import hook_url

HELP = {  # the start of each command's help line (argparse wraps the rest to the terminal)
    "check": "check policy files and report",
    "eval": "decide one payload (or, with",
    "serve": "run the HTTP service (POST",
    "register": "set the social.plus pre-hook",
    "send": "sign a payload as the platform",
    "tree": "print the compiled decision",
    "test": "run policy test files",
    "bundle": "build, sign and inspect policy",
    "replay": "decide recorded events again",
    "console": "serve the policy console",
}


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_module_adds_its_parser_and_runs(name: str) -> None:
    module = command(name)
    assert callable(module.add_parser)
    assert callable(module.run)
    assert name in subcommands(_parser())


def test_the_commands_are_listed_in_the_order_of_the_table() -> None:
    assert list(subcommands(_parser())) == list(COMMANDS)
    assert list(COMMANDS) == [
        "check", "eval", "serve", "register", "send", "tree", "test", "bundle", "schema",
        "diff", "replay", "console",
    ]  # fmt: skip


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_parser_of_a_named_command_holds_only_its_options(name: str) -> None:
    parsers = subcommands(_parser([name, "--help"]))
    assert set(parsers) == set(COMMANDS)
    for other, parser in parsers.items():
        options = [a for a in parser._actions if a.option_strings]
        if other == name:
            assert options, f"{name} has no options"
        else:
            assert options == [], f"{other} was built for {name}"


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_the_top_level_help_lists_every_command_with_its_help(
    flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([flag])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: receiver [-h] [--version] COMMAND ...")
    for name, text in HELP.items():
        assert f"    {name}" in out
        assert text in out


def test_help_before_a_command_is_the_top_level_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["-h", "eval"])
    out = capsys.readouterr().out
    assert all(text in out for text in HELP.values())


def test_an_unknown_command_names_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["nope"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'nope'" in err
    assert ", ".join(f"'{name}'" for name in COMMANDS) in err


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    assert "the following arguments are required: COMMAND" in capsys.readouterr().err


def test_main_reads_sys_argv_without_arguments(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["receiver", "tree", "--help"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("usage: receiver tree ")


def test_the_serve_flags_parse_as_before() -> None:
    """Other tests build the service's settings from ``_parser().parse_args``: the
    namespace holds the command and its own options, nothing else."""
    args = _parser().parse_args(["serve", "--port", "9000"])
    assert args.command == "serve"
    assert args.port == 9000
    assert "help" not in vars(args)
    assert not any(callable(v) for v in vars(args).values())


@pytest.mark.parametrize(
    ("url", "platform", "posted"),
    [
        ("http://127.0.0.1:8080", "socialplus", "http://127.0.0.1:8080/hooks/socialplus"),
        ("http://127.0.0.1:8080/", "stream", "http://127.0.0.1:8080/hooks/stream"),
        ("https://h.example/?x=1", "twilio", "https://h.example/hooks/twilio?x=1"),
        ("http://h:1/custom/path", "stream", "http://h:1/custom/path"),
        (
            "http://127.0.0.1:8080/hooks/socialplus",
            "twilio",
            "http://127.0.0.1:8080/hooks/socialplus",
        ),
    ],
)
def test_send_posts_to_the_platforms_hook_path_when_the_url_has_no_path(
    url: str, platform: str, posted: str
) -> None:
    assert hook_url(url, platform) == posted
