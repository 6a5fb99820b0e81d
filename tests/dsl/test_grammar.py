"""receiver/dsl/grammar.py: the LALR tables are cached in a private folder, and a parser
read back from the cache parses as one built from the grammar."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from receiver.dsl import grammar
from receiver.dsl.parser import ExprSource, _Builder
from receiver.text.source import SourceFile

TEXT = grammar.grammar_text()


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv(grammar.CACHE_ENV, raising=False)
    return tmp_path


def test_the_cache_file_is_in_a_private_folder_of_the_users_cache(cache_home: Path) -> None:
    path = grammar.cache_file(TEXT)
    assert path is not None
    folder = Path(path).parent
    assert folder == cache_home / "receiver"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_another_grammar_gets_another_file(cache_home: Path) -> None:
    assert grammar.cache_file(TEXT) != grammar.cache_file(TEXT + "\n// changed\n")


def test_building_writes_the_cache_and_the_next_build_reads_it(cache_home: Path) -> None:
    path = grammar.cache_file(TEXT)
    assert path is not None
    grammar.build_parser()
    written = Path(path).stat().st_mtime_ns
    assert Path(path).stat().st_size > 0
    cached = grammar.build_parser()
    assert Path(path).stat().st_mtime_ns == written  # read, not rebuilt
    fresh = grammar.parser()
    for text in ("a.b + 1 > 2 and not c", 'f(x, y) in ["a", "b"]', "[1, 2][0] + 3 >= -1.5"):
        assert cached.parse(text) == fresh.parse(text)


def test_the_ast_builder_read_from_the_cache_builds_the_same_ast(
    cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The builder runs inside the parser (a transformer, which Lark does not pickle):
    one whose tables come from the file builds what one analysed afresh builds."""
    text = 'len(data.text) > 3 and user.role in ["a", "b"] or not (x + 1) == 2'
    src = ExprSource.contiguous(SourceFile("t.yaml", text), text, 0)
    monkeypatch.setenv(grammar.CACHE_ENV, "0")
    fresh = _Builder().build(src)
    monkeypatch.setenv(grammar.CACHE_ENV, "1")
    _Builder()  # writes the file
    path = grammar.cache_file(TEXT)
    assert path is not None
    assert Path(path).exists()
    assert _Builder().build(src) == fresh


def test_the_environment_variable_turns_the_cache_off(
    cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(grammar.CACHE_ENV, "0")
    assert grammar.cache_file(TEXT) is None
    grammar.build_parser()
    assert not (cache_home / "receiver").exists()


def test_a_folder_others_may_write_to_is_not_used(cache_home: Path) -> None:
    folder = cache_home / "receiver"
    folder.mkdir()
    folder.chmod(0o777)
    assert grammar.cache_file(TEXT) is None


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root")
def test_a_folder_another_user_owns_is_not_used(cache_home: Path) -> None:
    folder = cache_home / "receiver"
    folder.mkdir(mode=0o700)
    os.chown(folder, 12345, -1)
    assert grammar.cache_file(TEXT) is None


def test_no_cache_when_the_folder_cannot_be_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert grammar.cache_file(TEXT) is None
    assert grammar.build_parser().parse("1 + 1") is not None


def test_a_damaged_cache_file_is_rebuilt(cache_home: Path) -> None:
    path = grammar.cache_file(TEXT)
    assert path is not None
    Path(path).write_bytes(b"garbage\n\x80\x04truncated")
    assert grammar.build_parser().parse("a or b") is not None
    assert Path(path).read_bytes() != b"garbage\n\x80\x04truncated"


@pytest.mark.parametrize("base", ["relative/cache", "~/.cache"])
def test_a_relative_cache_home_is_not_used(
    base: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative $XDG_CACHE_HOME, or a home that "~" cannot be expanded to (a numeric
    container user with no $HOME and no passwd entry), never puts a folder under the
    current directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", base)
    monkeypatch.delenv(grammar.CACHE_ENV, raising=False)
    assert grammar.cache_file(TEXT) is None
    assert grammar.build_parser().parse("1 + 1") is not None
    assert list(tmp_path.iterdir()) == []


def test_a_user_without_a_home_gets_no_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A numeric container user with neither $HOME nor a passwd entry: Python leaves "~"
    unexpanded, which must not become a folder under the current directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.delenv(grammar.CACHE_ENV, raising=False)
    monkeypatch.setattr(grammar.os, "getuid", lambda: 54321)  # no passwd entry
    assert os.path.expanduser("~") == "~"
    assert grammar.cache_file(TEXT) is None
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() == 0, reason="root may write anywhere")
def test_a_cache_home_the_user_cannot_write_gets_no_cache_and_still_parses(
    cache_home: Path,
) -> None:
    """A home on a read-only root filesystem, or owned by someone else."""
    cache_home.chmod(0o500)
    try:
        assert grammar.cache_file(TEXT) is None
        assert grammar.build_parser().parse("a and b") is not None
    finally:
        cache_home.chmod(0o700)
