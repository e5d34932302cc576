"""Console sessions and API tokens: random secrets handed out once, stored only as SHA-256 digests.

A console session ends after `idle` without a request or `absolute` after sign-in, whichever
comes first; it carries its own CSRF token (synchroniser pattern) for the console's forms and
htmx calls. API tokens (`yct_…`) are for machines and site agents; they act as their user, can
expire and be revoked, and record when they were last used.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select, update

from yecai.auth import audit
from yecai.auth.principal import Principal
from yecai.auth.users import UserView, _aware, _view
from yecai.errors import DataError
from yecai.store.auth_tables import ApiToken, User, WebSession
from yecai.store.db import Store

TOKEN_PREFIX = "yct_"
# a session's last-seen time is written at most this often: reads stay reads
_TOUCH_EVERY = dt.timedelta(seconds=60)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class SessionInfo:
    user: UserView
    csrf_token: str
    expires_at: dt.datetime


def open_session(
    store: Store,
    user: UserView,
    *,
    absolute: dt.timedelta,
    ip: str | None = None,
    user_agent: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[str, str]:
    """A new session for a signed-in user: (cookie value, CSRF token)."""
    moment = now or _now()
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with store.transaction() as session:
        # expired rows of anyone go with each new sign-in: the table stays small without a job
        session.execute(delete(WebSession).where(WebSession.expires_at < moment))
        session.add(
            WebSession(
                id_hash=digest(cookie),
                user_id=user.id,
                csrf_token=csrf,
                created_at=moment,
                last_seen_at=moment,
                expires_at=moment + absolute,
                ip=ip,
                user_agent=(user_agent or "")[:300] or None,
            )
        )
    return cookie, csrf


def resolve_session(
    store: Store, cookie: str, *, idle: dt.timedelta, now: dt.datetime | None = None
) -> SessionInfo | None:
    """The live session behind a cookie, or None (unknown, expired, idle too long, user disabled)."""
    if not cookie:
        return None
    moment = now or _now()
    key = digest(cookie)
    with store.transaction() as session:
        row = session.get(WebSession, key)
        if row is None:
            return None
        expires = _aware(row.expires_at)
        seen = _aware(row.last_seen_at)
        assert expires is not None and seen is not None
        if expires <= moment or seen + idle <= moment:
            session.delete(row)
            return None
        user = session.get(User, row.user_id)
        if user is None or not user.active:
            session.delete(row)
            return None
        if moment - seen >= _TOUCH_EVERY:
            row.last_seen_at = moment
        return SessionInfo(_view(session, user), row.csrf_token, expires)


def close_session(store: Store, cookie: str) -> None:
    with store.transaction() as session:
        session.execute(delete(WebSession).where(WebSession.id_hash == digest(cookie)))


@dataclass(frozen=True, slots=True)
class TokenView:
    id: int
    username: str
    name: str
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


def _token_view(row: ApiToken, username: str) -> TokenView:
    return TokenView(
        row.id,
        username,
        row.name,
        row.prefix,
        _aware(row.created_at) or _now(),
        _aware(row.expires_at),
        _aware(row.last_used_at),
        _aware(row.revoked_at),
    )


def create_token(
    store: Store, *, username: str, name: str, by: Principal, days: int | None = None
) -> tuple[TokenView, str]:
    """A new API token for `username`; the secret is returned once and never stored."""
    if not name.strip() or len(name) > 80:
        raise DataError("令牌名称须为 1–80 个字符", "a token name needs 1–80 characters")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.transaction() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise DataError(f"没有用户 {username}", f"no user {username}")
        row = ApiToken(
            user_id=user.id,
            name=name.strip(),
            token_hash=digest(secret),
            prefix=secret[: len(TOKEN_PREFIX) + 6],
            expires_at=_now() + dt.timedelta(days=days) if days else None,
        )
        session.add(row)
        session.flush()
        view = _token_view(row, username)
        audit.record(
            session,
            by,
            action="token.create",
            target_type="token",
            target_id=row.id,
            after={"user": username, "name": row.name, "prefix": row.prefix, "expires_at": row.expires_at},
        )
    return view, secret


def resolve_token(store: Store, secret: str, *, now: dt.datetime | None = None) -> UserView | None:
    if not secret.startswith(TOKEN_PREFIX):
        return None
    moment = now or _now()
    with store.transaction() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(secret)))
        if row is None or row.revoked_at is not None:
            return None
        expires = _aware(row.expires_at)
        if expires is not None and expires <= moment:
            return None
        user = session.get(User, row.user_id)
        if user is None or not user.active:
            return None
        last = _aware(row.last_used_at)
        if last is None or moment - last >= _TOUCH_EVERY:
            session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=moment))
        return _view(session, user)


def list_tokens(store: Store, *, username: str | None = None) -> list[TokenView]:
    query = select(ApiToken, User.username).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id)
    if username:
        query = query.where(User.username == username)
    with store.sessions() as session:
        return [_token_view(row, name) for row, name in session.execute(query)]


def revoke_token(store: Store, token_id: int, *, by: Principal) -> TokenView:
    with store.transaction() as session:
        row = session.get(ApiToken, token_id)
        if row is None:
            raise DataError(f"没有令牌 {token_id}", f"no token {token_id}")
        user = session.get(User, row.user_id)
        if row.revoked_at is None:
            row.revoked_at = _now()
            audit.record(
                session,
                by,
                action="token.revoke",
                target_type="token",
                target_id=token_id,
                after={"user": user.username if user else None, "name": row.name},
            )
        return _token_view(row, user.username if user else "?")
