"""Build hook: compile the receiver's request path to C with mypyc.

Every request runs the modules in :data:`COMPILED` (signatures, counters, rule
evaluation, metrics, the decision log). mypyc turns their type-annotated Python into
C extension modules that CPython imports in place of the ``.py`` files: the same code,
the same tests, and about two thirds of the CPU time per request (README, "Speed"). The
build runs for wheels and for editable installs (``pip install -e``), in place, so that
``receiver serve`` from a checkout is the compiled service.

- ``RECEIVER_PURE_PYTHON=1`` skips compiling (and removes earlier compiled modules):
  a machine without a C compiler, or a debugging session that wants plain Python;
- a compiled module whose source changed after the build is not used: the package's
  ``__init__`` then imports every listed module from source and says so once
  (``receiver/_native.py``), until the next ``pip install -e .`` compiles them again;
- an in-place build of exactly today's sources is reused (building the wheel of an
  installed checkout, installing it again);
- ``python hatch_build.py`` compiles in place by hand.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
PACKAGE = "receiver"
MANIFEST = "_compiled.json"  # in the package: each compiled module's source hash
GROUP = "receiver_native"  # the group's shared library: receiver_native__mypyc*.so, at the root

# The modules of the request path, compiled as one group (calls between them are C calls).
COMPILED = (
    "adapters/socialplus.py",
    "compile/calls.py",
    "compile/closures.py",
    "compile/compiler.py",
    "compile/index.py",
    "dsl/analysis.py",
    "dsl/paths.py",
    "dsl/context.py",
    "counters/memory.py",
    "compile/counters.py",
    "counters/service.py",
    "runtime/decision.py",
    "observe/decisionlog.py",
    "dsl/functions.py",
    "dsl/textfuncs.py",
    "dsl/times.py",
    "http/endpoint.py",
    "runtime/evaluator.py",
    "text/jsoncodec.py",
    "observe/metric_types.py",
    "http/metrics.py",
    "runtime/counters.py",
    "runtime/payload.py",
    "profanity/exact.py",
    "text/re2search.py",
    "http/service.py",
    "adapters/signatures.py",
    "compile/tree.py",
    "users/static.py",
    "dsl/values.py",
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


def compiled_files(root: Path = ROOT) -> list[Path]:
    """The extension modules (of this or an earlier module list) and the manifest that
    an in-place build leaves."""
    found = sorted((root / PACKAGE).rglob(f"*{_suffix()}"))
    found.extend(root.glob(f"{GROUP}__mypyc*{_suffix()}"))
    found.append(root / PACKAGE / MANIFEST)
    return [path for path in found if path.exists()]


def clean(root: Path = ROOT) -> None:
    for path in compiled_files(root):
        path.unlink()


def source_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def compile_in_place(root: Path = ROOT, *, jobs: int | None = None) -> list[Path]:
    """Compile :data:`COMPILED` next to their sources; the files made."""
    from mypyc.build import mypycify  # noqa: PLC0415  (build requirements, not the package's)
    from setuptools import Distribution  # noqa: PLC0415
    from setuptools.command.build_ext import build_ext  # noqa: PLC0415

    clean(root)
    sources = [f"{PACKAGE}/{path}" for path in COMPILED]
    cwd = Path.cwd()
    with tempfile.TemporaryDirectory() as temp:
        os.chdir(root)
        try:
            extensions = mypycify(
                [*MYPY_FLAGS, *sources], opt_level="3", multi_file=True, group_name=GROUP,
                target_dir=str(Path(temp) / "c"),
            )  # fmt: skip
            dist = Distribution({"name": PACKAGE, "ext_modules": extensions})
            command = build_ext(dist)
            command.inplace = True
            command.build_temp = str(Path(temp) / "o")
            command.parallel = jobs or os.cpu_count() or 1
            command.ensure_finalized()
            command.run()
        finally:
            os.chdir(cwd)
    manifest = {path: source_digest(root / PACKAGE / path) for path in COMPILED}
    (root / PACKAGE / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return compiled_files(root)


def is_current(root: Path = ROOT) -> bool:
    """Whether an earlier in-place build compiled exactly today's sources of
    :data:`COMPILED` for this Python (a wheel built from an installed checkout reuses it)."""
    package = root / PACKAGE
    try:
        built = json.loads((package / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    if set(built) != set(COMPILED) or not list(root.glob(f"{GROUP}__mypyc*{_suffix()}")):
        return False
    return all(
        (package / path).with_suffix(_suffix()).exists()
        and built[path] == source_digest(package / path)
        for path in COMPILED
    )


try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # run by hand without hatchling
    BuildHookInterface = object  # type: ignore[assignment,misc]


class MypycHook(BuildHookInterface):  # type: ignore[misc,valid-type]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        if os.environ.get("RECEIVER_PURE_PYTHON", "") not in ("", "0"):
            clean(root)
            return
        try:
            made = compiled_files(root) if is_current(root) else compile_in_place(root)
        except Exception as err:  # no C compiler, no Python headers, a mypyc failure
            clean(root)
            print(
                f"receiver: compiling the request path with mypyc failed ({err}); installing "
                "it as Python source, about 1.5 times the CPU time per request (README, Speed)",
                file=sys.stderr,
            )
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        for path in made:
            if path.parent == root:  # the group's shared library, outside the package
                build_data["force_include"][str(path)] = path.name
            else:
                build_data["artifacts"].append(f"/{path.relative_to(root).as_posix()}")


if __name__ == "__main__":
    if sys.argv[1:] == ["clean"]:
        clean()
    else:
        for made in compile_in_place():
            print(made.relative_to(ROOT))
