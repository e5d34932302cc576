"""Importer on SQLite and PostgreSQL: nothing lost, nothing doubled, cursor moves with the records."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from yecai import jsonutil
from yecai.connectors.pm_sandbox import PmSandboxConnector
from yecai.sandbox.pm.app import DEFAULT_TOKEN
from yecai.sandbox.pm.server import start_sandbox
from yecai.sources.rest import SourceError
from yecai.store.db import Store
from yecai.store.tables import Document, Record
from yecai.sync.intake import pull, read_cursor, validate_staged

BEIJING = dt.timezone(dt.timedelta(hours=8))


def item(n: int, amount: str = "100.00", **change: Any) -> dict[str, Any]:
    stamp = dt.datetime(2026, 10, 1, 9, tzinfo=BEIJING) + dt.timedelta(minutes=n)
    base = {
        "record_id": f"CB-{n:05d}",
        "project_code": "XM2026001",
        "category": "labour",
        "business_date": "2026-10-01",
        "description": "钢筋班组 工日",
        "quantity": None,
        "unit": "工日",
        "unit_price": None,
        "amount": amount,
        "tax_rate": "0.09",
        "supplier_name": "上海宏达劳务分包有限公司",
        "updated_at": stamp.isoformat(),
    }
    return {**base, **change}


class FakePm:
    """A tiny PM API over MockTransport: page-number paging, updated_since, optional failure."""

    def __init__(self, items: list[dict[str, Any]], fail_on_page: int | None = None) -> None:
        self.items = items
        self.fail_on_page = fail_on_page
        self.calls: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        self.calls.append(params)
        page, size = int(params["page"]), int(params["page_size"])
        if page == self.fail_on_page:
            return httpx.Response(500, text="<html>boom</html>")
        rows = sorted(self.items, key=lambda r: (r["updated_at"], r["record_id"]))
        if "updated_since" in params:
            since = dt.datetime.fromisoformat(params["updated_since"])
            rows = [r for r in rows if dt.datetime.fromisoformat(r["updated_at"]) >= since]
        chunk = rows[(page - 1) * size : page * size]
        body = {"code": 0, "data": {"items": chunk, "has_more": page * size < len(rows)}}
        # amounts go out as JSON numbers, like real PM systems send them
        text = (
            json.dumps(body, ensure_ascii=False)
            .replace('"amount": "', '"amount": ')
            .replace('", "tax_rate"', ', "tax_rate"')
        )
        return httpx.Response(200, text=text)


def connector_for(fake: FakePm, page_size: int = 10) -> PmSandboxConnector:
    connector = PmSandboxConnector("http://pm.test", "t", transport=httpx.MockTransport(fake))
    binding = connector.streams["cost_records"]
    stream = binding.stream.__class__(
        **{
            **{f: getattr(binding.stream, f) for f in binding.stream.__dataclass_fields__},
            "pagination": binding.stream.pagination.__class__(page_size=page_size),
        }
    )
    connector.streams = {
        "cost_records": binding.__class__(stream, binding.document_kind, binding.to_document)
    }
    return connector


def count(store: Store, model: type) -> int:
    with store.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_pull_stores_every_record_once_and_moves_the_cursor(store: Store) -> None:
    fake = FakePm([item(n) for n in range(25)])
    first = pull(store, connector_for(fake), "cost_records", connection="pm")
    assert (first.fetched, first.new, first.unchanged) == (25, 25, 0)
    assert read_cursor(store, "pm", "cost_records") == item(24)["updated_at"]
    again = pull(store, connector_for(fake), "cost_records", connection="pm")
    assert again.new == 0
    assert again.fetched == again.unchanged > 0  # the look-back window re-reads, harmlessly
    assert "updated_since" in fake.calls[-1]
    assert count(store, Record) == 25


def test_a_changed_row_is_a_new_record_and_document(store: Store) -> None:
    fake = FakePm([item(1), item(2)])
    connector = connector_for(fake)
    pull(store, connector, "cost_records", connection="pm")
    validate_staged(store, connector, "cost_records", connection="pm")
    fake.items[1] = item(
        2, amount="150.00", updated_at=(dt.datetime(2026, 10, 2, tzinfo=BEIJING)).isoformat()
    )
    result = pull(store, connector, "cost_records", connection="pm")
    assert result.new == 1
    validate_staged(store, connector, "cost_records", connection="pm")
    with store.transaction() as session:
        versions = session.scalars(
            select(Document.amount).where(Document.source_key == "CB-00002").order_by(Document.id)
        ).all()
    assert versions == [Decimal("100.00"), Decimal("150.00")]


def test_bad_rows_are_kept_with_reasons_and_good_rows_proceed(store: Store) -> None:
    fake = FakePm([item(1), item(2, amount="12.345"), item(3, project_code=None), item(4)])
    connector = connector_for(fake)
    pull(store, connector, "cost_records", connection="pm")
    result = validate_staged(store, connector, "cost_records", connection="pm")
    assert (result.valid, result.invalid) == (2, 2)
    with store.transaction() as session:
        bad = {
            r.source_key: r.issues for r in session.scalars(select(Record).where(Record.status == "invalid"))
        }
    assert set(bad) == {"CB-00002", "CB-00003"}
    assert bad["CB-00002"][0]["field"] == "amount"
    assert "两位小数" in bad["CB-00002"][0]["zh"]
    assert bad["CB-00003"][0]["field"] == "project_code"
    assert count(store, Document) == 2


@pytest.mark.slow
def test_a_failed_pull_loses_nothing_and_resumes(store: Store) -> None:
    fake = FakePm([item(n) for n in range(50)], fail_on_page=4)
    connector = connector_for(fake)
    with pytest.raises(SourceError):
        pull(store, connector, "cost_records", connection="pm")
    stored = count(store, Record)
    cursor = read_cursor(store, "pm", "cost_records")
    assert stored == 20  # pages 1–2 committed; page 3 waited for page 4, which failed
    assert cursor == item(19)["updated_at"]  # the cursor covers exactly what is stored
    fake.fail_on_page = None
    pull(store, connector, "cost_records", connection="pm")
    assert count(store, Record) == 50
    assert read_cursor(store, "pm", "cost_records") == item(49)["updated_at"]


def test_pull_from_sandbox_pm_keeps_money_exact(store: Store) -> None:
    server, dataset = start_sandbox(projects=3, months=1, seed=7)
    with server:
        connector = PmSandboxConnector(server.base_url, DEFAULT_TOKEN)
        for stream in ("projects", "cost_records"):
            pull(store, connector, stream, connection="pm")
            assert validate_staged(store, connector, stream, connection="pm").invalid == 0
    with store.transaction() as session:
        amounts = dict(
            session.execute(
                select(Document.source_key, Document.amount).where(
                    Document.kind == "cost_record", Document.deleted.is_(False)
                )
            ).all()
        )
        tombstones = session.scalar(select(func.count()).where(Document.deleted.is_(True))) or 0
        raw = session.scalars(
            select(Record.payload).where(Record.stream == "cost_records", Record.status == "valid").limit(1)
        ).one()
    assert amounts == {r.record_id: r.amount for r in dataset.all_cost_records}
    assert isinstance(jsonutil.loads(raw)["amount"], Decimal)
    # every live record once, every deletion as its tombstone, nothing else
    assert count(store, Record) == len(dataset.all_cost_records) + tombstones + len(dataset.projects)
