"""ExecuteBillQuery / BillQuery semantics of sandbox.kingdee, in-process."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.kingdee_calls import DYNAMIC_FORM, balanced_voucher, line, signed_call, voucher
from yecai.sandbox.kingdee import KingdeeSandbox


def query(sandbox: KingdeeSandbox, service: str = "ExecuteBillQuery", **data: Any) -> Any:
    reply = signed_call(sandbox, DYNAMIC_FORM + service, {"data": data})
    assert reply.status == 200
    return json.loads(reply.text)


def error_of(answer: Any) -> tuple[int, str]:
    status = answer[0][0]["Result"]["ResponseStatus"]
    return status["MsgCode"], status["Errors"][0]["Message"]


def save(sandbox: KingdeeSandbox, form_id: str, model: Any, service: str = "Save") -> dict[str, Any]:
    reply = signed_call(sandbox, DYNAMIC_FORM + service, {"formid": form_id, "data": {"Model": model}})
    return json.loads(reply.text)["Result"]


@pytest.fixture
def books(sandbox: KingdeeSandbox) -> list[int]:
    """Three vouchers: Jan (2 lines), Feb (3 lines, two projects), Mar (2 lines)."""
    save(
        sandbox,
        "BOS_ASSISTANTDATA_DETAIL",
        {"FId": {"FNumber": "XM01"}, "FNumber": "XM-A", "FDataValue": "甲项目"},
    )
    save(
        sandbox,
        "BOS_ASSISTANTDATA_DETAIL",
        {"FId": {"FNumber": "XM01"}, "FNumber": "XM-B", "FDataValue": "乙项目"},
    )
    feb = voucher(
        line("5401.01", debit="300.10", explanation="人工费 O'Brien", FF100001="XM-A"),
        line("5401.02", debit="200.00", explanation="材料费", FF100001="XM-B"),
        line("1002.01", credit="500.10", explanation="付款"),
        date="2025-02-20",
    )
    ids = []
    for model in (balanced_voucher(100, date="2025-01-05"), feb, balanced_voucher("0.01", date="2025-03-01")):
        result = save(sandbox, "GL_VOUCHER", model)
        assert result["ResponseStatus"]["IsSuccess"], result
        ids.append(result["Id"])
    return ids


def test_header_only_keys_give_one_row_per_bill(sandbox: KingdeeSandbox, books: list[int]) -> None:
    rows = query(sandbox, FormId="GL_VOUCHER", FieldKeys="FVOUCHERID,FDate,FDEBITTOTAL")
    assert rows == [
        [books[0], "2025-01-05T00:00:00", 100],
        [books[1], "2025-02-20T00:00:00", 500.10],
        [books[2], "2025-03-01T00:00:00", 0.01],
    ]


def test_entry_keys_give_one_row_per_line_with_header_repeated(
    sandbox: KingdeeSandbox, books: list[int]
) -> None:
    rows = query(
        sandbox,
        FormId="GL_VOUCHER",
        FieldKeys="FVOUCHERID,FEntity_FSeq,FACCOUNTID.FNumber,FDetailID.FF100001.FNumber",
        FilterString=f"FVOUCHERID = {books[1]}",
    )
    assert rows == [
        [books[1], 1, "5401.01", "XM-A"],
        [books[1], 2, "5401.02", "XM-B"],
        [books[1], 3, "1002.01", None],
    ]


def test_filter_on_an_entry_field_joins_like_sql(sandbox: KingdeeSandbox, books: list[int]) -> None:
    rows = query(
        sandbox, FormId="GL_VOUCHER", FieldKeys="FBillNo", FilterString="FACCOUNTID.FNumber like '5401%'"
    )
    assert len(rows) == 2  # one row per matching line of the February voucher


def test_bare_reference_returns_the_internal_id(sandbox: KingdeeSandbox, books: list[int]) -> None:
    (account_id,) = query(sandbox, FormId="BD_Account", FieldKeys="FACCTID", FilterString="FNumber='1001'")[0]
    rows = query(
        sandbox,
        FormId="GL_VOUCHER",
        FieldKeys="FACCOUNTID,FACCOUNTID.FNumber,FDetailID",
        FilterString=f"FACCOUNTID = {account_id}",
    )
    assert rows
    assert all(row[0] == account_id and row[1] == "1001" for row in rows)
    assert all(row[2] == 0 for row in rows)  # no dimension on 1001


def test_dimension_combination_ids_are_shared(sandbox: KingdeeSandbox, books: list[int]) -> None:
    rows = query(
        sandbox,
        FormId="GL_VOUCHER",
        FieldKeys="FDetailID,FDetailID.FFLEX5.FNumber",
        FilterString="FDetailID.FFLEX5.FNumber='BM02'",
    )
    assert len(rows) == 2
    assert rows[0][0] == rows[1][0] != 0


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("FDate >= '2025-02-01' and FDate < '2025-03-01'", 3),
        ("FEXPLANATION = 'Ȁ'", 0),
        ("FEXPLANATION = '人工费 O''Brien'", 1),
        ("fexplanation LIKE '%o''brien'", 1),
        ("FEXPLANATION like '_工费%'", 1),
        ("FDEBIT > 250 or FCREDIT >= 500.1", 2),
        ("FDEBIT <> 0 and not (FACCOUNTID.FNumber in ('5401.01', '6602'))", 1),
        ("FACCOUNTID.FNumber not in ('5401.01', '5401.02', '6602', '1001')", 1),
        ("FDetailID.FF100001.FNumber is null", 5),
        ("FDetailID.FF100001.FNumber is not null and FDetailID.FF100001.FDataValue = '乙项目'", 1),
        ("FYEAR = 2025 AND FPERIOD IN (1, 3) AND FDC = -1", 2),
        ("FDocumentStatus != 'C'", 7),
        ("", 7),
        # hostile but valid (issue 12): each used to hang or answer RecursionError
        ("FEXPLANATION like '" + "%_" * 30 + "#'", 0),
        ("FEXPLANATION like '" + "%_" * 3 + "%'", 2),  # the two explanations of three characters or more
        # 5 lines debit a whole number below 3,000: 100 and 200, and the three credit lines (0)
        (" or ".join(f"FDEBIT = {n}" for n in range(3_000)), 5),
        ("(" * 60 + "FDocumentStatus <> 'C'" + ")" * 60, 7),
    ],
)
def test_filter_string(sandbox: KingdeeSandbox, books: list[int], condition: str, expected: int) -> None:
    rows = query(sandbox, FormId="GL_VOUCHER", FieldKeys="FEntity_FEntryID", FilterString=condition)
    assert len(rows) == expected


def test_filter_array_form(sandbox: KingdeeSandbox, books: list[int]) -> None:
    condition = [
        {"Left": "(", "FieldName": "FNumber", "Compare": "67", "Value": "BM01", "Right": "", "Logic": "1"},
        {"Left": "", "FieldName": "FNumber", "Compare": "67", "Value": "BM02", "Right": ")", "Logic": "0"},
        {"Left": "", "FieldName": "FForbidStatus", "Compare": "105", "Value": "A", "Right": "", "Logic": 0},
    ]
    rows = query(
        sandbox, FormId="BD_Department", FieldKeys="FNumber", FilterString=condition, OrderString="FNumber"
    )
    assert rows == [["BM01"], ["BM02"]]


def test_order_and_paging(sandbox: KingdeeSandbox, books: list[int]) -> None:
    keys = {
        "FormId": "BD_Account",
        "FieldKeys": "FNumber",
        "FilterString": "FNumber like '2221.%' and FAcctTblId.FNumber = 'KMB001'",
    }
    everything = [row[0] for row in query(sandbox, **keys, OrderString="FNumber DESC")]
    assert everything == sorted(everything, reverse=True)
    assert len(everything) == 13
    page = query(sandbox, **keys, OrderString="FNumber DESC", StartRow=2, Limit=3)
    assert [row[0] for row in page] == everything[2:5]
    top = query(sandbox, **keys, OrderString="FNumber DESC", TopRowCount=4, StartRow="1", Limit="0")
    assert [row[0] for row in top] == everything[1:4]
    by_two = query(
        sandbox,
        FormId="GL_VOUCHER",
        FieldKeys="FPERIOD,FEntity_FSeq",
        OrderString="FPERIOD desc, FEntity_FSeq asc",
    )
    assert by_two == [[3, 1], [3, 2], [2, 1], [2, 2], [2, 3], [1, 1], [1, 2]]


def test_bill_query_objects(sandbox: KingdeeSandbox, books: list[int]) -> None:
    rows = query(
        sandbox,
        "BillQuery",
        FormId="BOS_ASSISTANTDATA_DETAIL",
        FieldKeys="FNumber,FDataValue,FId.FNumber,FForbidStatus",
        OrderString="FNumber",
    )
    assert rows == [
        {"FNumber": "XM-A", "FDataValue": "甲项目", "FId.FNumber": "XM01", "FForbidStatus": "A"},
        {"FNumber": "XM-B", "FDataValue": "乙项目", "FId.FNumber": "XM01", "FForbidStatus": "A"},
    ]


def test_assistant_data_ids_are_text_and_filter_by_category_id(
    sandbox: KingdeeSandbox, books: list[int]
) -> None:
    ((category_id,),) = query(
        sandbox, FormId="BOS_ASSISTANTDATA", FieldKeys="FID", FilterString="FNumber='XM01'"
    )
    assert isinstance(category_id, str)
    assert len(category_id) == 14
    rows = query(
        sandbox,
        FormId="BOS_ASSISTANTDATA_DETAIL",
        FieldKeys="FEntryID,FNumber",
        FilterString=f"FId='{category_id}'",
    )
    assert [row[1] for row in rows] == ["XM-A", "XM-B"]
    assert all(isinstance(row[0], str) for row in rows)


def test_debit_nature_tax_accounts_carry_a_debit_direction(sandbox: KingdeeSandbox) -> None:
    """财会〔2016〕22号: 进项税额, 转出未交增值税, 预交增值税 and 待认证进项税额 are debit-nature (借),
    so the 科目余额表 shows their balances on the debit side, not as negative credits."""
    rows = query(
        sandbox,
        FormId="BD_Account",
        FieldKeys="FNumber,FDC",
        FilterString="FNumber in ('2221.01.01', '2221.01.02', '2221.01.03', '2221.03', '2221.04') "
        "and FAcctTblId.FNumber = 'KMB001'",
        OrderString="FNumber",
    )
    assert rows == [["2221.01.01", 1], ["2221.01.02", -1], ["2221.01.03", 1], ["2221.03", 1], ["2221.04", 1]]


def test_accounts_expose_tree_and_required_dimensions(sandbox: KingdeeSandbox) -> None:
    rows = query(
        sandbox,
        FormId="BD_Account",
        FieldKeys="FNumber,FIsDetail,FLevel,FParentID.FNumber,FFullName,FFlEXITEMPROPERTYID.FName",
        FilterString="(FNumber like '2221.01%' or FNumber = '6602') and FAcctTblId.FNumber = 'KMB001'",
        OrderString="FNumber",
    )
    assert rows == [
        ["2221.01", False, 2, "2221", "应交税费_应交增值税", None],
        ["2221.01.01", True, 3, "2221.01", "应交税费_应交增值税_进项税额", None],
        ["2221.01.02", True, 3, "2221.01", "应交税费_应交增值税_销项税额", None],
        ["2221.01.03", True, 3, "2221.01", "应交税费_应交增值税_转出未交增值税", None],
        ["6602", True, 1, None, "管理费用", "部门"],
    ]


@pytest.mark.parametrize(
    ("data", "msg_code", "message"),
    [
        ({"FormId": "GL_VOUCHER", "FieldKeys": "FBillNo,FNoSuch"}, 9, "元数据中标识为FNoSuch的字段不存在"),
        (
            {"FormId": "GL_VOUCHER", "FieldKeys": "FDetailID.FF999999.FNumber"},
            9,
            "元数据中标识为FDetailID的字段不存在",
        ),
        (
            {"FormId": "GL_VOUCHER", "FieldKeys": "FDETAILID__FF100001"},
            9,
            "元数据中标识为FDETAILID__FF100001的字段不存在",
        ),
        ({"FormId": "BOS_ASSISTANTDATA_DETAIL", "FieldKeys": "FName"}, 9, "元数据中标识为FName的字段不存在"),
        (
            {"FormId": "GL_VOUCHER", "FieldKeys": "FBillNo", "FilterString": "FNope = 1"},
            9,
            "元数据中标识为FNope的字段不存在",
        ),
        ({"FormId": "GL_VOUCHER", "FieldKeys": " , "}, 8, "data 数据包中的参数 FieldKeys 的值不能为空"),
        (
            {"FormId": "NO_SUCH_FORM", "FieldKeys": "FNumber"},
            4,
            "标识为“NO_SUCH_FORM”的业务对象不存在，或者被删除",
        ),
        (
            {"FormId": "GL_VOUCHER", "FieldKeys": "FBillNo", "FilterString": "FBillNo = 'x' or"},
            4,
            "GetRealExpress error...",
        ),
        (
            {"FormId": "GL_VOUCHER", "FieldKeys": "FBillNo", "FilterString": "FBillNo; drop table x"},
            4,
            "GetRealExpress error...",
        ),
        (
            {"FormId": "GL_VOUCHER", "FieldKeys": "FBillNo", "FilterString": "FDate > 'yesterday'"},
            4,
            "GetRealExpress error...",
        ),
        ({"FormId": "GL_VOUCHER", "FieldKeys": "FBillNo", "Limit": 10001}, 8, "Limit"),
        (  # issue 12: answered RecursionError as 服务器内部错误
            {
                "FormId": "GL_VOUCHER",
                "FieldKeys": "FBillNo",
                "FilterString": "(" * 5000 + "FYEAR = 1" + ")" * 5000,
            },
            4,
            "GetRealExpress error...",
        ),
        (
            {"FormId": "GL_VOUCHER", "FieldKeys": "FBillNo", "FilterString": "not " * 5000 + "FYEAR = 1"},
            4,
            "GetRealExpress error...",
        ),
    ],
)
def test_query_errors(
    sandbox: KingdeeSandbox, books: list[int], data: dict[str, Any], msg_code: int, message: str
) -> None:
    answer = query(sandbox, **data)
    code, text = error_of(answer)
    assert code == msg_code
    assert text.startswith(message) if message.endswith("...") else message in text
    assert answer[0][0]["Result"]["ResponseStatus"]["IsSuccess"] is False


def test_bill_query_error_is_wrapped_once(sandbox: KingdeeSandbox) -> None:
    answer = query(sandbox, "BillQuery", FormId="GL_VOUCHER", FieldKeys="FNoSuch")
    assert answer[0]["Result"]["ResponseStatus"]["MsgCode"] == 9


def test_amounts_are_exact_numbers_on_the_wire(sandbox: KingdeeSandbox) -> None:
    result = save(sandbox, "GL_VOUCHER", balanced_voucher("0.30", date="2025-06-30"))
    assert result["ResponseStatus"]["IsSuccess"]
    reply = signed_call(
        sandbox,
        DYNAMIC_FORM + "ExecuteBillQuery",
        {"data": {"FormId": "GL_VOUCHER", "FieldKeys": "FDEBITTOTAL,FDEBIT,FCREDIT,FAMOUNTFOR"}},
    )
    assert reply.text == "[[0.30,0.30,0.00,0.30],[0.30,0.00,0.30,0.30]]"
