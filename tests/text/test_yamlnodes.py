"""Tests for receiver.text.yamlnodes: alias limits and file-size limits, wherever YAML is read."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from hostile_policies import BOMB

from receiver.cli import main
from receiver.counters.seed import SeedError, read_seed_file
from receiver.http.settings import SettingsError, read_config_file
from receiver.load.loader import MAX_POLICY_FILE_BYTES, load_file, load_text
from receiver.testing.reader import read_text as read_test_text
from receiver.text import yamlnodes
from receiver.text.diagnostics import Diagnostics
from receiver.text.yamlnodes import MAX_ALIAS_EXPANSION, AliasError, compose, safe_load
from receiver.users.static import StaticDirectory, UserFileError


def test_the_regression_bomb_is_small() -> None:
    assert 500 < len(BOMB.encode()) < 700


@pytest.mark.parametrize("ascii_only", [True, False], ids=["libyaml", "pure-python"])
def test_the_alias_bomb_is_refused_at_the_alias_in_well_under_a_second(ascii_only: bool) -> None:
    # A non-ASCII comment sends the text through the pure-Python loader.
    text = BOMB if ascii_only else "# é\n" + BOMB
    started = time.perf_counter()
    with pytest.raises(AliasError) as caught:
        compose(text)
    assert time.perf_counter() - started < 0.5
    mark = caught.value.problem_mark
    assert mark is not None
    line = text.splitlines()[mark.line]
    assert line[mark.column] == "*"  # the position is an alias's
    assert f"more than {MAX_ALIAS_EXPANSION:,} YAML nodes" in str(caught.value.problem)


def test_a_policy_with_the_bomb_gets_a_yaml_alias_diagnostic_at_the_alias() -> None:
    diags = Diagnostics()
    started = time.perf_counter()
    assert load_text("bomb.yaml", BOMB, diags) is None
    assert time.perf_counter() - started < 0.5
    (found,) = list(diags)
    assert found.code == "yaml-alias"
    assert found.location.startswith("bomb.yaml:")
    line, column = (int(n) for n in found.location.split(":")[1:3])
    assert BOMB.splitlines()[line - 1][column - 1] == "*"
    assert "instead of nesting aliases" in found.message


def test_receiver_check_refuses_the_bomb_quickly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bomb.yaml").write_text(BOMB, encoding="utf-8")
    started = time.perf_counter()
    code = main(["check", str(tmp_path)])  # in-process: what the console script runs
    elapsed = time.perf_counter() - started
    out, err = capsys.readouterr()
    assert code == 1
    assert "yaml-alias" in out + err
    assert elapsed < 10  # the bomb itself takes milliseconds


def test_a_few_small_aliases_still_work() -> None:
    text = "a: &x [1, 2]\nb: *x\nc: *x\n"
    assert safe_load(text) == {"a": [1, 2], "b": [1, 2], "c": [1, 2]}
    root = compose(text)
    assert isinstance(root, yaml.MappingNode)


def test_aliases_just_under_the_limit_are_accepted_and_just_over_refused() -> None:
    anchored = "a: &x [" + ", ".join(["1"] * 99) + "]\n"  # 100 nodes
    under = anchored + "b: [" + ", ".join(["*x"] * (MAX_ALIAS_EXPANSION // 100)) + "]\n"
    over = anchored + "b: [" + ", ".join(["*x"] * (MAX_ALIAS_EXPANSION // 100 + 1)) + "]\n"
    assert len(safe_load(under)["b"]) == MAX_ALIAS_EXPANSION // 100
    with pytest.raises(AliasError):
        safe_load(over)


def test_the_limit_counts_each_document_of_a_stream_on_its_own() -> None:
    anchored = "a: &x [" + ", ".join(["1"] * 99) + "]\n"
    doc = anchored + "b: [" + ", ".join(["*x"] * (MAX_ALIAS_EXPANSION // 100)) + "]\n"
    for event_loader in (yaml.SafeLoader, yamlnodes._FAST_LOADER or yaml.SafeLoader):
        yamlnodes._check_aliases(doc + "---\n" + doc, event_loader)


def test_an_alias_inside_its_own_collection_is_refused() -> None:
    with pytest.raises(AliasError) as caught:
        safe_load("a: &x [1, *x]\n")
    assert "inside the collection it names" in str(caught.value.problem)
    assert caught.value.problem_mark is not None
    assert caught.value.problem_mark.column == 10


def test_the_style_walk_visits_a_shared_node_once() -> None:
    # Composing and styling the bomb's nodes (without the alias check) stays linear.
    root = yaml.compose(BOMB, Loader=yamlnodes._FAST_LOADER or yaml.SafeLoader)
    started = time.perf_counter()
    assert yamlnodes._visit_once(root, plain_as_none=True) is True
    assert time.perf_counter() - started < 0.1
    assert yamlnodes._visit_once(yaml.compose("a: [1, 2]\n"), plain_as_none=True) is False


def test_a_test_file_with_the_bomb_is_refused_at_the_alias() -> None:
    diags = Diagnostics()
    text = "policy: p\ntests:\n  - name: t\n    payload: &p0 {a: 1}\n" + "\n".join(
        f"x{i}: &p{i} [" + ", ".join([f"*p{i - 1}"] * 9) + "]" for i in range(1, 11)
    )
    started = time.perf_counter()
    assert read_test_text(Path("bomb.test.yaml"), text, diags) is None
    assert time.perf_counter() - started < 0.5
    assert [d.code for d in diags] == ["yaml-alias"]


def _bomb_mapping(top: str) -> str:
    lines = [f"{top}: &l0 [a, a, a, a, a, a, a, a, a]"]
    lines += [
        f"k{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 11)
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


def test_the_config_file_refuses_the_bomb_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "receiver.yaml"
    path.write_text(_bomb_mapping("policies"), encoding="utf-8")
    with pytest.raises(SettingsError, match=r"receiver\.yaml:\d+:\d+: the aliases"):
        read_config_file(path)


def test_the_users_file_refuses_the_bomb_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    path.write_text(_bomb_mapping("u1"), encoding="utf-8")
    started = time.perf_counter()
    with pytest.raises(UserFileError, match=r"users\.yaml:\d+:\d+: the aliases"):
        StaticDirectory.from_file(path)
    assert time.perf_counter() - started < 0.5


def test_the_counter_seed_file_refuses_the_bomb(tmp_path: Path) -> None:
    path = tmp_path / "seeds.yaml"
    path.write_text(_bomb_mapping("c"), encoding="utf-8")
    with pytest.raises(SeedError, match="the aliases"):
        read_seed_file(path)


def test_a_policy_file_over_the_size_limit_is_refused_at_the_file(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    filler = "# " + "x" * 1000 + "\n"
    path.write_text(
        "policy: big\n" + filler * (MAX_POLICY_FILE_BYTES // len(filler) + 1), encoding="utf-8"
    )
    diags = Diagnostics()
    assert load_file(path, diags) is None
    (found,) = list(diags)
    assert found.code == "too-large"
    assert found.location == str(path)
    assert f"{MAX_POLICY_FILE_BYTES:,} bytes" in found.message


def test_a_policy_file_at_the_size_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    head = "policy: big\nrules: []\n"
    path.write_bytes((head + "#" * (MAX_POLICY_FILE_BYTES - len(head) - 1) + "\n").encode())
    assert path.stat().st_size == MAX_POLICY_FILE_BYTES
    diags = Diagnostics()
    doc = load_file(path, diags)
    assert doc is not None
    assert doc.name.value == "big"


def test_reading_keeps_universal_newlines(tmp_path: Path) -> None:
    path = tmp_path / "crlf.yaml"
    path.write_bytes(b"policy: p\r\nrules: []\r\n")
    diags = Diagnostics()
    assert yamlnodes.read_source_text(path, diags) == "policy: p\nrules: []\n"
