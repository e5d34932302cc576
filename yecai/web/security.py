"""Who may call which route: sign-in by session cookie or API token, CSRF, security headers.

Every route declares exactly one access rule in its own decorator — `dependencies=[allow(READ)]`
(or `PUBLIC`, `SIGNED_IN`) — and `check_rules` refuses to build an app with a route that has
none, so a new route can never be open by omission; the role-matrix test reads the same rules.
A cookie-authenticated request that changes anything must carry the session's CSRF token
(header `X-CSRF-Token` or form field `csrf_token`); bearer tokens are not ambient, so they need
none. Unauthenticated callers of the API get 401 JSON; of the console, a redirect to /login.
"""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from yecai.auth.principal import Principal
from yecai.auth.roles import Permission
from yecai.auth.sessions import resolve_session, resolve_token
from yecai.auth.throttle import SignInGuard
from yecai.settings import Settings
from yecai.store.db import Store

SESSION_COOKIE = "yecai_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

PUBLIC = "public"  # health checks, metrics, webhooks (signed by their sender), the sign-in page
SIGNED_IN = "signed_in"  # any signed-in user: their own profile, sign-out


class NotSignedIn(Exception):
    """No valid session or token: 401 for the API, a redirect to /login for the console."""


class Forbidden(Exception):
    """Signed in, but the role lacks the route's permission (or the CSRF token is wrong)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh = zh
        self.en = en


@dataclass(frozen=True, slots=True)
class WebAuth:
    """What the guards need, kept on `app.state.auth`."""

    store: Store
    settings: Settings
    guard: SignInGuard = field(init=False)

    def __post_init__(self) -> None:
        # one gate per app: the rate-limit counters and the verification slots of this process
        settings = self.settings
        guard = SignInGuard(
            per_address=settings.login_rate_per_address,
            per_account=settings.login_rate_per_account,
            storage_url=settings.limits_storage_url(),
            concurrent=settings.login_concurrent_verifications,
            wait_seconds=settings.login_verify_wait_seconds,
        )
        object.__setattr__(self, "guard", guard)

    @property
    def idle(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.settings.session_idle_minutes)

    @property
    def absolute(self) -> dt.timedelta:
        return dt.timedelta(hours=self.settings.session_max_hours)


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def identify(request: Request) -> tuple[Principal | None, str | None]:
    """(caller, CSRF token of their session) — the token is None for bearer-token callers."""
    cached = getattr(request.state, "identity", None)
    if cached is not None:
        return cached
    auth: WebAuth = request.app.state.auth
    found: tuple[Principal | None, str | None] = (None, None)
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        user = await run_in_threadpool(resolve_token, auth.store, header[7:].strip())
        if user is not None:
            found = (user.principal(via="api", ip=client_ip(request)), None)
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            info = await run_in_threadpool(resolve_session, auth.store, cookie, idle=auth.idle)
            if info is not None:
                via = "api" if request.url.path.startswith("/api/") else "console"
                found = (info.user.principal(via=via, ip=client_ip(request)), info.csrf_token)
    request.state.identity = found
    return found


async def _csrf_ok(request: Request, expected: str) -> bool:
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    return given is not None and hmac.compare_digest(given, expected)


class Guard:
    """The access rule of one route; FastAPI calls it before the route's own code."""

    def __init__(self, rule: Permission | str) -> None:
        self.rule = rule

    def __repr__(self) -> str:
        return f"Guard({self.rule})"

    async def __call__(self, request: Request) -> Principal | None:
        if self.rule == PUBLIC:
            return None
        who, csrf = await identify(request)
        if who is None:
            raise NotSignedIn
        if request.method not in SAFE_METHODS and csrf is not None and not await _csrf_ok(request, csrf):
            raise Forbidden(
                "请求缺少有效的 CSRF 令牌，请刷新页面后重试",
                "the request lacks a valid CSRF token; reload the page and try again",
            )
        if self.rule != SIGNED_IN and not who.can(self.rule):
            raise Forbidden(
                f"角色 {who.role} 无权执行此操作（需要 {self.rule}）",
                f"role {who.role} may not do this (needs {self.rule})",
            )
        request.state.principal = who
        return who


def allow(rule: Permission | str) -> Any:
    """`dependencies=[allow(Permission.READ)]` on every route."""
    return Depends(Guard(rule))


def caller(request: Request) -> Principal:
    """The principal the route's guard admitted (use in routes whose rule is not PUBLIC)."""
    who = getattr(request.state, "principal", None)
    if who is None:  # a route declared PUBLIC asked for a caller: a programming error, fail closed
        raise NotSignedIn
    return who


def rule_of(route: APIRoute) -> Permission | str | None:
    guards = [dep.call for dep in route.dependant.dependencies if isinstance(dep.call, Guard)]
    if len(guards) != 1:
        return None
    return guards[0].rule


def api_routes(app: FastAPI) -> list[tuple[APIRoute, str]]:
    """Every API route of the app with its full path, included routers flattened."""
    try:  # FastAPI ≥ 0.16x keeps included routers as nodes; this walks them
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI copies routes into app.routes
        return [(route, route.path) for route in app.routes if isinstance(route, APIRoute)]
    found: list[tuple[APIRoute, str]] = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            found.append((route, context.path or route.path))
    return found


def check_rules(app: FastAPI) -> None:
    """Refuse to serve a route without exactly one access rule."""
    missing = [
        f"{','.join(sorted(route.methods))} {path}"
        for route, path in api_routes(app)
        if rule_of(route) is None
    ]
    if missing:
        raise RuntimeError(
            "routes without an access rule (add dependencies=[allow(...)]): " + "; ".join(missing)
        )


# Content Security Policy: everything from our own origin (htmx and ECharts are vendored);
# inline styles are allowed for ECharts' generated markup, inline scripts are not.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


class SecurityHeaders:
    """Security headers on every HTTP response: pages, API answers, errors and static files.

    Pure ASGI (it only adds headers to the response's start message), not `BaseHTTPMiddleware`,
    which runs each request through an extra task and memory streams — a cost every webhook paid.
    A header the route set itself is kept, as `setdefault` would.
    """

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        fixed = [
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "same-origin"),
            ("permissions-policy", "camera=(), microphone=(), geolocation=()"),
            ("cross-origin-opener-policy", "same-origin"),
            ("content-security-policy", CSP),
        ]
        if hsts:
            fixed.append(("strict-transport-security", "max-age=31536000"))
        self._fixed = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in fixed]
        # pages and API answers carry business data: never kept by browsers or proxies
        self._no_store = (b"cache-control", b"no-store")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self._fixed
        if not scope["path"].startswith("/static/"):
            extra = [*extra, self._no_store]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _value in headers}
                headers.extend(pair for pair in extra if pair[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
