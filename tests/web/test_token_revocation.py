"""Changing a password or disabling a user ends every way that user was signed in: API tokens too.

A stolen token must die with the old password, and re-enabling a user must not bring back the
tokens and sessions that were revoked when it was disabled.
"""

from __future__ import annotations

import datetime as dt

from yecai.auth import audit, sessions, users
from yecai.auth.principal import SYSTEM
from yecai.store.db import Store


def _user_with_token(store: Store) -> str:
    users.create_user(store, username="wang.gong", role="finance", password="Gongdi-2026-x", by=SYSTEM)
    _, secret = sessions.create_token(store, username="wang.gong", name="agent", by=SYSTEM)
    assert sessions.resolve_token(store, secret) is not None
    return secret


def test_a_password_change_revokes_the_users_tokens(store: Store) -> None:
    secret = _user_with_token(store)
    users.set_password(store, "wang.gong", "Xinmima-2026-y", by=SYSTEM)
    assert sessions.resolve_token(store, secret) is None
    tokens = sessions.list_tokens(store, username="wang.gong")
    assert tokens
    assert all(t.revoked_at is not None for t in tokens)
    assert audit.entries(store, SYSTEM, action="token.revoke")


def test_disabling_revokes_and_re_enabling_does_not_revive(store: Store) -> None:
    secret = _user_with_token(store)
    view = users.get_user(store, "wang.gong")
    assert view is not None
    cookie, _ = sessions.open_session(store, view, absolute=dt.timedelta(hours=1))
    users.update_user(store, "wang.gong", active=False, by=SYSTEM)
    users.update_user(store, "wang.gong", active=True, by=SYSTEM)
    assert sessions.resolve_token(store, secret) is None
    assert sessions.resolve_session(store, cookie, idle=dt.timedelta(minutes=30)) is None
    revoked = audit.entries(store, SYSTEM, action="token.revoke")
    assert revoked
    # a new token after re-enabling works: only the old ones are gone
    _, fresh = sessions.create_token(store, username="wang.gong", name="agent-2", by=SYSTEM)
    assert sessions.resolve_token(store, fresh) is not None
