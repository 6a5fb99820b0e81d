"""Hostile peers against the production shape: every case family of the hardening work.

One ``receiver serve`` runs the way operators run it: ``--workers 2``, the shipped
policies, a social.plus secret, a non-ASCII brainCloud bridge token, a metrics
token, Redis counters, an HTTP user directory (a real local server), the decision
log in a file and a 1 s read timeout. Against it, over real sockets on loopback:

- both workers decide signed requests (the defect: ``--workers N`` never started with
  a secret set);
- forged bodies of 250 KB are refused, and a signature over the compact
  re-serialisation is not accepted unless the operator opts in;
- JSON that the parser refuses (huge integers, deep nesting, bad UTF-8, NaN) is a
  counted 400 on every hook route, without a traceback;
- a request head over the limit is answered 431; slow heads and bodies are closed
  after the read timeout while signed requests keep being answered, with bounded memory;
- the shipped brainCloud XP policy denies XP sent as a string; the non-ASCII bridge
  token matches; ``/metrics`` and the policy names in ``/readyz`` need the token;
- a hypothesis property posts generated JSON-like bodies, signed and unsigned, to all
  three hook routes: never a 5xx, never a hang, and every request has exactly one
  outcome (a decision-log line, a counted webhook, or a counted 4xx).

Two more servers, each with two workers: one whose stdout (the decision log) and
stderr are pipes nobody reads, which must keep answering promptly, count what it drops
and still stop in bounded time; and a ``--watch`` server that is fed a YAML alias bomb
and a too-deep expression, refuses both in every worker without hanging, keeps serving
the old set and applies the next good edit. The same families in more detail, one
server each: ``test_workers.py``, ``test_serve_refusals.py``, ``test_connections.py``,
``test_hostile_sinks.py``, ``test_reload_e2e.py``; in process: ``test_hook_inputs.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from chat_policy import answer_message, policy
from fake_directory import FakeDirectory
from hostile_policies import BOMB, TOO_DEEP
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serverproc import Server, launcher, policy_dir, wait_for

from receiver.adapters.signatures import sign_base64
from receiver.http.tokens import sign as bridge_sign

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGHUP"), reason="POSIX signals (SIGHUP, process groups) needed"
)

ROOT = Path(__file__).resolve().parents[2]
SECRET = "hostile-secret-0001"
TOKEN = "brücke-токен-🔒"  # non-ASCII: a client sends its UTF-8 bytes
METRICS_TOKEN = "hostile-metrics-token"
SOCIALPLUS, EVENTS, BRAINCLOUD = (
    "/hooks/socialplus",
    "/hooks/socialplus/events",
    "/hooks/braincloud",
)
READ_TIMEOUT = 1.0


def message(text: str, user: str = "member_sam") -> dict[str, Any]:
    return {
        "eventName": "message.shouldCreate",
        "data": {"text": text, "channelId": "ch_general"},
        "actor": {"_id": user, "userId": user},
    }


def signed(body: bytes, path: str = SOCIALPLUS) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    if path == BRAINCLOUD:
        headers["x-receiver-signature"] = bridge_sign(TOKEN.encode(), body)
    else:
        headers["x-amity-signature"] = sign_base64(SECRET.encode(), body)
    return headers


def tree_rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` and its descendants (the supervisor and its workers)."""
    total, stack, seen = 0, [pid], set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{current}/status").read_text()
            total += int(status.split("VmRSS:")[1].split()[0])
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
    return total


def raw_exchange(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    """Send ``data`` on a new connection; everything answered until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(data)
        chunks = []
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)


# -- the production shape -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def directory() -> Iterator[FakeDirectory]:
    # YAML reads createdAt as a datetime: the service's JSON has it as text
    users = json.loads(
        json.dumps(yaml.safe_load((ROOT / "examples/users.yaml").read_text()), default=str)
    )
    with FakeDirectory(users) as fake:
        yield fake


@pytest.fixture(scope="module")
def prod(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, directory: FakeDirectory
) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("hostile")
    env = {
        "RECEIVER_SOCIALPLUS_SECRET": SECRET,
        "RECEIVER_BRAINCLOUD_TOKEN": TOKEN,
        "RECEIVER_METRICS_TOKEN": METRICS_TOKEN,
    }
    with launcher(root) as start:
        server = start(
            "--workers", "2", "--policies", str(ROOT / "policies"),
            "--counters", "redis", "--redis-url", redis_url,
            "--users-url", directory.url,
            "--decision-log", str(root / "decisions.jsonl"),
            "--read-timeout", str(READ_TIMEOUT),
            env=env,
        )  # fmt: skip
        wait_for("both workers", lambda: server.metric("receiver_policy_reloads_total") >= 2)
        yield server
        assert "Traceback" not in server.err(), server.err()[-3000:]


def decision_lines(server: Server) -> list[dict[str, Any]]:
    path = Path(server.stdout.parent) / "decisions.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_both_workers_decide_signed_requests(prod: Server) -> None:
    processes: set[str] = set()
    # Every request on a new connection: the kernel spreads them, but may give many in a
    # row to one worker. Each from a sender of its own, so that the shipped rate limit
    # (ten messages a minute per user) never answers instead of the worker.
    for n in range(300):
        body = json.dumps(message(f"hello number {n}", user=f"sender_{n}")).encode()
        response = prod.client.post(prod.base + SOCIALPLUS, content=body, headers=signed(body))
        assert response.status_code == 200, response.text
        assert response.json() == {"action": "allow"}
        processes.add(response.headers["x-decision-id"][:12])  # the per-process prefix
        if len(processes) == 2:
            break
    assert len(processes) == 2, "one worker answered every request"


def test_the_non_ascii_bridge_token_matches_and_xp_as_a_string_is_denied(prod: Server) -> None:
    envelope = {
        "version": 1, "hookType": "pre", "service": "playerStatistics",
        "operation": "SET_XPPOINTS", "profileId": "p1", "message": {"xp_points": "99999"},
    }  # fmt: skip
    body = json.dumps(envelope).encode()
    headers = {"content-type": "application/json", "x-receiver-token": TOKEN}
    response = prod.client.post(
        prod.base + BRAINCLOUD, content=body, headers={k: v.encode() for k, v in headers.items()}
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == 400  # refused: the XP is not a number
    envelope["message"] = {"xp_points": 100}
    body = json.dumps(envelope).encode()
    response = prod.client.post(
        prod.base + BRAINCLOUD, content=body, headers=signed(body, BRAINCLOUD)
    )
    assert response.json() == {"status": 200}


def test_operator_endpoints_need_the_metrics_token(prod: Server) -> None:
    anonymous = httpx.get(prod.base + "/metrics", timeout=10)
    assert anonymous.status_code == 401
    assert "receiver_" not in anonymous.text
    assert "policies" not in httpx.get(prod.base + "/readyz", timeout=10).json()
    assert prod.get("/metrics").status_code == 200
    assert "policies" in prod.get("/readyz").json()
    assert httpx.get(prod.base + "/healthz", timeout=10).status_code == 200


def test_forged_bodies_are_refused_and_the_compact_fallback_is_off(prod: Server) -> None:
    before = prod.metric("receiver_signature_failures_total", reason="mismatch")
    payload = message("x" * 100)
    payload["data"]["padding"] = ["filler text"] * 16_000  # about 250 KB
    body = json.dumps(payload).encode()
    assert 200_000 < len(body) < 262_144
    for _ in range(4):
        headers = {"content-type": "application/json",
                   "x-amity-signature": sign_base64(b"not-the-secret", body)}  # fmt: skip
        response = prod.client.post(prod.base + SOCIALPLUS, content=body, headers=headers)
        assert response.status_code == 401
    # signed over the compact re-serialisation, sent with spaces: accepted only by opt-in
    spaced = json.dumps(message("spaced"), indent=2).encode()
    compact = json.dumps(message("spaced"), separators=(",", ":")).encode()
    headers = {"content-type": "application/json",
               "x-amity-signature": sign_base64(SECRET.encode(), compact)}  # fmt: skip
    assert (
        prod.client.post(prod.base + SOCIALPLUS, content=spaced, headers=headers).status_code == 401
    )
    wait_for(
        "the refusals counted",
        lambda: prod.metric("receiver_signature_failures_total", reason="mismatch") >= before + 5,
    )
    # the log gets at most one such line per worker per 10 s, not one per forged request
    refusal = "refused a request: the signature does not match"
    wait_for("the refusal logged", lambda: refusal in prod.err(), 10)
    assert 1 <= prod.err().count(refusal) <= 2


HUGE_INT = b'{"eventName":"message.shouldCreate","data":{"n":' + b"9" * 5000 + b"}}"
DEEP = b'{"eventName":"message.shouldCreate","data":' + b"[" * 5000 + b"]" * 5000 + b"}"
BAD_UTF8 = b'{"eventName":"message.shouldCreate","data":{"text":"\xff\xfe"}}'
NAN = b'{"eventName":"message.shouldCreate","data":{"n":NaN}}'


@pytest.mark.parametrize("path", [SOCIALPLUS, EVENTS, BRAINCLOUD])
def test_json_the_parser_refuses_is_a_counted_400_on_every_route(prod: Server, path: str) -> None:
    before = prod.metric("receiver_bad_requests_total")
    for body in (HUGE_INT, DEEP, BAD_UTF8, NAN):
        response = prod.client.post(prod.base + path, content=body, headers=signed(body, path))
        assert response.status_code == 400, (path, body[:60], response.text)
        assert "error" in response.json()
    wait_for("the 400s counted", lambda: prod.metric("receiver_bad_requests_total") >= before + 4)


def test_a_head_over_the_limit_is_431(prod: Server) -> None:
    head = f"POST {SOCIALPLUS} HTTP/1.1\r\nHost: x\r\nx-filler: " + "a" * 70_000 + "\r\n\r\n"
    answer = raw_exchange(prod.port, head.encode())
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431"), answer[:100]


def test_slow_peers_are_closed_and_do_not_delay_signed_requests(prod: Server) -> None:
    rss_before = tree_rss_kib(prod.proc.pid)
    slow: list[socket.socket] = []
    try:
        for n in range(200):
            sock = socket.create_connection(("127.0.0.1", prod.port), timeout=10)
            if n % 2:  # a head that never ends
                sock.sendall(f"POST {SOCIALPLUS} HTTP/1.1\r\nHost: x\r\n".encode())
            else:  # a body that never comes
                sock.sendall(f"POST {SOCIALPLUS} HTTP/1.1\r\nHost: x\r\n"
                             "Content-Length: 1000\r\n\r\n{".encode())  # fmt: skip
            slow.append(sock)
        latencies = []
        for n in range(40):
            body = json.dumps(message(f"meanwhile {n}")).encode()
            started = time.monotonic()
            response = prod.client.post(prod.base + SOCIALPLUS, content=body, headers=signed(body))
            latencies.append(time.monotonic() - started)
            assert response.status_code == 200
        assert max(latencies) < 2.0, latencies
        # Each read waits for the server to close that peer, which it does once the read
        # timeout has passed since the peer's opening; all of them within a few seconds.
        deadline = time.monotonic() + READ_TIMEOUT + 5
        closed = 0
        for sock in slow:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(OSError):
                data = sock.recv(4096)
                if data == b"" or data.startswith(b"HTTP/1.1 408"):
                    closed += 1
        assert closed == len(slow)
    finally:
        for sock in slow:
            sock.close()
    assert tree_rss_kib(prod.proc.pid) - rss_before < 40 * 1024


# -- generated bodies: never a 5xx, exactly one outcome each ------------------------------------

EVENT_NAMES = ["message.shouldCreate", "post.shouldCreate", "channel.shouldJoin", "user.didUpdate",
               "message.shouldFlag", "unknown.event", ""]  # fmt: skip
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
socialplus_bodies = st.fixed_dictionaries(
    {"eventName": st.sampled_from(EVENT_NAMES) | st.text(max_size=20)},
    optional={"data": json_values | st.fixed_dictionaries({"text": st.text(max_size=60)}),
              "actor": json_values, "event": st.sampled_from(EVENT_NAMES)},
)  # fmt: skip
braincloud_bodies = st.fixed_dictionaries(
    {"version": st.sampled_from([1, 2, "1"]), "hookType": st.sampled_from(["pre", "post", "x"]),
     "service": st.sampled_from(["playerStatistics", "event", "bad name!"]),
     "operation": st.sampled_from(["SET_XPPOINTS", "SEND"])},
    optional={"message": json_values, "parms": json_values, "profileId": json_values},
)  # fmt: skip


def serialised(value: Any) -> bytes:
    return json.dumps(value, allow_nan=False).encode()


bodies = st.one_of(
    socialplus_bodies.map(serialised),
    braincloud_bodies.map(serialised),
    json_values.map(serialised),
    st.binary(max_size=200),
    socialplus_bodies.map(serialised).map(lambda b: b[: len(b) // 2]),
)


def outcome_counts(server: Server) -> dict[str, int]:
    """What the server itself recorded: decision-log lines, counted user webhooks, counted
    refusals (4xx)."""
    refused = server.metric("receiver_bad_requests_total")
    refused += server.metric("receiver_signature_failures_total")
    webhooks = server.metric("receiver_requests_total", platform="socialplus-webhook")
    return {
        "decided": len(decision_lines(server)),
        "webhook": int(webhooks),
        "refused": int(refused),
    }


@pytest.fixture(scope="module")
def ledger(prod: Server) -> dict[str, Any]:
    """The outcomes the generated requests got, and the server's accounts before them."""
    return {"before": outcome_counts(prod), "seen": {"decided": 0, "webhook": 0, "refused": 0}}


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, path=st.sampled_from([SOCIALPLUS, EVENTS, BRAINCLOUD]), sign=st.booleans())
def test_generated_bodies_never_get_a_5xx(prod: Server, ledger: dict[str, Any], body: bytes,
                                          path: str, sign: bool) -> None:  # fmt: skip
    headers = signed(body, path) if sign else {"content-type": "application/json"}
    response = prod.client.post(prod.base + path, content=body, headers=headers)
    assert response.status_code < 500, (path, body, response.text)
    seen = ledger["seen"]
    if response.status_code == 200:
        seen["webhook" if path == EVENTS else "decided"] += 1
    else:
        assert response.status_code in (400, 401, 413), response.status_code
        seen["refused"] += 1


def test_every_generated_request_had_exactly_one_outcome(
    prod: Server, ledger: dict[str, Any]
) -> None:
    """Runs right after the property (file order, nothing in between): the growth of the
    server's own accounts is exactly what the generated requests got."""
    seen, before = ledger["seen"], ledger["before"]
    assert sum(seen.values()) >= 100

    def grown() -> dict[str, int]:
        now = outcome_counts(prod)
        return {key: now[key] - before[key] for key in now}

    with contextlib.suppress(AssertionError):  # the decision log is written by a thread
        wait_for("the accounts to add up", lambda: grown() == seen, 10)
    assert grown() == seen


# -- a stalled stdout and stderr, on two workers ------------------------------------------------


def test_stalled_stdout_and_stderr_hold_up_no_answer_on_two_workers(tmp_path: Path) -> None:
    with launcher(tmp_path) as start:
        server = start(
            "--policies", str(ROOT / "policies"), "--log-queue", "200",
            "--counters", "memory-per-worker", secret=SECRET, workers=2, stalled=True,
        )  # fmt: skip
        slowest = 0.0
        ended = time.monotonic() + 120
        # A pipe holds about 64 KiB, some 250 lines, and each worker's queue 200 more: send
        # until the workers drop lines (summed over workers), then 300 more answers.
        stop_at = most = 2500
        for n in range(most):
            if n == stop_at:
                break
            body = json.dumps(message(f"into a stalled pipe {n}")).encode()
            started = time.monotonic()
            response = server.client.post(
                server.base + SOCIALPLUS, content=body, headers=signed(body)
            )
            slowest = max(slowest, time.monotonic() - started)
            assert response.status_code == 200
            assert time.monotonic() < ended, f"only {n} answers in 120 s"
            if (
                stop_at == most
                and n % 100 == 0
                and server.metric("receiver_decision_log_dropped_total") > 0
            ):
                stop_at = n + 300
        assert stop_at < most, f"{most} answers and no decision-log line dropped"
        assert slowest < 2.0, slowest
        assert server.get("/healthz").status_code == 200
        started = time.monotonic()
        os.killpg(server.proc.pid, signal.SIGTERM)  # and the stop is bounded too
        assert server.proc.wait(30) in (0, -signal.SIGTERM)
        assert time.monotonic() - started < 30


# -- policies that would hang or crash a load, on two workers -----------------------------------


def test_watching_workers_survive_a_bomb_and_a_too_deep_file_and_apply_the_next_edit(
    tmp_path: Path,
) -> None:
    policies = policy_dir(tmp_path, policy("v1"))
    with launcher(tmp_path) as start:
        server = start(
            "--policies", str(policies), "--watch", "--counters", "memory-per-worker",
            secret=SECRET, workers=2,
        )  # fmt: skip
        pids = server.workers()

        def answers() -> set[str]:
            seen = set()
            for pid in pids:
                with server.only(pid):
                    seen.add(answer_message(server, SECRET))
            return seen

        def failed() -> float:
            return server.metric("receiver_policy_reloads_total", result="failed")

        assert answers() == {"v1"}
        for count, (name, text) in enumerate((("bomb.yaml", BOMB), ("deep.yaml", TOO_DEEP)), 1):
            started = time.monotonic()
            (policies / name).write_text(text)
            wait_for(f"{name} refused by both workers", lambda c=count: failed() >= 2 * c, 30)
            assert time.monotonic() - started < 30  # refused, not hung on
            assert answers() == {"v1"}  # the old set keeps serving
            (policies / name).unlink()
            wait_for("the set reloaded without it", lambda c=count: failed() >= 2 * c, 5)
        (policies / "chat.yaml").write_text(policy("v2"))
        wait_for("both workers on v2", lambda: answers() == {"v2"}, 30)
        assert server.workers() == pids  # no worker died on the way
        assert "Traceback" not in server.err()
