"""``receiver register`` (receiver/client/register.py) against a local fake of the social.plus
config API.

The fake is a real HTTP server on 127.0.0.1 (``http.server`` in a thread) that records
every request and behaves as the official spec says (docs/protocols.md A.1): ``PUT
/api/v3/network-settings/prehook`` answers ``{enabled, callbackUrl, defaultAction}``
plus ``secretKey`` on the first enable or with ``regenerateKey``; ``GET`` answers the
setting; a wrong admin token gets 403 with code 400301.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from receiver import cli
from receiver.client.register import MAX_CALLBACK_LENGTH, PATH, TOKEN_ENV

TOKEN = "admin-token-very-secret-42"
CALLBACK = "https://hooks.example.com/hooks/socialplus"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeSocialPlus:
    """The prehook setting of one network, behind the admin API."""

    base: str = ""
    requests: list[Recorded] = field(default_factory=list)
    setting: dict[str, Any] = field(
        default_factory=lambda: {"enabled": False, "callbackUrl": "", "defaultAction": "allow"}
    )
    keys_issued: list[str] = field(default_factory=list)
    feature_available: bool = True
    answer_html: bool = False

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Any:
        self.requests.append(Recorded(method, path, headers, body))
        if self.answer_html:
            return 502, "<html>bad gateway</html>"
        if path != PATH:
            return 404, {"status": "error", "code": 404000, "message": "Not found"}
        if headers.get("authorization") != f"Bearer {TOKEN}":
            return 403, {
                "status": "error",
                "code": 400301,
                "message": "Only administrator can do this",
            }
        if not self.feature_available:
            return 400, {
                "status": "error",
                "code": 400000,
                "message": "This feature is not available on your network",
            }
        if method == "GET":
            return 200, dict(self.setting)
        update = json.loads(body)
        first_enable = update.get("enabled") and not self.setting["enabled"]
        for name in ("enabled", "callbackUrl", "defaultAction"):
            if name in update:
                self.setting[name] = update[name]
        answer = dict(self.setting)
        if first_enable or update.get("regenerateKey"):
            key = f"issued-secret-key-{len(self.keys_issued) + 1:04d}"
            self.keys_issued.append(key)
            answer["secretKey"] = key
        return 200, answer


@pytest.fixture
def api() -> Iterator[FakeSocialPlus]:
    fake = FakeSocialPlus()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, answer = fake.handle(self.command, self.path, headers, body)
            data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
            self.send_response(status)
            kind = "text/html" if isinstance(answer, str) else "application/json"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)


def register(*args: str) -> int:
    return cli.main(["register", *args])


def outputs(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    captured = capsys.readouterr()
    assert TOKEN not in captured.out
    assert TOKEN not in captured.err
    return captured.out, captured.err


# -- dry run and checks -------------------------------------------------------------------------


def test_dry_run_prints_the_request_with_the_token_redacted(
    api: FakeSocialPlus, capsys: pytest.CaptureFixture[str]
) -> None:
    code = register(
        "--callback-url", CALLBACK, "--api-base", api.base,
        "--default-action", "deny", "--regenerate-key", "--dry-run",
    )  # fmt: skip
    assert code == 0
    out, err = outputs(capsys)
    assert err == ""
    head, _, body = out.partition("\n\n")
    assert head.splitlines() == [
        f"PUT {api.base}{PATH}",
        "Authorization: Bearer <admin token>",
        "Content-Type: application/json",
    ]
    assert json.loads(body) == {
        "enabled": True,
        "callbackUrl": CALLBACK,
        "defaultAction": "deny",
        "regenerateKey": True,
    }
    assert api.requests == []


@pytest.mark.parametrize(
    ("region", "base"),
    [
        (None, "https://apix.us.amity.co"),
        ("us", "https://apix.us.amity.co"),
        ("eu", "https://apix.eu.amity.co"),
        ("sg", "https://apix.sg.amity.co"),
    ],
)
def test_dry_run_targets_the_regional_api(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    region: str | None,
    base: str,
) -> None:
    monkeypatch.delenv(TOKEN_ENV)  # a dry run needs no token
    args = ["--callback-url", CALLBACK, "--dry-run"] + (["--region", region] if region else [])
    assert register(*args) == 0
    out, _ = outputs(capsys)
    assert out.splitlines()[0] == f"PUT {base}/api/v3/network-settings/prehook"
    body = json.loads(out.partition("\n\n")[2])
    assert body == {"enabled": True, "callbackUrl": CALLBACK, "defaultAction": "allow"}


def test_dry_run_of_show_is_a_get_without_a_body(
    api: FakeSocialPlus, capsys: pytest.CaptureFixture[str]
) -> None:
    assert register("--show", "--api-base", api.base, "--dry-run") == 0
    out, _ = outputs(capsys)
    assert out.splitlines() == [f"GET {api.base}{PATH}", "Authorization: Bearer <admin token>"]
    assert api.requests == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.com/hooks/socialplus", "must use https (got 'http')"),
        ("hooks.example.com/hooks/socialplus", "must use https (got 'no scheme')"),
        ("https:///hooks/socialplus", "has no host name"),
        ("https://h.example.com/" + "a" * MAX_CALLBACK_LENGTH, "social.plus accepts at most 900"),
    ],
)
@pytest.mark.parametrize("dry_run", [True, False])
def test_a_bad_callback_url_exits_2_and_sends_nothing(
    api: FakeSocialPlus,
    capsys: pytest.CaptureFixture[str],
    url: str,
    message: str,
    dry_run: bool,
) -> None:
    args = ["--callback-url", url, "--api-base", api.base] + (["--dry-run"] if dry_run else [])
    assert register(*args) == 2
    out, err = outputs(capsys)
    assert out == ""
    assert err.startswith("receiver register: ")
    assert message in err
    assert api.requests == []


def test_the_callback_url_may_have_exactly_900_characters(
    api: FakeSocialPlus, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = "https://hooks.example.com/"
    url = prefix + "p" * (MAX_CALLBACK_LENGTH - len(prefix))
    assert len(url) == 900
    assert register("--callback-url", url, "--api-base", api.base) == 0
    assert api.requests[0].json()["callbackUrl"] == url
    assert register("--callback-url", url + "p", "--api-base", api.base) == 2
    assert "has 901 characters" in outputs(capsys)[1]
    assert len(api.requests) == 1


def test_a_callback_url_is_required_unless_showing(
    api: FakeSocialPlus, capsys: pytest.CaptureFixture[str]
) -> None:
    assert register("--api-base", api.base) == 2
    assert "--callback-url is required" in outputs(capsys)[1]
    assert api.requests == []


# -- sending ------------------------------------------------------------------------------------


def test_put_sends_the_setting_with_the_bearer_token(
    api: FakeSocialPlus, capsys: pytest.CaptureFixture[str]
) -> None:
    assert register("--callback-url", CALLBACK, "--api-base", api.base) == 0
    [sent] = api.requests
    assert sent.method == "PUT"
    assert sent.path == "/api/v3/network-settings/prehook"
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["content-type"] == "application/json"
    assert sent.json() == {"enabled": True, "callbackUrl": CALLBACK, "defaultAction": "allow"}
    out, err = outputs(capsys)
    assert err == ""
    setting = json.loads(out.partition("\n\n")[0])
    assert setting == {"enabled": True, "callbackUrl": CALLBACK, "defaultAction": "allow"}


def test_the_secret_key_is_shown_once_with_advice(
    api: FakeSocialPlus, capsys: pytest.CaptureFixture[str]
) -> None:
    assert register("--callback-url", CALLBACK, "--api-base", api.base) == 0
    out, _ = outputs(capsys)
    [key] = api.keys_issued
    assert out.count(key) == 1
    assert "shown ONCE" in out
    assert "RECEIVER_SOCIALPLUS_SECRET=<secretKey>" in out
    assert "--secret-file" in out
    assert "new,old" in out  # how to rotate without downtime
    assert '"secretKey"' not in out  # not repeated in the setting JSON


def test_no_secret_key_is_shown_when_none_is_issued(
    api: FakeSocialPlus, capsys: pytest.CaptureFixture[str]
) -> None:
    assert register("--callback-url", CALLBACK, "--api-base", api.base) == 0
    outputs(capsys)
    changed = "https://hooks.example.com/v2/hooks/socialplus"
    assert (
        register("--callback-url", changed, "--api-base", api.base, "--default-action", "deny") == 0
    )
    out, _ = outputs(capsys)
    assert "secretKey" not in out
    assert json.loads(out) == {"enabled": True, "callbackUrl": changed, "defaultAction": "deny"}
    assert "regenerateKey" not in api.requests[-1].json()


def test_regenerate_key_asks_for_and_shows_a_new_key(
    api: FakeSocialPlus, capsys: pytest.CaptureFixture[str]
) -> None:
    api.setting["enabled"] = True
    assert register("--callback-url", CALLBACK, "--api-base", api.base, "--regenerate-key") == 0
    assert api.requests[-1].json()["regenerateKey"] is True
    out, _ = outputs(capsys)
    [key] = api.keys_issued
    assert out.count(key) == 1


def test_show_gets_the_current_setting(
    api: FakeSocialPlus, capsys: pytest.CaptureFixture[str]
) -> None:
    api.setting = {"enabled": True, "callbackUrl": CALLBACK, "defaultAction": "deny"}
    assert register("--show", "--api-base", api.base) == 0
    [sent] = api.requests
    assert sent.method == "GET"
    assert sent.path == PATH
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.body == b""
    out, _ = outputs(capsys)
    assert json.loads(out) == api.setting


# -- errors -------------------------------------------------------------------------------------


def test_a_wrong_token_reports_the_403(
    api: FakeSocialPlus, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "not-an-admin-token")
    assert register("--callback-url", CALLBACK, "--api-base", api.base) == 1
    out, err = outputs(capsys)
    assert out == ""
    assert err == (
        "receiver register: social.plus answered 403: Only administrator can do this "
        "(the token is not an administrator's)\n"
    )
    assert len(api.requests) == 1
    assert api.setting["enabled"] is False


@pytest.mark.parametrize("value", [None, ""])
def test_a_missing_token_says_which_variable_to_set(
    api: FakeSocialPlus,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    value: str | None,
) -> None:
    if value is None:
        monkeypatch.delenv(TOKEN_ENV)
    else:
        monkeypatch.setenv(TOKEN_ENV, value)
    assert register("--callback-url", CALLBACK, "--api-base", api.base) == 1
    _, err = outputs(capsys)
    assert err.startswith("receiver register: set RECEIVER_SOCIALPLUS_ADMIN_TOKEN")
    assert "admin token" in err
    assert api.requests == []


def test_feature_not_available_gets_a_hint(
    api: FakeSocialPlus, capsys: pytest.CaptureFixture[str]
) -> None:
    api.feature_available = False
    assert register("--show", "--api-base", api.base) == 1
    _, err = outputs(capsys)
    assert "answered 400: This feature is not available on your network" in err
    assert "Max plan" in err


def test_an_answer_that_is_not_json_is_reported(
    api: FakeSocialPlus, capsys: pytest.CaptureFixture[str]
) -> None:
    api.answer_html = True
    assert register("--show", "--api-base", api.base) == 1
    _, err = outputs(capsys)
    assert "social.plus answered 502: <html>bad gateway</html>" in err


def test_an_unreachable_api_is_reported(
    api: FakeSocialPlus, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert register("--show", "--api-base", f"http://127.0.0.1:{port}") == 1
    _, err = outputs(capsys)
    assert err.startswith(f"receiver register: cannot reach http://127.0.0.1:{port}{PATH}")
