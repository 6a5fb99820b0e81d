"""decide(): one decision for the service, ``receiver eval`` and the policy test runner.

- the three front ends give the same decision for the same inputs (each is called);
- counters are read before and strikes recorded after, through decide() and its async
  driver alike;
- a user lookup that fails follows the documented fail-safe (``user`` is null and
  ``user_lookup_failed()`` is true), in both drivers;
- traced and untraced decisions are the same, over the shipped policies, their test
  suites' cases and generated messages.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Sequence
from pathlib import Path
from time import perf_counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from receiver.adapters import socialplus
from receiver.cli import main
from receiver.counters.memory import MemoryBackend
from receiver.counters.seed import seed
from receiver.counters.service import CounterService
from receiver.counters.settings import CounterSettings
from receiver.dsl.times import parse_time
from receiver.dsl.values import Timestamp
from receiver.http.config import ServiceConfig
from receiver.http.metrics import Metrics
from receiver.http.reload import LivePolicies
from receiver.http.service import Service
from receiver.runtime.counters import Op
from receiver.runtime.decide import Decided, decide, decide_async
from receiver.runtime.decision import Decision
from receiver.runtime.inputs import LOOKUP_FAILED, MISS
from receiver.runtime.payload import Event, parse_event
from receiver.runtime.policyset import PolicySet, load_policies
from receiver.runtime.trace import Tracer
from receiver.testing.model import Suite
from receiver.testing.reader import read_file
from receiver.testing.runner import TEST_DECISION_ID, Runner
from receiver.text.diagnostics import Diagnostics
from receiver.users.static import StaticDirectory

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "policies"
USERS = ROOT / "examples" / "users.yaml"
PAYLOADS = sorted((ROOT / "examples" / "payloads").glob("*.json"))
NOW_TEXT = "2026-11-22T12:00:00Z"
NOW = Timestamp(parse_time(NOW_TEXT))


@functools.cache
def shipped() -> PolicySet:
    return load_policies([SHIPPED])


def directory() -> StaticDirectory:
    return StaticDirectory.from_file(USERS)


def verdict(decision: Decision) -> dict[str, Any]:
    """What a decision says, everything but the trace."""
    return {**decision.summary(), "response": decision.response()}


# -- the three front ends ---------------------------------------------------------------


def service_decisions(payloads: Sequence[Path]) -> list[Decision]:
    """Each payload decided by the service (fresh memory counters each, the clock at NOW)."""
    live = LivePolicies(SHIPPED, USERS)
    live.load()
    decisions = []
    safe = Decision("allow", message="the fail-safe answer")
    for path in payloads:
        counters = CounterService(CounterSettings())
        service = Service(
            ServiceConfig(policies=SHIPPED), live, Metrics(), None,
            counters=counters, clock=lambda: NOW.epoch,
        )  # fmt: skip
        event = socialplus.parse_request(path.read_bytes())
        decision = asyncio.run(
            service.decision(event, TEST_DECISION_ID, perf_counter(), "socialplus", lambda: safe)
        )
        assert decision is not safe and not decision.degraded, path
        decisions.append(decision)
    return decisions


def eval_answers(payloads: Sequence[Path], capsys: pytest.CaptureFixture[str]) -> list[Any]:
    answers = []
    for path in payloads:
        argv = ["eval", str(SHIPPED), str(path), "--users", str(USERS), "--now", NOW_TEXT]
        assert main(argv) == 0, capsys.readouterr().err
        answers.append(json.loads(capsys.readouterr().out))
    return answers


def runner_decisions(payloads: Sequence[Path], tmp_path: Path) -> list[Decision]:
    """Each payload as a case of a test file (its expectation is beside the point)."""
    cases = [
        {"name": path.stem, "payload": str(path), "expect": {"errors": "any"}} for path in payloads
    ]
    suite = {"policies": str(SHIPPED), "now": NOW_TEXT, "users": str(USERS), "cases": cases}
    test_file = tmp_path / "front-ends.test.yaml"
    test_file.write_text(json.dumps(suite), encoding="utf-8")
    result = Runner(coverage=False).run([test_file])
    assert not result.broken and not result.problems, result.files[0].file.diagnostics
    return [case.decision for case in result.cases]


def test_the_service_eval_and_the_test_runner_decide_alike(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    served = service_decisions(PAYLOADS)
    evaluated = eval_answers(PAYLOADS, capsys)
    tested = runner_decisions(PAYLOADS, tmp_path)
    assert len(served) == len(evaluated) == len(tested) == len(PAYLOADS) > 20
    for path, by_service, by_eval, by_runner in zip(
        PAYLOADS, served, evaluated, tested, strict=True
    ):
        assert verdict(by_service) == verdict(by_runner), path.name
        assert by_eval == by_service.response(), path.name
    # the payloads reach every kind of answer, so the comparison covers them all
    assert {d.action for d in served} == {"allow", "deny"}
    assert any(d.modified for d in served) and any(d.rule is None for d in served)


# -- counters through decide() ----------------------------------------------------------


class RecordingCounters:
    """The async counter front's contract over a memory backend, recording each call."""

    def __init__(self, *, down: bool = False) -> None:
        self.backend = MemoryBackend()
        self.calls: list[list[Op]] = []
        self._down = down

    @property
    def down(self) -> bool:
        return self._down

    async def call(
        self, ops: Sequence[Op], now_ms: int, deadline: float | None
    ) -> tuple[list[int] | None, str]:
        self.calls.append(list(ops))
        if self._down:
            return None, "unknown"
        return (self.backend.apply(ops, now_ms) if ops else []), "memory"


def message(text: str, user: str = "member_lee", channel: str = "ch_general") -> Event:
    return parse_event(
        {
            "eventName": "message.shouldCreate",
            "data": {"text": text, "channelId": channel},
            "actor": {"_id": user, "userId": user},
        }
    )


def test_decide_reads_counters_before_and_records_strikes_after() -> None:
    backend = MemoryBackend()
    users = directory().get
    decisions = [
        decide(shipped(), message("what the fuck"), NOW, users=users, counters=backend)
        for _ in range(4)
    ]
    # three censored messages are three strikes; the fourth profane one is refused
    for n, decided in enumerate(decisions[:3], start=1):
        assert decided.decision.modified_by == ["profanity/censor-profanity"]
        assert decided.counters is not None
        assert decided.counters.values["rate-limits/messages_per_minute"] == n
        assert decided.counters.strikes == [
            'rate-limits/strikes ["member_lee"] (by profanity/censor-profanity)'
        ]
    last = decisions[3]
    assert (last.decision.action, last.decision.rule) == ("deny", "rate-limits/repeat-offender")
    assert last.counters is not None and last.counters.values["rate-limits/strikes"] == 3
    assert (
        '  strike recorded: rate-limits/strikes ["member_lee"] (by profanity/censor-profanity)'
        in (decisions[0].counter_lines())
    )


def test_without_a_counter_backend_no_counter_is_consulted() -> None:
    decided = decide(shipped(), message("hello"), NOW, users=directory().get)
    assert decided.counters is None and decided.counter_lines() == []
    assert decided.decision.action == "allow"


def test_the_async_driver_makes_one_counter_call_before_and_one_for_strikes() -> None:
    front = RecordingCounters()
    sync_backend = MemoryBackend()
    users = directory().get

    async def run(event: Event) -> Decided:
        return await decide_async(
            shipped(), event, NOW, users=users, counters=front, deadline=perf_counter() + 10
        )

    for text in ["hello", "what the fuck", "what the fuck"]:
        before = len(front.calls)
        decided = asyncio.run(run(message(text)))
        same = decide(shipped(), message(text), NOW, users=users, counters=sync_backend)
        assert verdict(decided.decision) == verdict(same.decision)
        calls = front.calls[before:]
        assert not any(op.add and op.counter == "rate-limits/strikes" for op in calls[0])
        if decided.decision.modified:  # censored: a strike, in a second call
            assert [[(op.counter, op.add) for op in c] for c in calls[1:]] == [
                [("rate-limits/strikes", True)]
            ]
        else:
            assert len(calls) == 1
    assert front.backend.apply([Op("rate-limits/strikes", 86_400_000, "member_lee")], int(
        NOW.epoch * 1000
    )) == [2]  # fmt: skip


def test_a_counter_backend_known_to_be_down_makes_counters_unavailable(tmp_path: Path) -> None:
    (tmp_path / "outage.yaml").write_text(
        "policy: outage\n"
        "rules:\n"
        "  - id: careful\n"
        "    events: [post.shouldCreate]\n"
        "    when: counters_unavailable()\n"
        "    action: deny\n"
        "    message: later\n",
        encoding="utf-8",
    )
    policies = load_policies([tmp_path])
    post = parse_event({"eventName": "post.shouldCreate", "data": {"text": "hi"}})

    def run(front: RecordingCounters | None) -> Decision:
        return asyncio.run(
            decide_async(policies, post, NOW, counters=front, deadline=perf_counter() + 10)
        ).decision

    down = RecordingCounters(down=True)
    assert run(down).action == "deny"
    assert down.calls == [[]]  # asked with no operations: nothing to send, still down
    assert run(RecordingCounters()).action == "allow"
    assert run(None).action == "allow"


# -- the user lookup fail-safe ------------------------------------------------------------

OUTAGE = """\
policy: directory-outage
priority: 100
rules:
  - id: try-later
    events: [message.shouldCreate]
    when: user_lookup_failed()
    action: deny
    message: "We can't check your account right now. Please try again in a minute."
  - id: unknown-user
    events: [message.shouldCreate]
    when: user == null
    action: deny
    message: who?
"""


class FailingCache:
    """A user cache whose directory fails: nothing fresh, every lookup fails."""

    def __init__(self) -> None:
        self.looked_up: list[str] = []

    def fresh(self, user_id: str) -> Any:
        return MISS

    async def lookup(self, user_id: str, remaining: float | None = None) -> Any:
        self.looked_up.append(user_id)
        assert remaining is not None and remaining > 0  # bounded by the deadline
        return LOOKUP_FAILED


def test_a_failed_user_lookup_follows_the_fail_safe(tmp_path: Path) -> None:
    (tmp_path / "outage.yaml").write_text(OUTAGE, encoding="utf-8")
    policies = load_policies([tmp_path])
    event = message("hello", user="sam")

    failed = decide(policies, event, NOW, users=lambda _: LOOKUP_FAILED).decision
    assert (failed.action, failed.rule) == ("deny", "directory-outage/try-later")
    unknown = decide(policies, event, NOW, users=lambda _: None).decision
    assert (unknown.action, unknown.rule) == ("deny", "directory-outage/unknown-user")
    known = decide(policies, event, NOW, users=lambda _: {"role": "member"}).decision
    assert known.action == "allow"

    cache = FailingCache()
    decided = asyncio.run(
        decide_async(policies, event, NOW, user_cache=cache, deadline=perf_counter() + 10)
    )
    assert verdict(decided.decision) == verdict(failed)
    assert cache.looked_up == ["sam"]


# -- traced == untraced -------------------------------------------------------------------


def _suites() -> list[Suite]:
    suites = []
    for path in sorted(SHIPPED.glob("*.test.yaml")):
        diags = Diagnostics()
        suite = read_file(path, diags)
        assert suite is not None and not diags.has_errors, path
        suites.append(suite)
    return suites


def _seeded(policies: PolicySet, seeds: Sequence[Any], now: Timestamp) -> MemoryBackend:
    backend = MemoryBackend()
    by_name = {c.id.split("/")[-1]: c for c in policies.counters}
    by_id = {c.id: c for c in policies.counters}
    for s in seeds:
        counter = by_id.get(s.name) or by_name[s.name]
        seed(backend, counter, s.key, s.value, now)
    return backend


def traced_and_untraced(
    policies: PolicySet, event: Event, now: Timestamp, users: Any, seeds: Sequence[Any] = ()
) -> tuple[Decided, Decided]:
    plain = decide(policies, event, now, users=users, counters=_seeded(policies, seeds, now))
    tracer = Tracer(policies.traced_tree(event.name))
    traced = decide(
        policies, event, now, users=users, counters=_seeded(policies, seeds, now), tracer=tracer
    )
    return plain, traced


def assert_same(plain: Decided, traced: Decided) -> None:
    assert verdict(plain.decision) == verdict(traced.decision)
    assert plain.decision.data == traced.decision.data
    assert plain.counter_lines() == traced.counter_lines()
    assert plain.decision.trace is None and traced.decision.trace is not None


def test_traced_and_untraced_decide_alike_on_every_shipped_test_case() -> None:
    policies = shipped()
    count = 0
    for suite in _suites():
        for case in suite.cases:
            now = case.now or suite.now or NOW
            users = case.users if case.users is not None else suite.users
            event = Event(case.event, case.data, case.actor)
            plain, traced = traced_and_untraced(
                policies, event, now, users.get if users else None,
                [*suite.counters, *case.counters],
            )  # fmt: skip
            assert_same(plain, traced)
            count += 1
    assert count > 100


def test_traced_and_untraced_decide_alike_on_every_example_payload() -> None:
    for path in PAYLOADS:
        event = socialplus.parse_request(path.read_bytes())
        assert_same(*traced_and_untraced(shipped(), event, NOW, directory().get))


WORDS = [
    "hello", "fuck", "shit", "free crypto", "claim your prize", "WHY IS NOBODY HERE",
    "https://example.org/x", "bit.ly/3xYzAbc", "call 555-0100", "whatsapp me", "meetup",
    "x" * 300, "", "   ", "discord.gg/abc", "ok",
]  # fmt: skip
EVENTS = [
    "message.shouldCreate", "message.shouldUpdate", "post.shouldCreate",
    "channel.shouldCreate", "channel.shouldJoin", "message.shouldFlag",
]  # fmt: skip
CHANNELS = [  # the channels the shipped policies index on, and others
    "ch_general", "ch_after_dark", "ch_mod_room", "ch_announcements", "ch_newcomers", None,
]  # fmt: skip
USER_IDS = ["member_lee", "member_sam", "mod_maya", "new_nina", "recent_rita", "nobody", None]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    event=st.sampled_from(EVENTS),
    words=st.lists(st.sampled_from(WORDS), max_size=4),
    channel=st.sampled_from(CHANNELS),
    user=st.sampled_from(USER_IDS),
    strikes=st.integers(min_value=0, max_value=4),
)
def test_traced_and_untraced_decide_alike_on_generated_events(
    event: str, words: list[str], channel: str | None, user: str | None, strikes: int
) -> None:
    data: dict[str, Any] = {"text": " ".join(words)}
    if channel is not None:
        data["channelId"] = channel
        data["displayName"] = " ".join(words)[:40]
    actor = {"_id": user, "userId": user} if user is not None else {}
    parsed = parse_event({"eventName": event, "data": data, "actor": actor})
    policies = shipped()
    backend_seeds = []
    if user is not None and strikes:
        strikes_counter = next(c for c in policies.counters if c.id == "rate-limits/strikes")
        backend_seeds = [_Seed(strikes_counter.id, user, strikes)]
    assert_same(*traced_and_untraced(policies, parsed, NOW, directory().get, backend_seeds))


class _Seed:
    def __init__(self, name: str, key: str, value: int) -> None:
        self.name, self.key, self.value = name, key, value


# -- what the user source answered (kept by serve --record) --------------------------------


def test_decided_says_what_the_user_source_answered(tmp_path: Path) -> None:
    (tmp_path / "outage.yaml").write_text(OUTAGE, encoding="utf-8")
    policies = load_policies([tmp_path])
    event = message("hello", user="sam")
    record = {"role": "member"}
    found = decide(policies, event, NOW, users=lambda _: record)
    assert (found.user_asked, found.user) == (True, record)
    failed = decide(policies, event, NOW, users=lambda _: LOOKUP_FAILED)
    assert (failed.user_asked, failed.user) == (True, LOOKUP_FAILED)
    missing = decide(policies, event, NOW, users=lambda _: None)
    assert (missing.user_asked, missing.user) == (True, None)
    cache = FailingCache()
    answered = asyncio.run(
        decide_async(policies, event, NOW, user_cache=cache, deadline=perf_counter() + 10)
    )
    assert (answered.user_asked, answered.user) == (True, LOOKUP_FAILED)


def test_an_event_no_rule_reads_the_user_of_asks_nothing() -> None:
    event = parse_event({"eventName": "channel.shouldLeave", "data": {}, "actor": {"userId": "x"}})
    decided = decide(load_policies([SHIPPED / "post-deletion.yaml"]), event, NOW, users=None)
    assert (decided.user_asked, decided.user) == (False, None)
    answered = asyncio.run(
        decide_async(
            load_policies([SHIPPED / "post-deletion.yaml"]), event, NOW,
            users=lambda _: {"role": "x"}, deadline=perf_counter() + 10,
        )
    )  # fmt: skip
    assert answered.user_asked is False
