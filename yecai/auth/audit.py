"""The audit log: every change, with who, when, what, from where, and the before and after.

`record` is called inside the transaction that makes the change, so the trail and the change
commit together or not at all. Rows are never updated or deleted by yecai. Reading is scoped:
auditors and administrators see everything, anyone else only entries of their own projects.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from yecai.auth.principal import Principal
from yecai.auth.roles import Permission
from yecai.store.auth_tables import AuditEntry
from yecai.store.db import Store

# values under these keys never enter the audit log, whatever object is being recorded
_HIDDEN = ("password", "secret", "token", "password_hash", "app_secret", "csrf")


def _scrub(value: Any) -> Any:
    """JSON-ready copy with secret-looking keys masked; money stays exact as text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {
            key: ("***" if any(word in str(key).lower() for word in _HIDDEN) else _scrub(item))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def record(
    session: Session,
    who: Principal,
    *,
    action: str,
    target_type: str,
    target_id: str | int | None = None,
    before: Any = None,
    after: Any = None,
    project_code: str | None = None,
) -> None:
    session.add(
        AuditEntry(
            actor=who.username,
            actor_role=str(who.role),
            action=action,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            project_code=project_code,
            before=_scrub(before),
            after=_scrub(after),
            ip=who.ip,
            via=who.via,
        )
    )


@dataclass(frozen=True, slots=True)
class AuditView:
    id: int
    at: dt.datetime
    actor: str
    actor_role: str | None
    action: str
    target_type: str
    target_id: str | None
    project_code: str | None
    before: Any
    after: Any
    ip: str | None
    via: str


def entries(
    store: Store,
    who: Principal,
    *,
    actor: str | None = None,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    limit: int = 200,
    before_id: int | None = None,
) -> list[AuditView]:
    """Newest first. Without the audit permission a caller sees only their own project's entries
    and their own actions."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(max(1, min(limit, 1000)))
    if not who.can(Permission.AUDIT):
        query = query.where(
            or_(who.project_clause(AuditEntry.project_code), AuditEntry.actor == who.username)
        )
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action.startswith(action))
    if target_type:
        query = query.where(AuditEntry.target_type == target_type)
    if target_id:
        query = query.where(AuditEntry.target_id == target_id)
    if before_id:
        query = query.where(AuditEntry.id < before_id)
    with store.sessions() as session:
        return [
            AuditView(
                e.id,
                e.at,
                e.actor,
                e.actor_role,
                e.action,
                e.target_type,
                e.target_id,
                e.project_code,
                e.before,
                e.after,
                e.ip,
                e.via,
            )
            for e in session.scalars(query)
        ]


def log(store: Store, who: Principal, **change: Any) -> None:
    """Record a change made by a service that keeps its own transaction (queue, health, secrets);
    `change` takes the keyword arguments of `record`."""
    with store.transaction() as session:
        record(session, who, **change)
