"""Console pages for people: the audit log, users and roles, API tokens, and one's own account.

Users are managed with `manage_users` (admin). A generated password or a new token is shown once,
on the page that answers the form, and never again. The audit log is scoped by the service:
auditors and administrators see every entry, others their own actions and their projects'.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yecai.auth import audit, sessions, users
from yecai.auth.roles import ROLE_PERMISSIONS, Permission, Role
from yecai.errors import DataError, YecaiError
from yecai.web.console.rendering import Notice, local_path, not_found_page, notice, problem, render, status_of
from yecai.web.console.routes import ctx_of
from yecai.web.security import SESSION_COOKIE, SIGNED_IN, allow, caller

router = APIRouter(include_in_schema=False)
MANAGE = [allow(Permission.MANAGE_USERS)]
AUDIT_PAGE = 100


def _codes(text: str) -> list[str]:
    return [code.strip() for code in text.replace("，", ",").split(",") if code.strip()]


# --- audit log --------------------------------------------------------------------------------


@router.get("/audit", dependencies=[allow(Permission.READ)])
def audit_page(
    request: Request,
    actor: str | None = Query(None, max_length=64),
    action: str | None = Query(None, max_length=60),
    target_type: str | None = Query(None, max_length=40),
    target_id: str | None = Query(None, max_length=200),
    before_id: int | None = Query(None, ge=1),
) -> HTMLResponse:
    filters = {
        "actor": actor or None,
        "action": action or None,
        "target_type": target_type or None,
        "target_id": target_id or None,
        "before_id": before_id,
    }
    rows = audit.entries(ctx_of(request).store, caller(request), limit=AUDIT_PAGE + 1, **filters)
    older = rows[AUDIT_PAGE - 1].id if len(rows) > AUDIT_PAGE else None
    return render(request, "audit.html", rows=rows[:AUDIT_PAGE], filters=filters, older=older)


# --- users and tokens -------------------------------------------------------------------------


def _users_page(request: Request, message: Notice | None = None, status: int = 200) -> HTMLResponse:
    store = ctx_of(request).store
    roles = [r.value for r in Role]
    permissions = [p.value for p in Permission]
    grants = {r.value: {p.value: p in ROLE_PERMISSIONS[r] for p in Permission} for r in Role}
    return render(
        request,
        "users.html",
        status=status,
        rows=users.list_users(store),
        tokens=sessions.list_tokens(store),
        roles=roles,
        permissions=permissions,
        grants=grants,
        now=dt.datetime.now(dt.UTC),
        notice=message,
    )


@router.get("/users", dependencies=MANAGE)
def users_page(request: Request) -> HTMLResponse:
    return _users_page(request)


@router.post("/users", dependencies=MANAGE)
def create_user(
    request: Request,
    username: str = Form(..., max_length=64),
    role: str = Form(..., max_length=20),
    projects: str = Form("", max_length=5000),
    display_name: str = Form("", max_length=120),
    language: str = Form("zh", pattern="^(zh|en)$"),
    password: str = Form("", max_length=1024),
) -> HTMLResponse:
    try:
        view, secret = users.create_user(
            ctx_of(request).store,
            username=username.strip(),
            role=role,
            by=caller(request),
            password=password or None,
            projects=_codes(projects),
            display_name=display_name.strip() or None,
            language=language,
        )
    except YecaiError as exc:
        return _users_page(request, problem(exc), status_of(exc))
    created = notice("users.created", username=view.username)
    if password:
        return _users_page(request, created, 201)
    once = notice("users.password_once")  # a generated password: shown to the administrator this once
    shown = Notice(True, f"{created.zh}。{once.zh}", f"{created.en}. {once.en}", secret)
    return _users_page(request, shown, 201)


@router.post("/users/{username}", dependencies=MANAGE)
def update_user(
    request: Request,
    username: str,
    role: str = Form(..., max_length=20),
    projects: str = Form("", max_length=5000),
    display_name: str = Form("", max_length=120),
    language: str = Form("zh", pattern="^(zh|en)$"),
) -> HTMLResponse:
    who = caller(request)
    store = ctx_of(request).store
    try:
        if users.get_user(store, username) is None:
            return not_found_page(request)
        if username == who.username and role != who.role:
            raise DataError("不能修改自己的角色", "you cannot change your own role")
        users.update_user(
            store,
            username,
            by=who,
            role=role,
            projects=_codes(projects),
            display_name=display_name.strip(),
            language=language,
        )
    except YecaiError as exc:
        return _users_page(request, problem(exc), status_of(exc))
    return _users_page(request, notice("users.updated", username=username))


def _set_active(request: Request, username: str, active: bool) -> HTMLResponse:
    who = caller(request)
    store = ctx_of(request).store
    if users.get_user(store, username) is None:
        return not_found_page(request)
    if username == who.username:
        return _users_page(
            request, Notice(False, "不能停用或启用自己", "you cannot disable or enable yourself"), 422
        )
    users.update_user(store, username, by=who, active=active)
    return _users_page(request, notice("users.updated", username=username))


@router.post("/users/{username}/disable", dependencies=MANAGE)
def disable_user(request: Request, username: str) -> HTMLResponse:
    return _set_active(request, username, False)


@router.post("/users/{username}/enable", dependencies=MANAGE)
def enable_user(request: Request, username: str) -> HTMLResponse:
    return _set_active(request, username, True)


@router.post("/users/{username}/unlock", dependencies=MANAGE)
def unlock_user(request: Request, username: str) -> HTMLResponse:
    store = ctx_of(request).store
    if users.get_user(store, username) is None:
        return not_found_page(request)
    users.unlock(store, username, by=caller(request))
    return _users_page(request, notice("users.unlocked", username=username))


@router.post("/users/{username}/password", dependencies=MANAGE)
def reset_password(request: Request, username: str) -> HTMLResponse:
    store = ctx_of(request).store
    if users.get_user(store, username) is None:
        return not_found_page(request)
    secret = users.new_password()
    users.set_password(store, username, secret, by=caller(request))
    return _users_page(request, notice("users.password_reset", username=username, secret=secret))


def _token_owner_page(request: Request, back: str, message: Notice, status: int = 200) -> HTMLResponse:
    if back == "/users" and caller(request).can(Permission.MANAGE_USERS):
        return _users_page(request, message, status)
    return _account_page(request, message, status)


@router.post("/tokens", dependencies=[allow(SIGNED_IN)])
def create_token(
    request: Request,
    name: str = Form(..., max_length=80),
    username: str = Form("", max_length=64),
    days: str = Form("", max_length=5),
    back: str = Form("/account", max_length=20),
) -> HTMLResponse:
    who = caller(request)
    owner = username.strip() or who.username
    if owner != who.username and not who.can(Permission.MANAGE_USERS):
        return _account_page(
            request,
            Notice(False, "只有管理员能为他人创建令牌", "only administrators create tokens for others"),
            403,
        )
    try:
        valid = int(days) if days.strip() else None
        if valid is not None and not 1 <= valid <= 3650:
            raise ValueError(valid)
    except ValueError:
        return _token_owner_page(
            request, back, Notice(False, "有效天数须为 1–3650", "days must be 1–3650"), 422
        )
    try:
        _view, secret = sessions.create_token(
            ctx_of(request).store, username=owner, name=name, by=who, days=valid
        )
    except YecaiError as exc:
        return _token_owner_page(request, back, problem(exc), status_of(exc))
    return _token_owner_page(request, back, notice("users.token_once", secret=secret), 201)


@router.post("/tokens/{token_id}/revoke", dependencies=[allow(SIGNED_IN)])
def revoke_token(request: Request, token_id: int, back: str = Form("/account", max_length=20)) -> Response:
    who = caller(request)
    store = ctx_of(request).store
    mine = None if who.can(Permission.MANAGE_USERS) else who.username
    if token_id not in {t.id for t in sessions.list_tokens(store, username=mine)}:
        return not_found_page(request)
    sessions.revoke_token(store, token_id, by=who)
    return _token_owner_page(request, local_path(back, "/account"), notice("users.revoked"))


# --- own account ------------------------------------------------------------------------------


def _account_page(request: Request, message: Notice | None = None, status: int = 200) -> HTMLResponse:
    who = caller(request)
    store = ctx_of(request).store
    return render(
        request,
        "account.html",
        status=status,
        user=users.get_user(store, who.username),
        tokens=sessions.list_tokens(store, username=who.username),
        notice=message,
    )


@router.get("/account", dependencies=[allow(SIGNED_IN)])
def account_page(request: Request) -> HTMLResponse:
    return _account_page(request)


@router.post("/account/password", dependencies=[allow(SIGNED_IN)])
def change_password(
    request: Request, current: str = Form(..., max_length=1024), new: str = Form(..., max_length=1024)
) -> Response:
    who = caller(request)
    ctx = ctx_of(request)
    result = users.authenticate(
        ctx.store,
        who.username,
        current,
        max_failures=ctx.settings.login_max_failures,
        delay_cap=ctx.settings.login_delay_cap_seconds,
        ip=who.ip,
    )
    if result.outcome is not users.LoginOutcome.OK:
        return _account_page(request, notice("account.wrong", ok=False), 403)
    try:
        users.set_password(ctx.store, who.username, new, by=who)  # ends every session of the user
    except YecaiError as exc:
        return _account_page(request, problem(exc), status_of(exc))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
