"""sandbox.kingdee state: persistence across restarts and numbering under concurrent clients."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from tests.support.kingdee_calls import DYNAMIC_FORM, balanced_voucher, sdk_client, signed_call, status_of
from yecai.sandbox.kingdee import KingdeeSandbox, start_sandbox


def _save(sandbox: KingdeeSandbox, form_id: str, model: Any) -> dict[str, Any]:
    reply = signed_call(sandbox, DYNAMIC_FORM + "Save", {"formid": form_id, "data": {"Model": model}})
    return json.loads(reply.text)["Result"]


def _rows(sandbox: KingdeeSandbox, **data: Any) -> Any:
    return json.loads(signed_call(sandbox, DYNAMIC_FORM + "ExecuteBillQuery", {"data": data}).text)


def test_everything_survives_a_restart(tmp_path: Path) -> None:
    first = KingdeeSandbox(tmp_path)
    credentials = first.credentials
    project = {"FId": {"FNumber": "XM01"}, "FNumber": "XM-P1", "FDataValue": "持久化项目"}
    assert _save(first, "BOS_ASSISTANTDATA_DETAIL", project)["ResponseStatus"]["IsSuccess"]
    saved = _save(first, "GL_VOUCHER", balanced_voucher("88.80", project="XM-P1", date="2025-07-01"))
    first.close_period(2025, 6)
    first.close()

    second = KingdeeSandbox(tmp_path)
    try:
        assert second.credentials == credentials
        rows = _rows(
            second,
            FormId="GL_VOUCHER",
            FieldKeys="FVOUCHERID,FBillNo,FVOUCHERGROUPNO,FDetailID.FF100001.FDataValue,FDEBIT,FDate",
            OrderString="FEntity_FSeq",
        )
        assert rows == [
            [saved["Id"], saved["Number"], "1", "持久化项目", 88.80, "2025-07-01T00:00:00"],
            [saved["Id"], saved["Number"], "1", "持久化项目", 0, "2025-07-01T00:00:00"],
        ]
        # Counters, number uniqueness and closed periods came back too.
        again = _save(second, "GL_VOUCHER", balanced_voucher(1, date="2025-07-02"))
        assert (again["Id"], again["Number"]) == (saved["Id"] + 1, "GL00000002")
        assert _rows(
            second, FormId="GL_VOUCHER", FieldKeys="FVOUCHERGROUPNO", FilterString=f"FVOUCHERID={again['Id']}"
        ) == [["2"]]
        duplicate = _save(second, "BOS_ASSISTANTDATA_DETAIL", project)["ResponseStatus"]
        assert duplicate["MsgCode"] == 11
        closed = _save(second, "GL_VOUCHER", balanced_voucher(1, date="2025-06-30"))["ResponseStatus"]
        assert "已结账" in closed["Errors"][0]["Message"]
    finally:
        second.close()


def test_a_crash_before_seeding_finished_leaves_no_half_data_centre(tmp_path: Path) -> None:
    (tmp_path / "kingdee.sqlite.building").write_bytes(b"half-written")
    sandbox = KingdeeSandbox(tmp_path)
    try:
        assert _rows(sandbox, FormId="BD_Department", FieldKeys="FNumber", FilterString="FNumber='BM01'") == [
            ["BM01"]
        ]
    finally:
        sandbox.close()
    assert not (tmp_path / "kingdee.sqlite.building").exists()


@pytest.mark.sdk
def test_concurrent_batch_saves_keep_numbering_unique_and_gap_free(tmp_path: Path) -> None:
    server, creds = start_sandbox(tmp_path)
    threads, batches, per_batch = 6, 4, 5
    errors: list[str] = []
    saved_ids: list[int] = []
    lock = threading.Lock()

    def client(worker: int) -> None:
        sdk = sdk_client(creds)  # one SDK per thread: the SDK object is not thread-safe
        for batch in range(batches):
            month = 1 + (worker + batch) % 3
            models = [
                balanced_voucher(worker * 100 + i + 1, date=f"2025-{month:02d}-15") for i in range(per_batch)
            ]
            if batch == 1:  # one refused package per batch must not consume a number
                models.insert(2, balanced_voucher(5, date="2024-01-01"))
            status = status_of(sdk.BatchSave("GL_VOUCHER", {"Model": models}))
            with lock:
                saved_ids.extend(entity["Id"] for entity in status["SuccessEntitys"])
                if len(status["SuccessEntitys"]) != per_batch:
                    errors.append(json.dumps(status, ensure_ascii=False))

    try:
        workers = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join(60)
        assert not errors
        rows = json.loads(
            sdk_client(creds).ExecuteBillQuery(
                {
                    "FormId": "GL_VOUCHER",
                    "FieldKeys": "FVOUCHERID,FBillNo,FPERIOD,FVOUCHERGROUPNO",
                    "Limit": 10000,
                }
            )
        )
    finally:
        server.stop()
    total = threads * batches * per_batch
    assert len(rows) == len(saved_ids) == total
    assert sorted(row[0] for row in rows) == sorted(saved_ids) == list(range(100001, 100001 + total))
    assert len({row[1] for row in rows}) == total
    by_period: dict[int, list[int]] = defaultdict(list)
    for _, _, period, number in rows:
        by_period[period].append(int(number))
    for numbers in by_period.values():
        assert sorted(numbers) == list(range(1, len(numbers) + 1))
