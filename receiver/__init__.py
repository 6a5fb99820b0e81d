"""receiver: a declarative rule-engine webhook receiver for trust-and-safety teams.

Policies are YAML files whose conditions are written in a small expression
language (``grammar/policy.lark``); they are checked and compiled once into
per-event decision trees, then evaluated against each pre-hook payload.

The package also says which build runs (:func:`build`): a wheel compiles
the request path with mypyc (``hatch_build.py``), an editable install runs the source.
Importing the package does no work for that; :func:`build` looks when asked.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from importlib.machinery import EXTENSION_SUFFIXES

__version__ = "0.1.0"

# A module of the request path that every compiled build compiles: when nothing of the
# package is loaded yet (`receiver --version`), where Python would load it from says the
# build, without running it.
PROBE = "receiver.text.jsoncodec"


def _compiled(file: object) -> bool:
    """Whether a module's file is an extension module (``.cpython-311-x86_64-linux-gnu.so``
    where the source's is ``.py``)."""
    return isinstance(file, str) and file.endswith(tuple(EXTENSION_SUFFIXES))


def build() -> str:
    """Which build runs in this process, in words: ``compiled with mypyc: N modules`` or
    ``Python source``.

    Decided by the file :data:`PROBE` was (or would be) loaded from: every module of the
    request path is compiled, or none is. N counts the extension modules installed in the
    package, the ones Python imports in place of their sources.
    """
    module = sys.modules.get(PROBE)
    if module is not None:
        file = getattr(module, "__file__", None)
    else:
        spec = importlib.util.find_spec(PROBE)  # imports receiver.text (a docstring) only
        file = spec.origin if spec is not None else None
    if not _compiled(file):
        return "Python source"
    package = os.path.dirname(__file__)
    count = sum(1 for _, _, files in os.walk(package) for file in files if _compiled(file))
    return f"compiled with mypyc: {count} modules"


def __getattr__(name: str) -> str:
    """``receiver.BUILD``: :func:`build`'s answer, looked up when read (.ci/run, benches)."""
    if name == "BUILD":
        return build()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
