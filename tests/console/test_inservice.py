"""The console inside the service (receiver/console/inservice.py, explorer.py, health.py)
through Starlette's TestClient: the mount, the explorer's filters and cursor, re-explaining
on held revisions, rule health, the token, and no 500 for any query."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from consolecraft import PAYLOADS, POLICIES, TOKEN
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from receiver.console.headers import CONTENT_SECURITY_POLICY
from receiver.console.health import health_json
from receiver.console.inservice import create_service_app
from receiver.console.served import Served, WorkerFeed
from receiver.http.config import ConsoleSettings, ServiceConfig

SHOUTING = "message-create-shouting.json"
PROFANITY = "message-create-profanity-v5.json"
LONG = "message-create-too-long.json"


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def service(
    policies: Path = POLICIES, *, content: bool = True, token: str | None = None,
    console: bool = True, buffer: int = 1000,
) -> TestClient:  # fmt: skip
    config = ServiceConfig(
        policies=policies, log_content=content,
        console=ConsoleSettings(buffer=buffer, token=token) if console else None,
        decision_log=Path("/dev/null"),
    )  # fmt: skip
    return TestClient(create_service_app(config), raise_server_exceptions=True)


@pytest.fixture(scope="module")
def fed() -> Any:
    """One service with three decisions made: shouting, profanity, too long."""
    with service() as client:
        for name in (SHOUTING, PROFANITY, LONG):
            assert client.post("/hooks/socialplus", json=payload(name)).status_code == 200
        yield client


def decisions(client: TestClient, query: str = "") -> dict[str, Any]:
    answer = client.get(f"/console/api/decisions{query}")
    assert answer.status_code == 200, answer.text
    out: dict[str, Any] = answer.json()
    return out


# -- the mount ----------------------------------------------------------------------------------


def test_console_redirects_to_console_slash_and_serves_the_page_with_its_headers(
    fed: TestClient,
) -> None:
    moved = fed.get("/console", follow_redirects=False)
    assert moved.status_code == 307 and moved.headers["location"] == "/console/"
    page = fed.get("/console/")
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert fed.get("/console/api/workspace").headers["cache-control"] == "no-store"


def test_the_service_endpoints_carry_no_console_headers(fed: TestClient) -> None:
    for path in ("/readyz", "/healthz", "/metrics", "/hooks/socialplus"):
        answer = fed.get(path)
        assert answer.status_code == 200
        assert "content-security-policy" not in answer.headers


def test_without_console_nothing_under_console_exists() -> None:
    with service(console=False) as client:
        for path in ("/console", "/console/", "/console/api/decisions", "/console/api/health"):
            answer = client.get(path)
            assert answer.status_code == 404
            assert answer.json() == {"error": "not found"}


def test_the_workspace_is_the_serving_revision_read_only(fed: TestClient) -> None:
    ws = fed.get("/console/api/workspace").json()
    assert ws["mode"] == "serve"
    assert ws["features"] == ["playground", "tests", "explorer", "health"]
    assert ws["can_save"] is False
    names = [f["name"] for f in ws["files"]]
    assert "profanity.yaml" in names
    assert ws["revision"] == fed.get("/readyz").json()["revision"]
    refused = fed.post("/console/api/save", json={"files": []})
    assert refused.status_code == 403


# -- the explorer ------------------------------------------------------------------------------


def test_the_explorer_lists_the_decisions_newest_first_with_content(fed: TestClient) -> None:
    answer = decisions(fed)
    assert answer["content"] is True and answer["buffer"] == 1000 and answer["workers"] == 1
    assert answer["revision"] == fed.get("/readyz").json()["revision"]
    events = [e["event"] for e in answer["entries"]]
    assert events == ["message.shouldCreate"] * 3
    assert [e["data"] for e in answer["entries"]][::-1] == [
        payload(name)["data"] for name in (SHOUTING, PROFANITY, LONG)
    ]
    assert all(e["explainable"] is True and isinstance(e["worker"], int)
               for e in answer["entries"])  # fmt: skip
    times = [e["time"] for e in answer["entries"]]
    assert times == sorted(times, reverse=True)


def test_filters_by_action_rule_event_and_actor(fed: TestClient) -> None:
    everything = decisions(fed)["entries"]
    deny = decisions(fed, "?action=deny")["entries"]
    assert deny and all(e["action"] == "deny" for e in deny)
    assert len(deny) == sum(e["action"] == "deny" for e in everything)
    modify = decisions(fed, "?rule=profanity/censor-profanity")["entries"]
    assert [e["modified_by"] for e in modify] == [["profanity/censor-profanity"]]
    assert len(decisions(fed, "?event=message.*")["entries"]) == 3
    assert decisions(fed, "?event=message.*&action=deny")["entries"] == deny
    assert decisions(fed, "?event=message")["entries"] == []
    assert decisions(fed, "?event=*.shouldCreate&limit=1")["entries"] == everything[:1]
    actor = everything[0]["actor"]
    assert all(e["actor"] == actor for e in decisions(fed, f"?actor={actor}")["entries"])
    assert decisions(fed, "?actor=nobody-at-all")["entries"] == []
    assert len(decisions(fed, "?action=&rule=&event=&actor=")["entries"]) == 3  # empty: any


def test_the_cursor_returns_only_newer_decisions(fed: TestClient) -> None:
    first = decisions(fed)
    assert decisions(fed, f"?after={first['cursor']}")["entries"] == []
    fed.post("/hooks/socialplus", json=payload(SHOUTING))
    newer = decisions(fed, f"?after={first['cursor']}")
    assert len(newer["entries"]) == 1
    assert decisions(fed, f"?after={newer['cursor']}")["entries"] == []


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
        ("?limit=ten", "limit"),
        ("?after=yesterday", "after"),
        ("?after=12-x", "after"),
        ("?colour=red", "unknown parameter"),
        ("?event=" + "x" * 201, "event"),
    ],
)
def test_bad_parameters_are_400_saying_what_to_send(fed: TestClient, query: str, says: str) -> None:
    answer = fed.get(f"/console/api/decisions{query}")
    assert answer.status_code == 400
    assert says in answer.json()["error"]


def test_an_unknown_decision_is_404(fed: TestClient) -> None:
    answer = fed.get("/console/api/decisions/no-such-id")
    assert answer.status_code == 404
    assert "no longer kept" in answer.json()["error"]


def test_the_buffer_keeps_the_last_n_decisions() -> None:
    with service(buffer=2) as client:
        ids = [client.post("/hooks/socialplus", json=payload(SHOUTING)).headers["x-decision-id"]
               for _ in range(3)]  # fmt: skip
        kept = [e["decision_id"] for e in decisions(client)["entries"]]
        assert kept == [ids[2], ids[1]]
        assert client.get(f"/console/api/decisions/{ids[0]}").status_code == 404


def test_a_decision_is_re_explained_in_the_playground_form(fed: TestClient) -> None:
    deny = decisions(fed, "?action=deny")["entries"][0]
    opened = fed.get(f"/console/api/decisions/{deny['decision_id']}")
    assert opened.status_code == 200
    body = opened.json()
    assert body["entry"]["decision_id"] == deny["decision_id"]
    current = body["explain"]["current"]
    assert set(current) >= {"answer", "decision", "rule", "data_diff", "trace", "revision"}
    assert current["rule"] == deny["rule"]
    assert current["answer"]["action"] == "deny"
    assert body["explain"]["original"] == current
    assert "both are the same" in body["explain"]["note"]


def test_re_explaining_uses_the_revision_that_decided_after_a_reload(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    with service(policies) as client:
        decision_id = client.post("/hooks/socialplus", json=payload(SHOUTING)).headers[
            "x-decision-id"
        ]
        old = client.get("/readyz").json()["revision"]
        shouting = policies / "shouting.yaml"
        text = shouting.read_text()
        assert "caps_ratio(text) > 0.7" in text
        shouting.write_text(text.replace("caps_ratio(text) > 0.7", "caps_ratio(text) > 1.5"))
        live = client.app.state.live  # type: ignore[attr-defined]
        assert live.reload()
        body = client.get(f"/console/api/decisions/{decision_id}").json()
        explained = body["explain"]
        assert explained["original"]["revision"] == old
        assert explained["current"]["revision"] == live.current.revision != old
        lowered = ["shouting/shouting-lowercase"]
        assert explained["original"]["decision"]["modified_by"] == lowered
        assert explained["original"]["data_diff"]
        assert explained["current"]["decision"]["modified_by"] == []
        assert "no longer" not in explained["note"]
        health = client.get("/console/api/health").json()
        assert health["revision"] == live.current.revision


def test_without_log_content_nothing_of_the_content_is_shown_or_re_explained() -> None:
    with service(content=False) as client:
        client.post("/hooks/socialplus", json=payload(PROFANITY))
        answer = decisions(client)
        assert answer["content"] is False
        (entry,) = answer["entries"]
        assert "message" not in entry and "data" not in entry
        assert entry["explainable"] is False
        body = client.get(f"/console/api/decisions/{entry['decision_id']}").json()
        assert body["explain"] == {
            "current": None, "original": None,
            "note": "start serve with --log-content to keep content and re-explain",
        }  # fmt: skip
        assert "hell" not in json.dumps(body)


# -- rule health -------------------------------------------------------------------------------


def test_health_lists_every_rule_in_policy_order_with_hits_this_minute(fed: TestClient) -> None:
    health = fed.get("/console/api/health").json()
    assert health["window"]["minutes"] == 60
    assert health["loaded_at"] > 0
    served = fed.app.state.live.current.policies  # type: ignore[attr-defined]
    assert [r["rule"] for r in health["rules"]] == [r.qualified_id for r in served.rules]
    assert health["policies"] == [p.name for p in served.policies]
    made = len(decisions(fed)["entries"])
    assert sum(health["totals"]["decisions"]) == made == health["totals"]["decisions"][-1]
    hits = {r["rule"]: sum(r["hits"]) for r in health["rules"]}
    assert hits["profanity/censor-profanity"] == 1
    for rule in health["rules"]:
        assert len(rule["hits"]) == len(rule["errors"]) == 60
        assert (rule["disagreements"] is None) == (rule["mode"] == "enforce" and
                                                   rule["rollout"] is None)  # fmt: skip


# -- the token ---------------------------------------------------------------------------------


def test_with_a_token_the_api_needs_it_and_the_hooks_do_not() -> None:
    with service(token=TOKEN) as client:
        assert client.post("/hooks/socialplus", json=payload(SHOUTING)).status_code == 200
        for path in ("/console/api/decisions", "/console/api/health", "/console/api/workspace"):
            assert client.get(path).status_code == 401
            wrong = client.get(path, headers={"authorization": "Bearer " + "x" * 30})
            assert wrong.status_code == 401
            good = client.get(path, headers={"authorization": f"Bearer {TOKEN}"})
            assert good.status_code == 200
        assert client.get(f"/console/api/decisions?token={TOKEN}").status_code == 401


# -- no 500 ------------------------------------------------------------------------------------

TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)
FIXTURE_OK = [HealthCheck.function_scoped_fixture]  # the module's service: shared on purpose


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.dictionaries(
        st.sampled_from(["after", "action", "rule", "event", "actor", "limit", "x"]),
        TEXT,
        max_size=4,
    )
)
def test_no_query_gets_a_500(fed: TestClient, params: dict[str, str]) -> None:
    answer = fed.get("/console/api/decisions", params=params)
    assert answer.status_code in (200, 400), answer.text
    assert "error" in answer.json() if answer.status_code == 400 else "entries" in answer.json()


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(TEXT.filter(lambda t: "/" not in t and t not in ("", ".", "..")))
def test_no_decision_id_gets_a_500(fed: TestClient, decision_id: str) -> None:
    answer = fed.get(f"/console/api/decisions/{quote(decision_id, safe='')}")
    assert answer.status_code in (404, 200), answer.text


def test_a_rule_no_longer_served_with_counts_in_the_hour_is_listed_as_retired(
    tmp_path: Path,
) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    with service(policies) as client:
        client.post("/hooks/socialplus", json=payload(SHOUTING))
        shouting = policies / "shouting.yaml"
        shouting.write_text(shouting.read_text().replace("id: shouting-lowercase", "id: lower"))
        assert client.app.state.live.reload()  # type: ignore[attr-defined]
        rules = client.get("/console/api/health").json()["rules"]
        retired = rules[-1]
        assert retired["rule"] == "shouting/shouting-lowercase" and retired["retired"] is True
        assert (retired["action"], retired["mode"], sum(retired["hits"])) == (
            "modify",
            "enforce",
            1,
        )
        renamed = next(r for r in rules if r["rule"] == "shouting/lower")
        assert sum(renamed["hits"]) == 0 and "retired" not in renamed


def test_health_sums_the_workers_minutes_and_drops_those_out_of_the_window(
    fed: TestClient,
) -> None:
    served: Served = fed.app.state.console  # type: ignore[attr-defined]
    now = 1_800_000_000.0
    minute = int(now // 60)

    def counts(hits: int) -> dict[str, Any]:
        return {"totals": [hits, 0, 0], "rules": {"profanity/censor-profanity": [hits, 0, 0]}}

    feeds = [
        WorkerFeed(1, [], {minute: counts(2), minute - 59: counts(1), minute - 60: counts(50)}),
        WorkerFeed(2, [], {minute: counts(3)}),
    ]
    health = health_json(served, feeds, clock=lambda: now)
    assert health["window"] == {"start": (minute - 59) * 60, "minutes": 60}
    decisions_ = health["totals"]["decisions"]
    assert decisions_[-1] == 5 and decisions_[0] == 1 and sum(decisions_) == 6
    rule = next(r for r in health["rules"] if r["rule"] == "profanity/censor-profanity")
    assert rule["hits"] == decisions_


def test_a_braincloud_hook_is_re_explained_in_braincloud_form() -> None:
    envelope = json.loads((PAYLOADS.parent / "braincloud" / "pre-set-xp-too-high.json").read_text())
    with service() as client:
        answer = client.post("/hooks/braincloud", json=envelope)
        assert answer.status_code == 200
        opened = client.get(f"/console/api/decisions/{answer.headers['x-decision-id']}").json()
        assert opened["entry"]["platform"] == "braincloud"
        assert opened["explain"]["current"]["answer"] == answer.json()
        assert answer.json()["errorMessage"] == "XP value is too high!"


def test_internal_trouble_is_a_503_logged_without_content(
    fed: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: Served) -> list[WorkerFeed]:
        raise RuntimeError("a secret payload text")

    monkeypatch.setattr(Served, "feeds", broken)
    for path in ("/decisions", "/health", "/decisions/anything"):
        answer = fed.get(f"/console/api{path}")
        assert answer.status_code == 503
        assert "internal error" in answer.json()["error"]
    assert "a secret payload text" not in caplog.text
    assert "RuntimeError" in caplog.text
