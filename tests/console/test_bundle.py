"""The console's committed bundle is what its sources build.

``receiver/console/static/app.js`` and ``app.css`` are built from ``console/`` (CodeMirror
6 from npm, bundled by esbuild: ``npm ci && npm run build``) and committed, so that the
wheel ships them and the console runs offline with no Node. ``bundle.json`` beside them
records the hash of the sources they came from and of each file built: the first tests
check those agree (no Node needed); the last rebuilds from a clean ``npm ci`` and
compares byte for byte (skipped only where ``npm`` is absent).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = ROOT / "console"
STATIC = ROOT / "receiver" / "console" / "static"
BUILT = ("app.js", "app.css", "app.licenses.txt")
REBUILD_TIMEOUT = 600


def source_files() -> list[str]:
    """What console/build.mjs hashes: build.mjs, package.json, package-lock.json and
    everything under src/, as sorted POSIX paths relative to console/."""
    files = ["build.mjs", "package.json", "package-lock.json"]
    files += [
        p.relative_to(CONSOLE).as_posix() for p in (CONSOLE / "src").rglob("*") if p.is_file()
    ]
    return sorted(files)


def sources_hash() -> str:
    """sha256 over "PATH\\nLENGTH\\n" + bytes of each source file, as build.mjs computes it."""
    digest = hashlib.sha256()
    for name in source_files():
        data = (CONSOLE / name).read_bytes()
        digest.update(f"{name}\n{len(data)}\n".encode())
        digest.update(data)
    return digest.hexdigest()


def record() -> dict[str, object]:
    loaded: dict[str, object] = json.loads((STATIC / "bundle.json").read_text(encoding="utf-8"))
    return loaded


def test_the_bundle_was_built_from_the_committed_sources() -> None:
    recorded = record()["sources_sha256"]
    assert recorded == sources_hash(), (
        "console/ changed since receiver/console/static/ was built: run "
        "`cd console && npm ci && npm run build` and commit the result"
    )


def test_each_built_file_is_the_one_recorded() -> None:
    files = record()["files"]
    assert isinstance(files, dict)
    assert sorted(files) == sorted(BUILT)
    for name in BUILT:
        data = (STATIC / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == files[name], (
            f"receiver/console/static/{name} was changed by hand: rebuild it with "
            "`cd console && npm ci && npm run build`"
        )


def test_the_page_loads_only_the_bundle_from_its_own_server() -> None:
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    assert '<script src="static/app.js" defer></script>' in page
    assert '<link rel="stylesheet" href="static/app.css">' in page
    # No inline script or style (the Content-Security-Policy forbids them), nothing remote.
    assert page.count("<script") == 1
    assert "<style" not in page
    assert " style=" not in page
    assert "http://" not in page
    assert "https://" not in page


def test_the_sources_build_no_html_from_strings() -> None:
    for path in sorted((CONSOLE / "src").glob("*.js")):
        text = path.read_text(encoding="utf-8")
        for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "new Function"):
            assert forbidden not in text, f"{path.name} uses {forbidden}: build DOM nodes instead"


def test_the_bundle_needs_no_eval() -> None:
    # script-src 'self' without 'unsafe-eval': code made from strings would not run.
    bundle = (STATIC / "app.js").read_text(encoding="utf-8")
    assert "eval(" not in bundle
    assert "new Function" not in bundle


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_npm_ci_and_build_reproduce_the_committed_bundle(tmp_path: Path) -> None:
    work = tmp_path / "console"
    shutil.copytree(CONSOLE, work, ignore=shutil.ignore_patterns("node_modules"))
    out = tmp_path / "out"
    steps = (
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        ["node", "build.mjs", "--outdir", str(out)],
    )
    for command in steps:
        done = subprocess.run(
            command, cwd=work, capture_output=True, text=True, timeout=REBUILD_TIMEOUT, check=False
        )
        assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    for name in (*BUILT, "bundle.json"):
        assert (out / name).read_bytes() == (STATIC / name).read_bytes(), (
            f"{name} differs from a clean build: run `cd console && npm ci && npm run build` "
            "and commit receiver/console/static/"
        )
