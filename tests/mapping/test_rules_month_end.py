"""MONTH_END: the §2.1 worked example's period closed from its ledger, figures checked by hand.

March 2026, project XM1 (general method, 跨县市, 城建税 5 % at its location): prepaid VAT 33,230.46;
output VAT 192,060.00 less input 156,000.00 → 转出未交增值税 36,060.00; the 附加税 on 33,230.46 at the
location (5 % / 3 % / 2 %) and on the 2,829.54 left at the seat (7 % / 3 % / 2 %). 合同结算: 收入结转
2,500,000 less 价款结算 2,134,000 → 合同资产 366,000.00, reversed on 1 April.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.support.spreadsheets import GOOD, write_csv
from yecai.domain.documents import (
    AccountingStandard,
    BudgetLine,
    Contract,
    ContractKind,
    CostCategory,
    CostRecord,
    Invoice,
    ProgressReport,
)
from yecai.domain.vouchers import Voucher
from yecai.files import import_file
from yecai.mapping import registry
from yecai.mapping.events.month_end import (
    CLOSED_KEY,
    LEDGER_KEY,
    OWN_KEY,
    MonthEndOptions,
    loss_provision_target,
    surcharges,
)
from yecai.mapping.interface import Plan, PlannableDocument, PlanningContext
from yecai.mapping.rules import MappingTable, ProjectMapping, RuleSet, default_mapping, default_rule_set
from yecai.store.db import Store
from yecai.sync import planning

D = Decimal
P = "FF100001"
MARCH = "2026-03"

INCOME = Contract(
    contract_no="HT-SR-1",
    project_code="XM1",
    contract_kind=ContractKind.INCOME,
    name="综合楼施工总承包",
    counterparty="市城市建设投资集团有限公司",
    amount=D("10900000.00"),
    tax_rate=D("0.09"),
)
BUDGET = [
    BudgetLine(source_key="YS-1", project_code="XM1", category=CostCategory.MATERIAL, amount=D("8000000"))
]
ISSUED = Invoice(
    invoice_no="00000013",
    direction="out",
    invoice_type="special",
    issue_date=dt.date(2026, 3, 31),
    project_code="XM1",
    seller_name="业财演示建设集团有限公司",
    buyer_name="市城市建设投资集团有限公司",
    amount=D("2134000.00"),
    tax_rate=D("0.09"),
    tax_amount=D("192060.00"),
    total=D("2326060.00"),
    contract_no="HT-SR-1",
)


def report(doc_id: int, project: str = "XM1", period: str = MARCH) -> PlannableDocument:
    model = ProgressReport(
        source_key=f"JL-{project}-{period}",
        project_code=project,
        period=period,
        report_date=dt.date(int(period[:4]), int(period[5:]), 25),
        percent_complete=D("25"),
    )
    return PlannableDocument(doc_id, f"v{doc_id}", model)


def costs(amount: str = "2000000.00", project: str = "XM1") -> list[CostRecord]:
    return [
        CostRecord(
            source_key=f"CB-{project}",
            project_code=project,
            category=CostCategory.MATERIAL,
            business_date=dt.date(2026, 3, 10),
            amount=D(amount),
        )
    ]


def ledger() -> dict[str, dict[str, dict[str, Decimal]]]:
    """What the other rule sets posted in March (net debit by account × 项目 × period)."""
    return {
        "2221.03": {"XM1": {MARCH: D("33230.46")}},
        "2221.01.02": {"": {MARCH: D("-192060.00")}},
        "2221.01.01": {"": {MARCH: D("156000.00")}},
        "5402.01": {"XM1": {MARCH: D("-2134000.00")}},
        "5402.02": {"XM1": {MARCH: D("2500000.00")}},
        "1002.01": {"": {MARCH: D("-363170.46")}},  # every other side, in one line: the ledger balances
    }


def mapping(**row: Any) -> MappingTable:
    rows = {"XM1": ProjectMapping(cross_region=True, urban_tax_rate=D("0.05"), **row)}
    return default_mapping().model_copy(update={"projects": rows})


def context(
    *,
    today: dt.date = dt.date(2026, 4, 2),
    others: Any = None,
    own: Any = None,
    closed: tuple[str, ...] = (),
    related: dict[str, list[Any]] | None = None,
) -> PlanningContext:
    return PlanningContext(
        connection="kd",
        related=related
        if related is not None
        else {"contract": [INCOME], "budget_line": BUDGET, "invoice": [ISSUED], "cost_record": costs()},
        history={LEDGER_KEY: ledger() if others is None else others, OWN_KEY: own or {}, CLOSED_KEY: closed},
        today=today,
    )


def plan(
    docs: list[PlannableDocument], ctx: PlanningContext, table: MappingTable | None = None, **options: Any
) -> Plan:
    rules: RuleSet = default_rule_set("month_end")
    rules = rules.model_copy(update={"options": {**rules.options, **options}})
    return registry.plan(docs, rules, table or mapping(), ctx)


def lines(voucher: Voucher) -> list[tuple[str, Decimal, Decimal, tuple[tuple[str, str], ...]]]:
    return sorted((x.account, x.debit, x.credit, x.dimensions) for x in voucher.lines)


def by_group(result: Plan) -> dict[str, Voucher]:
    return {v.group_key: v for v in result.vouchers}


def apply(books: dict[str, dict[str, dict[str, Decimal]]], vouchers: list[Voucher]) -> None:
    """Post vouchers into a ledger of the same shape (what planning would read back)."""
    for voucher in vouchers:
        for line in voucher.lines:
            project = dict(line.dimensions).get(P, "")
            period = f"{voucher.date:%Y-%m}"
            books.setdefault(line.account, {}).setdefault(project, {})
            cell = books[line.account][project]
            cell[period] = cell.get(period, D(0)) + line.debit - line.credit


def test_surcharges_and_loss_target_by_hand() -> None:
    options = MonthEndOptions()
    due = surcharges(D("33230.46"), D("0.05"), options)
    assert (due.urban, due.education, due.local_education) == (D("1661.52"), D("996.91"), D("664.61"))
    # price 10,000,000, estimate 11,000,000, cost so far 2,000,000 → progress 2/11, 9/11 of the loss left
    assert loss_provision_target(D("10000000"), D("11000000"), D("2000000")) == D("818181.82")
    assert loss_provision_target(D("10000000"), D("8000000"), D("2000000")) == D("0")


def test_company_voucher_moves_prepaid_and_unpaid_vat_and_accrues_surcharges() -> None:
    result = plan([report(1)], context())
    assert result.unmapped == []
    assert result.held == []
    company = by_group(result)["*|2026-03"]
    assert company.date == dt.date(2026, 3, 31)
    xm1 = ((P, "XM1"),)
    assert lines(company) == sorted(
        [
            ("2221.02", D("33230.46"), D("0"), ()),  # 预交 → 未交 (entry 12b)
            ("2221.03", D("0"), D("33230.46"), xm1),
            ("2221.01.03", D("36060.00"), D("0"), ()),  # 192,060 − 156,000
            ("2221.02", D("0"), D("36060.00"), ()),
            # location 33,230.46 × 5/3/2 % + seat 2,829.54 × 7/3/2 %
            ("6403", D("3662.59"), D("0"), xm1),
            ("2221.08", D("0"), D("1859.59"), ()),  # 1,661.52 + 198.07
            ("2221.09", D("0"), D("1081.80"), ()),  # 996.91 + 84.89
            ("2221.10", D("0"), D("721.20"), ()),  # 664.61 + 56.59
        ]
    )


def test_project_voucher_presents_contract_asset_and_reverses_it_next_day() -> None:
    result = plan([report(1)], context())
    vouchers = by_group(result)
    xm1 = ((P, "XM1"),)
    owner = ((P, "XM1"), ("FFLEX6", "KH0001"))  # 合同结算 lines carry the customer too
    assert lines(vouchers["XM1|2026-03"]) == [
        ("1481", D("366000.00"), D("0"), xm1),
        ("5402.01", D("0"), D("366000.00"), owner),
    ]
    back = vouchers["XM1|2026-03|reverse"]
    assert back.date == dt.date(2026, 4, 1)
    assert lines(back) == [
        ("1481", D("-366000.00"), D("0"), xm1),
        ("5402.01", D("0"), D("-366000.00"), owner),
    ]
    assert "冲回" in back.summary


def test_a_credit_net_of_contract_settlement_is_a_contract_liability() -> None:
    others = ledger()
    others["5402.02"] = {"XM1": {MARCH: D("2000000.00")}}
    result = plan([report(1)], context(others=others))
    xm1 = ((P, "XM1"),)
    owner = ((P, "XM1"), ("FFLEX6", "KH0001"))
    assert lines(by_group(result)["XM1|2026-03"]) == [
        ("2204", D("0"), D("134000.00"), xm1),
        ("5402.01", D("134000.00"), D("0"), owner),
    ]


def test_the_closed_books_net_to_zero_on_the_transferred_accounts() -> None:
    """Posted back into the ledger, the month leaves 应交增值税 and 预交增值税 empty, and 合同结算
    presented in full; a second run for the same month finds nothing left to move."""
    books = ledger()
    assert sum((v for p in books.values() for c in p.values() for v in c.values()), D(0)) == 0
    first = plan([report(1)], context())
    apply(books, [v for v in first.vouchers if not v.group_key.endswith("reverse")])
    total = defaultdict(lambda: D(0))
    for account, projects in books.items():
        for periods in projects.values():
            total[account] += sum(periods.values(), D(0))
    assert total["2221.03"] == 0
    assert total["2221.01.01"] + total["2221.01.02"] + total["2221.01.03"] == 0
    assert total["5402.01"] + total["5402.02"] == 0
    assert sum(total.values(), D(0)) == 0  # the trial balance still balances
    # A late progress report of the same month: transfers aim at a target, the presentation is not repeated.
    own = {k: v for k, v in books.items() if k not in ledger() or k in ("2221.03", "2221.01.03")}
    own["2221.03"] = {"XM1": {MARCH: D("-33230.46")}}
    again = plan([report(2, "XM9")], context(own=own, closed=("*|2026-03", "XM1|2026-03")))
    assert "*|2026-03" in again.zero_groups
    assert "XM1|2026-03" not in by_group(again)


def test_excess_input_vat_stays_as_carried_credit() -> None:
    others = ledger()
    others["2221.01.01"] = {"": {MARCH: D("200000.00")}}
    company = by_group(plan([report(1)], context(others=others)))["*|2026-03"]
    accounts = {x.account for x in company.lines}
    assert "2221.01.03" not in accounts  # 留抵: nothing transferred out
    assert "留抵 7940.00" in company.summary
    # only the prepaid part bears surcharges (at the project's location)
    assert next(x.debit for x in company.lines if x.account == "6403") == D("3323.04")


def test_simple_method_prepayment_is_not_moved_to_unpaid_vat() -> None:
    result = plan([report(1)], context(), table=mapping(vat_method="simple"))
    company = by_group(result)["*|2026-03"]
    assert "2221.03" not in {x.account for x in company.lines}


def test_loss_making_contract_is_provided_for_and_adjusted() -> None:
    budget = [
        BudgetLine(
            source_key="YS-1", project_code="XM1", category=CostCategory.MATERIAL, amount=D("11000000")
        )
    ]
    related = {"contract": [INCOME], "budget_line": budget, "invoice": [ISSUED], "cost_record": costs()}
    result = plan([report(1)], context(related=related))
    xm1 = ((P, "XM1"),)
    project = lines(by_group(result)["XM1|2026-03"])
    assert ("6401", D("818181.82"), D("0"), xm1) in project
    assert ("2801", D("0"), D("818181.82"), xm1) in project
    # Next month: cost 4,000,000 in all → progress 4/11 → 636,363.64 left; 181,818.18 released.
    own = {"2801": {"XM1": {MARCH: D("-818181.82")}}}
    april = "2026-04"
    more = [
        *costs(),
        *[c.model_copy(update={"source_key": "CB-2", "business_date": dt.date(2026, 4, 9)}) for c in costs()],
    ]
    related = {**related, "cost_record": more}
    result = plan([report(2, period=april)], context(today=dt.date(2026, 5, 1), own=own, related=related))
    project = lines(by_group(result)["XM1|2026-04"])
    assert ("2801", D("181818.18"), D("0"), xm1) in project
    assert ("6401", D("0"), D("181818.18"), xm1) in project


def test_the_provision_counts_the_cost_revenue_carried() -> None:
    """Progress of the provision is revenue's: the cost carried to 主营业务成本 — cost records plus
    what other rules put into 合同履约成本 (a simple-method project's input VAT, allocated indirect
    cost) — not the cost records alone. 2,000,000 records + 200,000 non-deductible VAT carried:
    progress 2.2/11 = 20 %, so (11,000,000 − 10,000,000) × 80 % = 800,000.00."""
    budget = [
        BudgetLine(
            source_key="YS-1", project_code="XM1", category=CostCategory.MATERIAL, amount=D("11000000")
        )
    ]
    related = {"contract": [INCOME], "budget_line": budget, "invoice": [ISSUED], "cost_record": costs()}
    others = {**ledger(), "6401": {"XM1": {MARCH: D("2200000.00")}}}
    result = plan([report(1)], context(related=related, others=others))
    xm1 = ((P, "XM1"),)
    project = lines(by_group(result)["XM1|2026-03"])
    assert ("2801", D("0"), D("800000.00"), xm1) in project


def test_an_open_period_is_held_and_a_small_enterprise_project_keeps_its_settlement() -> None:
    held = plan([report(1)], context(today=dt.date(2026, 3, 31)))
    assert held.postings == []
    assert "尚未结束" in held.held[0].zh
    small = plan([report(1)], context(), table=mapping(accounting_standard=AccountingStandard.SMALL))
    assert "XM1|2026-03" not in by_group(small)  # no 合同资产 / 合同负债 under 小企业会计准则
    assert small.unmapped == []


def test_planning_reads_the_ledger_from_the_stored_postings(store: Store, tmp_path: Path) -> None:
    """`sync.planning` hands month-end the stored postings as account × 项目 × period movements."""
    header = GOOD["cost"][0]
    rows = [
        [
            1,
            "R-1",
            "XM9",
            "人工费",
            "2026-10-12",
            "钢筋班组",
            None,
            None,
            None,
            100000,
            "3%",
            "上海宏达劳务分包有限公司",
        ]
    ]
    imported = import_file(
        store, write_csv(tmp_path / "c.csv", [header, *rows]), kind="cost", connection="pm"
    )
    assert imported.counts.imported == 1
    planned = planning.plan_postings(
        store,
        rules=default_rule_set("cost_actuals"),
        mapping=default_mapping(),
        source_connection="pm",
        kingdee_connection="kd",
    )
    assert planned.planned == 1
    with store.transaction() as session:
        history = planning._month_end_history(session, default_rule_set("month_end"), "kd")
        assert planning._month_end_history(session, default_rule_set("revenue"), "kd") == {}
    assert history[LEDGER_KEY] == {
        "5401.01": {"XM9": {"2026-10": D("100000.00")}},
        "2202.02": {"XM9": {"2026-10": D("-100000.00")}},
    }
    assert history[OWN_KEY] == {}
    assert history[CLOSED_KEY] == set()
