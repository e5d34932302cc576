"""One staging path: file import and REST intake write through the same store functions.

The file way in and the REST way in used to insert records and documents each in their own way,
with two `document_columns` that disagreed. Both now call `yecai.store.staging`; the same cost,
arriving once as a file row and once as a REST item, gets the same document columns.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tests.support.spreadsheets import write_csv
from yecai import jsonutil
from yecai.domain.documents import Contract, ProgressReport, Project
from yecai.files import import_file
from yecai.sources.connector import StreamBinding
from yecai.sources.rest import RestStream
from yecai.store import staging
from yecai.store.db import Store
from yecai.store.tables import Document, Record
from yecai.sync.intake import stage_items, validate_staged

COST_STREAM = RestStream(
    name="cost_records", path="/costs", primary_key="record_id", cursor_field="updated_at"
)


def _rest_cost_document(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "source_key": item["record_id"],
        "project_code": item["project_code"],
        "category": item["category"],
        "business_date": item["business_date"],
        "description": item["description"],
        "amount": item["amount"],
    }


def _spy(monkeypatch: pytest.MonkeyPatch, name: str, calls: list[str]) -> None:
    real: Callable[..., Any] = getattr(staging, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return real(*args, **kwargs)

    monkeypatch.setattr(staging, name, spy)


def _columns(store: Store, connection: str) -> list[tuple[Any, ...]]:
    with store.transaction() as session:
        return [
            tuple(row)
            for row in session.execute(
                select(Document.project_code, Document.business_date, Document.category, Document.amount)
                .where(Document.connection == connection)
                .order_by(Document.id)
            )
        ]


def test_file_and_rest_stage_through_one_function_with_one_document_columns(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file_calls: list[str] = []
    for name in ("stage_records", "store_documents"):
        _spy(monkeypatch, name, file_calls)
    path = write_csv(
        tmp_path / "cost.csv",
        [
            ["单据编号", "项目编码", "成本类别", "业务日期", "摘要", "金额"],
            ["CB-00001", "XM2026001", "人工费", "2026-10-05", "钢筋班组 工日", "1234.50"],
        ],
    )
    result = import_file(store, path, kind="cost", connection="file")
    assert result.counts.imported == 1
    assert file_calls == ["stage_records", "store_documents"]

    rest_calls: list[str] = []
    monkeypatch.undo()
    for name in ("stage_records", "store_documents"):
        _spy(monkeypatch, name, rest_calls)
    item = {
        "record_id": "CB-00001",
        "project_code": "XM2026001",
        "category": "labour",
        "business_date": "2026-10-05",
        "description": "钢筋班组 工日",
        "amount": "1234.50",
        "updated_at": "2026-10-05T09:00:00+08:00",
    }
    with store.transaction() as session:
        ((record_id, key, _digest),) = stage_items(session, connection="pm", stream=COST_STREAM, items=[item])
    assert record_id is not None
    assert key == "CB-00001"
    connector = SimpleNamespace(
        streams={
            "cost_records": StreamBinding(
                stream=COST_STREAM, document_kind="cost_record", to_document=_rest_cost_document
            )
        }
    )
    checked = validate_staged(store, connector, "cost_records", connection="pm")  # type: ignore[arg-type]
    assert checked.valid == 1
    assert rest_calls == ["stage_records", "store_documents"]

    expected = [("XM2026001", dt.date(2026, 10, 5), "labour", Decimal("1234.50"))]
    assert _columns(store, "file") == _columns(store, "pm") == expected


def test_document_columns_are_the_union_of_both_former_versions() -> None:
    # The REST side knew a project is its own project and the dates of progress and contracts;
    # the file side stored Decimal amounts only. One function now does all of it.
    project = Project(code="XM2026001", name="合肥某工程")
    assert staging.document_columns(project)["project_code"] == "XM2026001"
    report = ProgressReport.model_validate(
        {
            "source_key": "JD-1",
            "project_code": "XM2026001",
            "period": "2026-10",
            "report_date": "2026-10-31",
            "percent_complete": "50",
        }
    )
    assert staging.document_columns(report)["business_date"] == dt.date(2026, 10, 31)
    contract = Contract.model_validate(
        {
            "contract_no": "HT-1",
            "project_code": "XM2026001",
            "contract_kind": "subcontract",
            "name": "主体劳务分包",
            "counterparty": "上海宏达劳务分包有限公司",
            "amount": "100000.00",
            "signed_date": "2026-03-01",
        }
    )
    columns = staging.document_columns(contract)
    assert columns["business_date"] == dt.date(2026, 3, 1)
    assert columns["amount"] == Decimal("100000.00")


def test_a_documents_date_is_the_first_date_field_it_has_whatever_its_class() -> None:
    # the date fields a class can have are worked out once per class: a field, a property, an
    # extra field of a model that allows them, or an object that is no model at all
    class Allowing(BaseModel):
        model_config = ConfigDict(extra="allow")
        project_code: str

    class Dated(BaseModel):
        work_date: dt.date | None = None

        @property
        def as_of(self) -> dt.date:
            return dt.date(2026, 1, 31)

    day = dt.date(2026, 10, 5)
    cases: list[tuple[Any, dt.date | None]] = [
        (Allowing.model_validate({"project_code": "XM1", "issue_date": day}), day),
        (Allowing.model_validate({"project_code": "XM1"}), None),
        (Dated(work_date=day), day),
        (Dated(), dt.date(2026, 1, 31)),
        (SimpleNamespace(project_code="XM1", report_date=day), day),
    ]
    for document, expected in cases:
        for _ in range(2):  # the second time from what was worked out for the class
            assert staging.document_columns(document)["business_date"] == expected


def test_a_writer_that_decided_on_a_stale_latest_version_fails_and_stores_nothing(store: Store) -> None:
    """Two writers of one key at once: the one that decided before the other's commit must lose."""
    item = {"record_id": "CB-1", "amount": "100.00"}
    with store.transaction() as session:
        stage_items(session, connection="pm", stream=COST_STREAM, items=[item])
    changed = {**item, "amount": "200.00"}

    def late_writer() -> None:
        with store.transaction() as late:
            # the late writer reads the latest version (100) and decides 200 is new …
            seen = staging.stored_versions(late, connection="pm", stream="cost_records", keys=["CB-1"])
            assert [v.revision for v in seen["CB-1"]] == [1]
            # … while another writer stores the same change and commits first
            with store.transaction() as early:
                stage_items(early, connection="pm", stream=COST_STREAM, items=[changed])
            text = jsonutil.dumps(changed, canonical=True)
            record = staging.NewRecord("CB-1", hashlib.sha256(text.encode()).hexdigest(), text)
            staging.stage_records(
                late, connection="pm", stream="cost_records", records=[record], history=seen
            )

    with pytest.raises(IntegrityError):
        late_writer()
    with store.transaction() as session:
        rows = session.execute(select(Record.revision, Record.payload).order_by(Record.revision)).all()
    assert [(r.revision, jsonutil.loads(r.payload)["amount"]) for r in rows] == [(1, "100.00"), (2, "200.00")]
