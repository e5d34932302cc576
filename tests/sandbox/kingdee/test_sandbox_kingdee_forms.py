"""The AP/AR/CN bills and the base data they reference: life cycle, required fields, amounts, rules."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.kingdee_calls import (
    DYNAMIC_FORM,
    line,
    pay_apply,
    payable,
    signed_call,
    status_of,
    voucher,
)
from yecai.sandbox.kingdee import KingdeeSandbox, SandboxSettings

OTHER_PAYABLE = {
    "FDATE": "2025-03-15",
    "FCONTACTUNITTYPE": "BD_Supplier",
    "FCONTACTUNIT": {"FNumber": "GYS0003"},
    "FEntity": [
        {
            "FCOSTID": {"FNumber": "FYXM03"},
            "FCOSTDEPARTMENTID": {"FNumber": "BM03"},
            "FNOTAXAMOUNTFOR": "5000.00",
            "FEntryTaxRate": 9,
        }
    ],
}
PAY_BILL = {
    "FDATE": "2025-03-18",
    "FCONTACTUNITTYPE": "BD_Supplier",
    "FCONTACTUNIT": {"FNumber": "GYS0002"},
    "FBUSINESSTYPE": "1",
    "FPAYBILLENTRY": [
        {
            "FSETTLETYPEID": {"FNumber": "JSFS04_SYS"},
            "FPURPOSEID": {"FNumber": "SFKYT01_SYS"},
            "FPAYTOTALAMOUNTFOR": "20000.00",
            "FSETTLEDISTAMOUNTFOR": "150.00",
            "FACCOUNTID": {"FNumber": "6217000010000000001"},
            "FOPPOSITEBANKACCOUNT": "6222020200000000001",
        }
    ],
}
RECEIVABLE = {
    "FDATE": "2025-03-25",
    "FCUSTOMERID": {"FNumber": "KH0001"},
    "FEntityDetail": [
        {"FCOSTID": {"FNumber": "FYXM01"}, "FPriceQty": 2, "FTaxPrice": "545.00", "FEntryTaxRate": 9}
    ],
}
# form → (a valid Model, the bill numbers the server gives, the default 单据类型)
BILLS: dict[str, tuple[dict[str, Any], str, str]] = {
    "CN_PAYAPPLY": (pay_apply(), r"FKSQ\d{6}", "FKSQLX01_SYS"),
    "AP_Payable": (payable(), r"AP\d{8}", "YFD01_SYS"),
    "AP_OtherPayable": (OTHER_PAYABLE, r"QTYFD\d{8}", "QTYFD01_SYS"),
    "AP_PAYBILL": (PAY_BILL, r"FKD\d{8}", "FKDLX01_SYS"),
    "AR_receivable": (RECEIVABLE, r"AR\d{8}", "YSD01_SYS"),
}
BASE_DATA: dict[str, dict[str, Any]] = {
    "BD_Empinfo": {"FNumber": "YG-T1", "FName": "测试员工", "FStaffNumber": "YG-T1"},
    "BD_Expense": {"FNumber": "FYXM-T1", "FName": "测试费用"},
    "BD_SETTLETYPE": {"FNumber": "JSFS-T1", "FName": "测试结算"},
    "CN_RECPAYPURPOSE": {"FNumber": "SFKYT-T1", "FName": "测试用途"},
    "CN_BANKACNT": {"FNumber": "6217000099990001", "FName": "测试账户", "FOpenBankName": "测试银行"},
}


def answer_of(raw: str) -> dict[str, Any]:
    return json.loads(raw, parse_float=Decimal)["Result"]


def query(sdk: Any, form_id: str, keys: str, condition: str) -> list[dict[str, Any]]:
    return json.loads(
        sdk.BillQuery({"FormId": form_id, "FieldKeys": keys, "FilterString": condition}), parse_float=Decimal
    )


def messages_of(raw: str) -> list[str]:
    return [e["Message"] for e in status_of(raw)["Errors"]]


@pytest.mark.sdk
@pytest.mark.parametrize("form_id", sorted(BILLS))
def test_bill_life_cycle(sdk: Any, form_id: str) -> None:
    model, pattern, bill_type = BILLS[form_id]
    result = answer_of(sdk.Save(form_id, {"Model": model}))
    assert result["ResponseStatus"]["IsSuccess"] is True, result
    number = result["Number"]
    assert re.fullmatch(pattern, number)
    key = f"FBillNo='{number}'"
    assert query(sdk, form_id, "FID,FDocumentStatus,FBillTypeID.FNumber", key) == [
        {"FID": result["Id"], "FDocumentStatus": "A", "FBillTypeID.FNumber": bill_type}
    ]
    duplicate = sdk.Save(form_id, {"Model": {**model, "FBillNo": number}})
    assert messages_of(duplicate) == [f"违反字段唯一性要求：编码唯一。[{number}]在当前系统中已经被使用。"]
    assert status_of(sdk.Submit(form_id, {"Numbers": [number]}))["IsSuccess"] is True
    assert status_of(sdk.Audit(form_id, {"Numbers": [number]}))["IsSuccess"] is True
    audited = query(sdk, form_id, "FDocumentStatus,FApproverId.FUserAccount", key)
    assert audited == [{"FDocumentStatus": "C", "FApproverId.FUserAccount": "yecai_api"}]
    assert "单据已经审核" in messages_of(sdk.Audit(form_id, {"Numbers": [number]}))[0]
    assert "不允许修改" in messages_of(sdk.Save(form_id, {"Model": {**model, "FID": result["Id"]}}))[0]
    assert "不能删除" in messages_of(sdk.Delete(form_id, {"Numbers": [number]}))[0]
    assert status_of(sdk.UnAudit(form_id, {"Numbers": [number]}))["IsSuccess"] is True
    assert answer_of(sdk.Save(form_id, {"Model": {**model, "FID": result["Id"]}}))["Number"] == number
    assert query(sdk, form_id, "FDocumentStatus", key) == [{"FDocumentStatus": "D"}]
    assert status_of(sdk.Delete(form_id, {"Numbers": [number]}))["IsSuccess"] is True
    assert query(sdk, form_id, "FID", key) == []


@pytest.mark.sdk
def test_bill_types_default_per_form_and_belong_to_their_form(sdk: Any) -> None:
    number = answer_of(sdk.Save("AP_Payable", {"Model": payable()}))["Number"]
    assert query(sdk, "AP_Payable", "FBillTypeID.FNumber", f"FBillNo='{number}'") == [
        {"FBillTypeID.FNumber": "YFD01_SYS"}
    ]
    wrong = sdk.Save("AP_Payable", {"Model": {**payable(), "FBillTypeID": {"FNUMBER": "FKDLX01_SYS"}}})
    assert messages_of(wrong) == ["字段[单据类型]的值[FKDLX01_SYS]在系统中不存在。"]


@pytest.mark.sdk
@pytest.mark.parametrize("form_id", sorted(BASE_DATA))
def test_base_data_life_cycle(sdk: Any, form_id: str) -> None:
    model = BASE_DATA[form_id]
    result = answer_of(sdk.Save(form_id, {"Model": model}))
    assert result["Number"] == model["FNumber"]
    assert "违反字段唯一性要求" in messages_of(sdk.Save(form_id, {"Model": model}))[0]
    for operation in ("Submit", "Audit"):
        assert (
            status_of(getattr(sdk, operation)(form_id, {"Numbers": [model["FNumber"]]}))["IsSuccess"] is True
        )
    got = query(
        sdk, form_id, "FDocumentStatus,FForbidStatus,FCreatorId.FName", f"FNumber='{model['FNumber']}'"
    )
    assert got == [{"FDocumentStatus": "C", "FForbidStatus": "A", "FCreatorId.FName": "业财集成用户"}]
    assert (
        status_of(sdk.ExcuteOperation(form_id, "Forbid", {"Numbers": [model["FNumber"]]}))["IsSuccess"]
        is True
    )
    assert query(sdk, form_id, "FForbidStatus", f"FNumber='{model['FNumber']}'") == [{"FForbidStatus": "B"}]


REQUIRED = [
    ("AP_Payable", "FSUPPLIERID", None, "字段[供应商]是必录字段。"),
    ("AP_Payable", "FBUSINESSTYPE", None, "字段[业务类型]是必录字段。"),
    ("AP_Payable", "FDATE", None, "字段[业务日期]是必录字段。"),
    ("AR_receivable", "FCUSTOMERID", None, "字段[客户]是必录字段。"),
    ("CN_PAYAPPLY", "FCONTACTUNIT", None, "字段[往来单位]是必录字段。"),
    ("AP_PAYBILL", "FBUSINESSTYPE", None, "字段[业务类型]是必录字段。"),
    ("AP_PAYBILL", "FPURPOSEID", "FPAYBILLENTRY", "第1行分录：字段[付款用途]是必录字段。"),
    ("AP_OtherPayable", "FCOSTDEPARTMENTID", "FEntity", "第1行分录：字段[费用承担部门]是必录字段。"),
    ("CN_PAYAPPLY", "FAPPLYAMOUNTFOR", "FPAYAPPLYENTRY", "第1行分录：字段[申请付款金额]是必录字段。"),
]


@pytest.mark.sdk
@pytest.mark.parametrize(("form_id", "key", "entity", "message"), REQUIRED)
def test_required_fields(sdk: Any, form_id: str, key: str, entity: str | None, message: str) -> None:
    model = json.loads(json.dumps(BILLS[form_id][0]))
    holder = model[entity][0] if entity else model
    holder.pop(key)
    status = status_of(sdk.Save(form_id, {"Model": model}))
    assert (status["MsgCode"], status["Errors"][0]["Message"]) == (11, message)


# --- the amount rules, in-process ----------------------------------------------------------------------


def call(sandbox: KingdeeSandbox, service: str, form_id: str, data: dict[str, Any]) -> dict[str, Any]:
    reply = signed_call(sandbox, DYNAMIC_FORM + service, {"formid": form_id, "data": data})
    return json.loads(reply.text, parse_float=Decimal)


def bill_query(sandbox: KingdeeSandbox, form_id: str, keys: str, condition: str) -> list[dict[str, Any]]:
    data = {"FormId": form_id, "FieldKeys": keys, "FilterString": condition}
    return json.loads(
        signed_call(sandbox, DYNAMIC_FORM + "BillQuery", {"data": data}).text, parse_float=Decimal
    )


def errors(answer: dict[str, Any]) -> list[str]:
    return [e["Message"] for e in answer["Result"]["ResponseStatus"]["Errors"]]


def test_payable_amounts_are_derived_and_summed(shared_sandbox: KingdeeSandbox) -> None:
    model = payable("1130.00")
    model["FEntityDetail"].append(
        {"FCOSTID": {"FNumber": "FYXM01"}, "FNoTaxAmountFor_D": "200.00", "FEntryTaxRate": 13}
    )
    result = call(shared_sandbox, "Save", "AP_Payable", {"Model": model})["Result"]
    keys = "FALLAMOUNTFOR,FNoTaxAmountFor,FTaxAmountFor,FALLAMOUNT,FNoTaxAmountFor_D,FTAXAMOUNTFOR_D,FALLAMOUNTFOR_D"
    got = bill_query(shared_sandbox, "AP_Payable", keys, f"FID={result['Id']}")
    d = Decimal
    assert [(r["FNoTaxAmountFor_D"], r["FTAXAMOUNTFOR_D"], r["FALLAMOUNTFOR_D"]) for r in got] == [
        (d("1000.00"), d("130.00"), d("1130.00")),
        (d("200.00"), d("26.00"), d("226.00")),
    ]
    assert (got[0]["FALLAMOUNTFOR"], got[0]["FNoTaxAmountFor"], got[0]["FTaxAmountFor"], got[0]["FALLAMOUNT"]) == (
        d("1356.00"), d("1200.00"), d("156.00"), d("1356.00")
    )  # fmt: skip


def test_receivable_gross_from_quantity_and_price(shared_sandbox: KingdeeSandbox) -> None:
    result = call(shared_sandbox, "Save", "AR_receivable", {"Model": RECEIVABLE})["Result"]
    got = bill_query(
        shared_sandbox,
        "AR_receivable",
        "FALLAMOUNTFOR,FNoTaxAmountFor_D,FTAXAMOUNTFOR_D",
        f"FID={result['Id']}",
    )
    assert got == [
        {
            "FALLAMOUNTFOR": Decimal("1090.00"),
            "FNoTaxAmountFor_D": Decimal("1000.00"),
            "FTAXAMOUNTFOR_D": Decimal("90.00"),
        }
    ]


def test_other_payable_and_pay_bill_totals(shared_sandbox: KingdeeSandbox) -> None:
    other = call(shared_sandbox, "Save", "AP_OtherPayable", {"Model": OTHER_PAYABLE})["Result"]
    assert bill_query(
        shared_sandbox, "AP_OtherPayable", "FTOTALAMOUNTFOR_H,FTAXAMOUNTFOR", f"FID={other['Id']}"
    ) == [{"FTOTALAMOUNTFOR_H": Decimal("5450.00"), "FTAXAMOUNTFOR": Decimal("450.00")}]
    paid = call(shared_sandbox, "Save", "AP_PAYBILL", {"Model": PAY_BILL})["Result"]
    keys = "FPAYTOTALAMOUNTFOR_H,FREALPAYAMOUNTFOR_H,FREALPAYAMOUNTFOR_D,FPOSTDATE,FRECTUNIT.FNumber,FACCOUNTID.FName"
    assert bill_query(shared_sandbox, "AP_PAYBILL", keys, f"FID={paid['Id']}") == [
        {
            "FPAYTOTALAMOUNTFOR_H": Decimal("20000.00"),
            "FREALPAYAMOUNTFOR_H": Decimal("19850.00"),
            "FREALPAYAMOUNTFOR_D": Decimal("19850.00"),
            "FPOSTDATE": "2025-03-18T00:00:00",
            "FRECTUNIT.FNumber": "GYS0002",
            "FACCOUNTID.FName": "基本户",
        }
    ]


@pytest.mark.parametrize(
    ("form_id", "change", "message"),
    [
        (
            "AP_Payable",
            {"FNoTaxAmountFor_D": "1000.00", "FTAXAMOUNTFOR_D": "100.00"},
            "第1行分录：价税合计1130.00不等于不含税金额1000.00与税额100.00之和。",
        ),
        ("AP_Payable", {"FALLAMOUNTFOR_D": "0"}, "第1行分录：价税合计不能为0。"),
        (
            "AP_Payable",
            {"FALLAMOUNTFOR_D": "10.005"},
            "第1行分录：价税合计10.005的小数位数超过币别[PRE001]的金额精度（2位）。",
        ),
        ("CN_PAYAPPLY", {"FAPPLYAMOUNTFOR": "-5"}, "第1行分录：申请付款金额必须大于0。"),
    ],
    ids=["mismatch", "zero", "precision", "negative-payment"],
)
def test_amount_rules(
    shared_sandbox: KingdeeSandbox, form_id: str, change: dict[str, Any], message: str
) -> None:
    model = json.loads(json.dumps(BILLS[form_id][0]))
    entity = "FEntityDetail" if form_id == "AP_Payable" else "FPAYAPPLYENTRY"
    model[entity][0].update(change)
    answer = call(shared_sandbox, "Save", form_id, {"Model": model})
    assert errors(answer) == [message]
    assert answer["Result"]["ResponseStatus"]["MsgCode"] == 11


def test_a_bill_needs_lines(shared_sandbox: KingdeeSandbox) -> None:
    answer = call(shared_sandbox, "Save", "AP_Payable", {"Model": {**payable(), "FEntityDetail": []}})
    assert errors(answer) == ["应付单的明细不能为空。"]


def test_the_contact_unit_is_looked_up_in_the_form_its_type_names(shared_sandbox: KingdeeSandbox) -> None:
    to_customer = pay_apply("300.00", FCONTACTUNITTYPE="BD_Customer", FCONTACTUNIT={"FNumber": "KH0002"})
    result = call(shared_sandbox, "Save", "CN_PAYAPPLY", {"Model": to_customer})["Result"]
    keys = "FCONTACTUNITTYPE,FCONTACTUNIT.FNumber,FCONTACTUNIT.FName,FRECTUNITTYPE,FRECTUNIT.FName"
    assert bill_query(shared_sandbox, "CN_PAYAPPLY", keys, f"FID={result['Id']}") == [
        {
            "FCONTACTUNITTYPE": "BD_Customer",
            "FCONTACTUNIT.FNumber": "KH0002",
            "FCONTACTUNIT.FName": "区交通运输局",
            "FRECTUNITTYPE": "BD_Customer",
            "FRECTUNIT.FName": "区交通运输局",
        }
    ]
    # A supplier's number is no customer.
    wrong = pay_apply(FCONTACTUNITTYPE="BD_Customer", FCONTACTUNIT={"FNumber": "GYS0001"})
    assert errors(call(shared_sandbox, "Save", "CN_PAYAPPLY", {"Model": wrong})) == [
        "字段[往来单位]的值[GYS0001]在系统中不存在。"
    ]
    # Employees, keyed by their staff number, are contact units too.
    staff = pay_apply(FCONTACTUNITTYPE="bd_empinfo", FCONTACTUNIT={"FStaffNumber": "YG0002"})
    staff_id = call(shared_sandbox, "Save", "CN_PAYAPPLY", {"Model": staff})["Result"]["Id"]
    got = bill_query(shared_sandbox, "CN_PAYAPPLY", "FCONTACTUNITTYPE,FCONTACTUNIT.FName", f"FID={staff_id}")
    assert got == [{"FCONTACTUNITTYPE": "BD_Empinfo", "FCONTACTUNIT.FName": "王秀英"}]
    bad_type = pay_apply(FCONTACTUNITTYPE="BD_Nothing")
    assert errors(call(shared_sandbox, "Save", "CN_PAYAPPLY", {"Model": bad_type})) == [
        "字段[往来单位类型]的值“BD_Nothing”格式不正确。"
    ]


def test_employees_are_the_fflex7_dimension(shared_sandbox: KingdeeSandbox) -> None:
    model = voucher(line("1221", debit="66.00"), line("1001", credit="66.00"))
    model["FEntity"][0]["FDetailID"] = {"FDETAILID__FFLEX7": {"FSTAFFNUMBER": "YG0003"}}
    result = call(shared_sandbox, "Save", "GL_VOUCHER", {"Model": model})["Result"]
    got = bill_query(
        shared_sandbox,
        "GL_VOUCHER",
        "FDetailID.FFLEX7.FName,FDetailID.FFLEX7.FStaffNumber",
        f"FVOUCHERID={result['Id']}",
    )
    assert got[0] == {"FDetailID.FFLEX7.FName": "张志强", "FDetailID.FFLEX7.FStaffNumber": "YG0003"}


def test_bill_dates_in_a_closed_period_only_when_switched_on(tmp_path: Path) -> None:
    strict = KingdeeSandbox(tmp_path / "strict", settings=SandboxSettings(check_bill_periods=True))
    lenient = KingdeeSandbox(tmp_path / "lenient")
    try:
        for instance in (strict, lenient):
            instance.close_period(2025, 3)
        assert errors(call(strict, "Save", "AP_Payable", {"Model": payable()})) == [
            "业务日期2025-03-12所在的2025年第3期已结账，不能保存应付单。"
        ]
        assert call(lenient, "Save", "AP_Payable", {"Model": payable()})["Result"]["ResponseStatus"][
            "IsSuccess"
        ]
        strict.open_period(2025, 3)
        assert call(strict, "Save", "AP_Payable", {"Model": payable()})["Result"]["ResponseStatus"][
            "IsSuccess"
        ]
    finally:
        strict.close()
        lenient.close()


# --- the status machine, as a property -----------------------------------------------------------------

# What each operation does from each status: the next status, or None when it is refused.
MACHINE: dict[str, dict[str, str | None]] = {
    "Submit": {"Z": None, "A": "B", "B": None, "C": None, "D": "B"},
    "Audit": {"Z": None, "A": None, "B": "C", "C": None, "D": None},
    "UnAudit": {"Z": None, "A": None, "B": None, "C": "D", "D": None},
    "CancelAssign": {"Z": None, "A": None, "B": "A", "C": None, "D": None},
    "Delete": {"Z": "gone", "A": "gone", "B": None, "C": None, "D": "gone"},
    "Save": {"Z": "A", "A": "A", "B": None, "C": None, "D": "D"},
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    drafted=st.booleans(),
    steps=st.lists(st.sampled_from(sorted(MACHINE)), min_size=1, max_size=8),
)
def test_any_sequence_of_operations_obeys_the_status_machine(
    shared_sandbox: KingdeeSandbox, drafted: bool, steps: list[str]
) -> None:
    created = call(
        shared_sandbox, "Draft" if drafted else "Save", "CN_PAYAPPLY", {"Model": pay_apply("10.00")}
    )["Result"]
    bill_id = created["Id"]
    state = "Z" if drafted else "A"
    for step in steps:
        if step == "Save":
            answer = call(
                shared_sandbox, "Save", "CN_PAYAPPLY", {"Model": {**pay_apply("11.00"), "FID": bill_id}}
            )
        else:
            answer = call(shared_sandbox, step, "CN_PAYAPPLY", {"Ids": str(bill_id)})
        status = answer["Result"]["ResponseStatus"]
        expected = MACHINE[step].get(state) if state != "gone" else None
        if state == "gone":
            assert status["MsgCode"] == 10, (step, status)
        elif expected is None:
            assert (status["IsSuccess"], status["MsgCode"]) == (False, 11), (step, state, status)
        else:
            assert status["IsSuccess"] is True, (step, state, status)
            state = expected
        found = bill_query(shared_sandbox, "CN_PAYAPPLY", "FDocumentStatus", f"FID={bill_id}")
        assert found == ([] if state == "gone" else [{"FDocumentStatus": state}])
