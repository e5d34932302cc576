"""GetSysReportData (科目余额表, GL_RPT_AccountBalance): balances computed from the saved vouchers."""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.kingdee_calls import DYNAMIC_FORM, line, sdk_client, signed_call, status_of, voucher
from yecai.sandbox.kingdee import KingdeeSandbox, SandboxServer

REPORT = "GL_RPT_AccountBalance"
D = Decimal


@pytest.fixture(scope="module", autouse=True)
def ledger(running: tuple[SandboxServer, dict[str, Any]]) -> None:
    """The module's running sandbox, with the projects and vouchers the reports read."""
    _, creds = running
    sdk = sdk_client(creds)
    for number, name in (("XM-R1", "一号项目"), ("XM-R2", "二号项目")):
        model = {"FId": {"FNumber": "XM01"}, "FNumber": number, "FDataValue": name}
        assert status_of(sdk.Save("BOS_ASSISTANTDATA_DETAIL", {"Model": model}))["IsSuccess"]

    def post(model: dict[str, Any], audit: bool, service: str = "Save") -> None:
        answer = getattr(sdk, service)("GL_VOUCHER", {"Model": model, "IsAutoSubmitAndAudit": audit})
        assert status_of(answer)["IsSuccess"], answer

    # January (audited): materials for two projects, paid from the bank.
    post(
        voucher(
            line("5401.02", debit="1000.00", FF100001="XM-R1"),
            line("5401.02", debit="500.50", FF100001="XM-R2"),
            line("1002.01", credit="1500.50"),
            date="2025-01-20",
        ),
        audit=True,
    )
    # February (saved, not audited): labour for project 1 on account.
    post(
        voucher(
            line("5401.01", debit="300.00", FF100001="XM-R1"),
            line("2241", credit="300.00"),
            date="2025-02-10",
        ),
        audit=False,
    )
    # March (audited): part of February's debt paid.
    post(
        voucher(line("2241", debit="120.00"), line("1002.01", credit="120.00"), date="2025-03-05"), audit=True
    )
    # A draft never counts.
    post(
        voucher(line("1001", debit="9999.00"), line("2241", credit="9999.00"), date="2025-02-11"),
        audit=False,
        service="Draft",
    )


def report(sdk: Any, keys: str, **model: Any) -> dict[str, Any]:
    data = {
        "FieldKeys": keys,
        "Model": {"FACCTBOOKID": {"FNumber": "001"}, "FCURRENCY": {"FNumber": "PRE001"}, **model},
    }
    return json.loads(sdk.GetSysReportData(REPORT, data), parse_float=Decimal)["Result"]


KEYS = "FBALANCEID,FBALANCENAME,FBEGINDEBIT,FBEGINCREDIT,FDEBIT,FCREDIT,FENDDEBIT,FENDCREDIT"


def by_account(result: dict[str, Any]) -> dict[str, list[Any]]:
    return {row[0]: row[1:] for row in result["Rows"]}


@pytest.mark.sdk
def test_posted_vouchers_only_by_default(sdk: Any) -> None:
    result = report(sdk, KEYS, FSTARTYEAR=2025, FSTARTPERIOD=2, FENDYEAR=2025, FENDPERIOD=3)
    assert result["IsSuccess"] is True
    assert result["RowCount"] == len(result["Rows"])
    rows = by_account(result)
    # January is the opening balance, March the movement; February is not audited (not posted).
    assert rows["1002"] == [
        "银行存款",
        D("-1500.50"),
        D("0.00"),
        D("0.00"),
        D("120.00"),
        D("-1620.50"),
        D("0.00"),
    ]
    assert rows["1002.01"] == ["基本户", *rows["1002"][1:]]
    assert rows["5401"] == [
        "合同履约成本",
        D("1500.50"),
        D("0.00"),
        D("0.00"),
        D("0.00"),
        D("1500.50"),
        D("0.00"),
    ]
    # 2241 is a credit account: its debit balance shows as a negative credit.
    assert rows["2241"] == [
        "其他应付款",
        D("0.00"),
        D("0.00"),
        D("120.00"),
        D("0.00"),
        D("0.00"),
        D("-120.00"),
    ]
    assert "5401.01" not in rows  # only the unposted voucher touched it
    assert "1001" not in rows  # only a draft touched it


@pytest.mark.sdk
def test_unposted_vouchers_when_asked(sdk: Any) -> None:
    rows = by_account(
        report(sdk, KEYS, FSTARTYEAR=2025, FSTARTPERIOD=1, FENDYEAR=2025, FENDPERIOD=3, FNOTPOSTVOUCHER=True)
    )
    assert rows["5401.01"] == ["人工费", D("0.00"), D("0.00"), D("300.00"), D("0.00"), D("300.00"), D("0.00")]
    assert rows["5401"][-2] == D("1800.50")
    assert rows["2241"] == [
        "其他应付款",
        D("0.00"),
        D("0.00"),
        D("120.00"),
        D("300.00"),
        D("0.00"),
        D("180.00"),
    ]
    assert "1001" not in rows


@pytest.mark.sdk
def test_level_detail_and_paging(sdk: Any) -> None:
    period = {"FSTARTYEAR": 2025, "FSTARTPERIOD": 1, "FENDYEAR": 2025, "FENDPERIOD": 1}
    top = report(sdk, "FBALANCEID,FDEBIT", FBALANCELEVEL=1, **period)
    assert [r[0] for r in top["Rows"]] == ["1002", "5401"]
    detail = report(
        sdk,
        "FBALANCEID,FDETAILNUMBER,FDETAILNAME,FDEBIT",
        FSHOWDETAIL=True,
        FDETAILSHOWACCT=True,
        FSHOWDETAILONLY=True,
        **period,
    )
    assert detail["Rows"] == [
        ["1002.01", "", "", D("0.00")],
        ["5401.02", "", "", D("1500.50")],
        ["5401.02", "XM-R1", "一号项目", D("1000.00")],
        ["5401.02", "XM-R2", "二号项目", D("500.50")],
    ]
    paged = json.loads(
        sdk.GetSysReportData(
            REPORT,
            {
                "FieldKeys": "FBALANCEID",
                "StartRow": 1,
                "Limit": 2,
                "Model": {"FACCTBOOKID": {"FNumber": "001"}, **period},
            },
        )
    )["Result"]
    assert (paged["RowCount"], paged["Rows"]) == (4, [["1002.01"], ["5401"]])
    assert report(sdk, "FCyName,FACCTDC,FACCTGROUP", FBALANCELEVEL=1, **period)["Rows"][0] == [
        "人民币",
        "借",
        "资产",
    ]


@pytest.mark.sdk
@pytest.mark.parametrize(
    ("data", "msg_code", "message"),
    [
        ({"FieldKeys": "FBALANCEID", "Model": {}}, 8, "data 数据包中的参数 Model 的值不能为空"),
        ({"FieldKeys": "FBALANCEID", "Model": {"FCURRENCY": "0"}}, 11, "字段[账簿]是必录字段。"),
        (
            {"FieldKeys": "FBALANCEID", "Model": {"FACCTBOOKID": {"FNumber": "999"}}},
            11,
            "字段[账簿]的值[999]在系统中不存在。",
        ),
        (
            {"FieldKeys": "FNOSUCH", "Model": {"FACCTBOOKID": {"FNumber": "001"}}},
            9,
            "元数据中标识为FNOSUCH的字段不存在",
        ),
        (
            {"Model": {"FACCTBOOKID": {"FNumber": "001"}, "FWHATEVER": 1}},
            9,
            "元数据中标识为FWHATEVER的字段不存在",
        ),
        (
            {"Limit": 10001, "Model": {"FACCTBOOKID": {"FNumber": "001"}}},
            8,
            "data 数据包中的参数 Limit 的值不能大于10000",
        ),
        (
            {
                "Model": {
                    "FACCTBOOKID": {"FNumber": "001"},
                    "FSTARTYEAR": 2025,
                    "FSTARTPERIOD": 5,
                    "FENDPERIOD": 2,
                }
            },
            8,
            "起始期间2025.5晚于结束期间2025.2。",
        ),
    ],
    ids=["no-model", "no-book", "unknown-book", "unknown-column", "unknown-filter", "limit", "periods"],
)
def test_report_refusals(sdk: Any, data: dict[str, Any], msg_code: int, message: str) -> None:
    result = json.loads(sdk.GetSysReportData(REPORT, data))["Result"]
    assert (result["IsSuccess"], result["RowCount"], result["Rows"]) == (False, 0, [])
    status = result["ResponseStatus"]
    assert (status["MsgCode"], status["Errors"][0]["Message"]) == (msg_code, message)


@pytest.mark.sdk
def test_other_reports_are_not_computed(sdk: Any) -> None:
    result = json.loads(sdk.GetSysReportData("AP_SumReport", {"Model": {}}))["Result"]
    assert result["ResponseStatus"]["Errors"][0]["Message"] == "沙箱暂不支持报表“AP_SumReport”。"


# --- the property: the balance is the sum of the vouchers ------------------------------------------------

# Leaf accounts without required dimensions, and their chart parents.
LEAVES = ["1001", "1002.01", "1002.02", "1221", "1403", "2211.01", "2241", "6603"]


def _call(sandbox: KingdeeSandbox, service: str, body: dict[str, Any]) -> Any:
    return json.loads(signed_call(sandbox, DYNAMIC_FORM + service, body).text, parse_float=Decimal)


cents = st.integers(min_value=1, max_value=10_000_000).map(lambda n: D(n).scaleb(-2))
voucher_specs = st.lists(
    st.tuples(st.sampled_from(LEAVES), st.sampled_from(LEAVES), cents, st.integers(1, 12), st.booleans()),
    min_size=1,
    max_size=5,
)


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    specs=voucher_specs,
    start=st.integers(1, 12),
    span=st.integers(0, 11),
    unposted=st.booleans(),
)
def test_account_balance_is_the_sum_of_the_vouchers(
    shared_sandbox: KingdeeSandbox,
    specs: list[tuple[str, str, Decimal, int, bool]],
    start: int,
    span: int,
    unposted: bool,
) -> None:
    models = [
        voucher(line(dr, debit=str(a)), line(cr, credit=str(a)), date=f"2025-{m:02d}-15")
        for dr, cr, a, m, _ in specs
    ]
    saved = _call(shared_sandbox, "BatchSave", {"formid": "GL_VOUCHER", "data": {"Model": models}})
    ids = [e["Id"] for e in saved["Result"]["ResponseStatus"]["SuccessEntitys"]]
    assert len(ids) == len(specs)
    audit = ",".join(str(i) for i, spec in zip(ids, specs, strict=True) if spec[4])
    if audit:
        for operation in ("Submit", "Audit"):
            assert _call(shared_sandbox, operation, {"formid": "GL_VOUCHER", "data": {"Ids": audit}})[
                "Result"
            ]["ResponseStatus"]["IsSuccess"]
    end = min(start + span, 12)

    # Independently, from every voucher line the sandbox holds.
    lines = _call(
        shared_sandbox,
        "ExecuteBillQuery",
        {
            "data": {
                "FormId": "GL_VOUCHER",
                "FieldKeys": "FDocumentStatus,FPERIOD,FACCOUNTID.FNumber,FDEBIT,FCREDIT",
            }
        },
    )
    chart = {"FieldKeys": "FNumber,FDC", "FilterString": "FAcctTblId.FNumber = 'KMB001'"}  # book 001's
    dcs = dict(_call(shared_sandbox, "ExecuteBillQuery", {"data": {"FormId": "BD_Account", **chart}}))
    begin: dict[str, Decimal] = defaultdict(Decimal)
    debit: dict[str, Decimal] = defaultdict(Decimal)
    credit: dict[str, Decimal] = defaultdict(Decimal)
    for status, period, account, dr, cr in lines:
        if status == "Z" or (status != "C" and not unposted):
            continue
        parts = account.split(".")
        for depth in range(1, len(parts) + 1):  # the account and each parent
            number = ".".join(parts[:depth])
            if period < start:
                begin[number] += D(dr) - D(cr)
            elif period <= end:
                debit[number] += D(dr)
                credit[number] += D(cr)
    expected: dict[str, list[Decimal]] = {}
    for number, dc in dcs.items():
        opening, closing = begin[number], begin[number] + debit[number] - credit[number]
        side = (lambda net: [net, D(0)]) if dc == 1 else (lambda net: [D(0), -net])
        expected[number] = [*side(opening), debit[number], credit[number], *side(closing)]

    keys = "FBALANCEID,FBEGINDEBIT,FBEGINCREDIT,FDEBIT,FCREDIT,FENDDEBIT,FENDCREDIT"
    model = {
        "FACCTBOOKID": {"FNumber": "001"},
        "FSTARTYEAR": 2025,
        "FSTARTPERIOD": start,
        "FENDYEAR": 2025,
        "FENDPERIOD": end,
        "FNOTPOSTVOUCHER": unposted,
        "FBALANCEZERO": True,
        "FNOBUSINESS": True,
    }
    result = _call(
        shared_sandbox, "GetSysReportData", {"formid": REPORT, "data": {"FieldKeys": keys, "Model": model}}
    )["Result"]
    got = {row[0]: [D(v) for v in row[1:]] for row in result["Rows"]}
    assert got == expected
