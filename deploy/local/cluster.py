"""The local cluster: Redis, three receiver replicas, a bundle server, a user directory, HAProxy.

Edge tooling for operators and for ``tests/e2e/test_cluster.py`` (not part of the
``receiver`` package). It consumes a policy folder, a folder of user records and the
installed ``redis-server`` and ``haproxy``; it produces a running cluster on loopback
(free ports unless told otherwise) and a state folder that describes it.

    python deploy/local/cluster.py up [--state DIR] [--port 8080] [--policies DIR]
    python deploy/local/cluster.py down [--state DIR]     # after an interrupted run
    python deploy/local/cluster.py status [--state DIR]
    python deploy/local/cluster.py haproxy "set server replicas/replica1 state drain"

``up`` runs in the foreground, prints the addresses, and stops everything it started
on Ctrl-C or SIGTERM. docs/deploy.md draws the topology and says why each setting.

**No process outlives the cluster.** Every child runs in its own process group (a
replica's workers share its group) and is stopped by process group id, never by name:
on a normal stop, on an exception (a failed start included: what was started until
then is stopped) and on SIGTERM/SIGINT. Each child also gets SIGTERM from the kernel
if the process that started it dies (``PR_SET_PDEATHSIG``, Linux), so even a
SIGKILLed ``up`` leaves nothing running for long; and ``state/cluster.json`` lists
every child's pid and start time, so ``down`` stops what is left of a run that was
interrupted anyhow, without touching a process that merely reused a pid.

Policies reach the replicas as **signed bundles**: the cluster generates an Ed25519
key pair in the state folder, builds and signs a bundle of the policy folder into the
bundle server's folder, and each replica polls it (``--policies
http://.../policies.tar.gz --bundle-public-key ... --bundle-poll N``).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import json
import os
import random
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TEMPLATE = HERE / "haproxy.cfg.template"
STATIC_SERVER = HERE / "static_server.py"
DEFAULT_STATE = Path(tempfile.gettempdir()) / "receiver-cluster"
STATE_FILE = "cluster.json"
BUNDLE_NAME = "policies.tar.gz"
START_TIMEOUT = 60.0  # seconds for any one component to come up (a loaded 2-core machine)
STOP_TIMEOUT = 15.0  # seconds for a process group to stop after SIGTERM, then SIGKILL
HOOK = "/hooks/socialplus"


class ClusterError(Exception):
    """A component did not start or stop; the message names it and its log file."""


# -- processes ----------------------------------------------------------------------------------


def _parent_death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking the kernel to SIGTERM the child when its parent dies
    (Linux ``prctl(PR_SET_PDEATHSIG)``); None where there is no such call. Resolved here,
    before any fork, so that the child only makes one system call. The kernel means the
    parent *thread*: start children from a thread that outlives them (the main thread,
    as ``up``, the tests and the bench do), or they get SIGTERM when that thread ends."""
    if not sys.platform.startswith("linux"):
        return None
    path = ctypes.util.find_library("c")
    if path is None:
        return None
    prctl = ctypes.CDLL(path, use_errno=True).prctl
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)

    return preexec


_PREEXEC = _parent_death_signal()


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (``/proc/PID/stat`` field 22),
    to tell a process from a later one that reuses its pid; None if it is gone, or dead
    and waiting to be reaped (a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the name, in parentheses, may hold spaces
    return None if fields[0] in {"Z", "X"} else fields[19]


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


def wait_for(what: str, check: Callable[[], bool], timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    where = f"; see {log}" if log else ""
    raise ClusterError(f"timed out after {timeout:.0f} s waiting for {what}{where}")


@dataclass
class Child:
    """A started process, the leader of its own process group."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    started: str | None = None  # its start time, see start_time()
    offset: int = 0  # where its lines begin in ``log`` (a restarted process appends)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        """What this process wrote to its log so far."""
        with self.log.open("rb") as log:
            log.seek(self.offset)
            return log.read().decode(errors="replace")

    def check_alive(self) -> None:
        if not self.alive():
            tail = self.output()[-2000:]
            raise ClusterError(
                f"{self.name} exited with {self.proc.returncode}; its log ({self.log}) ends:\n"
                f"{tail}"
            )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the whole process group (a replica and its workers)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM the group, wait, then SIGKILL what is left of it."""
        if self.alive():
            self.kill(signal.SIGCONT)  # a stopped process cannot handle SIGTERM
            self.kill(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
                self.proc.wait(timeout=timeout)
        self.kill(signal.SIGKILL)  # workers left behind by a leader that died, if any


def spawn(name: str, command: Sequence[str], logs: Path, env: Mapping[str, str]) -> Child:
    log = logs / f"{name}.log"
    offset = log.stat().st_size if log.exists() else 0
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(command), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env=dict(env), cwd=logs, start_new_session=True, preexec_fn=_PREEXEC,  # noqa: PLW1509 (one prctl call, no lock)
        )  # fmt: skip
    return Child(name, proc, log, start_time(proc.pid), offset)


def write_private(path: Path, text: str) -> None:
    """Write a secret into ``path``, readable by its owner only (mode 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
    with os.fdopen(fd, "w") as out:
        out.write(text)


def clean_env() -> dict[str, str]:
    """The caller's environment without ``RECEIVER_*`` settings (the cluster is what this
    script says, not what the operator's shell happens to hold), and with loopback kept
    away from any HTTP proxy the shell names."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECEIVER_", "PROMETHEUS_"))}
    bypass = ",".join(p for p in (env.get("NO_PROXY", ""), "127.0.0.1,localhost") if p)
    env["NO_PROXY"] = env["no_proxy"] = bypass
    return env


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """(status, body) of a GET on loopback; status 0 when nothing answered."""
    try:
        with _DIRECT.open(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except (OSError, ValueError):
        return 0, b""


def run_receiver(*args: str, timeout: float = 120) -> str:
    """``receiver ARGS`` with this interpreter; its stdout, or ClusterError with its stderr."""
    result = subprocess.run(
        [sys.executable, "-m", "receiver", *args], capture_output=True, timeout=timeout,
        check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise ClusterError(
            f"`receiver {' '.join(args)}` failed ({result.returncode}):\n"
            f"{result.stderr.decode(errors='replace')}"
        )
    return result.stdout.decode()


# -- the cluster --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """What the cluster runs. Ports 0 are free ports chosen at start."""

    state: Path = DEFAULT_STATE
    policies: Path = ROOT / "policies"
    users: Path | None = HERE / "users"  # a folder of USER_ID.json records, copied at start
    replicas: int = 3
    workers: int = 2
    port: int = 0  # HAProxy's front
    stats_port: int = 0  # HAProxy's stats page
    bundle_poll: float = 2.0  # seconds between bundle polls
    deadline_ms: int = 2000  # each replica's --deadline-ms
    counters_fallback: str = "memory"
    check_interval_ms: int = 500  # HAProxy health checks on /readyz
    check_fast_ms: int = 100  # ... while a replica is changing state
    replica_args: tuple[str, ...] = ()  # more `receiver serve` options for every replica


@dataclass
class Cluster:
    """A running local cluster; ``Cluster.running(settings)`` starts and stops it."""

    settings: Settings
    secret: str
    ports: dict[str, int] = field(default_factory=dict)
    children: dict[str, Child] = field(default_factory=dict)

    # -- addresses

    @property
    def state(self) -> Path:
        return self.settings.state

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def url(self) -> str:
        """HAProxy's front: where the platform sends its hooks."""
        return f"http://127.0.0.1:{self.ports['haproxy']}"

    @property
    def stats_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['stats']}/"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.ports['redis']}/0"

    @property
    def replica_names(self) -> list[str]:
        return [f"replica{i}" for i in range(1, self.settings.replicas + 1)]

    def replica_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    @property
    def bundle_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['bundles']}/{BUNDLE_NAME}"

    @property
    def users_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['users']}/users/{{userId}}.json"

    # -- starting and stopping

    @classmethod
    @contextlib.contextmanager
    def running(cls, settings: Settings) -> Iterator[Cluster]:
        """Start the cluster; stop every process it started when the block ends, however
        it ends (a failed start included)."""
        for tool in ("redis-server", "haproxy"):
            if shutil.which(tool) is None:
                raise ClusterError(f"{tool} is not installed: apt-get install {tool}")
        settings.state.mkdir(parents=True, exist_ok=True)
        left = _load_state(settings.state)
        if left and any(start_time(c["pid"]) == c["started"] for c in left["children"].values()):
            raise ClusterError(
                f"a cluster from {settings.state} is still running: stop it with "
                f"`python deploy/local/cluster.py down --state {settings.state}`"
            )
        cluster = cls(settings, secrets.token_urlsafe(24))
        try:
            cluster._start()
            yield cluster
        finally:
            cluster.stop()

    def _start(self) -> None:
        s = self.settings
        for folder in ("logs", "www", "directory/users", "keys"):
            (self.state / folder).mkdir(parents=True, exist_ok=True)
        write_private(self.state / "secret", self.secret)
        write_private(self.state / "braincloud-token", secrets.token_urlsafe(24))
        # counter keys derived from message text are stored in Redis under this HMAC key
        write_private(self.state / "redis-key-secret", secrets.token_urlsafe(32))
        if s.users is not None:
            for record in sorted(s.users.glob("*.json")):
                shutil.copyfile(record, self.state / "directory" / "users" / record.name)
        self.ports.update(
            haproxy=s.port or free_port(), stats=s.stats_port or free_port(),
            redis=free_port(), **{name: free_port() for name in self.replica_names},
        )  # fmt: skip
        self.start_redis()
        self.ports["bundles"] = self._start_static("bundles", self.state / "www")
        self.ports["users"] = self._start_static("users", self.state / "directory")
        self._keygen()
        self.publish(s.policies, wait=False)
        for name in self.replica_names:
            self.start_replica(name, wait=False)
        for name in self.replica_names:
            self.wait_replica(name)
        self._start_haproxy()
        self.wait_balanced()

    def stop(self) -> None:
        """Stop every process started, HAProxy first (no new traffic), Redis last. SIGTERM
        and SIGINT wait meanwhile: a second Ctrl-C must not leave half the cluster."""
        blocked = {signal.SIGTERM, signal.SIGINT}
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        try:
            self._stop_all()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    def _stop_all(self) -> None:
        order = ["haproxy", *self.replica_names, "bundles", "users", "redis"]
        for name in sorted(self.children, key=lambda n: order.index(n) if n in order else 0):
            self.children[name].stop()
        self.children.clear()
        with contextlib.suppress(OSError):
            (self.state / STATE_FILE).unlink()

    def _spawn(self, name: str, command: Sequence[str]) -> Child:
        old = self.children.get(name)
        if old is not None and old.alive():
            raise ClusterError(f"{name} is already running (pid {old.pid})")
        child = spawn(name, command, self.logs, clean_env())
        self.children[name] = child
        self._save_state()
        return child

    def _save_state(self) -> None:
        state = {
            "children": {
                name: {"pid": c.pid, "started": c.started, "log": str(c.log)}
                for name, c in self.children.items()
            },
            "ports": self.ports,
            "url": self.url if "haproxy" in self.ports else None,
        }
        temporary = self.state / (STATE_FILE + ".tmp")
        temporary.write_text(json.dumps(state, indent=2))
        temporary.replace(self.state / STATE_FILE)

    def _start_static(self, name: str, root: Path) -> int:
        """Start static_server.py on ``root``; its port, once it listens."""
        child = self._spawn(name, [sys.executable, str(STATIC_SERVER), "--root", str(root)])
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            for line in child.output().splitlines():
                if line.startswith("listening on http://127.0.0.1:"):
                    return int(line.rsplit(":", 1)[1])
            child.check_alive()
            time.sleep(0.05)
        raise ClusterError(
            f"{name} server did not listen in {START_TIMEOUT:.0f} s; see {child.log}"
        )

    # -- Redis

    def start_redis(self) -> None:
        """Start (or start again, on the same port) the Redis of the counters."""
        child = self._spawn("redis", [
            "redis-server", "--bind", "127.0.0.1", "--port", str(self.ports["redis"]),
            "--save", "", "--appendonly", "no", "--protected-mode", "yes",
        ])  # fmt: skip
        wait_for("redis-server", lambda: self._redis_ping(child), START_TIMEOUT, child.log)

    def _redis_ping(self, child: Child) -> bool:
        child.check_alive()
        try:
            with socket.create_connection(("127.0.0.1", self.ports["redis"]), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop_redis(self) -> None:
        self.children.pop("redis").stop()
        self._save_state()

    # -- policies

    def _keygen(self) -> None:
        """The bundle signing key pair, made once per state folder (a restart reuses it)."""
        keys = self.state / "keys"
        private, public = keys / "signing.pem", keys / "public.pem"
        if private.exists() and public.exists():
            return
        private.unlink(missing_ok=True)
        public.unlink(missing_ok=True)
        run_receiver("bundle", "keygen", "--private-key", str(private), "--public-key", str(public))

    def publish(self, policies: Path, *, wait: bool = True) -> str:
        """Publish the policy folder ``policies`` to every replica as a new signed bundle
        on the bundle server. Returns the new revision; with ``wait``, returns once every
        worker of every replica serves it."""
        www = self.state / "www"
        temporary = www / (BUNDLE_NAME + ".new")
        signing = self.state / "keys" / "signing.pem"
        run_receiver(
            "bundle", "build", str(policies), "-o", str(temporary), "--signing-key", str(signing)
        )
        revision = bundle_revision(temporary)
        temporary.replace(www / BUNDLE_NAME)  # atomic: a poll sees the old or the new one
        if wait:
            self.wait_revision(revision)
        return revision

    def revisions(self) -> dict[str, str | None]:
        """Each replica's revision, from its /readyz (None: not ready or not answering)."""
        found: dict[str, str | None] = {}
        for name in self.replica_names:
            status, body = http_get(self.replica_url(name) + "/readyz", timeout=1)
            found[name] = json.loads(body).get("revision") if status == 200 else None
        return found

    def worker_revisions(self) -> dict[str, set[str]]:
        """The revisions the live workers of each replica serve, from the per-worker
        ``receiver_policy_revision`` gauges of its /metrics (each worker polls and swaps on
        its own, and /readyz shows only the worker that answers it)."""
        found: dict[str, set[str]] = {}
        for name in self.replica_names:
            status, body = http_get(self.replica_url(name) + "/metrics", timeout=2)
            found[name] = set()
            for line in body.decode().splitlines() if status == 200 else []:
                if line.startswith("receiver_policy_revision{") and line.endswith(" 1.0"):
                    found[name].add(line.split('revision="', 1)[1].split('"', 1)[0])
        return found

    def wait_revision(self, revision: str, timeout: float = START_TIMEOUT) -> None:
        """Until every worker of every replica serves ``revision``."""
        wait_for(
            f"every worker of every replica to serve revision {revision}",
            lambda: all(seen == {revision} for seen in self.worker_revisions().values()),
            timeout,
        )  # fmt: skip

    # -- replicas

    def replica_command(self, name: str) -> list[str]:
        s = self.settings
        return [
            sys.executable, "-m", "receiver", "serve",
            "--host", "127.0.0.1", "--port", str(self.ports[name]),
            "--workers", str(s.workers), "--secret-file", str(self.state / "secret"),
            "--braincloud-token-file", str(self.state / "braincloud-token"),
            "--counters", "redis", "--redis-url", self.redis_url,
            "--counters-fallback", s.counters_fallback,
            "--redis-key-secret-file", str(self.state / "redis-key-secret"),
            "--users-url", self.users_url,
            "--deadline-ms", str(s.deadline_ms),
            "--decision-log", str(self.logs / f"{name}.decisions.jsonl"),
            "--policies", self.bundle_url, "--bundle-poll", f"{s.bundle_poll:g}",
            "--bundle-public-key", str(self.state / "keys" / "public.pem"),
            *s.replica_args,
        ]  # fmt: skip

    def start_replica(self, name: str, *, wait: bool = True) -> None:
        """Start (or start again, on its port) one replica."""
        self._spawn(name, self.replica_command(name))
        if wait:
            self.wait_replica(name)

    def wait_replica(self, name: str, timeout: float = START_TIMEOUT) -> None:
        """Until the replica answers /readyz and all its workers run."""
        child = self.children[name]

        def ready() -> bool:
            child.check_alive()
            status, _ = http_get(self.replica_url(name) + "/readyz", timeout=1)
            return status == 200 and len(self.worker_pids(name)) == self.settings.workers

        wait_for(f"{name} to be ready", ready, timeout, child.log)

    def worker_pids(self, name: str) -> set[int]:
        """The replica's live workers, from their revision gauges in /metrics."""
        status, body = http_get(self.replica_url(name) + "/metrics", timeout=2)
        if status != 200:
            return set()
        pids = set()
        for line in body.decode().splitlines():
            live = line.startswith("receiver_policy_revision{") and line.endswith(" 1.0")
            if live and 'pid="' in line:
                pids.add(int(line.split('pid="', 1)[1].split('"', 1)[0]))
        return pids

    def kill_replica(self, name: str) -> None:
        """SIGKILL the replica's whole process group (supervisor and workers): a crash."""
        child = self.children.pop(name)
        child.kill(signal.SIGKILL)
        child.proc.wait(timeout=STOP_TIMEOUT)
        self._save_state()

    # -- HAProxy

    def haproxy_config(self) -> str:
        s = self.settings
        servers = "\n".join(
            f"    server {name} 127.0.0.1:{self.ports[name]}" for name in self.replica_names
        )
        return string.Template(TEMPLATE.read_text()).substitute(
            port=self.ports["haproxy"], stats_port=self.ports["stats"],
            stats_socket=self.state / "haproxy.sock", servers=servers,
            deadline_ms=s.deadline_ms, server_timeout_ms=s.deadline_ms + 500,
            check_interval_ms=s.check_interval_ms, check_fast_ms=s.check_fast_ms,
        )  # fmt: skip

    def _start_haproxy(self) -> None:
        config = self.state / "haproxy.cfg"
        config.write_text(self.haproxy_config())
        check = subprocess.run(
            ["haproxy", "-c", "-f", str(config)], capture_output=True, timeout=30, check=False
        )
        if check.returncode != 0:
            raise ClusterError(
                f"haproxy refuses {config}:\n{check.stdout.decode()}{check.stderr.decode()}"
            )
        child = self._spawn("haproxy", ["haproxy", "-db", "-f", str(config)])
        wait_for("HAProxy's stats page", lambda: self._stats_up(child), START_TIMEOUT, child.log)

    def _stats_up(self, child: Child) -> bool:
        child.check_alive()
        return http_get(self.stats_url + ";csv")[0] == 200

    def backend_status(self) -> dict[str, str]:
        """Each replica's state as HAProxy sees it: UP, DOWN, "UP 1/2" (going down)..."""
        status, body = http_get(self.stats_url + ";csv")
        if status != 200:
            return {}
        lines = body.decode().splitlines()
        header = lines[0].lstrip("# ").split(",")
        found = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(","), strict=False))
            if row.get("pxname") == "replicas" and row.get("svname") in self.ports:
                found[row["svname"]] = row.get("status", "")
        return found

    def haproxy(self, command: str) -> str:
        """Send ``command`` to HAProxy's admin socket (e.g. ``show servers state``)."""
        return haproxy_admin(self.state / "haproxy.sock", command)

    def sessions(self, name: str) -> int:
        """Requests HAProxy has in progress on replica ``name`` (its ``scur``)."""
        status, body = http_get(self.stats_url + ";csv")
        lines = body.decode().splitlines() if status == 200 else []
        header = lines[0].lstrip("# ").split(",") if lines else []
        for line in lines[1:]:
            row = dict(zip(header, line.split(","), strict=False))
            if row.get("pxname") == "replicas" and row.get("svname") == name:
                return int(row.get("scur") or 0)
        raise ClusterError(f"HAProxy's stats do not list {name}")

    def restart_replica(self, name: str, timeout: float = START_TIMEOUT) -> None:
        """Restart one replica the way a rolling restart does: drain it in HAProxy (no new
        requests), wait for its requests in progress, stop it (SIGTERM: its workers
        finish what they decide), start it again on its port, wait until it is ready and
        put it back in the rotation."""
        self.haproxy(f"set server replicas/{name} state drain")
        wait_for(f"{name} to drain", lambda: self.sessions(name) == 0, timeout)
        self.children.pop(name).stop()
        self._save_state()
        self.start_replica(name)
        self.haproxy(f"set server replicas/{name} state ready")
        wait_for(
            f"HAProxy to see {name} UP", lambda: self.backend_status().get(name) == "UP", timeout
        )

    def wait_balanced(self, timeout: float = START_TIMEOUT) -> None:
        """Until HAProxy sees every replica UP."""
        wait_for(
            "HAProxy to see every replica UP",
            lambda: all(
                self.backend_status().get(name) == "UP" for name in self.replica_names
            ),
            timeout, self.children["haproxy"].log if "haproxy" in self.children else None,
        )  # fmt: skip

    # -- for people and tests

    def set_user(self, user_id: str, record: Mapping[str, Any] | None) -> None:
        """Replace (None: delete) a record of the user directory, atomically."""
        path = self.state / "directory" / "users" / f"{user_id}.json"
        if record is None:
            path.unlink(missing_ok=True)
            return
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(record))
        temporary.replace(path)

    def signed(self, body: bytes) -> dict[str, str]:
        """Headers of a social.plus request with ``body``, signed with the cluster's secret."""
        from receiver.adapters.signatures import sign_base64  # noqa: PLC0415 (only here)

        return {
            "content-type": "application/json",
            "x-amity-signature": sign_base64(self.secret.encode(), body),
        }

    def addresses(self) -> str:
        lines = [
            f"receiver (HAProxy)  {self.url}{HOOK}",
            f"HAProxy stats       {self.stats_url}",
            f"Redis               {self.redis_url}",
            *(f"{name:<19} {self.replica_url(name)}" for name in self.replica_names),
            f"bundle server       {self.bundle_url}",
            f"user directory      {self.users_url}  (files in {self.state / 'directory/users'})",
            f"signature secret    {self.state / 'secret'}",
            f"brainCloud token    {self.state / 'braincloud-token'}",
            f"logs                {self.logs}",
        ]
        return "\n".join(lines)


def haproxy_admin(path: Path, command: str) -> str:
    """One command on HAProxy's admin socket; its answer (empty when all went well)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(str(path))
        sock.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def bundle_revision(bundle: Path) -> str:
    """The revision a replica will report for ``bundle``, from ``receiver bundle inspect``."""
    inspected = run_receiver("bundle", "inspect", str(bundle), "--format", "json")
    revision: str = json.loads(inspected)["manifest"]["revision"]
    return revision


# -- down: what an interrupted run left ---------------------------------------------------------


def _load_state(state: Path) -> dict[str, Any] | None:
    try:
        loaded: dict[str, Any] = json.loads((state / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return loaded


def down(state: Path) -> list[str]:
    """Stop the processes an interrupted run left (by process group, and only those whose
    pid still belongs to the process that was started); returns what was stopped."""
    loaded = _load_state(state)
    if loaded is None:
        return []
    stopped = []
    for name, child in loaded["children"].items():
        pid = int(child["pid"])
        if child.get("started") is None or start_time(pid) != child["started"]:
            continue  # gone, or the pid now belongs to someone else
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGCONT)
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while start_time(pid) == child["started"] and time.monotonic() < deadline:
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        stopped.append(f"{name} (pid {pid})")
    (state / STATE_FILE).unlink()
    return stopped


# -- the command line ---------------------------------------------------------------------------


class _Stop(Exception):
    """SIGTERM or SIGINT arrived: leave the foreground loop and stop everything."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="cluster.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )  # fmt: skip
    parser.add_argument("command", choices=["up", "down", "status", "haproxy"])
    parser.add_argument(
        "words", nargs="*", help="haproxy: a command for HAProxy's admin socket, e.g. "
        "'set server replicas/replica1 state drain'",
    )  # fmt: skip
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE, help="state folder")
    parser.add_argument("--port", type=int, default=8080, help="HAProxy's port (0: any)")
    parser.add_argument("--stats-port", type=int, default=8404, help="HAProxy stats (0: any)")
    parser.add_argument("--policies", type=Path, default=ROOT / "policies", help="policies")
    parser.add_argument("--users", type=Path, default=HERE / "users", help="user records")
    parser.add_argument("--bundle-poll", type=float, default=2.0, help="bundle poll (s)")
    parser.add_argument("--replicas", type=int, default=3, help="receiver replicas")
    args = parser.parse_args(argv)
    if args.command == "down":
        stopped = down(args.state)
        print("stopped: " + ", ".join(stopped) if stopped else "nothing was running")
        return 0
    if args.command == "haproxy":
        try:
            print(haproxy_admin(args.state / "haproxy.sock", " ".join(args.words)), end="")
        except OSError as err:
            print(f"error: no HAProxy admin socket in {args.state}: {err}", file=sys.stderr)
            return 1
        return 0
    if args.command == "status":
        loaded = _load_state(args.state)
        if loaded is None:
            print(f"no cluster state in {args.state}")
            return 1
        for name, child in loaded["children"].items():
            alive = start_time(int(child["pid"])) == child["started"]
            print(f"{name:<10} pid {child['pid']:<8} {'running' if alive else 'gone'}")
        return 0
    settings = Settings(
        state=args.state, policies=args.policies, users=args.users, port=args.port,
        stats_port=args.stats_port, bundle_poll=args.bundle_poll, replicas=args.replicas,
    )  # fmt: skip
    # SIGINT too: a shell that starts `up` in the background makes it ignore SIGINT
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    try:
        with Cluster.running(settings) as cluster:
            print(cluster.addresses(), flush=True)
            print("running; Ctrl-C stops everything", flush=True)
            while True:  # the foreground: watch the children until told to stop
                for child in list(cluster.children.values()):
                    child.check_alive()
                time.sleep(1)
    except _Stop:
        print("stopped", flush=True)
        return 0
    except ClusterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
