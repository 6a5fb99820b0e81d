"""Build hook: compile the receiver's request path to C with mypyc, for wheels only.

Every request runs the modules in :data:`COMPILED` (signatures, counters, rule
evaluation, metrics, the decision log). mypyc turns their type-annotated Python into
C extension modules that CPython imports in place of the ``.py`` files: the same code,
the same tests, and about two thirds of the CPU time per request (README, "Speed").
As black, mypy and charset-normalizer do it:

- an editable install (``pip install -e .``; hatchling calls :meth:`initialize` with
  ``version="editable"``) compiles nothing: what you edit is what runs, and installing
  takes seconds. Compiled modules an older build left in the checkout are removed,
  since Python would import them in place of the edited sources;
- a wheel (``pip install .``, ``python -m build``, the container image) compiles the
  request path by default, in a temporary directory (the checkout is not touched), and
  is tagged for this Python and platform;
- ``RECEIVER_PURE_PYTHON=1`` at build time opts out: a pure-Python wheel (a machine
  without a C compiler, a profiler that should see Python frames);
- when compiling fails (no C compiler, no Python headers), the wheel is built from
  source and one message says so.

``receiver --version`` says which build runs (``receiver.build()``).
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
PACKAGE = "receiver"
GROUP = "receiver_native"  # the group's shared library: receiver_native__mypyc*.so, at the root

# The modules of the request path, compiled as one group (calls between them are C calls).
COMPILED = (
    "adapters/signatures.py",
    "adapters/socialplus.py",
    "compile/calls.py",
    "compile/closures.py",
    "compile/compiler.py",
    "compile/counters.py",
    "compile/index.py",
    "compile/tree.py",
    "counters/memory.py",
    "counters/service.py",
    "dsl/analysis.py",
    "dsl/context.py",
    "dsl/functions.py",
    "dsl/links.py",
    "dsl/paths.py",
    "dsl/textfuncs.py",
    "dsl/times.py",
    "dsl/values.py",
    "http/endpoint.py",
    "http/metrics.py",
    "http/service.py",
    "observe/decisionlog.py",
    "observe/metric_types.py",
    "profanity/exact.py",
    "runtime/counters.py",
    "runtime/decide.py",
    "runtime/decision.py",
    "runtime/evaluator.py",
    "runtime/inputs.py",
    "runtime/payload.py",
    "runtime/trace.py",
    "text/jsoncodec.py",
    "text/re2search.py",
    "users/static.py",
)


# The build environment holds only the build requirements: the runtime dependencies'
# types are unknown there, so their values are compiled as plain objects (as they are
# anyway: mypyc compiles this package's code, never theirs).
MYPY_FLAGS = (
    "--ignore-missing-imports",
    "--no-warn-return-any",
    "--no-warn-unused-ignores",
    "--allow-subclassing-any",
    "--allow-untyped-calls",
    "--allow-untyped-decorators",
)


def _suffix() -> str:
    return str(sysconfig.get_config_var("EXT_SUFFIX"))


def leftovers(root: Path = ROOT) -> list[Path]:
    """Compiled modules in the checkout itself, left by the in-place builds of earlier
    versions of this hook (and their manifest): each would shadow its edited source."""
    found = sorted((root / PACKAGE).rglob(f"*{_suffix()}"))
    found.extend(sorted(root.glob(f"{GROUP}__mypyc*{_suffix()}")))
    found.append(root / PACKAGE / "_compiled.json")
    return [path for path in found if path.exists()]


def remove_leftovers(root: Path = ROOT) -> None:
    found = leftovers(root)
    for path in found:
        path.unlink()
    if found:
        print(
            f"receiver: removed {len(found)} compiled modules an earlier build left in the "
            "checkout; an editable install runs the Python source",
            file=sys.stderr,
        )


def compile_request_path(out: Path, root: Path = ROOT, *, jobs: int | None = None) -> Path:
    """Compile :data:`COMPILED` into ``out``; the directory holding the built files laid
    out as in the wheel (``receiver/http/service.<suffix>``, the group library at its top)."""
    from mypyc.build import mypycify  # noqa: PLC0415  (build requirements, not the package's)
    from setuptools import Distribution  # noqa: PLC0415
    from setuptools.command.build_ext import build_ext  # noqa: PLC0415

    sources = [f"{PACKAGE}/{path}" for path in COMPILED]
    cwd = Path.cwd()
    os.chdir(root)  # mypyc names the modules after their paths
    try:
        extensions = mypycify(
            [*MYPY_FLAGS, *sources], opt_level="3", multi_file=True, group_name=GROUP,
            target_dir=str(out / "c"),
        )  # fmt: skip
        dist = Distribution({"name": PACKAGE, "ext_modules": extensions})
        command = build_ext(dist)
        command.build_lib = str(out / "lib")
        command.build_temp = str(out / "o")
        command.parallel = jobs or os.cpu_count() or 1
        command.ensure_finalized()
        command.run()
    finally:
        os.chdir(cwd)
    return out / "lib"


try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # run by hand without hatchling
    BuildHookInterface = object  # type: ignore[assignment,misc]


class MypycHook(BuildHookInterface):  # type: ignore[misc,valid-type]
    PLUGIN_NAME = "custom"
    temp: str | None = None

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        remove_leftovers(root)
        if version == "editable" or os.environ.get("RECEIVER_PURE_PYTHON", "") not in ("", "0"):
            return
        self.temp = tempfile.mkdtemp(prefix="receiver-mypyc-")
        try:
            lib = compile_request_path(Path(self.temp), root)
        except Exception as err:  # no C compiler, no Python headers, a mypyc failure
            print(
                f"receiver: compiling the request path with mypyc failed ({err}); installing "
                "it as Python source, about 1.5 times the CPU time per request (README, Speed)",
                file=sys.stderr,
            )
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        for path in sorted(lib.rglob(f"*{_suffix()}")):
            build_data["force_include"][str(path)] = path.relative_to(lib).as_posix()

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if self.temp is not None:
            shutil.rmtree(self.temp, ignore_errors=True)
            self.temp = None


if __name__ == "__main__":
    if sys.argv[1:] != ["clean"]:
        sys.exit("usage: python hatch_build.py clean  (removes compiled modules from the checkout)")
    remove_leftovers()
