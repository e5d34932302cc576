"""Signing in and out over the API, and the caller's own profile and password.

`POST /api/v1/session` answers with the session cookie (HttpOnly, SameSite=Lax) and the CSRF
token the caller must send back on every change; scripts and agents use API tokens instead.
A wrong password and an unknown user get the same 401; too many attempts get the same 429 with
Retry-After, whether the name exists or not.
"""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from yecai.auth import users
from yecai.auth.roles import Permission
from yecai.auth.sessions import close_session, open_session
from yecai.auth.throttle import SignInBusy
from yecai.errors import YecaiError
from yecai.web.api.common import from_error, plain, problem
from yecai.web.context import WebContext, context
from yecai.web.security import PUBLIC, SESSION_COOKIE, SIGNED_IN, WebAuth, allow, caller, client_ip

router = APIRouter(prefix="/api/v1", tags=["session 会话"])


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class PasswordChange(BaseModel):
    current: str = Field(min_length=1, max_length=1024)
    new: str = Field(min_length=1, max_length=1024)


def set_session_cookie(response: Response, request: Request, cookie: str) -> None:
    auth: WebAuth = request.app.state.auth
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=int(auth.absolute.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=auth.settings.cookie_secure,
        path="/",
    )


async def sign_in(
    request: Request, username: str, password: str
) -> tuple[users.LoginResult, str | None, str | None]:
    """Check the password and open a session: (result, cookie, csrf) — cookie None unless OK.

    Rate limits come first (cheap, no database); then the check waits for one of the few
    verification slots, so a flood of sign-ins never starves the event loop or the database pool.
    """
    auth: WebAuth = request.app.state.auth
    guard = auth.guard
    address = client_ip(request) or "-"
    if guard.local:
        wait = guard.admit(address, username)
    else:
        wait = await run_in_threadpool(guard.admit, address, username)
    if wait is not None:
        return users.LoginResult(users.LoginOutcome.THROTTLED, retry_after=wait), None, None
    try:
        async with guard.verifying():
            result = await run_in_threadpool(
                partial(
                    users.authenticate,
                    auth.store,
                    username,
                    password,
                    max_failures=auth.settings.login_max_failures,
                    delay_cap=auth.settings.login_delay_cap_seconds,
                    ip=client_ip(request),
                )
            )
    except SignInBusy:
        return users.LoginResult(users.LoginOutcome.THROTTLED, retry_after=1), None, None
    if result.outcome is not users.LoginOutcome.OK or result.user is None:
        return result, None, None
    cookie, csrf = await run_in_threadpool(
        partial(
            open_session,
            auth.store,
            result.user,
            absolute=auth.absolute,
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
        )
    )
    return result, cookie, csrf


def refusal_status(result: users.LoginResult) -> int:
    """401 for a wrong name or password (and a disabled account), 429 for too many attempts."""
    return 429 if result.outcome is users.LoginOutcome.THROTTLED else 401


def retry_headers(result: users.LoginResult) -> dict[str, str]:
    return {"Retry-After": str(result.retry_after)} if result.retry_after else {}


@router.post("/session", dependencies=[allow(PUBLIC)], summary="登录 · sign in")
async def login(body: Credentials, request: Request, response: Response) -> dict[str, object]:
    result, cookie, csrf = await sign_in(request, body.username, body.password)
    if cookie is None or result.user is None:
        zh, en = users.LOGIN_MESSAGES[result.outcome]
        failure = problem(refusal_status(result), zh, en)
        failure.headers = retry_headers(result)
        raise failure
    set_session_cookie(response, request, cookie)
    return {"user": plain(result.user), "csrf_token": csrf}


@router.delete("/session", dependencies=[allow(SIGNED_IN)], summary="退出 · sign out")
async def logout(request: Request, response: Response) -> dict[str, str]:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await run_in_threadpool(close_session, request.app.state.auth.store, cookie)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return {"status": "signed_out"}


@router.get("/me", dependencies=[allow(SIGNED_IN)], summary="当前用户 · who am I")
async def me(request: Request, ctx: WebContext = Depends(context)) -> dict[str, object]:
    who = caller(request)
    user = await run_in_threadpool(users.get_user, ctx.store, who.username)
    return {
        "user": plain(user),
        "permissions": sorted(p.value for p in Permission if who.can(p)),
        "via": who.via,
    }


@router.post("/me/password", dependencies=[allow(SIGNED_IN)], summary="修改密码 · change my password")
async def change_password(
    body: PasswordChange, request: Request, ctx: WebContext = Depends(context)
) -> dict[str, str]:
    who = caller(request)
    result = await run_in_threadpool(
        users.authenticate,
        ctx.store,
        who.username,
        body.current,
        max_failures=ctx.settings.login_max_failures,
        delay_cap=ctx.settings.login_delay_cap_seconds,
        ip=who.ip,
    )
    if result.outcome is not users.LoginOutcome.OK:
        raise problem(422, "当前密码不正确", "the current password is wrong")
    try:
        await run_in_threadpool(users.set_password, ctx.store, who.username, body.new, by=who)
    except YecaiError as exc:
        raise from_error(exc) from None
    return {"status": "changed"}
