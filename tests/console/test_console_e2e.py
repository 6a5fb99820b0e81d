"""The real ``receiver console`` process on a loopback port: the production shape of the
console (its own uvicorn server, the token from a file, saving on), driven over HTTP."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from bundleserver import BundleServer
from consolecraft import POLICIES, TOKEN, payload, shipped_files, with_typo
from serverproc import clean_env, free_port, stop, wait_for

from receiver.console.headers import CONTENT_SECURITY_POLICY


@dataclass
class Console:
    proc: subprocess.Popen[bytes]
    base: str
    stderr: Path
    client: httpx.Client

    def up(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"the console exited: {self.stderr.read_text()}")
        try:
            return self.client.get(self.base + "/").status_code == 200
        except httpx.HTTPError:
            return False


def start(workdir: Path, *args: str, env: dict[str, str] | None = None) -> Console:
    for _ in range(3):
        port = free_port()
        stderr = workdir / f"console-{port}.err"
        with stderr.open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "receiver", "console", "--port", str(port), *args],
                stdout=subprocess.DEVNULL, stderr=err, env=clean_env(**(env or {})),
                cwd=workdir, start_new_session=True,
            )  # fmt: skip
        console = Console(proc, f"http://127.0.0.1:{port}", stderr, httpx.Client(timeout=15))
        try:
            wait_for("the console", console.up, 30)
            return console
        except AssertionError:
            stop(proc)
            console.client.close()
            if "address already in use" not in stderr.read_text().lower():
                raise
    raise AssertionError("no free port could be bound in three attempts")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("console") / "policies"
    shutil.copytree(POLICIES, copy)
    return copy


@pytest.fixture(scope="module")
def console(folder: Path) -> Iterator[Console]:
    token_file = folder.parent / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    running = start(
        folder.parent, "--policies", str(folder), "--console-token-file", str(token_file),
        "--allow-save",
    )  # fmt: skip
    try:
        yield running
    finally:
        stop(running.proc)
        running.client.close()


AUTH = {"authorization": f"Bearer {TOKEN}"}


def test_it_says_where_it_listens_and_that_the_token_is_required(console: Console) -> None:
    first = console.stderr.read_text().splitlines()[0]
    assert first.startswith(f"receiver console: {console.base}/ ")
    assert "token: required" in first and "saving: on" in first
    assert TOKEN not in console.stderr.read_text()


def test_the_page_needs_no_token_and_the_api_does(console: Console) -> None:
    page = console.client.get(console.base + "/")
    assert page.status_code == 200 and 'src="static/app.js"' in page.text
    assert console.client.get(console.base + "/api/workspace").status_code == 401
    assert console.client.get(f"{console.base}/api/workspace?token={TOKEN}").status_code == 401
    assert console.client.get(console.base + "/api/workspace", headers=AUTH).status_code == 200


def test_every_response_has_the_csp(console: Console) -> None:
    for method, path in [("GET", "/"), ("GET", "/api/workspace"), ("GET", "/missing"),
                         ("POST", "/api/check"), ("GET", "/static/none.css")]:  # fmt: skip
        answer = console.client.request(method, console.base + path)
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path


def test_check_gives_the_diagnostics_of_the_receiver_check_process(
    console: Console, tmp_path: Path
) -> None:
    broken = with_typo(shipped_files())
    copy = tmp_path / "policies"
    copy.mkdir()
    for f in broken:
        (copy / f["name"]).write_text(f["text"])
    command = [sys.executable, "-m", "receiver", "check", "--format", "json", str(copy)]
    done = subprocess.run(command, capture_output=True, timeout=60, check=False, env=clean_env())
    assert done.returncode == 1
    expected = json.loads(done.stdout)["diagnostics"]

    answer = console.client.post(console.base + "/api/check", json={"files": broken}, headers=AUTH)

    assert answer.status_code == 200
    got = answer.json()["diagnostics"]
    keys = ("code", "severity", "line", "column", "end_line", "end_column", "message")
    assert [(d["file"], *map(d.get, keys)) for d in got] == [
        (Path(d["file"]).name, *map(d.get, keys)) for d in expected
    ]


def test_decide_denies_the_too_long_message_with_its_rule(console: Console) -> None:
    workspace = console.client.get(console.base + "/api/workspace", headers=AUTH).json()
    body = {
        "files": workspace["files"],
        "payload": payload("message-create-too-long.json"),
        "users": workspace["users"],
        "now": workspace["now"],
    }
    answer = console.client.post(console.base + "/api/decide", json=body, headers=AUTH)
    assert answer.status_code == 200
    out = answer.json()
    assert out["answer"]["action"] == "deny"
    assert out["rule"] == "content-length/message-too-long"
    assert out["trace"]["rules"][-1]["outcome"] == "matched"


def test_save_refuses_a_broken_set_and_writes_one_that_checks(
    console: Console, folder: Path
) -> None:
    before = (folder / "links.yaml").read_text()
    refused = console.client.post(
        console.base + "/api/save", json={"files": with_typo(shipped_files())}, headers=AUTH
    )
    assert refused.status_code == 422
    assert (folder / "links.yaml").read_text() == before

    text = before.replace("< 7d", "< 9d")
    saved = console.client.post(
        console.base + "/api/save",
        json={"files": [{"name": "links.yaml", "text": text}]},
        headers=AUTH,
    )
    assert saved.status_code == 200, saved.text
    assert (folder / "links.yaml").read_text() == text


def test_a_body_over_the_limit_gets_413_and_the_console_keeps_answering(console: Console) -> None:
    body = b"{" + b" " * (3 * 1024 * 1024) + b"}"
    answer = console.client.post(console.base + "/api/check", content=body, headers=AUTH)
    assert answer.status_code == 413
    assert console.up()


def test_off_loopback_without_a_token_it_exits_2_before_binding(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "receiver", "console", "--host", "0.0.0.0",
               "--port", str(port), "--policies", str(POLICIES)]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(
        command, capture_output=True, timeout=60, check=False, env=clean_env(), cwd=tmp_path
    )
    assert done.returncode == 2
    assert b"reachable from other machines" in done.stderr
    assert time.monotonic() - started < 60


def test_on_loopback_without_a_token_the_api_is_open(tmp_path: Path) -> None:
    running = start(tmp_path, "--policies", str(POLICIES))
    try:
        answer = running.client.get(running.base + "/api/workspace")
        assert answer.status_code == 200
        assert answer.json()["can_save"] is False
        refused = running.client.post(running.base + "/api/save", json={"files": []})
        assert refused.status_code == 403
    finally:
        stop(running.proc)
        running.client.close()


def test_a_port_in_use_exits_1_saying_so(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [sys.executable, "-m", "receiver", "console", "--port", str(port),
                   "--policies", str(POLICIES)]  # fmt: skip
        done = subprocess.run(
            command, capture_output=True, timeout=60, check=False, env=clean_env(), cwd=tmp_path
        )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr.decode()


# -- a bundle URL: the policies a replica serves, read only ----------------------------------


def _receiver(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "receiver", *args], capture_output=True, text=True, cwd=cwd,
        env=clean_env(), timeout=60, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def signed_bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A signed bundle of the shipped policies on a loopback HTTP server, as a replica
    fetches it (its URL), and the public key to verify it with."""
    work = tmp_path_factory.mktemp("bundle")
    made = _receiver("bundle", "keygen", "--private-key", "signing.pem",
                     "--public-key", "public.pem", cwd=work)  # fmt: skip
    assert made.returncode == 0, made.stderr
    built = _receiver("bundle", "build", str(POLICIES), "-o", "policies.tar.gz",
                      "--signing-key", "signing.pem", cwd=work)  # fmt: skip
    assert built.returncode == 0, built.stderr
    server = BundleServer()
    server.put((work / "policies.tar.gz").read_bytes())
    server.start()
    try:
        yield server.url(), work / "public.pem"
    finally:
        server.stop()


def test_a_bundle_url_is_shown_read_only_and_decides(
    signed_bundle: tuple[str, Path], tmp_path: Path
) -> None:
    url, public_key = signed_bundle
    running = start(tmp_path, "--policies", url, "--bundle-public-key", str(public_key))
    try:
        assert f"policies: bundle {url};" in running.stderr.read_text()
        ws = running.client.get(running.base + "/api/workspace").json()
        assert [f["name"] for f in ws["files"]] == [f["name"] for f in shipped_files()]
        assert ws["can_save"] is False and ws["bundle"] == url
        assert "tests" not in ws["features"] and "save" not in ws["features"]
        body = {
            "files": ws["files"], "payload": payload("message-create-too-long.json"),
            "users": ws["users"], "now": ws["now"],
        }  # fmt: skip
        decided = running.client.post(running.base + "/api/decide", json=body)
        assert decided.status_code == 200
        assert decided.json()["rule"] == "content-length/message-too-long"
        saved = running.client.post(running.base + "/api/save", json={"files": ws["files"]})
        assert saved.status_code == 403
    finally:
        stop(running.proc)
        running.client.close()


def test_a_bundle_that_does_not_verify_or_saving_into_one_exits_2(
    signed_bundle: tuple[str, Path], tmp_path: Path
) -> None:
    url, _ = signed_bundle
    other = _receiver("bundle", "keygen", "--private-key", "other.pem",
                      "--public-key", "other-public.pem", cwd=tmp_path)  # fmt: skip
    assert other.returncode == 0, other.stderr
    wrong = _receiver("console", "--policies", url, "--bundle-public-key",
                      str(tmp_path / "other-public.pem"), cwd=tmp_path)  # fmt: skip
    assert wrong.returncode == 2
    assert "signature does not verify" in wrong.stderr
    saving = _receiver("console", "--policies", url, "--allow-save", cwd=tmp_path)
    assert saving.returncode == 2 and "a bundle is read only" in saving.stderr
    gone = _receiver("console", "--policies", f"http://127.0.0.1:{free_port()}/b.tar.gz",
                     cwd=tmp_path)  # fmt: skip
    assert gone.returncode == 2 and "cannot reach the bundle server" in gone.stderr
