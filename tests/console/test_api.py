"""The console's API through Starlette's TestClient: workspace, decide, token, save,
headers and limits (check has test_api_check.py)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from consolecraft import (
    NOW,
    POLICIES,
    TOKEN,
    TYPO,
    USERS,
    client,
    payload,
    shipped_files,
    with_typo,
)

from receiver.console.bodies import MAX_BODY_BYTES
from receiver.console.deciding import nest_values
from receiver.console.headers import CONTENT_SECURITY_POLICY
from receiver.console.workspace import Workspace
from receiver.dsl.times import parse_time
from receiver.runtime.decision import TraceStep
from receiver.runtime.policyset import revision_of

EXAMPLES = POLICIES.parent / "examples"
BRAINCLOUD_ANSWER = {"status": 500, "reasonCode": 50000, "errorMessage": "XP value is too high!"}


def decide(**body: object) -> dict[str, object]:
    answer = client().post("/api/decide", json={"files": shipped_files(), "now": NOW} | body)
    assert answer.status_code == 200, answer.text
    out: dict[str, object] = answer.json()
    return out


# -- workspace -----------------------------------------------------------------------------------


def test_the_workspace_holds_the_policy_files_examples_users_and_time() -> None:
    answer = client().get("/api/workspace")
    assert answer.status_code == 200
    ws = answer.json()
    names = [f["name"] for f in ws["files"]]
    assert names == [f["name"] for f in shipped_files()]
    assert not any(n.endswith(".test.yaml") for n in names)
    assert ws["files"][names.index("links.yaml")]["text"] == (POLICIES / "links.yaml").read_text()
    examples = {e["name"]: e["payload"] for e in ws["examples"]}
    assert examples["message-create-too-long.json"] == payload("message-create-too-long.json")
    envelope = json.loads((EXAMPLES / "braincloud" / "pre-set-xp-too-high.json").read_text())
    assert examples["braincloud/pre-set-xp-too-high.json"] == envelope
    assert next(iter(examples)) == "channel-create-broadcast.json"  # social.plus ones first
    assert ws["users"] == USERS.read_text()
    assert abs(parse_time(ws["now"]) - time.time()) < 60
    assert ws["revision"] == revision_of([POLICIES / n for n in names])
    assert ws["can_save"] is False


def test_a_folder_without_examples_beside_it_offers_the_shipped_ones(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "a.yaml").write_text("policy: a\nrules: []\n")
    ws = client(folder, can_save=True).get("/api/workspace").json()
    assert [f["name"] for f in ws["files"]] == ["a.yaml"]
    assert any(e["name"] == "message-create-too-long.json" for e in ws["examples"])
    assert ws["can_save"] is True


# -- decide --------------------------------------------------------------------------------------


def test_decide_denies_a_too_long_message_and_names_the_rule() -> None:
    out = decide(payload=payload("message-create-too-long.json"), users=USERS.read_text())
    assert out["answer"] == {
        "action": "deny",
        "message": "Messages can be up to 2000 characters. Yours has 2222.",
    }
    assert out["rule"] == "content-length/message-too-long"
    decision = out["decision"]
    assert isinstance(decision, dict)
    assert decision["action"] == "deny"
    assert decision["rule"] == "content-length/message-too-long"
    assert out["data_diff"] == []


def test_the_trace_lists_each_rule_with_its_location_outcome_and_values() -> None:
    out = decide(payload=payload("message-create-too-long.json"), users=USERS.read_text())
    trace = out["trace"]
    assert isinstance(trace, dict)
    assert trace["event"] == "message.shouldCreate"
    rules = {step["rule"]: step for step in trace["rules"]}
    deciding = rules["content-length/message-too-long"]
    assert deciding["outcome"] == "matched"
    path, line, column = deciding["location"].rsplit(":", 2)
    assert path == "content-length.yaml"
    text = (POLICIES / path).read_text().splitlines()[int(line) - 1]
    assert text[int(column) - 1 :] == "id: message-too-long"
    assert deciding["values"], deciding
    assert all({"expr", "value", "children"} <= set(v) for v in deciding["values"])
    assert trace["rules"][-1]["rule"] == "content-length/message-too-long"


def test_sub_expression_values_nest_under_the_expression_that_holds_them() -> None:
    out = decide(payload=payload("message-create-too-long.json"), users=USERS.read_text())
    trace = out["trace"]
    assert isinstance(trace, dict)
    (step,) = [s for s in trace["rules"] if s["rule"] == "content-length/message-too-long"]
    (top,) = step["values"]
    assert (top["expr"], top["value"]) == ("len(text) > 2000", "true")
    assert [(c["expr"], c["value"]) for c in top["children"]] == [("len(text)", "2222")]
    assert top["location"].startswith("content-length.yaml:")
    assert top["children"][0]["children"] == []


def test_values_without_their_spans_are_listed_flat() -> None:
    step = TraceStep("p/r", "deny", "enforce", "matched", (("a", 1), ("a > 0", True)))
    assert nest_values(step) == [
        {"expr": "a > 0", "value": "true", "children": []},
        {"expr": "a", "value": "1", "children": []},
    ]


def test_a_modify_shows_the_changed_data_as_a_diff() -> None:
    out = decide(payload=payload("message-create-shouting.json"), users=USERS.read_text())
    answer = out["answer"]
    assert isinstance(answer, dict) and answer["action"] == "allow"
    (change,) = out["data_diff"]  # type: ignore[misc]
    assert change["path"] == "data.text"
    assert change["after"] == "why is nobody answering my question"
    assert change["before"] != change["after"]
    assert change["change"] == "changed"


def test_users_may_be_a_map_and_now_is_optional() -> None:
    out = decide(payload=payload("message-create-plain.json"), users={}, now=None)
    assert out["answer"] == {"action": "allow"}


def test_a_braincloud_envelope_gets_braincloud_s_answer() -> None:
    envelope = json.loads((EXAMPLES / "braincloud" / "pre-set-xp-too-high.json").read_text())
    answer = client().post("/api/decide", json={"files": shipped_files(), "payload": envelope})
    assert answer.status_code == 200, answer.text
    out = answer.json()
    assert out["answer"] == BRAINCLOUD_ANSWER
    assert out["rule"] == out["decision"]["rule"] is not None


def test_files_that_do_not_check_give_422_with_the_diagnostics() -> None:
    body = {"files": with_typo(shipped_files()), "payload": payload("message-create-plain.json")}
    answer = client().post("/api/decide", json=body)
    assert answer.status_code == 422
    codes = {d["code"] for d in answer.json()["diagnostics"]}
    assert "unknown-name" in codes


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("payload", {"data": {}}, "eventName"),
        ("payload", [1, 2], "JSON object"),
        ("now", "yesterday", "now:"),
        ("now", 5, "ISO-8601"),
        ("users", "a: [", "YAML syntax error"),
        ("users", {"u1": 3}, "record of user 'u1'"),
        ("users", 7, "users:"),
    ],
)
def test_a_bad_payload_users_or_time_gives_400_naming_the_field(
    field: str, value: object, says: str
) -> None:
    body = {"files": shipped_files(), "payload": payload("message-create-plain.json")}
    body[field] = value
    answer = client().post("/api/decide", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == field
    assert says in answer.json()["error"]


# -- token ---------------------------------------------------------------------------------------


def test_with_a_token_the_api_needs_it_in_the_authorization_header() -> None:
    console = client(token=TOKEN)
    assert console.get("/api/workspace").status_code == 401
    assert (
        console.get("/api/workspace", headers={"authorization": "Bearer nope"}).status_code == 401
    )
    assert console.get("/api/workspace", headers={"authorization": TOKEN}).status_code == 401
    ok = console.get("/api/workspace", headers={"authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200
    assert console.post("/api/check", json={"files": []}).status_code == 401


@pytest.mark.parametrize("name", ["token", "access_token", "authorization", "console_token"])
def test_the_token_is_never_taken_from_the_query_string(name: str) -> None:
    answer = client(token=TOKEN).get(f"/api/workspace?{name}={TOKEN}")
    assert answer.status_code == 401
    assert "Authorization: Bearer" in answer.json()["error"]


def test_the_page_and_its_assets_need_no_token() -> None:
    console = client(token=TOKEN)
    page = console.get("/")
    assert page.status_code == 200
    assert 'src="static/app.js"' in page.text  # relative: the same page serves under /console/
    assert console.get("/static/index.html").status_code == 200


# -- save ----------------------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    copy = tmp_path / "policies"
    shutil.copytree(POLICIES, copy)
    return copy


def test_save_is_refused_without_allow_save(folder: Path) -> None:
    answer = client(folder).post("/api/save", json={"files": shipped_files()})
    assert answer.status_code == 403
    assert "--allow-save" in answer.json()["error"]


def test_save_refuses_a_broken_set_and_writes_nothing(folder: Path) -> None:
    before = (folder / "links.yaml").read_text()
    answer = client(folder, can_save=True).post(
        "/api/save", json={"files": with_typo(shipped_files())}
    )
    assert answer.status_code == 422
    assert any(d["code"] == "unknown-name" for d in answer.json()["diagnostics"])
    assert (folder / "links.yaml").read_text() == before


def test_save_writes_a_set_that_checks(folder: Path) -> None:
    text = (folder / "links.yaml").read_text().replace("< 7d", "< 8d")
    answer = client(folder, can_save=True).post(
        "/api/save", json={"files": [{"name": "links.yaml", "text": text}]}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["saved"] == ["links.yaml"]
    assert (folder / "links.yaml").read_text() == text
    policy_files = [p for p in folder.glob("*.yaml") if not p.name.endswith(".test.yaml")]
    assert answer.json()["revision"] == revision_of(policy_files)
    assert not list(folder.glob(".*.tmp"))


def test_save_never_writes_outside_the_folder(folder: Path) -> None:
    answer = client(folder, can_save=True).post(
        "/api/save", json={"files": [{"name": "../escape.yaml", "text": "policy: x\n"}]}
    )
    assert answer.status_code == 400
    assert not (folder.parent / "escape.yaml").exists()


# -- headers and limits --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/static/index.html"),
        ("GET", "/static/nothing.js"),
        ("GET", "/nowhere"),
        ("GET", "/api/workspace"),
        ("POST", "/api/check"),
        ("GET", "/api/nothing"),
        ("POST", "/api/save"),
    ],
)
def test_every_response_carries_the_security_headers(method: str, path: str) -> None:
    answer = client(token=TOKEN).request(method, path)
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    expected = "no-store" if path.startswith("/api/") else "no-cache"
    assert answer.headers["cache-control"] == expected


def test_a_body_over_the_limit_gets_413() -> None:
    body = b'{"files": [{"name": "a.yaml", "text": "' + b"x" * MAX_BODY_BYTES + b'"}]}'
    answer = client().post("/api/check", content=body)
    assert answer.status_code == 413
    assert "limit" in answer.json()["error"]


def test_a_body_over_the_limit_without_a_length_gets_413() -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b" " * 65536

    answer = client().post("/api/check", content=chunks())
    assert answer.status_code == 413


@pytest.mark.parametrize("body", [b"", b"{junk", b"\xff\xfe", b"[" * 100000, b"1" * 5000])
def test_junk_gets_400_with_a_message(body: bytes) -> None:
    answer = client().post("/api/check", content=body)
    assert answer.status_code == 400
    assert answer.json()["error"]


def test_the_typo_is_in_a_shipped_condition() -> None:
    assert TYPO[0] in (POLICIES / "links.yaml").read_text()


def test_nan_and_infinity_are_not_json() -> None:
    for constant in (b"NaN", b"Infinity", b"-Infinity"):
        body = b'{"files": [], "payload": {"eventName": "x", "data": {"n": ' + constant + b"}}}"
        answer = client().post("/api/decide", content=body)
        assert answer.status_code == 400
        assert "not a JSON number" in answer.json()["error"]


def test_a_lone_surrogate_in_a_policy_text_gets_an_answer() -> None:
    body = b'{"files": [{"name": "a.yaml", "text": "policy: a\\nrules: []\\n# \\ud800"}]}'
    answer = client().post("/api/check", content=body)
    assert answer.status_code == 200
    assert isinstance(answer.json()["diagnostics"], list)


def test_an_internal_error_gets_503_and_a_log_line_without_content(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "gone"
    folder.mkdir()
    (folder / "secret-name.yaml").write_text("policy: a\nrules: []\n")
    console = client(folder)
    shutil.rmtree(folder)
    with caplog.at_level("ERROR", logger="receiver.console"):
        answer = console.get("/api/workspace")
    assert answer.status_code == 503
    assert "internal error" in answer.json()["error"]
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    (record,) = caplog.records
    assert "internal error #1" in record.getMessage()
    assert "FileNotFoundError" in record.getMessage()
    assert "gone" not in record.getMessage() and record.exc_info is None


def test_a_bundle_workspace_is_read_only_and_has_no_tests_view() -> None:
    """A bundle holds policy files only: no test files to run, nothing to save into."""
    console = Workspace.of_bundle(POLICIES, "https://bundles.example/policies.tar.gz")
    assert console.features == ["playground", "reports"] and console.can_save is False
    assert console.to_json()["bundle"] == "https://bundles.example/policies.tar.gz"
    served = Workspace.serving(POLICIES, list, bundle="https://bundles.example/p.tar.gz")
    assert served.features == ["playground", "explorer", "health"]
    assert Workspace.serving(POLICIES, list).features == [
        "playground", "tests", "explorer", "health",
    ]  # fmt: skip
