"""End to end: reloads of the real ``receiver serve`` that fail never take it down.

A ``--watch`` server gets an alias bomb and a too-deep expression, stays up, counts
both failures and applies the next good edit; a SIGHUP reload of a set that loads
slower than ``--reload-timeout`` is abandoned and counted, requests are answered
meanwhile, and the next reload applies. Servers come from the harness of
``test_serve_e2e`` (own session, killed at the end, every wait bounded).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from chat_policy import answer_message, policy
from hostile_policies import BOMB, TOO_DEEP
from serverproc import Launch, Server, launcher, policy_dir, wait_for

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGHUP"), reason="POSIX signals (SIGHUP, process groups) needed"
)


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    with launcher(tmp_path) as start:
        yield start


def reloads(server: Server, result: str) -> float:
    return server.metric("receiver_policy_reloads_total", result=result)


def reached(server: Server, result: str, count: int) -> Callable[[], bool]:
    return lambda: reloads(server, result) >= count


def test_watch_survives_a_bomb_and_a_too_deep_file_and_applies_the_next_edit(
    launch: Launch, tmp_path: Path
) -> None:
    policies = policy_dir(tmp_path, policy("v1"))
    server = launch("--policies", str(policies), "--watch")
    assert answer_message(server) == "v1"
    for failures, (name, text, code) in enumerate(
        [("bomb.yaml", BOMB, "yaml-alias"), ("deep.yaml", TOO_DEEP, "too-deep")], start=1
    ):
        staged = tmp_path / name  # written whole, then moved in: one change for the watcher
        staged.write_text(text)
        staged.replace(policies / name)
        wait_for(f"the failed reload of {name}", reached(server, "failed", failures), 30)
        assert reloads(server, "failed") == failures
        assert code in server.err()
        assert answer_message(server) == "v1"  # the old set still serves
        (policies / name).unlink()
        wait_for(f"the reload without {name}", reached(server, "ok", failures + 1), 30)
    staged = tmp_path / "chat.yaml"
    staged.write_text(policy("v2"))
    staged.replace(policies / "chat.yaml")
    wait_for("the v2 answer", lambda: answer_message(server) == "v2", 30)
    assert server.proc.poll() is None
    assert "Traceback" not in server.err()


def slow_set(directory: Path, files: int = 8, rules: int = 2500) -> None:
    """Files that each take most of a second to load here (15,000 rules: about 5 s)."""
    for f in range(files):
        lines = [f"policy: big{f}", "rules:"]
        for k in range(rules):
            lines += [
                f"  - id: r{k}",
                "    events: message.shouldCreate",
                f'    when: text contains "w{f}x{k}" and len(text) > {k % 50} or data.n == {k}',
                "    action: deny",
                "    message: no",
            ]
        (directory / f"big{f}.yaml").write_text("\n".join(lines) + "\n")


def test_a_reload_past_the_time_limit_is_abandoned_and_later_reloads_apply(
    launch: Launch, tmp_path: Path
) -> None:
    policies = policy_dir(tmp_path, policy("v1"))
    server = launch("--policies", str(policies), "--reload-timeout", "1")
    slow_set(policies)
    started = time.monotonic()
    server.proc.send_signal(signal.SIGHUP)
    slowest = 0.0
    while reloads(server, "failed") == 0 and time.monotonic() - started < 30:
        asked = time.monotonic()
        assert answer_message(server) == "v1"  # answered while the child loads
        slowest = max(slowest, time.monotonic() - asked)
        time.sleep(0.1)
    abandoned_after = time.monotonic() - started
    assert reloads(server, "failed") == 1
    assert "longer than the reload time limit (1 s)" in server.err()
    assert abandoned_after < 15  # 1 s and the kill, not the whole load
    assert slowest < 1.0
    for path in policies.glob("big*.yaml"):
        path.unlink()
    (policies / "chat.yaml").write_text(policy("v2"))
    server.proc.send_signal(signal.SIGHUP)
    wait_for("the v2 answer", lambda: answer_message(server) == "v2", 30)
    assert reloads(server, "ok") == 2
    assert server.proc.poll() is None
