"""receiver/testing/seeds.py: ``counters:`` of a policy test file read into counter seeds."""

from __future__ import annotations

import yaml

from receiver.testing.model import CounterSeed
from receiver.testing.seeds import read_seeds
from receiver.text.diagnostics import Diagnostics
from receiver.text.source import SourceFile
from receiver.text.yamlnodes import NodeReader, compose_source


def seeds(text: str) -> tuple[list[CounterSeed], list[str]]:
    """The seeds of ``counters: TEXT``, and the problems as ``LINE:COL: message``."""
    source = SourceFile("x.test.yaml", f"counters: {text}\n")
    diags = Diagnostics()
    root = compose_source(source, diags, "test file")
    assert isinstance(root, yaml.MappingNode)
    found = read_seeds(NodeReader(source, diags), root.value[0][1])
    problems = [f"{d.span.line}:{d.span.column}: {d.message}" for d in diags if d.span]
    return found, problems


def test_each_key_of_each_counter_is_one_seed_with_the_counters_position() -> None:
    found, problems = seeds("{per_minute: {sam: 5, '42': 0}, rate/strikes: {bob: 2}}")
    assert problems == []
    assert [(s.name, s.key, s.value) for s in found] == [
        ("per_minute", "sam", 5),
        ("per_minute", "42", 0),
        ("rate/strikes", "bob", 2),
    ]
    assert (found[0].span.line, found[0].span.column) == (1, 12)
    assert found[0].counter == ""  # resolved against the policies later


def test_a_counter_without_a_map_of_keys_is_reported() -> None:
    found, problems = seeds("{per_minute: 5}")
    assert found == []
    assert problems == ["1:24: counter 'per_minute' needs a mapping of key: value, e.g. {sam: 5}"]


def test_values_must_be_whole_numbers_from_zero() -> None:
    for value in ("-1", "1.5", "'3'", "true", "[1]"):
        found, problems = seeds(f"{{c: {{sam: {value}}}}}")
        assert found == []
        assert problems == [
            "1:21: c[sam] must be a whole number >= 0 (the count before the case's event)"
        ], value


def test_keys_must_be_text() -> None:
    found, problems = seeds("{c: {[a]: 1}}")
    assert found == []
    assert problems == ["1:16: a counter key must be written as text"]
