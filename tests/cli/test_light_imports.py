"""``receiver check``, ``eval``, ``tree``, ``test`` and ``diff`` load no web server, HTTP client or
Redis client (receiver/cli/__init__.py): checked at run time, each command in a fresh
interpreter, by listing what it left in ``sys.modules``.

The import-linter contract in pyproject.toml checks the same statically; this test
also covers what a static graph cannot see, such as the command table's lazy imports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
PAYLOADS = ROOT / "examples" / "payloads"
DIFF = ROOT / "tests" / "data" / "diff"

HEAVY = (
    "starlette",
    "uvicorn",
    "httpx",
    "httpcore",
    "redis",
    "watchfiles",
    "prometheus_client",
    "receiver.http",
    "receiver.client",
    "receiver.users.directory",
    "receiver.counters.redis_backend",
)

# Runs one command as the console script does, then prints the heavy modules loaded.
PROBE = """
import json, sys
from receiver.cli import main
argv, heavy = json.loads(sys.argv[1]), tuple(json.loads(sys.argv[2]))
try:
    code = main(argv)
except SystemExit as exc:
    code = exc.code
loaded = sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy))
sys.stderr.write("\\nPROBE " + json.dumps({"code": code, "loaded": loaded}) + "\\n")
"""

PAYLOAD = str(PAYLOADS / "message-create-profanity-v5.json")
LINES = "\n".join(
    json.dumps(json.loads(path.read_text(encoding="utf-8")))
    for path in sorted(PAYLOADS.glob("*.json"))[:5]
)

COMMANDS: dict[str, tuple[list[str], str]] = {
    "version": (["--version"], ""),
    "check": (["check", str(POLICIES)], ""),
    "eval": (["eval", str(POLICIES), PAYLOAD, "--explain"], ""),
    "eval-jsonl": (["eval", str(POLICIES), "-", "--jsonl"], LINES + "\n"),
    "tree": (["tree", str(POLICIES), "message.shouldCreate"], ""),
    "test": (["test", str(POLICIES / "shouting.test.yaml")], ""),
    "schema": (["schema", "policy"], ""),
    "diff": (
        [
            "diff",
            str(DIFF / "old"),
            str(DIFF / "new"),
            str(DIFF / "records.jsonl"),
            "--format",
            "html",
            "-o",
            os.devnull,
        ],
        "",
    ),
    "replay": (["replay", str(POLICIES), str(ROOT / "tests/data/replay/records.jsonl")], ""),
}


def probe(argv: list[str], stdin: str, heavy: tuple[str, ...] = HEAVY) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv), json.dumps(heavy)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    line = done.stderr.rstrip().rsplit("\n", 1)[-1]
    assert line.startswith("PROBE "), done.stderr
    result: dict[str, object] = json.loads(line.removeprefix("PROBE "))
    return result


@pytest.fixture(scope="module")
def probes() -> dict[str, dict[str, object]]:
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {name: pool.submit(probe, *command) for name, command in COMMANDS.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_command_succeeds_without_loading_the_web_stack(
    probes: dict[str, dict[str, object]], name: str
) -> None:
    result = probes[name]
    assert result["code"] == 0, result
    assert result["loaded"] == [], f"receiver {' '.join(COMMANDS[name][0])} loaded them"


def test_the_probe_sees_a_command_that_loads_the_web_stack() -> None:
    """The same probe on ``serve --help``, which needs the service's settings, lists them:
    the empty lists above are not the probe failing to look."""
    result = probe(["serve", "--help"], "")
    assert result["code"] == 0
    loaded = result["loaded"]
    assert isinstance(loaded, list)
    assert "uvicorn" in loaded
    assert "httpx" in loaded


def test_version_loads_no_stage_of_the_engine() -> None:
    """``receiver --version`` needs the command table only: no parser, no YAML, no stage."""
    stages = ("lark", "yaml", "orjson", "receiver.dsl", "receiver.runtime", "re2")
    result = probe(["--version"], "", stages)
    assert result == {"code": 0, "loaded": []}
    modules = ("receiver.text.jsoncodec", "receiver.text.source", "receiver.text.diagnostics")
    assert probe(["--version"], "", modules) == {"code": 0, "loaded": []}
