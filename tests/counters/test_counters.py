"""Velocity and strike counters: the language, the pinned semantics, the memory backend."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from receiver.compile.counters import EMPTY_PLAN
from receiver.counters.memory import MemoryBackend
from receiver.counters.seed import find_counter, seed
from receiver.dsl.values import Timestamp
from receiver.runtime import policyset as module
from receiver.runtime.counters import Op, Prepared
from receiver.runtime.decide import decide
from receiver.runtime.decision import Decision
from receiver.runtime.evaluator import evaluate
from receiver.runtime.payload import Event
from receiver.runtime.policyset import check_paths, load_policies

T0 = 1_800_000_000.0

RATE = """\
policy: rate
description: counters under test
lists:
  staff: [mod]
counters:
  messages_per_minute:
    events: [message.shouldCreate, "post.*"]
    key: actor.userId
    window: 60s
    when: len(text) > 0
  channels_per_text:
    events: message.shouldCreate
    key: lower(trim(text))
    distinct: data.channelId
    window: 10m
  strikes:
    decisions: [censor, flood, rate/same-text, shadow-deny]
    key: actor.userId
    window: 24h
macros:
  flooding: messages_per_minute > 5
rules:
  - id: strikes-out
    events: message.shouldCreate
    when: strikes >= 3
    action: deny
    message: "Too many strikes ({strikes})."
  - id: flood
    events: message.shouldCreate
    when: flooding and actor.userId not in staff
    action: deny
    message: "Slow down ({messages_per_minute} in a minute)."
  - id: same-text
    events: message.shouldCreate
    when: channels_per_text > 4
    action: deny
  - id: shadow-deny
    events: message.shouldCreate
    when: text contains "shadowy"
    action: deny
    mode: shadow
  - id: censor
    events: message.shouldCreate
    when: text contains "darn"
    action: modify
    set: {text: '"****"'}
  - id: deny-after-censor
    events: message.shouldCreate
    when: data.channelId == "blocked"
    action: deny
  - id: unknown-backend
    events: channel.shouldJoin
    when: counters_unavailable()
    action: deny
"""


def write(tmp_path: Path, text: str, name: str = "rate.yaml") -> Path:
    folder = tmp_path / "policies"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


class Harness:
    """Decides events as the service does with the memory backend, on a controlled clock."""

    def __init__(self, folder: Path, backend: MemoryBackend | None = None) -> None:
        self.policies = load_policies([folder])
        self.backend = backend or MemoryBackend()
        self.now = T0

    def decide(
        self,
        text: str = "hello",
        user: str | None = "u1",
        channel: str = "c1",
        event: str = "message.shouldCreate",
        advance: float = 1.0,
    ) -> Decision:
        self.now += advance
        actor = {"userId": user} if user is not None else {}
        ev = Event(event, {"text": text, "channelId": channel}, actor)
        now = Timestamp(self.now)
        decided = decide(self.policies, ev, now, counters=self.backend)
        self.last: Prepared | None = decided.counters
        return decided.decision

    def value(self, name: str) -> Any:
        assert self.last is not None, "no counter was involved"
        return self.last.values.get(f"rate/{name}")


@pytest.fixture
def rate(tmp_path: Path) -> Harness:
    return Harness(write(tmp_path, RATE))


# -- language ------------------------------------------------------------------------------


def test_shipped_style_declaration_checks_clean(tmp_path: Path) -> None:
    report = check_paths([write(tmp_path, RATE)])
    # the only finding: listing a shadow rule (kept to test that shadow hits never count)
    assert [(d.code, d.span and d.span.line) for d in report.diagnostics] == [("never-counts", 17)]
    assert [c.id for c in report.counters] == [
        "rate/messages_per_minute",
        "rate/channels_per_text",
        "rate/strikes",
    ]
    strikes = report.counters[2]
    assert strikes.kind == "decisions"
    assert strikes.decisions == (
        "rate/censor",
        "rate/flood",
        "rate/same-text",
        "rate/shadow-deny",
    )
    assert report.counters[1].window_ms == 600_000


def codes(tmp_path: Path, counters: str, rules: str = "", extra: str = "") -> list[str]:
    text = f"policy: p\ndescription: d\n{extra}counters:\n{counters}rules:\n{rules or RULE}"
    report = check_paths([write(tmp_path, text, "p.yaml")])
    return [
        f"{d.span and d.span.line}:{d.span and d.span.column}:{d.code}:{d.message}"
        for d in report.diagnostics
    ]


RULE = "  - id: r\n    events: message.shouldCreate\n    when: c > 1\n    action: deny\n"


@pytest.mark.parametrize(
    ("counters", "expected"),
    [
        (
            "  c: {events: message.shouldCreate, key: actor.userId, window: 60}\n",
            "'window' must be a duration such as 60s",
        ),
        (
            "  c: {events: message.shouldCreate, key: actor.userId, window: 60s, windw: 1}\n",
            "unknown field 'windw' in counter 'c'; did you mean 'window'?",
        ),
        ("  c: {key: actor.userId, window: 60s}\n", "counter 'c' has no 'events' or 'decisions'"),
        ("  c: {events: message.shouldCreate, window: 60s}\n", "counter 'c' has no 'key'"),
        (
            "  c: {events: message.shouldCreate, decisions: [r], key: actor.userId, window: 1m}\n",
            "counts either events or decisions, not both",
        ),
        (
            "  c: {decisions: [r], key: actor.userId, window: 1m, distinct: text}\n",
            "'distinct' only applies to event counters",
        ),
        (
            "  c: {events: message.shouldCreate, key: user.id, window: 1m}\n",
            "a counter's 'key' cannot read 'user'",
        ),
        (
            "  c: {events: message.shouldCreate, key: lenght(text), window: 1m}\n",
            "unknown function 'lenght'; did you mean 'len'?",
        ),
        (
            "  c: {events: message.shouldCreate, key: actor.userId, window: 1m, when: len(text)}\n",
            "a counter's 'when' must be a true/false condition",
        ),
        (
            "  c: {events: message.shouldCreate, key: actor.userId, window: 1m, distinct: c}\n",
            "cannot read the counter 'c'",
        ),
        ("  c: {decisions: [rr], key: actor.userId, window: 1m}\n", "no rule 'rr' for counter 'c'"),
        (
            "  c: {events: message.shouldCreat, key: actor.userId, window: 1m}\n",
            "did you mean 'message.shouldCreate'",
        ),
        ("  c: {events: message.shouldCreate, key: actor.userId, window: 40d}\n", "1ms and 31d"),
    ],
)
def test_check_reports_bad_declarations(tmp_path: Path, counters: str, expected: str) -> None:
    found = codes(tmp_path, counters)
    assert any(expected in d for d in found), found


def test_check_points_inside_the_key(tmp_path: Path) -> None:
    counters = (
        "  c:\n    events: message.shouldCreate\n    key: lower(actor.userId +)\n    window: 1m\n"
    )
    found = codes(tmp_path, counters)
    assert any(d.startswith("6:30:") and ":syntax:" in d for d in found), found


def test_check_name_clashes_and_unused(tmp_path: Path) -> None:
    counters = (
        "  staff: {events: message.shouldCreate, key: actor.userId, window: 1m}\n"
        "  len: {events: message.shouldCreate, key: actor.userId, window: 1m}\n"
        "  unused_one: {events: message.shouldCreate, key: actor.userId, window: 1m}\n"
        "  c: {events: message.shouldCreate, key: actor.userId, window: 1m}\n"
    )
    found = codes(tmp_path, counters, extra="lists:\n  staff: [a]\n")
    assert any("'staff' is both a list and a counter" in d for d in found), found
    assert any("'len' is a built-in function" in d for d in found), found
    assert any("counter 'unused_one' is never read" in d for d in found), found


def test_strikes_of_allow_or_shadow_rules_warn(tmp_path: Path) -> None:
    rules = (
        "  - id: a\n    events: message.shouldCreate\n    when: c > 1\n    action: allow\n"
        "  - id: s\n    events: message.shouldCreate\n    action: deny\n    mode: shadow\n"
    )
    found = codes(tmp_path, "  c: {decisions: [a, s], key: actor.userId, window: 1h}\n", rules)
    assert any("never-counts" in d and "allows" in d for d in found), found
    assert any("never-counts" in d and "shadow" in d for d in found), found


def test_other_policies_rules_count_with_policy_slash_rule(tmp_path: Path) -> None:
    folder = write(tmp_path, RATE)
    other = (
        "policy: other\ndescription: d\ncounters:\n"
        "  s: {decisions: [rate/censor, rate/censr], key: actor.userId, window: 1h}\n"
        "rules:\n  - id: x\n    events: message.shouldCreate\n    when: s > 1\n    action: deny\n"
    )
    (folder / "other.yaml").write_text(other, encoding="utf-8")
    report = check_paths([folder])
    messages = [d.message for d in report.diagnostics]
    assert any("no rule 'rate/censr'" in m and "did you mean 'rate/censor'" in m for m in messages)


def test_counter_reads_compile_into_the_tree(rate: Harness) -> None:
    decision = rate.decide()
    assert decision.action == "allow"
    assert rate.value("messages_per_minute") == 1


# -- semantics ------------------------------------------------------------------------------


def test_the_current_event_counts_and_denied_attempts_still_count(rate: Harness) -> None:
    answers = [rate.decide().rule for _ in range(8)]
    assert answers == [None] * 5 + ["rate/flood"] * 3
    assert rate.value("messages_per_minute") == 8
    assert rate.decide(event="post.shouldCreate").action == "allow"  # feeds the same counter
    assert rate.last is not None and rate.last.values == {}  # no post rule reads it
    decision = rate.decide()  # three flood denials were three strikes
    assert decision.message == "Too many strikes (3)."
    assert rate.value("messages_per_minute") == 10


def test_the_window_slides(rate: Harness) -> None:
    for _ in range(5):
        rate.decide(advance=10)
    assert rate.value("messages_per_minute") == 5
    rate.decide(advance=20)  # t=70: the first (t=10) left the window
    assert rate.value("messages_per_minute") == 5
    rate.decide(advance=60)  # t=130: everything up to t=70 left it
    assert rate.value("messages_per_minute") == 1


def test_an_event_exactly_one_window_old_no_longer_counts(rate: Harness) -> None:
    rate.decide(advance=0)
    rate.decide(advance=60)
    assert rate.value("messages_per_minute") == 1


def test_when_filters_what_feeds_the_counter(rate: Harness) -> None:
    rate.decide(text="")
    rate.decide(text="")
    assert rate.value("messages_per_minute") == 0
    rate.decide()
    assert rate.value("messages_per_minute") == 1


def test_null_key_does_not_count_and_reads_zero(rate: Harness) -> None:
    for _ in range(7):
        decision = rate.decide(user=None)
    assert decision.action == "allow"
    assert rate.value("messages_per_minute") == 0
    assert rate.value("strikes") == 0
    assert "key null" in "\n".join(rate.last.explain())


def test_distinct_counts_different_values(rate: Harness) -> None:
    for channel in ["c1", "c2", "c2", "c3", "c4"]:
        assert rate.decide(text=" Buy NOW ", user=None, channel=channel).action == "allow"
    assert rate.value("channels_per_text") == 4
    decision = rate.decide(text="buy now", user=None, channel="c5")
    assert (decision.action, decision.rule) == ("deny", "rate/same-text")


def test_strikes_are_read_before_and_counted_after(rate: Harness) -> None:
    for expected in [0, 1, 2]:
        decision = rate.decide(text="darn", advance=100)
        assert rate.value("strikes") == expected
        assert decision.modified_by == ["rate/censor"]
    decision = rate.decide(text="darn", advance=100)
    assert (decision.action, decision.rule) == ("deny", "rate/strikes-out")
    assert decision.message == "Too many strikes (3)."
    assert any("strike recorded" in line for line in rate.last.explain()) is False


def test_shadow_hits_never_count(rate: Harness) -> None:
    for _ in range(5):
        decision = rate.decide(text="shadowy", advance=100)
        assert [s.rule for s in decision.shadow] == ["rate/shadow-deny"]
    assert rate.value("strikes") == 0


def test_on_deny_dropped_modifications_do_not_strike_but_the_deny_does(rate: Harness) -> None:
    decision = rate.decide(text="darn", channel="blocked", advance=100)
    assert (decision.action, decision.rule) == ("deny", "rate/deny-after-censor")
    rate.decide(advance=100)
    assert rate.value("strikes") == 0  # deny-after-censor is not listed, censor was dropped
    for _ in range(6):
        rate.decide(advance=1)
    assert rate.value("strikes") == 1  # the first flood deny counted...
    rate.decide(advance=1)
    assert rate.value("strikes") == 2  # ...and the next one


def test_strikes_expire_with_their_window(rate: Harness) -> None:
    for _ in range(3):
        rate.decide(text="darn", advance=100)
    assert rate.decide(advance=100).action == "deny"
    assert rate.decide(advance=86_400).action == "allow"


def test_unknown_counters_read_null_and_can_be_tested(rate: Harness) -> None:
    event = Event("message.shouldCreate", {"text": "x"}, {"userId": "u1"})
    tree = rate.policies.tree(event.name)
    values = {
        "rate/messages_per_minute": None,
        "rate/strikes": None,
        "rate/channels_per_text": None,
    }
    decision = evaluate(
        tree, event, Timestamp(T0), counters=values, counters_unavailable=True, explain=True
    )
    assert decision.action == "allow"  # null > 5 is false
    join = Event("channel.shouldJoin", {"channelId": "c"}, {"userId": "u1"})
    jtree = rate.policies.tree(join.name)
    assert evaluate(jtree, join, Timestamp(T0), counters_unavailable=True).action == "deny"
    assert evaluate(jtree, join, Timestamp(T0)).action == "allow"


def test_counter_plans_are_built_with_the_trees_never_per_request(
    rate: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = rate.policies.plan("message.shouldCreate")
    assert plan and plan is rate.policies.plans["message.shouldCreate"]
    assert not rate.policies.plan("channel.shouldLeave")  # no counter involved

    def no_compiling(*args: Any) -> Any:
        raise AssertionError("a counter plan was compiled on the request path")

    monkeypatch.setattr("receiver.runtime.policyset.build_plan", no_compiling)
    for _ in range(7):
        rate.decide()
    assert rate.value("messages_per_minute") == 7


def test_an_unknown_events_plan_is_built_once_with_its_tree(
    rate: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []
    real = module.build_plan

    def counting(counters: Any, tree: Any) -> Any:
        built.append(tree.event)
        return real(counters, tree)

    monkeypatch.setattr(module, "build_plan", counting)
    # no rule applies to post.shouldArchive, but "post.*" feeds messages_per_minute
    for _ in range(3):
        assert rate.decide(event="post.shouldArchive").action == "allow"
    assert built == ["post.shouldArchive"]
    read = Op("rate/messages_per_minute", 60_000, "u1")
    assert rate.backend.apply([read], int(rate.now * 1000)) == [3]
    # an event that neither a rule nor a counter knows has nothing to build or keep
    assert rate.policies.compiled("user.didNothing")[1] is EMPTY_PLAN
    assert built == ["post.shouldArchive"]


def test_seeding_means_the_value_before_the_event(rate: Harness) -> None:
    counter = find_counter(rate.policies.counters, "messages_per_minute")
    assert not isinstance(counter, str)
    seed(rate.backend, counter, "u1", 5, Timestamp(rate.now))
    assert rate.decide(advance=0).action == "deny"
    assert rate.value("messages_per_minute") == 6
    assert isinstance(find_counter(rate.policies.counters, "messages_per_minut"), str)


# -- tools: eval, test files ------------------------------------------------------------


def run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "receiver", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_eval_seeds_counters_and_explains_them(tmp_path: Path) -> None:
    folder = write(tmp_path, RATE)
    seeds = tmp_path / "seeds.yaml"
    seeds.write_text("messages_per_minute: {u1: 5}\nrate/strikes: {u2: 1}\n", encoding="utf-8")
    payload = json.dumps(
        {"eventName": "message.shouldCreate", "data": {"text": "hi"}, "actor": {"userId": "u1"}}
    )
    result = run_cli(
        "eval", str(folder), "-", "--explain", "--counters-seed", str(seeds), stdin=payload
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"action": "deny", "message": "Slow down (6 in a minute)."}
    assert 'rate/messages_per_minute ["u1"] = 6 (this event counted)' in result.stderr
    assert "strike recorded: rate/strikes" in result.stderr
    seeds.write_text("nope: {u1: 5}\n", encoding="utf-8")
    bad = run_cli("eval", str(folder), "-", "--counters-seed", str(seeds), stdin=payload)
    assert bad.returncode == 2
    assert "no counter 'nope'" in bad.stderr


def test_policy_tests_seed_counters(tmp_path: Path) -> None:
    folder = write(tmp_path, RATE)
    (folder / "rate.test.yaml").write_text(
        """\
now: 2026-11-22T12:00:00Z
defaults: {event: message.shouldCreate, user: u1}
counters:
  messages_per_minute: {u1: 2}
cases:
  - name: below the limit
    data: {text: hi}
    expect: allow
  - name: a flood is refused
    counters: {messages_per_minute: {u1: 5}}
    data: {text: hi}
    expect: {action: deny, rule: flood, message: Slow down (6 in a minute).}
  - name: the third strike
    counters: {rate/strikes: {u1: 3}}
    data: {text: hi}
    expect: {action: deny, rule: strikes-out}
  - name: cases do not share counters
    data: {text: hi}
    expect: allow
""",
        encoding="utf-8",
    )
    result = run_cli("test", str(folder))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout
    (folder / "rate.test.yaml").write_text(
        "defaults: {event: message.shouldCreate}\ncounters: {strikez: {u1: x}}\n"
        "cases:\n  - name: a\n    counters: {strikez: {u1: 1}}\n    expect: allow\n",
        encoding="utf-8",
    )
    result = run_cli("test", str(folder))
    assert result.returncode == 2
    assert "strikez[u1] must be a whole number" in result.stdout
    (folder / "rate.test.yaml").write_text(
        "defaults: {event: message.shouldCreate}\n"
        "cases:\n  - name: a\n    counters: {strikez: {u1: 1}}\n    expect: allow\n",
        encoding="utf-8",
    )
    result = run_cli("test", str(folder))
    assert result.returncode == 2
    assert "no counter 'strikez'; did you mean 'strikes'?" in result.stdout
