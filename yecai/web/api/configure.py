"""Configuration: connections (secrets write-only, "test connection"), mapping tables, rule sets, imports.

Secret values go in and never come out: the API lists which secret names are stored, never
their values. Mapping edits are optimistic (the caller sends the version it read). A file upload
goes through the same importer as `yecai import`, with the same guarantees (fingerprint, lock,
bad rows reported while good rows proceed), and like it in a memory-capped worker process
(`yecai.files.isolated`): a file that kills its parser is a 422 with the reason, never a dead server.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from yecai.auth import audit
from yecai.auth.roles import Permission
from yecai.errors import YecaiError
from yecai.files import IMPORT_EXTENSIONS
from yecai.files.isolated import WorkerLimits, import_in_worker
from yecai.files.mappings import MappingError, delete_mapping, import_mappings_yaml, list_mappings
from yecai.files.uploads import safe_upload_name
from yecai.mapping.excel import export_mapping_xlsx, import_mapping_xlsx
from yecai.mapping.rules import default_rule_sets
from yecai.services import connections as connection_service
from yecai.services import mapping_edit, rulecheck
from yecai.web.api.common import from_error, not_found, plain, problem
from yecai.web.context import WebContext, context
from yecai.web.security import allow, caller

router = APIRouter(prefix="/api/v1", tags=["configuration 配置"])
READ = [allow(Permission.READ)]
CONFIGURE = [allow(Permission.CONFIGURE)]
IMPORT_KINDS = ("cost", "attendance", "invoice", "payment_request", "budget", "worker", "opening_balance")
MAX_WORKBOOK = 20 * 1024 * 1024  # a mapping workbook is small; more is a wrong file
MAX_UPLOAD = 200 * 1024 * 1024  # a year of a big project's ledger fits; a runaway upload does not


class SecretValue(BaseModel):
    value: str = Field(min_length=1, max_length=10_000)


class TemplatesYaml(BaseModel):
    yaml: str = Field(min_length=1, max_length=1_000_000, description="yecai column-templates export 的 YAML")


class MappingEntry(BaseModel):
    version: str = Field(min_length=1, max_length=80, description="the version read (If-Match)")
    value: Any = Field(None, description="新值；null 删除 · the new entry; null deletes it")


def _workspace(ctx: WebContext) -> Any:
    try:
        return ctx.workspace()
    except YecaiError as exc:
        raise from_error(exc) from None


def _connection_rows(ctx: WebContext) -> list[dict[str, object]]:
    return plain(connection_service.connection_rows(ctx.store, ctx.workspace(), ctx.secrets))


@router.get("/connections", dependencies=READ, summary="连接 · connections (never secret values)")
async def connections(request: Request, ctx: WebContext = Depends(context)) -> list[dict[str, object]]:
    if caller(request).projects is not None:
        return []
    try:
        return plain(await run_in_threadpool(_connection_rows, ctx))
    except YecaiError as exc:
        raise from_error(exc) from None


@router.put(
    "/connections/{name}/secrets/{key}", dependencies=CONFIGURE, summary="保存密钥（加密）· store a secret"
)
async def set_secret(
    name: str, key: str, body: SecretValue, request: Request, ctx: WebContext = Depends(context)
) -> dict[str, object]:
    who = caller(request)
    try:
        space = ctx.workspace()
        await run_in_threadpool(
            lambda: connection_service.set_secret(
                ctx.store, ctx.secrets, space, connection=name, key=key, value=body.value, by=who
            )
        )
    except YecaiError as exc:
        raise from_error(exc) from None
    return {"connection": name, "secret": key, "stored": True}


@router.delete(
    "/connections/{name}/secrets/{key}", dependencies=CONFIGURE, summary="删除密钥 · delete a secret"
)
async def delete_secret(
    name: str, key: str, request: Request, ctx: WebContext = Depends(context)
) -> dict[str, object]:
    who = caller(request)
    removed = await run_in_threadpool(
        lambda: connection_service.delete_secret(ctx.store, ctx.secrets, connection=name, key=key, by=who)
    )
    if not removed:
        raise not_found("密钥", "secret", f"{name}.{key}")
    return {"connection": name, "secret": key, "stored": False}


def _test(ctx: WebContext, name: str) -> dict[str, object]:
    return plain(connection_service.test_connection(ctx.workspace(), ctx.secrets, name, store=ctx.store))


@router.post("/connections/{name}/test", dependencies=CONFIGURE, summary="测试连接 · test a connection")
async def test_connection(name: str, ctx: WebContext = Depends(context)) -> dict[str, object]:
    try:
        return await run_in_threadpool(_test, ctx, name)
    except KeyError:
        raise not_found("连接", "connection", name) from None
    except YecaiError as exc:
        raise from_error(exc) from None


@router.get("/mappings/{job}", dependencies=READ, summary="映射表 · a sync job's mapping table")
async def mapping(job: str, request: Request, ctx: WebContext = Depends(context)) -> dict[str, object]:
    who = caller(request)
    space = _workspace(ctx)
    try:
        view = await run_in_threadpool(mapping_edit.read, space, job)
    except YecaiError as exc:
        raise from_error(exc) from None
    data = plain(view)
    if who.projects is not None:  # a manager sees the rows of their own projects only
        table = dict(data["table"])
        table["projects"] = {k: v for k, v in table.get("projects", {}).items() if k in who.projects}
        for other in ("suppliers", "customers", "workers"):
            table[other] = {}
        data["table"] = table
    return data


@router.put(
    "/mappings/{job}/{table}/{key:path}", dependencies=CONFIGURE, summary="修改映射 · set or delete one entry"
)
async def edit_mapping(
    job: str, table: str, key: str, body: MappingEntry, request: Request, ctx: WebContext = Depends(context)
) -> dict[str, object]:
    who = caller(request)
    space = _workspace(ctx)
    try:
        view = await run_in_threadpool(
            lambda: mapping_edit.edit(
                ctx.store, space, job, table=table, key=key, value=body.value, version=body.version, by=who
            )
        )
    except YecaiError as exc:
        raise from_error(exc) from None
    return plain(view)


@router.get("/mappings/{job}/unmapped", dependencies=READ, summary="未映射值 · values the documents need")
async def unmapped(job: str, request: Request, ctx: WebContext = Depends(context)) -> list[dict[str, object]]:
    if caller(request).projects is not None:
        return []
    space = _workspace(ctx)
    try:
        items = await run_in_threadpool(mapping_edit.unmapped, ctx.store, space, job)
    except YecaiError as exc:
        raise from_error(exc) from None
    return plain(mapping_edit.as_rows(items))


@router.get("/rules", dependencies=READ, summary="规则集 · built-in rule sets")
async def rules() -> list[dict[str, object]]:
    return [
        {
            "name": name,
            "event": r.event.value,
            "document": r.document,
            "form_id": r.form_id,
            "approval": bool(r.approval),
            "period_policy": r.period_policy.value,
        }
        for name, r in sorted(default_rule_sets().items())
    ]


def _import(
    ctx: WebContext, upload: UploadFile, kind: str, project: str | None, who: str
) -> dict[str, object]:
    suffix = Path(upload.filename or "upload.xlsx").suffix.lower()
    with tempfile.TemporaryDirectory(prefix="yecai-upload-") as folder:
        # saved under the user's own name (messages and the report name it), reduced to a harmless
        # leaf of this fresh folder: no ../ tricks, no control characters
        inbox = Path(folder) / "upload"  # apart from the report, whatever the upload is called
        inbox.mkdir()
        target = inbox / safe_upload_name(upload.filename, suffix)
        with target.open("wb") as out:
            copied = 0
            while chunk := upload.file.read(1024 * 1024):
                copied += len(chunk)
                if copied > MAX_UPLOAD:
                    raise YecaiError("文件过大（上限 200 MB）", "the file is too large (200 MB at most)")
                out.write(chunk)
        report = Path(folder) / "report.xlsx"
        # parsed in a worker process: a file problem, a held lock or a worker that died comes back
        # as a YecaiError (422, 409, 422), never as a crash of this process
        result = import_in_worker(
            ctx.store,
            target,
            kind=kind,
            project=project,
            report=report,
            holder=who,
            limits=WorkerLimits.from_settings(ctx.settings),
        )
        data = plain(result)
        data["report"] = None
        if report.exists():
            data["report"] = _keep_report(ctx, report, kind, result.run_id)
        return data


def _keep_report(ctx: WebContext, report: Path, kind: str, run_id: int | None) -> str:
    """Copy an import's report into the work directory under a name no other import can take.

    The second alone collided (45 reports survived 320 imports); the run id and a random suffix
    make each name unique, and the file is created exclusively, so nothing is ever overwritten.
    """
    keep = ctx.settings.workdir / "import-reports"
    keep.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    while True:
        name = f"{stamp}-{kind}-run{run_id or 0}-{secrets.token_hex(4)}-report.xlsx"
        try:
            with report.open("rb") as source, (keep / name).open("xb") as target:
                shutil.copyfileobj(source, target)
        except FileExistsError:
            continue
        return name


def _supported(filename: str | None) -> None:
    """415 for a file type `yecai import` would not take either (the same list: IMPORT_EXTENSIONS)."""
    suffix = Path(filename or "").suffix.lower()
    if suffix not in IMPORT_EXTENSIONS:
        names = "、".join(sorted(s.lstrip(".") for s in IMPORT_EXTENSIONS))
        raise problem(
            415,
            f"不支持的文件类型 {suffix or '（无扩展名）'}（可用 {names}）",
            f"unsupported file type {suffix or '(no extension)'} (use {names.replace('、', ', ')})",
        )


@router.post("/imports", dependencies=[allow(Permission.OPERATE)], summary="导入文件 · import an export file")
async def upload(
    request: Request,
    file: UploadFile = File(...),
    kind: str = Form(...),
    project: str | None = Form(None),
    ctx: WebContext = Depends(context),
) -> dict[str, object]:
    who = caller(request)
    if kind not in IMPORT_KINDS:
        raise problem(
            422, f"未知导入类型 {kind}", f"unknown import kind {kind}; one of {', '.join(IMPORT_KINDS)}"
        )
    _supported(file.filename)
    try:
        result = await run_in_threadpool(_import, ctx, file, kind, project, who.username)
    except YecaiError as exc:
        raise from_error(exc) from None
    await run_in_threadpool(
        lambda: audit.log(
            ctx.store,
            who,
            action="import.file",
            target_type="file",
            target_id=file.filename,
            after={"status": result.get("status"), "counts": result.get("counts")},
            project_code=project,
        )
    )
    return result


@router.post(
    "/rules/check",
    dependencies=[allow(Permission.OPERATE)],
    summary="检查规则 · rules and mapping vs Kingdee",
)
async def rules_check(
    job: str = Query(..., max_length=80, description="同步作业 · sync job"),
    ctx: WebContext = Depends(context),
) -> dict[str, object]:
    space = _workspace(ctx)
    try:
        report = await run_in_threadpool(rulecheck.check_job, ctx.store, space, ctx.secrets, job)
    except YecaiError as exc:
        raise from_error(exc) from None
    return {
        "job": job,
        "clean": report.clean,
        "accounts_checked": report.accounts_checked,
        "problems": plain(report.problems),
        "unmapped": plain(mapping_edit.as_rows(report.unmapped)),
    }


def _everything(request: Request) -> None:
    if caller(request).projects is not None:  # the workbook holds every project and every party
        raise problem(
            403, "项目经理不能导出整张映射表", "project managers cannot export the whole mapping table"
        )


@router.get(
    "/mappings/{job}/workbook",
    dependencies=READ,
    summary="导出映射表 Excel · the mapping table as a workbook",
)
async def mapping_workbook(job: str, request: Request, ctx: WebContext = Depends(context)) -> Response:
    who = caller(request)
    space = _workspace(ctx)

    def build() -> bytes:
        spec = space.syncs.get(job)
        if spec is None:
            raise YecaiError(f"工作区中没有同步作业 {job}", f"the workspace has no sync job {job}")
        table = space.mapping(spec)
        if who.projects is not None:  # as in the JSON view: own project rows, no party tables
            rows = {code: row for code, row in table.projects.items() if code in who.projects}
            table = table.model_copy(
                update={"projects": rows, "suppliers": {}, "customers": {}, "workers": {}}
            )
        with tempfile.TemporaryDirectory(prefix="yecai-mapping-") as folder:
            path = export_mapping_xlsx(table, Path(folder) / "mapping.xlsx")
            return path.read_bytes()

    try:
        content = await run_in_threadpool(build)
    except YecaiError as exc:
        raise from_error(exc) from None
    return Response(
        content,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="mapping-{job}.xlsx"'},
    )


@router.post(
    "/mappings/{job}/workbook",
    dependencies=CONFIGURE,
    summary="导入映射表 Excel · replace the table from a workbook",
)
async def mapping_import(
    job: str,
    request: Request,
    file: UploadFile = File(...),
    version: str = Form(..., max_length=80),
    ctx: WebContext = Depends(context),
) -> dict[str, object]:
    who = caller(request)
    space = _workspace(ctx)

    def load() -> mapping_edit.MappingView:
        with tempfile.TemporaryDirectory(prefix="yecai-mapping-") as folder:
            target = Path(folder) / "mapping.xlsx"
            data = file.file.read(MAX_WORKBOOK + 1)
            if len(data) > MAX_WORKBOOK:
                raise YecaiError(
                    "映射表工作簿过大（上限 20 MB）", "the mapping workbook is too large (20 MB at most)"
                )
            target.write_bytes(data)
            table = import_mapping_xlsx(target)
        return mapping_edit.replace_all(ctx.store, space, job, table=table, version=version, by=who)

    try:
        view = await run_in_threadpool(load)
    except YecaiError as exc:
        raise from_error(exc) from None
    return plain(view)


@router.get("/column-templates", dependencies=READ, summary="列映射模板 · saved column templates")
async def column_templates(ctx: WebContext = Depends(context)) -> list[dict[str, object]]:
    return [item.model_dump(mode="json") for item in await run_in_threadpool(list_mappings, ctx.store)]


@router.put(
    "/column-templates", dependencies=CONFIGURE, summary="保存列映射模板 · add or replace templates (YAML)"
)
async def load_column_templates(
    body: TemplatesYaml, request: Request, ctx: WebContext = Depends(context)
) -> dict[str, object]:
    who = caller(request)
    try:
        names = await run_in_threadpool(import_mappings_yaml, ctx.store, body.yaml)
    except MappingError as exc:
        raise problem(422, exc.zh, exc.en) from None
    await run_in_threadpool(
        lambda: audit.log(
            ctx.store,
            who,
            action="template.load",
            target_type="column_template",
            target_id=",".join(names)[:200],
            after={"names": names},
        )
    )
    return {"loaded": names}


@router.delete(
    "/column-templates/{name}", dependencies=CONFIGURE, summary="删除列映射模板 · delete a template"
)
async def delete_column_template(
    name: str, request: Request, ctx: WebContext = Depends(context)
) -> dict[str, object]:
    who = caller(request)
    if not await run_in_threadpool(delete_mapping, ctx.store, name):
        raise not_found("列映射模板", "column template", name)
    await run_in_threadpool(
        lambda: audit.log(
            ctx.store, who, action="template.delete", target_type="column_template", target_id=name
        )
    )
    return {"deleted": name}
