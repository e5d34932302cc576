"""Users: create, change, sign in with lock-out, and the projects a project manager may see.

Passwords are hashed with argon2id (argon2-cffi), never while a database connection is held; a
wrong password and an unknown user take the same steps and give the same answer, so sign-in cannot
be used to discover user names. After `login_max_failures` failures in a row for a name, each
further attempt must wait 2^k seconds (capped) — slowed, never locked for good. Every change is
written to the audit log in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from yecai.auth import audit
from yecai.auth.principal import Principal
from yecai.auth.roles import Role
from yecai.errors import DataError
from yecai.store.auth_tables import ApiToken, SignInFailure, User, UserProject, WebSession
from yecai.store.db import Store
from yecai.store.inserts import insert_ignore

_hasher = PasswordHasher()
# verified against when the user does not exist, so both paths cost one argon2 verification
_DUMMY_HASH = _hasher.hash("yecai-no-such-user")
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{1,63}$")
MIN_PASSWORD = 10


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands back naive datetimes; everything stored is UTC
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


@dataclass(frozen=True, slots=True)
class UserView:
    id: int
    username: str
    display_name: str | None
    role: Role
    projects: tuple[str, ...]
    active: bool
    locked_until: dt.datetime | None
    failed_logins: int
    language: str
    created_at: dt.datetime
    last_login_at: dt.datetime | None

    def principal(self, *, via: str = "api", ip: str | None = None) -> Principal:
        limited = self.role == Role.PROJECT_MANAGER
        return Principal(
            username=self.username,
            role=self.role,
            projects=frozenset(self.projects) if limited else None,
            via=via,
            ip=ip,
            user_id=self.id,
        )

    def audit_view(self) -> dict[str, object]:
        return {
            "username": self.username,
            "display_name": self.display_name,
            "role": str(self.role),
            "projects": list(self.projects),
            "active": self.active,
            "language": self.language,
        }


def _view(session: Session, user: User) -> UserView:
    projects = tuple(
        session.scalars(
            select(UserProject.project_code)
            .where(UserProject.user_id == user.id)
            .order_by(UserProject.project_code)
        )
    )
    failed = session.execute(
        select(SignInFailure.failures, SignInFailure.not_before).where(
            SignInFailure.username == user.username
        )
    ).first()
    return UserView(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        projects=projects,
        active=user.active,
        # the pause of the name (sign_in_failures) is what holds a sign-in back now
        locked_until=_aware(failed.not_before) if failed else None,
        failed_logins=failed.failures if failed else 0,
        language=user.language,
        created_at=_aware(user.created_at) or _now(),
        last_login_at=_aware(user.last_login_at),
    )


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise DataError(
            f"未知角色 {value}，可选：{names}", f"unknown role {value}; choose one of {names}"
        ) from None


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise DataError(
            f"密码至少 {MIN_PASSWORD} 个字符", f"a password needs at least {MIN_PASSWORD} characters"
        )
    if password.strip() != password or (password.lower() == password and password.isalpha()):
        raise DataError(
            "密码不能首尾有空格，也不能只有小写字母",
            "a password may not start or end with spaces, nor be lowercase letters only",
        )


def new_password() -> str:
    """A generated password (shown once): 16 URL-safe characters, about 96 bits."""
    return secrets.token_urlsafe(12)


def _projects(codes: Iterable[str]) -> list[str]:
    cleaned = sorted({code.strip() for code in codes if code and code.strip()})
    for code in cleaned:
        if len(code) > 80:
            raise DataError(f"项目编码过长：{code}", f"project code too long: {code}")
    return cleaned


def _end_access(session: Session, user: User, by: Principal, reason: str) -> None:
    """End every way `user` is signed in: console sessions deleted, live API tokens revoked, audited.

    Tokens are revoked (not deleted) so the list still shows them; a revoked token never comes back,
    so re-enabling a user or learning the new password does not revive a token that leaked before.
    """
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    live = list(
        session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)))
    )
    if not live:
        return
    session.execute(
        update(ApiToken)
        .where(ApiToken.id.in_([t.id for t in live]))
        .values(revoked_at=_now())
        .execution_options(synchronize_session="fetch")
    )
    for token in live:
        audit.record(
            session,
            by,
            action="token.revoke",
            target_type="token",
            target_id=token.id,
            after={"user": user.username, "name": token.name, "reason": reason},
        )


def _find(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise DataError(f"没有用户 {username}", f"no user {username}")
    return user


def create_user(
    store: Store,
    *,
    username: str,
    role: str,
    by: Principal,
    password: str | None = None,
    projects: Iterable[str] = (),
    display_name: str | None = None,
    language: str = "zh",
) -> tuple[UserView, str]:
    """Create a user; returns the view and the password (generated when none was given)."""
    if not USERNAME.match(username):
        raise DataError(
            f"用户名 {username!r} 无效：2–64 个字母、数字或 _ . @ -",
            f"invalid user name {username!r}: 2–64 letters, digits or _ . @ -",
        )
    chosen = _role(role)
    secret = password if password is not None else new_password()
    check_password(secret)
    codes = _projects(projects)
    with store.transaction() as session:
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise DataError(f"用户 {username} 已存在", f"user {username} already exists")
        user = User(
            username=username,
            role=chosen.value,
            password_hash=_hasher.hash(secret),
            display_name=display_name,
            language=language if language in ("zh", "en") else "zh",
            failed_logins=0,
            active=True,
            password_changed_at=_now(),
        )
        session.add(user)
        session.flush()
        session.add_all(UserProject(user_id=user.id, project_code=code) for code in codes)
        session.flush()
        view = _view(session, user)
        audit.record(
            session, by, action="user.create", target_type="user", target_id=username, after=view.audit_view()
        )
    return view, secret


def get_user(store: Store, username: str) -> UserView | None:
    with store.sessions() as session:
        user = session.scalar(select(User).where(User.username == username))
        return _view(session, user) if user else None


def get_user_by_id(store: Store, user_id: int) -> UserView | None:
    with store.sessions() as session:
        user = session.get(User, user_id)
        return _view(session, user) if user else None


def list_users(store: Store) -> list[UserView]:
    with store.sessions() as session:
        return [_view(session, user) for user in session.scalars(select(User).order_by(User.username))]


def update_user(
    store: Store,
    username: str,
    *,
    by: Principal,
    role: str | None = None,
    projects: Iterable[str] | None = None,
    active: bool | None = None,
    display_name: str | None = None,
    language: str | None = None,
) -> UserView:
    with store.transaction() as session:
        user = _find(session, username)
        before = _view(session, user)
        if role is not None:
            user.role = _role(role).value
        if display_name is not None:
            user.display_name = display_name
        if language in ("zh", "en"):
            user.language = language
        if active is not None:
            if user.active and not active:
                _end_access(session, user, by, "user disabled")
            user.active = active
        if projects is not None:
            session.execute(delete(UserProject).where(UserProject.user_id == user.id))
            session.add_all(UserProject(user_id=user.id, project_code=code) for code in _projects(projects))
        session.flush()
        after = _view(session, user)
        if before.role != after.role:
            # a changed role takes effect now, not at the next sign-in
            session.execute(delete(WebSession).where(WebSession.user_id == user.id))
        audit.record(
            session,
            by,
            action="user.update",
            target_type="user",
            target_id=username,
            before=before.audit_view(),
            after=after.audit_view(),
        )
        return after


def set_password(store: Store, username: str, password: str, *, by: Principal) -> None:
    """Change a password; every session and API token of that user ends (a stolen cookie or token
    dies with the old password)."""
    check_password(password)
    with store.transaction() as session:
        user = _find(session, username)
        user.password_hash = _hasher.hash(password)
        user.password_changed_at = _now()
        user.failed_logins = 0
        user.locked_until = None
        session.execute(delete(SignInFailure).where(SignInFailure.username == _key(username)))
        _end_access(session, user, by, "password changed")
        audit.record(session, by, action="user.password", target_type="user", target_id=username)


def unlock(store: Store, username: str, *, by: Principal) -> None:
    """Clear a user's failed sign-ins and pause at once (CLI, console and API), audited."""
    with store.transaction() as session:
        user = _find(session, username)
        view = _view(session, user)
        before = {"failed_logins": view.failed_logins, "locked_until": view.locked_until}
        user.failed_logins = 0
        user.locked_until = None
        session.execute(delete(SignInFailure).where(SignInFailure.username == _key(username)))
        audit.record(
            session,
            by,
            action="user.unlock",
            target_type="user",
            target_id=username,
            before=before,
            after={"failed_logins": 0, "locked_until": None},
        )


class LoginOutcome(StrEnum):
    OK = "ok"
    BAD = "bad"  # unknown user or wrong password (indistinguishable on purpose)
    THROTTLED = "throttled"  # too many attempts: wait `retry_after` seconds (known or unknown name alike)
    INACTIVE = "inactive"


LOGIN_MESSAGES: dict[LoginOutcome, tuple[str, str]] = {
    LoginOutcome.OK: ("登录成功", "signed in"),
    LoginOutcome.BAD: ("用户名或密码错误", "wrong user name or password"),
    LoginOutcome.THROTTLED: (
        "登录请求过多，请稍后再试；如急需登录请联系管理员解锁",
        "too many sign-in attempts; try again later, or ask an administrator to unlock the account",
    ),
    LoginOutcome.INACTIVE: ("账户已停用", "the account is disabled"),
}


@dataclass(frozen=True, slots=True)
class LoginResult:
    outcome: LoginOutcome
    user: UserView | None = None
    retry_after: int | None = None  # whole seconds, for THROTTLED


FORGET_AFTER = dt.timedelta(days=1)


def pause_after(failures: int, *, max_failures: int, cap: int) -> int:
    """Seconds the name must wait after `failures` failures in a row: 0, then 1, 2, 4 … up to `cap`."""
    if failures < max_failures:
        return 0
    # the exponent is bounded so a huge count cannot build a huge integer
    return min(2 ** min(failures - max_failures, 32), cap)


def _key(username: str) -> str:
    # the name as typed (the column's width): counters exist for unknown names exactly as for real ones
    return username[:64]


def authenticate(
    store: Store,
    username: str,
    password: str,
    *,
    max_failures: int = 5,
    delay_cap: int = 300,
    ip: str | None = None,
    now: dt.datetime | None = None,
) -> LoginResult:
    """Check a password without holding a database connection while argon2 runs.

    Three steps: read the user and the name's failure row (connection returned at once), verify
    (0.1–0.3 s of CPU, against a dummy hash for unknown names), then record the outcome in a short
    transaction. Unknown and known names take the same steps, reads and writes, so neither the
    answers nor the time tell them apart. After `max_failures` failures in a row each attempt must
    wait 2^k seconds (capped at `delay_cap`) — an attacker is slowed, the owner is never locked out
    for long, and `unlock` clears the pause at once.
    """
    moment = now or _now()
    key = _key(username)
    with store.sessions() as session:
        row = session.execute(
            select(User.id, User.password_hash, User.active).where(User.username == username)
        ).first()
        pause = session.scalar(select(SignInFailure.not_before).where(SignInFailure.username == key))
    waiting_until = _aware(pause)
    if waiting_until is not None and waiting_until > moment:
        return LoginResult(LoginOutcome.THROTTLED, retry_after=_whole_seconds(waiting_until - moment))
    stored = row.password_hash if row is not None else None
    verified = False
    try:
        verified = _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        verified = False
    if not verified or row is None:
        # no audit entry here: a write only real users got would tell them apart by time
        _record_failure(store, key, moment, max_failures=max_failures, cap=delay_cap)
        return LoginResult(LoginOutcome.BAD)
    if not row.active:
        return LoginResult(LoginOutcome.INACTIVE)
    # a stale hash is upgraded here, still outside any transaction
    fresh = _hasher.hash(password) if stored and _hasher.check_needs_rehash(stored) else None
    with store.transaction() as session:
        user = session.get(User, row.id)
        if user is None or user.password_hash != stored:
            # changed or removed while we verified: the password checked is no longer the password
            return LoginResult(LoginOutcome.BAD)
        if fresh is not None:
            user.password_hash = fresh
        user.failed_logins = 0
        user.locked_until = None
        user.last_login_at = moment
        session.execute(delete(SignInFailure).where(SignInFailure.username == key))
        session.flush()
        return LoginResult(LoginOutcome.OK, _view(session, user))


def _whole_seconds(delta: dt.timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))


def _record_failure(store: Store, key: str, moment: dt.datetime, *, max_failures: int, cap: int) -> int:
    """Count one failure for the name; returns the pause it now has to wait (0: none yet)."""
    with store.transaction() as session:
        # failures "in a row" end after a quiet day; this also keeps made-up names from piling up
        session.execute(delete(SignInFailure).where(SignInFailure.last_failed_at < moment - FORGET_AFTER))
        insert_ignore(
            session,
            SignInFailure,
            {"username": key, "failures": 0, "not_before": None, "last_failed_at": moment},
        )
        # one UPDATE adds the failure, so concurrent failures all count
        count = session.execute(
            update(SignInFailure)
            .where(SignInFailure.username == key)
            .values(failures=SignInFailure.failures + 1, last_failed_at=moment)
            .returning(SignInFailure.failures)
        ).scalar_one()
        pause = pause_after(count, max_failures=max_failures, cap=cap)
        if pause:
            session.execute(
                update(SignInFailure)
                .where(SignInFailure.username == key)
                .values(not_before=moment + dt.timedelta(seconds=pause))
            )
        return pause


def ensure_user(
    store: Store, *, username: str, role: str, projects: Iterable[str] = (), by: Principal
) -> tuple[UserView, str | None]:
    """The demo's users: created with a fresh password if missing; existing ones are left alone."""
    found = get_user(store, username)
    if found is not None:
        return found, None
    return create_user(store, username=username, role=role, projects=projects, by=by)
