"""The container image's recipe (``Containerfile``, ``.containerignore``), checked without
building it: the build context holds what building the wheel reads and nothing else, the
final stage runs the service as docs/deploy.md says, and the image's HEALTHCHECK
command answers as a health check should against a real ``receiver serve``.

``deploy/container/smoke.sh`` builds and runs the image itself (podman, buildah,
mmdebstrap; minutes, root): docs/deploy.md, "Container image".
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from serverproc import free_port, launcher

from receiver.http.settings import DEFAULT_PORT

ROOT = Path(__file__).resolve().parents[1]
CONTAINERFILE = ROOT / "Containerfile"
IGNORE = ROOT / ".containerignore"
SMOKE = ROOT / "deploy" / "container" / "smoke.sh"


def _instructions(text: str) -> list[tuple[str, str]]:
    """The Containerfile's instructions, as (KEYWORD, arguments), continuation lines
    joined and comments left out."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    result = []
    for line in lines:
        keyword, _, rest = line.partition(" ")
        result.append((keyword.upper(), rest.strip()))
    return result


INSTRUCTIONS = _instructions(CONTAINERFILE.read_text(encoding="utf-8"))
FINAL = INSTRUCTIONS[max(i for i, (k, _) in enumerate(INSTRUCTIONS) if k == "FROM") :]
BUILD = INSTRUCTIONS[: len(INSTRUCTIONS) - len(FINAL)]


def _final(keyword: str) -> list[str]:
    return [rest for k, rest in FINAL if k == keyword]


def _exec_form(keyword: str) -> list[str]:
    (rest,) = _final(keyword)
    value = json.loads(rest[rest.index("[") :])
    assert isinstance(value, list)
    return [str(item) for item in value]


def _inputs_of_the_wheel() -> set[str]:
    """The top-level paths that building the wheel reads, from pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]
    paths = {"pyproject.toml", "hatch_build.py", project["project"]["readme"]}
    paths.update(wheel["packages"])
    paths.update(source.split("/")[0] for source in wheel["force-include"])
    return paths


def test_the_build_context_holds_what_building_the_wheel_reads() -> None:
    allowed = {
        line[1:].rstrip("/")
        for line in IGNORE.read_text(encoding="utf-8").splitlines()
        if line.startswith("!")
    }
    copied = {
        word.rstrip("/")
        for keyword, rest in BUILD
        if keyword == "COPY"
        for word in rest.split()[:-1]
        if not word.startswith("--")
    }
    for path in _inputs_of_the_wheel():
        assert path in allowed, f".containerignore leaves {path} out of the build context"
        assert path in copied, f"the Containerfile's build stage does not COPY {path}"


def test_the_build_context_leaves_out_everything_else() -> None:
    """An allowlist: a checkout's .git, venvs, caches and stray files never reach it."""
    lines = [
        line
        for line in IGNORE.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == _inputs_of_the_wheel()
    for cache in ("**/__pycache__", "**/*.so", "receiver/_compiled.json"):
        assert cache in lines


def test_the_base_image_is_a_build_argument_defaulting_to_the_official_python_slim() -> None:
    (arg,) = [rest for keyword, rest in INSTRUCTIONS if keyword == "ARG" and "BASE" in rest]
    assert re.fullmatch(r"BASE=docker\.io/library/python:3\.1\d-slim-\w+", arg)
    froms = [rest for keyword, rest in INSTRUCTIONS if keyword == "FROM"]
    assert froms == ["${BASE} AS build", "${BASE}"]


def test_the_final_stage_runs_the_service_as_a_non_root_numeric_user() -> None:
    (user,) = _final("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0
    assert gid.isdigit() and int(gid) != 0
    assert _exec_form("ENTRYPOINT") == ["receiver"]
    assert _exec_form("CMD") == ["serve", "--host", "0.0.0.0"]
    assert _final("EXPOSE") == [str(DEFAULT_PORT)]
    assert _final("STOPSIGNAL") == ["SIGTERM"]
    env = " ".join(_final("ENV"))
    assert "PYTHONUNBUFFERED=1" in env


def test_the_final_stage_installs_nothing() -> None:
    """The compiler and pip stay in the build stage: the final one copies the venv."""
    for keyword, rest in FINAL:
        if keyword == "RUN":
            assert not re.search(r"\b(apt-get|apt|pip|gcc|build)\b", rest), rest
    assert _final("COPY") == ["--from=build /opt/receiver /opt/receiver"]


def _healthcheck() -> list[str]:
    (rest,) = _final("HEALTHCHECK")
    assert " CMD " in f" {rest}"
    return _exec_form("HEALTHCHECK")


def test_the_health_check_asks_readyz_on_the_default_port() -> None:
    command = _healthcheck()
    assert command[0] == "python3"  # slim images have no curl
    assert f"http://127.0.0.1:{DEFAULT_PORT}/readyz" in command[-1]


def _run_healthcheck(url: str) -> int:
    command = _healthcheck()
    env = {**os.environ, "RECEIVER_HEALTHCHECK_URL": url}
    done = subprocess.run(
        [sys.executable, *command[1:]], env=env, capture_output=True, timeout=30, check=False
    )
    return done.returncode


def test_the_health_check_passes_on_a_ready_service_and_fails_without_one(
    tmp_path: Path,
) -> None:
    with launcher(tmp_path) as launch:
        server = launch(secret="s3cret")
        assert _run_healthcheck(f"{server.base}/readyz") == 0
        assert _run_healthcheck(f"{server.base}/no-such-endpoint") != 0
    assert _run_healthcheck(f"http://127.0.0.1:{free_port()}/readyz") != 0


def test_the_smoke_script_is_bash_that_parses() -> None:
    assert os.access(SMOKE, os.X_OK)
    text = SMOKE.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    done = subprocess.run(["bash", "-n", str(SMOKE)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", ["docs/deploy.md"])
def test_the_docs_name_the_pinned_parts_of_the_image(name: str) -> None:
    text = (ROOT / name).read_text(encoding="utf-8")
    assert "## Container image" in text
    (user,) = _final("USER")
    assert user.partition(":")[0] in text
    assert "RECEIVER_HEALTHCHECK_URL" in text
    assert "deploy/container/smoke.sh" in text


def test_docker_reads_the_same_ignore_file() -> None:
    docker = ROOT / ".dockerignore"
    assert docker.is_symlink()
    assert os.readlink(docker) == ".containerignore"
