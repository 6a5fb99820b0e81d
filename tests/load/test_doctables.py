"""The docs' field tables are written from receiver/load/fields_doc.py, which names the
fields the readers read (receiver/load/doctables.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from receiver.load import counters, loader
from receiver.load.doctables import TABLES, main, rewrite, stale
from receiver.load.fields_doc import (
    CASE_FIELDS,
    COUNTER_FIELDS,
    DEFAULTS_FIELDS,
    EXPECT_FIELDS,
    POLICY_TABLE,
    SHADOW_ENTRY_FIELDS,
    TEST_FILE_FIELDS,
    FieldDoc,
)
from receiver.testing import expectations, reader

ROOT = Path(__file__).resolve().parents[2]


def test_the_docs_tables_are_the_field_table() -> None:
    assert stale(ROOT) == [], "run: python -m receiver.load.doctables --write"


def test_every_table_sits_between_its_markers() -> None:
    for name, table in TABLES.items():
        text = (ROOT / table.file).read_text(encoding="utf-8")
        start = text.index(f"<!-- table:{name}:start -->\n")
        end = text.index(f"<!-- table:{name}:end -->")
        assert text[start:end].count("\n| `") == len(table.rows)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    for file in {table.file for table in TABLES.values()}:
        shutil.copy(ROOT / file, tmp_path / file)
    return tmp_path


def test_a_table_edited_by_hand_is_found_and_rewritten(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = checkout / "README.md"
    text = readme.read_text(encoding="utf-8")
    edited = text.replace(
        "| `enabled` | rule | `false` turns the rule off |", "| `enabled` | rule | off |"
    )
    assert edited != text
    readme.write_text(edited, encoding="utf-8")
    assert stale(checkout) == ["policy-fields"]
    assert main(["--root", str(checkout)]) == 1
    assert "README.md: table policy-fields differs" in capsys.readouterr().out
    assert rewrite(checkout) == ["policy-fields"]
    assert readme.read_text(encoding="utf-8") == text
    assert main(["--root", str(checkout)]) == 0


def test_a_file_without_its_markers_says_which(checkout: Path) -> None:
    testing = checkout / "docs" / "testing.md"
    testing.write_text(
        testing.read_text(encoding="utf-8").replace("<!-- table:test-expectations:end -->", ""),
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="test-expectations"):
        stale(checkout)


def test_a_cell_holding_a_pipe_keeps_the_table_whole() -> None:
    table = TABLES["counter-fields"]
    odd = FieldDoc(("x",), "a | b", {"x": {}})
    rendered = type(table)(table.file, table.header, (odd,), table.cells).render()
    assert rendered.splitlines()[-1] == "| `x` | a \\| b |"


def names(docs: tuple[FieldDoc, ...], where: str | None = None) -> set[str]:
    return {
        name
        for doc in docs
        if where is None or any(w.split()[-1] == where for w in doc.where)
        for name in doc.names
    }


def test_the_table_names_the_policy_fields_the_loader_reads() -> None:
    assert names(POLICY_TABLE, "policy") == set(loader.POLICY_FIELDS)
    assert names(POLICY_TABLE, "rule") == set(loader.RULE_FIELDS)
    assert names(COUNTER_FIELDS) == set(counters.COUNTER_FIELDS)


def test_the_table_names_the_test_fields_the_reader_reads() -> None:
    assert names(TEST_FILE_FIELDS) == set(reader.SUITE_FIELDS)
    documented = names(CASE_FIELDS)
    assert documented == set(reader.CASE_FIELDS)
    assert set(reader.DEFAULT_FIELDS) == set(DEFAULTS_FIELDS)
    assert names(EXPECT_FIELDS) == set(expectations.EXPECT_FIELDS)
    assert names(SHADOW_ENTRY_FIELDS) == set(expectations.SHADOW_FIELDS)


def test_every_field_has_a_schema_and_a_meaning() -> None:
    tables = (POLICY_TABLE, COUNTER_FIELDS, TEST_FILE_FIELDS, CASE_FIELDS, EXPECT_FIELDS)
    for docs in (*tables, SHADOW_ENTRY_FIELDS):
        for doc in docs:
            assert set(doc.schemas) == set(doc.names)
            assert doc.meaning.strip()
    assert all(doc.where for doc in POLICY_TABLE)
    assert all(doc.example for doc in EXPECT_FIELDS)
