"""The sandbox.pm web application: a data set served as of a simulated clock, over REST.

`create_app` generates a Dataset and returns the FastAPI app; `build_app` serves one you already
have (the start helper uses it so that callers get the very Dataset being served). Everything
answers JSON: successes in the {"code": 0, "message": "ok", "data": …} envelope, failures as
{"code": …, "message": "中文 / English"}. /healthz, /docs and /openapi.json need no credentials.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from yecai.sandbox.pm.admin import admin_router
from yecai.sandbox.pm.auth import DEFAULT_TOKEN, AuthConfig, AuthMode
from yecai.sandbox.pm.data import generate
from yecai.sandbox.pm.errors import ApiError, bilingual
from yecai.sandbox.pm.models import DIRECT_CATEGORIES, Dataset
from yecai.sandbox.pm.params import explain_validation
from yecai.sandbox.pm.routes import api_router
from yecai.sandbox.pm.runtime import PmRuntime, ServerOptions
from yecai.sandbox.pm.serialise import DecimalJSONResponse

__all__ = ["DEFAULT_TOKEN", "build_app", "create_app"]

_DESCRIPTION = """\
参考工程项目管理系统（沙箱）· a reference construction project-management system, shipped with yecai.

Deterministic data generated from a seed: projects, BOQ, budgets, contracts, cost records of six
categories, monthly progress and valuations, payment requests, invoices in and out, real-name
workers and their daily attendance — a timeline shown as of the server's simulated clock
(`/admin/clock`). Pagination varies by endpoint (page number, offset, cursor). Authenticate with
`Authorization: Bearer <token>` or an HMAC signature (X-App-Key, X-Timestamp, X-Nonce, X-Sign), as
the server was started. Money and quantities are JSON numbers with exact decimal text: parse them
with `json.loads(text, parse_float=Decimal)`. See docs/sandbox-pm.md.
"""


def create_app(
    projects: int = 50,
    months: int = 1,
    seed: int = 42,
    start_month: str = "2026-10",
    token: str = DEFAULT_TOKEN,
    *,
    bad_rate: float = 0.0,
    options: ServerOptions | None = None,
) -> FastAPI:
    """Generate the data set (once) and return the app that serves it."""
    dataset = generate(
        projects=projects, months=months, seed=seed, start_month=start_month, bad_rate=bad_rate
    )
    return build_app(dataset, token, options=options)


def build_app(
    dataset: Dataset, token: str = DEFAULT_TOKEN, *, options: ServerOptions | None = None
) -> FastAPI:
    """The app serving `dataset`. Without `options`, requests need `Authorization: Bearer <token>`.

    With `options`, its `auth` decides (and `token` is ignored); `app.state.runtime` is the live
    state (clock, webhooks) — start and stop its background parts with the server.
    """
    if options is None:
        if not token:
            raise ValueError("token must not be empty: the sandbox always asks for a Bearer token")
        options = ServerOptions(auth=AuthConfig(token=token))
    runtime = PmRuntime(dataset, options)
    app = FastAPI(title="yecai sandbox.pm · 参考工程项目管理系统", version="2", description=_DESCRIPTION)
    app.state.dataset = dataset
    app.state.runtime = runtime
    require = _auth_dependency(runtime)
    app.include_router(api_router(runtime), dependencies=[Depends(require)])
    app.include_router(admin_router(runtime), dependencies=[Depends(require)])

    @app.get("/healthz", tags=["health"], summary="存活检查 · liveness, no credentials needed")
    def healthz() -> dict[str, Any]:
        now = runtime.now()
        return {
            "status": "ok",
            "service": "yecai sandbox.pm",
            "seed": dataset.seed,
            "start_month": dataset.start_month,
            "months": dataset.months,
            "now": now.isoformat(),
            "auth": runtime.options.auth.mode.value,
            "projects": len(runtime.listing("project").rows(now)),
            "cost_records": sum(
                1 for r in runtime.listing("cost_record").rows(now) if r.category in DIRECT_CATEGORIES
            ),
        }

    _install_error_handlers(app)
    return app


def _auth_dependency(runtime: PmRuntime) -> Callable[..., None]:
    """The dependency that checks credentials; its declared headers document the scheme in OpenAPI."""
    authenticator = runtime.auth
    mode = runtime.options.auth.mode
    bearer = HTTPBearer(auto_error=False, description=f"The sandbox token (default `{DEFAULT_TOKEN}`)")
    app_key = APIKeyHeader(
        name="X-App-Key", scheme_name="X-App-Key", auto_error=False, description="HMAC: the app key"
    )
    stamp = APIKeyHeader(
        name="X-Timestamp",
        scheme_name="X-Timestamp",
        auto_error=False,
        description="HMAC: Unix seconds, ±300 s",
    )
    nonce = APIKeyHeader(
        name="X-Nonce", scheme_name="X-Nonce", auto_error=False, description="HMAC: 8–64 [A-Za-z0-9_-], once"
    )
    signature = APIKeyHeader(
        name="X-Sign",
        scheme_name="X-Sign",
        auto_error=False,
        description="HMAC: hex HMAC-SHA256(secret, METHOD\\nPATH\\nSORTED_QUERY\\nTIMESTAMP\\nNONCE)",
    )

    def check(request: Request) -> None:
        headers = {name: value for name, value in request.headers.items()}
        authenticator.check(
            request.method,
            request.url.path,
            request.scope.get("query_string", b"").decode("latin-1"),
            headers,
            request.headers.get("authorization"),
        )

    # The default-value form, not Annotated: the security objects are local, and string
    # annotations (PEP 563) are resolved against module globals.
    if mode is AuthMode.BEARER:

        def require_bearer(
            request: Request, _token: HTTPAuthorizationCredentials | None = Security(bearer)
        ) -> None:
            check(request)

        return require_bearer
    if mode is AuthMode.HMAC:

        def require_signature(
            request: Request,
            _key: str | None = Security(app_key),
            _stamp: str | None = Security(stamp),
            _nonce: str | None = Security(nonce),
            _sign: str | None = Security(signature),
        ) -> None:
            check(request)

        return require_signature

    def require_either(
        request: Request,
        _token: HTTPAuthorizationCredentials | None = Security(bearer),
        _key: str | None = Security(app_key),
        _stamp: str | None = Security(stamp),
        _nonce: str | None = Security(nonce),
        _sign: str | None = Security(signature),
    ) -> None:
        check(request)

    return require_either


def _install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(request: Request, exc: ApiError) -> Response:
        headers = (
            {"WWW-Authenticate": "Bearer" if exc.code == 40101 else "HMAC-SHA256"}
            if exc.status_code == 401
            else None
        )
        return DecimalJSONResponse(exc.body(), exc.status_code, headers)

    async def on_validation_error(request: Request, exc: RequestValidationError) -> Response:
        error = explain_validation(exc.errors())
        return DecimalJSONResponse(error.body(), error.status_code)

    async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # Unknown paths and wrong methods answer in the same shape as everything else.
        if exc.status_code == 404:
            body = {"code": 40401, "message": bilingual("资源不存在", f"not found: {request.url.path}")}
        elif exc.status_code == 405:
            body = {
                "code": 40501,
                "message": bilingual("不支持该请求方法", f"method {request.method} not allowed"),
            }
        else:
            body = {"code": exc.status_code * 100 + 1, "message": bilingual("请求失败", str(exc.detail))}
        return DecimalJSONResponse(body, exc.status_code, exc.headers)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        body = {
            "code": 50001,
            "message": bilingual("服务器内部错误", f"internal error: {type(exc).__name__}"),
        }
        return DecimalJSONResponse(body, 500)

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
