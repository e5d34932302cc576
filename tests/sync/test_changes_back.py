"""A value that changes back, end to end (issue 12): 100 → 200 → 100 leaves 100 in Kingdee.

Each way in (file import, webhook, REST pull) delivers one cost record three times, the pipeline
runs after each delivery into a served sandbox.kingdee, and what Kingdee holds in the end — the
vouchers' net debit total, reversals included — is the last value the source sent. A deletion
followed by an identical re-creation posts the record again.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.posting_world import YECAI_VOUCHERS
from tests.support.spreadsheets import write_csv
from yecai.connectors.files.connector import FileConnector
from yecai.connectors.generic_rest import GenericRestConnector
from yecai.connectors.generic_rest.spec import parse_spec
from yecai.demo import identity_of
from yecai.domain.money import money_sum
from yecai.files import import_file
from yecai.kingdee.client import KingdeeClient
from yecai.mapping.rules import MappingTable, default_mapping, default_rule_set
from yecai.sources.connector import Connector
from yecai.sources.webhooks import sign
from yecai.store.db import Store
from yecai.sync.pipeline import SyncReport, run_sync_job
from yecai.sync.webhooks import receive

pytestmark = pytest.mark.slow  # whole pipeline runs into sandbox.kingdee

# the source's project XM1 is the 项目 XM1 in Kingdee
MAPPING = MappingTable.model_validate({**default_mapping().model_dump(), "projects": {"XM1": "XM1"}})
STAMP = "2026-10-05T10:00:00+08:00"
SPEC: dict[str, Any] = {
    "name": "pm",
    "base_url": "http://pm.test",
    "streams": {
        "cost_records": {
            "path": "/costs",
            "document": "cost_record",
            "primary_key": "record_id",
            "records_path": "data.items",
            "deleted_field": "deleted",
            "pagination": {"style": "page", "page_size": 50},
            "fields": {
                "source_key": "record_id",
                "project_code": "project_code",
                "category": "category",
                "business_date": "business_date",
                "amount": "amount",
                "supplier_name": "supplier_name",
            },
        }
    },
    "webhooks": {
        "secret": "${HOOK_SECRET}",
        "signature_header": "X-PM-Signature",
        "timestamp_header": "X-PM-Timestamp",
        "events": {
            "cost_record.updated": {"stream": "cost_records"},
            "cost_record.deleted": {"stream": "cost_records", "deleted": True},
        },
    },
}


class Source:
    """A PM system's REST listing of cost records: whatever `rows` holds when asked."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        items = self.rows if page == 1 else []
        return httpx.Response(200, json={"code": 0, "data": {"items": items, "has_more": False}})


def cost(amount: str, **extra: Any) -> dict[str, Any]:
    return {
        "record_id": "CB-1",
        "project_code": "XM1",
        "category": "labour",
        "business_date": "2026-10-05",
        "amount": amount,
        "supplier_name": "上海宏达劳务分包有限公司",  # 应付劳务款 carries its supplier
        **extra,
    }


def sync(store: Store, connector: Connector, kingdee: dict[str, Any], streams: tuple[str, ...]) -> SyncReport:
    with KingdeeClient(str(kingdee["server_url"]), identity_of(kingdee), connection="kd") as client:
        return run_sync_job(
            store,
            connector,
            client,
            rule_sets=[default_rule_set()],
            mapping=MAPPING,
            source_connection="pm",
            kingdee_connection="kd",
            streams=streams,
            backoff=0.01,
        )


def with_project(kingdee: dict[str, Any]) -> dict[str, Any]:
    """The sandbox with the 项目 XM1 the cost record names (as an implementation consultant sets it up)."""
    rules = default_rule_set()
    with KingdeeClient(str(kingdee["server_url"]), identity_of(kingdee)) as client:
        client.save(
            rules.kingdee.project_form,
            {"FNumber": "XM1", "FDataValue": "一号项目", "FId": {"FNumber": rules.kingdee.project_category}},
        )
    return kingdee


def kingdee_total(kingdee: dict[str, Any]) -> Decimal:
    """Net debit total of every voucher yecai wrote (a reversal counts negative)."""
    with KingdeeClient(str(kingdee["server_url"]), identity_of(kingdee)) as client:
        rows = client.query_all("GL_VOUCHER", ["FVOUCHERID", "FDEBITTOTAL"], YECAI_VOUCHERS)
        return money_sum(Decimal(str(row[1])) for row in {row[0]: row for row in rows}.values())


def test_a_file_amount_that_changes_back_ends_in_kingdee(
    store: Store, kingdee: dict[str, Any], tmp_path: Path
) -> None:
    header = ["单据编号", "项目编码", "成本类别", "日期", "金额", "劳务分包单位"]
    connector = FileConnector("pm")
    kingdee = with_project(kingdee)
    for n, amount in enumerate((100, 200, 100)):
        stamp = (dt.datetime(2026, 10, 6, 9) + dt.timedelta(hours=n)).strftime("%Y-%m-%d %H:%M:%S")
        rows = [
            [f"导出时间：{stamp}"],
            header,
            ["CB-1", "XM1", "人工费", "2026-10-05", amount, "上海宏达劳务分包有限公司"],
        ]
        result = import_file(
            store, write_csv(tmp_path / f"costs-{n}.csv", rows), kind="cost", connection="pm"
        )
        assert result.counts.imported == 1, result.issues
        sync(store, connector, kingdee, ("cost",))
        assert kingdee_total(kingdee) == Decimal(amount)


def deliver(store: Store, connector: GenericRestConnector, event_id: str, kind: str, data: dict) -> str:
    assert connector.spec.webhooks is not None
    body = json.dumps({"event_id": event_id, "event_type": kind, "occurred_at": STAMP, "data": data}).encode()
    stamp = str(int(dt.datetime.now(dt.UTC).timestamp()))
    signed = {"X-PM-Timestamp": stamp, "X-PM-Signature": sign(connector.spec.webhooks, stamp, body)}
    return receive(store, connector, headers=signed, body=body).outcome


def test_webhook_changes_back_and_recreation_end_in_kingdee(store: Store, kingdee: dict[str, Any]) -> None:
    connector = GenericRestConnector(
        parse_spec(SPEC, secrets={"HOOK_SECRET": "hush"}),
        connection="pm",
        transport=httpx.MockTransport(Source()),  # pushed only: the listing is empty
    )
    kingdee = with_project(kingdee)
    steps = [
        ("cost_record.updated", "100.00", 100),
        ("cost_record.updated", "200.00", 200),
        ("cost_record.updated", "100.00", 100),
        ("cost_record.deleted", "100.00", 0),
        ("cost_record.updated", "100.00", 100),  # re-created exactly as it was
    ]
    for n, (kind, amount, expected) in enumerate(steps):
        assert deliver(store, connector, f"E{n}", kind, cost(amount)) == "stored", n
        sync(store, connector, kingdee, ("cost_records",))
        assert kingdee_total(kingdee) == Decimal(expected), n


def test_a_pulled_row_that_changes_back_ends_in_kingdee(store: Store, kingdee: dict[str, Any]) -> None:
    source = Source()
    connector = GenericRestConnector(
        parse_spec(SPEC, secrets={"HOOK_SECRET": "hush"}),
        connection="pm",
        transport=httpx.MockTransport(source),
    )
    kingdee = with_project(kingdee)
    for n, (row, expected) in enumerate(
        [
            (cost("100.00"), 100),
            (cost("200.00"), 200),
            (cost("100.00"), 100),
            (cost("100.00", deleted=True), 0),
            (cost("100.00"), 100),
        ]
    ):
        source.rows = [row]
        report = sync(store, connector, kingdee, ("cost_records",))
        assert report.pulls[0].new == 1, n
        assert kingdee_total(kingdee) == Decimal(expected), n
