"""``receiver replay``'s work: one output line per record, the summary, and a replay
spread over processes that writes exactly what one process writes."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import replay_corpus as corpus

from receiver.observe.records import Record, RecordError, read_records
from receiver.replay import run as run_module
from receiver.replay.run import Inputs, PoliciesChanged, reading, run_replay
from receiver.replay.summary import Summary
from receiver.runtime.payload import Event
from receiver.runtime.policyset import PolicySet, load_policies

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"


@pytest.fixture(scope="module")
def shipped() -> PolicySet:
    return load_policies([POLICIES], eager=False)


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> list[Record]:
    path = corpus.write(tmp_path_factory.mktemp("corpus") / "r.jsonl", seed=7, count=2500)
    return read_records([path])


def replayed(policies: PolicySet, records: list[Record], jobs: int) -> tuple[bytes, Summary]:
    out = io.BytesIO()
    inputs = Inputs(POLICIES, revision=policies.revision, seed_time=records[0].time)
    summary = run_replay(policies, records, inputs, out, jobs=jobs)
    return out.getvalue(), summary


def test_two_jobs_write_exactly_what_one_writes(shipped: PolicySet, records: list[Record]) -> None:
    one, one_summary = replayed(shipped, records, 1)
    two, two_summary = replayed(shipped, records, 2)
    assert two == one
    assert two_summary.jobs == 2
    assert two_summary.groups > 6
    assert two_summary.largest_group < len(records) / 3
    assert "groups of events sharing counter keys" in two_summary.render()
    split = {"jobs": 1, "groups": 0, "largest_group": 0}
    assert two_summary.to_json() | split == one_summary.to_json()
    lines = [json.loads(line) for line in one.splitlines()]
    assert [line["decision_id"] for line in lines] == [r.decision_id for r in records]
    # the corpus makes counters matter: floods, cross-channel pastes, link bursts, and
    # strikes (censored profanity) that later refuse a repeat offender
    rules = {line["decision"]["rule"] for line in lines}
    assert {"rate-limits/message-flood", "rate-limits/same-text-many-channels"} <= rules
    assert {"rate-limits/link-burst", "rate-limits/repeat-offender"} <= rules


def test_splitting_without_the_counter_groups_would_change_decisions(
    shipped: PolicySet, records: list[Record], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test above can fail: grouping records naively (in time-ordered chunks, as if
    no counter linked them) gives other decisions on this corpus."""
    one, _ = replayed(shipped, records, 1)
    size = len(records) // 8 + 1
    naive = [list(range(i, min(i + size, len(records)))) for i in range(0, len(records), size)]
    monkeypatch.setattr(run_module, "partition", lambda _p, _r: naive)
    assert replayed(shipped, records, 2)[0] != one


def test_an_output_line_says_what_was_recorded_and_whether_it_changed(
    shipped: PolicySet,
) -> None:
    recorded = {"action": "allow", "message": None, "rule": None, "modified_by": []}
    event = Event(
        "message.shouldCreate",
        {"text": "free crypto for everyone", "channelId": "ch_1"},
        {"userId": "u1", "_id": "u1"},
    )
    records = [
        Record("d1", 1000.0, "socialplus", event, "none", None, recorded, "rev1"),
        Record("d2", 1001.0, "socialplus", event, "none", None,
               recorded | {"degraded": True, "degraded_reason": "deadline"}, "rev1"),
    ]  # fmt: skip
    out, summary = replayed(shipped, records, 1)
    first, second = (json.loads(line) for line in out.splitlines())
    assert first == {
        "decision_id": "d1",
        "time": 1000.0,
        "platform": "socialplus",
        "event": "message.shouldCreate",
        "actor": "u1",
        "decision": first["decision"],
        "recorded": {"action": "allow", "rule": None, "message": None},
        "same": False,
        "change": "allow_to_deny",
    }
    assert first["decision"]["rule"] == "spam/spam-phrases"
    assert second["same"] is None
    assert second["change"] is None
    assert second["recorded"]["degraded_reason"] == "deadline"
    assert (summary.events, summary.compared, summary.degraded) == (2, 1, 1)
    assert summary.changes == {"allow_to_deny": 1}
    assert summary.revisions == {"rev1": 2}


def test_the_summary_counts_adds_up_and_renders(shipped: PolicySet, records: list[Record]) -> None:
    _, summary = replayed(shipped, records, 1)
    data: dict[str, Any] = summary.to_json()
    assert data["events"] == len(records) == sum(data["by_action"].values())
    assert data["compared"] + data["degraded"] == data["events"]
    assert data["same"] + data["differing"] == data["compared"]
    assert sum(data["changes"].values()) == data["differing"]
    assert data["recorded_revisions"] == {"rev-old": len(records)}
    assert data["replayed_revision"] == shipped.revision
    assert data["first"].startswith("2025-12-05T16:")
    text = summary.render()
    assert f"replayed {len(records):,} events" in text
    assert "recorded under: rev-old" in text
    assert "allow -> deny" in text
    assert "not compared" in text


def test_a_merged_summary_is_the_sum_of_its_parts() -> None:
    a, b = Summary(), Summary()
    a.add(10.0, "socialplus", "r1", "allow", compared=True, kind=None)
    b.add(5.0, "braincloud", "r2", "deny", compared=True, kind="allow_to_deny")
    b.add(20.0, "braincloud", "r2", "deny", compared=False, kind=None)
    b.users_missing = 3
    a.merge(b)
    assert (a.events, a.compared, a.degraded, a.users_missing) == (3, 2, 1, 3)
    assert (a.first, a.last) == (5.0, 20.0)
    assert a.changes == {"allow_to_deny": 1}
    assert a.by_platform == {"socialplus": 1, "braincloud": 2}
    assert "pass --users FILE" in a.render()


def test_the_summary_of_one_event_speaks_of_one_event() -> None:
    # It said "replayed 1 events" and "1 event read 'user' but their records hold no user".
    one = Summary()
    one.add(10.0, "socialplus", "r1", "allow", compared=True, kind=None)
    one.users_missing = 1
    text = one.render()
    assert text.startswith("replayed 1 event in ")
    assert "1 event read 'user' but its record holds no user" in text


def test_a_replay_of_sampled_records_says_what_the_sample_means(
    shipped: PolicySet, records: list[Record]
) -> None:
    # A replay of a --record-sample 10% recording of unchanged policies showed 24 of 150
    # answers differing (a counter keyed by text saw a tenth of the traffic), with nothing
    # to say why, under "recorded under" the very revision replayed.
    sampled = [r._replace(sample=0.1) for r in records[:10]] + records[10:]
    _, summary = replayed(shipped, sampled, 1)
    assert (summary.sampled, summary.sample, summary.to_json()["sampled"]) == (10, 0.1, 10)
    assert "10 of the records were recorded with --record-sample 0.1" in summary.render()
    _, plain = replayed(shipped, records, 1)
    assert plain.sampled == 0 and "--record-sample" not in plain.render()


def test_a_replay_says_when_a_writer_s_first_files_are_gone(
    shipped: PolicySet, records: list[Record]
) -> None:
    moved = [r._replace(source=f"recs/vm.w1.000003.jsonl:{n}") for n, r in enumerate(records)]
    _, summary = replayed(shipped, moved, 1)
    assert summary.rotated_out == [("vm.w1", "vm.w1.000003.jsonl", records[0].time)]
    text = summary.render()
    assert "Some record files are gone (rotated out or deleted: vm.w1 begins with " in text
    assert summary.to_json()["rotated_out"][0]["writer"] == "vm.w1"
    _, whole = replayed(shipped, records, 1)
    assert whole.rotated_out == [] and "rotated out" not in whole.render()


def test_workers_refuse_policies_that_changed_since_the_parent_loaded_them(
    shipped: PolicySet, records: list[Record]
) -> None:
    inputs = Inputs(POLICIES, revision="0123456789ab", seed_time=records[0].time)
    with pytest.raises(PoliciesChanged, match="run the replay again"):
        run_replay(shipped, records[:50], inputs, io.BytesIO(), jobs=2)


def test_records_of_the_same_policies_replay_with_no_difference(
    shipped: PolicySet, tmp_path: Path
) -> None:
    """Record lines whose decisions are the replayed ones (as the service would have
    recorded them with these policies) compare the same, through JSON and back."""
    path = corpus.write(tmp_path / "r.jsonl", seed=5, count=1200)
    first, _ = replayed(shipped, read_records([path]), 1)
    entries = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    for entry, line in zip(entries, first.splitlines(), strict=True):
        if not entry["decision"].get("degraded"):  # a fail-safe answer stays one
            entry["decision"] = json.loads(line)["decision"]
    path.write_text("".join(json.dumps(e) + "\n" for e in entries), encoding="utf-8")
    _, summary = replayed(shipped, read_records([path]), 2)
    degraded = sum(1 for e in entries if e["decision"].get("degraded"))
    assert summary.events == 1200 and 0 < degraded == summary.degraded
    assert summary.compared == 1200 - degraded
    assert summary.differing == 0
    assert any(e["decision"].get("data") for e in entries)  # modified data compared too


def test_a_record_of_a_platform_receiver_does_not_answer_is_refused_where_it_is(
    tmp_path: Path,
) -> None:
    # h13 replayed a record of platform 'discord' without a word.
    entries = corpus.entries(1, 3)
    entries[1]["platform"] = "discord"
    lines = [json.dumps(entry) for entry in entries]
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with (
        pytest.raises(RecordError, match=rf"{path}:2: platform 'discord' is not one receiver"),
        reading([path]),
    ):
        pass
