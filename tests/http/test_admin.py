"""Who may read /metrics and the policy names in /readyz (receiver/http/admin.py,
receiver/http/app.py).

The Bearer header parsing, the three modes (a token; open on loopback or with
``--public-metrics``; closed on a public address), tokens compared as bytes (a
non-ASCII token matches), rotation, and what each endpoint answers in each mode
through the real app (Starlette's TestClient, lifespan included).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from receiver.adapters.signatures import Secrets
from receiver.http.admin import AdminAccess, bearer_token
from receiver.http.app import create_app
from receiver.http.config import ServiceConfig
from receiver.observe.decisionlog import DecisionLog

TOKEN = "metrics-tøken-ünïcode-42"  # non-ASCII on purpose: compared as UTF-8 bytes
OLD_TOKEN = "metrics-old-token-17"
POLICY = """\
policy: secret-policy-name
rules:
  - id: r
    events: message.shouldCreate
    when: text contains "x"
    action: deny
"""


def raw(**headers: str) -> list[tuple[bytes, bytes]]:
    return [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("value", "token"),
    [
        ("Bearer abc", b"abc"),
        ("bearer   abc  ", b"abc"),
        ("BEARER abc", b"abc"),
        ("Basic YWJjOmRlZg==", None),
        ("abc", None),
        ("Bearer", b""),
    ],
)
def test_bearer_token_is_read_from_the_authorization_header(
    value: str, token: bytes | None
) -> None:
    assert bearer_token(raw(authorization=value)) == token
    assert bearer_token(raw(Authorization=value)) == token


def test_no_authorization_header_is_no_token() -> None:
    assert bearer_token(raw(x_other="Bearer abc")) is None
    assert bearer_token([]) is None


def test_the_mode_follows_the_token_the_address_and_public_metrics() -> None:
    tokens = Secrets.parse(TOKEN)
    assert AdminAccess.of(ServiceConfig(metrics_tokens=tokens)).mode == "token"
    assert AdminAccess.of(ServiceConfig(host="0.0.0.0", metrics_tokens=tokens)).mode == "token"
    assert AdminAccess.of(ServiceConfig(host="127.0.0.1")).mode == "open"
    assert AdminAccess.of(ServiceConfig(host="::1")).mode == "open"
    assert AdminAccess.of(ServiceConfig(host="0.0.0.0")).mode == "closed"
    assert AdminAccess.of(ServiceConfig(host="0.0.0.0", public_metrics=True)).mode == "open"


def test_a_token_is_compared_as_bytes_and_every_rotated_token_passes() -> None:
    access = AdminAccess.of(ServiceConfig(metrics_tokens=Secrets.parse(f"{TOKEN},{OLD_TOKEN}")))
    utf8 = [(b"authorization", b"Bearer " + TOKEN.encode("utf-8"))]
    assert access.allows(utf8)
    assert access.allows(raw(authorization=f"Bearer {OLD_TOKEN}"))
    latin1 = [(b"authorization", b"Bearer " + TOKEN.encode("latin-1", "replace"))]
    assert not access.allows(latin1)
    for wrong in ("", TOKEN[:-1], TOKEN + "x", "Bearer"):
        assert not access.allows([(b"authorization", f"Bearer {wrong}".encode())])
    assert not access.allows([(b"authorization", b"Basic " + TOKEN.encode())])
    assert not access.allows([])


def test_describe_never_shows_the_token() -> None:
    access = AdminAccess.of(ServiceConfig(metrics_tokens=Secrets.parse(f"{TOKEN},{OLD_TOKEN}")))
    text = access.describe("0.0.0.0")
    assert "2 tokens accepted" in text
    assert TOKEN not in text and OLD_TOKEN not in text
    assert "403" in AdminAccess.of(ServiceConfig(host="0.0.0.0")).describe("0.0.0.0")
    public = AdminAccess.of(ServiceConfig(host="0.0.0.0", public_metrics=True))
    assert "ANYONE" in public.describe("0.0.0.0")


# -- through the app ----------------------------------------------------------------------------


def client_for(tmp_path: Path, **settings: object) -> Iterator[TestClient]:
    policies = tmp_path / "policies"
    policies.mkdir(exist_ok=True)
    (policies / "p.yaml").write_text(POLICY)
    config = ServiceConfig(policies=policies, secrets=Secrets.parse("s"), **settings)  # type: ignore[arg-type]
    log = DecisionLog(open(tmp_path / "decisions.jsonl", "ab", buffering=0), False, owned=True)  # noqa: SIM115
    with TestClient(create_app(config, log)) as client:
        yield client


@pytest.fixture
def with_token(tmp_path: Path) -> Iterator[TestClient]:
    yield from client_for(tmp_path, host="0.0.0.0", metrics_tokens=Secrets.parse(TOKEN))


@pytest.fixture
def closed(tmp_path: Path) -> Iterator[TestClient]:
    yield from client_for(tmp_path, host="0.0.0.0")


@pytest.fixture
def public(tmp_path: Path) -> Iterator[TestClient]:
    yield from client_for(tmp_path, host="0.0.0.0", public_metrics=True)


@pytest.fixture
def loopback(tmp_path: Path) -> Iterator[TestClient]:
    yield from client_for(tmp_path, host="127.0.0.1")


def test_with_a_token_metrics_need_it(with_token: TestClient) -> None:
    refused = with_token.get("/metrics")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Bearer realm="metrics"'
    assert refused.json() == {"error": "metrics need 'Authorization: Bearer <metrics token>'"}
    assert "secret-policy-name" not in refused.text
    assert with_token.get("/metrics", headers=bearer("wrong")).status_code == 401
    utf8 = {"authorization": b"Bearer " + TOKEN.encode()}
    shown = with_token.get("/metrics", headers=utf8)  # type: ignore[arg-type]
    assert shown.status_code == 200
    assert "receiver_policy_revision{" in shown.text


def test_with_a_token_readyz_names_the_policies_only_with_it(with_token: TestClient) -> None:
    anonymous = with_token.get("/readyz")
    assert anonymous.status_code == 200
    assert set(anonymous.json()) == {"status", "revision"}
    assert anonymous.json()["status"] == "ready"
    utf8 = {"authorization": b"Bearer " + TOKEN.encode()}
    full = with_token.get("/readyz", headers=utf8)  # type: ignore[arg-type]
    assert full.json()["policies"] == ["secret-policy-name"]
    assert full.json()["revision"] == anonymous.json()["revision"]
    assert with_token.head("/readyz").status_code == 200


def test_without_a_token_on_a_public_address_metrics_are_refused(closed: TestClient) -> None:
    refused = closed.get("/metrics")
    assert refused.status_code == 403
    assert refused.json() == {
        "error": "metrics are not served on a public address without a metrics token"
    }
    assert closed.get("/metrics", headers=bearer("anything")).status_code == 403
    ready = closed.get("/readyz").json()
    assert set(ready) == {"status", "revision"}


def test_public_metrics_and_loopback_are_open(public: TestClient, loopback: TestClient) -> None:
    for client in (public, loopback):
        assert client.get("/metrics").status_code == 200
        assert client.get("/readyz").json()["policies"] == ["secret-policy-name"]
