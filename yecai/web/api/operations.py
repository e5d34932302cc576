"""Acting on what happened: replay, skip and approve postings; run jobs; dead letters; pauses.

The same services as `yecai postings …` and `yecai jobs …`, with the caller recorded in the
audit log. A project manager can act on nothing here (read-only role); finance and integrators
can replay and skip, only finance (and admin) can release postings from the approval gate.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from yecai.auth.principal import Principal
from yecai.auth.roles import Permission
from yecai.domain.posting_states import PostingState
from yecai.errors import YecaiError
from yecai.jobs import actions, deadletters
from yecai.jobs.calendar import WorkCalendar
from yecai.jobs.overview import job_overview
from yecai.services import postings as posting_service
from yecai.services import trace
from yecai.web.api.common import Id, IdPath, from_error, not_found, plain, problem
from yecai.web.context import WebContext, context
from yecai.web.security import allow, caller

router = APIRouter(prefix="/api/v1", tags=["operations 运维"])
READ = [allow(Permission.READ)]
OPERATE = [allow(Permission.OPERATE)]


class Reason(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="原因 · why")


class Approval(BaseModel):
    ids: list[Id] = Field(default_factory=list, max_length=10_000, description="过账 ID；空 = 按规则集/连接")
    rule_set: str | None = Field(None, max_length=80)
    connection: str | None = Field(None, max_length=80)


class RunRequest(BaseModel):
    since: str | None = Field(None, max_length=40, description="从该日期重新读取 · re-read the source from")


def _visible_or_404(ctx: WebContext, who: Principal, posting_id: IdPath) -> None:
    if not trace.posting_visible(ctx.store, who, posting_id):
        raise not_found("过账", "posting", posting_id)


@router.post("/postings/{posting_id}/replay", dependencies=OPERATE, summary="重放过账 · replay a posting")
async def replay_posting(
    posting_id: IdPath, request: Request, ctx: WebContext = Depends(context)
) -> dict[str, object]:
    who = caller(request)
    await run_in_threadpool(_visible_or_404, ctx, who, posting_id)
    try:
        state = await run_in_threadpool(
            lambda: posting_service.replay(ctx.store, posting_id=posting_id, by=who)
        )
    except YecaiError as exc:
        raise from_error(exc) from None
    return {"id": posting_id, "state": state}


@router.post(
    "/postings/{posting_id}/skip", dependencies=OPERATE, summary="跳过过账 · skip a posting, with a reason"
)
async def skip_posting(
    posting_id: IdPath, body: Reason, request: Request, ctx: WebContext = Depends(context)
) -> dict[str, object]:
    who = caller(request)
    await run_in_threadpool(_visible_or_404, ctx, who, posting_id)
    try:
        await run_in_threadpool(
            lambda: posting_service.skip(
                ctx.store, posting_id=posting_id, reason=body.reason.strip(), who=who.username, by=who
            )
        )
    except YecaiError as exc:
        raise from_error(exc) from None
    return {"id": posting_id, "state": PostingState.SKIPPED}


@router.post(
    "/postings/approve",
    dependencies=[allow(Permission.APPROVE)],
    summary="审批放行 · release postings held by the approval gate",
)
async def approve_postings(
    body: Approval, request: Request, ctx: WebContext = Depends(context)
) -> dict[str, int]:
    who = caller(request)
    if not body.ids and not body.rule_set and not body.connection:
        raise problem(
            422,
            "请指定过账 ID、规则集或连接（不能一次放行全部）",
            "name posting ids, a rule set or a connection",
        )
    count = await run_in_threadpool(
        lambda: posting_service.approve(
            ctx.store,
            who=who.username,
            ids=body.ids,
            rule_set=body.rule_set,
            connection=body.connection,
            by=who,
        )
    )
    return {"approved": count}


@router.get("/jobs", dependencies=READ, summary="作业 · sync jobs, schedules, next and last runs")
async def jobs(request: Request, ctx: WebContext = Depends(context)) -> list[dict[str, object]]:
    if caller(request).projects is not None:
        return []
    runtime = ctx.runtime
    try:
        space = ctx.workspace()
    except YecaiError as exc:
        raise from_error(exc) from None
    calendar = runtime.calendar if runtime is not None else WorkCalendar()
    return plain(await run_in_threadpool(job_overview, ctx.store, space, calendar))


@router.post("/jobs/{name}/run", dependencies=OPERATE, summary="立即运行作业 · queue a run now")
async def run_job(
    name: str, request: Request, body: RunRequest | None = None, ctx: WebContext = Depends(context)
) -> dict[str, object]:
    who = caller(request)
    since = body.since if body else None
    try:
        queue = ctx.job_queue()
        space = ctx.workspace()
        if name not in space.syncs:
            raise not_found("同步作业", "sync job", name)
        result = await run_in_threadpool(
            lambda: actions.run_job(queue, ctx.store, space, name, by=who, since=since)
        )
    except YecaiError as exc:
        raise from_error(exc) from None
    return plain(result)


@router.get("/dead-letters", dependencies=READ, summary="死信 · jobs that failed for good")
async def dead_letter_list(
    request: Request,
    status: str | None = Query("dead", pattern="^(dead|replayed|skipped|all)$"),
    job: str | None = Query(None, max_length=80),
    ctx: WebContext = Depends(context),
) -> list[dict[str, object]]:
    if caller(request).projects is not None:
        return []
    wanted = None if status == "all" else status
    return plain(await run_in_threadpool(lambda: deadletters.dead_letters(ctx.store, status=wanted, job=job)))


@router.post(
    "/dead-letters/{letter_id}/replay", dependencies=OPERATE, summary="重放死信 · replay a dead letter"
)
async def replay_dead_letter(
    letter_id: IdPath, request: Request, ctx: WebContext = Depends(context)
) -> dict[str, object]:
    who = caller(request)
    try:
        queue = ctx.job_queue()
        result = await run_in_threadpool(
            lambda: actions.replay_dead_letter(queue, ctx.store, letter_id, by=who)
        )
    except YecaiError as exc:
        raise from_error(exc) from None
    return plain(result)


@router.post("/dead-letters/{letter_id}/skip", dependencies=OPERATE, summary="跳过死信 · close a dead letter")
async def skip_dead_letter(
    letter_id: IdPath, body: Reason, request: Request, ctx: WebContext = Depends(context)
) -> dict[str, object]:
    who = caller(request)
    if await run_in_threadpool(deadletters.dead_letter, ctx.store, letter_id) is None:
        raise not_found("死信", "dead letter", letter_id)
    try:
        letter = await run_in_threadpool(
            lambda: actions.skip_dead_letter(ctx.store, letter_id, reason=body.reason, by=who)
        )
    except YecaiError as exc:
        raise problem(409, exc.zh, exc.en) from None
    return {"id": letter.id, "status": letter.status}


@router.post("/connections/{name}/pause", dependencies=OPERATE, summary="暂停连接 · pause a connection")
async def pause_connection(
    name: str, request: Request, body: Reason | None = None, ctx: WebContext = Depends(context)
) -> dict[str, object]:
    who = caller(request)
    try:
        space = ctx.workspace()
        if name not in space.connections:
            raise not_found("连接", "connection", name)
        reason = body.reason if body else ""
        changed = await run_in_threadpool(
            lambda: actions.pause_connection(ctx.store, space, name, reason=reason, by=who)
        )
    except YecaiError as exc:
        raise from_error(exc) from None
    return {"connection": name, "paused": True, "changed": changed}


@router.post("/connections/{name}/resume", dependencies=OPERATE, summary="恢复连接 · resume a connection")
async def resume_connection(
    name: str, request: Request, ctx: WebContext = Depends(context)
) -> dict[str, object]:
    who = caller(request)
    changed = await run_in_threadpool(lambda: actions.resume_connection(ctx.store, name, by=who))
    return {"connection": name, "paused": False, "changed": changed}
