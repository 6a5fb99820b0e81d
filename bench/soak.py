"""Soak: signed mixed hook traffic at a fixed rate for a duration, against ``receiver serve``.

Run from the repository root::

    python bench/soak.py [--duration 600] [--rate 1000] [--workers 1]
                         [--redis-url redis://127.0.0.1:6379/0] [--check]

It starts ``receiver serve`` on a free loopback port the way an operator runs it: a
random social.plus signature secret and brainCloud bridge token (so every request is
authenticated), the shipped policies, the example user directory, the decision log
in a file, ``--workers N`` and, with ``--redis-url``, Redis counters (without it:
memory counters, said as ``--counters memory-per-worker`` when N > 1, since each worker
then counts on its own). Then an open-loop
generator in this process (``bench/serve.py``'s: raw HTTP/1.1 on keep-alive
connections, request k scheduled at ``start + k / rate`` by a timerfd) sends a mix
of payloads for ``--duration`` seconds:

- social.plus pre-hooks generated from ``examples/payloads/*.json`` with varied
  texts and actors, signed (``x-amity-signature``);
- brainCloud bridge envelopes from ``examples/braincloud/*.json`` with the token;
- a few hostile requests (``--hostile-share``, default 2 %): wrong signatures,
  malformed JSON, a JSON integer of 5,000 digits; their expected answers are 401 and
  400, so they are counted by status, not as errors.

Latency runs from the *scheduled* send time (no coordinated omission). Every
``--every`` seconds it prints the window's requests, p50, p99 and p99.9, errors (an
answer other than the one expected, a socket error, or no answer within
``--request-timeout``), and the resident memory of the server's processes (the
supervisor and its workers, from ``/proc``). At the end: the same over the whole run,
and the RSS growth after the warm-up (``--warmup``, default the first 10 % of the run
or 60 s, whichever is shorter).

A benchmark, not a test: it exits 0 whatever the figures, except with ``--check``,
which exits 1 when any request erred or the server died (timings are never judged).
``.ci/run`` runs a 20-second version with ``--check``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from serve import (
    ROOT,
    compact,
    exchange,
    free_port,
    make_payloads,
    percentile,
    periodic_timerfd,
    sign,
    stop,
)

SOCIALPLUS = "/hooks/socialplus"
BRAINCLOUD = "/hooks/braincloud"


@dataclass(frozen=True)
class Request:
    raw: bytes
    expect: int  # the status a correct server answers
    kind: str


def http(port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head += f"Content-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def corpus(
    port: int, secret: str, token: str, *, count: int, seed: int, hostile_share: float
) -> list[Request]:
    """The requests the soak cycles through, in a fixed shuffled order."""
    rng = random.Random(seed)
    payloads, _ = make_payloads(count, seed)
    out = []
    for payload in payloads:
        body = compact(payload)
        signature = sign(secret.encode(), body)
        out.append(Request(http(port, SOCIALPLUS, body, {"x-amity-signature": signature}),
                           200, "socialplus"))  # fmt: skip
    for path in sorted((ROOT / "examples/braincloud").glob("*.json")):
        body = compact(json.loads(path.read_text()))
        raw = http(port, BRAINCLOUD, body, {"x-receiver-token": token})
        out.extend(Request(raw, 200, "braincloud") for _ in range(max(1, count // 40)))
    hostile = max(1, round(len(out) * hostile_share))
    for n in range(hostile):
        body = compact(payloads[n % len(payloads)])
        which = n % 3
        if which == 0:
            raw = http(port, SOCIALPLUS, body, {"x-amity-signature": sign(b"wrong", body)})
            out.append(Request(raw, 401, "forged"))
        elif which == 1:
            bad = body[: len(body) // 2]
            raw = http(port, SOCIALPLUS, bad, {"x-amity-signature": sign(secret.encode(), bad)})
            out.append(Request(raw, 400, "malformed"))
        else:
            huge = b'{"eventName":"message.shouldCreate","data":{"n":' + b"7" * 5000 + b"}}"
            raw = http(port, SOCIALPLUS, huge, {"x-amity-signature": sign(secret.encode(), huge)})
            out.append(Request(raw, 400, "huge-int"))
    rng.shuffle(out)
    return out


def tree_rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants, KiB."""
    total = 0
    stack = [pid]
    seen = set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
    return total


@dataclass
class Window:
    latencies_ns: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: Counter[int] = field(default_factory=Counter)


@dataclass
class Soak:
    windows: list[Window]
    rss: list[tuple[float, int]]  # (seconds since start, KiB) at each report
    unexpected: Counter[str] = field(default_factory=Counter)


def ms(ns: float) -> str:
    return "   inf" if math.isinf(ns) else f"{ns / 1e6:6.2f}"


def line(label: str, window: Window, rss_kib: int | None) -> str:
    lat = window.latencies_ns
    rss = f"  rss {rss_kib / 1024:7.1f} MB" if rss_kib is not None else ""
    return (
        f"{label}  {len(lat):7d} req  p50 {ms(percentile(lat, 50))} ms  "
        f"p99 {ms(percentile(lat, 99))} ms  p99.9 {ms(percentile(lat, 99.9))} ms  "
        f"errors {window.errors:4d}{rss}"
    )


async def soak(
    port: int, requests: Sequence[Request], server_pid: int, *, rate: float, duration: float,
    connections: int, every: float, request_timeout: float,
) -> Soak:  # fmt: skip
    total = max(1, round(rate * duration))
    period_ns = round(1e9 / rate)
    nwindows = max(1, math.ceil(duration / every))
    windows = [Window() for _ in range(nwindows)]
    result = Soak(windows, [])
    queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    start_ns = time.monotonic_ns() + 50_000_000

    settled = 0
    all_settled = loop.create_future()

    def settle() -> None:
        nonlocal settled
        settled += 1
        if settled >= total and not all_settled.done():
            all_settled.set_result(None)

    def window_of(scheduled_ns: int) -> Window:
        index = int((scheduled_ns - start_ns) / 1e9 // every)
        return windows[min(max(index, 0), nwindows - 1)]

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return reader, writer

    async def worker() -> None:
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while True:
            k, scheduled = await queue.get()
            request = requests[k % len(requests)]
            window = window_of(scheduled)
            try:
                if conn is None:
                    conn = await connect()
                status, _ = await asyncio.wait_for(exchange(*conn, request.raw), request_timeout)
            except (OSError, asyncio.IncompleteReadError, ValueError, TimeoutError) as err:
                window.errors += 1
                window.latencies_ns.append(math.inf)
                result.unexpected[f"{request.kind}: {type(err).__name__}"] += 1
                if conn is not None:
                    conn[1].close()
                conn = None
                settle()
                continue
            window.latencies_ns.append(time.monotonic_ns() - scheduled)
            window.statuses[status] += 1
            if status != request.expect:
                window.errors += 1
                result.unexpected[f"{request.kind}: HTTP {status}"] += 1
            settle()

    tasks = [loop.create_task(worker()) for _ in range(connections)]
    sent = 0

    def dispatch_due() -> None:
        nonlocal sent
        now_ns = time.monotonic_ns()
        due = min(total, (now_ns - start_ns) // period_ns + 1) if now_ns >= start_ns else 0
        while sent < due:
            queue.put_nowait((sent, start_ns + sent * period_ns))
            sent += 1

    fd = periodic_timerfd(start_ns, period_ns)
    if fd is not None:

        def on_timer() -> None:
            with contextlib.suppress(BlockingIOError):
                os.read(fd, 8)
            dispatch_due()

        loop.add_reader(fd, on_timer)
    else:

        async def ticker() -> None:
            while sent < total:
                dispatch_due()
                await asyncio.sleep(0.001)

        tasks.append(loop.create_task(ticker()))
    try:
        for n in range(nwindows):
            report_at_ns = start_ns + round((n + 1) * every * 1e9)
            await asyncio.sleep(max(0.0, (report_at_ns - time.monotonic_ns()) / 1e9))
            if n == nwindows - 1:  # the last window: let its requests finish
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(all_settled), request_timeout + 1)
                missing = total - settled  # never answered nor failed: a hang
                windows[n].errors += missing
                windows[n].latencies_ns.extend([math.inf] * missing)
                if missing:
                    result.unexpected["no answer at the end"] += missing
            rss = tree_rss_kib(server_pid)
            elapsed = (time.monotonic_ns() - start_ns) / 1e9
            result.rss.append((elapsed, rss))
            print(line(f"t={elapsed:5.0f}s", windows[n], rss), flush=True)
    finally:
        if fd is not None:
            loop.remove_reader(fd)
            os.close(fd)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return result


def warmup_seconds(duration: float, given: float | None) -> float:
    return given if given is not None else min(60.0, duration / 10)


def wait_ready(proc: subprocess.Popen[bytes], port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    probe = f"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=1) as s,
        ):
            s.settimeout(5)
            s.sendall(probe)
            if s.recv(65536).startswith(b"HTTP/1.1 200"):
                return
        time.sleep(0.1)
    raise RuntimeError(f"the server was not ready within {timeout:.0f} s")


@contextlib.contextmanager
def server(argv: list[str], env: dict[str, str], port: int, logs: Path) -> Iterator[int]:
    with (logs / "server.err").open("ab") as err:
        proc = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=ROOT,
            start_new_session=True,
        )  # fmt: skip
        try:
            wait_ready(proc, port, 60)
            yield proc.pid
            if proc.poll() is not None:
                raise RuntimeError(f"the server died during the soak (code {proc.returncode})")
        except Exception:
            tail = (logs / "server.err").read_text(errors="replace")[-3000:]
            print(f"\n[server] stderr (last lines):\n{tail}", file=sys.stderr)
            raise
        finally:
            stop(proc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=600, help="seconds (default 600)")
    parser.add_argument("--rate", type=float, default=1000, help="requests/s (default 1000)")
    parser.add_argument("--every", type=float, default=10, help="report every N seconds")
    parser.add_argument("--warmup", type=float, help="s (default: 10%% of the run, at most 60)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="receiver serve --workers N")
    parser.add_argument("--redis-url", help="use Redis counters at this URL")
    parser.add_argument("--payloads", type=int, default=400)
    parser.add_argument("--hostile-share", type=float, default=0.02)
    parser.add_argument("--request-timeout", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when any request erred or the server died")  # fmt: skip
    args = parser.parse_args(argv)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda signum, frame: sys.exit(128 + signum))
    if not 0 < args.duration <= 3600 or not 0 < args.rate <= 20000:
        parser.error("--duration must be in (0, 3600] and --rate in (0, 20000]")

    bindir = str(Path(sys.executable).parent)
    receiver_bin = shutil.which("receiver", path=bindir)
    base = [receiver_bin] if receiver_bin else [sys.executable, "-m", "receiver"]
    port = free_port()
    secret, token = secrets.token_hex(24), secrets.token_hex(24)
    tmp = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    env = dict(os.environ, RECEIVER_SOCIALPLUS_SECRET=secret, RECEIVER_BRAINCLOUD_TOKEN=token)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    argv_ = [
        *base, "serve", "--port", str(port), "--policies", str(ROOT / "policies"),
        "--users", str(ROOT / "examples/users.yaml"), "--workers", str(args.workers),
        "--decision-log", str(tmp / "decisions.jsonl"),
    ]  # fmt: skip
    counters = "memory"
    if args.redis_url:
        argv_ += ["--counters", "redis", "--redis-url", args.redis_url]
        counters = "redis"
    elif args.workers > 1:  # said explicitly: receiver serve refuses it otherwise
        counters = "memory-per-worker"
        argv_ += ["--counters", counters]
    requests = corpus(
        port, secret, token, count=args.payloads, seed=args.seed,
        hostile_share=args.hostile_share,
    )  # fmt: skip
    kinds = Counter(r.kind for r in requests)
    print(
        f"== soak: {args.rate:g} req/s for {args.duration:g} s, {args.connections} connections; "
        f"receiver serve --workers {args.workers}, signed, {counters} counters; "
        f"mix {dict(kinds)}",
        flush=True,
    )
    died = False
    try:
        with server(argv_, env, port, tmp) as pid:
            rss_start = tree_rss_kib(pid)
            print(f"rss at start {rss_start / 1024:.1f} MB", flush=True)
            result = asyncio.run(
                soak(
                    port, requests, pid, rate=args.rate, duration=args.duration,
                    connections=args.connections, every=args.every,
                    request_timeout=args.request_timeout,
                )
            )  # fmt: skip
    except RuntimeError as err:
        print(f"FAILED: {err}", file=sys.stderr)
        died = True
        result = None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if result is None:
        return 1 if args.check else 0
    overall = Window()
    for window in result.windows:
        overall.latencies_ns.extend(window.latencies_ns)
        overall.errors += window.errors
        overall.statuses.update(window.statuses)
    print(line("total   ", overall, None))
    print(f"statuses: {dict(sorted(overall.statuses.items()))}")
    if result.unexpected:
        print(f"errors by kind: {dict(result.unexpected)}")
    warm = warmup_seconds(args.duration, args.warmup)
    after = [kib for t, kib in result.rss if t >= warm] or [result.rss[-1][1]]
    growth = (after[-1] - after[0]) / 1024
    print(
        f"rss after warm-up ({warm:g} s): {after[0] / 1024:.1f} MB -> {after[-1] / 1024:.1f} MB "
        f"(growth {growth:+.1f} MB; peak {max(k for _, k in result.rss) / 1024:.1f} MB)"
    )
    if args.check and (overall.errors or died):
        print(f"CHECK FAILED: {overall.errors} errors", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
