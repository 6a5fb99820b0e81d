"""receiver/text/yamlerrors.py: YAML syntax errors explained in plain words, at the line to fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from receiver.counters.seed import SeedError, read_seed_file
from receiver.http.settings import SettingsError, read_config_file
from receiver.load.loader import load_text
from receiver.text import yamlerrors
from receiver.text.diagnostics import Diagnostics
from receiver.text.yamlerrors import EXAMPLES, INDENT
from receiver.users.static import StaticDirectory, UserFileError


@pytest.mark.parametrize("label", sorted(EXAMPLES))
def test_each_example_gets_its_plain_explanation_at_its_position(label: str) -> None:
    text, plain, line, column = EXAMPLES[label]
    diags = Diagnostics()
    assert load_text("p.yaml", text, diags) is None
    [diag] = diags
    assert diag.code == "yaml"
    assert diag.location == f"p.yaml:{line}:{column}"
    assert diag.message.startswith(f"YAML syntax error: {plain} (YAML: ")


def test_the_examples_cover_every_explanation() -> None:
    explanations = {yamlerrors.INDENT, yamlerrors.QUOTED, yamlerrors.TAB, yamlerrors.DEEPER}
    explanations |= {yamlerrors.COLON_IN_VALUE, yamlerrors.NO_COLON}
    assert {plain for _, plain, _, _ in EXAMPLES.values()} == explanations


def test_pyyamls_own_words_stay_at_the_end_for_searching() -> None:
    diags = Diagnostics()
    load_text("p.yaml", "policy: p\n  rules: []\n", diags)
    assert diags.items[0].message.endswith("(YAML: mapping values are not allowed here)")


def test_a_problem_without_an_explanation_keeps_pyyamls_message() -> None:
    diags = Diagnostics()
    load_text("p.yaml", "policy: p\ndescription: *nope\n", diags)
    assert [d.message for d in diags] == ["YAML syntax error: found undefined alias 'nope'"]


# The one-line readers (users files, --config, counter seeds) say the same, at the same place.


def _one_line_readers(tmp_path: Path) -> list[tuple[str, Callable[[str], object], type]]:
    def users(text: str) -> object:
        return StaticDirectory.from_text(text, "users.yaml")

    def config(text: str) -> object:
        (tmp_path / "receiver.yaml").write_text(text, encoding="utf-8")
        return read_config_file(tmp_path / "receiver.yaml")

    def seeds(text: str) -> object:
        (tmp_path / "seeds.yaml").write_text(text, encoding="utf-8")
        return read_seed_file(tmp_path / "seeds.yaml")

    return [("users.yaml", users, UserFileError), ("receiver.yaml", config, SettingsError),
            ("seeds.yaml", seeds, SeedError)]  # fmt: skip


@pytest.mark.parametrize("label", sorted(EXAMPLES))
def test_the_one_line_readers_explain_each_example_at_its_position(
    label: str, tmp_path: Path
) -> None:
    text, plain, line, column = EXAMPLES[label]
    for name, read, error in _one_line_readers(tmp_path):
        with pytest.raises(error) as caught:
            read(text)
        said = str(caught.value).removeprefix(f"{tmp_path}/")
        assert said.startswith(f"{name}:{line}:{column}: YAML syntax error: {plain} (YAML: ")
        assert said.endswith(")")


def test_an_indentation_error_in_a_users_file_is_explained_in_plain_words() -> None:
    text = "u1:\n  role: member\n banned: true\n"
    with pytest.raises(UserFileError) as caught:
        StaticDirectory.from_text(text, "team.users.yaml")
    assert str(caught.value).startswith(f"team.users.yaml:3:2: YAML syntax error: {INDENT}")
