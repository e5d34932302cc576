"""Kingdee's official Python SDK, unchanged, against a running sandbox.kingdee (real HTTP)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.kingdee_calls import (
    balanced_voucher,
    line,
    sdk_client,
    session_lost_text,
    status_of,
    voucher,
)
from yecai.sandbox.kingdee import SandboxServer, start_sandbox

pytestmark = pytest.mark.sdk


@pytest.fixture
def creds(running: tuple[SandboxServer, dict[str, Any]]) -> dict[str, Any]:
    return running[1]


def _project(sdk: Any, number: str, name: str) -> None:
    answer = sdk.BatchSave(
        "BOS_ASSISTANTDATA_DETAIL",
        {"Model": [{"FId": {"FNumber": "XM01"}, "FNumber": number, "FDataValue": name}]},
    )
    assert status_of(answer)["IsSuccess"] is True, answer


def test_credentials_have_the_documented_shape(creds: dict[str, Any]) -> None:
    assert list(creds) == ["server_url", "acct_id", "user_name", "app_id", "app_secret", "lcid", "org_num"]
    assert creds["server_url"].endswith("/K3Cloud/")
    assert creds["acct_id"] == "66a0c0ffee0001"
    assert creds["lcid"] == 2052
    assert creds["org_num"] == 100


def test_voucher_with_project_dimension_round_trips(creds: dict[str, Any]) -> None:
    sdk = sdk_client(creds)
    _project(sdk, "XM-RT-01", "滨江花园一期")
    model = voucher(
        line("5401.02", debit=12345.67, explanation="钢筋 token:RT1", FF100001="XM-RT-01"),
        line(
            "2202.01", credit="12345.67", explanation="钢筋 token:RT1", FF100001="XM-RT-01", FFLEX4="GYS0001"
        ),
        date="2025-04-15",
    )
    answer = json.loads(sdk.Save("GL_VOUCHER", {"Model": model, "IsVerifyBaseDataField": True}))
    result = answer["Result"]
    assert result["ResponseStatus"] == {
        "IsSuccess": True,
        "Errors": [],
        "SuccessEntitys": [{"Id": result["Id"], "Number": result["Number"], "DIndex": 0}],
        "SuccessMessages": [],
        "MsgCode": 0,
    }
    assert isinstance(result["Id"], int)
    assert result["Id"] >= 100000
    assert result["NeedReturnData"] == [{}]

    keys = [
        "FVOUCHERID",
        "FBillNo",
        "FDate",
        "FYEAR",
        "FPERIOD",
        "FAccountBookID.FNumber",
        "FVOUCHERGROUPID.FName",
        "FVOUCHERGROUPNO",
        "FDocumentStatus",
        "FDEBITTOTAL",
        "FCREDITTOTAL",
        "FEntity_FEntryID",
        "FEntity_FSeq",
        "FEXPLANATION",
        "FACCOUNTID.FNumber",
        "FACCOUNTID.FName",
        "FDetailID.FF100001.FNumber",
        "FDetailID.FF100001.FDataValue",
        "FCURRENCYID.FNumber",
        "FDEBIT",
        "FCREDIT",
    ]
    raw = sdk.ExecuteBillQuery(
        {
            "FormId": "GL_VOUCHER",
            "FieldKeys": ",".join(keys),
            "FilterString": f"FVOUCHERID={result['Id']}",
            "OrderString": "FEntity_FSeq",
        }
    )
    assert '"FDEBIT"' not in raw
    assert "12345.67" in raw
    rows = json.loads(raw, parse_float=Decimal)
    assert len(rows) == 2
    first, second = (dict(zip(keys, row, strict=True)) for row in rows)
    assert first["FVOUCHERID"] == second["FVOUCHERID"] == result["Id"]
    assert first["FBillNo"] == result["Number"]
    assert first["FDate"] == "2025-04-15T00:00:00"
    assert (first["FYEAR"], first["FPERIOD"]) == (2025, 4)
    assert first["FAccountBookID.FNumber"] == "001"
    assert first["FVOUCHERGROUPID.FName"] == "记"
    assert first["FDocumentStatus"] == "A"
    assert first["FDEBITTOTAL"] == first["FCREDITTOTAL"] == Decimal("12345.67")
    assert (first["FEntity_FSeq"], second["FEntity_FSeq"]) == (1, 2)
    assert first["FEntity_FEntryID"] != second["FEntity_FEntryID"]
    assert first["FEXPLANATION"] == "钢筋 token:RT1"
    assert (first["FACCOUNTID.FNumber"], first["FACCOUNTID.FName"]) == ("5401.02", "材料费")
    assert second["FACCOUNTID.FNumber"] == "2202.01"
    assert first["FDetailID.FF100001.FNumber"] == second["FDetailID.FF100001.FNumber"] == "XM-RT-01"
    assert first["FDetailID.FF100001.FDataValue"] == "滨江花园一期"
    assert first["FCURRENCYID.FNumber"] == "PRE001"
    assert (first["FDEBIT"], first["FCREDIT"]) == (Decimal("12345.67"), Decimal("0.00"))
    assert (second["FDEBIT"], second["FCREDIT"]) == (Decimal("0.00"), Decimal("12345.67"))


def test_batch_save_reports_each_package_by_dindex(creds: dict[str, Any]) -> None:
    sdk = sdk_client(creds)
    unbalanced = voucher(line("6602", debit=100, FFLEX5="BM01"), line("1001", credit=99))
    models = [balanced_voucher(10, date="2025-05-10"), unbalanced, balanced_voucher(20, date="2025-05-11")]
    status = status_of(sdk.BatchSave("GL_VOUCHER", {"Model": models, "BatchCount": 2}))
    assert status["IsSuccess"] is False
    assert status["ErrorCode"] == 500
    assert status["MsgCode"] == 11
    assert [e["DIndex"] for e in status["SuccessEntitys"]] == [0, 2]
    assert {e["DIndex"] for e in status["Errors"]} == {1}
    ids = [e["Id"] for e in status["SuccessEntitys"]]
    rows = json.loads(
        sdk.ExecuteBillQuery(
            {
                "FormId": "GL_VOUCHER",
                "FieldKeys": "FVOUCHERID,FVOUCHERGROUPNO,FDEBITTOTAL",
                "FilterString": f"FVOUCHERID in ({ids[0]},{ids[1]})",
                "OrderString": "FVOUCHERID",
            }
        )
    )
    assert [row[0] for row in rows] == ids
    assert [row[2] for row in rows] == [10, 20]
    # The refused package consumed no voucher number: May's numbers are consecutive.
    assert int(rows[1][1]) == int(rows[0][1]) + 1


def test_wrong_app_secret_gets_the_session_lost_envelope(creds: dict[str, Any]) -> None:
    sdk = sdk_client(creds, app_secret="0" * 32)
    answer = sdk.ExecuteBillQuery({"FormId": "BD_Department", "FieldKeys": "FNumber"})
    assert answer == session_lost_text()


@pytest.mark.parametrize(
    "override",
    [{"user_name": "intruder"}, {"app_id": "100001_422C1/iIyuH4R+Ws526A2/yLyrX6RrOs"}, {"lcid": 9999}],
)
def test_other_credential_failures_are_msgcode_1(creds: dict[str, Any], override: dict[str, Any]) -> None:
    answer = sdk_client(creds, **override).Save("BD_Department", {"Model": {"FNumber": "X", "FName": "X"}})
    assert answer == session_lost_text()


def test_wrong_acct_id_fails_at_transport_level(creds: dict[str, Any]) -> None:
    sdk = sdk_client(creds, acct_id="5f0000000000aa")
    with pytest.raises(RuntimeError, match="Fail to verify thirty passport"):
        sdk.ExecuteBillQuery({"FormId": "BD_Department", "FieldKeys": "FNumber"})


def test_session_cookie_is_reused_and_checked_first(
    creds: dict[str, Any], sandbox_server: SandboxServer
) -> None:
    sdk = sdk_client(creds)
    before = len(sandbox_server.sandbox.calls())
    sdk.ExecuteBillQuery({"FormId": "BD_Department", "FieldKeys": "FNumber"})
    sdk.ExecuteBillQuery({"FormId": "BD_Supplier", "FieldKeys": "FNumber"})
    first, second = sandbox_server.sandbox.calls()[before:]
    assert (first.auth, first.session_in) == ("signature", None)
    assert first.session_out is not None
    assert first.session_out == sdk.cookiesStore.SID
    assert (second.auth, second.session_in) == ("session", first.session_out)
    # SID first: while the session lives, a now-wrong secret is not even looked at (§4.2) …
    sdk.identify.AppSecret = "f" * 32
    rows = json.loads(sdk.ExecuteBillQuery({"FormId": "BD_Customer", "FieldKeys": "FNumber"}))
    assert ["KH0001"] in rows
    # … and once the session is gone the bad secret is refused.
    sandbox_server.sandbox.drop_sessions()
    assert sdk.ExecuteBillQuery({"FormId": "BD_Customer", "FieldKeys": "FNumber"}) == session_lost_text()


def _refusal(sdk: Any, form_id: str, model: dict[str, Any]) -> dict[str, Any]:
    status = status_of(sdk.Save(form_id, {"Model": model}))
    assert status["IsSuccess"] is False
    assert status["ErrorCode"] == 500
    assert status["MsgCode"] == 11
    assert status["SuccessEntitys"] == []
    return status


REFUSALS = {
    "unbalanced": (
        voucher(line("6602", debit="100.00", FFLEX5="BM01"), line("1001", credit="99.99")),
        "凭证借贷不平衡",
    ),
    "non_leaf_account": (voucher(line("2202", debit=5), line("1001", credit=5)), "不是明细科目"),
    "unknown_account": (voucher(line("9999.99", debit=5), line("1001", credit=5)), "[9999.99]在系统中不存在"),
    "missing_required_dimension": (
        voucher(line("5401.02", debit=5), line("1001", credit=5)),
        "核算维度“项目”是必录项",
    ),
    "unknown_dimension_value": (
        voucher(line("6602", debit=5, FFLEX5="NO-SUCH-DEPT"), line("1001", credit=5)),
        "[NO-SUCH-DEPT]在系统中不存在",
    ),
    "too_many_decimals": (
        voucher(line("6602", debit="5.001", FFLEX5="BM01"), line("1001", credit="5.001")),
        "金额精度",
    ),
    "line_without_amount": (voucher(line("6602", FFLEX5="BM01"), line("1001")), "不能同时为零"),
    "before_book_start": (balanced_voucher(5, date="2024-12-31"), "早于账簿[001]的启用期间"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_invalid_vouchers_are_refused_with_msgcode_11(creds: dict[str, Any], case: str) -> None:
    model, fragment = REFUSALS[case]
    status = _refusal(sdk_client(creds), "GL_VOUCHER", model)
    assert any(fragment in e["Message"] for e in status["Errors"]), status["Errors"]
    assert all(e["DIndex"] == 0 for e in status["Errors"])


def test_closed_period_is_refused(creds: dict[str, Any], sandbox_server: SandboxServer) -> None:
    sdk = sdk_client(creds)
    assert status_of(sdk.Save("GL_VOUCHER", {"Model": balanced_voucher(7, date="2025-02-14")}))["IsSuccess"]
    sandbox_server.sandbox.close_period(2025, 2, book="001")
    status = _refusal(sdk, "GL_VOUCHER", balanced_voucher(7, date="2025-02-28"))
    assert status["Errors"][0]["Message"] == "账簿[001]的2025年第2期已结账，不能在该期间新增或修改凭证。"
    assert status["Errors"][0]["FieldName"] == "FDate"


def test_duplicate_number_uses_the_real_message(creds: dict[str, Any]) -> None:
    status = _refusal(sdk_client(creds), "BD_Department", {"FNumber": "BM01", "FName": "重复"})
    assert status["Errors"] == [
        {
            "FieldName": "FNumber",
            "Message": "违反字段唯一性要求：编码唯一。[BM01]在当前系统中已经被使用。",
            "DIndex": 0,
        }
    ]


def test_forbidden_dimension_value_is_refused(creds: dict[str, Any]) -> None:
    sdk = sdk_client(creds)
    _project(sdk, "XM-FORBID", "停工项目")
    assert status_of(sdk.Save("GL_VOUCHER", {"Model": balanced_voucher(3, project="XM-FORBID")}))["IsSuccess"]
    done = status_of(sdk.ExcuteOperation("BOS_ASSISTANTDATA_DETAIL", "Forbid", {"Numbers": ["XM-FORBID"]}))
    assert done["IsSuccess"] is True
    assert done["SuccessEntitys"][0]["Number"] == "XM-FORBID"
    status = _refusal(sdk, "GL_VOUCHER", balanced_voucher(3, project="XM-FORBID"))
    assert "已被禁用" in status["Errors"][0]["Message"]


def test_unknown_field_in_a_query_is_wrapped_twice(creds: dict[str, Any]) -> None:
    answer = sdk_client(creds).ExecuteBillQuery({"FormId": "GL_VOUCHER", "FieldKeys": "FBillNo,FNoSuchField"})
    assert answer == (
        '[[{"Result":{"ResponseStatus":{"ErrorCode":500,"IsSuccess":false,"Errors":[{"FieldName":null,'
        '"Message":"元数据中标识为FNoSuchField的字段不存在","DIndex":0}],"SuccessEntitys":[],'
        '"SuccessMessages":[],"MsgCode":9}}}]]'
    )


def test_bill_query_returns_objects_and_base_data_can_be_created(creds: dict[str, Any]) -> None:
    sdk = sdk_client(creds)
    status = status_of(
        sdk.BatchSave("BD_Supplier", {"Model": [{"FNumber": "GYS9001", "FName": "新供应商有限公司"}]})
    )
    assert status["IsSuccess"] is True
    rows = json.loads(
        sdk.BillQuery(
            {
                "FormId": "BD_Supplier",
                "FieldKeys": "FSupplierId,FNumber,FName,FForbidStatus,FUseOrgId.FNumber",
                "FilterString": "FNumber like 'GYS9%'",
            }
        )
    )
    assert rows == [
        {
            "FSupplierId": status["SuccessEntitys"][0]["Id"],
            "FNumber": "GYS9001",
            "FName": "新供应商有限公司",
            "FForbidStatus": "A",
            "FUseOrgId.FNumber": "100",
        }
    ]


def test_async_query_mode_polls_until_complete(creds: dict[str, Any]) -> None:
    answer = sdk_client(creds).BatchSaveQuery(
        "BD_Department", {"Model": [{"FNumber": "BM-Q1", "FName": "查询模式"}]}
    )
    assert status_of(answer)["SuccessEntitys"][0]["Number"] == "BM-Q1"


def test_data_centre_list(creds: dict[str, Any]) -> None:
    centres = json.loads(sdk_client(creds).GetDataCenters())
    assert centres[0]["Id"] == creds["acct_id"]
    assert centres[0]["Number"] == "YC01"


def test_state_survives_a_server_restart(tmp_path: Path) -> None:
    server, creds = start_sandbox(tmp_path)
    try:
        saved = status_of(sdk_client(creds).Save("GL_VOUCHER", {"Model": balanced_voucher(42)}))
    finally:
        server.stop()
    server, again = start_sandbox(tmp_path)
    try:
        assert (again["app_id"], again["app_secret"]) == (creds["app_id"], creds["app_secret"])
        sdk = sdk_client(again)
        rows = json.loads(
            sdk.ExecuteBillQuery({"FormId": "GL_VOUCHER", "FieldKeys": "FVOUCHERID,FBillNo,FDEBITTOTAL"})
        )
        assert rows == [[saved["SuccessEntitys"][0]["Id"], saved["SuccessEntitys"][0]["Number"], 42]]
        second = status_of(sdk.Save("GL_VOUCHER", {"Model": balanced_voucher(1)}))
        assert second["SuccessEntitys"][0]["Id"] == saved["SuccessEntitys"][0]["Id"] + 1
    finally:
        server.stop()
