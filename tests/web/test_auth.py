"""Auth services on SQLite and PostgreSQL: hashes, lock-out, session timeouts, tokens, the audit trail."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from yecai.auth import audit, sessions, users
from yecai.auth.principal import SYSTEM
from yecai.auth.roles import ROLE_PERMISSIONS, Permission, Role, allows
from yecai.cli.main import app
from yecai.errors import DataError
from yecai.store.auth_tables import ApiToken, User, WebSession
from yecai.store.db import Store

NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)


def test_roles_table() -> None:
    assert ROLE_PERMISSIONS[Role.ADMIN] == frozenset(Permission)
    assert ROLE_PERMISSIONS[Role.AUDITOR] == {Permission.READ, Permission.AUDIT}
    assert ROLE_PERMISSIONS[Role.PROJECT_MANAGER] == {Permission.READ}
    assert not allows("boss", "read")  # an unknown role grants nothing
    assert not allows(Role.FINANCE, Permission.CONFIGURE)


def test_passwords_are_argon2id_and_checked(store: Store) -> None:
    view, password = users.create_user(store, username="li.kuaiji", role="finance", by=SYSTEM)
    with store.sessions() as session:
        stored = session.scalar(select(User.password_hash).where(User.username == "li.kuaiji"))
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert password not in stored
    assert users.authenticate(store, "li.kuaiji", password).outcome is users.LoginOutcome.OK
    with pytest.raises(DataError, match="至少"):
        users.create_user(store, username="short", role="finance", password="abc", by=SYSTEM)
    with pytest.raises(DataError, match="已存在"):
        users.create_user(store, username="li.kuaiji", role="finance", by=SYSTEM)
    with pytest.raises(DataError, match="未知角色"):
        users.create_user(store, username="other", role="boss", by=SYSTEM)
    assert view.principal().projects is None  # finance sees every project


@pytest.mark.slow
def test_pause_lapses_or_is_unlocked(store: Store) -> None:
    _, password = users.create_user(store, username="wang", role="auditor", by=SYSTEM)
    for _ in range(2):
        assert users.authenticate(store, "wang", "nope-nope-nope", max_failures=3, now=NOW).outcome == "bad"
    assert users.authenticate(store, "wang", "nope-nope-nope", max_failures=3, now=NOW).outcome == "bad"
    held = users.authenticate(store, "wang", password, max_failures=3, now=NOW)
    assert (held.outcome, held.retry_after) == ("throttled", 1)
    # the pause lapses on its own …
    assert users.authenticate(store, "wang", password, now=NOW + dt.timedelta(seconds=1)).outcome == "ok"
    # … or an administrator clears it
    for _ in range(5):
        users.authenticate(store, "wang", "nope-nope-nope", max_failures=3, now=NOW)
    users.unlock(store, "wang", by=SYSTEM)
    assert users.authenticate(store, "wang", password, now=NOW).outcome == "ok"
    actions = [e.action for e in audit.entries(store, SYSTEM, target_id="wang")]
    assert "user.unlock" in actions


def test_sessions_end_when_idle_or_old(store: Store) -> None:
    view, _ = users.create_user(store, username="zhao", role="finance", by=SYSTEM)
    idle, absolute = dt.timedelta(minutes=30), dt.timedelta(hours=12)
    cookie, csrf = sessions.open_session(store, view, absolute=absolute, now=NOW)
    with store.sessions() as session:
        assert session.scalar(select(WebSession.id_hash)) != cookie  # only the digest is kept
    found = sessions.resolve_session(store, cookie, idle=idle, now=NOW + dt.timedelta(minutes=29))
    assert found is not None
    assert found.csrf_token == csrf
    # activity keeps it alive up to the absolute limit …
    moment = NOW
    while moment < NOW + dt.timedelta(hours=11, minutes=30):
        moment += dt.timedelta(minutes=25)
        assert sessions.resolve_session(store, cookie, idle=idle, now=moment) is not None
    assert (
        sessions.resolve_session(store, cookie, idle=idle, now=NOW + dt.timedelta(hours=12, minutes=1))
        is None
    )
    # … and 30 idle minutes end a fresh one
    cookie, _ = sessions.open_session(store, view, absolute=absolute, now=NOW)
    assert sessions.resolve_session(store, cookie, idle=idle, now=NOW + dt.timedelta(minutes=31)) is None
    # a password change ends every session of the user
    cookie, _ = sessions.open_session(store, view, absolute=absolute, now=dt.datetime.now(dt.UTC))
    users.set_password(store, "zhao", "A-new-password-7", by=SYSTEM)
    assert sessions.resolve_session(store, cookie, idle=idle) is None


def test_tokens_expire_and_revoke(store: Store) -> None:
    users.create_user(store, username="agent01", role="integrator", by=SYSTEM)
    view, secret = sessions.create_token(store, username="agent01", name="site agent", by=SYSTEM, days=30)
    with store.sessions() as session:
        assert session.scalar(select(ApiToken.token_hash)) == sessions.digest(secret)
    user = sessions.resolve_token(store, secret)
    assert user is not None
    assert user.username == "agent01"
    assert sessions.resolve_token(store, secret, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=31)) is None
    assert sessions.resolve_token(store, secret + "x") is None
    assert sessions.resolve_token(store, "not-a-token") is None
    sessions.revoke_token(store, view.id, by=SYSTEM)
    assert sessions.resolve_token(store, secret) is None
    users.update_user(store, "agent01", active=False, by=SYSTEM)
    _, other = sessions.create_token(store, username="agent01", name="second", by=SYSTEM)
    assert sessions.resolve_token(store, other) is None  # a disabled user's tokens do not work


def test_audit_hides_secrets_and_keeps_money_exact(store: Store) -> None:
    from decimal import Decimal

    audit.log(
        store,
        SYSTEM,
        action="test.change",
        target_type="thing",
        target_id=1,
        before={"amount": Decimal("0.10"), "app_secret": "s3cr3t"},
        after={"amount": Decimal("0.20"), "nested": {"password": "p", "ok": True}},
    )
    entry = audit.entries(store, SYSTEM, action="test.")[0]
    assert entry.before == {"amount": "0.10", "app_secret": "***"}
    assert entry.after == {"amount": "0.20", "nested": {"password": "***", "ok": True}}


def test_cli_users_create(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YECAI_WORKDIR", str(tmp_path))
    runner = CliRunner()
    made = runner.invoke(
        app, ["users", "create", "pm7", "--role", "project_manager", "--projects", "XM1,XM2"]
    )
    assert made.exit_code == 0, made.output
    assert "password" in made.output
    listed = runner.invoke(app, ["users", "list"])
    assert "XM1, XM2" in listed.output
    bad = runner.invoke(app, ["users", "create", "pm8", "--role", "boss"])
    assert bad.exit_code == 1
    assert "未知角色" in bad.output


def test_cli_changes_are_audited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from yecai.store.db import open_store

    monkeypatch.setenv("YECAI_WORKDIR", str(tmp_path))
    runner = CliRunner()
    stored = runner.invoke(app, ["connections", "set-secret", "kd", "KD_SECRET", "--value", "s3cr3t-value"])
    assert stored.exit_code == 0, stored.output
    store = open_store(f"sqlite:///{tmp_path / 'yecai.sqlite'}")
    try:
        entry = audit.entries(store, SYSTEM, action="secret.set")[0]
        assert (entry.target_id, entry.via, entry.after) == ("kd.KD_SECRET", "cli", {"stored": True})
        assert "s3cr3t-value" not in str(entry.before) + str(entry.after)
    finally:
        store.close()
