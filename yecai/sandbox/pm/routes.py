"""The list endpoints of sandbox.pm: GET /api/v1/projects and GET /api/v1/cost-records.

Each stream is a `Listing` built once from the Dataset, cut by `updated_since`, narrowed by
its own filters, then paged and wrapped in the envelope. A new stream (budgets, contracts,
invoices, …) is one more Listing and one more endpoint written the same way, sharing the
parameter declarations below so every list speaks the same dialect.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from yecai.sandbox.pm.errors import invalid_parameter
from yecai.sandbox.pm.models import CostRecord, Dataset
from yecai.sandbox.pm.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Listing, envelope, page_of
from yecai.sandbox.pm.params import parse_date, parse_datetime
from yecai.sandbox.pm.schemas import CostRecordList, ErrorBody, ProjectList
from yecai.sandbox.pm.serialise import DecimalJSONResponse

PageParam = Annotated[int, Query(ge=1, description="页码，从 1 开始 · page number, 1-based")]
PageSizeParam = Annotated[
    int,
    Query(ge=1, le=MAX_PAGE_SIZE, description=f"每页条数 · records per page (max {MAX_PAGE_SIZE})"),
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
DateParam = Annotated[str | None, Query(description="YYYY-MM-DD, inclusive", examples=["2026-10-08"])]

_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorBody, "description": "参数错误 · invalid parameter (code 40001)"},
    401: {"model": ErrorBody, "description": "令牌无效 · missing or invalid bearer token (code 40101)"},
}


def api_router(dataset: Dataset) -> APIRouter:
    """The /api/v1 endpoints over one Dataset (authentication is added by the app)."""
    router = APIRouter(prefix="/api/v1", responses=_ERRORS)
    projects = Listing(dataset.projects)
    cost_records = Listing(dataset.cost_records)
    cost_records_by_project = {
        project.project_code: Listing(dataset.cost_records_of(project.project_code))
        for project in dataset.projects
    }

    @router.get(
        "/projects",
        response_model=ProjectList,
        tags=["projects 项目"],
        summary="项目列表 · list projects",
        description="Projects in (updated_at, project_code) order, one page at a time.",
    )
    def list_projects(
        page: PageParam = 1,
        page_size: PageSizeParam = DEFAULT_PAGE_SIZE,
        updated_since: UpdatedSinceParam = None,
    ) -> Response:
        rows = projects.select(parse_datetime("updated_since", updated_since))
        return DecimalJSONResponse(envelope(page_of(rows, page, page_size)))

    @router.get(
        "/cost-records",
        response_model=CostRecordList,
        tags=["cost records 成本"],
        summary="成本明细 · list cost records (人工费, 材料费, 机械使用费)",
        description=(
            "Cost lines in (updated_at, record_id) order, one page at a time. Amounts are tax-exclusive; "
            "money and quantities are JSON numbers with exact decimal text."
        ),
    )
    def list_cost_records(
        page: PageParam = 1,
        page_size: PageSizeParam = DEFAULT_PAGE_SIZE,
        updated_since: UpdatedSinceParam = None,
        project_code: Annotated[str | None, Query(description="项目编码", examples=["XM2026001"])] = None,
        business_date_from: DateParam = None,
        business_date_to: DateParam = None,
    ) -> Response:
        since = parse_datetime("updated_since", updated_since)
        date_from = parse_date("business_date_from", business_date_from)
        date_to = parse_date("business_date_to", business_date_to)
        if date_from is not None and date_to is not None and date_from > date_to:
            raise invalid_parameter(
                f"business_date_from（{date_from}）晚于 business_date_to（{date_to}）",
                f"business_date_from ({date_from}) is after business_date_to ({date_to})",
            )

        def within(record: CostRecord) -> bool:
            return (date_from is None or record.business_date >= date_from) and (
                date_to is None or record.business_date <= date_to
            )

        listing = cost_records if project_code is None else cost_records_by_project.get(project_code)
        if listing is None:  # an unknown project simply has no costs, as a filter would say
            return DecimalJSONResponse(envelope(page_of([], page, page_size)))
        narrowed = date_from is not None or date_to is not None
        rows = listing.select(since, within if narrowed else None)
        return DecimalJSONResponse(envelope(page_of(rows, page, page_size)))

    return router
