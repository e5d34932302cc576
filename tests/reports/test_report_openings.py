"""A contract running at go-live: the report's figures to date start from its opening balance.

Kingdee holds only what was posted since go-live per 项目 × category (the go-live balances are its
科目初始余额, not split that way), so cost and revenue to date — and with them the margin and the
budget variance — must add the contract's `OpeningBalance`, or a project 80 % done shows a budget
variance of −97 % and a margin made of one month.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from yecai.domain.documents import (
    BudgetLine,
    Contract,
    ContractKind,
    CostCategory,
    OpeningBalance,
    ProgressReport,
    Project,
)
from yecai.reports.accounts import ReportAccounts
from yecai.reports.documents import ProjectDocuments
from yecai.reports.figures import Figures, project_figures
from yecai.reports.ledger import Ledger
from yecai.reports.periods import Period
from yecai.reports.pnl import project_pnl

D = Decimal
OCTOBER = Period(2026, 10)


def documents() -> ProjectDocuments:
    docs = ProjectDocuments()
    docs.projects["XM1"] = Project(code="XM1", name="老城改造")
    docs.budgets["XM1"].append(
        BudgetLine(
            source_key="YS-1", project_code="XM1", category=CostCategory.MATERIAL, amount=D("1000000.00")
        )
    )
    docs.progress["XM1"].append(
        ProgressReport(
            source_key="JD-1",
            project_code="XM1",
            period="2026-10",
            report_date=dt.date(2026, 10, 25),
            percent_complete=D("50"),
        )
    )
    income = Contract(
        contract_no="XM1-ZB",
        project_code="XM1",
        contract_kind=ContractKind.INCOME,
        name="施工合同",
        counterparty="业主",
        amount=D("1308000.00"),
    )
    supplier = income.model_copy(update={"contract_no": "XM1-CL", "contract_kind": ContractKind.PURCHASE})
    docs.contracts["XM1"].extend([income, supplier])
    as_of = dt.date(2026, 10, 1)
    docs.openings["XM1"].extend(
        [
            OpeningBalance(
                source_key="QC-1",
                project_code="XM1",
                contract_no="XM1-ZB",
                as_of=as_of,
                cost_to_date=D("400000.00"),
                revenue_to_date=D("480000.00"),
            ),
            # a supplier contract's cost is inside the income contract's: never added twice
            OpeningBalance(
                source_key="QC-2",
                project_code="XM1",
                contract_no="XM1-CL",
                as_of=as_of,
                cost_to_date=D("150000.00"),
            ),
        ]
    )
    return docs


def test_cost_and_revenue_to_date_start_from_the_opening_balance() -> None:
    ledger = Ledger()
    ledger.add("XM1", "5401.02", OCTOBER, D("100000.00"), D("0"))
    ledger.add("XM1", "6001", OCTOBER, D("0"), D("120000.00"))
    accounts = ReportAccounts(
        book="001",
        project_dimension="FF100001",
        cost={"5401.02": CostCategory.MATERIAL},
        revenue=frozenset({"6001"}),
    )
    figures = project_figures(
        "XM1", number="XM1", docs=documents(), ledger=ledger, accounts=accounts, period=OCTOBER
    )
    assert figures.cost_period == D("100000.00")
    assert figures.cost_to_date == D("500000.00")
    assert figures.revenue_to_date == D("600000.00")
    assert figures.margin_to_date == D("100000.00")
    assert figures.budget_to_date == D("500000.00")
    assert figures.variance_pct == D("0.0")
    # the P&L table shows the go-live cost as its own row, so its rows add up to the cost to date
    table = project_pnl(Figures("2026-10", "job", "kd", "pm"), figures)
    assert sum((row.cost_to_date for row in table.rows), D(0)) == figures.cost_to_date
    assert table.rows[-1].category == "opening"
