"""Policy tests and rollout/expiry: the case field ``rollout:`` (pins, also in
``defaults``), the expectation key ``rollout:``, the way shown by a failing case, and
``expires`` judged against the case's ``now`` by the production decision path."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from receiver.cli import main
from receiver.runtime.rollout import bucket, enforces

POLICY = """\
policy: demo
rules:
  - id: block-links
    events: message.shouldCreate
    when: text contains "http"
    action: deny
    message: No links.
    rollout: 10%
  - id: holiday-lockdown
    events: message.shouldCreate
    when: text contains "raid"
    action: deny
    expires: 2026-12-27T00:00:00Z
  - id: plain
    events: message.shouldCreate
    when: text contains "plain"
    action: deny
"""


def user_going(way: str) -> str:
    """A user for whom demo/block-links (10%) goes ``way`` by its bucket."""
    wanted = way == "enforced"
    return next(
        f"user{n}"
        for n in range(1000)
        if enforces(bucket("demo/block-links", f"user{n}"), 10) is wanted
    )


def run(
    tmp_path: Path, cases: str, capsys: pytest.CaptureFixture[str], *options: str
) -> tuple[int, str]:
    (tmp_path / "demo.yaml").write_text(POLICY, encoding="utf-8")
    (tmp_path / "demo.test.yaml").write_text(textwrap.dedent(cases), encoding="utf-8")
    code = main(["test", str(tmp_path), *options])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_the_case_and_the_expectation_say_which_way_a_rollout_rule_goes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(
        tmp_path,
        f"""
        now: 2026-12-01T00:00:00Z
        defaults: {{event: message.shouldCreate}}
        cases:
          - name: inside by its bucket
            user: {user_going("enforced")}
            data: {{text: "see http://x"}}
            expect: {{action: deny, rollout: {{block-links: enforced}}}}
          - name: outside by its bucket
            user: {user_going("shadow")}
            data: {{text: "see http://x"}}
            expect:
              action: allow
              rollout: {{demo/block-links: shadow}}
              shadow: [demo/block-links]
          - name: pinned inside
            user: {user_going("shadow")}
            rollout: {{block-links: enforce}}
            data: {{text: "see http://x"}}
            expect: {{action: deny, rollout: {{block-links: enforced}}}}
          - name: pinned outside
            user: {user_going("enforced")}
            rollout: {{demo/block-links: shadow}}
            data: {{text: "see http://x"}}
            expect: {{action: allow, rollout: {{block-links: shadow}}}}
        """,
        capsys,
    )
    assert code == 0, out
    assert "4 passed" in out


def test_defaults_pin_every_case_and_a_case_overrides_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(
        tmp_path,
        f"""
        now: 2026-12-01T00:00:00Z
        defaults: {{event: message.shouldCreate, rollout: {{block-links: enforce}}}}
        cases:
          - name: the default pin
            user: {user_going("shadow")}
            data: {{text: "http"}}
            expect: deny
          - name: the case's pin wins
            user: {user_going("enforced")}
            rollout: {{block-links: shadow}}
            data: {{text: "http"}}
            expect: allow
        """,
        capsys,
    )
    assert code == 0, out


def test_a_failing_case_shows_which_way_the_rule_went(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    user = user_going("shadow")
    shown = f"{bucket('demo/block-links', user) / 100:05.2f}%"
    code, out = run(
        tmp_path,
        f"""
        now: 2026-12-01T00:00:00Z
        cases:
          - name: expected enforced
            event: message.shouldCreate
            user: {user}
            data: {{text: "http"}}
            expect: {{rollout: {{block-links: enforced}}}}
        """,
        capsys,
    )
    assert code == 1
    assert f"rollout: demo/block-links shadow (bucket {shown}, rollout 10%)" in out
    assert "rollout: the rollout rules went another way" in out
    assert "- demo/block-links: enforced" in out
    assert f"+ demo/block-links: shadow (bucket {shown}, rollout 10%)" in out
    assert f"deny: matched; rollout 10%: bucket {shown} -> shadow" in out  # the explanation


def test_expecting_a_way_of_a_rule_that_did_not_match_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(
        tmp_path,
        """
        now: 2026-12-01T00:00:00Z
        cases:
          - name: no link
            event: message.shouldCreate
            user: someone
            data: {text: "hello"}
            expect: {rollout: {block-links: shadow}}
        """,
        capsys,
    )
    assert code == 1
    assert "+ demo/block-links: did not match, so it went neither way" in out


@pytest.mark.parametrize(
    ("field", "written", "says"),
    [
        (
            "rollout",
            "{block-links: enforced}",
            "must be enforce or shadow; did you mean 'enforce'?",
        ),
        ("rollout", "{plain: enforce}", "rule 'demo/plain' has no 'rollout:'"),
        ("rollout", "{nope: enforce}", "no rule 'nope'"),
        ("expect", "{rollout: {block-links: enforce}}", "must be enforced or shadow"),
        ("expect", "{rollout: {plain: shadow}}", "rule 'demo/plain' has no 'rollout:'"),
        ("rollout", "[block-links]", "'rollout' must be a mapping"),
    ],
)
def test_a_bad_rollout_field_is_reported_at_its_position(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, written: str, says: str
) -> None:
    expect = "" if field == "expect" else "\n            expect: allow"
    code, out = run(
        tmp_path,
        f"""
        cases:
          - name: c
            event: message.shouldCreate
            {field}: {written}{expect}
        """,
        capsys,
    )
    assert code == 2, out
    assert says in out
    assert "demo.test.yaml:5:" in out


@pytest.mark.parametrize(
    ("now", "verdict"), [("2026-12-26T23:59:59Z", "deny"), ("2026-12-27T00:00:00Z", "allow")]
)
def test_receiver_test_sees_an_expiring_rule_until_its_instant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], now: str, verdict: str
) -> None:
    code, out = run(
        tmp_path,
        f"""
        now: {now}
        cases:
          - name: raid
            event: message.shouldCreate
            user: someone
            data: {{text: "raid now"}}
            expect: {verdict}
        """,
        capsys,
    )
    assert code == 0, out


def test_the_json_report_carries_the_rollout_of_the_decision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    user = user_going("enforced")
    code, out = run(
        tmp_path,
        f"""
        now: 2026-12-01T00:00:00Z
        cases:
          - name: c
            event: message.shouldCreate
            user: {user}
            data: {{text: "http"}}
            expect: deny
        """,
        capsys,
        "--format",
        "json",
    )
    assert code == 0
    report = json.loads(out)
    (case,) = report["cases"]
    assert case["decision"]["rollout"] == [
        {"rule": "demo/block-links", "bucket": bucket("demo/block-links", user), "enforced": True}
    ]
