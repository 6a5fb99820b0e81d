"""End to end: stalled sinks never hold up an answer (issue 18, defect 4).

The real ``receiver serve`` process on a free loopback port. With stdout and stderr
piped to a reader that never reads, requests (decided ones, which write the decision
log, refused ones, and one whose rules fail, which logs a warning for each of a
thousand rules) are all answered promptly, until both sinks overflow and a few hundred
more; ``/healthz`` answers, and ``/metrics`` counts the dropped lines and records;
once the pipes are drained, what was written is whole JSON lines, and a SIGTERM while
they are still stalled ends the process in bounded time. With ``--decision-log FILE``
on a healthy disk nothing is dropped and SIGTERM writes out every line. Every process
runs in its own session and is killed (group and all) when its test ends; every wait
and every loop is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest
from chat_policy import SECRET, message, policy
from prometheus_client.parser import text_string_to_metric_families
from serverproc import START_TIMEOUT, clean_env, free_port, policy_dir, stop, wait_for

from receiver.adapters.signatures import sign_base64

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGHUP"), reason="POSIX signals (process groups) needed"
)

HOOK = "/hooks/socialplus"
QUEUE = 300  # --log-queue: small, so that a few hundred requests overflow it
MOST = 4500  # requests at most in a stalled phase (the pipe and the queue overflow long before)
AFTER_DROPS = 200  # requests still sent, and answered promptly, once both sinks drop
CHECK_EVERY = 50  # requests between two looks at the dropped counters
HEALTHY = 1500  # signed requests to the healthy decision-log file: one line each
FAILING = 1500  # rules that fail on the one post event: a warning each (about 150 KB)
PROMPT = 2.0  # seconds: the slowest answer allowed while the sinks are stalled
STALL_PHASE = 120.0  # seconds: the whole stalled phase, on a busy two-core machine
EXIT_TIMEOUT = 20.0  # seconds: SIGTERM to exit, with both sinks stalled


class Running:
    def __init__(self, proc: subprocess.Popen[bytes], port: int) -> None:
        self.proc = proc
        self.base = f"http://127.0.0.1:{port}"
        self.client = httpx.Client(timeout=PROMPT * 5)

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"the server exited with {self.proc.returncode}")
        try:
            return self.client.get(self.base + "/readyz").status_code == 200
        except httpx.HTTPError:
            return False

    def metric(self, name: str) -> float:
        text = self.client.get(self.base + "/metrics").text
        return sum(
            s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == name
        )

    def post(self, body: bytes, signed: bool) -> tuple[int, float]:
        headers = {"content-type": "application/json"}
        if signed:
            headers["x-amity-signature"] = sign_base64(SECRET.encode(), body)
        started = time.monotonic()
        response = self.client.post(self.base + HOOK, content=body, headers=headers)
        return response.status_code, time.monotonic() - started


def failing_policy() -> str:
    """FAILING rules that each fail on a post (a string plus a number): one warning each.
    The service logs a failing rule at most once per 10 s, so one post logs them all."""
    rules = "".join(
        f"  - id: fails-{k}\n    events: post.shouldCreate\n"
        f"    when: len(data.text + 1) > {k}\n    action: deny\n"
        for k in range(FAILING)
    )
    return "policy: failing\nrules:\n" + rules


def post_event() -> bytes:
    return json.dumps(
        {"eventName": "post.shouldCreate", "data": {"text": "a post"}, "actor": {"userId": "u1"}}
    ).encode()


@contextlib.contextmanager
def serve(tmp_path: Path, *args: str, **pipes: int) -> Iterator[Running]:
    policies = policy_dir(tmp_path, policy("v1"))
    (policies / "failing.yaml").write_text(failing_policy())
    port = free_port()
    command = [sys.executable, "-m", "receiver", "serve", "--port", str(port),
               "--policies", str(policies), *args]  # fmt: skip
    with (tmp_path / "server.out").open("wb") as out, (tmp_path / "server.err").open("wb") as err:
        proc = subprocess.Popen(
            command,
            stdout=pipes.get("stdout", out.fileno()),
            stderr=pipes.get("stderr", err.fileno()),
            env=clean_env(RECEIVER_SOCIALPLUS_SECRET=SECRET),
            cwd=tmp_path,
            start_new_session=True,
        )
    running = Running(proc, port)
    try:
        wait_for("/readyz", running.ready, START_TIMEOUT)
        yield running
    finally:
        stop(proc)
        running.client.close()


class Drain:
    """Reads a pipe to its end in a thread, from when it is started."""

    def __init__(self, pipe: IO[bytes]) -> None:
        self.pipe = pipe
        self.data = bytearray()
        self.thread = threading.Thread(target=self._read, daemon=True)

    def _read(self) -> None:
        while chunk := os.read(self.pipe.fileno(), 1 << 16):
            self.data += chunk

    def start(self) -> Drain:
        self.thread.start()
        return self


def decision_lines(data: bytes) -> list[dict[str, object]]:
    """Every line whole JSON: a decision-log line cut in two fails here."""
    assert data.endswith(b"\n"), data[-200:]
    return [json.loads(line) for line in data.splitlines()]


def both_dropping(server: Running) -> bool:
    """Whether both stalled sinks have overflowed: decision-log lines and log records dropped."""
    return (
        server.metric("receiver_decision_log_dropped_total") > 0
        and server.metric("receiver_log_dropped_total") > 0
    )


def send_all(server: Running) -> tuple[list[float], int]:
    """One post, then signed and unsigned requests (every third one), interleaved, until
    both sinks drop and AFTER_DROPS more; their latencies, and how many were decided."""
    signed = json.dumps(message("hello there")).encode()
    unsigned = json.dumps(message("no signature")).encode()
    latencies: list[float] = []
    decided = 1
    deadline = time.monotonic() + STALL_PHASE
    status, seconds = server.post(post_event(), signed=True)  # FAILING warnings at once
    assert status == 200
    latencies.append(seconds)
    stop_at = MOST
    for n in range(MOST):
        if n == stop_at:
            break
        refuse = n % 3 == 2
        status, seconds = server.post(unsigned if refuse else signed, signed=not refuse)
        assert status == (401 if refuse else 200)
        decided += not refuse
        latencies.append(seconds)
        assert time.monotonic() < deadline, f"only {n} requests in {STALL_PHASE:.0f} s"
        if stop_at == MOST and n % CHECK_EVERY == 0 and both_dropping(server):
            stop_at = n + AFTER_DROPS
    assert stop_at < MOST, f"{MOST} requests and the sinks still did not both drop"
    return latencies, decided


@pytest.fixture
def pipes() -> Iterator[tuple[int, int, IO[bytes], IO[bytes]]]:
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    with open(out_read, "rb", buffering=0) as out, open(err_read, "rb", buffering=0) as err:
        yield out_write, err_write, out, err
    for fd in (out_write, err_write):
        with contextlib.suppress(OSError):
            os.close(fd)


def test_stalled_stdout_and_stderr_never_hold_up_an_answer(
    tmp_path: Path, pipes: tuple[int, int, IO[bytes], IO[bytes]]
) -> None:
    out_write, err_write, out, err = pipes
    with serve(tmp_path, "--log-queue", str(QUEUE), stdout=out_write, stderr=err_write) as server:
        os.close(out_write)  # the server holds its own copies
        os.close(err_write)
        latencies, decided = send_all(server)
        assert max(latencies) < PROMPT, f"slowest answer {max(latencies):.2f} s"
        started = time.monotonic()
        assert server.client.get(server.base + "/healthz").status_code == 200
        assert time.monotonic() - started < PROMPT
        dropped = server.metric("receiver_decision_log_dropped_total")
        assert dropped > 0  # the pipe took about 200 lines and the queue QUEUE more
        log_dropped = server.metric("receiver_log_dropped_total")
        assert log_dropped > 0
        stdout, stderr = Drain(out).start(), Drain(err).start()  # the reader comes back

        def caught_up() -> bool:
            written = len(stdout.data.splitlines())
            return written >= decided - dropped and stdout.data[-1:] == b"\n"

        def warnings() -> int:
            return bytes(stderr.data).count(b"WARNING receiver.http.service[")

        wait_for("the queued decision-log lines", caught_up, 30)
        lines = decision_lines(bytes(stdout.data))
        assert len(lines) == decided - dropped  # every line either written or counted
        assert {line["action"] for line in lines} == {"allow"}
        # Every rule failure's warning either reached stderr or was counted as dropped.
        wait_for("the queued log records", lambda: warnings() + log_dropped >= FAILING, 30)
        assert stderr.data.endswith(b"\n")
        assert b"Traceback" not in stderr.data


def test_sigterm_with_both_sinks_still_stalled_exits_in_bounded_time(
    tmp_path: Path, pipes: tuple[int, int, IO[bytes], IO[bytes]]
) -> None:
    out_write, err_write, out, err = pipes
    with serve(tmp_path, "--log-queue", str(QUEUE), stdout=out_write, stderr=err_write) as server:
        os.close(out_write)
        os.close(err_write)
        signed = json.dumps(message("hello")).encode()
        unsigned = json.dumps(message("no signature")).encode()
        stop_at = MOST
        for n in range(MOST):  # until the pipe and the queue overflow, and some more
            if n == stop_at:
                break
            server.post(signed, signed=True)
            server.post(unsigned, signed=False)
            if (
                stop_at == MOST
                and n % CHECK_EVERY == 0
                and server.metric("receiver_decision_log_dropped_total") > 0
            ):
                stop_at = n + AFTER_DROPS
        assert stop_at < MOST, f"{MOST} requests and the decision log never dropped"
        # last: its decision-log line (every failure listed) is larger than the pipe
        assert server.post(post_event(), signed=True)[0] == 200  # FAILING warnings at once
        assert server.metric("receiver_decision_log_dropped_total") > 0
        assert server.metric("receiver_log_dropped_total") > 0
        started = time.monotonic()
        os.killpg(server.proc.pid, signal.SIGTERM)
        # Raises if shutdown hung on a sink; uvicorn re-raises the SIGTERM it handled.
        assert server.proc.wait(EXIT_TIMEOUT) in (0, -signal.SIGTERM)
        assert time.monotonic() - started < EXIT_TIMEOUT
        stdout, stderr = Drain(out).start(), Drain(err).start()
        stdout.thread.join(10)
        stderr.thread.join(10)
    # What reached the pipe are whole lines, except perhaps one cut by the exit mid-write.
    whole = bytes(stdout.data).rpartition(b"\n")[0] + b"\n"
    assert len(decision_lines(whole)) > 100


def test_a_healthy_decision_log_file_drops_nothing_and_sigterm_writes_every_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "decisions.jsonl"
    with serve(tmp_path, "--decision-log", str(path)) as server:
        body = json.dumps(message("hello there")).encode()
        deadline = time.monotonic() + STALL_PHASE
        for n in range(HEALTHY):
            assert server.post(body, signed=True)[0] == 200
            assert time.monotonic() < deadline, f"only {n} requests in {STALL_PHASE:.0f} s"
        assert server.metric("receiver_decision_log_dropped_total") == 0
        os.killpg(server.proc.pid, signal.SIGTERM)
        assert server.proc.wait(EXIT_TIMEOUT) in (0, -signal.SIGTERM)  # uvicorn re-raises it
    lines = decision_lines(path.read_bytes())
    assert len(lines) == HEALTHY
    assert len({line["decision_id"] for line in lines}) == HEALTHY
