"""receiver/runtime/policyset.py: files to decision trees behind one immutable object."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest
import yaml

from receiver.compile.counters import EMPTY_PLAN
from receiver.dsl import events as ev
from receiver.errors import PolicyLoadError
from receiver.runtime import policyset as module
from receiver.runtime.policyset import check_paths, load_policies, revision_of

EVENT = "message.shouldCreate"


def write(tmp_path: Path, *rules: dict[str, Any], name: str = "p", **extra: Any) -> Path:
    path = tmp_path / f"{name}.yaml"
    doc = {"policy": name, **extra, "rules": list(rules)}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def deny(rule_id: str, events: str = EVENT, **fields: Any) -> dict[str, Any]:
    return {"id": rule_id, "events": events, **fields, "action": "deny"}


def test_check_paths_reports_a_missing_path_as_an_io_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    report = check_paths([missing])
    assert report.has_errors
    assert [(d.code, d.message, d.location) for d in report.diagnostics] == [
        ("io", "no such file or directory", str(missing))
    ]


def test_check_paths_still_checks_the_paths_that_exist_next_to_a_missing_one(
    tmp_path: Path,
) -> None:
    write(tmp_path, deny("r"))
    report = check_paths([tmp_path, tmp_path / "nowhere"])
    assert [r.qualified_id for r in report.rules] == ["p/r"]
    assert [d.code for d in report.diagnostics] == ["io"]


def test_check_paths_warns_when_there_is_no_policy_file(tmp_path: Path) -> None:
    report = check_paths([tmp_path])
    assert not report.has_errors
    assert [(d.severity, d.code) for d in report.diagnostics] == [("warning", "no-policies")]


def test_check_paths_never_raises_for_a_bad_policy(tmp_path: Path) -> None:
    write(tmp_path, deny("r", when="data.a +"))
    report = check_paths([tmp_path])
    assert report.has_errors and report.files == [tmp_path / "p.yaml"]


def test_load_policies_raises_every_error_at_once(tmp_path: Path) -> None:
    write(tmp_path, deny("r", when="data.a +"), deny("s", when="nope(1)"))
    with pytest.raises(PolicyLoadError) as caught:
        load_policies([tmp_path])
    errors = [d for d in caught.value.diagnostics if d.severity == "error"]
    assert len(errors) == 2
    assert str(caught.value).startswith(f"{tmp_path / 'p.yaml'}:")
    assert str(caught.value).endswith("(and 1 more)")


def test_load_policies_keeps_the_warnings(tmp_path: Path) -> None:
    write(tmp_path, deny("r", events="message.shouldCreat"))
    policyset = load_policies([tmp_path])
    assert [d.severity for d in policyset.warnings] == ["warning"]
    assert "message.shouldCreate" in policyset.warnings[0].message  # did you mean


def test_load_policies_leaves_the_garbage_collector_as_it_found_it(tmp_path: Path) -> None:
    write(tmp_path, deny("r"))
    assert gc.isenabled()
    load_policies([tmp_path])
    assert gc.isenabled()
    gc.disable()
    try:
        load_policies([tmp_path])
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_every_known_event_and_every_named_event_is_compiled_eagerly(tmp_path: Path) -> None:
    write(tmp_path, deny("r", events="custom.event"))
    policyset = load_policies([tmp_path])
    assert set(policyset.trees) == set(ev.KNOWN_EVENTS) | {"custom.event"}
    assert set(policyset.plans) == set(policyset.trees)


def test_a_lazy_set_compiles_each_tree_when_first_asked_for(tmp_path: Path) -> None:
    write(tmp_path, deny("r"))
    policyset = load_policies([tmp_path], eager=False)
    assert policyset.trees == {}
    tree = policyset.tree(EVENT)
    assert [c.rule.qualified_id for c in tree.rules] == ["p/r"]
    assert policyset.tree(EVENT) is tree  # compiled once


def test_an_event_no_rule_applies_to_gets_an_allow_all_tree(tmp_path: Path) -> None:
    write(tmp_path, deny("r"))
    tree, plan = load_policies([tmp_path]).compiled("user.didNothing")
    assert tree.event == "user.didNothing" and tree.rules == ()
    assert plan is EMPTY_PLAN


def test_an_unknown_event_a_glob_matches_is_compiled_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, deny("r", events="custom.*"))
    policyset = load_policies([tmp_path])
    compiled: list[str] = []
    real = module.compile_tree

    def counting(rules: Any, event: str, **options: Any) -> Any:
        compiled.append(event)
        return real(rules, event, **options)

    monkeypatch.setattr(module, "compile_tree", counting)
    first = policyset.tree("custom.thing")
    assert [c.rule.qualified_id for c in first.rules] == ["p/r"]
    assert policyset.tree("custom.thing") is first
    assert policyset.plan("custom.thing") is EMPTY_PLAN  # no counters declared
    assert compiled == ["custom.thing"]


def test_the_cache_of_other_event_names_is_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, deny("r", events="custom.*"))
    monkeypatch.setattr(module, "EXTRA_TREE_CACHE", 3)
    policyset = load_policies([tmp_path])
    for number in range(10):
        policyset.tree(f"custom.{number}")
    assert len(policyset._extra) == 3


def test_the_traced_tree_is_a_separate_cached_compilation(tmp_path: Path) -> None:
    write(tmp_path, deny("r"))
    policyset = load_policies([tmp_path])
    traced = policyset.traced_tree(EVENT)
    assert traced is not policyset.tree(EVENT)
    assert policyset.traced_tree(EVENT) is traced
    assert [c.rule for c in traced.rules] == [c.rule for c in policyset.tree(EVENT).rules]


def test_the_revision_is_twelve_hex_digits_that_follow_names_and_contents(
    tmp_path: Path,
) -> None:
    first = write(tmp_path, deny("r"), name="a")
    second = write(tmp_path, deny("s"), name="b")
    revision = revision_of([first, second])
    assert len(revision) == 12 and int(revision, 16) >= 0
    assert revision_of([second, first]) == revision  # the order given does not matter
    assert load_policies([tmp_path]).revision == revision
    first.write_text(first.read_text() + "# edited\n", encoding="utf-8")
    edited = revision_of([first, second])
    assert edited != revision
    renamed = first.rename(tmp_path / "c.yaml")
    assert revision_of([renamed, second]) != edited


def test_the_revision_of_an_unreadable_file_still_counts_its_name(tmp_path: Path) -> None:
    assert revision_of([tmp_path / "gone.yaml"]) != revision_of([tmp_path / "other.yaml"])


# -- policy files given as texts (the console) ---------------------------------------------------

SHIPPED = Path(__file__).resolve().parents[2] / "policies"


def shipped_sources(folder: Path = SHIPPED) -> list[tuple[str, str]]:
    return [(p.name, p.read_text(encoding="utf-8")) for p in module.policy_files([folder])]


def test_check_sources_reports_what_check_paths_reports_naming_files_as_given(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "policies"
    folder.mkdir()
    for name, text in shipped_sources():
        (folder / name).write_text(text.replace("len(text) > 2000", "len(txt) > 2000"))
    from_paths = check_paths([folder])
    from_texts = module.check_sources(shipped_sources(folder))
    assert from_paths.has_errors
    assert [(Path(d.location.split(":")[0]).name, *d.location.split(":")[1:], d.code, d.message)
            for d in from_paths.diagnostics] == [
        (*d.location.split(":"), d.code, d.message) for d in from_texts.diagnostics
    ]  # fmt: skip
    assert [r.qualified_id for r in from_texts.rules] == [r.qualified_id for r in from_paths.rules]


def test_check_sources_takes_files_in_name_order_with_universal_newlines() -> None:
    sources = shipped_sources()
    crlf = [(name, text.replace("\n", "\r\n")) for name, text in reversed(sources)]
    assert [r.qualified_id for r in module.check_sources(crlf).rules] == [
        r.qualified_id for r in check_paths([SHIPPED]).rules
    ]


def test_check_sources_refuses_a_text_over_the_policy_file_limit() -> None:
    report = module.check_sources([("big.yaml", "#" * (module.MAX_POLICY_FILE_BYTES + 1))])
    (diagnostic,) = report.diagnostics
    assert (diagnostic.code, diagnostic.path, diagnostic.span) == ("too-large", "big.yaml", None)


def test_no_sources_is_a_warning() -> None:
    (diagnostic,) = module.check_sources([]).diagnostics
    assert (diagnostic.code, diagnostic.severity) == ("no-policies", "warning")


def test_load_sources_has_the_revision_of_the_same_files_on_disk() -> None:
    loaded = module.load_sources(shipped_sources(), eager=False)
    assert loaded.revision == load_policies([SHIPPED], eager=False).revision
    assert loaded.revision == module.revision_of_sources(shipped_sources())


def test_load_sources_raises_with_every_error() -> None:
    with pytest.raises(PolicyLoadError) as caught:
        module.load_sources([("a.yaml", "policy: a\nrules: [{id: r}]\n")])
    assert {d.code for d in caught.value.diagnostics} >= {"missing-field"}
