"""The console's workspace: the policy folder it edits, the examples it offers, saving.

Stage: the edge (the console; the only module of it that touches files). Consumes the
policy folder given to ``receiver console``; produces ``GET /api/workspace``'s answer (the
folder's policy files, the example payloads, the users file, the time, the revision,
whether saving is on) and writes a set of files into the folder for ``POST /api/save``.

The example payloads and users are those beside the policy folder (``../examples/payloads/
*.json``, the brainCloud envelopes of ``../examples/braincloud/*.json`` named
``braincloud/NAME.json``, and ``../examples/users.yaml``), or else the shipped ones (in the
wheel, or in the checkout). The console edits the policy files at the top of the folder (the shipped
layout); saving writes each file whole and atomically (a temporary file in the folder,
then a rename), and never a name that is not a plain policy file name.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from receiver.console.sources import valid_name
from receiver.dsl import times
from receiver.load.loader import MAX_POLICY_FILE_BYTES
from receiver.runtime.policyset import Source, revision_of_sources

MAX_EXAMPLE_BYTES = 256 * 1024


CONSOLE_FEATURES = ("playground", "tests", "reports")  # receiver console
SERVE_FEATURES = ("playground", "tests", "explorer", "health")  # receiver serve --console


@dataclass(frozen=True, slots=True)
class Workspace:
    policies: Path
    examples: Path | None  # the folder holding payloads/ and users.yaml
    can_save: bool
    reports: Path | None = None  # --reports DIR: the `receiver diff` reports listed (read only)
    # serve --console: the serving revision's files (read-only), instead of the folder's
    served: Callable[[], list[Source]] | None = None
    # the policies came from a bundle (shown as this): read only, and no test files, since
    # a bundle holds policy files only
    bundle: str | None = None

    @classmethod
    def at(cls, policies: Path, *, can_save: bool, reports: Path | None = None) -> Workspace:
        return cls(policies, find_examples(policies), can_save, reports)

    @classmethod
    def of_bundle(cls, policies: Path, shown: str, *, reports: Path | None = None) -> Workspace:
        """The workspace of ``receiver console --policies URL``: an extracted bundle's
        policy folder, read only."""
        return cls(policies, find_examples(policies), False, reports, bundle=shown)

    @classmethod
    def serving(
        cls, policies: Path, files: Callable[[], list[Source]], *, bundle: str | None = None
    ) -> Workspace:
        """The workspace of ``serve --console``: the files of the revision that serves
        (``bundle``: served from that bundle URL, so there is no folder of test files)."""
        return cls(policies, find_examples(policies), False, served=files, bundle=bundle)

    @property
    def mode(self) -> str:
        return "serve" if self.served is not None else "console"

    @property
    def features(self) -> list[str]:
        features = list(SERVE_FEATURES if self.served is not None else CONSOLE_FEATURES)
        if self.bundle is not None:  # no test files beside a bundle's policies
            features.remove("tests")
        return features + (["save"] if self.can_save else [])

    def sources(self) -> list[Source]:
        """The policy files at the top of the folder, by name (unreadable ones skipped)."""
        if self.served is not None:
            return self.served()
        out: list[Source] = []
        for path in sorted(self.policies.iterdir()):
            if not (valid_name(path.name) and path.is_file()):
                continue
            with contextlib.suppress(OSError, UnicodeDecodeError):
                if path.stat().st_size <= MAX_POLICY_FILE_BYTES:
                    out.append((path.name, path.read_text(encoding="utf-8")))
        return out

    def merged(self, given: Sequence[Source]) -> list[Source]:
        """The folder's files as they would be after saving ``given`` over them."""
        files = dict(self.sources())
        files.update(given)
        return sorted(files.items())

    def to_json(self) -> dict[str, Any]:
        sources = self.sources()
        return {
            "files": [{"name": name, "text": text} for name, text in sources],
            "examples": self.examples_json(),
            "users": self.users_text(),
            "now": times.format_time(round(time.time())),
            "revision": revision_of_sources(sources),
            "can_save": self.can_save,
            "mode": self.mode,
            "features": self.features,
            "bundle": self.bundle,
        }

    def examples_json(self) -> list[dict[str, Any]]:
        if self.examples is None:
            return []
        out: list[dict[str, Any]] = []
        found = [(path.name, path) for path in sorted((self.examples / "payloads").glob("*.json"))]
        found += [  # brainCloud bridge envelopes, which Decide answers in brainCloud's form
            (f"braincloud/{path.name}", path)
            for path in sorted((self.examples / "braincloud").glob("*.json"))
        ]
        for name, path in found:
            with contextlib.suppress(OSError, ValueError):
                if path.stat().st_size <= MAX_EXAMPLE_BYTES:
                    payload = json.loads(path.read_text(encoding="utf-8"))
                    out.append({"name": name, "payload": payload})
        return out

    def users_text(self) -> str:
        if self.examples is None:
            return ""
        try:
            return (self.examples / "users.yaml").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return ""

    def save(self, sources: Sequence[Source]) -> None:
        """Write each file into the folder atomically; names were checked by the caller
        (:func:`~receiver.console.sources.read_sources`) and are checked again here."""
        for name, _ in sources:
            if not valid_name(name):
                raise ValueError(f"not a policy file name: {name!r}")
        for name, text in sources:
            _write_atomically(self.policies / name, text)


def _write_atomically(path: Path, text: str) -> None:
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        else:
            os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def find_examples(policies: Path) -> Path | None:
    """``examples/`` beside the policy folder, else the shipped one (wheel or checkout)."""
    beside = policies.resolve().parent / "examples"
    if (beside / "payloads").is_dir():
        return beside
    packaged = Path(str(resources.files("receiver").joinpath("examples")))
    if (packaged / "payloads").is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / "examples"
    return checkout if (checkout / "payloads").is_dir() else None
