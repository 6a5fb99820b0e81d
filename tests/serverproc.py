"""Running the real ``receiver serve`` process in tests: start, probe, stop.

``launcher(workdir)`` starts servers on free loopback ports, each in its own session
with stdout and stderr in files, waits for ``/readyz`` and stops every one it started
(its whole process group) when the block ends. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from receiver.adapters.signatures import sign_base64, sign_hex

START_TIMEOUT = 30.0
HOOK = "/hooks/socialplus"


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A free loopback port below the kernel's ephemeral range.

    A port from ``bind(0)`` is free only until the socket closes: before the server binds
    it, the kernel may hand the same number to any outgoing connection or other
    ``bind(0)`` (CI saw a replica lose its port to one). The kernel never hands out a port
    below ``ip_local_port_range`` on its own, so one chosen there stays free unless another
    process picks it the same way; ports already handed out here are not handed out again.
    """
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 0
    if low > 11_000:
        for _ in range(200):
            port = random.randrange(10_000, low)
            if port in _HANDED_OUT:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _HANDED_OUT.add(port)
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        chosen: int = sock.getsockname()[1]
        return chosen


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECEIVER_", "PROMETHEUS_"))}
    env.update(extra)
    return env


def wait_for(what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


# -- running servers ----------------------------------------------------------------------------


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    stdout: Path
    stderr: Path
    tmp: Path  # the server's TMPDIR: what it leaves there can be seen
    metrics_token: str | None = None  # sent as a Bearer token by get()
    pipes: tuple[int, ...] = ()  # read ends of stdout and stderr pipes nobody reads (stalled)
    # No keep-alive: every request opens a new connection, so workers share the traffic.
    client: httpx.Client = field(
        default_factory=lambda: httpx.Client(
            timeout=15, limits=httpx.Limits(max_keepalive_connections=0)
        )
    )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def err(self) -> str:
        return self.stderr.read_text(errors="replace")

    def post(
        self, payload: Any, key: str | None = None, header: str = "x-amity-signature"
    ) -> httpx.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"content-type": "application/json"}
        if key is not None:
            sign = sign_hex if header == "x-signature" else sign_base64
            headers[header] = sign(key.encode(), body)
        return self.client.post(self.base + HOOK, content=body, headers=headers)

    def get(self, path: str, *, authorized: bool = True) -> httpx.Response:
        """GET ``path``, with the metrics token (when the server has one) unless not
        ``authorized``."""
        token = self.metrics_token if authorized else None
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return self.client.get(self.base + path, headers=headers)

    def metrics(self) -> list[tuple[str, dict[str, str], float]]:
        response = self.get("/metrics")
        if response.status_code != 200:
            raise AssertionError(f"/metrics answered {response.status_code}: {response.text}")
        return [
            (s.name, s.labels, s.value)
            for family in text_string_to_metric_families(response.text)
            for s in family.samples
        ]

    def metric(self, name: str, **labels: str) -> float:
        return sum(
            v
            for n, have, v in self.metrics()
            if n == name and all(have.get(k) == w for k, w in labels.items())
        )

    def workers(self) -> set[int]:
        """The live workers' pids, from their revision gauges (dead ones are removed)."""
        return {
            int(labels["pid"])
            for name, labels, value in self.metrics()
            if name == "receiver_policy_revision" and value == 1 and "pid" in labels
        }

    @contextlib.contextmanager
    def only(self, pid: int) -> Iterator[None]:
        """Every new connection goes to worker ``pid``: the others are stopped meanwhile."""
        others = self.workers() - {pid}
        for other in others:
            os.kill(other, signal.SIGSTOP)
        try:
            yield
        finally:
            for other in others:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(other, signal.SIGCONT)

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"the server exited with {self.proc.returncode}:\n{self.err()}")
        try:
            return self.get("/readyz").status_code == 200
        except httpx.HTTPError:
            return False


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server started in its own session, and anything left in its process group."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGCONT)  # a worker left stopped by a failed test
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # workers left behind, if any


Launch = Callable[..., Server]


@contextlib.contextmanager
def launcher(workdir: Path, server_class: type[Server] = Server) -> Iterator[Launch]:
    """Start servers (``launch(...)``) in ``workdir``; stop every one when the block ends."""
    started: list[Server] = []

    def spawn(
        args: tuple[str, ...], env: dict[str, str], port: int | None, stalled: bool
    ) -> Server:
        port = port or free_port()
        index = len(started)
        stdout, stderr = workdir / f"server{index}.out", workdir / f"server{index}.err"
        tmp = workdir / f"tmp{index}"  # its own TMPDIR: what it leaves there can be seen
        tmp.mkdir()
        env = {**env, "TMPDIR": str(tmp)}
        command = [sys.executable, "-m", "receiver", "serve", "--port", str(port), *args]
        reads: tuple[int, ...] = ()
        with stdout.open("wb") as out, stderr.open("wb") as err:
            targets = (out.fileno(), err.fileno())
            if stalled:  # pipes whose reader never reads: they fill up, then writes block
                (out_read, out_write), (err_read, err_write) = os.pipe(), os.pipe()
                targets, reads = (out_write, err_write), (out_read, err_read)
            proc = subprocess.Popen(
                command, stdout=targets[0], stderr=targets[1], env=env, cwd=workdir,
                start_new_session=True,
            )  # fmt: skip
            if stalled:
                for fd in targets:
                    os.close(fd)  # the server holds its own copies
        token = env.get("RECEIVER_METRICS_TOKEN")
        server = server_class(proc, port, stdout, stderr, tmp, token, reads)
        started.append(server)
        return server

    def launch(
        *args: str, secret: str | None = None, env: dict[str, str] | None = None,
        ready: bool = True, port: int | None = None, workers: int = 1, stalled: bool = False,
    ) -> Server:  # fmt: skip
        """``receiver serve --port P [--workers N] ARGS``; ``secret`` and ``env`` add to a
        clean environment (no ``RECEIVER_*`` or ``PROMETHEUS_*`` variables of the
        caller's). With ``ready``, waits for ``/readyz`` and for every worker. With
        ``stalled``, stdout and stderr are pipes that nobody reads."""
        extra = dict(env or {})
        if secret:
            extra["RECEIVER_SOCIALPLUS_SECRET"] = secret
        if workers > 1:
            args = ("--workers", str(workers), *args)
        for _ in range(3):
            server = spawn(args, clean_env(**extra), port, stalled)
            if not ready:
                return server
            try:
                wait_for("/readyz", server.ready, START_TIMEOUT)
            except AssertionError:
                # The free port may have been taken by someone else between free_port()
                # and the bind: try another one.
                gone = server.proc.poll() is not None
                if gone and port is None and "address already in use" in server.err():
                    continue
                raise
            if workers > 1:
                wait_for(f"{workers} workers", lambda s=server: len(s.workers()) == workers)
            return server
        raise AssertionError("no free port could be bound in three attempts")

    try:
        yield launch
    finally:
        for server in started:
            stop(server.proc)
            server.client.close()
            for fd in server.pipes:
                os.close(fd)


def policy_dir(root: Path, text: str, name: str = "chat.yaml") -> Path:
    directory = root / "policies"
    directory.mkdir(parents=True)
    (directory / name).write_text(text)
    return directory
