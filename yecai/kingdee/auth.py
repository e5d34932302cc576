"""How yecai authenticates to Kingdee: httpx auth flows for every login style of K/3 Cloud.

`SignedHeaderAuth` signs every request like the official SDK (第三方系统登录授权, the default).
`LoginAuth` logs in first through AuthService — `ValidateUser` (password), `LoginByAppSecret` or
`LoginBySign` — and reuses the session cookie. Both keep one session for all threads and, when
Kingdee answers MsgCode 1 (session lost: nothing ran), log in again and resend once, which is
safe for any call. A login that Kingdee refuses raises KingdeeError (fix the credentials).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Generator
from typing import Any

import httpx

from yecai import jsonutil
from yecai.errors import Action, Context, Fault
from yecai.kingdee.responses import Outcome
from yecai.kingdee.results import KingdeeError, status_of
from yecai.kingdee.signing import Identity, signed_headers

SESSION_COOKIE = "kdservice-sessionid"
ASP_COOKIE = "ASP.NET_SessionId"
AUTH_SERVICE = "Kingdee.BOS.WebApi.ServicesStub.AuthService."
# LoginResultType 1 = 登录成功; -5 = 需要表单处理, which API integrations treat as logged in [WebAPI §4.4].
LOGGED_IN = frozenset({1, -5})
LOGIN_REFUSED = Outcome(
    Action.FAIL,
    Fault.CONFIGURATION,
    "金蝶登录失败：请核对账套ID、用户名和密码（或AppID/AppSecret）",
    "Kingdee refused the login: check data centre id, user name and password (or AppID/AppSecret)",
    "login_refused",
)


def session_lost(response: httpx.Response) -> bool:
    """True when Kingdee answered MsgCode 1 (上下文丢失): the call did not run."""
    if response.status_code != 200 or b'"MsgCode":1' not in response.content.replace(b" ", b""):
        return False
    try:
        status = status_of(jsonutil.loads(response.content))
    except ValueError:
        return False
    return status is not None and status.get("MsgCode") == 1 and not status.get("IsSuccess")


class _Session:
    """The current Kingdee session id, shared by all threads of one client."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sid: str | None = None
        self.cookies: dict[str, str] = {}

    def get(self) -> tuple[str | None, dict[str, str]]:
        with self._lock:
            return self.sid, dict(self.cookies)

    def remember(self, response: httpx.Response) -> None:
        sid = response.cookies.get(SESSION_COOKIE)
        asp = response.cookies.get(ASP_COOKIE)
        with self._lock:
            if sid:
                self.sid = sid
                self.cookies[SESSION_COOKIE] = sid
            if asp:
                self.cookies[ASP_COOKIE] = asp

    def set(self, sid: str) -> None:
        with self._lock:
            self.sid = sid
            self.cookies[SESSION_COOKIE] = sid

    def forget(self, stale: str | None) -> None:
        with self._lock:
            if self.sid == stale:
                self.sid = None
                self.cookies.clear()


def _attach(request: httpx.Request, sid: str | None, cookies: dict[str, str]) -> None:
    if sid:
        request.headers[SESSION_COOKIE] = sid
        request.headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    else:
        request.headers.pop(SESSION_COOKIE, None)
        request.headers.pop("Cookie", None)


class SignedHeaderAuth(httpx.Auth):
    """Signs every request like the official SDK; the server opens sessions silently (§4.2)."""

    requires_response_body = True

    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self.session = _Session()

    def _sign(self, request: httpx.Request) -> None:
        for name, value in signed_headers(self.identity, str(request.url)).items():
            request.headers[name] = value

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        sid, cookies = self.session.get()
        self._sign(request)
        _attach(request, sid, cookies)
        response = yield request
        self.session.remember(response)
        if sid and session_lost(response):
            # The stale SID was refused before anything ran; a fresh signature is a new login.
            self.session.forget(sid)
            self._sign(request)
            _attach(request, None, {})
            response = yield request
            self.session.remember(response)


class LoginAuth(httpx.Auth):
    """Log in through AuthService, then reuse the session; log in again when it is lost."""

    requires_response_body = True

    def __init__(self, service: str, body: Callable[[], dict[str, Any]]) -> None:
        self.service = service
        self._body = body
        self.session = _Session()

    def _login_request(self, request: httpx.Request) -> httpx.Request:
        url = str(request.url)
        login_url = url[: url.rfind("/") + 1] + f"{AUTH_SERVICE}{self.service}.common.kdsvc"
        return httpx.Request(
            "POST",
            login_url,
            content=jsonutil.dumps(self._body()).encode("utf-8"),
            headers={"Content-Type": "application/json"},
        )

    def _login(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        response = yield self._login_request(request)
        try:
            body = jsonutil.loads(response.content)
        except ValueError:
            body = None
        kind = body.get("LoginResultType") if isinstance(body, dict) else None
        if response.status_code != 200 or kind not in LOGGED_IN:
            detail = str(body.get("Message")) if isinstance(body, dict) else response.text[:200]
            raise KingdeeError(LOGIN_REFUSED, detail, context=Context(form_id=self.service))
        self.session.remember(response)
        if self.session.get()[0] is None and body.get("KDSVCSessionId"):
            # Some versions put the session id in the body only (§4.4); keep it as the cookie.
            self.session.set(str(body["KDSVCSessionId"]))

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        sid, cookies = self.session.get()
        if sid is None:
            yield from self._login(request)
            sid, cookies = self.session.get()
        _attach(request, sid, cookies)
        response = yield request
        if session_lost(response):
            self.session.forget(sid)
            yield from self._login(request)
            _attach(request, *self.session.get())
            response = yield request
        self.session.remember(response)


def password_login(acct_id: str, user_name: str, password: str, lcid: int = 2052) -> LoginAuth:
    """AuthService.ValidateUser: a password login of the integration user."""
    return LoginAuth(
        "ValidateUser",
        lambda: {"acctID": acct_id, "username": user_name, "password": password, "lcid": lcid},
    )


def app_secret_login(identity: Identity) -> LoginAuth:
    """AuthService.LoginByAppSecret with the 第三方系统登录授权 AppID/AppSecret."""
    return LoginAuth(
        "LoginByAppSecret",
        lambda: {
            "acctID": identity.acct_id,
            "username": identity.user_name,
            "appId": identity.app_id,
            "appSecret": identity.app_secret,
            "lcid": identity.lcid,
        },
    )


def login_sign(values: list[str], algorithm: str = "sha256") -> str:
    """LoginBySign's sign: hex digest of the ordinal-sorted concatenation of the values (§4.3)."""
    return hashlib.new(algorithm, "".join(sorted(values)).encode("utf-8")).hexdigest()


def sign_login(identity: Identity, algorithm: str = "sha256") -> LoginAuth:
    """AuthService.LoginBySign: the AppSecret never travels, only a timestamped signature."""

    def body() -> dict[str, Any]:
        stamp = str(int(time.time()))
        values = [identity.acct_id, identity.user_name, identity.app_id, identity.app_secret, stamp]
        return {
            "acctID": identity.acct_id,
            "username": identity.user_name,
            "appId": identity.app_id,
            "timestamp": stamp,
            "sign": login_sign(values, algorithm),
            "lcid": identity.lcid,
        }

    return LoginAuth("LoginBySign", body)
