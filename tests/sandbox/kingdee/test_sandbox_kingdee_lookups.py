"""The shortcuts that keep sandbox.kingdee's own CPU low (issue 15) answer exactly as the long way.

ExecuteBillQuery reads only the records an index names when the filter starts with a header text
field `=`/`IN` text literals; record bodies go through the C JSON encoder; reference lookups are
remembered within a call. Each is checked here against the behaviour it replaces.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.kingdee_calls import DYNAMIC_FORM, balanced_voucher, signed_call
from yecai import jsonutil
from yecai.sandbox.kingdee import KingdeeSandbox, query
from yecai.sandbox.kingdee.store import Record, Store, _body, _decode, _encode


def call(sandbox: KingdeeSandbox, service: str, data: dict[str, Any], form_id: str | None = None) -> Any:
    body: dict[str, Any] = {"data": data} if form_id is None else {"formid": form_id, "data": data}
    reply = signed_call(sandbox, DYNAMIC_FORM + service, body)
    assert reply.status == 200
    return json.loads(reply.text)


def numbered(number: str, amount: Any, date: str = "2025-03-31") -> dict[str, Any]:
    return {**balanced_voucher(amount, date=date), "FBillNo": number}


@pytest.fixture
def vouchers(sandbox: KingdeeSandbox) -> list[int]:
    models = [
        numbered("YC-001", 100),
        numbered("yc-002", "20.50", date="2025-02-01"),
        numbered("YC-003 ", 7),
        numbered("ZZ-9", 1),
    ]
    answer = call(sandbox, "BatchSave", {"Model": models}, "GL_VOUCHER")
    status = answer["Result"]["ResponseStatus"]
    assert status["IsSuccess"], status
    return [entity["Id"] for entity in status["SuccessEntitys"]]


FILTERS = [
    "FBillNo IN ('YC-001', 'YC-002', 'nothing')",
    "FBillNo = 'yc-003'",
    "'ZZ-9' = FBillNo",
    "FBillNo IN ('YC-001', 'YC-003') AND FDEBITTOTAL > 50",
    "FBillNo IN ('YC-001', 'YC-002') AND FDate > 'not a date'",  # an error on a selected record
    "FDate > 'not a date' AND FBillNo IN ('nothing')",  # the error comes first: no shortcut
    "FBillNo IN ('YC-001', NULL)",
    "FBillNo NOT IN ('YC-001')",
    "FBillNo IN ('YC-001') OR FBillNo = 'ZZ-9'",
    "FBillNo IN ('YC-002', 'YC-001') AND FEXPLANATION LIKE '%'",
]


def both_ways(
    sandbox: KingdeeSandbox, monkeypatch: pytest.MonkeyPatch, data: dict[str, Any]
) -> tuple[Any, Any]:
    shortcut = call(sandbox, "ExecuteBillQuery", data)
    with monkeypatch.context() as patch:
        patch.setattr(query, "_candidates", lambda store, plan: store.records(plan.form))
        long_way = call(sandbox, "ExecuteBillQuery", data)
    return shortcut, long_way


@pytest.mark.parametrize("condition", FILTERS)
@pytest.mark.parametrize(
    ("keys", "order"),
    [("FVOUCHERID,FBillNo,FDEBITTOTAL", ""), ("FBillNo,FEntity_FSEQ,FDEBIT", "FBillNo DESC")],
)
def test_indexed_filters_answer_as_a_full_scan(
    sandbox: KingdeeSandbox,
    vouchers: list[int],
    monkeypatch: pytest.MonkeyPatch,
    condition: str,
    keys: str,
    order: str,
) -> None:
    data = {"FormId": "GL_VOUCHER", "FieldKeys": keys, "FilterString": condition, "OrderString": order}
    shortcut, long_way = both_ways(sandbox, monkeypatch, data)
    assert shortcut == long_way


def test_the_index_follows_renumbering_and_deletes(
    sandbox: KingdeeSandbox, vouchers: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = {
        "FormId": "GL_VOUCHER",
        "FieldKeys": "FVOUCHERID,FBillNo",
        "FilterString": "FBillNo IN ('YC-001', 'NEW-1')",
    }
    assert call(sandbox, "ExecuteBillQuery", data) == [[vouchers[0], "YC-001"]]  # builds the index
    renumbered = {**numbered("NEW-1", 100), "FVOUCHERID": vouchers[0]}
    assert call(sandbox, "Save", {"Model": renumbered}, "GL_VOUCHER")["Result"]["ResponseStatus"]["IsSuccess"]
    shortcut, long_way = both_ways(sandbox, monkeypatch, data)
    assert shortcut == long_way == [[vouchers[0], "NEW-1"]]
    deleted = call(sandbox, "Delete", {"Ids": str(vouchers[0])}, "GL_VOUCHER")
    assert deleted["Result"]["ResponseStatus"]["IsSuccess"], deleted
    shortcut, long_way = both_ways(sandbox, monkeypatch, data)
    assert shortcut == long_way == []


def test_lookup_keeps_store_order_and_always_returns_undecidable_values(sandbox: KingdeeSandbox) -> None:
    store: Store = sandbox.store
    form = sandbox.registry.get("BD_Supplier")
    assert form is not None
    with store.transaction() as tx:
        for record_id, name in ((901, "b"), (902, None), (903, "B "), (904, Decimal(5)), (905, "c")):
            tx.put(form, Record(form.form_id, record_id, {"FNAME": name}))

    def found() -> list[Any]:
        ids = [r.id for r in store.lookup(form, "FName", query._text_bucket, ["b"])]
        return [i for i in ids if i >= 901]

    assert found() == [901, 902, 903, 904]
    with store.transaction() as tx:
        tx.put(form, Record(form.form_id, 901, {"FNAME": "other"}))
        tx.put(form, Record(form.form_id, 905, {"FNAME": "b"}))
    assert found() == [902, 903, 904, 905]
    with store.transaction() as tx:
        tx.delete(form, 903)
    with store.transaction() as tx:
        tx.put(form, Record(form.form_id, 903, {"FNAME": "B"}))  # back, now last in the store
    assert found() == [902, 904, 905, 903]
    assert [r.id for r in store.records(form) if r.id in (902, 904, 905, 903)] == [902, 904, 905, 903]


def test_record_bodies_read_back_as_the_old_encoding_does(
    sandbox: KingdeeSandbox, vouchers: list[int]
) -> None:
    def typed(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: typed(v) for k, v in value.items()}
        if isinstance(value, list):
            return [typed(v) for v in value]
        return (type(value).__name__, str(value))

    form = sandbox.registry.get("GL_VOUCHER")
    assert form is not None
    checked = 0
    for record in sandbox.store.records(form):
        fast = _decode(form, str(record.id), jsonutil.loads(_body(form, record)))
        old = _decode(form, str(record.id), jsonutil.loads(jsonutil.dumps(_encode(form, record))))
        assert typed(fast.values) == typed(old.values)  # both drop fractions of a second
        assert typed(fast.entries) == typed(old.entries)
        checked += 1
    assert checked == len(vouchers)


def test_a_value_the_c_encoder_cannot_take_is_written_the_old_way(sandbox: KingdeeSandbox) -> None:
    form = sandbox.registry.get("GL_VOUCHER")
    assert form is not None
    odd = Record(form.form_id, 1, {"FBILLNO": "X", "FYEAR": Decimal("2025")}, {})  # a Decimal in an int field
    assert _body(form, odd) == jsonutil.dumps(_encode(form, odd))


def test_saved_vouchers_survive_a_restart(tmp_path: Path) -> None:
    first = KingdeeSandbox(tmp_path)
    try:
        answer = call(first, "BatchSave", {"Model": [numbered("R-1", "12.30")]}, "GL_VOUCHER")
        assert answer["Result"]["ResponseStatus"]["IsSuccess"]
        data = {"FormId": "GL_VOUCHER", "FieldKeys": "FBillNo,FDEBITTOTAL,FDate,FEntity_FDEBIT"}
        before = call(first, "ExecuteBillQuery", data)
    finally:
        first.close()
    second = KingdeeSandbox(tmp_path)
    try:
        assert call(second, "ExecuteBillQuery", data) == before
    finally:
        second.close()
