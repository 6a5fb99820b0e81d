"""Tests for receiver.check.scope: macros are seen through, however deeply they nest.

Patterns and keyword arguments must be constants written in the policy; a macro that
names another macro that holds the constant is still that constant. The compiler has
always inlined it so; the pattern check looked one macro deep only, and now sees
through every level too (receiver.dsl.analysis.unwrap).
"""

from __future__ import annotations

from pathlib import Path

from receiver.dsl.values import Timestamp
from receiver.runtime.evaluator import evaluate
from receiver.runtime.payload import parse_event
from receiver.runtime.policyset import check_paths, load_policies

EVENT = "message.shouldCreate"


def write(tmp_path: Path, macros: str, when: str) -> Path:
    (tmp_path / "p.yaml").write_text(
        f"policy: p\nmacros:\n{macros}rules:\n  - id: r\n    events: {EVENT}\n"
        f"    when: '{when}'\n    action: deny\n    message: m\n",
        encoding="utf-8",
    )
    return tmp_path


def action(root: Path, text: str) -> str:
    tree = load_policies([root]).tree(EVENT)
    event = parse_event({"eventName": EVENT, "data": {"text": text}})
    return evaluate(tree, event, Timestamp(0.0)).action


def test_a_pattern_behind_a_macro_of_a_macro_is_a_literal(tmp_path: Path) -> None:
    root = write(tmp_path, "  spam: '\"(?i)free\"'\n  pattern: spam\n", "text matches pattern")
    assert [d.message for d in check_paths([root]).diagnostics if d.severity == "error"] == []
    assert action(root, "FREE money") == "deny"
    assert action(root, "hello") == "allow"


def test_a_computed_pattern_is_still_refused(tmp_path: Path) -> None:
    root = write(tmp_path, "  pattern: lower(text)\n", "text matches pattern")
    codes = [d.code for d in check_paths([root]).diagnostics if d.severity == "error"]
    assert codes == ["pattern-not-literal"]


def test_a_keyword_list_behind_a_macro_of_a_macro_is_constant(tmp_path: Path) -> None:
    macros = "  extra: '[\"zorp\"]'\n  more: extra\n"
    root = write(tmp_path, macros, "profane(text, words=more)")
    assert [d.message for d in check_paths([root]).diagnostics if d.severity == "error"] == []
    assert action(root, "you zorp") == "deny"
