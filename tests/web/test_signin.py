"""Sign-in under attack (issue 12): no connection held while hashing, rate limits, progressive
delay instead of a hard lock, and the same answers for unknown and known user names."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import anyio
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

from tests.support.planting import PASSWORD, Planted
from yecai.auth import audit, users
from yecai.auth.principal import SYSTEM
from yecai.auth.throttle import SignInBusy, SignInGuard
from yecai.errors import ConfigurationError
from yecai.settings import Settings
from yecai.store.auth_tables import SignInFailure
from yecai.store.db import Store, migrate
from yecai.web.app import create_app

NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


def _one_connection_store(path: Path) -> Store:
    """A store whose pool has exactly one connection and gives up waiting for it after 3 s."""
    url = f"sqlite:///{path}"
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False},
        poolclass=QueuePool,
        pool_size=1,
        max_overflow=0,
        pool_timeout=3,
    )
    migrate(create_engine(url))
    return Store(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))


def test_no_connection_is_held_while_the_password_is_hashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _one_connection_store(tmp_path / "one.sqlite")
    _, password = users.create_user(store, username="zhang", role="finance", by=SYSTEM)
    verifying = threading.Event()
    release = threading.Event()

    class SlowHasher(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            verifying.set()
            release.wait(10)
            return super().verify(hash, password)

    monkeypatch.setattr(users, "_hasher", SlowHasher())
    outcome: list[users.LoginResult] = []
    signing_in = threading.Thread(target=lambda: outcome.append(users.authenticate(store, "zhang", password)))
    signing_in.start()
    try:
        assert verifying.wait(10)
        # the only connection of the pool must be free while argon2 runs: another caller gets it
        assert users.get_user(store, "zhang") is not None
    finally:
        release.set()
        signing_in.join(10)
    assert outcome[0].outcome is users.LoginOutcome.OK
    store.close()


@pytest.mark.slow
def test_failures_slow_down_but_never_lock_the_owner_out(store: Store) -> None:
    _, password = users.create_user(store, username="admin2", role="admin", by=SYSTEM)
    bad = "nope-nope-nope"
    for _ in range(4):
        assert users.authenticate(store, "admin2", bad, max_failures=5, now=NOW).outcome == "bad"
    assert users.authenticate(store, "admin2", bad, max_failures=5, now=NOW).outcome == "bad"
    # the fifth failure asks for a pause of 1 s; inside it nothing is verified
    early = users.authenticate(store, "admin2", password, max_failures=5, now=NOW)
    assert early.outcome == "throttled"
    assert early.retry_after == 1
    # the owner who waits gets in with the right password — no 15-minute lock
    later = NOW + dt.timedelta(seconds=1)
    assert users.authenticate(store, "admin2", password, max_failures=5, now=later).outcome == "ok"
    # each further failure doubles the pause, up to the cap
    moment = later
    waits = []
    for _ in range(12):
        result = users.authenticate(store, "admin2", bad, max_failures=1, delay_cap=60, now=moment)
        assert result.outcome == "bad"
        blocked = users.authenticate(store, "admin2", password, max_failures=1, delay_cap=60, now=moment)
        assert blocked.outcome == "throttled"
        waits.append(blocked.retry_after)
        moment += dt.timedelta(seconds=blocked.retry_after or 0)
    assert waits[:7] == [1, 2, 4, 8, 16, 32, 60]
    assert max(waits) == 60
    assert users.authenticate(store, "admin2", password, delay_cap=60, now=moment).outcome == "ok"
    assert audit.entries(store, SYSTEM, action="user.locked") == []


def test_unlock_clears_the_pause(store: Store) -> None:
    _, password = users.create_user(store, username="wu", role="auditor", by=SYSTEM)
    for _ in range(6):
        users.authenticate(store, "wu", "nope-nope-nope", max_failures=2, now=NOW)
    assert users.authenticate(store, "wu", password, max_failures=2, now=NOW).outcome == "throttled"
    assert users.get_user(store, "wu").failed_logins > 0  # type: ignore[union-attr]
    users.unlock(store, "wu", by=SYSTEM)
    assert users.authenticate(store, "wu", password, max_failures=2, now=NOW).outcome == "ok"
    assert audit.entries(store, SYSTEM, action="user.unlock")[0].target_id == "wu"


def _attempts(client: TestClient, username: str, count: int) -> list[tuple[int, object, str | None]]:
    seen = []
    for _ in range(count):
        answer = client.post("/api/v1/session", json={"username": username, "password": "wrong-password-1"})
        seen.append((answer.status_code, answer.json(), answer.headers.get("retry-after")))
    return seen


@pytest.mark.slow
def test_unknown_and_known_names_get_the_same_answers(
    api_world: tuple[TestClient, Planted, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _, _ = api_world
    monkeypatch.setattr(users, "_now", lambda: NOW)  # the clock stands still: no pause lapses
    app = client.app
    known_client = TestClient(app, client=("10.0.0.1", 1000))
    unknown_client = TestClient(app, client=("10.0.0.2", 1000))
    known = _attempts(known_client, "auditor", 8)
    unknown = _attempts(unknown_client, "no.such.person", 8)
    assert [status for status, _, _ in known] == [status for status, _, _ in unknown]
    assert known == unknown
    statuses = [status for status, _, _ in known]
    assert statuses == [401] * 5 + [429] * 3
    assert {retry for _, _, retry in known} == {None, "1"}
    throttled = next(body for status, body, _ in known if status == 429)
    assert throttled == {
        "detail": {
            "message_zh": users.LOGIN_MESSAGES[users.LoginOutcome.THROTTLED][0],
            "message_en": users.LOGIN_MESSAGES[users.LoginOutcome.THROTTLED][1],
        }
    }


@pytest.mark.slow
def test_sign_in_is_rate_limited_per_address(
    store: Store, planted_world: Callable[..., tuple[TestClient, Planted]]
) -> None:
    client, _ = planted_world(login_rate_per_address="4/minute")
    names = [f"guess{i}" for i in range(6)]
    answers = [
        client.post("/api/v1/session", json={"username": name, "password": "wrong-password-1"})
        for name in names
    ]
    assert [a.status_code for a in answers] == [401] * 4 + [429] * 2
    refused = answers[-1]
    assert int(refused.headers["retry-after"]) >= 1
    assert "请求" in refused.json()["detail"]["message_zh"]
    # the right password from that address waits too; another address is not affected
    assert client.post("/api/v1/session", json={"username": "admin", "password": PASSWORD}).status_code == 429
    other = TestClient(client.app, client=("10.9.9.9", 1))
    assert other.post("/api/v1/session", json={"username": "admin", "password": PASSWORD}).status_code == 200


@pytest.mark.slow
def test_sign_in_is_rate_limited_per_account(
    store: Store, planted_world: Callable[..., tuple[TestClient, Planted]]
) -> None:
    client, _ = planted_world(login_rate_per_account="3/minute", login_max_failures=50)
    for name in ("finance", "nobody.at.all"):
        statuses = [
            TestClient(client.app, client=(f"10.1.{i}.1", 1))
            .post("/api/v1/session", json={"username": name, "password": "wrong-password-1"})
            .status_code
            for i in range(5)
        ]
        assert statuses == [401, 401, 401, 429, 429], name


@pytest.mark.slow
def test_console_sign_in_answers_429_too(
    store: Store, planted_world: Callable[..., tuple[TestClient, Planted]]
) -> None:
    client, _ = planted_world(login_rate_per_address="2/minute")
    page = client.get("/login")
    statuses = []
    for _ in range(3):
        csrf = client.cookies.get("yecai_login_csrf") or ""  # each answer sets a fresh one
        answer = client.post(
            "/login",
            data={"username": "admin", "password": "wrong-password-1", "csrf_token": csrf, "next": "/"},
            follow_redirects=False,
        )
        statuses.append(answer.status_code)
    assert page.status_code == 200
    assert statuses == [401, 401, 429]
    assert answer.headers["retry-after"]
    assert "请求过多" in answer.text


def test_cli_unlock_lets_the_owner_straight_back_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from yecai.cli.main import app
    from yecai.store.db import open_store

    monkeypatch.setenv("YECAI_WORKDIR", str(tmp_path))
    store = open_store(f"sqlite:///{tmp_path / 'yecai.sqlite'}")
    try:
        _, password = users.create_user(store, username="boss", role="admin", by=SYSTEM)
        for _ in range(8):
            users.authenticate(store, "boss", "nope-nope-nope", now=NOW)
        assert users.authenticate(store, "boss", password, now=NOW).outcome == "throttled"
        listed = CliRunner().invoke(app, ["users", "list"])
        assert "boss" in listed.output
        done = CliRunner().invoke(app, ["users", "unlock", "boss"])
        assert done.exit_code == 0, done.output
        assert users.authenticate(store, "boss", password, now=NOW).outcome == "ok"
        entry = audit.entries(store, SYSTEM, action="user.unlock")[0]
        assert (entry.target_id, entry.via) == ("boss", "cli")
        # attempts inside the pause are refused before any check, so they do not count
        assert entry.before == {
            "failed_logins": 5,
            "locked_until": (NOW + dt.timedelta(seconds=1)).isoformat(),
        }
    finally:
        store.close()


def test_excess_sign_ins_wait_for_a_verification_slot_then_get_429() -> None:
    guard = SignInGuard(per_address="100/minute", per_account="100/minute", concurrent=1, wait_seconds=0.1)
    seen: list[str] = []

    async def scenario() -> None:
        async with guard.verifying():
            with pytest.raises(SignInBusy):
                async with guard.verifying():
                    seen.append("second ran")  # pragma: no cover — must not happen
            seen.append("refused while the slot was taken")
        async with guard.verifying():
            seen.append("slot free again")

    anyio.run(scenario)
    assert seen == ["refused while the slot was taken", "slot free again"]


def test_bad_rates_are_refused_with_a_clear_message() -> None:
    with pytest.raises(ValidationError, match="登录限速"):
        Settings(login_rate_per_address="lots")
    with pytest.raises(ConfigurationError, match="20/minute"):
        SignInGuard(per_address="twenty", per_account="10/minute")


def test_made_up_names_are_forgotten_after_a_quiet_day(store: Store) -> None:
    for _ in range(3):
        users.authenticate(store, "ghost.name", "nope-nope-nope", now=NOW)
    users.authenticate(store, "another.ghost", "nope-nope-nope", now=NOW + dt.timedelta(days=1, seconds=1))
    with store.sessions() as session:
        names = set(session.scalars(select(SignInFailure.username)))
    assert names == {"another.ghost"}


@pytest.mark.slow
def test_a_signed_in_page_is_served_while_a_sign_in_verifies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _one_connection_store(tmp_path / "one.sqlite")
    users.create_user(store, username="reader", role="auditor", password=PASSWORD, by=SYSTEM)
    app = create_app(store, settings=Settings(workspace=tmp_path / "yecai.yaml", workdir=tmp_path))
    reader = TestClient(app)
    assert (
        reader.post("/api/v1/session", json={"username": "reader", "password": PASSWORD}).status_code == 200
    )
    verifying, release = threading.Event(), threading.Event()

    class SlowHasher(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            verifying.set()
            release.wait(10)
            return super().verify(hash, password)

    monkeypatch.setattr(users, "_hasher", SlowHasher())
    answers: list[int] = []
    attacker = TestClient(app, client=("10.6.6.6", 1))
    body = {"username": "reader", "password": "wrong-password-1"}
    signing_in = threading.Thread(
        target=lambda: answers.append(attacker.post("/api/v1/session", json=body).status_code)
    )
    signing_in.start()
    try:
        assert verifying.wait(10)
        # one connection in the pool, a sign-in in the middle of argon2: the page still gets it
        assert reader.get("/api/v1/me").status_code == 200
    finally:
        release.set()
        signing_in.join(10)
    assert answers == [401]
    store.close()


def test_scaled_out_instances_count_sign_ins_together_on_redis() -> None:
    settings = Settings(queue_url="redis://127.0.0.1:6379/0")
    assert settings.limits_storage_url() == "redis://127.0.0.1:6379/0"
    assert Settings().limits_storage_url() == "memory://"
    url = settings.limits_storage_url()
    one, two = (
        SignInGuard(per_address="3/minute", per_account="100/minute", storage_url=url) for _ in range(2)
    )
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().hex[:6]}"  # fresh keys for this run
    assert one.admit(address, "a") is None
    assert two.admit(address, "b") is None
    assert one.admit(address, "c") is None
    wait = two.admit(address, "d")  # the fourth attempt, on the other instance
    assert wait is not None
    assert 1 <= wait <= 60
