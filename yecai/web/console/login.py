"""Signing in to the console and out of it, and the language switch.

The sign-in form is protected against login CSRF (an attacker's page signing a victim into the
attacker's account) with a double-submit token: a random value in a SameSite=Strict, HttpOnly
cookie and the same value in the form. After sign-in the browser goes back to the page it came
from — only if that is a path on this site (no open redirect). Passwords are checked by
`yecai.auth.users` (argon2id, lock-out) through the API's `sign_in`, so both doors behave alike.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yecai.auth import users
from yecai.auth.sessions import close_session, resolve_session
from yecai.web.api.session import refusal_status, retry_headers, set_session_cookie, sign_in
from yecai.web.console import i18n
from yecai.web.console.rendering import Notice, local_path, notice, render
from yecai.web.security import PUBLIC, SESSION_COOKIE, SIGNED_IN, WebAuth, allow

router = APIRouter(include_in_schema=False)

LOGIN_CSRF_COOKIE = "yecai_login_csrf"
LOGIN_CSRF_SECONDS = 3600
LANG_SECONDS = 365 * 24 * 3600


def _after_login(value: str | None) -> str:
    target = local_path(value)
    return "/" if target.startswith(("/login", "/logout", "/lang/")) else target


def _secure(request: Request) -> bool:
    auth: WebAuth = request.app.state.auth
    return auth.settings.cookie_secure


def _login_page(
    request: Request, *, next_path: str, status: int = 200, message: Notice | None = None, username: str = ""
) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        status=status,
        notice=message,
        login_csrf=token,
        next=next_path,
        username=username,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=LOGIN_CSRF_SECONDS,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/login",
    )
    return response


@router.get("/login", dependencies=[allow(PUBLIC)])
def login_form(request: Request, next: str = Query("/", max_length=2000)) -> Response:
    target = _after_login(next)
    if request.cookies.get(SESSION_COOKIE):
        # already signed in (a live session): straight on; a dead cookie just shows the form
        auth: WebAuth = request.app.state.auth
        if resolve_session(auth.store, request.cookies[SESSION_COOKIE], idle=auth.idle) is not None:
            return RedirectResponse(target, status_code=303)
    return _login_page(request, next_path=target)


@router.post("/login", dependencies=[allow(PUBLIC)])
async def login(
    request: Request,
    username: str = Form("", max_length=64),
    password: str = Form("", max_length=1024),
    csrf_token: str = Form("", max_length=200),
    next: str = Form("/", max_length=2000),
) -> Response:
    target = _after_login(next)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf_token):
        return _login_page(
            request,
            next_path=target,
            status=403,
            message=notice("login.expired", ok=False),
            username=username,
        )
    result, cookie, _csrf = await sign_in(request, username.strip(), password)
    if cookie is None or result.user is None:
        zh, en = users.LOGIN_MESSAGES[result.outcome]
        page = _login_page(
            request,
            next_path=target,
            status=refusal_status(result),
            message=Notice(False, zh, en),
            username=username,
        )
        page.headers.update(retry_headers(result))
        return page
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, request, cookie)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    if request.cookies.get(i18n.COOKIE) not in i18n.LANGUAGES:
        _set_language(response, request, result.user.language)
    return response


@router.post("/logout", dependencies=[allow(SIGNED_IN)])
def logout(request: Request) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        close_session(request.app.state.auth.store, cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _set_language(response: Response, request: Request, lang: str) -> None:
    response.set_cookie(
        i18n.COOKIE,
        i18n.choose(lang, None),
        max_age=LANG_SECONDS,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )


@router.get("/lang/{lang}", dependencies=[allow(PUBLIC)])
def switch_language(request: Request, lang: str, next: str = Query("/", max_length=2000)) -> Response:
    # a preference, not a change of data: a GET is right, and it needs no CSRF token
    response = RedirectResponse(local_path(next), status_code=303)
    _set_language(response, request, lang)
    return response
