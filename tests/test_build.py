"""The two builds (hatch_build.py, receiver.build): an editable install runs the source,
with no import hook and nothing read at import; a wheel compiles the request path unless
RECEIVER_PURE_PYTHON=1; ``receiver --version`` says which build runs."""

from __future__ import annotations

import ast
import importlib.util
import io
import os
import subprocess
import sys
import sysconfig
from contextlib import redirect_stdout
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

import receiver
from receiver import __version__, build
from receiver.cli import main

ROOT = Path(__file__).resolve().parent.parent  # the checkout these tests come from
SUFFIX = str(sysconfig.get_config_var("EXT_SUFFIX"))
PACKAGE = Path(receiver.__file__).resolve().parent
EDITABLE = PACKAGE == ROOT / "receiver"  # else: an installed wheel (.ci/run)
WEB_STACK = ("starlette", "uvicorn", "httpx", "redis", "receiver.http.service")


def _hook_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hatch_build", ROOT / "hatch_build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hatch_build = _hook_module()


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )


# -- which build runs ------------------------------------------------------------------------


def test_version_says_which_build_runs() -> None:
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert out.getvalue() == f"receiver {__version__} ({build()})\n"


def test_the_build_is_what_the_loaded_modules_are() -> None:
    probe = sys.modules[receiver.PROBE]  # loaded by build() if nothing had loaded it
    said = build()
    if str(probe.__file__).endswith(SUFFIX):
        assert said.startswith("compiled with mypyc: ")
        assert int(said.removeprefix("compiled with mypyc: ").split()[0]) == len(
            hatch_build.COMPILED
        )
    else:
        assert said == "Python source"


def test_build_attribute_is_the_same_answer() -> None:
    assert build() == receiver.BUILD
    with pytest.raises(AttributeError, match="NO_SUCH"):
        _ = receiver.NO_SUCH


def test_looking_at_the_build_imports_no_web_stack() -> None:
    done = _python(
        "import sys, receiver; print(receiver.build()); "
        f"print([name for name in {WEB_STACK!r} if name in sys.modules])"
    )
    said, loaded = done.stdout.splitlines()
    assert said == build()
    assert loaded == "[]"


# -- the editable install: source, no import hook, nothing read at import --------------------


@pytest.mark.skipif(not EDITABLE, reason="runs from an installed wheel")
def test_the_editable_install_runs_the_source() -> None:
    assert build() == "Python source"
    assert not list(PACKAGE.rglob(f"*{SUFFIX}"))


def test_no_import_hook_is_installed() -> None:
    done = _python(
        "import sys; before = list(sys.meta_path); "
        "import receiver, receiver.runtime.evaluator, receiver.http.service; "
        "print([repr(f) for f in sys.meta_path if f not in before])"
    )
    assert done.stdout.strip() == "[]"


def test_importing_the_package_reads_no_sources() -> None:
    # An audit hook sees every file opened: importing the package opens its __init__
    # (source or cached bytecode) and nothing else of the package; no source is hashed.
    done = _python(
        "import sys\n"
        "opened = []\n"
        "sys.addaudithook(lambda event, args: opened.append(str(args[0]))"
        " if event == 'open' and isinstance(args[0], str) else None)\n"
        "import receiver\n"
        "package = receiver.__path__[0]\n"
        "print(sorted({p for p in opened if p.startswith(package)}))\n"
        "print(sorted(m for m in sys.modules if m.startswith('receiver')))\n"
    )
    opened, modules = done.stdout.splitlines()
    files = ast.literal_eval(opened)
    assert all(Path(file).name.startswith("__init__") for file in files), files
    assert modules == "['receiver']"


# -- the build hook --------------------------------------------------------------------------


def _hook(root: Path) -> Any:
    """A stand-in for hatchling's hook object: the attributes initialize/finalize read."""
    return SimpleNamespace(target_name="wheel", root=str(root), temp=None)


def _leftovers(root: Path) -> list[Path]:
    """Compiled modules as the in-place builds of earlier versions left them."""
    made = [
        root / "receiver/http" / f"service{SUFFIX}",
        root / f"receiver_native__mypyc{SUFFIX}",
        root / "receiver/_compiled.json",
    ]
    for path in made:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    (root / "receiver/http/service.py").write_text("x = 1\n")
    return made


def _empty_build_data() -> dict[str, Any]:
    return {"force_include": {}, "artifacts": []}


def test_an_editable_build_compiles_nothing_and_removes_old_compiled_modules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RECEIVER_PURE_PYTHON", raising=False)
    monkeypatch.setattr(hatch_build, "compile_request_path", _must_not_compile)
    made = _leftovers(tmp_path)
    data = _empty_build_data()
    hatch_build.MypycHook.initialize(_hook(tmp_path), "editable", data)
    assert data == _empty_build_data()
    assert not any(path.exists() for path in made)
    assert (tmp_path / "receiver/http/service.py").exists()
    assert "removed 3 compiled modules" in capsys.readouterr().err


def test_the_opt_out_builds_a_pure_python_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECEIVER_PURE_PYTHON", "1")
    monkeypatch.setattr(hatch_build, "compile_request_path", _must_not_compile)
    data = _empty_build_data()
    hatch_build.MypycHook.initialize(_hook(tmp_path), "standard", data)
    assert data == _empty_build_data()


def test_a_wheel_carries_the_compiled_modules_where_the_package_has_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECEIVER_PURE_PYTHON", "0")  # "0" does not opt out

    def compile_request_path(out: Path, root: Path) -> Path:
        assert root == tmp_path
        for relative in (f"receiver/http/service{SUFFIX}", f"receiver_native__mypyc{SUFFIX}"):
            (out / "lib" / relative).parent.mkdir(parents=True, exist_ok=True)
            (out / "lib" / relative).write_bytes(b"")
        return out / "lib"

    monkeypatch.setattr(hatch_build, "compile_request_path", compile_request_path)
    hook, data = _hook(tmp_path), _empty_build_data()
    hatch_build.MypycHook.initialize(hook, "standard", data)
    lib = Path(hook.temp) / "lib"
    assert data["pure_python"] is False
    assert data["infer_tag"] is True
    assert data["force_include"] == {
        str(lib / f"receiver/http/service{SUFFIX}"): f"receiver/http/service{SUFFIX}",
        str(lib / f"receiver_native__mypyc{SUFFIX}"): f"receiver_native__mypyc{SUFFIX}",
    }
    assert not list(tmp_path.rglob(f"*{SUFFIX}"))  # built outside the checkout
    hatch_build.MypycHook.finalize(hook, "standard", data, "receiver.whl")
    assert not lib.exists()


def test_a_failed_compile_builds_from_source_with_one_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RECEIVER_PURE_PYTHON", raising=False)

    def compile_request_path(out: Path, root: Path) -> Path:
        raise OSError("command 'cc' failed: No such file or directory")

    monkeypatch.setattr(hatch_build, "compile_request_path", compile_request_path)
    hook, data = _hook(tmp_path), _empty_build_data()
    hatch_build.MypycHook.initialize(hook, "standard", data)
    assert data == _empty_build_data()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "compiling the request path with mypyc failed (command 'cc' failed" in err[0]
    assert "as Python source" in err[0]
    temp = Path(hook.temp)
    hatch_build.MypycHook.finalize(hook, "standard", data, "receiver.whl")
    assert not temp.exists()


def _must_not_compile(out: Path, root: Path) -> Path:
    raise AssertionError("compiled where it should not")


# -- the installed wheel (.ci/run) -----------------------------------------------------------


@pytest.mark.skipif(
    os.environ.get("RECEIVER_EXPECT_COMPILED") != "1", reason="only where CI asks for it"
)
def test_ci_runs_the_installed_compiled_wheel() -> None:
    assert not EDITABLE, f"receiver is imported from the checkout ({PACKAGE})"
    assert build().startswith("compiled with mypyc: ")
    import receiver.http.service  # noqa: PLC0415  (the request path, once the service runs)
    import receiver.runtime.evaluator  # noqa: PLC0415

    for module in (receiver.http.service, receiver.runtime.evaluator):
        assert str(module.__file__).endswith(SUFFIX), module.__file__
