"""receiver/text/yamlerrors.py: YAML syntax errors explained in plain words, at the line to fix."""

from __future__ import annotations

import pytest

from receiver.load.loader import load_text
from receiver.text import yamlerrors
from receiver.text.diagnostics import Diagnostics
from receiver.text.yamlerrors import EXAMPLES


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
