"""Throughput of each platform's endpoint against the bare Starlette endpoint of the same shape.

Run from the repository root::

    python bench/platforms.py [--duration 10] [--connections 32] [--rounds 1]

The question of issue 23: do ``POST /hooks/stream`` and ``POST /hooks/twilio`` reach the
same throughput ratio to a bare Starlette endpoint as ``POST /hooks/socialplus``? For
each platform, ``wrk`` (closed loop, after a short warm-up) against:

- ``receiver serve`` (one worker, all three credentials set, so every request's signature
  is checked; ``--policies``, by default ``examples/all-platforms``, whose rules apply to
  the three platforms alike, so each decides the same rules on the same texts; the
  decision log appended to a file);
- ``bench/bare_app.py``: per platform a route that only reads the body (``request.json()``,
  or the form with ``parse_qsl``) and answers allow with ``JSONResponse``.

The requests: the texts of ``bench/serve.py``'s corpus (chat with links, invites,
swear words, Unicode), as each vendor sends them: a social.plus pre-hook signed in
``x-amity-signature``, a Stream hook body signed in ``X-Signature`` (hex), a Twilio
``onMessageAdd`` form signed in ``X-Twilio-Signature`` over the URL the server is called
at. Every request is sent once to each server first (all must answer 200, or 403 for a
Twilio deny, which wrk counts as non-2xx: the corpus keeps only requests the receiver
answers 200). Printed: requests/s of each, and the ratio receiver / bare per platform.
The servers run on CPU 1 and wrk on CPU 0 when ``taskset`` is there; a busy machine
moves the figures, so compare the ratios of one run, and use ``--rounds`` to alternate.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode

import serve  # bench/serve.py: the corpus texts, server start and stop, Lua literals

from receiver.adapters.signatures import sign_base64
from receiver.adapters.vendorsigs import sign_stream, sign_twilio

ROOT = serve.ROOT
BENCH = serve.BENCH
PLATFORMS = ("socialplus", "stream", "twilio")

LUA = """\
local payloads = {
%(entries)s
}
local requests = {}
local n = #payloads
local i = 0

init = function(args)
  for k, p in ipairs(payloads) do
    requests[k] = wrk.format("POST", p[1], {["Content-Type"] = p[2], [p[3]] = p[4]}, p[5])
  end
end

request = function()
  i = i %% n + 1
  return requests[i]
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"errors":%%d,"status":%%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status))
end
"""

Request = tuple[str, str, str, str, bytes]  # path, content type, header, signature, body


def requests_for(platform: str, texts: list[str], keys: dict[str, str], port: int) -> list[Request]:
    """Each text as ``platform`` sends it, signed as it signs."""
    out: list[Request] = []
    for k, text in enumerate(texts):
        user = f"u{k % 50}"
        if platform == "socialplus":
            body = json.dumps(
                {"eventName": "message.shouldCreate",
                 "data": {"text": text, "channelId": "ch_general"},
                 "actor": {"_id": user, "userId": user}},
                separators=(",", ":"), ensure_ascii=False,
            ).encode()  # fmt: skip
            sig = sign_base64(keys[platform].encode(), body)
            out.append(("/hooks/socialplus", "application/json", "x-amity-signature", sig, body))
        elif platform == "stream":
            body = json.dumps(
                {"message": {"id": "", "text": text, "type": "regular", "attachments": []},
                 "user": {"id": user, "role": "user"},
                 "channel": {"cid": "messaging:general", "type": "messaging"},
                 "request_info": {"type": "client", "ip": "127.0.0.1"}},
                separators=(",", ":"), ensure_ascii=False,
            ).encode()  # fmt: skip
            sig = sign_stream(keys[platform].encode(), body)
            out.append(("/hooks/stream", "application/json", "X-Signature", sig, body))
        else:
            params = [("EventType", "onMessageAdd"), ("ConversationSid", "CH" + "0" * 32),
                      ("Author", user), ("ClientIdentity", user), ("Body", text),
                      ("Attributes", "{}"), ("Source", "SDK")]  # fmt: skip
            url = f"http://127.0.0.1:{port}/hooks/twilio"
            sig = sign_twilio(keys[platform].encode(), url, params)
            form = urlencode(params).encode()
            out.append(("/hooks/twilio", "application/x-www-form-urlencoded",
                        "X-Twilio-Signature", sig, form))  # fmt: skip
    return out


def raw(port: int, request: Request) -> bytes:
    path, content_type, header, sig, body = request
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"
        f"{header}: {sig}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def status_of(port: int, request: Request) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(raw(port, request))
        answer = b""
        while b"\r\n" not in answer:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def write_lua(path: Path, requests: list[Request]) -> None:
    lit = serve.lua_string
    entries = ",\n".join(
        f"  {{{lit(p.encode())}, {lit(c.encode())}, {lit(h.encode())}, {lit(s.encode())}, "
        f"{lit(b)}}}"
        for p, c, h, s, b in requests
    )
    path.write_text(LUA % {"entries": entries})


def run_wrk(wrk: str, script: Path, port: int, args: argparse.Namespace, pin: bool) -> float:
    """Requests per second of one wrk run (raises on errors or non-2xx answers)."""
    cmd = [wrk, "-t1", f"-c{args.connections}", f"-d{max(1, round(args.duration))}s",
           "--timeout", "10s", "-s", str(script), f"http://127.0.0.1:{port}/"]  # fmt: skip
    if pin:
        cmd = ["taskset", "-c", str(serve.LOAD_CPU), *cmd]
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=args.duration + 60, check=False
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    r = json.loads(line.removeprefix("WRKJSON "))
    if r["errors"] or r["status"]:
        raise RuntimeError(f"invalid run: {r['errors']} socket errors, {r['status']} non-2xx")
    return float(r["requests"]) / (r["duration_us"] / 1e6)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=2, help="wrk warm-up seconds")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=1, help="alternate the servers N times")
    parser.add_argument("--payloads", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--policies", type=Path, default=ROOT / "examples" / "all-platforms")
    parser.add_argument("--no-pin", action="store_true", help="do not use taskset")
    args = parser.parse_args(argv)
    for signum in (signal.SIGTERM, signal.SIGHUP):  # unwind: the servers are stopped
        signal.signal(signum, lambda signum, frame: sys.exit(128 + signum))
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2
    pin = not args.no_pin and shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2
    rng = random.Random(args.seed)
    texts = [serve.make_text(rng) for _ in range(args.payloads)]
    keys = {p: secrets.token_hex(24) for p in PLATFORMS}
    env = dict(
        os.environ, PYTHONUNBUFFERED="1", RECEIVER_SOCIALPLUS_SECRET=keys["socialplus"],
        RECEIVER_STREAM_SECRET=keys["stream"], RECEIVER_TWILIO_AUTH_TOKEN=keys["twilio"],
    )  # fmt: skip
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    tmp = Path(tempfile.mkdtemp(prefix="bench-platforms-"))
    receiver = serve.Server(
        "receiver", "receiver serve",
        [sys.executable, "-m", "receiver", "serve", "--policies", str(args.policies),
         "--workers", "1", "--decision-log", str(tmp / "decisions.jsonl")], env,
    )  # fmt: skip
    bare = serve.Server("bare", "bare Starlette", [sys.executable, str(BENCH / "bare_app.py")], env)
    rates: dict[tuple[str, str], list[float]] = {}
    print(f"wrk {args.duration:g} s x {args.rounds} round(s), {args.connections} connections, "
          f"{len(texts)} texts, policies {args.policies}; pinned: {pin}")  # fmt: skip
    try:
        for _round in range(args.rounds):
            for server in (receiver, bare):
                port = serve.free_port()
                corpus = {p: requests_for(p, texts, keys, port) for p in PLATFORMS}
                probe = raw(port, corpus["socialplus"][0])
                with serve.running(server, port, probe, tmp, pin):
                    for platform in PLATFORMS:
                        kept = [r for r in corpus[platform] if status_of(port, r) == 200]
                        if server is receiver:
                            dropped = len(corpus[platform]) - len(kept)
                            print(f"  {platform}: {len(kept)} requests answered 200 "
                                  f"({dropped} denied with a non-2xx status left out)")  # fmt: skip
                        script = tmp / f"{server.name}-{platform}.lua"
                        write_lua(script, kept)
                        warm = argparse.Namespace(**{**vars(args), "duration": args.warmup})
                        run_wrk(wrk, script, port, warm, pin)
                        rate = run_wrk(wrk, script, port, args, pin)
                        rates.setdefault((server.name, platform), []).append(rate)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n{'platform':<12}{'receiver req/s':>16}{'bare req/s':>14}{'ratio':>8}")
    for platform in PLATFORMS:
        mine = statistics.median(rates[("receiver", platform)])
        base = statistics.median(rates[("bare", platform)])
        print(f"{platform:<12}{mine:>16,.0f}{base:>14,.0f}{mine / base:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
