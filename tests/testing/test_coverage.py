"""receiver/testing/coverage.py: rule coverage counted over the cases of a run, and its
text and JSON renderings. (Which list entries a case exercised is found by
listprobe.py; test_runner.py covers both through ``receiver test --coverage``.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.dsl.values import Timestamp
from receiver.runtime.decision import Decision
from receiver.runtime.evaluator import evaluate
from receiver.runtime.payload import Event
from receiver.runtime.policyset import PolicySet, load_policies
from receiver.testing.coverage import (
    RuleHits,
    SetCoverage,
    percent,
    render_entry,
    render_text,
    rule_hits,
    shown_percent,
    to_json,
    total_percent,
)

POLICY = """\
policy: chat
lists:
  banned: [spam, scam]
rules:
  - id: block
    events: message.shouldCreate
    when: text in banned
    action: deny
    message: no
  - id: soften
    events: message.shouldCreate
    when: text == "HEY"
    action: modify
    set: {text: 'lower(text)'}
  - id: trial
    events: message.shouldCreate
    mode: shadow
    when: len(text) > 2
    action: deny
    message: long
  - id: never
    events: channel.shouldJoin
    when: data.channelId == "x"
    action: deny
    message: x
"""

NOW = Timestamp(1_800_000_000)


@pytest.fixture
def policyset(tmp_path: Path) -> PolicySet:
    (tmp_path / "chat.yaml").write_text(POLICY, encoding="utf-8")
    return load_policies([tmp_path])


def decide(policyset: PolicySet, text: str) -> Decision:
    event = Event("message.shouldCreate", {"text": text}, {"userId": "u"})
    return evaluate(policyset.traced_tree(event.name), event, NOW, explain=True)


def test_rule_hits_say_how_each_rule_matched(policyset: PolicySet) -> None:
    assert rule_hits(decide(policyset, "spam")) == {"chat/block": "decided"}  # the deny ends it
    assert rule_hits(decide(policyset, "HEY")) == {
        "chat/soften": "modified",
        "chat/trial": "shadow",
    }
    assert rule_hits(decide(policyset, "ok")) == {}


def test_a_set_counts_cases_and_covered_rules(policyset: PolicySet) -> None:
    coverage = SetCoverage("policies", policyset)
    for text in ("spam", "HEY", "ok"):
        coverage.add("message.shouldCreate", decide(policyset, text), set())
    assert coverage.cases == 3
    assert coverage.covered() == (3, 4)  # chat/never: no case of its event
    totals = coverage.totals()
    assert totals["chat/trial"].shadow == 1
    assert totals["chat/never"].describe() == "never"
    assert total_percent([coverage]) == 75.0


def test_the_text_report_lists_never_matched_rules_and_each_event(policyset: PolicySet) -> None:
    coverage = SetCoverage("policies", policyset)
    coverage.add("message.shouldCreate", decide(policyset, "spam"), {("chat", "banned", 0)})
    text = render_text([coverage])
    assert text.startswith("coverage of policies (1 policy, 4 rules, 1 case)\n")
    assert "  rules: 1 of 4 decided or matched in at least one case (25.0%)" in text
    assert "  never matched in any case:\n    chat/soften\n    chat/trial\n    chat/never" in text
    assert "    channel.shouldJoin: 0 of 1 rule, 0 cases" in text
    assert "  list entries: 1 of 2 exercised by a membership test (50.0%)" in text
    assert "    chat/banned: 1 of 2; never: scam" in text


def test_the_json_report_has_rules_events_and_list_entries(policyset: PolicySet) -> None:
    coverage = SetCoverage("policies", policyset)
    coverage.add("message.shouldCreate", decide(policyset, "HEY"), set())
    document = to_json([coverage])
    assert document["rules"] == {"covered": 2, "total": 4, "percent": 50.0}
    [one] = document["sets"]
    assert one["policies"] == "policies" and one["cases"] == 1
    items = {item["rule"]: item for item in one["rules"]["items"]}
    assert items["chat/soften"] == {"rule": "chat/soften", "matched": 1, "decided": 0,
                                    "modified": 1, "shadow": 0}  # fmt: skip
    entries = one["lists"]["items"][0]["entries"]
    assert entries == [{"value": "spam", "exercised": 0}, {"value": "scam", "exercised": 0}]


def test_rule_hits_describe_themselves() -> None:
    hits = RuleHits()
    for kind in ("decided", "decided", "shadow"):
        hits.add(kind)
    hits.matched = 4
    assert hits.describe() == "decided 2, shadow 1, matched 1"
    assert hits.to_json() == {"matched": 4, "decided": 2, "modified": 0, "shadow": 1}


def test_percentages_round_down_so_nearly_all_is_never_shown_as_all() -> None:
    assert percent(0, 0) == 100.0
    assert percent(1, 4) == 25.0
    assert shown_percent(percent(9999, 10000)) == "99.9%"
    assert shown_percent(100.0) == "100.0%"


def test_list_entries_render_text_as_is_and_other_values_as_written() -> None:
    assert render_entry("spam") == "spam"
    assert render_entry(3) == "3"
    assert render_entry(None) == "None"
