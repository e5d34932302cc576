"""The /api/v1 endpoints of sandbox.pm: one list (and one get-by-key) per stream.

Pagination varies by endpoint, as it does across real systems: page number for projects, cost
records, contracts, progress reports and opening balances; offset for BOQ items, budget lines, payment requests and
workers; cursor for invoices and attendance. Every list takes `updated_since`, `include_deleted`
(tombstones) and, where natural, `project_code`; all show the data as of the server's clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from yecai.sandbox.pm import schemas
from yecai.sandbox.pm.errors import invalid_parameter, not_found, shown
from yecai.sandbox.pm.models import DIRECT_CATEGORIES, CostCategory
from yecai.sandbox.pm.paging import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    cursor_page,
    envelope,
    offset_of,
    ok,
    page_of,
)
from yecai.sandbox.pm.params import parse_date, parse_datetime
from yecai.sandbox.pm.records import ContractKind, InvoiceDirection, PaymentStatus, ReceiptType
from yecai.sandbox.pm.runtime import PmRuntime
from yecai.sandbox.pm.serialise import DecimalJSONResponse

PageParam = Annotated[int, Query(ge=1, description="页码，从 1 开始 · page number, 1-based")]
PageSizeParam = Annotated[
    int,
    Query(ge=1, le=MAX_PAGE_SIZE, description=f"每页条数 · records per page (max {MAX_PAGE_SIZE})"),
]
OffsetParam = Annotated[
    int, Query(ge=0, description="起始位置，从 0 开始 · 0-based position of the first row")
]
LimitParam = Annotated[
    int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"条数 · rows to return (max {MAX_PAGE_SIZE})")
]
CursorParam = Annotated[
    str | None,
    Query(
        description="游标 · the next_cursor (or resume_cursor) of an earlier answer; omit for the first page"
    ),
]
UpdatedSinceParam = Annotated[
    str | None,
    Query(
        description=(
            "只返回 updated_at ≥ 该时间的记录 · only records with updated_at >= this ISO 8601 datetime; "
            "without an offset it is read as +08:00"
        ),
        examples=["2026-10-08T00:00:00+08:00"],
    ),
]
IncludeDeletedParam = Annotated[
    bool,
    Query(
        description="含已删除记录 · include tombstones {<key>, id, project_code, deleted: true, updated_at}"
    ),
]
ProjectCodeParam = Annotated[str | None, Query(description="项目编码", examples=["XM2026001"])]
DateParam = Annotated[str | None, Query(description="YYYY-MM-DD, inclusive", examples=["2026-10-08"])]

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": schemas.ErrorBody, "description": "参数错误 · invalid parameter (code 40001)"},
    401: {
        "model": schemas.ErrorBody,
        "description": "认证失败 · missing or invalid credentials (40101–40106)",
    },
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": schemas.ErrorBody, "description": "不存在 · no such record now (code 40401)"}
}


def _choice(name: str, value: str | None, allowed: Sequence[str]) -> str | None:
    if value is not None and value not in allowed:
        raise invalid_parameter(
            f"参数 {name} 的值 {shown(value)} 无效，应为 {', '.join(allowed)} 之一",
            f"parameter {name} value {shown(value)} is not one of {', '.join(allowed)}",
        )
    return value


def _date_range(prefix: str, first: str | None, last: str | None) -> tuple[date | None, date | None]:
    start = parse_date(f"{prefix}_from", first)
    end = parse_date(f"{prefix}_to", last)
    if start is not None and end is not None and start > end:
        raise invalid_parameter(
            f"{prefix}_from（{start}）晚于 {prefix}_to（{end}）",
            f"{prefix}_from ({start}) is after {prefix}_to ({end})",
        )
    return start, end


def _within(value: date, start: date | None, end: date | None) -> bool:
    return (start is None or value >= start) and (end is None or value <= end)


def _categories(value: str | None) -> frozenset[CostCategory]:
    """`category`: one name, a comma-separated list, or `all`; absent: the three daily categories."""
    if value is None:
        return DIRECT_CATEGORIES
    if value == "all":
        return frozenset(CostCategory)
    names = [part.strip() for part in value.split(",") if part.strip()]
    known = [c.value for c in CostCategory]
    for name in names:
        _choice("category", name, [*known, "all"])
    return frozenset(CostCategory) if "all" in names else frozenset(CostCategory(name) for name in names)


def api_router(runtime: PmRuntime) -> APIRouter:
    """The /api/v1 endpoints over one runtime (authentication is added by the app)."""
    router = APIRouter(prefix="/api/v1", responses=_ERRORS)
    project_codes = {v.record.key for v in runtime.listings["project"].versions}

    def rows(
        entity: str,
        project_code: str | None,
        updated_since: str | None,
        include_deleted: bool,
        where: Callable[[Any], bool] | None = None,
    ) -> Sequence[Any]:
        since = parse_datetime("updated_since", updated_since)
        if project_code is not None and project_code not in project_codes:
            return []  # an unknown project simply has none, as a filter would say
        listing = runtime.listing(entity, project_code)
        return listing.select(runtime.now(), since, where, include_deleted)

    def one(entity: str, key: str, what: str) -> Response:
        record = runtime.record(entity, key)
        if record is None:
            raise not_found(f"{what} {key} 不存在（尚未创建或已删除）", f"no {entity} {key} at this time")
        return DecimalJSONResponse(ok(record))

    # --- page number ------------------------------------------------------------------------

    @router.get(
        "/projects",
        response_model=schemas.ProjectList,
        tags=["projects 项目"],
        summary="项目列表 · list projects (page number)",
        description="Projects in (updated_at, project_code) order, one page at a time.",
    )
    def list_projects(
        page: PageParam = 1,
        page_size: PageSizeParam = DEFAULT_PAGE_SIZE,
        updated_since: UpdatedSinceParam = None,
        include_deleted: IncludeDeletedParam = False,
    ) -> Response:
        found = rows("project", None, updated_since, include_deleted)
        return DecimalJSONResponse(envelope(page_of(found, page, page_size)))

    @router.get(
        "/cost-records",
        response_model=schemas.CostRecordList,
        tags=["cost records 成本"],
        summary="成本明细 · list cost records (page number)",
        description=(
            "Cost lines in (updated_at, record_id) order, one page at a time. Without `category` the "
            "daily direct costs (labour, material, machinery) are listed, as in the first version of "
            "this API; `category=all` or a comma-separated list adds subcontract, other_direct, indirect. "
            "Amounts are tax-exclusive; money and quantities are JSON numbers with exact decimal text."
        ),
    )
    def list_cost_records(
        page: PageParam = 1,
        page_size: PageSizeParam = DEFAULT_PAGE_SIZE,
        updated_since: UpdatedSinceParam = None,
        project_code: ProjectCodeParam = None,
        business_date_from: DateParam = None,
        business_date_to: DateParam = None,
        category: Annotated[
            str | None,
            Query(
                description="labour, material, machinery, subcontract, other_direct, indirect (comma-separated) or all"
            ),
        ] = None,
        contract_no: Annotated[str | None, Query(description="合同编号")] = None,
        include_deleted: IncludeDeletedParam = False,
    ) -> Response:
        start, end = _date_range("business_date", business_date_from, business_date_to)
        wanted = _categories(category)

        def where(record: Any) -> bool:
            return (
                record.category in wanted
                and _within(record.business_date, start, end)
                and (contract_no is None or record.contract_no == contract_no)
            )

        found = rows("cost_record", project_code, updated_since, include_deleted, where)
        return DecimalJSONResponse(envelope(page_of(found, page, page_size)))

    @router.get(
        "/contracts",
        response_model=schemas.ContractList,
        tags=["contracts 合同"],
        summary="合同列表 · list contracts (page number)",
    )
    def list_contracts(
        page: PageParam = 1,
        page_size: PageSizeParam = DEFAULT_PAGE_SIZE,
        updated_since: UpdatedSinceParam = None,
        project_code: ProjectCodeParam = None,
        contract_kind: Annotated[
            str | None, Query(description="income, subcontract, purchase, lease")
        ] = None,
        include_deleted: IncludeDeletedParam = False,
    ) -> Response:
        kind = _choice("contract_kind", contract_kind, [k.value for k in ContractKind])
        found = rows(
            "contract",
            project_code,
            updated_since,
            include_deleted,
            None if kind is None else lambda r: r.contract_kind == kind,
        )
        return DecimalJSONResponse(envelope(page_of(found, page, page_size)))

    @router.get(
        "/progress-reports",
        response_model=schemas.ProgressReportList,
        tags=["progress 进度"],
        summary="进度计量 · list monthly progress reports (page number)",
    )
    def list_progress_reports(
        page: PageParam = 1,
        page_size: PageSizeParam = DEFAULT_PAGE_SIZE,
        updated_since: UpdatedSinceParam = None,
        project_code: ProjectCodeParam = None,
        period: Annotated[str | None, Query(description="YYYY-MM", examples=["2026-10"])] = None,
        include_deleted: IncludeDeletedParam = False,
    ) -> Response:
        found = rows(
            "progress_report",
            project_code,
            updated_since,
            include_deleted,
            None if period is None else lambda r: r.period == period,
        )
        return DecimalJSONResponse(envelope(page_of(found, page, page_size)))

    @router.get(
        "/opening-balances",
        response_model=schemas.OpeningBalanceList,
        tags=["opening balances 期初"],
        summary="期初余额 · list opening balances at go-live (page number)",
        description=(
            "One row per contract already running on the data window's first day (the go-live): "
            "cumulative cost, revenue, billing, retention, receipts, invoices, payments and the "
            "prepaid-VAT carry up to the day before, in (updated_at, opening_id) order."
        ),
    )
    def list_opening_balances(
        page: PageParam = 1,
        page_size: PageSizeParam = DEFAULT_PAGE_SIZE,
        updated_since: UpdatedSinceParam = None,
        project_code: ProjectCodeParam = None,
        contract_no: Annotated[str | None, Query(description="合同编号")] = None,
        include_deleted: IncludeDeletedParam = False,
    ) -> Response:
        found = rows(
            "opening_balance",
            project_code,
            updated_since,
            include_deleted,
            None if contract_no is None else lambda r: r.contract_no == contract_no,
        )
        return DecimalJSONResponse(envelope(page_of(found, page, page_size)))

    # --- offset -----------------------------------------------------------------------------

    @router.get(
        "/boq-items",
        response_model=schemas.BoqItemList,
        tags=["BOQ 工程量清单"],
        summary="工程量清单 · list BOQ items (offset)",
    )
    def list_boq_items(
        offset: OffsetParam = 0,
        limit: LimitParam = DEFAULT_PAGE_SIZE,
        updated_since: UpdatedSinceParam = None,
        project_code: ProjectCodeParam = None,
        include_deleted: IncludeDeletedParam = False,
    ) -> Response:
        found = rows("boq_item", project_code, updated_since, include_deleted)
        return DecimalJSONResponse(offset_of(found, offset, limit))

    @router.get(
        "/budget-lines",
        response_model=schemas.BudgetLineList,
        tags=["budget 目标成本"],
        summary="目标成本 · list budget lines (offset)",
    )
    def list_budget_lines(
        offset: OffsetParam = 0,
        limit: LimitParam = DEFAULT_PAGE_SIZE,
        updated_since: UpdatedSinceParam = None,
        project_code: ProjectCodeParam = None,
        category: Annotated[str | None, Query(description="one cost category")] = None,
        include_deleted: IncludeDeletedParam = False,
    ) -> Response:
        wanted = _choice("category", category, [c.value for c in CostCategory])
        found = rows(
            "budget_line",
            project_code,
            updated_since,
            include_deleted,
            None if wanted is None else lambda r: r.category == wanted,
        )
        return DecimalJSONResponse(offset_of(found, offset, limit))

    @router.get(
        "/payment-requests",
        response_model=schemas.PaymentRequestList,
        tags=["payments 付款"],
        summary="付款申请 · list payment requests (offset)",
    )
    def list_payment_requests(
        offset: OffsetParam = 0,
        limit: LimitParam = DEFAULT_PAGE_SIZE,
        updated_since: UpdatedSinceParam = None,
        project_code: ProjectCodeParam = None,
        contract_no: Annotated[str | None, Query(description="合同编号")] = None,
        status: Annotated[str | None, Query(description="draft, submitted, approved, rejected, paid")] = None,
        include_deleted: IncludeDeletedParam = False,
    ) -> Response:
        wanted = _choice("status", status, [s.value for s in PaymentStatus])

        def where(record: Any) -> bool:
            return (contract_no is None or record.contract_no == contract_no) and (
                wanted is None or record.status == wanted
            )

        found = rows("payment_request", project_code, updated_since, include_deleted, where)
        return DecimalJSONResponse(offset_of(found, offset, limit))

    @router.get(
        "/receipts",
        response_model=schemas.ReceiptList,
        tags=["receipts 收款"],
        summary="业主收款 · list owner receipts (offset)",
    )
    def list_receipts(
        offset: OffsetParam = 0,
        limit: LimitParam = DEFAULT_PAGE_SIZE,
        updated_since: UpdatedSinceParam = None,
        project_code: ProjectCodeParam = None,
        receipt_type: Annotated[str | None, Query(description="progress, retention")] = None,
        include_deleted: IncludeDeletedParam = False,
    ) -> Response:
        wanted = _choice("receipt_type", receipt_type, [t.value for t in ReceiptType])
        found = rows(
            "receipt",
            project_code,
            updated_since,
            include_deleted,
            None if wanted is None else lambda r: r.receipt_type == wanted,
        )
        return DecimalJSONResponse(offset_of(found, offset, limit))

    @router.get(
        "/workers",
        response_model=schemas.WorkerList,
        tags=["labour 劳务实名制"],
        summary="花名册 · list workers (offset)",
    )
    def list_workers(
        offset: OffsetParam = 0,
        limit: LimitParam = DEFAULT_PAGE_SIZE,
        updated_since: UpdatedSinceParam = None,
        project_code: ProjectCodeParam = None,
        team_name: Annotated[str | None, Query(description="班组")] = None,
        include_deleted: IncludeDeletedParam = False,
    ) -> Response:
        found = rows(
            "worker",
            project_code,
            updated_since,
            include_deleted,
            None if team_name is None else lambda r: r.team_name == team_name,
        )
        return DecimalJSONResponse(offset_of(found, offset, limit))

    # --- cursor -----------------------------------------------------------------------------

    @router.get(
        "/invoices",
        response_model=schemas.InvoiceList,
        tags=["invoices 发票"],
        summary="发票台账 · list invoices in and out (cursor)",
        description="Cursor-paged: pass `next_cursor` back as `cursor`; stable while records are added or edited.",
    )
    def list_invoices(
        cursor: CursorParam = None,
        page_size: PageSizeParam = DEFAULT_PAGE_SIZE,
        updated_since: UpdatedSinceParam = None,
        project_code: ProjectCodeParam = None,
        direction: Annotated[str | None, Query(description="in (进项) or out (销项)")] = None,
        contract_no: Annotated[str | None, Query(description="合同编号")] = None,
        issue_date_from: DateParam = None,
        issue_date_to: DateParam = None,
        include_deleted: IncludeDeletedParam = False,
    ) -> Response:
        wanted = _choice("direction", direction, [d.value for d in InvoiceDirection])
        start, end = _date_range("issue_date", issue_date_from, issue_date_to)

        def where(record: Any) -> bool:
            return (
                (wanted is None or record.direction == wanted)
                and (contract_no is None or record.contract_no == contract_no)
                and _within(record.issue_date, start, end)
            )

        found = rows("invoice", project_code, updated_since, include_deleted, where)
        return DecimalJSONResponse(cursor_page(found, cursor, page_size))

    @router.get(
        "/attendance",
        response_model=schemas.AttendanceList,
        tags=["labour 劳务实名制"],
        summary="考勤明细 · list attendance (cursor)",
        description="Cursor-paged: pass `next_cursor` back as `cursor`; stable while records are added or edited.",
    )
    def list_attendance(
        cursor: CursorParam = None,
        page_size: PageSizeParam = DEFAULT_PAGE_SIZE,
        updated_since: UpdatedSinceParam = None,
        project_code: ProjectCodeParam = None,
        work_date_from: DateParam = None,
        work_date_to: DateParam = None,
        worker_id: Annotated[str | None, Query(description="人员编号")] = None,
        include_deleted: IncludeDeletedParam = False,
    ) -> Response:
        start, end = _date_range("work_date", work_date_from, work_date_to)

        def where(record: Any) -> bool:
            return _within(record.work_date, start, end) and (
                worker_id is None or record.worker_id == worker_id
            )

        narrowed = start is not None or end is not None or worker_id is not None
        found = rows("attendance", project_code, updated_since, include_deleted, where if narrowed else None)
        return DecimalJSONResponse(cursor_page(found, cursor, page_size))

    # --- one record by key ------------------------------------------------------------------

    single_routes: tuple[tuple[str, str, str, str, type], ...] = (
        ("/projects/{key}", "project", "项目", "projects 项目", schemas.ProjectOut),
        ("/cost-records/{key}", "cost_record", "成本记录", "cost records 成本", schemas.CostRecordOut),
        ("/boq-items/{key}", "boq_item", "清单项", "BOQ 工程量清单", schemas.BoqItemOut),
        ("/budget-lines/{key}", "budget_line", "预算行", "budget 目标成本", schemas.BudgetLineOut),
        ("/contracts/{key}", "contract", "合同", "contracts 合同", schemas.ContractOut),
        (
            "/progress-reports/{key}",
            "progress_report",
            "进度报告",
            "progress 进度",
            schemas.ProgressReportOut,
        ),
        (
            "/payment-requests/{key}",
            "payment_request",
            "付款申请",
            "payments 付款",
            schemas.PaymentRequestOut,
        ),
        ("/invoices/{key}", "invoice", "发票", "invoices 发票", schemas.InvoiceOut),
        ("/receipts/{key}", "receipt", "收款", "receipts 收款", schemas.ReceiptOut),
        ("/workers/{key}", "worker", "人员", "labour 劳务实名制", schemas.WorkerOut),
        ("/attendance/{key}", "attendance", "考勤记录", "labour 劳务实名制", schemas.AttendanceOut),
        (
            "/opening-balances/{key}",
            "opening_balance",
            "期初余额",
            "opening balances 期初",
            schemas.OpeningBalanceOut,
        ),
    )

    def getter(entity: str, what: str) -> Callable[..., Response]:
        def get_one(key: Annotated[str, Path(description="the record's key")]) -> Response:
            return one(entity, key, what)

        return get_one

    for path, entity, what, tag, out in single_routes:
        router.add_api_route(
            path,
            getter(entity, what),
            methods=["GET"],
            response_model=schemas.single(out),
            responses=_NOT_FOUND,
            tags=[tag],
            summary=f"{what} · one {entity} by its key",
            name=f"get_{entity}",
        )
    return router
