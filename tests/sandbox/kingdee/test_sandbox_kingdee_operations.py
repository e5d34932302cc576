"""Every DynamicFormService operation through Kingdee's official SDK, unchanged, over real HTTP."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.kingdee_calls import (
    balanced_voucher,
    line,
    pay_apply,
    payable,
    sdk_client,
    status_of,
    voucher,
)
from yecai.sandbox.kingdee import SandboxServer, SandboxSettings, start_sandbox

pytestmark = pytest.mark.sdk


def ok(answer: str) -> dict[str, Any]:
    status = status_of(answer)
    assert status["IsSuccess"] is True, answer
    return status


def refused(answer: str, msg_code: int) -> dict[str, Any]:
    status = status_of(answer)
    assert status["IsSuccess"] is False, answer
    assert status["ErrorCode"] == 500
    assert status["MsgCode"] == msg_code, answer
    return status


def rows(sdk: Any, form_id: str, keys: str, condition: str = "", order: str = "") -> list[list[Any]]:
    data = {"FormId": form_id, "FieldKeys": keys, "FilterString": condition, "OrderString": order}
    return json.loads(sdk.ExecuteBillQuery(data), parse_float=Decimal)


def saved(sdk: Any, form_id: str, model: dict[str, Any], **options: Any) -> dict[str, Any]:
    answer = json.loads(sdk.Save(form_id, {"Model": model, **options}), parse_float=Decimal)
    assert answer["Result"]["ResponseStatus"]["IsSuccess"] is True, answer
    return answer["Result"]


def status_field(sdk: Any, form_id: str, number: str, key: str = "FDocumentStatus") -> str:
    number_key = "FBillNo" if form_id in ("GL_VOUCHER", "CN_PAYAPPLY", "AP_Payable") else "FNumber"
    return rows(sdk, form_id, key, f"{number_key}='{number}'")[0][0]


# --- Save: insert and update ------------------------------------------------------------------------


def test_save_updates_only_the_need_update_fields_header_and_entry(sdk: Any) -> None:
    created = saved(sdk, "CN_PAYAPPLY", pay_apply("100.00"), NeedReturnFields=["FPAYAPPLYENTRY.FEntryID"])
    entry_id = created["NeedReturnData"][0]["FPAYAPPLYENTRY"][0]["FEntryID"]
    update = {
        "FID": created["Id"],
        "FDATE": "2025-03-20",  # listed: changes
        "FCONTACTUNIT": {"FNumber": "GYS0003"},  # not listed: stays
        "FPAYAPPLYENTRY": [{"FEntryID": entry_id, "FAPPLYAMOUNTFOR": "150.00", "FEACHBANKNAME": "不该改"}],
    }
    again = saved(sdk, "CN_PAYAPPLY", update, NeedUpDateFields=["FDATE", "FPAYAPPLYENTRY.FAPPLYAMOUNTFOR"])
    assert (again["Id"], again["Number"]) == (created["Id"], created["Number"])
    got = rows(
        sdk,
        "CN_PAYAPPLY",
        "FDATE,FCONTACTUNIT.FNumber,FAPPLYAMOUNTFOR_H,FPAYAPPLYENTRY_FEntryID,FAPPLYAMOUNTFOR,FEACHBANKNAME",
        f"FID={created['Id']}",
    )
    assert got == [["2025-03-20T00:00:00", "GYS0001", Decimal("150.00"), entry_id, Decimal("150.00"), ""]]


@pytest.mark.parametrize("delete_entry", [True, False])
def test_is_delete_entry_decides_what_happens_to_rows_left_out(sdk: Any, delete_entry: bool) -> None:
    model = pay_apply("10.00")
    model["FPAYAPPLYENTRY"].append({**model["FPAYAPPLYENTRY"][0], "FAPPLYAMOUNTFOR": "20.00"})
    created = saved(sdk, "CN_PAYAPPLY", model, NeedReturnFields=["FPAYAPPLYENTRY.FEntryID"])
    first, second = (r["FEntryID"] for r in created["NeedReturnData"][0]["FPAYAPPLYENTRY"])
    update = {
        "FID": created["Id"],
        "FPAYAPPLYENTRY": [
            {"FEntryID": second, "FAPPLYAMOUNTFOR": "25.00"},  # existing row: updated
            {**model["FPAYAPPLYENTRY"][0], "FAPPLYAMOUNTFOR": "30.00"},  # no entry id: added
        ],
    }
    saved(sdk, "CN_PAYAPPLY", update, IsDeleteEntry=delete_entry)
    got = rows(
        sdk,
        "CN_PAYAPPLY",
        "FPAYAPPLYENTRY_FEntryID,FAPPLYAMOUNTFOR",
        f"FID={created['Id']}",
        "FPAYAPPLYENTRY_FSeq",
    )
    amounts = [r[1] for r in got]
    if delete_entry:
        assert amounts == [Decimal("25.00"), Decimal("30.00")]
        assert first not in [r[0] for r in got]
    else:
        assert amounts == [Decimal("10.00"), Decimal("25.00"), Decimal("30.00")]
    total = rows(sdk, "CN_PAYAPPLY", "FAPPLYAMOUNTFOR_H", f"FID={created['Id']}")[0][0]
    assert total == sum(amounts)


def test_need_return_fields_echo_header_and_entry_keys(sdk: Any) -> None:
    result = saved(
        sdk,
        "GL_VOUCHER",
        balanced_voucher(3),
        NeedReturnFields=[
            "FBillNo",
            "FVOUCHERGROUPNO",
            "FEntity.FSeq",
            "FEntity.FDEBIT",
            "FAccountBookID.FNumber",
        ],
    )
    data = result["NeedReturnData"]
    assert data == [
        {
            "FBillNo": result["Number"],
            "FVOUCHERGROUPNO": data[0]["FVOUCHERGROUPNO"],
            "FEntity": [{"FSeq": 1, "FDEBIT": Decimal("3.00")}, {"FSeq": 2, "FDEBIT": Decimal("0.00")}],
            "FAccountBookID.FNumber": "001",
        }
    ]


def test_auto_submit_and_audit_and_then_saving_is_refused(sdk: Any) -> None:
    result = saved(sdk, "GL_VOUCHER", balanced_voucher(4), IsAutoSubmitAndAudit=True)
    assert status_field(sdk, "GL_VOUCHER", result["Number"]) == "C"
    checker = rows(sdk, "GL_VOUCHER", "FCHECKERID.FUserAccount", f"FVOUCHERID={result['Id']}")[0][0]
    assert checker == "yecai_api"
    status = refused(
        sdk.Save("GL_VOUCHER", {"Model": {**balanced_voucher(5), "FVOUCHERID": result["Id"]}}), 11
    )
    assert status["Errors"][0]["Message"] == f"单据编号为“{result['Number']}”的凭证已经审核，不允许修改。"


def test_a_failed_automatic_audit_leaves_the_bill_saved(tmp_path: Path) -> None:
    server, creds = start_sandbox(tmp_path, settings=SandboxSettings(voucher_creator_may_audit=False))
    try:
        sdk = sdk_client(creds)
        answer = json.loads(
            sdk.Save("GL_VOUCHER", {"Model": balanced_voucher(6), "IsAutoSubmitAndAudit": "true"})
        )
        status = answer["Result"]["ResponseStatus"]
        assert status["IsSuccess"] is False
        assert status["MsgCode"] == 11
        assert status["Errors"] == [
            {"FieldName": "FCHECKERID", "Message": "凭证的审核人不能与制单人相同。", "DIndex": 0}
        ]
        saved_id = answer["Result"]["Id"]
        assert status["SuccessEntitys"] == [
            {"Id": saved_id, "Number": answer["Result"]["Number"], "DIndex": 0}
        ]
        assert rows(sdk, "GL_VOUCHER", "FDocumentStatus", f"FVOUCHERID={saved_id}") == [["B"]]
    finally:
        server.stop()


def test_validate_repeat_json_refuses_the_same_package_twice(sdk: Any) -> None:
    model = {"FNumber": "BM-RPT", "FName": "重复包部门"}
    first = saved(sdk, "BD_Department", model, ValidateRepeatJson=True)
    status = refused(sdk.Save("BD_Department", {"Model": model, "ValidateRepeatJson": True}), 11)
    message = status["Errors"][0]["Message"]
    assert message.startswith("数据包重复：相同的JSON数据包已于")
    assert "部门“BM-RPT”" in message
    # Without the flag the same package meets the ordinary rules (here: the number is taken).
    plain = refused(sdk.Save("BD_Department", {"Model": model}), 11)
    assert "违反字段唯一性要求" in plain["Errors"][0]["Message"]
    assert first["Number"] == "BM-RPT"


@pytest.mark.slow
def test_batch_save_query_polls_until_the_task_completes(tmp_path: Path) -> None:
    server, creds = start_sandbox(tmp_path, settings=SandboxSettings(async_pending_polls=2))
    try:
        answer = sdk_client(creds).BatchSaveQuery(
            "BD_Department",
            {"Model": [{"FNumber": "BM-AQ1", "FName": "甲"}, {"FNumber": "BM-AQ2", "FName": "乙"}]},
        )
        assert [e["Number"] for e in ok(answer)["SuccessEntitys"]] == ["BM-AQ1", "BM-AQ2"]
        polls = [c for c in server.sandbox.calls() if c.service.endswith("QueryAsyncResult")]
        assert len(polls) == 3  # two "running" answers, then the result
    finally:
        server.stop()


# --- Draft, Submit, Audit, UnAudit, Delete ----------------------------------------------------------


def test_draft_skips_validation_and_numbers_until_saved(sdk: Any) -> None:
    unbalanced = voucher(
        line("6602", debit=100, FFLEX5="NO-SUCH-DEPT"), line("1001", credit=1), date="2025-04-02"
    )
    drafted = json.loads(sdk.Draft("GL_VOUCHER", {"Model": unbalanced}))["Result"]
    assert drafted["ResponseStatus"]["IsSuccess"] is True
    assert drafted["Number"] == ""
    got = rows(sdk, "GL_VOUCHER", "FDocumentStatus,FBillNo,FVOUCHERGROUPNO", f"FVOUCHERID={drafted['Id']}")
    assert got == [["Z", "", ""]]
    status = refused(sdk.Submit("GL_VOUCHER", {"Ids": str(drafted["Id"])}), 11)
    assert status["Errors"][0]["Message"] == f"单据编号为“{drafted['Id']}”的凭证是暂存单据，请先保存再提交！"
    # Saving the draft runs every rule …
    fix = {**unbalanced, "FVOUCHERID": drafted["Id"]}
    assert (
        "[NO-SUCH-DEPT]在系统中不存在"
        in refused(sdk.Save("GL_VOUCHER", {"Model": fix}), 11)["Errors"][0]["Message"]
    )
    fix["FEntity"][0]["FDetailID"] = {"FDETAILID__FFLEX5": {"FNumber": "BM01"}}
    assert "凭证借贷不平衡" in refused(sdk.Save("GL_VOUCHER", {"Model": fix}), 11)["Errors"][0]["Message"]
    # … and once valid, it gets its numbers.
    result = saved(sdk, "GL_VOUCHER", {**balanced_voucher(7, date="2025-04-02"), "FVOUCHERID": drafted["Id"]})
    assert result["Id"] == drafted["Id"]
    assert result["Number"].startswith("GL")
    assert status_field(sdk, "GL_VOUCHER", result["Number"]) == "A"
    assert "不能暂存" in refused(sdk.Draft("GL_VOUCHER", {"Model": fix}), 11)["Errors"][0]["Message"]


def test_submit_audit_unaudit_delete_walk_the_status_machine(sdk: Any) -> None:
    number = saved(sdk, "GL_VOUCHER", balanced_voucher(8))["Number"]
    done = ok(sdk.Submit("GL_VOUCHER", {"Numbers": [number]}))
    assert done["SuccessMessages"][0]["Message"] == f"单据编号为“{number}”的凭证，提交成功！"
    assert status_field(sdk, "GL_VOUCHER", number) == "B"
    ok(sdk.Audit("GL_VOUCHER", {"Numbers": [number]}))
    assert status_field(sdk, "GL_VOUCHER", number) == "C"
    twice = refused(sdk.Audit("GL_VOUCHER", {"Numbers": [number]}), 11)
    assert twice["Errors"] == [
        {"FieldName": None, "Message": f"单据编号为“{number}”的凭证，单据已经审核！", "DIndex": 0}
    ]
    not_deleted = refused(sdk.Delete("GL_VOUCHER", {"Numbers": [number]}), 11)
    assert (
        not_deleted["Errors"][0]["Message"] == f"单据编号为“{number}”的凭证，单据状态为“已审核”，不能删除！"
    )
    ok(sdk.UnAudit("GL_VOUCHER", {"Numbers": [number]}))
    assert status_field(sdk, "GL_VOUCHER", number) == "D"
    assert rows(sdk, "GL_VOUCHER", "FCHECKERID", f"FBillNo='{number}'") == [[0]]
    ok(sdk.Delete("GL_VOUCHER", {"Numbers": [number]}))
    assert rows(sdk, "GL_VOUCHER", "FVOUCHERID", f"FBillNo='{number}'") == []


def test_several_numbers_succeed_or_fail_one_by_one(sdk: Any) -> None:
    first = saved(sdk, "GL_VOUCHER", balanced_voucher(9))["Number"]
    second = saved(sdk, "GL_VOUCHER", balanced_voucher(10), IsAutoSubmitAndAudit=True)["Number"]
    status = refused(sdk.Submit("GL_VOUCHER", {"Numbers": [first, "NO-SUCH-BILL", second]}), 11)
    assert [e["Number"] for e in status["SuccessEntitys"]] == [first]
    assert [(e["DIndex"], "已审核" in e["Message"]) for e in status["Errors"]] == [(1, True)]
    # Only when none of them exists does the call fail as such.
    nothing = refused(sdk.Audit("GL_VOUCHER", {"Numbers": ["NO-SUCH-BILL"]}), 10)
    assert nothing["Errors"][0]["Message"] == "没有找到需要审核的数据。"
    # Ids are a comma string; both selections may be combined.
    ids = ",".join(str(r[0]) for r in rows(sdk, "GL_VOUCHER", "FVOUCHERID", f"FBillNo in ('{first}')"))
    assert [e["Number"] for e in ok(sdk.Audit("GL_VOUCHER", {"Ids": ids}))["SuccessEntitys"]] == [first]


def test_base_data_follow_the_same_status_rules(sdk: Any) -> None:
    created = saved(sdk, "BD_Department", {"FNumber": "BM-LIFE", "FName": "生命周期部"})
    ok(sdk.Submit("BD_Department", {"Ids": str(created["Id"])}))
    ok(sdk.Audit("BD_Department", {"Numbers": ["BM-LIFE"]}))
    assert status_field(sdk, "BD_Department", "BM-LIFE") == "C"
    auditor = rows(sdk, "BD_Department", "FAuditorId.FName", "FNumber='BM-LIFE'")[0][0]
    assert auditor == "业财集成用户"
    refused(sdk.Delete("BD_Department", {"Numbers": ["BM-LIFE"]}), 11)
    ok(sdk.UnAudit("BD_Department", {"Numbers": ["BM-LIFE"]}))
    ok(sdk.Delete("BD_Department", {"Numbers": ["BM-LIFE"]}))


def test_base_data_in_use_cannot_be_deleted(sdk: Any) -> None:
    saved(sdk, "BD_Department", {"FNumber": "BM-USED", "FName": "被引用部门"})
    saved(sdk, "GL_VOUCHER", voucher(line("6602", debit=1, FFLEX5="BM-USED"), line("1001", credit=1)))
    status = refused(sdk.Delete("BD_Department", {"Numbers": ["BM-USED"]}), 11)
    assert status["Errors"][0]["Message"].startswith("部门“BM-USED”已被凭证“GL")


# --- View ---------------------------------------------------------------------------------------------


def test_view_serialises_by_orm_property_names(sdk: Any) -> None:
    saved(sdk, "BD_Department", {"FNumber": "BM-VIEW", "FName": "查看部"})
    result = saved(
        sdk,
        "GL_VOUCHER",
        voucher(line("6602", debit="12.30", FFLEX5="BM-VIEW"), line("1001", credit="12.30")),
    )
    answer = json.loads(
        sdk.View("GL_VOUCHER", {"Number": result["Number"], "IsSortBySeq": True}), parse_float=Decimal
    )
    assert answer["Result"]["ResponseStatus"] is None
    bill = answer["Result"]["Result"]
    assert (bill["Id"], bill["BillNo"], bill["DocumentStatus"]) == (result["Id"], result["Number"], "A")
    assert bill["Date"] == "2025-03-31T00:00:00"
    assert bill["AccountBookID_Id"] == bill["AccountBookID"]["Id"]
    assert bill["AccountBookID"]["Number"] == "001"
    assert bill["AccountBookID"]["Name"] == [{"Key": 2052, "Value": "集团主账簿"}]
    assert bill["CreatorId"]["Number"] == "yecai_api"
    first, second = bill["Entity"]
    assert (first["Seq"], second["Seq"]) == (1, 2)
    assert first["ACCOUNTID"]["Number"] == "6602"
    assert first["DEBIT"] == Decimal("12.30")
    assert first["DetailID"]["FDETAILID__FFLEX5"]["Number"] == "BM-VIEW"
    assert first["DetailID_Id"] == first["DetailID"]["Id"] > 0
    assert second["DetailID"] is None
    by_id = json.loads(sdk.View("GL_VOUCHER", {"Id": result["Id"]}))["Result"]["Result"]
    assert by_id["BillNo"] == result["Number"]
    base = json.loads(sdk.View("BD_Department", {"Number": "BM-VIEW"}))["Result"]["Result"]
    assert (base["Number"], base["Name"], base["ForbidStatus"]) == (
        "BM-VIEW",
        [{"Key": 2052, "Value": "查看部"}],
        "A",
    )
    assert base["MultiLanguageText"][0]["Name"] == "查看部"


def test_view_of_a_missing_record_is_msgcode_10(sdk: Any) -> None:
    answer = json.loads(sdk.View("GL_VOUCHER", {"Number": "GL-NOPE"}))
    assert answer["Result"]["Result"] is None
    status = answer["Result"]["ResponseStatus"]
    assert (status["IsSuccess"], status["MsgCode"]) == (False, 10)
    assert status["Errors"][0]["Message"] == "编码为“GL-NOPE”的凭证不存在，或者已被删除。"


# --- ExcuteOperation: Forbid / Enable / CloseBill --------------------------------------------------


def test_forbidden_supplier_cannot_be_referenced_until_enabled(sdk: Any) -> None:
    created = saved(
        sdk, "BD_Supplier", {"FNumber": "GYS-FB", "FName": "禁用供应商"}, IsAutoSubmitAndAudit=True
    )
    model = voucher(line("1123", debit=5, FFLEX4="GYS-FB"), line("1001", credit=5))
    saved(sdk, "GL_VOUCHER", model)
    done = ok(
        sdk.ExcuteOperation(
            "BD_Supplier", "Forbid", {"PkEntryIds": [{"Id": str(created["Id"]), "EntryIds": ""}]}
        )
    )
    assert done["SuccessMessages"][0]["Message"] == "单据编号为“GYS-FB”的供应商，禁用成功！"
    assert status_field(sdk, "BD_Supplier", "GYS-FB", "FForbidStatus") == "B"
    assert "已被禁用" in refused(sdk.Save("GL_VOUCHER", {"Model": model}), 11)["Errors"][0]["Message"]
    bill = refused(sdk.Save("AP_Payable", {"Model": payable(supplier="GYS-FB")}), 11)
    assert bill["Errors"][0]["Message"] == "字段[供应商]的值[GYS-FB]已被禁用。"
    ok(sdk.ExcuteOperation("BD_Supplier", "enable", {"Ids": created["Id"]}))
    saved(sdk, "GL_VOUCHER", model)
    saved(sdk, "AP_Payable", payable(supplier="GYS-FB"))


def test_close_bill_needs_an_audited_bill(sdk: Any) -> None:
    number = saved(sdk, "CN_PAYAPPLY", pay_apply("88.00"))["Number"]
    status = refused(sdk.ExcuteOperation("CN_PAYAPPLY", "CloseBill", {"Numbers": [number]}), 11)
    assert status["Errors"][0]["Message"] == f"单据编号为“{number}”的付款申请单，单据状态为“创建”，不能关闭！"
    ok(sdk.Submit("CN_PAYAPPLY", {"Numbers": [number]}))
    ok(sdk.Audit("CN_PAYAPPLY", {"Numbers": [number]}))
    ok(sdk.ExcuteOperation("CN_PAYAPPLY", "CloseBill", {"Numbers": [number]}))
    assert rows(sdk, "CN_PAYAPPLY", "FCLOSESTATUS,FCLOSERID.FUserAccount", f"FBillNo='{number}'") == [
        ["B", "yecai_api"]
    ]
    ok(sdk.ExcuteOperation("CN_PAYAPPLY", "UnCloseBill", {"Numbers": number}))
    assert status_field(sdk, "CN_PAYAPPLY", number, "FCLOSESTATUS") == "A"


def test_unknown_operation_code(sdk: Any) -> None:
    status = refused(sdk.ExcuteOperation("BD_Supplier", "Teleport", {"Numbers": ["GYS0001"]}), 4)
    assert status["Errors"][0]["Message"] == "业务对象“BD_Supplier”不支持操作“Teleport”。"


# --- Allocate / CancelAllocate ----------------------------------------------------------------------


def test_allocate_shares_a_supplier_with_another_organisation(sdk: Any) -> None:
    orgs = dict(rows(sdk, "ORG_Organizations", "FNumber,FOrgID"))
    # the seed allocates its expense items to the 分公司: take FYXM02 back for this test
    seeded = rows(sdk, "BD_Expense", "FEXPID", "FNumber='FYXM02' and FUseOrgId.FNumber='100'")[0][0]
    ok(sdk.CancelAllocate("BD_Expense", {"PkIds": [seeded], "TOrgIds": [orgs["200"]]}))
    created = saved(sdk, "BD_Supplier", {"FNumber": "GYS-AL", "FName": "分配供应商"})
    not_audited = refused(
        sdk.Allocate("BD_Supplier", {"PkIds": str(created["Id"]), "TOrgIds": str(orgs["200"])}), 11
    )
    assert not_audited["Errors"][0]["Message"] == "供应商“GYS-AL”未审核，不能分配。"
    ok(sdk.Submit("BD_Supplier", {"Numbers": ["GYS-AL"]}))
    ok(sdk.Audit("BD_Supplier", {"Numbers": ["GYS-AL"]}))
    # Before allocation, a bill of organisation 200 may not use it.
    in_200 = payable(supplier="GYS-AL", FSETTLEORGID={"FNumber": "200"}, FPAYORGID={"FNumber": "200"})
    status = refused(sdk.Save("AP_Payable", {"Model": in_200}), 11)
    assert status["Errors"][0]["Message"] == "字段[供应商]的值[GYS-AL]未分配到组织[200]。"
    done = ok(
        sdk.Allocate(
            "BD_Supplier",
            {"PkIds": str(created["Id"]), "TOrgIds": str(orgs["200"]), "IsAutoSubmitAndAudit": True},
        )
    )
    copy_id = done["SuccessEntitys"][0]["Id"]
    assert copy_id != created["Id"]
    got = rows(
        sdk,
        "BD_Supplier",
        "FSupplierId,FUseOrgId.FNumber,FDocumentStatus,FMasterId",
        "FNumber='GYS-AL'",
        "FSupplierId",
    )
    assert got == [[created["Id"], "100", "C", created["Id"]], [copy_id, "200", "C", created["Id"]]]
    twice = refused(
        sdk.Allocate("BD_Supplier", {"PkIds": str(created["Id"]), "TOrgIds": str(orgs["200"])}), 11
    )
    assert twice["Errors"][0]["Message"] == "供应商“GYS-AL”已分配到组织“200”。"
    # The bill's expense item must be organisation 200's too.
    status = refused(sdk.Save("AP_Payable", {"Model": in_200}), 11)
    assert status["Errors"][0]["Message"] == "第1行分录：字段[费用项目编码]的值[FYXM02]未分配到组织[200]。"
    expense = rows(sdk, "BD_Expense", "FEXPID", "FNumber='FYXM02'")[0][0]
    ok(
        sdk.Allocate(
            "BD_Expense", {"PkIds": [expense], "TOrgIds": [orgs["200"]], "IsAutoSubmitAndAudit": "true"}
        )
    )
    # The bill of organisation 200 now resolves to organisation 200's copies.
    bill = saved(sdk, "AP_Payable", in_200)
    assert rows(sdk, "AP_Payable", "FSUPPLIERID", f"FID={bill['Id']}") == [[copy_id]]
    in_use = refused(
        sdk.CancelAllocate("BD_Supplier", {"PkIds": str(created["Id"]), "TOrgIds": str(orgs["200"])}), 11
    )
    assert in_use["Errors"][0]["Message"].startswith("供应商“GYS-AL”已被应付单“AP")
    ok(sdk.Delete("AP_Payable", {"Ids": str(bill["Id"])}))
    ok(sdk.CancelAllocate("BD_Supplier", {"PkIds": str(created["Id"]), "TOrgIds": str(orgs["200"])}))
    assert rows(sdk, "BD_Supplier", "FUseOrgId.FNumber", "FNumber='GYS-AL'") == [["100"]]


def test_a_voucher_uses_only_base_data_of_its_books_organisation(sdk: Any) -> None:
    branch_only = {"FNumber": "GYS-200", "FName": "分公司供应商", "FUseOrgId": {"FNumber": "200"}}
    saved(sdk, "BD_Supplier", branch_only)
    model = voucher(line("1123", debit=5, FFLEX4="GYS-200"), line("1001", credit=5))
    status = refused(sdk.Save("GL_VOUCHER", {"Model": model}), 11)
    assert status["Errors"][0]["Message"] == "第1行分录：字段[供应商]的值[GYS-200]未分配到组织[100]。"


def test_allocate_is_only_for_shared_base_data(sdk: Any) -> None:
    status = refused(sdk.Allocate("BD_Account", {"PkIds": "100001", "TOrgIds": "100002"}), 12)
    assert status["Errors"][0]["Message"] == "业务对象“BD_Account”没有“Allocate”操作，不可操作。"
    refused(sdk.ExcuteOperation("GL_VOUCHER", "Forbid", {"Numbers": ["GL00000001"]}), 12)


# --- network control ---------------------------------------------------------------------------------


def test_a_locked_bill_answers_msgcode_13(sdk: Any, sandbox_server: SandboxServer) -> None:
    result = saved(sdk, "GL_VOUCHER", balanced_voucher(11))
    sandbox_server.sandbox.lock("GL_VOUCHER", result["Number"], 60)
    update = {**balanced_voucher(12), "FVOUCHERID": result["Id"]}
    status = refused(sdk.Save("GL_VOUCHER", {"Model": update}), 13)
    assert status["Errors"][0]["Message"] == (
        f"网控冲突：凭证“{result['Number']}”正在被用户“Administrator”执行“修改”，请稍后再试。"
    )
    refused(sdk.Submit("GL_VOUCHER", {"Numbers": [result["Number"]]}), 13)
    assert sandbox_server.sandbox.unlock("GL_VOUCHER", result["Number"]) is True
    ok(sdk.Submit("GL_VOUCHER", {"Numbers": [result["Number"]]}))


def test_reopening_a_period_allows_posting_again(sdk: Any, sandbox_server: SandboxServer) -> None:
    sandbox = sandbox_server.sandbox
    audited = saved(sdk, "GL_VOUCHER", balanced_voucher(2, date="2025-06-10"), IsAutoSubmitAndAudit=True)
    sandbox.close_period(2025, 6)
    assert (
        "已结账"
        in refused(sdk.Save("GL_VOUCHER", {"Model": balanced_voucher(2, date="2025-06-11")}), 11)["Errors"][
            0
        ]["Message"]
    )
    status = refused(sdk.UnAudit("GL_VOUCHER", {"Numbers": [audited["Number"]]}), 11)
    assert status["Errors"][0]["Message"] == "凭证所在期间2025年第6期已结账，不能反审核。"
    sandbox.open_period(2025, 6, book="001")
    saved(sdk, "GL_VOUCHER", balanced_voucher(2, date="2025-06-11"))
    ok(sdk.UnAudit("GL_VOUCHER", {"Numbers": [audited["Number"]]}))


# --- metadata, data centres, errors -----------------------------------------------------------------


def test_query_business_info_lists_entities_fields_and_dimension_keys(sdk: Any) -> None:
    answer = json.loads(sdk.QueryBusinessInfo({"FormId": "GL_VOUCHER"}))
    assert answer["Result"]["ResponseStatus"]["IsSuccess"] is True
    info = answer["Result"]["BusinessInfo"]
    assert info == answer["Result"]["NeedReturnData"]
    assert (info["Id"], info["PkFieldName"], info["Header"]["TableName"]) == (
        "GL_VOUCHER",
        "FVOUCHERID",
        "T_GL_VOUCHER",
    )
    entry = next(e for e in info["Entrys"] if e["Key"] == "FEntity")
    detail = next(f for f in entry["Fields"] if f["Key"] == "FDetailID")
    assert [i["Key"] for i in detail["FlexItems"]] == [
        "FDETAILID__FFLEX4", "FDETAILID__FFLEX5", "FDETAILID__FFLEX6", "FDETAILID__FFLEX7", "FDETAILID__FF100001"
    ]  # fmt: skip
    account = next(f for f in entry["Fields"] if f["Key"] == "FACCOUNTID")
    assert (account["LookUpObject"], account["MustInput"]) == ("BD_Account", True)
    payapply = json.loads(sdk.QueryBusinessInfo({"FormId": "CN_PAYAPPLY"}))["Result"]["BusinessInfo"]
    unit = next(f for f in payapply["Header"]["Fields"] if f["Key"] == "FCONTACTUNIT")
    assert (unit["FieldType"], unit["ItemClassTypeField"]) == ("ItemClassField", "FCONTACTUNITTYPE")
    missing = json.loads(sdk.QueryBusinessInfo({"FormId": "NO_SUCH_FORM"}))["Result"]["ResponseStatus"]
    assert missing["MsgCode"] == 4


def test_data_centre_list(sdk: Any, running: tuple[SandboxServer, dict[str, Any]]) -> None:
    centres = json.loads(sdk.GetDataCenters())
    assert [(c["Id"], c["Number"], c["Name"]) for c in centres] == [
        (running[1]["acct_id"], "YC01", "业财演示建设集团有限公司")
    ]


def test_sdk_error_handling(running: tuple[SandboxServer, dict[str, Any]]) -> None:
    sdk = sdk_client(running[1])
    with pytest.raises(RuntimeError, match=r"^response_error:"):
        sdk.Execute("Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.NoSuchService", {})
    with pytest.raises(RuntimeError, match="沙箱暂不支持"):
        sdk.Push("GL_VOUCHER", {"Numbers": ["GL00000001"]})
    with pytest.raises(RuntimeError, match="Fail to verify thirty passport"):
        sdk_client(running[1], acct_id="5f0000000000aa").View("GL_VOUCHER", {"Number": "X"})
