"""``receiver diff`` through ``main(argv)``: exit codes, sources, gates, output files, and
reports without user content."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from bundleserver import BundleServer

from receiver.cli import main
from receiver.observe.records import record_entry
from receiver.runtime.decision import Decision
from receiver.runtime.payload import Event
from receiver.runtime.rollout import bucket

DIFF = Path(__file__).resolve().parents[1] / "data" / "diff"
OLD, NEW, RECORDS = str(DIFF / "old"), str(DIFF / "new"), str(DIFF / "records.jsonl")

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def diff(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["diff", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_same_policies_flip_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = diff(capsys, OLD, OLD, RECORDS, "--format", "json", "--fail-on", "flips > 0")
    report = json.loads(out)
    assert (code, report["flips"]["total"], report["events"]) == (0, 0, 420)
    assert all(not any(row["delta"].values()) for row in report["rules"])
    assert report["gate"] == {"expression": "flips > 0", "held": False, "parts": []}
    assert err == ""


@pytest.mark.parametrize(
    ("gate", "code", "said"),
    [
        ("allow_to_deny > 0.5%", 1, "allow_to_deny > 0.5% (allow_to_deny = 43, 10.24% of 420"),
        ("allow_to_deny > 11%", 0, ""),
        ('rule("community/invite-links").decided >= 21', 1, ".decided = 21"),
        ("deny_to_allow > 2 and flips > 0", 0, ""),
    ],
)
def test_the_gate_sets_the_exit_code_and_says_which_part_held(
    capsys: pytest.CaptureFixture[str], gate: str, code: int, said: str
) -> None:
    got, _, err = diff(capsys, OLD, NEW, RECORDS, "--fail-on", gate, "--no-samples")
    assert got == code
    if said:
        assert "receiver: the --fail-on gate held: " in err and said in err
    else:
        assert err == ""


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--fail-on", "flips >"], "--fail-on: column 8: the expression ends early"),
        (["--fail-on", 'rule("community/invite-link").decided > 0'],
         "no rule 'community/invite-link' in OLD or NEW; did you mean 'community/invite-links'?"),
        (["--samples", "-1"], "--samples must be 0 or more"),
        (["--users", "/nonexistent/users.yaml"], "cannot read the users file"),
        (["--bundle-public-key", "/nonexistent/key.pem"], "/nonexistent/key.pem"),
    ],
)  # fmt: skip
def test_bad_usage_exits_2_and_says_what_to_do(
    capsys: pytest.CaptureFixture[str], args: list[str], fragment: str
) -> None:
    code, out, err = diff(capsys, OLD, NEW, RECORDS, *args)
    assert (code, out) == (2, "")
    assert fragment in err


def test_a_bad_record_exits_2_naming_its_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    lines = (DIFF / "records.jsonl").read_text(encoding="utf-8").splitlines()[:3]
    bad.write_text("\n".join([*lines, '{"record": 1, "event": 5}']) + "\n", encoding="utf-8")
    code, out, err = diff(capsys, OLD, NEW, str(bad))
    assert (code, out) == (2, "")
    assert f"{bad}:4: " in err


def test_an_old_side_that_was_not_running_is_pointed_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = diff(capsys, NEW, OLD, RECORDS, "--no-samples")
    assert code == 0
    assert "Warning: OLD answers 142 of 420 events otherwise than the service did" in out
    _, out, _ = diff(capsys, OLD, NEW, RECORDS, "--no-samples")
    assert "Warning" not in out


def test_decision_log_lines_diff_and_say_to_pass_users(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Lines of a decision log written with --log-content: no user was captured, so rules
    that read one see no such user, and the report says to pass --users."""
    log = tmp_path / "decisions.jsonl"
    lines = []
    for line in Path(RECORDS).read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        decision = record["decision"]
        lines.append(json.dumps({
            "decision_id": record["decision_id"], "time": record["time"],
            "platform": record["platform"], "event": record["event"],
            "actor": record["actor"]["userId"], "data": record["data"],
            **{k: decision[k] for k in ("action", "message", "rule", "modified_by", "shadow")},
        }))  # fmt: skip
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, _ = diff(capsys, OLD, NEW, str(log), "--format", "json", "--no-samples")
    report = json.loads(out)
    assert code == 0 and report["events"] == 420
    assert report["users_missing"]["new"] > 0
    _, text, _ = diff(capsys, OLD, NEW, str(log), "--no-samples")
    assert "pass --users FILE" in text


def test_counter_seeds_start_both_sides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seeds = tmp_path / "seeds.yaml"
    seeds.write_text("strikes: {user_20: 5}\n", encoding="utf-8")  # user_20: a repeat spammer
    _, out, _ = diff(capsys, OLD, NEW, RECORDS, "--format", "json", "--no-samples")
    plain = {row["rule"]: row for row in json.loads(out)["rules"]}
    code, out, _ = diff(capsys, OLD, NEW, RECORDS, "--format", "json", "--no-samples",
                        "--counters-seed", str(seeds))  # fmt: skip
    seeded = {row["rule"]: row for row in json.loads(out)["rules"]}
    assert code == 0
    repeat = "community/repeat-spammer"
    assert seeded[repeat]["old"]["decided"] > plain[repeat]["old"]["decided"]
    assert seeded[repeat]["new"]["decided"] > plain[repeat]["new"]["decided"]
    seeds.write_text("strike: {user_20: 5}\n", encoding="utf-8")
    code, _, err = diff(capsys, OLD, NEW, RECORDS, "--counters-seed", str(seeds))
    assert code == 2 and "strike" in err


def test_no_records_is_an_error_not_a_passing_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = diff(capsys, OLD, NEW, str(tmp_path), "--fail-on", "flips > 0")
    assert (code, out) == (2, "")
    assert f"receiver: no records in {tmp_path}; " in err


def test_broken_policies_give_their_diagnostics_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "p.yaml").write_text("policy: p\nrules:\n  - id: r\n    when: len(\n", "utf-8")
    code, out, err = diff(capsys, OLD, str(broken), RECORDS)
    assert (code, out) == (1, "")
    assert f"{broken}/p.yaml:" in err
    assert f"receiver: NEW ({broken}): the policies have errors; run 'receiver check'" in err


def test_the_report_goes_to_the_output_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "diff.html"
    code, out, err = diff(capsys, OLD, NEW, RECORDS, "--format", "html", "-o", str(target))
    assert (code, out) == (0, "")
    assert err == f"receiver: wrote {target}: 142 of 420 verdicts flip\n"
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("form", ["text", "json", "markdown", "html"])
def test_no_samples_leaves_every_user_text_out(
    capsys: pytest.CaptureFixture[str], form: str
) -> None:
    code, out, _ = diff(capsys, OLD, NEW, RECORDS, "--format", form, "--no-samples")
    assert code == 0
    records = [json.loads(line) for line in Path(RECORDS).read_text("utf-8").splitlines()]
    texts = {r["data"]["text"] for r in records}
    users = {r["actor"]["userId"] for r in records}
    leaked = [t for t in texts | users if t in out]
    assert leaked == []
    assert "no user content" in out


def test_samples_say_they_hold_user_content_at_the_top(capsys: pytest.CaptureFixture[str]) -> None:
    for form in ("text", "markdown", "html"):
        _, out, _ = diff(capsys, OLD, NEW, RECORDS, "--format", form)
        head = out.split("<h2>")[0] if form == "html" else "\n".join(out.splitlines()[:20])
        assert "hold user content" in head, form
        assert "user_20" in out


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@localhost", *args],
        cwd=repo, capture_output=True, check=True, timeout=60,
    )  # fmt: skip


@needs_git
def test_git_revisions_diff_as_their_directories_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    (repo / "policies").mkdir(parents=True)
    git(repo, "init", "-q")
    shutil.copy(DIFF / "old" / "community.yaml", repo / "policies")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "old")
    shutil.copy(DIFF / "new" / "community.yaml", repo / "policies")
    git(repo, "commit", "-q", "-am", "new")
    (repo / "policies" / "community.yaml").write_text("policy: [\n", encoding="utf-8")
    monkeypatch.chdir(repo)
    code, out, _ = diff(
        capsys, "git:HEAD~1:policies", "git:HEAD:policies", RECORDS, "--format", "json"
    )
    by_git = json.loads(out)
    _, out, _ = diff(capsys, OLD, NEW, RECORDS, "--format", "json")
    by_directory = json.loads(out)
    assert code == 0
    for key in ("flips", "rules", "samples"):
        assert by_git[key] == by_directory[key]
    assert by_git["old"]["kind"] == "git"
    assert by_git["old"]["revision"] == by_directory["old"]["revision"]
    # the working tree's broken file: its diagnostics name the directory
    code, _, err = diff(capsys, "git:HEAD:policies", "policies", RECORDS)
    assert code == 1 and "\npolicies/community.yaml:2:" in "\n" + err
    git(repo, "commit", "-q", "-am", "broken")
    code, _, err = diff(capsys, "git:HEAD~1:policies", "git:HEAD:policies", RECORDS)
    assert code == 1
    assert "git:HEAD:policies/community.yaml:2:" in err  # not the temporary directory
    code, _, err = diff(capsys, "git:nope:policies", NEW, RECORDS)
    assert code == 2 and "unknown revision 'nope'" in err


def signed_bundle(
    tmp_path: Path, policies: str, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, Path]:
    """A bundle of ``policies`` signed with a new key, and the key's public half."""
    private, public = tmp_path / "key.pem", tmp_path / "public.pem"
    bundle = tmp_path / "bundle.tar.gz"
    assert (
        main(["bundle", "keygen", "--private-key", str(private), "--public-key", str(public)]) == 0
    )
    assert (
        main(["bundle", "build", policies, "-o", str(bundle), "--signing-key", str(private)]) == 0
    )
    capsys.readouterr()
    return bundle, public


def test_a_signed_bundle_is_verified_with_the_public_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle, public = signed_bundle(tmp_path, NEW, capsys)
    code, out, _ = diff(capsys, OLD, str(bundle), RECORDS, "--format", "json", "--no-samples")
    report = json.loads(out)
    assert code == 0 and report["new"]["verified"] is False
    assert "signature NOT verified" in report["new"]["described"]
    code, out, _ = diff(capsys, OLD, str(bundle), RECORDS, "--format", "json",
                        "--bundle-public-key", str(public))  # fmt: skip
    verified = json.loads(out)
    assert verified["new"]["verified"] is True
    assert verified["flips"] == report["flips"]
    (tmp_path / "bad.tar.gz").write_bytes(bundle.read_bytes()[:100])
    code, _, err = diff(capsys, OLD, str(tmp_path / "bad.tar.gz"), RECORDS)
    assert code == 2 and "bad.tar.gz" in err


def test_a_bundle_at_a_url_is_fetched_and_verified(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The policies in force are often what the bundle server serves: diff reads that URL
    # as serve --policies URL would (https, or http to loopback only).
    bundle, public = signed_bundle(tmp_path, OLD, capsys)
    _, expected, _ = diff(capsys, OLD, NEW, RECORDS, "--format", "json", "--no-samples")
    server = BundleServer().start()
    try:
        server.put(bundle.read_bytes())
        code, out, err = diff(capsys, server.url(), NEW, RECORDS, "--format", "json",
                              "--no-samples", "--bundle-public-key", str(public))  # fmt: skip
        assert code == 0, err
        report = json.loads(out)
        assert report["old"]["kind"] == "bundle" and report["old"]["verified"] is True
        assert report["old"]["source"] == server.url()
        assert report["flips"] == json.loads(expected)["flips"]
        assert report["old"]["revision"] == json.loads(expected)["old"]["revision"]
        code, _, err = diff(capsys, server.url("/missing.tar.gz"), NEW, RECORDS)
        assert code == 2 and "answered HTTP 404" in err and "missing.tar.gz" in err
    finally:
        server.stop()
    code, _, err = diff(capsys, server.url(), NEW, RECORDS)  # the server is gone
    assert code == 2 and "cannot reach the bundle server" in err
    code, _, err = diff(capsys, "http://198.51.100.7/b.tar.gz", NEW, RECORDS)
    assert code == 2 and "loopback hosts only" in err


ROLLOUT = """\
policy: links
rules:
  - id: no-links
    events: message.shouldCreate
    when: text contains "http"
    action: deny
    rollout: {percent}
"""


def test_diff_compares_two_rollout_levels_of_a_rule(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for side, percent in (("old", "10%"), ("new", "50%")):
        (tmp_path / side).mkdir()
        (tmp_path / side / "links.yaml").write_text(ROLLOUT.format(percent=percent))
    users = [f"user-{n}" for n in range(400)]
    lines = [
        record_entry(
            decision_id=f"d{n}", now=1764950400.0 + n, platform="socialplus",
            event=Event("message.shouldCreate", {"text": "see http://x.example"},
                        {"userId": user, "_id": user}),
            user_answer=None, user_asked=False, decision=Decision("allow"), revision="r",
        )
        for n, user in enumerate(users)
    ]  # fmt: skip
    records = tmp_path / "records.jsonl"
    records.write_text("".join(json.dumps(line) + "\n" for line in lines))
    code, out, _ = diff(
        capsys, str(tmp_path / "old"), str(tmp_path / "new"), str(records), "--format", "json"
    )
    report = json.loads(out)
    # the users between the two levels flip, and only they: raising a rollout keeps every
    # key already inside it
    between = [u for u in users if 1000 <= bucket("links/no-links", u) < 5000]
    assert code == 0 and 120 < len(between) < 200
    assert report["flips"]["allow_to_deny"] == len(between)
    assert report["flips"]["deny_to_allow"] == 0
    [row] = [r for r in report["rules"] if r["rule"] == "links/no-links"]
    assert row["delta"]["enforced"] == len(between) == row["delta"]["decided"]
    assert row["delta"]["shadow"] == -len(between)
    assert row["written"]["old"]["rollout"] == 10 and row["written"]["new"]["rollout"] == 50
    # every format says how the rule is written on each side, with its enforced counts
    code, text, _ = diff(capsys, str(tmp_path / "old"), str(tmp_path / "new"), str(records))
    enforced = row["old"]["enforced"], row["new"]["enforced"]
    assert f"enforced {enforced[0]} -> {enforced[1]} (+{len(between)})" in text
    assert text.count("[rollout 10% -> 50%]") == 1
    code, markdown, _ = diff(
        capsys, str(tmp_path / "old"), str(tmp_path / "new"), str(records), "--format", "markdown"
    )
    assert "| `links/no-links`<br>*rollout 10% \u2192 50%* |" in markdown
    assert "| rule | decided | modified | shadow | errors | enforced |" in markdown
