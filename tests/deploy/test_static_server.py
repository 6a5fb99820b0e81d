"""``deploy/local/static_server.py``, the local cluster's bundle server and user directory.

Path resolution is checked as a property over any request target (it reads outside
input: nothing outside the served folder is ever named, and nothing raises), and the
real server, in a thread on a loopback port, answers files with a strong ETag, 304 to a
matching ``If-None-Match``, 404 for anything else, and sees a replaced file at once.
"""

from __future__ import annotations

import hashlib
import http.client
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy" / "local"))
import static_server  # deploy/local is not a package: its path is put first above


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("static")
    served = base / "www"
    (served / "users").mkdir(parents=True)
    (served / "users" / "u1.json").write_text('{"userId": "u1"}')
    (served / "policies.tar.gz").write_bytes(b"\x1f\x8b bundle")
    (base / "secret.txt").write_text("outside the served folder")
    (served / "link").symlink_to(base / "secret.txt")
    return served.resolve()


@given(st.text(max_size=80))
def test_a_request_target_never_names_a_file_outside_the_root(root: Path, target: str) -> None:
    found = static_server.resolve(root, target)
    assert found is None or (found.is_relative_to(root) and found.is_file())


@pytest.mark.parametrize(
    "target",
    ["/../secret.txt", "/%2e%2e/secret.txt", "/users/..%2f..%2fsecret.txt", "/link",
     "/users", "/users/nobody.json", "/users/u1.json%00", "/" + "a" * 5000],
)  # fmt: skip
def test_targets_that_name_no_file_inside_the_root_resolve_to_nothing(
    root: Path, target: str
) -> None:
    assert static_server.resolve(root, target) is None


def test_a_file_is_found_by_its_path_with_or_without_a_query(root: Path) -> None:
    assert static_server.resolve(root, "/users/u1.json?x=1") == root / "users" / "u1.json"
    assert static_server.resolve(root, "/users/u%31.json") == root / "users" / "u1.json"


@pytest.fixture(scope="module")
def port(root: Path) -> Iterator[int]:
    server = static_server.make_server(root)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def get(port: int, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_a_file_is_served_with_its_type_and_a_strong_etag(port: int, root: Path) -> None:
    status, headers, body = get(port, "/users/u1.json")
    assert (status, body) == (200, b'{"userId": "u1"}')
    assert headers["content-type"] == "application/json"
    assert headers["etag"] == '"' + hashlib.sha256(body).hexdigest() + '"'


def test_a_matching_if_none_match_gets_304_without_a_body(port: int) -> None:
    _, headers, _ = get(port, "/policies.tar.gz")
    status, _, body = get(port, "/policies.tar.gz", **{"If-None-Match": f'"x", {headers["etag"]}'})
    assert (status, body) == (304, b"")


def test_a_replaced_file_is_served_new_at_once(port: int, root: Path) -> None:
    _, before, _ = get(port, "/users/u1.json")
    temporary = root / "users" / "u1.json.tmp"
    temporary.write_text('{"userId": "u1", "role": "muted"}')
    temporary.replace(root / "users" / "u1.json")
    status, after, body = get(port, "/users/u1.json", **{"If-None-Match": before["etag"]})
    assert (status, body) == (200, b'{"userId": "u1", "role": "muted"}')
    assert after["etag"] != before["etag"]


@pytest.mark.parametrize("path", ["/users/nobody.json", "/../secret.txt", "/link", "/users"])
def test_anything_else_is_404(port: int, path: str) -> None:
    assert get(port, path)[0] == 404


def test_answers_go_out_without_waiting_for_a_delayed_ack() -> None:
    """The head and the body are two writes: with Nagle's algorithm on, every answer on a
    kept-alive connection waited 40 ms for the client's delayed ACK (the cluster's user
    lookups took 46 ms at p50 instead of 8). The handler sets TCP_NODELAY."""
    assert static_server._Handler.disable_nagle_algorithm is True
