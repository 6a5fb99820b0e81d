"""Whether the request path runs compiled (mypyc) or from its Python source.

``hatch_build.py`` compiles the modules of the request path in place, when the package
is installed, and records each source's SHA-256 in ``_compiled.json``. A compiled module
whose source changed after that (an edit in a checkout, a ``git pull``) would run old
code, so it is not used. Compiled modules call each other directly, which makes it all
or nothing: when any listed source differs or its extension module is missing, every
listed module is imported from its source, and that is said once on stderr. Setting
``RECEIVER_PURE_PYTHON=1`` does the same on purpose (a profiler that should see Python
frames, a debugger).

Imported by the package's ``__init__``, before any listed module.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
MANIFEST = "_compiled.json"  # in the package, written by hatch_build.py


class SourceFinder:
    """Finds the listed modules as source files, ahead of their extension modules."""

    def __init__(self, sources: dict[str, Path]) -> None:
        self.sources = sources

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> ModuleSpec | None:
        source = self.sources.get(fullname)
        if source is None:
            return None
        return importlib.util.spec_from_file_location(fullname, source)


def _module_name(relative: str) -> str:
    return "receiver." + relative.removesuffix(".py").replace("/", ".")


def state(package_dir: Path = PACKAGE_DIR) -> tuple[dict[str, Path], str | None]:
    """The listed modules' sources, and why they must run from source (None: they may
    run compiled). No manifest: nothing was compiled, and there is nothing to do."""
    manifest = package_dir / MANIFEST
    try:
        listed: dict[str, str] = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, None
    sources = {_module_name(rel): package_dir / rel for rel in listed}
    if os.environ.get("RECEIVER_PURE_PYTHON", "") not in ("", "0"):
        return sources, "RECEIVER_PURE_PYTHON is set"
    suffix = EXTENSION_SUFFIXES[0]  # this interpreter's tagged one, as the build made
    for relative, digest in sorted(listed.items()):
        source = package_dir / relative
        if not source.with_suffix(suffix).exists():
            return sources, f"receiver/{relative} has no compiled module for this Python"
        try:
            current = hashlib.sha256(source.read_bytes()).hexdigest()
        except FileNotFoundError:
            current = ""
        if current != digest:
            return sources, f"receiver/{relative} changed after it was compiled"
    return sources, None


def install(package_dir: Path = PACKAGE_DIR) -> str:
    """Decide for this process (see the module docstring); what runs, in words."""
    sources, reason = state(package_dir)
    if not sources:
        return "Python source (not compiled at install)"
    if reason is None:
        return f"compiled with mypyc ({len(sources)} modules of the request path)"
    sys.meta_path.insert(0, SourceFinder(sources))
    if not reason.startswith("RECEIVER_PURE_PYTHON"):
        print(
            f"receiver: {reason}; running the request path from its Python source, "
            "slower than compiled, until `python -m pip install -e .` compiles it again",
            file=sys.stderr,
        )
    return f"Python source ({reason})"


RUNNING = install()
