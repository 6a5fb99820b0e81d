"""Tests for receiver.check.expiry and ``receiver check --now``: warnings for rules that
expire within 14 days or have expired; and how rollout and expiry meet the other checks
(``rollout_key`` is an expression like ``when``; such rules pre-empt nothing)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from receiver.cli import main
from receiver.runtime.policyset import check_paths

POLICY = """
    policy: p
    rules:
      - id: old
        events: message.shouldCreate
        action: deny
        expires: 2026-02-01T00:00:00Z
      - id: plain
        events: message.shouldCreate
        when: data.x == 1
        action: deny
    """


def write(tmp_path: Path, text: str = POLICY) -> Path:
    (tmp_path / "p.yaml").write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("now", "code", "says"),
    [
        ("2026-01-01T00:00:00Z", None, ""),
        ("2026-01-18T00:00:00Z", "expiring", "expires at 2026-02-01T00:00:00Z, in 14 days"),
        ("2026-01-29T12:00:00Z", "expiring", "in 2 days"),
        ("2026-01-31T20:00:00Z", "expiring", "in 4 hours"),
        ("2026-01-31T23:59:30Z", "expiring", "in 1 minute"),
        ("2026-02-01T00:00:00Z", "expired", "expired at 2026-02-01T00:00:00Z"),
        ("2027-06-01T00:00:00Z", "expired", "no longer applies; remove it"),
    ],
)
def test_check_warns_14_days_before_expiry_and_after_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], now: str, code: str | None, says: str
) -> None:
    write(tmp_path)
    assert main(["check", str(tmp_path), "--now", now, "--format", "json"]) == 0
    diagnostics = json.loads(capsys.readouterr().out)["diagnostics"]
    if code is None:
        assert diagnostics == []
        return
    assert len(diagnostics) == 1
    (diagnostic,) = diagnostics
    assert diagnostic["code"] == code
    assert diagnostic["severity"] == "warning"
    assert "rule 'p/old'" in diagnostic["message"] and says in diagnostic["message"]
    assert (diagnostic["line"], diagnostic["column"]) == (6, 14)


def test_check_text_output_shows_the_warning_at_the_expires_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path)
    assert main(["check", str(tmp_path), "--now", "2026-03-01T00:00:00Z"]) == 0
    out = capsys.readouterr().out
    assert f"{tmp_path / 'p.yaml'}:6:14: warning: rule 'p/old' expired at" in out


def test_check_strict_fails_on_an_expired_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path)
    assert main(["check", str(tmp_path), "--strict", "--now", "2026-03-01T00:00:00Z"]) == 1


def test_check_without_now_uses_the_real_clock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, POLICY.replace("2026-02-01T00:00:00Z", "2001-01-01"))
    assert main(["check", str(tmp_path)]) == 0
    assert "expired at 2001-01-01T00:00:00Z" in capsys.readouterr().out


def test_a_bad_now_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path)
    assert main(["check", str(tmp_path), "--now", "soon"]) == 2
    assert "--now:" in capsys.readouterr().err


def test_check_paths_warns_about_expiry_only_when_given_now(tmp_path: Path) -> None:
    write(tmp_path, POLICY.replace("2026-02-01T00:00:00Z", "2001-01-01"))
    assert check_paths([tmp_path]).diagnostics == []
    assert [d.code for d in check_paths([tmp_path], now=1e9 + 1e8).diagnostics] == ["expired"]


# -- rollout and expiry against the other checks ---------------------------------------------


def test_an_unconditional_rollout_or_expiring_rule_makes_no_later_rule_unreachable(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        """
        policy: p
        rules:
          - id: some
            events: message.shouldCreate
            action: deny
            rollout: 10%
          - id: until
            events: message.shouldCreate
            action: deny
            expires: 2999-01-01
          - id: later
            events: message.shouldCreate
            action: deny
        """,
    )
    assert check_paths([tmp_path]).diagnostics == []


def test_a_bad_rollout_key_expression_is_reported_inside_it(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
        policy: p
        rules:
          - id: r
            events: message.shouldCreate
            action: deny
            rollout: 10%
            rollout_key: data.channelId +
        """,
    )
    diagnostics = check_paths([tmp_path]).diagnostics
    assert [d.severity for d in diagnostics] == ["error"]
    assert diagnostics[0].span is not None and diagnostics[0].span.line == 7


def test_a_rollout_key_that_reads_user_makes_the_rule_read_user(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
        policy: p
        rules:
          - id: r
            events: message.shouldCreate
            action: deny
            rollout: 10%
            rollout_key: user.country
        """,
    )
    report = check_paths([tmp_path])
    assert report.diagnostics == []
    assert report.rules[0].needs_user
