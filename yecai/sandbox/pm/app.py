"""The sandbox.pm web application: data generated once, served over a Bearer-protected REST API.

`create_app` generates a Dataset and returns the FastAPI app; `build_app` serves one you already
have (the start helper uses it so that callers get the very Dataset being served). Everything
answers JSON: successes in the {"code": 0, "message": "ok", "data": …} envelope, failures as
{"code": …, "message": "中文 / English"}. /healthz, /docs and /openapi.json need no token.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import Depends, FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from yecai.sandbox.pm.data import generate
from yecai.sandbox.pm.errors import ApiError, bilingual, invalid_token
from yecai.sandbox.pm.models import Dataset
from yecai.sandbox.pm.params import explain_validation
from yecai.sandbox.pm.routes import api_router
from yecai.sandbox.pm.serialise import DecimalJSONResponse

DEFAULT_TOKEN = "yecai-pm-sandbox"

_DESCRIPTION = """\
参考工程项目管理系统（沙箱）· a reference construction project-management system, shipped with yecai.

Deterministic data (projects, daily 人工费 / 材料费 / 机械使用费 cost records) generated from a seed.
Authenticate with `Authorization: Bearer <token>`. Money and quantities are JSON numbers with exact
decimal text: parse them with `json.loads(text, parse_float=Decimal)`.
"""


def create_app(
    projects: int = 50,
    months: int = 1,
    seed: int = 42,
    start_month: str = "2026-10",
    token: str = DEFAULT_TOKEN,
) -> FastAPI:
    """Generate the data set (once) and return the app that serves it."""
    return build_app(generate(projects=projects, months=months, seed=seed, start_month=start_month), token)


def build_app(dataset: Dataset, token: str = DEFAULT_TOKEN) -> FastAPI:
    """The app serving `dataset`; requests to /api/v1 must carry `Authorization: Bearer <token>`."""
    if not token:
        raise ValueError("token must not be empty: the sandbox always asks for a Bearer token")
    app = FastAPI(title="yecai sandbox.pm · 参考工程项目管理系统", version="1", description=_DESCRIPTION)
    app.state.dataset = dataset
    expected = token.encode("utf-8")
    bearer = HTTPBearer(auto_error=False, description=f"The sandbox token (default `{DEFAULT_TOKEN}`)")

    # The default-value form, not Annotated: `bearer` is local, and string annotations (PEP 563)
    # are resolved against module globals.
    def require_token(credentials: HTTPAuthorizationCredentials | None = Security(bearer)) -> None:
        # compare_digest: the sandbox is often exposed on a LAN, so no timing hints about the token
        if credentials is None or not secrets.compare_digest(
            credentials.credentials.encode("utf-8"), expected
        ):
            raise invalid_token()

    app.include_router(api_router(dataset), dependencies=[Depends(require_token)])

    @app.get("/healthz", tags=["health"], summary="存活检查 · liveness, no token needed")
    def healthz() -> dict[str, Any]:
        return {
            "status": "ok",
            "service": "yecai sandbox.pm",
            "seed": dataset.seed,
            "start_month": dataset.start_month,
            "months": dataset.months,
            "projects": len(dataset.projects),
            "cost_records": len(dataset.cost_records),
        }

    _install_error_handlers(app)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(request: Request, exc: ApiError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
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
