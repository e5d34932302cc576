"""sandbox.pm's three pagination styles partition every stream exactly, over real HTTP.

Page number (projects, cost records, contracts, progress reports), offset (BOQ, budget lines,
payment requests, workers) and cursor (invoices, attendance): any page size visits every record
once, in (updated_at, key) order, and the envelope fields say so. A cursor stays valid while the
simulated clock moves and records are created and edited between pages.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yecai.jsonutil import dumps
from yecai.sandbox.pm import DEFAULT_TOKEN, Dataset, start_sandbox
from yecai.sandbox.pm.paging import cursor_page, offset_of
from yecai.sandbox.pm.timeline import Tombstone

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
ENDPOINTS: dict[str, tuple[str, str]] = {  # path → (style, entity)
    "/api/v1/projects": ("page", "project"),
    "/api/v1/cost-records": ("page", "cost_record"),
    "/api/v1/contracts": ("page", "contract"),
    "/api/v1/progress-reports": ("page", "progress_report"),
    "/api/v1/boq-items": ("offset", "boq_item"),
    "/api/v1/budget-lines": ("offset", "budget_line"),
    "/api/v1/payment-requests": ("offset", "payment_request"),
    "/api/v1/receipts": ("offset", "receipt"),
    "/api/v1/workers": ("offset", "worker"),
    "/api/v1/invoices": ("cursor", "invoice"),
    "/api/v1/attendance": ("cursor", "attendance"),
    "/api/v1/opening-balances": ("page", "opening_balance"),
}


SANDBOX = {"projects": 6, "months": 1, "seed": 3}  # what the conftest's sandbox serves here


def body(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return json.loads(response.text, parse_float=Decimal)


def as_json(record: Any) -> dict[str, Any]:
    return json.loads(
        dumps(record.as_item() if isinstance(record, Tombstone) else record), parse_float=Decimal
    )


def api_order(records: Any) -> list[dict[str, Any]]:
    return [as_json(r) for r in sorted(records, key=lambda r: (r.updated_at, r.key))]


def crawl(client: httpx.Client, path: str, size: int, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list endpoint in its own pagination style, checking the envelope as it goes."""
    style = ENDPOINTS[path][0]
    if path == "/api/v1/cost-records":
        params.setdefault("category", "all")
    items: list[dict[str, Any]] = []
    position: Any = {"page": 1, "offset": 0, "cursor": None}[style]
    for _ in range(10_000):
        query = {**params}
        if style == "page":
            query.update(page=position, page_size=size)
        elif style == "offset":
            query.update(offset=position, limit=size)
        else:
            query["page_size"] = size
            if position is not None:
                query["cursor"] = position
        answer = body(client.get(path, params=query))
        assert (answer["code"], answer["message"]) == (0, "ok")
        data = answer["data"]
        assert len(data["items"]) <= size
        items.extend(data["items"])
        if style == "page":
            assert data["page"] == position
            assert data["has_more"] == (position * size < data["total"])
            position += 1
        elif style == "offset":
            assert (data["offset"], data["limit"]) == (position, size)
            assert data["has_more"] == (position + len(data["items"]) < data["total"])
            position += len(data["items"])
        else:
            assert data["has_more"] == (data["next_cursor"] is not None)
            assert data["resume_cursor"] == (data["next_cursor"] or data["resume_cursor"])
            position = data["next_cursor"]
        if not data["has_more"]:
            if style != "cursor":
                assert len(items) == data["total"]
            return items
    raise AssertionError("pagination did not end")


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_each_endpoint_serves_its_stream_once_and_exactly(
    client: httpx.Client, dataset: Dataset, path: str
) -> None:
    entity = ENDPOINTS[path][1]
    items = crawl(client, path, 97)
    assert items == api_order(dataset.at(dataset.timeline_end).of(entity))


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_any_page_size_partitions_any_filtered_stream(
    client: httpx.Client, dataset: Dataset, data: st.DataObject
) -> None:
    path = data.draw(st.sampled_from(list(ENDPOINTS)))
    entity = ENDPOINTS[path][1]
    rows = list(dataset.at(dataset.timeline_end).of(entity))
    params: dict[str, Any] = {}
    if entity != "project":
        project = data.draw(st.sampled_from(sorted({r.project_code for r in rows})))
        params["project_code"] = project
        rows = [r for r in rows if r.project_code == project]
    stamps = sorted({r.updated_at for r in rows})
    since = data.draw(st.none() | st.sampled_from(stamps))
    if since is not None:
        params["updated_since"] = since.isoformat()
        rows = [r for r in rows if r.updated_at >= since]
    # page sizes from 1 up, but never more than 40 requests for one crawl
    size = max(data.draw(st.integers(1, 80)), math.ceil(len(rows) / 40), 1)
    assert crawl(client, path, size, **params) == api_order(rows)


@given(rows=st.lists(st.integers(0, 10**6), max_size=60, unique=True), size=st.integers(1, 70))
def test_offset_and_cursor_slices_partition_any_ordered_rows(rows: list[int], size: int) -> None:
    base = datetime(2026, 10, 1, tzinfo=timezone(timedelta(hours=8)))

    class Row:
        def __init__(self, n: int) -> None:
            self.updated_at = base + timedelta(seconds=n // 3)  # ties on updated_at, broken by key
            self.key = f"K{n:07d}"

    records = sorted((Row(n) for n in rows), key=lambda r: (r.updated_at, r.key))
    seen: list[Any] = []
    offset = 0
    while True:
        data = offset_of(records, offset, size)["data"]
        seen.extend(data["items"])
        offset += len(data["items"])
        if not data["has_more"]:
            break
    assert seen == records
    seen, cursor = [], None
    while True:
        data = cursor_page(records, cursor, size)["data"]
        seen.extend(data["items"])
        cursor = data["next_cursor"]
        if cursor is None:
            break
    assert seen == records


@pytest.mark.slow
def test_a_cursor_survives_a_moving_clock() -> None:
    """Records created and edited between pages never shift the cursor: nothing skipped, nothing twice."""
    start = datetime(2026, 10, 7, tzinfo=timezone(timedelta(hours=8)))
    server, dataset = start_sandbox(projects=3, months=1, seed=8, now=start)
    with server, httpx.Client(base_url=server.base_url, headers=AUTH, timeout=10) as client:
        for path, entity, key_field in (
            ("/api/v1/attendance", "attendance", "attendance_id"),
            ("/api/v1/invoices", "invoice", "invoice_no"),
        ):
            now = server.runtime.now()
            before = {r.key for r in dataset.at(now).of(entity)}
            seen: list[tuple[str, str]] = []
            cursor: str | None = None
            for _ in range(400):
                params: dict[str, Any] = {"page_size": 40}
                if cursor:
                    params["cursor"] = cursor
                data = body(client.get(path, params=params))["data"]
                seen.extend((item[key_field], item["updated_at"]) for item in data["items"])
                cursor = data["resume_cursor"]  # also where to come back to once caught up
                if data["next_cursor"] is None and server.runtime.now() >= now + timedelta(days=12):
                    break
                # the system moves on between two pages: new rows, edits of rows already read
                body(client.post("/admin/clock", json={"advance_hours": 7}))
            final = server.runtime.now()
            assert final >= now + timedelta(days=12)
            assert len(seen) == len(set(seen)), entity  # no version twice
            times_seen = Counter(key for key, _ in seen)
            changed = {v.record.key for v in dataset.histories[entity] if now < v.at <= final}
            live = {r.key: r.updated_at.isoformat() for r in dataset.at(final).of(entity)}
            assert len(before - changed) > 0
            assert len(changed - before) > 0
            for key in before - changed:
                assert times_seen[key] == 1, (entity, key)  # untouched rows: exactly once
            for key in live:
                assert times_seen[key] >= 1, (entity, key)  # nothing live is skipped
            # what the client ends up believing (newest version per key) is the server's state
            newest: dict[str, str] = {}
            for key, stamp in seen:
                newest[key] = max(newest.get(key, stamp), stamp)
            assert {k: v for k, v in newest.items() if k in live} == live


def test_bad_cursor_offset_and_limit_are_refused(client: httpx.Client, dataset: Dataset) -> None:
    for path, params in (
        ("/api/v1/invoices", {"cursor": "not-a-cursor"}),
        ("/api/v1/attendance", {"cursor": "c1.!!!"}),
        ("/api/v1/workers", {"offset": -1}),
        ("/api/v1/boq-items", {"limit": 0}),
        ("/api/v1/payment-requests", {"limit": 501}),
        ("/api/v1/payment-requests", {"status": "approvedd"}),
        ("/api/v1/cost-records", {"category": "labor"}),
    ):
        response = client.get(path, params=params)
        assert response.status_code == 400, (path, params)
        answer = response.json()
        assert answer["code"] == 40001
        assert next(iter(params)) in answer["message"]


def test_one_record_by_its_key(client: httpx.Client, dataset: Dataset) -> None:
    contract = dataset.contracts[3]
    answer = body(client.get(f"/api/v1/contracts/{contract.contract_no}"))
    assert answer["data"] == as_json(contract)
    worker = dataset.workers[0]
    assert body(client.get(f"/api/v1/workers/{worker.worker_id}"))["data"] == as_json(worker)
    missing = client.get("/api/v1/invoices/00000000")
    assert missing.status_code == 404
    assert missing.json()["code"] == 40401
