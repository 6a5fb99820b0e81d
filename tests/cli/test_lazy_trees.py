"""``receiver eval`` compiles only the tree of the event it decides
(``load_policies(..., eager=False)``), and a tree compiled on first use is the tree
that an eager load compiles."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from receiver.cli import main
from receiver.compile.tree import EventTree, render_tree
from receiver.dsl import events as ev
from receiver.runtime import policyset as policyset_module
from receiver.runtime.policyset import load_policies

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
PAYLOAD = ROOT / "examples" / "payloads" / "channel-join-staff-room.json"


@pytest.fixture
def compiled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The event names whose trees get compiled from now on."""
    names: list[str] = []
    real: Callable[..., EventTree] = policyset_module.compile_tree

    def spy(rules: Any, event: str, **kwargs: Any) -> EventTree:
        names.append(event)
        return real(rules, event, **kwargs)

    monkeypatch.setattr(policyset_module, "compile_tree", spy)
    return names


def test_eval_compiles_the_tree_of_its_event_only(
    compiled: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            ["eval", str(POLICIES), str(PAYLOAD), "--users", str(ROOT / "examples" / "users.yaml")]
        )
        == 0
    )
    event = json.loads(PAYLOAD.read_text(encoding="utf-8"))["eventName"]
    assert compiled == [event]
    assert json.loads(capsys.readouterr().out)["action"] in ("allow", "deny")


def test_eval_jsonl_compiles_each_event_once(
    compiled: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = json.dumps(json.loads(PAYLOAD.read_text(encoding="utf-8")))
    lines = tmp_path / "p.jsonl"
    lines.write_text(f"{line}\n{line}\n{line}\n", encoding="utf-8")
    assert main(["eval", str(POLICIES), str(lines), "--jsonl"]) == 0
    assert len(compiled) == 1
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_tree_and_the_service_still_compile_every_known_event(compiled: list[str]) -> None:
    load_policies([POLICIES])
    assert set(ev.KNOWN_EVENTS) <= set(compiled)


def test_a_tree_compiled_on_first_use_is_the_eagerly_compiled_tree() -> None:
    eager, lazy = load_policies([POLICIES]), load_policies([POLICIES], eager=False)
    assert lazy.trees == {}
    with_rules = [name for name, tree in eager.trees.items() if tree.rules]
    assert len(with_rules) > 5
    for name in with_rules:
        assert render_tree(lazy.tree(name)) == render_tree(eager.tree(name)), name
