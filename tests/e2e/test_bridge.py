"""The brainCloud bridge script, for real: ``bridge/braincloud/ReceiverHook.ccjs`` under Node.js.

A real ``receiver serve`` (a subprocess on a free loopback port, with a bridge token and
the shipped policies) answers; ``tests/bridge/run_bridge.js`` runs the script as Cloud
Code would run it for one API hook, with a stand-in for brainCloud's ``bridge`` object
whose HTTP client posts to the receiver synchronously. Each hook type goes through,
with the token and with the HMAC mode, and every failure (wrong token, receiver down,
an HTTP client that throws) ends in the hook type's fallback. Skipped without ``node``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from serverproc import free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bridge" / "braincloud" / "ReceiverHook.ccjs"
RUNNER = ROOT / "tests" / "bridge" / "run_bridge.js"
EXAMPLES = ROOT / "examples" / "braincloud"
TOKEN = "bridge-test-token-0123456789"
NODE = shutil.which("node")
STARTUP_SECONDS = 60

needs_node = pytest.mark.skipif(NODE is None, reason="node (Node.js) is not installed")


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A running ``receiver serve``: its base URL and its decision log."""
    work = tmp_path_factory.mktemp("bridge")
    decision_log = work / "decisions.jsonl"
    port = free_port()
    env = {**os.environ, "RECEIVER_BRAINCLOUD_TOKEN": TOKEN}
    env.pop("RECEIVER_SOCIALPLUS_SECRET", None)
    command = [
        sys.executable, "-m", "receiver", "serve", "--policies", str(ROOT / "policies"),
        "--host", "127.0.0.1", "--port", str(port), "--decision-log", str(decision_log),
        "--log-level", "warning",
    ]  # fmt: skip
    stderr = (work / "stderr.txt").open("wb")
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                stderr.flush()
                pytest.fail(f"receiver serve exited: {(work / 'stderr.txt').read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail("receiver serve did not become ready")
            time.sleep(0.1)
        yield base, decision_log
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        stderr.close()


def run_bridge(
    tmp_path: Path,
    data: dict[str, Any],
    services: dict[str, str],
    *,
    profile_id: str | None = "prof_1",
    http_throws: bool = False,
) -> dict[str, Any]:
    assert NODE is not None
    scenario = tmp_path / "scenario.json"
    scenario.write_text(
        json.dumps(
            {
                "script": str(SCRIPT),
                "data": data,
                "profileId": profile_id,
                "services": services,
                "httpThrows": http_throws,
            }
        )
    )
    result = subprocess.run(
        [NODE, str(RUNNER), str(scenario)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    outcome: dict[str, Any] = json.loads(result.stdout)
    return outcome


def hook_data(name: str, **parms: Any) -> dict[str, Any]:
    """brainCloud's ``data`` object for a hook, from an example envelope (minus the bridge's
    additions), with the hook's parameters plus ``parms``."""
    envelope = json.loads((EXAMPLES / name).read_text("utf-8"))
    data = {k: v for k, v in envelope.items() if k not in ("version", "hookType", "profileId")}
    data["parms"] = {**data.get("parms", {}), **parms}
    return data


def token_parms(hook_type: str | None) -> dict[str, Any]:
    parms: dict[str, Any] = {"receiverToken": TOKEN}
    if hook_type is not None:
        parms["receiverHookType"] = hook_type
    return parms


ANSWERS = {
    "pre-send-event-extradata.json": {
        "status": 200,
        "messageOverride": {
            "toId": "profile1",
            "eventType": "gift",
            "eventData": {"item": "sword", "source": "season-3"},
        },
    },
    "pre-set-xp-too-high.json": {
        "status": 500,
        "reasonCode": 50000,
        "errorMessage": "XP value is too high!",
    },
    "post-entity-read-contact.json": {
        "status": 200,
        "data": {
            "entityId": "a186da71-18b5-410d-9afa-779d6610bddd",
            "entityType": "contact",
            "version": 1,
            "data": {"firstName": "Bruce", "lastName": "Wayneo", "fullName": "Bruce Wayneo"},
            "acl": {"other": 0},
            "createdAt": 1467259136127,
            "updatedAt": 1467259136127,
        },
    },
    "postfail-entity-update-missing.json": {
        "status": 404,
        "reasonCode": 40332,
        "errorMessage": (
            "This contact no longer exists. It may have been deleted; reload and try again."
        ),
    },
}
HOOK_TYPES = {
    "pre-send-event-extradata.json": "pre",
    "pre-set-xp-too-high.json": "pre",
    "post-entity-read-contact.json": "post",
    "postfail-entity-update-missing.json": "postFail",
}


def test_the_script_is_plain_es5() -> None:
    """Cloud Code runs Rhino: no arrow functions, let/const, classes, templates or async."""
    code = re.sub(r"//[^\n]*", "", SCRIPT.read_text("utf-8"))
    code = re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', code)
    for pattern in (r"=>", r"\blet\b", r"\bconst\b", r"\bclass\b", r"`", r"\basync\b",
                    r"\bawait\b", r"\.\.\.", r"\brequire\(", r"\bimport\b"):  # fmt: skip
        assert re.search(pattern, code) is None, pattern


@needs_node
@pytest.mark.parametrize("name", sorted(ANSWERS))
@pytest.mark.parametrize("given_type", [True, False], ids=["typed", "type-guessed"])
def test_each_hook_type_through_the_bridge(
    receiver: tuple[str, Path], tmp_path: Path, name: str, given_type: bool
) -> None:
    base, _ = receiver
    hook_type = HOOK_TYPES[name] if given_type else None
    outcome = run_bridge(tmp_path, hook_data(name, **token_parms(hook_type)), {"receiver": base})
    assert outcome["answer"] == ANSWERS[name]
    assert outcome["warnings"] == []
    [call] = outcome["calls"]
    assert call["method"] == "postJsonResponseJson"
    assert (call["serviceCode"], call["path"], call["query"]) == (
        "receiver",
        "hooks/braincloud",
        {},
    )
    assert call["headers"] == {"x-receiver-token": TOKEN}
    sent = json.loads(call["body"])
    assert sent["version"] == 1
    assert sent["hookType"] == HOOK_TYPES[name]
    assert sent["profileId"] == "prof_1"
    assert not any(key.startswith("receiver") for key in sent["parms"])


@needs_node
def test_the_bridge_envelope_is_the_documented_one(
    receiver: tuple[str, Path], tmp_path: Path
) -> None:
    base, decision_log = receiver
    data = hook_data("pre-send-event-extradata.json", **token_parms("pre"))
    outcome = run_bridge(tmp_path, data, {"receiver": base}, profile_id="prof_envelope")
    [call] = outcome["calls"]
    assert json.loads(call["body"]) == {
        "version": 1,
        "hookType": "pre",
        "service": "event",
        "operation": "SEND",
        "parms": {"extradata": {"source": "season-3"}},
        "message": {"toId": "profile1", "eventType": "gift", "eventData": {"item": "sword"}},
        "profileId": "prof_envelope",
    }
    # The writer thread appends the line just after the answer: wait for it, boundedly.
    deadline = time.monotonic() + 5
    while True:
        logged = [json.loads(line) for line in decision_log.read_text().splitlines()]
        mine = [entry for entry in logged if entry["actor"] == "prof_envelope"]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert [(e["platform"], e["event"]) for e in mine] == [
        ("braincloud", "braincloud.pre.event.SEND")
    ]


@needs_node
def test_a_post_hook_that_changes_nothing_returns_null(
    receiver: tuple[str, Path], tmp_path: Path
) -> None:
    base, _ = receiver
    data = hook_data("post-entity-read-contact.json", **token_parms("post"))
    data["message"] = {"entityId": "e2", "entityType": "inventory", "data": {}}
    outcome = run_bridge(tmp_path, data, {"receiver": base})
    assert outcome["answer"] is None
    assert outcome["answerUndefined"] is False
    assert outcome["warnings"] == []


@needs_node
def test_the_hmac_mode_signs_the_exact_body(receiver: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = receiver
    parms = {**token_parms("pre"), "receiverAuth": "hmac"}
    data = hook_data("pre-send-event-extradata.json", **parms)
    data["message"]["eventData"]["note"] = "naïve café ☕"  # non-ASCII is escaped, not re-encoded
    outcome = run_bridge(tmp_path, data, {"receiver": base})
    [call] = outcome["calls"]
    assert call["method"] == "postTextResponseJson"
    assert set(call["headers"]) == {"x-receiver-signature"}
    assert call["body"].isascii()
    assert outcome["answer"]["messageOverride"]["eventData"] == {
        "item": "sword",
        "note": "naïve café ☕",
        "source": "season-3",
    }


FALLBACKS = {
    "pre": {"status": 200},
    "post": None,
    "postFail": None,
}


@needs_node
@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_a_wrong_token_falls_back(receiver: tuple[str, Path], tmp_path: Path, name: str) -> None:
    base, _ = receiver
    data = hook_data(name, receiverToken="not-the-token", receiverHookType=HOOK_TYPES[name])
    outcome = run_bridge(tmp_path, data, {"receiver": base})
    assert outcome["answer"] == FALLBACKS[HOOK_TYPES[name]]
    assert outcome["calls"][0]["outcome"]["statusCode"] == 401
    [warning] = outcome["warnings"]
    assert "using the fallback" in warning["message"]


@needs_node
@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_the_receiver_down_falls_back(tmp_path: Path, name: str) -> None:
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    outcome = run_bridge(tmp_path, hook_data(name, **token_parms(HOOK_TYPES[name])),
                         {"receiver": down})  # fmt: skip
    assert outcome["answer"] == FALLBACKS[HOOK_TYPES[name]]
    assert "error" in outcome["calls"][0]["outcome"]
    assert len(outcome["warnings"]) == 1


@needs_node
@pytest.mark.parametrize("hook_type", ["pre", "post", "postFail"])
def test_an_http_client_that_throws_falls_back(tmp_path: Path, hook_type: str) -> None:
    name = next(n for n, t in HOOK_TYPES.items() if t == hook_type)
    outcome = run_bridge(tmp_path, hook_data(name, **token_parms(hook_type)),
                         {"receiver": "http://unused"}, http_throws=True)  # fmt: skip
    assert outcome["answer"] == FALLBACKS[hook_type]
    [warning] = outcome["warnings"]
    assert "could not call the receiver" in warning["message"]


@needs_node
def test_a_pre_hook_can_fall_back_to_deny(tmp_path: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    parms = {**token_parms("pre"), "receiverPreFallback": "deny"}
    outcome = run_bridge(tmp_path, hook_data("pre-set-xp-too-high.json", **parms),
                         {"receiver": down})  # fmt: skip
    assert outcome["answer"] == {
        "status": 503,
        "reasonCode": 50001,
        "errorMessage": "This action could not be checked right now. Please try again later.",
    }


@needs_node
def test_an_unknown_service_code_falls_back(receiver: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = receiver
    parms = {**token_parms("pre"), "receiverServiceCode": "misspelled"}
    outcome = run_bridge(tmp_path, hook_data("pre-set-xp-too-high.json", **parms),
                         {"receiver": base})  # fmt: skip
    assert outcome["answer"] == {"status": 200}
    assert outcome["calls"][0]["serviceCode"] == "misspelled"


@needs_node
def test_without_a_profile_the_hook_is_still_decided(
    receiver: tuple[str, Path], tmp_path: Path
) -> None:
    base, _ = receiver
    data = hook_data("pre-set-xp-too-high.json", **token_parms("pre"))
    outcome = run_bridge(tmp_path, data, {"receiver": base}, profile_id=None)
    assert outcome["answer"] == ANSWERS["pre-set-xp-too-high.json"]
    assert "profileId" not in json.loads(outcome["calls"][0]["body"])
