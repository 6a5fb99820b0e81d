"""POST /api/check gives what `receiver check --format json` gives, for texts in memory."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from consolecraft import POLICIES, client, shipped_files, with_typo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from receiver.cli import main
from receiver.runtime.policyset import revision_of


def check_command(folder: Path, capsys: Any) -> list[dict[str, Any]]:
    main(["check", "--format", "json", str(folder)])
    out: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["diagnostics"]
    return out


def comparable(diagnostics: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    keys = ("code", "severity", "line", "column", "end_line", "end_column", "message")
    return [(Path(d["file"]).name, *(d[k] for k in keys)) for d in diagnostics]


def test_the_shipped_policies_check_clean_with_the_folder_revision() -> None:
    answer = client().post("/api/check", json={"files": shipped_files()})
    assert answer.status_code == 200
    files = [POLICIES / f["name"] for f in shipped_files()]
    assert answer.json() == {"diagnostics": [], "revision": revision_of(files)}


def test_a_typo_in_a_condition_gives_the_diagnostics_of_receiver_check(
    tmp_path: Path, capsys: Any
) -> None:
    broken = with_typo(shipped_files())
    folder = tmp_path / "policies"
    folder.mkdir()
    for f in broken:
        (folder / f["name"]).write_text(f["text"], encoding="utf-8")
    expected = check_command(folder, capsys)
    assert any(d["code"] == "unknown-name" for d in expected), expected

    answer = client().post("/api/check", json={"files": broken})

    assert answer.status_code == 200
    got = answer.json()["diagnostics"]
    assert comparable(got) == comparable(expected)
    assert {d["file"] for d in got} == {"links.yaml"}
    (typo,) = [d for d in got if d["code"] == "unknown-name"]
    line = broken[[f["name"] for f in broken].index("links.yaml")]["text"].splitlines()[
        typo["line"] - 1
    ]
    assert line[typo["column"] - 1 : typo["end_column"] - 1] == "has_shortner"


def test_broken_yaml_is_a_diagnostic_not_an_error() -> None:
    files = [{"name": "a.yaml", "text": "policy: a\nrules: [\n"}]
    answer = client().post("/api/check", json={"files": files})
    assert answer.status_code == 200
    (diagnostic,) = answer.json()["diagnostics"]
    assert diagnostic["code"] == "yaml"
    assert diagnostic["file"] == "a.yaml"
    assert diagnostic["line"] >= 1 and diagnostic["column"] >= 1


def test_a_file_over_the_policy_file_limit_is_too_large_at_its_start() -> None:
    files = [{"name": "big.yaml", "text": "#" * (1024 * 1024 + 1)}]
    answer = client().post("/api/check", json={"files": files})
    (diagnostic,) = answer.json()["diagnostics"]
    assert diagnostic["code"] == "too-large"
    assert (diagnostic["line"], diagnostic["column"]) == (1, 1)


def test_check_answers_the_shipped_policies_within_200_ms() -> None:
    console, files = client(), {"files": shipped_files()}
    console.post("/api/check", json=files)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        assert console.post("/api/check", json=files).status_code == 200
        times.append(time.perf_counter() - start)
    assert sorted(times)[2] < 0.2, times


def test_names_that_are_not_plain_policy_file_names_are_refused() -> None:
    console = client()
    for name in ("../x.yaml", "sub/x.yaml", "x.test.yaml", "x.users.yaml", ".x.yaml", "x.txt"):
        answer = console.post("/api/check", json={"files": [{"name": name, "text": ""}]})
        assert answer.status_code == 400, name
        assert "policy file name" in answer.json()["error"]


CONSOLE = client()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(
                    st.sampled_from(["files", "name", "text", "x"]), inner, max_size=4
                )
            ),
            max_leaves=12,
        ).map(lambda v: json.dumps(v).encode()),
        st.lists(
            st.fixed_dictionaries(
                {"name": st.sampled_from(["a.yaml", "b.yml", "c.yaml"]), "text": st.text()}
            ),
            max_size=3,
            unique_by=lambda f: f["name"],
        ).map(lambda fs: json.dumps({"files": fs}).encode()),
    )
)
def test_no_body_gets_a_500(body: bytes) -> None:
    answer = CONSOLE.post("/api/check", content=body)
    assert answer.status_code in (200, 400), (answer.status_code, answer.text)
    assert "content-security-policy" in answer.headers
    if answer.status_code == 400:
        assert answer.json()["error"]
