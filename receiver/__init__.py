"""receiver: a declarative rule-engine webhook receiver for trust-and-safety teams.

Policies are YAML files whose conditions are written in a small expression
language (``grammar/policy.lark``); they are checked and compiled once into
per-event decision trees, then evaluated against each pre-hook payload.

The package also says which build runs (:func:`build`): a wheel compiles
the request path with mypyc (``hatch_build.py``), an editable install runs the source.
Importing the package does no work for that; :func:`build` looks when asked.
"""

from __future__ import annotations

import importlib
import os
import sys
from importlib.machinery import EXTENSION_SUFFIXES

__version__ = "0.1.0"

# A module of every request path that every compiled build compiles, and cheap to import
# (json and orjson): what `receiver --version` loads to see the build.
PROBE = "receiver.text.jsoncodec"


def _compiled(file: object) -> bool:
    """Whether a module's file is an extension module (``.cpython-311-x86_64-linux-gnu.so``
    where the source's is ``.py``)."""
    return isinstance(file, str) and file.endswith(tuple(EXTENSION_SUFFIXES))


def build() -> str:
    """Which build runs in this process, in words: ``compiled with mypyc: N modules`` or
    ``Python source``.

    Decided by the loaded modules of the package (the request path once the service has
    started; :data:`PROBE` at least, loaded here if nothing else is): compiled when they
    are extension modules. N counts the extension modules installed in the package, the
    ones Python imports in place of their sources.
    """
    if PROBE not in sys.modules:
        importlib.import_module(PROBE)
    loaded = [
        module
        for name, module in list(sys.modules.items())
        if name == __name__ or name.startswith(f"{__name__}.")
    ]
    if not any(_compiled(getattr(module, "__file__", None)) for module in loaded):
        return "Python source"
    package = os.path.dirname(__file__)
    count = sum(1 for _, _, files in os.walk(package) for file in files if _compiled(file))
    return f"compiled with mypyc: {count} modules"


def __getattr__(name: str) -> str:
    """``receiver.BUILD``: :func:`build`'s answer, looked up when read (.ci/run, benches)."""
    if name == "BUILD":
        return build()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
