"""Two 核算组织, two books, two 科目表: the group on 企业会计准则 (book 001), the 分公司 (org 200)
on 小企业会计准则 (book 002). The same number means different accounts in the two charts (5401 is
合同履约成本 in one, 主营业务成本 in the other), so a voucher's accounts resolve within its book's
chart, queries can ask for one chart, and the 科目余额表 reports one book on its own chart.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from tests.support.kingdee_calls import DYNAMIC_FORM, line, signed_call, voucher
from yecai.sandbox.kingdee import KingdeeSandbox

D = Decimal
REPORT = "GL_RPT_AccountBalance"


def _call(sandbox: KingdeeSandbox, service: str, body: dict[str, Any]) -> Any:
    reply = signed_call(sandbox, DYNAMIC_FORM + service, body)
    assert reply.status == 200, reply.text
    return json.loads(reply.text, parse_float=Decimal)


def _query(sandbox: KingdeeSandbox, **data: Any) -> list[list[Any]]:
    return _call(sandbox, "ExecuteBillQuery", {"data": data})  # type: ignore[no-any-return]


def _save(sandbox: KingdeeSandbox, model: dict[str, Any], form_id: str = "GL_VOUCHER") -> dict[str, Any]:
    data = {"Model": model, "IsAutoSubmitAndAudit": form_id == "GL_VOUCHER"}
    return _call(sandbox, "Save", {"formid": form_id, "data": data})["Result"]["ResponseStatus"]  # type: ignore[no-any-return]


def _project(sandbox: KingdeeSandbox, number: str) -> None:
    model = {"FId": {"FNumber": "XM01"}, "FNumber": number, "FDataValue": number}
    assert _save(sandbox, model, "BOS_ASSISTANTDATA_DETAIL")["IsSuccess"]


def small_cost(book: str) -> dict[str, Any]:
    """A material cost on 工程施工—合同成本—材料费, owed to a supplier (小企业会计准则 accounts)."""
    return voucher(
        line("4401.01.02", debit="1000.00", FF100001="XM-S"),
        line("2202.01", credit="1000.00", FF100001="XM-S", FFLEX4="GYS0001"),
        date="2025-03-20",
        book=book,
    )


def test_the_books_keep_their_accounts_in_their_own_charts(sandbox: KingdeeSandbox) -> None:
    books = _query(
        sandbox,
        FormId="BD_AccountBook",
        FieldKeys="FNumber,FACCTORGID.FNumber,FACCTTABLEID.FNumber,FACCTTABLEID.FName",
        OrderString="FNumber",
    )
    assert books == [
        ["001", "100", "KMB001", "企业会计准则科目表"],
        ["002", "200", "KMB002", "小企业会计准则科目表"],
    ]
    both = _query(
        sandbox,
        FormId="BD_Account",
        FieldKeys="FAcctTblId.FNumber,FName,FIsDetail",
        FilterString="FNumber = '5401'",
        OrderString="FAcctTblId.FNumber",
    )
    assert both == [["KMB001", "合同履约成本", False], ["KMB002", "主营业务成本", True]]
    small = _query(
        sandbox, FormId="BD_Account", FieldKeys="FNumber", FilterString="FAcctTblId.FNumber = 'KMB002'"
    )
    numbers = {row[0] for row in small}
    assert {"4401.01.02", "4402", "5001", "5401", "5403"} <= numbers
    assert not {"1481", "2204", "5402", "6001", "6401"} & numbers  # CAS 14 and CAS-numbered accounts
    # the sub-ledgers keep the 核算维度 of the CAS chart (dims_from), 4402 has its own
    dims = _query(
        sandbox,
        FormId="BD_Account",
        FieldKeys="FNumber,FFlEXITEMPROPERTYID.FName",
        FilterString="FAcctTblId.FNumber = 'KMB002' and FNumber in ('1122', '2202.99', '4402')",
        OrderString="FNumber",
    )
    assert sorted(dims) == sorted(
        [
            ["1122", "客户"],
            ["1122", "项目"],
            ["2202.99", "项目"],
            ["2202.99", "供应商"],
            ["4402", "项目"],
            ["4402", "客户"],
        ]
    )


def test_a_voucher_resolves_its_accounts_in_its_books_chart(sandbox: KingdeeSandbox) -> None:
    _project(sandbox, "XM-S")
    refused = _save(sandbox, small_cost("001"))
    assert not refused["IsSuccess"]
    assert (
        refused["Errors"][0]["Message"]
        == "第1行分录：科目编码[4401.01.02]在账簿[001]的科目表[企业会计准则科目表]中不存在。"
    )
    assert refused["MsgCode"] == 11
    assert _save(sandbox, small_cost("002"))["IsSuccess"]
    # 5401 is 主营业务成本 (a leaf) in book 002 and 合同履约成本 (a parent) in book 001
    cost_of_sales = [
        line("5401", debit="800.00", FF100001="XM-S"),
        line("4401.01.02", credit="800.00", FF100001="XM-S"),
    ]
    assert _save(sandbox, voucher(*cost_of_sales, date="2025-03-31", book="002"))["IsSuccess"]
    in_cas = _save(sandbox, voucher(*cost_of_sales, date="2025-03-31", book="001"))
    assert "不是明细科目" in in_cas["Errors"][0]["Message"]
    lines = _query(
        sandbox,
        FormId="GL_VOUCHER",
        FieldKeys="FAccountBookID.FNumber,FACCTORGID.FNumber,FACCOUNTID.FNumber,FACCOUNTID.FAcctTblId.FNumber",
        OrderString="FVOUCHERID,FEntity_FSeq",
    )
    assert {tuple(row) for row in lines} == {
        ("002", "200", "4401.01.02", "KMB002"),
        ("002", "200", "2202.01", "KMB002"),
        ("002", "200", "5401", "KMB002"),
    }


def test_the_account_balance_reports_one_book_on_its_chart(sandbox: KingdeeSandbox) -> None:
    _project(sandbox, "XM-S")
    assert _save(sandbox, small_cost("002"))["IsSuccess"]
    cas = voucher(line("6602", debit="50.00", FFLEX5="BM02"), line("1001", credit="50.00"), date="2025-03-10")
    assert _save(sandbox, cas)["IsSuccess"]

    def rows(book: str) -> dict[str, list[Any]]:
        model = {"FACCTBOOKID": {"FNumber": book}, "FSTARTYEAR": 2025, "FSTARTPERIOD": 3, "FNOBUSINESS": True}
        data = {"FieldKeys": "FBALANCEID,FACCTTYPE,FDEBIT,FCREDIT", "Model": model}
        result = _call(sandbox, "GetSysReportData", {"formid": REPORT, "data": data})["Result"]
        assert result["IsSuccess"], result
        return {row[0]: row[1:] for row in result["Rows"]}

    small, group = rows("002"), rows("001")
    assert small["4401.01.02"] == ["成本", D("1000.00"), D("0.00")]
    assert small["2202.01"] == ["负债", D("0.00"), D("1000.00")]
    assert small["5401"][0] == "损益"
    assert small["3001"][0] == "权益"
    assert "6602" not in small
    assert "1481" not in small
    assert group["5401"][0] == "成本"
    assert "4401" not in group
    assert group["6602"] == ["损益", D("50.00"), D("0.00")]
    assert group["5401.02"] == ["成本", D("0.00"), D("0.00")]  # book 002's cost is not in book 001
