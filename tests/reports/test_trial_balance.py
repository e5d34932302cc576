"""The trial-balance reader against a served sandbox.kingdee, on vouchers written by hand.

Opening (periods before the range), movement and closing per account with names, parents rolled
up, dimension rows with the dimension values' names, the balance check, and the company P&L read
from the accounts the rule sets name.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.support.kingdee_calls import line, voucher
from yecai.demo import identity_of
from yecai.kingdee.client import KingdeeClient
from yecai.mapping.rules import default_rule_sets
from yecai.reports.periods import Period
from yecai.reports.trial_balance import (
    PnlAccounts,
    Sides,
    company_pnl,
    parse_rows,
    pnl_accounts,
    read_trial_balance,
)

D = Decimal


@pytest.fixture
def kd(kingdee: dict[str, Any]) -> Iterator[KingdeeClient]:
    with KingdeeClient(kingdee["server_url"], identity_of(kingdee)) as client:
        saved = client.batch_save(
            "BOS_ASSISTANTDATA_DETAIL",
            [
                {"FNumber": "XM-A", "FDataValue": "滨江花园一期", "FId": {"FNumber": "XM01"}},
                {"FNumber": "XM-B", "FDataValue": "城南学校", "FId": {"FNumber": "XM01"}},
            ],
            IsVerifyBaseDataField=True,
        )
        assert saved.ok, saved
        yield client


def post(client: KingdeeClient, *lines: dict[str, Any], date: str) -> None:
    result = client.save("GL_VOUCHER", voucher(*lines, date=date))
    assert result.ok, result.packages[0].describe()


def books(client: KingdeeClient) -> None:
    # September: material bought on credit for XM-A (the opening of October)
    post(
        client,
        line("5401.02", debit="1000.00", FF100001="XM-A"),
        line("2221.01.01", debit="130.00"),
        line("2202.01", credit="1130.00", FF100001="XM-A", FFLEX4="GYS0001"),
        date="2026-09-20",
    )
    # October: paid 500 of it; XM-B bills its owner 2,180 (2,000 + 9 % VAT); revenue and cost
    post(
        client,
        line("2202.01", debit="500.00", FF100001="XM-A", FFLEX4="GYS0001"),
        line("1002.01", credit="500.00"),
        date="2026-10-08",
    )
    post(
        client,
        line("1122", debit="2180.00", FFLEX6="KH0001", FF100001="XM-B"),
        line("5402.01", credit="2000.00", FF100001="XM-B", FFLEX6="KH0001"),
        line("2221.01.02", credit="180.00"),
        date="2026-10-31",
    )
    post(
        client,
        line("5402.02", debit="1500.00", FF100001="XM-A", FFLEX6="KH0001"),
        line("6001", credit="1500.00", FF100001="XM-A"),
        line("6401", debit="1000.00", FF100001="XM-A"),
        line("5401.02", credit="1000.00", FF100001="XM-A"),
        date="2026-10-31",
    )
    post(
        client,
        line("6403", debit="12.60", FF100001="XM-A"),
        line("2221.08", credit="12.60"),
        date="2026-10-31",
    )


def test_opening_movement_closing_per_account_with_names(kd: KingdeeClient) -> None:
    books(kd)
    october = read_trial_balance(kd, book="001", start=Period(2026, 10))
    payable = october.account("2202.01")
    assert payable is not None
    assert payable.name == "应付材料款"
    assert payable.direction == "贷"
    assert payable.opening == Sides(D("0.00"), D("1130.00"))
    assert payable.movement == Sides(D("500.00"), D("0.00"))
    assert payable.closing == Sides(D("0.00"), D("630.00"))
    assert october.closing("2202.01") == D("-630.00")
    # a parent rolls up its children, and is what the totals add (not both)
    assert october.closing("2202") == D("-630.00")
    assert october.closing("2221") == D("130.00") - D("180.00") - D("12.60")
    assert {row.number for row in october.top_level} >= {"2202", "2221", "5401", "1122", "6001"}
    assert "2202.01" not in {row.number for row in october.top_level}
    # contract cost carried to cost of sales: 合同履约成本 ends empty
    assert october.closing("5401.02") == D("0.00")
    assert october.account("9999") is None
    assert october.closing("9999") == D("0")


def test_totals_balance_and_a_broken_report_does_not(kd: KingdeeClient) -> None:
    books(kd)
    october = read_trial_balance(kd, book="001", start=Period(2026, 10))
    totals = october.totals
    assert october.balanced
    # Kingdee's columns: a balance on the account's other side is negative on its own side
    # (进项税额 130 under 应交税费, a credit-side parent), so 1,130 − 130 = 1,000 each way
    assert totals.opening == Sides(D("1000.00"), D("1000.00"))
    assert totals.movement.debit == totals.movement.credit == D("5192.60")
    assert totals.closing.debit == totals.closing.credit
    # a report that lost a row is not balanced: the check is not a tautology
    rows = [
        {"FBALANCEID": "1122", "FBALANCENAME": "应收账款", "FDEBIT": "10.00", "FENDDEBIT": "10.00"},
        {"FBALANCEID": "6001", "FBALANCENAME": "主营业务收入", "FCREDIT": "9.99", "FENDCREDIT": "9.99"},
    ]
    broken = parse_rows(rows, "001", Period(2026, 10), Period(2026, 10))
    assert not broken.balanced
    assert broken.totals.opening.debit == broken.totals.opening.credit


def test_dimension_rows_carry_numbers_and_names(kd: KingdeeClient) -> None:
    books(kd)
    year = read_trial_balance(kd, book="001", start=Period(2026, 1), end=Period(2026, 10), dimensions=True)
    receivable = year.account("1122")
    assert receivable is not None
    (owner,) = receivable.detail("KH0001")
    assert owner.names == ("市城市建设投资集团有限公司", "城南学校")  # 客户 × 项目
    assert owner.closing == Sides(D("2180.00"), D("0.00"))
    payable = year.account("2202.01")
    assert payable is not None
    (xm_a,) = payable.detail("XM-A")
    assert xm_a.names == ("江苏恒固建材有限公司", "滨江花园一期")  # 供应商 × 项目
    assert xm_a.movement == Sides(D("500.00"), D("1130.00"))
    assert xm_a.closing.net == D("-630.00")
    assert "滨江花园一期" in xm_a.label
    # the sum of an account's dimension rows is the account's own row
    settlement = year.account("5402.01")
    assert settlement is not None
    assert sum((d.closing.net for d in settlement.details), D(0)) == settlement.closing.net
    assert year.balanced


def test_company_pnl_from_the_rule_sets_accounts(kd: KingdeeClient) -> None:
    books(kd)
    october = read_trial_balance(kd, book="001", start=Period(2026, 10))
    accounts = pnl_accounts(list(default_rule_sets().values()))
    assert "6001" in accounts.revenue
    assert "6401" in accounts.cost_of_sales
    pnl = company_pnl(october, PnlAccounts(accounts.revenue, accounts.cost_of_sales, frozenset({"6403"})))
    assert pnl.revenue == D("1500.00")
    assert pnl.cost_of_sales == D("1000.00")
    assert pnl.taxes == D("12.60")
    assert pnl.gross_margin == D("487.40")
    assert pnl.margin_pct == D("32.5")
    # September had no P&L movement at all
    september = company_pnl(read_trial_balance(kd, book="001", start=Period(2026, 9)), accounts)
    assert (september.revenue, september.cost_of_sales, september.margin_pct) == (D(0), D(0), None)


def test_a_range_across_years_is_refused(kd: KingdeeClient) -> None:
    with pytest.raises(ValueError, match="one year"):
        read_trial_balance(kd, book="001", start=Period(2025, 12), end=Period(2026, 1))
