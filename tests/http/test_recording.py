"""Recording in the service (``serve --record``, receiver/http/service.py and app.py): each
decision's record holds the instant the rules saw, the user answer and the decision;
fail-safe answers are recorded and marked; a record that cannot be made is counted and
logged, and the answer is unaffected."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from serverproc import free_port
from starlette.testclient import TestClient

from receiver.adapters.signatures import Secrets, sign_base64
from receiver.counters.settings import CounterSettings
from receiver.http.app import create_app
from receiver.http.config import ServiceConfig
from receiver.observe.decisionlog import DecisionLog
from receiver.observe.recorder import RecordSettings
from receiver.observe.records import Record, read_records
from receiver.replay.engine import replay
from receiver.runtime.policyset import load_policies

SECRET = "recording-secret"
POLICY = """\
policy: chat
rules:
  - id: no-spam
    events: message.shouldCreate
    when: text contains "spam"
    action: deny
    message: No spam.
"""


class Harness:
    def __init__(self, client: TestClient, app: Any, records: Path) -> None:
        self.client, self.app, self.records_dir = client, app, records

    def post(self, text: str) -> Any:
        body = json.dumps({
            "eventName": "message.shouldCreate",
            "data": {"text": text, "channelId": "ch_1"},
            "actor": {"_id": "user_1", "userId": "user_1"},
        }).encode()  # fmt: skip
        headers = {"x-amity-signature": sign_base64(SECRET.encode(), body)}
        return self.client.post("/hooks/socialplus", content=body, headers=headers)

    def records(self) -> list[Record]:
        assert self.app.state.service.recorder.flush(5)
        return read_records([self.records_dir])

    def metric(self, name: str, **labels: str) -> float:
        text = self.client.get("/metrics").text
        return sum(
            s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "chat.yaml").write_text(POLICY)
    with contextlib.ExitStack() as stack:

        def start(**overrides: Any) -> Harness:
            records = tmp_path / "records"
            config = ServiceConfig(
                policies=policies, secrets=Secrets.parse(SECRET),
                record=RecordSettings(records), **overrides,
            )  # fmt: skip
            app = create_app(config, DecisionLog(io.BytesIO()))
            client = stack.enter_context(TestClient(app))
            return Harness(client, app, records)

        yield start


def test_a_record_holds_the_instant_the_rules_saw_and_the_decision(
    make: Callable[..., Harness],
) -> None:
    harness = make()
    harness.app.state.service.clock = lambda: 1764950400.123456
    response = harness.post("buy spam now")
    [record] = harness.records()
    assert record.decision_id == response.headers["x-decision-id"]
    assert record.time == 1764950400.123456
    assert record.decision["action"] == "deny" and record.decision["rule"] == "chat/no-spam"
    assert record.event.data["text"] == "buy spam now"
    assert (record.user_lookup, record.user) == ("not-needed", None)
    assert not record.degraded
    assert harness.metric("receiver_records_total", outcome="written") == 1


def test_a_fail_safe_answer_is_recorded_and_marked(
    make: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = make(default_action="deny")

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("injected failure for the test")

    monkeypatch.setattr("receiver.runtime.policyset.PolicySet.compiled", explode)
    response = harness.post("hello")
    assert response.json()["action"] == "deny"
    [record] = harness.records()
    assert record.degraded and record.decision["degraded_reason"] == "error"
    assert record.decision["action"] == "deny"


def test_a_record_that_cannot_be_made_is_counted_and_the_answer_stands(
    make: Callable[..., Harness],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    harness = make()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise TypeError("a value no record can hold")

    monkeypatch.setattr("receiver.observe.recorder.record_line", broken)
    with caplog.at_level(logging.ERROR, logger="receiver.http.service"):
        assert harness.post("buy spam now").json()["action"] == "deny"
        assert harness.post("hello").json() == {"action": "allow"}
    assert caplog.text.count("could not record decision") == 1  # throttled: one line
    assert "spam" not in caplog.text  # no user content in the log
    assert harness.metric("receiver_records_total", outcome="dropped") == 2
    assert harness.records() == []


FLOOD = """\
policy: flood
counters:
  per_minute:
    events: [message.shouldCreate]
    key: actor.userId
    window: 60s
rules:
  - id: flood
    events: message.shouldCreate
    when: per_minute > 2
    action: deny
  - id: counters-down
    events: message.shouldCreate
    when: counters_unavailable()
    action: deny
    message: Try again in a minute.
"""


@pytest.mark.parametrize(
    ("fallback", "state"), [("unknown", "unavailable"), ("memory", "fallback")]
)
def test_a_record_says_when_the_counter_backend_did_not_answer(
    make: Callable[..., Harness], tmp_path: Path, fallback: str, state: str
) -> None:
    (tmp_path / "policies" / "flood.yaml").write_text(FLOOD)
    redis_url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    settings = CounterSettings(backend="redis", redis_url=redis_url, fallback=fallback)  # type: ignore[arg-type]
    harness = make(counters=settings)
    answer = harness.post("hello").json()
    [record] = harness.records()
    assert record.counters == state
    # the replay decides it as the service did (counters unavailable: the deny above;
    # a worker's fallback counters: counted again by the replay, here the same)
    [replayed] = replay(load_policies([tmp_path / "policies"]), [record])
    assert replayed.decided.decision.response() == answer


def test_a_record_of_counters_that_answered_says_nothing_of_them(
    make: Callable[..., Harness], tmp_path: Path
) -> None:
    (tmp_path / "policies" / "flood.yaml").write_text(FLOOD)
    harness = make()  # memory counters, which always answer
    harness.post("hello")
    [record] = harness.records()
    assert record.counters == ""
