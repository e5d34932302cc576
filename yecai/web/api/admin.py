"""Administration: users, roles and project assignments, API tokens, the audit log, alerts.

Managing users is `manage_users` (admin); anyone signed in may list and revoke their own tokens.
The audit log is readable in full with `audit` (auditor, admin); others see entries of their own
projects and their own actions.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from yecai.alerts import recent_deliveries, send_test
from yecai.auth import audit, sessions, users
from yecai.auth.roles import Permission, Role
from yecai.errors import YecaiError
from yecai.web.api.common import MAX_ID, IdPath, from_error, not_found, plain, problem
from yecai.web.context import WebContext, context
from yecai.web.security import SIGNED_IN, allow, caller

router = APIRouter(prefix="/api/v1", tags=["administration 管理"])
MANAGE = [allow(Permission.MANAGE_USERS)]


class NewUser(BaseModel):
    username: str = Field(min_length=2, max_length=64)
    role: Role
    password: str | None = Field(
        None, min_length=1, max_length=1024, description="空则自动生成 · generated if empty"
    )
    projects: list[str] = Field(default_factory=list, max_length=10_000)
    display_name: str | None = Field(None, max_length=120)
    language: str = Field("zh", pattern="^(zh|en)$")


class UserChange(BaseModel):
    role: Role | None = None
    projects: list[str] | None = Field(None, max_length=10_000)
    active: bool | None = None
    display_name: str | None = Field(None, max_length=120)
    language: str | None = Field(None, pattern="^(zh|en)$")
    password: str | None = Field(None, min_length=1, max_length=1024)
    unlock: bool = False


class NewToken(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    username: str | None = Field(
        None, max_length=64, description="为他人创建需管理员 · for another user: admin only"
    )
    days: int | None = Field(None, ge=1, le=3650)


@router.get("/users", dependencies=MANAGE, summary="用户 · users")
async def user_list(ctx: WebContext = Depends(context)) -> list[dict[str, object]]:
    return plain(await run_in_threadpool(users.list_users, ctx.store))


@router.post("/users", dependencies=MANAGE, status_code=201, summary="新建用户 · create a user")
async def user_create(
    body: NewUser, request: Request, ctx: WebContext = Depends(context)
) -> dict[str, object]:
    who = caller(request)
    try:
        view, password = await run_in_threadpool(
            lambda: users.create_user(
                ctx.store,
                username=body.username,
                role=body.role.value,
                by=who,
                password=body.password,
                projects=body.projects,
                display_name=body.display_name,
                language=body.language,
            )
        )
    except YecaiError as exc:
        raise from_error(exc) from None
    # a generated password is shown once, to the administrator who created the user
    return {"user": plain(view), "password": password if body.password is None else None}


@router.patch("/users/{username}", dependencies=MANAGE, summary="修改用户 · change a user")
async def user_update(
    username: str, body: UserChange, request: Request, ctx: WebContext = Depends(context)
) -> dict[str, object]:
    who = caller(request)
    if username == who.username and (body.active is False or (body.role and body.role != who.role)):
        raise problem(
            422, "不能停用自己或修改自己的角色", "you cannot disable yourself or change your own role"
        )
    try:
        if await run_in_threadpool(users.get_user, ctx.store, username) is None:
            raise not_found("用户", "user", username)
        if body.password:
            await run_in_threadpool(
                lambda: users.set_password(ctx.store, username, body.password or "", by=who)
            )
        if body.unlock:
            await run_in_threadpool(lambda: users.unlock(ctx.store, username, by=who))
        view = await run_in_threadpool(
            lambda: users.update_user(
                ctx.store,
                username,
                by=who,
                role=body.role.value if body.role else None,
                projects=body.projects,
                active=body.active,
                display_name=body.display_name,
                language=body.language,
            )
        )
    except YecaiError as exc:
        raise from_error(exc) from None
    return plain(view)


@router.get("/tokens", dependencies=[allow(SIGNED_IN)], summary="API 令牌 · API tokens (own; all for admins)")
async def token_list(request: Request, ctx: WebContext = Depends(context)) -> list[dict[str, object]]:
    who = caller(request)
    mine = None if who.can(Permission.MANAGE_USERS) else who.username
    return plain(await run_in_threadpool(lambda: sessions.list_tokens(ctx.store, username=mine)))


@router.post(
    "/tokens", dependencies=[allow(SIGNED_IN)], status_code=201, summary="新建令牌 · create an API token"
)
async def token_create(
    body: NewToken, request: Request, ctx: WebContext = Depends(context)
) -> dict[str, object]:
    who = caller(request)
    owner = body.username or who.username
    if owner != who.username and not who.can(Permission.MANAGE_USERS):
        raise problem(403, "只有管理员能为他人创建令牌", "only administrators create tokens for others")
    try:
        view, secret = await run_in_threadpool(
            lambda: sessions.create_token(ctx.store, username=owner, name=body.name, by=who, days=body.days)
        )
    except YecaiError as exc:
        raise from_error(exc) from None
    return {"token": plain(view), "secret": secret}


@router.delete(
    "/tokens/{token_id}", dependencies=[allow(SIGNED_IN)], summary="吊销令牌 · revoke an API token"
)
async def token_revoke(
    token_id: IdPath, request: Request, ctx: WebContext = Depends(context)
) -> dict[str, object]:
    who = caller(request)
    mine = None if who.can(Permission.MANAGE_USERS) else who.username
    owned = await run_in_threadpool(lambda: sessions.list_tokens(ctx.store, username=mine))
    if token_id not in {t.id for t in owned}:
        raise not_found("令牌", "token", token_id)
    return plain(await run_in_threadpool(lambda: sessions.revoke_token(ctx.store, token_id, by=who)))


@router.get("/audit", dependencies=[allow(Permission.READ)], summary="审计日志 · the audit log")
async def audit_log(
    request: Request,
    actor: str | None = Query(None, max_length=64),
    action: str | None = Query(None, max_length=60),
    target_type: str | None = Query(None, max_length=40),
    target_id: str | None = Query(None, max_length=200),
    limit: int = Query(200, ge=1, le=1000),
    before_id: int | None = Query(None, ge=1, le=MAX_ID),
    ctx: WebContext = Depends(context),
) -> list[dict[str, object]]:
    rows = await run_in_threadpool(
        lambda: audit.entries(
            ctx.store,
            caller(request),
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            limit=limit,
            before_id=before_id,
        )
    )
    return plain(rows)


@router.get("/alerts", dependencies=[allow(Permission.READ)], summary="告警记录 · recent alert deliveries")
async def alert_deliveries(
    request: Request,
    channel: str | None = Query(None, max_length=80),
    limit: int = Query(100, ge=1, le=1000),
    ctx: WebContext = Depends(context),
) -> list[dict[str, object]]:
    if caller(request).projects is not None:
        return []  # alerts are about connections and jobs: company-wide
    return plain(await run_in_threadpool(lambda: recent_deliveries(ctx.store, limit=limit, channel=channel)))


@router.post(
    "/alerts/{channel}/test",
    dependencies=[allow(Permission.CONFIGURE)],
    summary="测试告警通道 · send a test alert",
)
async def alert_test(channel: str, request: Request, ctx: WebContext = Depends(context)) -> dict[str, object]:
    who = caller(request)

    try:
        space = ctx.workspace()
        delivery = await run_in_threadpool(
            lambda: send_test(ctx.store, space, ctx.secrets, channel, who=who.username)
        )
    except YecaiError as exc:
        raise from_error(exc) from None
    return plain(delivery)
