"""sandbox.pm streams (projects, cost records) and their mapping onto canonical documents.

Both endpoints page by number, filter by `updated_since` and return rows in ascending
`updated_at` order, so the cursor may advance page by page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from yecai.sources.connector import StreamBinding
from yecai.sources.rest import PageNumberPagination, RestSource, RestStream

PAGE = PageNumberPagination(page_size=500)

PROJECTS = RestStream(
    name="projects",
    path="/api/v1/projects",
    primary_key="project_code",
    cursor_field="updated_at",
    pagination=PAGE,
)
COST_RECORDS = RestStream(
    name="cost_records",
    path="/api/v1/cost-records",
    primary_key="record_id",
    cursor_field="updated_at",
    pagination=PAGE,
)


def project_document(item: dict[str, Any]) -> dict[str, Any]:
    place = "".join(str(item.get(k) or "") for k in ("province", "city", "district"))
    return {
        "code": item.get("project_code"),
        "name": item.get("project_name"),
        "department": item.get("department_name"),
        "manager": item.get("manager_name"),
        "customer": item.get("customer_name"),
        "location": place or None,
        "contract_value": item.get("contract_amount"),
        "start_date": item.get("start_date"),
        "end_date": item.get("end_date"),
        "status": item.get("status"),
    }


def cost_record_document(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "source_key": item.get("record_id"),
        "project_code": item.get("project_code"),
        "category": item.get("category"),
        "business_date": item.get("business_date"),
        "description": item.get("description") or "",
        "quantity": item.get("quantity"),
        "unit": item.get("unit"),
        "unit_price": item.get("unit_price"),
        "amount": item.get("amount"),
        "tax_rate": item.get("tax_rate"),
        "supplier_name": item.get("supplier_name"),
    }


class PmSandboxConnector:
    """Pulls projects and cost records from a sandbox.pm server."""

    name = "pm_sandbox"
    streams: Mapping[str, StreamBinding] = {
        "projects": StreamBinding(PROJECTS, "project", project_document),
        "cost_records": StreamBinding(COST_RECORDS, "cost_record", cost_record_document),
    }

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        connection: str = "pm",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url
        self.token = token
        self.connection = connection
        self._transport = transport

    def source(self) -> RestSource:
        return RestSource(
            self.base_url, token=self.token, connection=self.connection, transport=self._transport
        )
