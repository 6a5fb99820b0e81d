"""No plaintext content in Redis, in process: receiver/counters/keyhash.py (the keyed hash),
which counter expressions count as derived from content (receiver/compile/counters.py,
``names_an_identifier``), how that decision travels in each ``Op`` to the Redis backend's
key names and members, and the Redis key secret's settings (``--redis-key-secret``,
``--redis-key-secret-file``, ``$RECEIVER_REDIS_KEY_SECRET``, ``counters.key_secret_file``).
The real service with every key read back from Redis is test_no_content_in_redis.py."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import pickle
import re
import shutil
import tempfile
from pathlib import Path

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from receiver import cli
from receiver.counters.keyhash import KeyHasher
from receiver.counters.redis_backend import RedisBackend
from receiver.counters.settings import CounterSettings
from receiver.dsl.values import Timestamp
from receiver.http.config import ServiceConfig
from receiver.http.server import _announce_counters
from receiver.http.settings import REDIS_KEY_SECRET_ENV, SettingsError, build
from receiver.runtime.counters import MAX_KEY_CHARS, Op, key_text, prepare, strike_ops
from receiver.runtime.decision import Decision
from receiver.runtime.payload import Event
from receiver.runtime.policyset import load_policies

SECRET = b"0123456789abcdef-deployment-key"
OTHER = b"fedcba9876543210-another-key"
TEXT = "Hi all, is the meetup still on for Saturday?"


@pytest.fixture(autouse=True)
def _no_env_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REDIS_KEY_SECRET_ENV, raising=False)


# -- the hash --------------------------------------------------------------------------------


def test_with_a_key_the_stored_form_is_the_hmac_sha256_of_the_text() -> None:
    expected = hmac.new(SECRET, TEXT.encode(), hashlib.sha256).hexdigest()
    assert KeyHasher(SECRET)(TEXT) == f"hmac:{expected}"
    assert KeyHasher(SECRET).keyed


def test_without_a_key_the_stored_form_is_the_plain_sha256_of_the_text() -> None:
    assert KeyHasher(None)(TEXT) == f"sha256:{hashlib.sha256(TEXT.encode()).hexdigest()}"
    assert not KeyHasher(None).keyed
    assert not KeyHasher(b"").keyed  # an empty key is no key


def test_a_different_key_gives_a_different_stored_form() -> None:
    assert KeyHasher(SECRET)(TEXT) != KeyHasher(OTHER)(TEXT)
    assert KeyHasher(SECRET)(TEXT) != KeyHasher(None)(TEXT)


def test_the_hasher_never_shows_its_key() -> None:
    assert SECRET.decode() not in repr(KeyHasher(SECRET))


@given(st.text(), st.text())
def test_equal_texts_hash_equal_and_different_texts_differently(a: str, b: str) -> None:
    hasher = KeyHasher(SECRET)
    assert (hasher(a) == hasher(b)) == (a == b)
    assert re.fullmatch(r"hmac:[0-9a-f]{64}", hasher(a))  # nothing of the text shows


def test_lone_surrogates_in_a_key_hash_like_the_runtime_digest() -> None:
    assert KeyHasher(None)("\udcff").startswith("sha256:")


# -- which expressions are content ------------------------------------------------------------

EVENT = "message.shouldCreate"


def plan_flags(tmp_path: Path, key: str, distinct: str | None) -> tuple[bool, bool]:
    extra = f"\n    distinct: {distinct}" if distinct else ""
    (tmp_path / "p.yaml").write_text(
        f"policy: p\ncounters:\n  c:\n    events: {EVENT}\n    key: '{key}'{extra}\n"
        f"    window: 60s\nrules:\n  - id: r\n    events: {EVENT}\n    when: c > 100\n"
        "    action: deny\n",
        encoding="utf-8",
    )
    (planned,) = load_policies([tmp_path]).plan(EVENT).counters
    return planned.hash_key, planned.hash_member


@pytest.mark.parametrize(
    ("key", "hashed"),
    [
        ("actor.userId", False),
        ("data.channelId", False),
        ("actor._id", False),
        ("data.message_id", False),
        ("data.parentID", False),
        ('data["channelId"]', False),
        ("data.community.id", False),
        ("event", False),
        ("data.platform", False),
        ("text", True),
        ("data.text", True),
        ("lower(text)", True),
        ("lower(trim(text))", True),
        ("lower(actor.userId)", True),
        ('actor.userId + ":" + text', True),
        ('actor.userId + ":" + data.channelId', True),
        ("[actor.userId, data.channelId]", True),
        ('"{actor.userId}"', True),
        ("actor.displayName", True),
        ("data.mentions[0]", True),
        ("data.metadata", True),
        ("data", True),
    ],
)
def test_only_plain_paths_to_identifiers_stay_readable(
    tmp_path: Path, key: str, hashed: bool
) -> None:
    assert plan_flags(tmp_path, key, None) == (hashed, False)


@pytest.mark.parametrize(
    ("distinct", "hashed"),
    [("data.channelId", False), ("actor.userId", False), ("text", True), ("lower(text)", True)],
)
def test_a_distinct_value_is_judged_by_the_same_rule(
    tmp_path: Path, distinct: str, hashed: bool
) -> None:
    assert plan_flags(tmp_path, "lower(text)", distinct) == (True, hashed)


def test_the_decision_travels_in_each_op_and_in_strikes(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(
        f"""\
policy: p
counters:
  per_text:
    events: {EVENT}
    key: lower(text)
    distinct: data.channelId
    window: 10m
  by_text:
    decisions: [r]
    key: text
    window: 1h
rules:
  - id: r
    events: {EVENT}
    when: per_text > 1 or by_text > 100
    action: deny
""",
        encoding="utf-8",
    )
    policies = load_policies([tmp_path])
    event = Event(EVENT, {"text": TEXT, "channelId": "c1"}, {"userId": "u1"})
    prepared = prepare(policies.plan(EVENT), event, Timestamp(1.0))
    by_counter = {op.counter: op for op in prepared.ops}
    assert by_counter["p/per_text"][-2:] == (True, False)
    assert by_counter["p/per_text"].key == TEXT.lower()  # the readable key, as explained
    assert by_counter["p/by_text"].hash_key
    (strike,) = strike_ops(prepared, Decision("deny", rule="p/r"))
    assert strike.hash_key and strike.key == TEXT


# -- what the Redis backend sends --------------------------------------------------------------


def backend(secret: bytes | None) -> RedisBackend:
    return RedisBackend("redis://127.0.0.1:1/0", prefix="t", key_secret=secret)


def test_content_keys_and_members_go_to_redis_hashed_identifiers_as_they_are() -> None:
    hasher = KeyHasher(SECRET)
    ops = [
        Op("p/text", 600_000, TEXT.lower(), True, "c1", True, hash_key=True),
        Op("p/user", 60_000, "u1", add=True),
        Op("p/who", 60_000, "c1", True, TEXT, True, hash_member=True),
    ]
    keys, argv = backend(SECRET).args(ops, 5)
    assert keys == [
        f"t:p/text:600000:d:{hasher(TEXT.lower())}",
        "t:p/user:60000:c:u1",
        "t:p/who:60000:d:c1",
    ]
    assert argv[4] == "c1"  # a readable member
    assert argv[10] == hasher(TEXT)
    assert not any(TEXT.lower() in str(a).lower() for a in [*keys, *argv])


def test_a_different_key_gives_different_redis_keys() -> None:
    op = Op("p/text", 600_000, TEXT, hash_key=True)
    stored = {backend(s).redis_key(op) for s in (SECRET, OTHER, None)}
    assert len(stored) == 3
    assert backend(None).redis_key(op).startswith("t:p/text:600000:c:sha256:")


def test_a_key_the_runtime_already_digested_is_hashed_again_when_content() -> None:
    long_text = "word " * MAX_KEY_CHARS
    digest = key_text(long_text)
    assert digest is not None and digest.startswith("sha256:")  # runtime: plain SHA-256
    op = Op("p/text", 1000, digest, hash_key=True)
    # Content keys are stored through one function, short or long: a keyed hash
    assert backend(SECRET).redis_key(op) == f"t:p/text:1000:c:{KeyHasher(SECRET)(digest)}"
    readable = Op("p/user", 1000, digest)  # an identifier over 200 characters: its digest
    assert backend(SECRET).redis_key(readable) == f"t:p/user:1000:c:{digest}"


def test_different_keys_count_apart_in_a_real_redis(redis_url: str) -> None:
    """Two deployments sharing a Redis with different keys never see each other's counts
    of the same text; two processes with the same key share theirs."""
    op = Op("p/text", 60_000, TEXT, add=True, hash_key=True)

    async def go() -> list[int]:
        out = []
        for secret in (SECRET, SECRET, OTHER):
            b = RedisBackend(redis_url, prefix="keyhash-test", key_secret=secret)
            try:
                out.extend(await b.apply_async([op], 1_000))
            finally:
                await b.close()
        return out

    assert asyncio.run(go()) == [1, 2, 1]
    client = redis.Redis.from_url(redis_url)
    try:
        names = [k.decode() for k in client.scan_iter("keyhash-test:*")]
    finally:
        client.close()
    assert len(names) == 2 and all(":c:hmac:" in n for n in names)
    assert not any(TEXT in n or TEXT.lower() in n for n in names)


# -- the secret's settings ---------------------------------------------------------------------


def redis_flags(**more: object) -> dict[str, object]:
    return {"counters_backend": "redis", "counters_redis_url": "redis://h:1/0", **more}


def test_the_secret_comes_from_the_flag_the_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert build(redis_flags()).counters.key_secret is None
    secret_file = tmp_path / "redis.key"
    secret_file.write_text(SECRET.decode() + "\n")
    from_file = build(redis_flags(counters_key_secret_file=secret_file))
    assert from_file.counters.key_secret == SECRET  # the newline is not part of it
    assert build(redis_flags(counters_key_secret=OTHER.decode())).counters.key_secret == OTHER
    monkeypatch.setenv(REDIS_KEY_SECRET_ENV, SECRET.decode())
    assert build(redis_flags()).counters.key_secret == SECRET
    config = tmp_path / "receiver.yaml"
    config.write_text("counters: {backend: redis, redis_url: 'redis://h:1/0', "
                      "key_secret_file: redis.key}\n")  # fmt: skip
    monkeypatch.delenv(REDIS_KEY_SECRET_ENV)
    assert build({"config": config}).counters.key_secret == SECRET  # relative to the file


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"counters_key_secret": "short"}, "at least 16 bytes (it holds 5)"),
        ({"counters_key_secret": "   "}, "secrets.token_hex"),
        ({"counters_key_secret": "x" * 16, "counters_key_secret_file": Path("k")}, "not both"),
        ({"counters_key_secret_file": Path("/nonexistent/redis.key")}, "redis.key: No such"),
    ],
)
def test_bad_secrets_are_refused_with_what_to_do(flags: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        build(redis_flags(**flags))


def test_the_secret_survives_pickling_and_never_shows_in_a_repr() -> None:
    config = build(redis_flags(counters_key_secret=SECRET.decode()))
    copy = pickle.loads(pickle.dumps(config))
    assert copy.counters.key_secret == SECRET
    assert SECRET.decode() not in repr(config)


def test_a_secret_on_the_command_line_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Broken policies: serve refuses to start right after the settings are read.
    (tmp_path / "bad.yaml").write_text("policy: p\nrules: [{id: r, when: '(', action: deny}]\n")
    argv = ["serve", "--policies", str(tmp_path), "--redis-key-secret", SECRET.decode()]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "--redis-key-secret shows the key to anyone who can list processes" in err
    assert SECRET.decode() not in err


@pytest.mark.parametrize(
    ("secret", "level", "said"),
    [
        (None, logging.WARNING, "NO REDIS KEY SECRET"),
        (SECRET, logging.INFO, "stored in Redis as HMAC-SHA256"),
    ],
)
def test_the_start_up_log_says_how_content_is_stored(
    secret: bytes | None, level: int, said: str, caplog: pytest.LogCaptureFixture
) -> None:
    counters = CounterSettings(backend="redis", redis_url="redis://h:1/0", key_secret=secret)
    with caplog.at_level(logging.INFO, logger="receiver.http.server"):
        _announce_counters(ServiceConfig(counters=counters))
    (record,) = [r for r in caplog.records if said in r.getMessage()]
    assert record.levelno == level


@given(st.binary(max_size=80))
def test_any_secret_file_is_used_stripped_or_refused_with_a_reason(raw: bytes) -> None:
    """Any bytes (not only UTF-8) in the file, the flag or the environment make a key."""
    folder = Path(tempfile.mkdtemp(prefix="keyhash-"))
    try:
        secret_file = folder / "redis.key"
        secret_file.write_bytes(raw)
        from_file = redis_flags(counters_key_secret_file=secret_file)
        from_flag = redis_flags(counters_key_secret=raw.decode("utf-8", "surrogateescape"))
        for flags in (from_file, from_flag):
            if len(raw.strip()) >= 16:
                assert build(flags).counters.key_secret == raw.strip()
            else:
                with pytest.raises(SettingsError, match="at least 16 bytes"):
                    build(flags)
    finally:
        shutil.rmtree(folder)
