"""Tables for people and machines: users, their projects, web sessions, API tokens, the audit log.

Passwords are argon2 hashes; session ids and API tokens are stored as SHA-256 digests only, so a
copy of the database lets nobody in. The audit log is append-only by convention (no service
updates or deletes a row): who, when, what, and the before and after of every change. Alert
deliveries record each message sent to a channel; they carry the de-duplication key and serve the
rate limit across processes.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from yecai.store.base import Base, Id, utc_now


class User(Base):
    """A person (or a machine account) with one role; project managers are limited to projects."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))  # admin | integrator | finance | project_manager | auditor
    password_hash: Mapped[str | None] = mapped_column(Text)  # None: token-only machine account
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    language: Mapped[str] = mapped_column(String(8), default="zh")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class UserProject(Base):
    """A project a user may see (used for the project_manager role)."""

    __tablename__ = "user_projects"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    project_code: Mapped[str] = mapped_column(String(80), primary_key=True)


class WebSession(Base):
    """A console login: the cookie carries the secret, the row only its digest."""

    __tablename__ = "web_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class ApiToken(Base):
    """A bearer token for machines and site agents; it acts as its user with that user's role."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # shown in lists so a token can be recognised
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """One change: who did what to which object, when, from where, with before and after."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    actor: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(60))  # e.g. user.create, mapping.update, deadletter.replay
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(200))
    project_code: Mapped[str | None] = mapped_column(String(80))  # lets a manager see their own trail
    before: Mapped[dict | list | None] = mapped_column(JSON)
    after: Mapped[dict | list | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(64))
    via: Mapped[str] = mapped_column(String(10), default="cli")  # console | api | cli | system


Index("ix_audit_log_at", AuditEntry.at)
Index("ix_audit_log_target", AuditEntry.target_type, AuditEntry.target_id)


class AlertDelivery(Base):
    """One alert for one channel: sent, failed, suppressed as a duplicate or by the rate limit."""

    __tablename__ = "alert_deliveries"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(80))
    event: Mapped[str] = mapped_column(String(60))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))  # sent | failed | duplicate | rate_limited
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


Index("ix_alert_deliveries_key", AlertDelivery.channel, AlertDelivery.dedupe_key, AlertDelivery.at)
Index("ix_alert_deliveries_at", AlertDelivery.channel, AlertDelivery.at)


class SignInFailure(Base):
    """Failed sign-ins in a row for one name as typed — real user or not, so both look alike.

    `not_before` is the progressive pause: after too many failures each further attempt for the
    name must wait until then (2^k seconds, capped). A success or an administrator's unlock
    deletes the row.
    """

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_last_failed_at", "last_failed_at"),)
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_failed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
