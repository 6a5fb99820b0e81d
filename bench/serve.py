"""HTTP throughput and fixed-rate latency of ``receiver serve`` against a bare Starlette endpoint.

Run from the repository root::

    python bench/serve.py [--duration 10] [--connections 32] [--rate 1000]
                          [--mix all|no-profanity|both] [--log file|devnull|both]
                          [--record DIR] [--console on|content]

What it does, one server at a time, each on its own free loopback port:

(a) ``receiver serve`` with one worker, a random signature secret
    (``RECEIVER_SOCIALPLUS_SECRET``), the shipped policies (``policies/``), the example
    user directory (``examples/users.yaml``) and the decision log appended to a file
    in a temporary directory (``--log devnull`` appends it to ``/dev/null`` instead:
    the record is still built and written, the file system is not involved);
(b) ``bench/bare_app.py``, the reference the issue names ("a bare Starlette endpoint
    that only reads the JSON body and answers allow"): one Starlette route doing
    ``await request.json()`` and ``JSONResponse({"action": "allow"})``, under uvicorn
    with the same settings (uvloop, httptools, one worker, no access log);
(c) ``bench/bare_app.py --variant orjson``, a stricter reference shown beside it: the
    raw body parsed with the receiver's own parser (orjson) and a pre-encoded answer.
    The target is judged against (b); the ratio against (c) is printed too.

Load: a corpus of realistic social.plus pre-hook payloads generated from
``examples/payloads/*.json`` with varied texts and actors, serialised compactly (as
``JSON.stringify`` does) and signed here with HMAC-SHA256 (``x-amity-signature``,
Base64). The signatures are computed in Python and embedded in the generated wrk Lua
script, which cycles through pre-formatted requests. Every payload is first sent once
to each server (a check that all answer 200, which also gives the decision mix and the
serial latency of each payload).

1. Throughput: ``wrk`` (closed loop) for the same duration and connections against both
   servers after a short warm-up; requests/s side by side and the ratio
   receiver / bare, PASS when at least 70 % (the spec target). A run with any non-2xx
   answer or socket error is reported as INVALID.
2. Latency at a fixed rate (default 1,000 requests/s): wrk cannot keep a constant rate,
   so an open-loop generator in this process (asyncio, raw HTTP/1.1 on keep-alive
   connections) schedules request k at exactly ``start + k / rate`` (a Linux timerfd
   with absolute expirations, else the event loop's timer) and measures each latency
   from the *scheduled* send time, so queueing behind a slow answer counts (no
   coordinated omission). Requests still unanswered ``--drain`` seconds after the last
   one was scheduled count as infinitely slow. PASS when p99 is under 5 ms.

``--record DIR`` adds (d) the receiver of (a) with ``--record DIR`` (every decision
recorded, ``docs/replay.md``) and reports the cost of recording: requests/s and CPU time
per request with and without it.

``--console on`` adds (e) the receiver of (a) with ``--console`` (the console's feed of
decisions on the request path, docs/console.md) and reports its cost the same way;
``--console content`` compares ``--log-content`` with and without ``--console`` instead
(the feed then also keeps what re-explaining needs). No console viewer is open during
the run, as in production most of the time; the workers' snapshot writer is idle then.

``--mix no-profanity`` (or ``both``) also runs the subset of payloads whose decision
calls neither ``profane()`` nor ``censor()`` (found by evaluating each payload in this
process with counting stubs in their place): it separates the cost of the profanity
matcher (better-profanity itself costs milliseconds per call) from the rest.

Besides requests/s, the throughput table gives the server's CPU time per request
(from ``/proc``), which other processes on a busy machine change less than they change
requests/s: the ratio of those is printed as a cross-check of the requests/s ratio. ``others`` is
the CPU time other processes took on the server's CPU during the run.

With ``taskset`` available, the servers run on CPU 1 and the load generators (wrk and
this process) on CPU 0; the output says so. Servers are always stopped (SIGTERM, then
SIGKILL of their process group) and every external step has a time limit.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import ctypes
import dataclasses
import hashlib
import hmac
import json
import math
import os
import platform
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from receiver.dsl import functions
from receiver.dsl.values import Timestamp
from receiver.http.reload import load_snapshot
from receiver.runtime.evaluator import evaluate
from receiver.runtime.payload import parse_event

try:  # the fast matcher the compiler uses for profane()/censor(), in newer versions
    from receiver import profanity as receiver_profanity
except ImportError:  # pragma: no cover - older versions call better-profanity directly
    receiver_profanity = None

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
PATH = "/hooks/socialplus"
TARGET_RATIO = 0.70
TARGET_P99_MS = 5.0
BUSY_SHARE = 0.10  # others' share of the server's CPU above which a run is flagged
SERVER_CPU = 1
LOAD_CPU = 0

# ----------------------------------------------------------------------------- payloads

_VOCAB_TEXT = (
    "hello there thanks see you at the game tonight who is coming lol ok sure sounds good "
    "anyone know when the next release ships I think it was moved to friday can someone "
    "help me with the setup guide the meetup is on saturday at noon bring snacks please "
    "great photo love this thread agreed not sure about that maybe next week count me in "
    "the bus was late again what time does it start where is the link for the stream "
    "happy birthday congrats on the new job welcome to the community glad you joined"
)
VOCAB = tuple(_VOCAB_TEXT.split())
_UNICODE_TEXT = (
    "café naïve Grüße спасибо привет 日本語 ありがとう 你好 안녕하세요 مرحبا שלום "
    "😀 🎉 👍 🙏 🔥 ❤️ ünïcödé façade jalapeño"
)
UNICODE_WORDS = tuple(_UNICODE_TEXT.split())
SWEARS = ("damn", "hell", "crap", "shit", "bullshit", "wtf")
LINKS = (
    "https://docs.example.com/getting-started",
    "https://example.org/events/2026/meetup?ref=chat",
    "www.example.net/photos/album/42",
    "https://github.com/example/project/issues/17",
)
SHORTENERS = ("bit.ly/3xYzAbc", "tinyurl.com/y7k2m9", "t.co/Ab12Cd")
INVITES = ("discord.gg/r4nd0mInv", "https://discord.gg/abcDEF12", "t.me/joinchat/XyZ123")
UNKNOWN_ACTOR_SHARE = 0.1
NEW_TEXT_SHARE = 0.7


def _words(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(VOCAB) for _ in range(rng.randint(low, high)))


def make_text(rng: random.Random) -> str:
    """A chat text of one of several kinds, weighted roughly as chat traffic is."""
    kind = rng.choices(
        ("short", "medium", "long", "link", "shortener", "invite", "phone", "shout",
         "unicode", "swear"),
        weights=(35, 20, 3, 10, 5, 5, 3, 5, 7, 7),
    )[0]  # fmt: skip
    if kind == "short":
        text = _words(rng, 3, 12)
        return text[0].upper() + text[1:] + rng.choice(("", ".", "!", "?", " :)"))
    if kind == "medium":
        return _words(rng, 13, 35).capitalize() + "."
    if kind == "long":
        return ". ".join(_words(rng, 8, 16).capitalize() for _ in range(rng.randint(5, 8))) + "."
    if kind == "link":
        return f"{_words(rng, 2, 8)} {rng.choice(LINKS)}"
    if kind == "shortener":
        return f"{_words(rng, 2, 6)} {rng.choice(SHORTENERS)}"
    if kind == "invite":
        return f"join us {rng.choice(INVITES)} {_words(rng, 1, 5)}"
    if kind == "phone":
        return f"call me on +1 415 555 {rng.randint(1000, 9999)} {_words(rng, 1, 5)}"
    if kind == "shout":
        return _words(rng, 3, 10).upper() + "!!!"
    if kind == "unicode":
        parts = [rng.choice(VOCAB + UNICODE_WORDS) for _ in range(rng.randint(3, 12))]
        return " ".join(parts)
    words = _words(rng, 2, 10).split()
    words.insert(rng.randrange(len(words) + 1), rng.choice(SWEARS))
    return " ".join(words)


def _set_text(payload: dict[str, Any], text: str) -> bool:
    data = payload.get("data")
    if not isinstance(data, dict):
        return False
    if isinstance(data.get("text"), str):
        data["text"] = text
        return True
    inner = data.get("data")
    if isinstance(inner, dict) and isinstance(inner.get("text"), str):
        inner["text"] = text
        return True
    return False


def make_payloads(count: int, seed: int) -> tuple[list[dict[str, Any]], int]:
    """``count`` payloads from the examples, with new texts and some unknown actors."""
    rng = random.Random(seed)
    templates = [
        json.loads(path.read_text()) for path in sorted((ROOT / "examples/payloads").glob("*.json"))
    ]
    payloads = []
    for n in range(count):
        payload = json.loads(json.dumps(rng.choice(templates)))  # a deep copy
        if rng.random() < NEW_TEXT_SHARE:
            _set_text(payload, make_text(rng))
        actor = payload.get("actor")
        if isinstance(actor, dict) and rng.random() < UNKNOWN_ACTOR_SHARE:
            actor["userId"] = actor["_id"] = f"user_{n:05d}"
        payloads.append(payload)
    return payloads, len(templates)


def compact(payload: dict[str, Any]) -> bytes:
    """The body as the platform sends it (``JSON.stringify``: compact, UTF-8)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def sign(secret: bytes, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()


class _CountingMatcher:
    """Stands in for a profanity matcher: counts calls, finds nothing."""

    def __init__(self, counter: list[int]) -> None:
        self._counter = counter

    def contains(self, text: str) -> bool:
        self._counter[0] += 1
        return False

    def censor(self, text: str) -> str:
        self._counter[0] += 1
        return text


def profanity_calls(
    payloads: Sequence[dict[str, Any]], policies: Path, users: Path | None
) -> list[bool]:
    """Whether deciding each payload calls ``profane`` or ``censor`` at least once.

    The policies are compiled with counting stubs in place of the two functions
    (``profane`` finds nothing, ``censor`` returns its argument), at both places the
    compiler may take them from: the function table (``FUNCTIONS[name].impl``) and the
    matcher factory (``receiver.profanity.matcher``), when present. Everything before
    the first call is what a real run does, so "at least one call" is exact.
    """
    counter = [0]
    stub = _CountingMatcher(counter)
    saved = {name: functions.FUNCTIONS[name] for name in ("profane", "censor")}
    factory = getattr(receiver_profanity, "matcher", None)
    try:
        functions.FUNCTIONS["profane"] = dataclasses.replace(saved["profane"], impl=stub.contains)
        functions.FUNCTIONS["censor"] = dataclasses.replace(saved["censor"], impl=stub.censor)
        if factory is not None:
            receiver_profanity.matcher = lambda *args, **kwargs: stub
        snapshot = load_snapshot(policies, users)
    finally:
        functions.FUNCTIONS.update(saved)
        if factory is not None:
            receiver_profanity.matcher = factory
    lookup = snapshot.users.get if snapshot.users is not None else None
    found = []
    for payload in payloads:
        counter[0] = 0
        event = parse_event(payload)
        evaluate(snapshot.policies.tree(event.name), event, Timestamp(time.time()), lookup)
        found.append(counter[0] > 0)
    return found


# ----------------------------------------------------------------------------- wrk

LUA_TEMPLATE = """-- generated by bench/serve.py: %(count)d pre-signed payloads, cycled in order
local payloads = {
%(entries)s
}
local requests = {}
local n = #payloads
local i = 0

init = function(args)
  for k, p in ipairs(payloads) do
    requests[k] = wrk.format("POST", nil,
      {["Content-Type"] = "application/json", ["x-amity-signature"] = p[2]}, p[1])
  end
end

request = function()
  i = i %% n + 1
  return requests[i]
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"bytes":%%d,"connect":%%d,"read":%%d,' ..
    '"write":%%d,"status":%%d,"timeout":%%d,"p50_us":%%d,"p99_us":%%d,"max_us":%%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def lua_string(raw: bytes) -> str:
    """A Lua string literal for arbitrary bytes (3-digit decimal escapes)."""
    out = []
    for byte in raw:
        char = chr(byte)
        if char in '"\\' or byte < 0x20 or byte > 0x7E:
            out.append(f"\\{byte:03d}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def write_lua(path: Path, signed: Sequence[tuple[bytes, str]]) -> None:
    entries = ",\n".join(
        f"  {{{lua_string(body)}, {lua_string(sig.encode())}}}" for body, sig in signed
    )
    path.write_text(LUA_TEMPLATE % {"count": len(signed), "entries": entries})


@dataclass
class WrkResult:
    requests: int
    seconds: float
    errors: int  # socket errors: connect, read, write, timeout
    non2xx: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    server_cpu: float = math.nan  # CPU seconds the server used during the run
    others_cpu: float = math.nan  # CPU seconds other processes used on the server's CPU

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def valid(self) -> bool:
        return self.requests > 0 and self.errors == 0 and self.non2xx == 0

    @property
    def cpu_ms_per_request(self) -> float:
        return self.server_cpu * 1000 / self.requests if self.requests else math.nan

    @property
    def cpu_busy(self) -> float:
        """The server's CPU use during the run, as a share of one core."""
        return self.server_cpu / self.seconds if self.seconds else math.nan


def core_busy_seconds(cpu: int) -> float:
    """Busy time of one CPU so far, all processes (Linux /proc/stat; NaN elsewhere)."""
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith(f"cpu{cpu} "):
                ticks = [int(x) for x in line.split()[1:]]
                busy = sum(ticks) - ticks[3] - ticks[4]  # all but idle and iowait
                return busy / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        pass
    return math.nan


@dataclass
class CpuMeter:
    """Server CPU time and the time other processes took on the server's CPU."""

    pid: int
    pinned: bool
    server: float = 0.0
    others: float = math.nan

    def __enter__(self) -> CpuMeter:
        self._server0 = cpu_seconds(self.pid)
        self._core0 = core_busy_seconds(SERVER_CPU) if self.pinned else math.nan
        return self

    def __exit__(self, *exc: object) -> None:
        self.server = cpu_seconds(self.pid) - self._server0
        core = core_busy_seconds(SERVER_CPU) if self.pinned else math.nan
        self.others = max(0.0, core - self._core0 - self.server)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(
    wrk: str, script: Path, port: int, *, duration: float, connections: int, threads: int,
    pin: bool,
) -> WrkResult:  # fmt: skip
    cmd = [
        wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s",
        "--timeout", "10s", "-s", str(script), f"http://127.0.0.1:{port}{PATH}",
    ]  # fmt: skip
    if pin:
        cmd = ["taskset", "-c", str(LOAD_CPU), *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    r = json.loads(line.removeprefix("WRKJSON "))
    return WrkResult(
        requests=r["requests"],
        seconds=r["duration_us"] / 1e6,
        errors=r["connect"] + r["read"] + r["write"] + r["timeout"],
        non2xx=r["status"],
        p50_ms=r["p50_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        max_ms=r["max_us"] / 1000,
    )


# ----------------------------------------------------------------------------- open loop


def http_request(port: int, body: bytes, signature: str) -> bytes:
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"x-amity-signature: {signature}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    """Send one request on a keep-alive connection; the status and body of the answer."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return status, body


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def periodic_timerfd(start_ns: int, period_ns: int) -> int | None:
    """A non-blocking CLOCK_MONOTONIC timerfd firing at start_ns + k * period_ns, or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.timerfd_create(time.CLOCK_MONOTONIC, os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            return None
        spec = _Itimerspec(
            _Timespec(period_ns // 10**9, period_ns % 10**9),
            _Timespec(start_ns // 10**9, start_ns % 10**9),
        )
        if libc.timerfd_settime(fd, 1, ctypes.byref(spec), None) != 0:  # TFD_TIMER_ABSTIME
            os.close(fd)
            return None
    except (OSError, AttributeError):
        return None
    return fd


@dataclass
class RateResult:
    scheduled: int
    latencies_ns: list[float]  # one per scheduled request; inf when unanswered
    lags_ns: list[int]  # dispatch time - scheduled time, per request dispatched
    answered: int
    non200: int
    errors: int
    elapsed: float
    timer: str
    statuses: Counter[int] = field(default_factory=Counter)
    server_cpu: float = math.nan
    others_cpu: float = math.nan

    def pct_ms(self, q: float) -> float:
        return percentile(self.latencies_ns, q) / 1e6


async def open_loop(
    port: int, requests: Sequence[bytes], *, rate: float, duration: float, connections: int,
    drain: float,
) -> RateResult:  # fmt: skip
    total = max(1, round(rate * duration))
    period_ns = round(1e9 / rate)
    latencies = [math.inf] * total
    lags: list[int] = []
    statuses: Counter[int] = Counter()
    queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
    errors = 0
    loop = asyncio.get_running_loop()

    conns = [
        await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
        for _ in range(connections)
    ]
    for _, w in conns:
        sock = w.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    settled = 0  # requests answered or failed
    all_settled = loop.create_future()

    def settle() -> None:
        nonlocal settled
        settled += 1
        if settled >= total and not all_settled.done():
            all_settled.set_result(None)

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal errors
        while True:
            k, scheduled = await queue.get()
            lags.append(time.monotonic_ns() - scheduled)
            try:
                status, _ = await exchange(reader, writer, requests[k % len(requests)])
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                settle()
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            latencies[k] = time.monotonic_ns() - scheduled
            statuses[status] += 1
            settle()

    tasks = [loop.create_task(worker(r, w)) for r, w in conns]
    start_ns = time.monotonic_ns() + 20_000_000  # 20 ms from now
    sent = 0

    def dispatch_due(now_ns: int) -> None:
        nonlocal sent
        due = min(total, (now_ns - start_ns) // period_ns + 1) if now_ns >= start_ns else 0
        while sent < due:
            queue.put_nowait((sent, start_ns + sent * period_ns))
            sent += 1

    fd = periodic_timerfd(start_ns, period_ns)
    if fd is not None:
        timer = "timerfd (absolute, CLOCK_MONOTONIC)"

        def on_timer() -> None:
            with contextlib.suppress(BlockingIOError):
                os.read(fd, 8)
            dispatch_due(time.monotonic_ns())

        loop.add_reader(fd, on_timer)
    else:
        timer = "asyncio call_at (about 1 ms resolution)"

        def tick() -> None:
            dispatch_due(time.monotonic_ns())
            if sent < total:
                next_ns = start_ns + sent * period_ns
                loop.call_at(loop.time() + (next_ns - time.monotonic_ns()) / 1e9, tick)

        loop.call_at(loop.time() + 0.02, tick)
    # every request answered, or --drain seconds after the last one was scheduled
    last_ns = start_ns + (total - 1) * period_ns
    limit = (last_ns - time.monotonic_ns()) / 1e9 + drain
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(all_settled), max(0.1, limit))
    finally:
        if fd is not None:
            loop.remove_reader(fd)
            os.close(fd)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for _, w in conns:
            w.close()
    elapsed = (time.monotonic_ns() - start_ns) / 1e9
    answered = sum(statuses.values())
    return RateResult(
        scheduled=total,
        latencies_ns=latencies,
        lags_ns=lags,
        answered=answered,
        non200=answered - statuses.get(200, 0),
        errors=errors,
        elapsed=elapsed,
        timer=timer,
        statuses=statuses,
    )


async def probe_all(port: int, requests: Sequence[bytes]) -> list[tuple[int, bytes, float]]:
    """Each request once, serially, on one connection: status, body, milliseconds."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
    out = []
    try:
        for request in requests:
            started = time.perf_counter()
            status, body = await asyncio.wait_for(exchange(reader, writer, request), 30)
            out.append((status, body, (time.perf_counter() - started) * 1000))
    finally:
        writer.close()
    return out


# ----------------------------------------------------------------------------- servers


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return math.nan
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    if math.isinf(ordered[high]):
        return ordered[high] if pos > low or math.isinf(ordered[low]) else ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    label: str
    argv: list[str]
    env: dict[str, str]
    decision_log: Path | None = None


def wait_ready(proc: subprocess.Popen[bytes], port: int, probe: bytes, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.settimeout(5)
                s.sendall(probe)
                answer = s.recv(65536)
            if answer.startswith(b"HTTP/1.1 200"):
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer 200 within {timeout:.0f} s")


def set_autogroup_nice(pid: int, nice: int) -> bool:
    """Set the niceness of the process's autogroup (Linux with autogroups; root to raise).

    With ``kernel.sched_autogroup_enabled``, CPU time is shared fairly between sessions
    first and only then between the processes of a session by their niceness, so a
    plain ``nice`` does not help a process against other sessions' processes.
    """
    try:
        Path(f"/proc/{pid}/autogroup").write_text(f"{nice}\n")
    except OSError:
        return False
    return True


def in_own_session(argv: list[str] | None) -> int | None:
    """Re-run this script as the leader of a new session (so of its own autogroup, whose
    priority it may raise without touching the caller's); its exit code, or None when
    this already is that run."""
    if os.environ.get("BENCH_SERVE_OWN_SESSION") or os.getsid(0) == os.getpid():
        return None
    cmd = [sys.executable, str(Path(__file__).resolve()), *(sys.argv[1:] if argv is None else argv)]
    env = dict(os.environ, BENCH_SERVE_OWN_SESSION="1")
    child = subprocess.Popen(cmd, env=env, start_new_session=True)
    try:
        return child.wait()
    finally:
        if child.poll() is None:  # interrupted: let it stop its servers
            child.terminate()
            try:
                child.wait(60)
            except subprocess.TimeoutExpired:
                child.kill()


@contextlib.contextmanager
def realtime(pid: int, *, enabled: bool) -> Iterator[None]:
    """SCHED_FIFO (priority 1) for the server and this process meanwhile (root, Linux).

    Only for the fixed-rate runs, where both are mostly idle: then a request wakes them
    at once instead of waiting for another process's time slice to end. The kernel's
    real-time throttling (``sched_rt_runtime_us``) leaves other processes at least 5 %
    of each CPU even if a server cannot keep up.
    """
    if not enabled:
        yield
        return
    changed = []
    for target in (pid, 0):
        try:
            os.sched_setscheduler(target, os.SCHED_FIFO, os.sched_param(1))
            changed.append(target)
        except (OSError, AttributeError) as err:
            print(f"  (SCHED_FIFO unavailable for pid {target or os.getpid()}: {err})")
    try:
        yield
    finally:
        for target in changed:
            with contextlib.suppress(OSError):
                os.sched_setscheduler(target, os.SCHED_OTHER, os.sched_param(0))


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the group of this server only
        proc.wait(5)


@contextlib.contextmanager
def running(
    server: Server, port: int, probe: bytes, logs: Path, pin: bool, *, nice: int = 0
) -> Iterator[subprocess.Popen[bytes]]:
    argv = [*server.argv, "--port", str(port)]
    if pin:
        argv = ["taskset", "-c", str(SERVER_CPU), *argv]
    with (
        (logs / f"{server.name}.out").open("ab") as out,
        (logs / f"{server.name}.err").open("ab") as err,
    ):
        proc = subprocess.Popen(
            argv, stdout=out, stderr=err, env=server.env, cwd=ROOT, start_new_session=True
        )
        try:
            if nice:
                set_autogroup_nice(proc.pid, nice)  # its own session: its own autogroup
            wait_ready(proc, port, probe, 60)
            yield proc
        except Exception:
            tail = (logs / f"{server.name}.err").read_text(errors="replace")[-2000:]
            print(f"\n[{server.name}] stderr (last lines):\n{tail}", file=sys.stderr)
            raise
        finally:
            stop(proc)


# ----------------------------------------------------------------------------- profile

PROFILE_CATEGORIES = (  # (marker in a frame, category); the leaf-most frame with one wins
    ("better_profanity", "better-profanity"),
    ("receiver/profanity", "profanity matcher (receiver.profanity)"),
    ("receiver/signatures", "signature check (HMAC, Base64)"),
    ("receiver/decisionlog", "decision log (record, JSON, write)"),
    ("receiver/metrics", "metrics (prometheus-client)"),
    ("prometheus_client", "metrics (prometheus-client)"),
    ("receiver/jsoncodec", "JSON parse/serialise + envelope"),
    ("receiver/adapters", "JSON parse/serialise + envelope"),
    ("receiver/payload", "JSON parse/serialise + envelope"),
    ("receiver/user", "user lookup"),
    ("(secrets.py", "decision id (secrets.token_hex)"),
    ("receiver/evaluator", "policy evaluation"),
    ("receiver/compiler", "policy evaluation"),
    ("receiver/context", "policy evaluation"),
    ("receiver/values", "policy evaluation"),
    ("receiver/tree", "policy evaluation"),
    ("receiver/dsl/", "policy evaluation"),
    ("receiver/decision", "policy evaluation"),
    ("logging/", "logging"),
    ("receiver/", "service glue (receiver/http/app.py, service.py, ...)"),
    ("starlette/", "starlette (request, routing, response)"),
    ("uvicorn/", "uvicorn + httptools (HTTP protocol)"),
    ("asyncio/", "event loop and sockets (uvloop)"),
    ("uvloop", "event loop and sockets (uvloop)"),
)


def profile_summary(raw: Path, top: int = 12) -> str:
    """Shares of the sampled (non-idle) time of a py-spy ``--format raw`` file."""
    by_category: Counter[str] = Counter()
    by_self: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        by_self[frames[-1]] += count
        for frame in reversed(frames):
            category = next((c for m, c in PROFILE_CATEGORIES if m in frame), None)
            if category is not None:
                by_category[category] += count
                break
        else:
            by_category["other"] += count
    if not total:
        return "  (no samples)"
    lines = [f"  {total} samples; where the time goes (leaf-most known frame):"]
    lines += [f"    {n / total:6.1%}  {c}" for c, n in by_category.most_common()]
    lines.append(f"  top {top} functions by own time:")
    lines += [f"    {n / total:6.1%}  {f}" for f, n in by_self.most_common(top)]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- report


def fmt_ms(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.2f}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


@dataclass
class Row:
    label: str
    wrks: list[WrkResult] = field(default_factory=list)  # one per round
    rates: list[RateResult] = field(default_factory=list)
    probes: list[tuple[int, bytes, float]] = field(default_factory=list)
    profile: str = ""

    @property
    def wrk(self) -> WrkResult:
        """The round with the median requests/s."""
        return sorted(self.wrks, key=lambda w: w.rps)[(len(self.wrks) - 1) // 2]

    @property
    def rate(self) -> RateResult:
        """The round with the median p99."""
        return sorted(self.rates, key=lambda r: r.pct_ms(99))[(len(self.rates) - 1) // 2]


def decision_mix(probes: Sequence[tuple[int, bytes, float]]) -> str:
    kinds: Counter[str] = Counter()
    for status, body, _ in probes:
        if status != 200:
            kinds[f"HTTP {status}"] += 1
            continue
        answer = json.loads(body)
        kind = answer.get("action", "?")
        if kind == "allow" and "data" in answer:
            kind = "allow+data"
        kinds[kind] += 1
    return ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))


def share(seconds: float, wall: float) -> str:
    return "-" if math.isnan(seconds) or not wall else f"{seconds / wall:.0%}"


def throughput_table(
    title: str, bare: Row, others: Sequence[Row], receivers: Sequence[Row], strict: Row | None
) -> str:
    header = (
        f"{'server':<50} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'non-2xx':>7} {'errors':>6} "
        f"{'vs bare':>7} {'CPU ms/req':>10} {'server CPU':>10} {'others':>6}"
    )
    lines = [title, header]
    for row in (bare, *others):
        w = row.wrk
        ratio = w.rps / bare.wrk.rps if bare.wrk.rps else 0.0
        lines.append(
            f"{row.label:<50} {w.rps:>8.1f} {w.p50_ms:>7.2f} {w.p99_ms:>7.2f} {w.non2xx:>7} "
            f"{w.errors:>6} {ratio:>7.1%} {w.cpu_ms_per_request:>10.3f} "
            f"{share(w.server_cpu, w.seconds):>10} {share(w.others_cpu, w.seconds):>6}"
        )
        if len(row.wrks) > 1:
            lines.append(f"{'':<6}req/s by round: " + ", ".join(f"{x.rps:.1f}" for x in row.wrks))
    for row in receivers:
        ratio = row.wrk.rps / bare.wrk.rps if bare.wrk.rps else 0.0
        by_cpu = bare.wrk.cpu_ms_per_request / row.wrk.cpu_ms_per_request
        valid = all(w.valid for w in (*row.wrks, *bare.wrks))
        result = verdict(ratio >= TARGET_RATIO) if valid else "INVALID (errors or non-2xx)"
        lines.append(
            f"  ratio {row.label}: {ratio:.1%} of bare req/s (target >= {TARGET_RATIO:.0%})  "
            f"{result}"
        )
        lines.append(
            f"    cross-check, bare CPU ms/req / this CPU ms/req: {by_cpu:.1%} (less sensitive "
            "than req/s to other processes' load)"
        )
        if 1 < len(row.wrks) == len(bare.wrks):
            # A round runs the servers one after the other within seconds, so a slow spell
            # of the host more often hits both of a pair than the medians of all rounds.
            pairs = [w.rps / b.rps for w, b in zip(row.wrks, bare.wrks, strict=True) if b.rps]
            lines.append(
                "    round by round, this req/s / bare req/s: "
                + ", ".join(f"{p:.1%}" for p in pairs)
                + f"; median {statistics.median(pairs):.1%}"
            )
        if strict is not None and strict.wrk.rps:
            lines.append(
                f"    against the stricter {strict.label}: "
                f"{row.wrk.rps / strict.wrk.rps:.1%} of its req/s, "
                f"{strict.wrk.cpu_ms_per_request / row.wrk.cpu_ms_per_request:.1%} by CPU"
            )
    lines.append(
        "  server CPU: the server's CPU time / wall time; others: CPU time other processes took "
        f"on CPU {SERVER_CPU} (the server's) meanwhile. Under about 95% server CPU with others "
        "above a few %, the machine was busy and req/s are low for both alike."
    )
    busiest = max((w.others_cpu / w.seconds for row in (bare, *others) for w in row.wrks
                   if w.seconds and not math.isnan(w.others_cpu)), default=0.0)  # fmt: skip
    if busiest > BUSY_SHARE:
        lines.append(
            f"  BUSY MACHINE: other processes took up to {busiest:.0%} of CPU {SERVER_CPU}; "
            "as root, --nice -20 shields the run (see bench/README.md)"
        )
    return "\n".join(lines)


def rate_table(title: str, rows: Sequence[Row]) -> str:
    header = (
        f"{'server':<50} {'sent':>6} {'answered':>8} {'non-200':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'p99.9 ms':>8} {'max ms':>8} {'server CPU':>10} {'others':>6}  p99<{TARGET_P99_MS:g}ms"
    )
    lines = [title, header]
    for row in rows:
        r = row.rate
        ok = r.answered == r.scheduled and r.non200 == 0 and r.pct_ms(99) < TARGET_P99_MS
        lines.append(
            f"{row.label:<50} {r.scheduled:>6} {r.answered:>8} {r.non200 + r.errors:>7} "
            f"{fmt_ms(r.pct_ms(50)):>7} {fmt_ms(r.pct_ms(99)):>7} {fmt_ms(r.pct_ms(99.9)):>8} "
            f"{fmt_ms(max(r.latencies_ns) / 1e6):>8} {share(r.server_cpu, r.elapsed):>10} "
            f"{share(r.others_cpu, r.elapsed):>6}  {verdict(ok)}"
        )
        if len(row.rates) > 1:
            lines.append(f"{'':<6}p99 by round: " + ", ".join(
                fmt_ms(x.pct_ms(99)) for x in row.rates))  # fmt: skip
    for row in rows:
        lags = row.rate.lags_ns
        lines.append(
            f"  {row.label}: requests dispatched behind schedule by p50 "
            f"{percentile(lags, 50) / 1e6:.3f} ms, p99 {percentile(lags, 99) / 1e6:.3f} ms "
            "(timer lateness + waiting for a free connection)"
        )
    lines.append(f"  timer: {rows[0].rate.timer}; unanswered requests count as infinitely slow")
    bare_late = percentile(rows[0].rate.lags_ns, 99) / 1e6
    if bare_late > 1.0:
        lines.append(
            f"  LATE GENERATOR: even against the bare server, requests left {bare_late:.1f} ms "
            "behind schedule (p99): the machine is busy and the latencies include scheduling "
            "delays; as root, --realtime (and --nice -20) shields the run"
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32, help="wrk and open-loop conns")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--warmup", type=float, default=2, help="wrk warm-up seconds")
    parser.add_argument("--rate", type=float, default=1000, help="fixed rate, requests/s")
    parser.add_argument("--rate-duration", type=float, help="seconds (default: --duration)")
    parser.add_argument("--drain", type=float, default=5, help="open-loop drain limit, s")
    parser.add_argument("--rounds", type=int, default=1, help="alternate the servers N times")
    parser.add_argument("--payloads", type=int, default=240)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mix", choices=("all", "no-profanity", "both"), default="all")
    parser.add_argument("--log", choices=("file", "devnull", "both"), default="file",
                        help="where the receiver's decision log goes")  # fmt: skip
    parser.add_argument("--policies", type=Path, default=ROOT / "policies")
    parser.add_argument("--users", type=Path, default=ROOT / "examples/users.yaml")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy record the receiver during its (last) wrk run")  # fmt: skip
    parser.add_argument("--no-pin", action="store_true", help="do not use taskset")
    parser.add_argument("--realtime", action="store_true",
                        help="fixed-rate runs: server and generator in SCHED_FIFO")  # fmt: skip
    parser.add_argument("--nice", type=int, default=0,
                        help="run everything (servers, wrk, generator) at this niceness; "
                        "negative (root) to shield the run from other processes")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--record", type=Path, metavar="DIR",
                        help="also run the receiver with --record DIR and report the cost of "
                        "recording against the same receiver without it")  # fmt: skip
    parser.add_argument("--console", choices=("on", "content"),
                        help="also run the receiver with --console (content: both with "
                        "--log-content) and report the cost of the console's feed")  # fmt: skip
    args = parser.parse_args(argv)
    rate_duration = args.rate_duration or args.duration
    # SIGTERM/SIGHUP unwind like Ctrl-C, so the servers are stopped by the finally blocks
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda signum, frame: sys.exit(128 + signum))

    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2
    bindir = str(Path(sys.executable).parent)
    receiver_bin = shutil.which("receiver", path=bindir)
    receiver_argv = [receiver_bin] if receiver_bin else [sys.executable, "-m", "receiver"]
    pyspy = shutil.which("py-spy", path=bindir) or shutil.which("py-spy")
    if args.profile and pyspy is None:
        print("py-spy not found: pip install py-spy", file=sys.stderr)
        return 2
    pin = not args.no_pin and shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2
    autogroup = False
    if args.nice:
        if args.nice < 0 and (code := in_own_session(argv)) is not None:
            return code
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)  # inherited by the servers and wrk
        autogroup = os.getsid(0) == os.getpid() and set_autogroup_nice(os.getpid(), args.nice)
    if pin:
        os.sched_setaffinity(0, {LOAD_CPU})  # the open-loop generator runs in this process

    secret = secrets.token_hex(24)
    payloads, templates = make_payloads(args.payloads, args.seed)
    bodies = [compact(p) for p in payloads]
    signed = [(b, sign(secret.encode(), b)) for b in bodies]
    calls = profanity_calls(payloads, args.policies, args.users)
    mixes = {"all": list(range(len(signed)))}
    if args.mix in ("no-profanity", "both"):
        mixes["no-profanity"] = [i for i, c in enumerate(calls) if not c]
        if args.mix == "no-profanity":
            del mixes["all"]

    tmp = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    env = dict(os.environ, RECEIVER_SOCIALPLUS_SECRET=secret, PYTHONUNBUFFERED="1")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    common = ["--policies", str(args.policies), "--users", str(args.users), "--workers", "1"]
    servers = [
        Server("bare", "bare Starlette (request.json + JSONResponse)",
               [sys.executable, str(BENCH / "bare_app.py")], env),
        Server("bare-orjson", "bare + orjson (stricter reference)",
               [sys.executable, str(BENCH / "bare_app.py"), "--variant", "orjson"], env),
    ]  # fmt: skip
    for log in ("file", "devnull") if args.log == "both" else (args.log,):
        target = tmp / "decisions.jsonl" if log == "file" else Path("/dev/null")
        where = "file" if log == "file" else "/dev/null"
        servers.append(
            Server(
                f"receiver-{log}",
                f"receiver serve (signed, policies, log -> {where})",
                [*receiver_argv, "serve", *common, "--decision-log", str(target)],
                env,
                decision_log=target if log == "file" else None,
            )
        )

    if args.record is not None:
        baseline = servers[-1]  # the receiver of the last --log choice, recording added
        BASELINES["receiver-record"] = baseline.name
        servers.append(
            Server(
                "receiver-record", f"{baseline.label.removesuffix(')')}, --record)",
                [*baseline.argv, "--record", str(args.record)], env,
                decision_log=baseline.decision_log,
            )
        )  # fmt: skip

    if args.console is not None:
        baseline = next(s for s in servers if s.name.startswith("receiver-"))
        if args.console == "content":
            baseline = Server(
                "receiver-content", f"{baseline.label.removesuffix(')')}, --log-content)",
                [*baseline.argv, "--log-content"], env, decision_log=baseline.decision_log,
            )  # fmt: skip
            servers.append(baseline)
        servers.append(
            Server(
                "receiver-console", f"{baseline.label.removesuffix(')')}, --console)",
                [*baseline.argv, "--console"], env, decision_log=baseline.decision_log,
            )
        )  # fmt: skip
        BASELINES["receiver-console"] = baseline.name

    versions = ", ".join(
        f"{name} {package_version(name)}"
        for name in ("uvicorn", "starlette", "uvloop", "httptools", "orjson", "better-profanity")
    )
    print(f"bench/serve.py: {platform.python_implementation()} {platform.python_version()}, "
          f"{versions}, {os.cpu_count()} CPUs ({platform.machine()})")  # fmt: skip
    wrk_version = subprocess.run(
        [wrk, "-v"], capture_output=True, text=True, timeout=10, check=False
    )
    print(f"load: {(wrk_version.stdout or wrk_version.stderr).splitlines()[0].strip()}; "
          f"open loop in this process")  # fmt: skip
    if pin:
        print(f"pinning: servers on CPU {SERVER_CPU} (taskset -c {SERVER_CPU}), wrk and the "
              f"open-loop generator on CPU {LOAD_CPU} (taskset / sched_setaffinity)")  # fmt: skip
    else:
        print("pinning: none (no taskset, --no-pin, or a single CPU)")
    if args.nice:
        print(f"priority: nice {os.getpriority(os.PRIO_PROCESS, 0)} for the servers, wrk and the "
              f"generator; autogroups (one per session) "
              f"{'set to the same' if autogroup else 'unchanged'}")  # fmt: skip
    else:
        print("priority: default (no --nice)")
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    events = Counter(p["eventName"] for p in payloads)
    print(f"payloads: {len(payloads)} from {templates} examples (seed {args.seed}, "
          f"{NEW_TEXT_SHARE:.0%} new texts, {UNKNOWN_ACTOR_SHARE:.0%} unknown actors), "
          f"{statistics_of(bodies)}; {sum(calls)} call profane()/censor()")  # fmt: skip
    print("events: " + ", ".join(f"{k} {v}" for k, v in events.most_common()))
    print(f"servers: one worker each, one at a time; receiver with --policies {args.policies}"
          f" --users {args.users}; temp dir {tmp}")  # fmt: skip
    print()

    results = {mix: {s.name: Row(s.label) for s in servers} for mix in mixes}
    try:
        for round_ in range(args.rounds):
            for server in servers:
                port = free_port()
                probe = http_request(port, *signed[0])
                with running(server, port, probe, tmp, pin, nice=args.nice) as proc:
                    for mix, indices in mixes.items():
                        row = results[mix][server.name]
                        profiled = (
                            args.profile
                            and not server.name.startswith("bare")
                            and round_ == args.rounds - 1
                        )
                        measure(
                            args, wrk, pin=pin, tmp=tmp, port=port, mix=mix,
                            signed=[signed[i] for i in indices], row=row,
                            pid=proc.pid, profile=profiled, pyspy=pyspy,
                        )  # fmt: skip
                        print(f"  done: round {round_ + 1}, {server.name} / {mix}: "
                              f"{row.wrks[-1].rps:.0f} req/s, p99 at {args.rate:g}/s "
                              f"{fmt_ms(row.rates[-1].pct_ms(99))} ms", flush=True)  # fmt: skip
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print()
    report(args, mixes, results, servers=servers, calls=calls, rate_duration=rate_duration)
    return 0


def measure(
    args: argparse.Namespace, wrk: str, *, pin: bool, tmp: Path, port: int, mix: str,
    signed: Sequence[tuple[bytes, str]], row: Row, pid: int, profile: bool, pyspy: str | None,
) -> None:  # fmt: skip
    """First pass, wrk warm-up and run (profiled when asked), then the fixed-rate run."""
    requests = [http_request(port, *s) for s in signed]
    if not row.probes:  # twice: the first pass checks the answers, the second is warm
        first = asyncio.run(probe_all(port, requests))
        row.probes = asyncio.run(probe_all(port, requests))
        if [(s, b) for s, b, _ in first] != [(s, b) for s, b, _ in row.probes]:
            row.probes = first  # answers differ between passes (e.g. a policy reloaded)
    script = tmp / f"{mix}.lua"
    write_lua(script, signed)
    load = {"connections": args.connections, "threads": args.threads}
    if args.warmup > 0:
        run_wrk(wrk, script, port, duration=args.warmup, pin=pin, **load)
    spy = None
    raw = tmp / f"profile-{port}-{mix}.txt"
    if profile and pyspy is not None:
        spy = subprocess.Popen(
            [pyspy, "record", "--pid", str(pid), "--duration", str(round(args.duration)),
             "--rate", "250", "--nonblocking", "--format", "raw", "--output", str(raw)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    try:
        with CpuMeter(pid, pin) as meter:
            result = run_wrk(wrk, script, port, duration=args.duration, pin=pin, **load)
        result.server_cpu, result.others_cpu = meter.server, meter.others
        row.wrks.append(result)
    finally:
        if spy is not None:
            try:
                spy.wait(args.duration + 30)
            except subprocess.TimeoutExpired:
                os.killpg(spy.pid, signal.SIGKILL)
                spy.wait(5)
    if spy is not None and raw.exists():
        row.profile = profile_summary(raw)
    with CpuMeter(pid, pin) as meter, realtime(pid, enabled=args.realtime):
        rate = asyncio.run(
            open_loop(
                port,
                requests,
                rate=args.rate,
                duration=args.rate_duration or args.duration,
                connections=args.connections,
                drain=args.drain,
            )
        )
    rate.server_cpu, rate.others_cpu = meter.server, meter.others
    row.rates.append(rate)


def report(
    args: argparse.Namespace, mixes: dict[str, list[int]], results: dict[str, dict[str, Row]], *,
    servers: Sequence[Server], calls: Sequence[bool], rate_duration: float,
) -> None:  # fmt: skip
    for mix, rows in results.items():
        count = len(mixes[mix])
        bare = rows["bare"]
        others = [rows[s.name] for s in servers[1:]]
        receivers = [rows[s.name] for s in servers if not s.name.startswith("bare")]
        strict = rows.get("bare-orjson")
        for row in (bare, *others):
            statuses = Counter(s for s, _, _ in row.probes)
            by_call: dict[bool, list[float]] = {True: [], False: []}
            for i, (_, _, ms) in zip(mixes[mix], row.probes, strict=True):
                by_call[calls[i]].append(ms)
            serial = ", ".join(
                f"{'with' if k else 'without'} profane()/censor() {percentile(v, 50):.2f} ms "
                f"(n={len(v)})"
                for k, v in by_call.items()
                if v
            )
            print(f"[{mix}] {row.label}: each payload once: HTTP {dict(statuses)}; answers: "
                  f"{decision_mix(row.probes)}")  # fmt: skip
            print(f"[{mix}]   one request at a time (second pass), median: {serial}")
        print()
        print(
            throughput_table(
                f"Throughput, mix '{mix}' ({count} payloads): wrk -t{args.threads} "
                f"-c{args.connections} -d{args.duration:g}s after a {args.warmup:g} s warm-up"
                + (f", median of {args.rounds} rounds" if args.rounds > 1 else ""),
                bare,
                others,
                receivers,
                strict,
            )
        )
        print()
        if "receiver-record" in rows:
            print(recording_cost(mix, rows["receiver-record"], rows[BASELINES["receiver-record"]]))
            print()
        if "receiver-console" in rows:
            print(console_cost(mix, rows["receiver-console"], rows[BASELINES["receiver-console"]]))
            print()
        print(
            rate_table(
                f"Fixed rate, mix '{mix}': {args.rate:g} req/s for {rate_duration:g} s on "
                f"{args.connections} keep-alive connections, open loop, latency from the "
                f"scheduled send time"
                + (", server and generator in SCHED_FIFO" if args.realtime else "")
                + (f", median p99 of {args.rounds} rounds" if args.rounds > 1 else ""),
                [bare, *others],
            )
        )
        print()
        for row in receivers:
            if row.profile:
                print(f"py-spy profile of {row.label} under wrk, mix '{mix}':\n{row.profile}\n")


def recording_cost(mix: str, recording: Row, without: Row) -> str:
    """The cost of ``--record``: the same receiver with and without it."""
    on, off = recording.wrk, without.wrk
    ratio = on.rps / off.rps if off.rps else math.nan
    extra_us = (on.cpu_ms_per_request - off.cpu_ms_per_request) * 1000
    return (
        f"[{mix}] recording: {on.rps:.1f} req/s with --record, {off.rps:.1f} without "
        f"({ratio:.1%}); server CPU {on.cpu_ms_per_request:.3f} against "
        f"{off.cpu_ms_per_request:.3f} ms per request ({extra_us:+.1f} µs per request)"
    )


# the receiver each of --record's and --console's is compared with (set in main)
BASELINES: dict[str, str] = {}


def console_cost(mix: str, console: Row, without: Row) -> str:
    """The cost of ``--console``: the same receiver with and without it."""
    on, off = console.wrk, without.wrk
    ratio = on.rps / off.rps if off.rps else math.nan
    cpu_ratio = on.cpu_ms_per_request / off.cpu_ms_per_request if off.cpu_ms_per_request else 0
    extra_us = (on.cpu_ms_per_request - off.cpu_ms_per_request) * 1000
    return (
        f"[{mix}] console: {on.rps:.1f} req/s with --console, {off.rps:.1f} without "
        f"(ratio {ratio:.3f}); server CPU {on.cpu_ms_per_request:.3f} against "
        f"{off.cpu_ms_per_request:.3f} ms per request (ratio {cpu_ratio:.3f}, "
        f"{extra_us:+.1f} µs per request)"
    )


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def statistics_of(bodies: Sequence[bytes]) -> str:
    sizes = sorted(len(b) for b in bodies)
    return f"body bytes median {sizes[len(sizes) // 2]}, max {sizes[-1]}"


if __name__ == "__main__":
    sys.exit(main())
