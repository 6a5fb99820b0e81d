"""A real ``redis-server`` for tests and benchmarks: start, probe, stop, start again.

Not a test module: ``tests/conftest.py`` (the session's Redis), the eviction broadcast
tests (a Redis that goes away and comes back) and ``bench/evictions.py`` import it
(pytest puts ``tests/``, which has no ``__init__.py``, on ``sys.path``; the bench puts
it there itself). It consumes the installed ``redis-server`` and produces a Redis URL
on a free loopback port, without persistence, its log in a file. The process runs in a
session of its own and is stopped by PID; every wait is bounded.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import redis
from serverproc import free_port, wait_for

START_TIMEOUT = 20.0  # seconds for redis-server to answer PING
STOP_TIMEOUT = 10.0  # seconds after SIGTERM, then SIGKILL


def reachable(url: str, timeout: float = 1.0) -> bool:
    """Whether a Redis at ``url`` answers PING within ``timeout`` seconds."""
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


class RedisProcess:
    """A ``redis-server`` on one free loopback port, which ``stop()`` and ``start()``
    again keep (a Redis restart, as an operator's would be)."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server is not installed (apt-get install redis-server)")
        self.binary = binary
        self.port = free_port()
        self.log = workdir / "redis.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it (again, on the same port) and wait until it answers."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [self.binary, "--save", "", "--appendonly", "no", "--bind", "127.0.0.1",
                 "--port", str(self.port)],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        proc = self.proc

        def answers() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"redis-server exited with {proc.returncode}; see {self.log}")
            return reachable(self.url)

        wait_for("redis-server", answers, START_TIMEOUT)

    def stop(self) -> None:
        """SIGTERM, wait, then SIGKILL; nothing when it is not running."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT)
