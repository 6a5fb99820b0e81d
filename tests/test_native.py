"""The compiled request path (hatch_build.py, receiver/_native.py): used when current,
never when its source changed, all or nothing."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import receiver
from receiver import _native

SUFFIX = str(sysconfig.get_config_var("EXT_SUFFIX"))
PACKAGE = Path(receiver.__file__).resolve().parent
COMPILED = (PACKAGE / "_compiled.json").exists()
needs_compiled = pytest.mark.skipif(
    not COMPILED, reason="installed without compiling (RECEIVER_PURE_PYTHON=1)"
)


def _package(tmp_path: Path, sources: dict[str, bytes], built: dict[str, bytes]) -> Path:
    """A package folder whose manifest records ``built`` and whose files hold ``sources``."""
    package = tmp_path / "receiver"
    for relative, text in sources.items():
        path = package / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text)
        path.with_suffix(SUFFIX).write_bytes(b"")  # stands in for the extension module
    manifest = {rel: hashlib.sha256(text).hexdigest() for rel, text in built.items()}
    (package / "_compiled.json").write_text(json.dumps(manifest))
    return package


def test_current_compiled_modules_are_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECEIVER_PURE_PYTHON", raising=False)
    files = {"http/service.py": b"x = 1\n", "compile/counters.py": b"y = 2\n"}
    sources, reason = _native.state(_package(tmp_path, files, files))
    assert reason is None
    assert sources == {
        "receiver.http.service": tmp_path / "receiver/http/service.py",
        "receiver.compile.counters": tmp_path / "receiver/compile/counters.py",
    }


def test_one_changed_source_sends_every_listed_module_to_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RECEIVER_PURE_PYTHON", raising=False)
    built = {"http/service.py": b"x = 1\n", "compile/counters.py": b"y = 2\n"}
    package = _package(tmp_path, {**built, "compile/counters.py": b"y = 3\n"}, built)
    sources, reason = _native.state(package)
    assert reason == "receiver/compile/counters.py changed after it was compiled"
    assert set(sources) == {"receiver.http.service", "receiver.compile.counters"}


def test_a_missing_extension_or_the_variable_sends_them_to_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RECEIVER_PURE_PYTHON", raising=False)
    files = {"http/service.py": b"x = 1\n"}
    package = _package(tmp_path, files, files)
    monkeypatch.setenv("RECEIVER_PURE_PYTHON", "1")
    assert _native.state(package)[1] == "RECEIVER_PURE_PYTHON is set"
    monkeypatch.setenv("RECEIVER_PURE_PYTHON", "0")
    assert _native.state(package)[1] is None
    (package / "http/service.py").with_suffix(SUFFIX).unlink()
    assert (
        _native.state(package)[1]
        == "receiver/http/service.py has no compiled module for this Python"
    )


def test_without_a_manifest_nothing_was_compiled(tmp_path: Path) -> None:
    assert _native.state(tmp_path) == ({}, None)


@pytest.mark.skipif(
    os.environ.get("RECEIVER_EXPECT_COMPILED") != "1", reason="only where CI asks for it"
)
def test_ci_runs_the_compiled_request_path() -> None:
    assert COMPILED, "the install did not compile the request path (hatch_build.py)"
    assert receiver.BUILD.startswith("compiled with mypyc")


def _imports(root: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = (
        "import receiver, receiver.http.service, receiver.compile.compiler; "
        "print(receiver.BUILD); print(receiver.http.service.__file__); "
        "print(receiver.compile.compiler.__file__)"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env, "PYTHONPATH": str(root)},
        cwd=root, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip


@needs_compiled
def test_the_installed_request_path_is_compiled() -> None:
    done = _imports(PACKAGE.parent, {"RECEIVER_PURE_PYTHON": ""})
    build, service, compiler = done.stdout.splitlines()
    assert build.startswith("compiled with mypyc")
    assert service.endswith(SUFFIX)
    assert compiler.endswith(SUFFIX)


@needs_compiled
def test_an_edited_copy_runs_from_source_and_says_so(tmp_path: Path) -> None:
    shutil.copytree(PACKAGE, tmp_path / "receiver", ignore=shutil.ignore_patterns("__pycache__"))
    for group in PACKAGE.parent.glob(f"receiver_native__mypyc*{SUFFIX}"):
        shutil.copy(group, tmp_path)
    (tmp_path / "grammar").symlink_to(PACKAGE.parent / "grammar")
    edited = tmp_path / "receiver/compile/compiler.py"
    edited.write_text(edited.read_text() + "\n# an edit after the build\n")
    done = _imports(tmp_path, {"RECEIVER_PURE_PYTHON": ""})
    build, service, compiler = done.stdout.splitlines()
    assert build == "Python source (receiver/compile/compiler.py changed after it was compiled)"
    assert service == str(tmp_path / "receiver/http/service.py")  # unchanged, but not compiled
    assert compiler == str(edited)
    assert "receiver/compile/compiler.py changed after it was compiled" in done.stderr
    assert "pip install -e ." in done.stderr
