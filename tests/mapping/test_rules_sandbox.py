"""The default rule sets fit sandbox.kingdee: one posting of every event is saved and comes back ok.

Each default rule set plans the §2.1 worked example's documents; its vouchers go through
`voucher_model`, its bills through `Bill.model()`, and BatchSave must accept every package — leaf
accounts only, every required 核算维度 present, every base-data number known to the seeded data
centre (suppliers, customers, organisations, bill types, settlement types …).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from yecai.domain.documents import (
    AccountingStandard,
    BudgetLine,
    Contract,
    ContractKind,
    CostCategory,
    CostRecord,
    Invoice,
    PaymentRequest,
    ProgressReport,
    Project,
    Receipt,
)
from yecai.kingdee.client import KingdeeClient
from yecai.kingdee.signing import Identity
from yecai.kingdee.vouchers import VoucherTarget, voucher_model
from yecai.mapping import registry
from yecai.mapping.interface import Plan, PlannableDocument, PlanningContext
from yecai.mapping.rules import (
    MappingTable,
    ProjectMapping,
    RuleSet,
    default_mapping,
    default_rule_set,
    default_rule_sets,
)
from yecai.sync.planning import books_by_project, target_of, voucher_books

D = Decimal
MARCH = dt.date(2026, 3, 20)

CONTRACTS = [
    Contract(
        contract_no="HT-SR-1",
        project_code="XM1",
        contract_kind=ContractKind.INCOME,
        name="综合楼施工总承包",
        counterparty="市城市建设投资集团有限公司",
        amount=D("10900000.00"),
        tax_rate=D("0.09"),
        retention_rate=D("0.03"),
        end_date=dt.date(2026, 6, 30),
    ),
    Contract(
        contract_no="HT-CG-1",
        project_code="XM1",
        contract_kind=ContractKind.PURCHASE,
        name="钢材采购",
        counterparty="江苏恒固建材有限公司",
        amount=D("1356000.00"),
        tax_rate=D("0.13"),
    ),
    Contract(
        contract_no="HT-FB-1",
        project_code="XM1",
        contract_kind=ContractKind.LABOUR,
        name="劳务分包",
        counterparty="上海宏达劳务分包有限公司",
        amount=D("515000.00"),
        tax_rate=D("0.03"),
    ),
    Contract(
        contract_no="HT-ZY-1",
        project_code="XM2",
        contract_kind=ContractKind.SUBCONTRACT,
        name="钢结构专业分包",
        counterparty="安徽诚建钢构工程有限公司",
        amount=D("436000.00"),
        tax_rate=D("0.09"),
    ),
]
# XM1 is 跨县市 (prepays VAT at its location); XM2 is local to the company's seat.
PROJECTS = [
    Project(code="XM1", name="综合楼", cross_region=True),
    Project(code="XM2", name="道路", cross_region=False),
]
GC = "江苏恒固建材有限公司"
LABOUR_CO = "上海宏达劳务分包有限公司"
BUDGET = [
    BudgetLine(source_key="YS-1", project_code="XM1", category=CostCategory.MATERIAL, amount=D("8000000.00"))
]


def doc(doc_id: int, model: Any) -> PlannableDocument:
    return PlannableDocument(doc_id, f"v{doc_id}", model)


def costs() -> list[PlannableDocument]:
    # (project, category, amount, supplier, contract, 费用明细): every credit the cost rule can make
    rows = [
        ("XM1", "material", "1200000.00", GC, "HT-CG-1", None),
        ("XM1", "labour", "600000.00", LABOUR_CO, "HT-FB-1", None),
        ("XM1", "machinery", "150000.00", "浙江力拓机械租赁有限公司", None, None),
        ("XM1", "other_direct", "12000.00", GC, None, "施工用电"),
        ("XM1", "other_direct", "18000.00", None, None, "临时设施摊销"),
        ("XM1", "indirect", "15000.00", None, None, "项目管理人员薪酬"),
        ("XM1", "indirect", "5000.00", None, None, "固定资产折旧"),
        ("XM2", "subcontract", "400000.00", "安徽诚建钢构工程有限公司", "HT-ZY-1", None),
        ("JJFY", "indirect", "1000.00", None, None, "固定资产折旧"),
    ]
    return [
        doc(
            i,
            CostRecord(
                source_key=f"CB-{i}",
                project_code=p,
                category=CostCategory(c),
                business_date=MARCH,
                amount=D(a),
                supplier_name=supplier,
                contract_no=contract,
                subcategory=item,
            ),
        )
        for i, (p, c, a, supplier, contract, item) in enumerate(rows, start=1)
    ]


def invoices() -> list[PlannableDocument]:
    def invoice(
        i: int, direction: str, kind: str, amount: str, tax: str, rate: str, contract: str, seller: str = GC
    ) -> PlannableDocument:
        return doc(
            i,
            Invoice(
                invoice_no=f"{i:08d}",
                direction=direction,
                invoice_type=kind,
                issue_date=MARCH,
                project_code="XM1",
                seller_name=seller,
                buyer_name="业财演示建设集团有限公司",
                amount=D(amount),
                tax_rate=D(rate),
                tax_amount=D(tax),
                total=D(amount) + D(tax),
                contract_no=contract,
            ),
        )

    return [
        invoice(11, "in", "special", "1200000.00", "156000.00", "0.13", "HT-CG-1"),
        invoice(12, "in", "ordinary", "500000.00", "15000.00", "0.03", "HT-FB-1", LABOUR_CO),
        invoice(13, "out", "special", "2134000.00", "192060.00", "0.09", "HT-SR-1"),
    ]


def report() -> PlannableDocument:
    return doc(
        21,
        ProgressReport(
            source_key="JL-1",
            project_code="XM1",
            period="2026-03",
            report_date=dt.date(2026, 3, 18),  # invoiced on 03-20
            percent_complete=D("25"),
            valuation_amount=D("2200000.00"),
            approved=True,
        ),
    )


def requests() -> list[PlannableDocument]:
    return [
        doc(
            30 + i,
            PaymentRequest(
                request_no=f"FK-{i}",
                project_code="XM1",
                contract_no="HT-CG-1",
                payee_name="江苏恒固建材有限公司",
                amount=D("1200.50"),
                purpose="材料款",
                request_date=dt.date(2026, 3, 10),
                expected_pay_date=dt.date(2026, 3, 20),
                status=status,
            ),
        )
        for i, status in enumerate(("approved", "paid"))
    ] + [
        doc(
            33,
            PaymentRequest(
                request_no="FK-LW-1",
                project_code="XM1",
                contract_no="HT-FB-1",
                payee_name=LABOUR_CO,
                amount=D("51500.00"),
                purpose="劳务费",
                request_date=dt.date(2026, 3, 10),
                paid_date=dt.date(2026, 3, 18),
                status="paid",
            ),
        )
    ]


def receipts() -> list[PlannableDocument]:
    return [
        doc(
            50 + i,
            Receipt(
                receipt_no=f"SK-{i}",
                project_code="XM1",
                contract_no="HT-SR-1",
                payer="市城市建设投资集团有限公司",
                receipt_date=dt.date(2026, 10, 15),
                amount=D(amount),
                receipt_kind=kind,
            ),
        )
        for i, (kind, amount) in enumerate(
            (("progress", "2326060.00"), ("retention", "71940.00"), ("advance", "100000.00"))
        )
    ]


def documents_for(rules: RuleSet) -> list[PlannableDocument]:
    return {
        "cost_record": costs(),
        "invoice": invoices(),
        "progress_report": [report()],
        "contract": [doc(40, CONTRACTS[0])],
        "payment_request": requests(),
        "receipt": receipts(),
    }[rules.document]


def context() -> PlanningContext:
    return PlanningContext(
        connection="sandbox",
        related={
            "contract": CONTRACTS,
            "project": PROJECTS,
            "budget_line": BUDGET,
            "progress_report": [report().model],
            "invoice": [d.model for d in invoices()],
        },
        today=dt.date(2026, 10, 1),
    )


@pytest.fixture(scope="module")
def kingdee_client(shared_kingdee: dict[str, Any]) -> Iterator[KingdeeClient]:
    creds = shared_kingdee
    identity = Identity(
        str(creds["acct_id"]),
        str(creds["user_name"]),
        str(creds["app_id"]),
        str(creds["app_secret"]),
        int(creds["lcid"]),
        str(creds["org_num"]),
    )
    with KingdeeClient(creds["server_url"], identity) as client:
        # The 项目 dimension values the postings name (the binder creates them in a real run).
        values = [
            {"FNumber": number, "FDataValue": name, "FId": {"FNumber": "XM01"}}
            for number, name in (
                ("XM1", "综合楼"),
                ("XM2", "道路"),
                ("JJFY", "间接费用池"),
                ("XM-S", "分公司道路养护"),
            )
        ]
        assert client.batch_save("BOS_ASSISTANTDATA_DETAIL", values).ok
        yield client


def save(client: KingdeeClient, rules: RuleSet, plan: Plan) -> None:
    k = rules.kingdee
    target = VoucherTarget(k.account_book, k.voucher_group, k.currency, k.rate_type)
    if plan.vouchers:
        result = client.batch_save("GL_VOUCHER", [voucher_model(v, target) for v in plan.vouchers])
        assert result.ok, [p.describe() for p in result.packages if not p.ok]
    if plan.bills:
        result = client.batch_save(plan.bills[0].form_id, [b.model() for b in plan.bills])
        assert result.ok, [p.describe() for p in result.packages if not p.ok]


@pytest.mark.parametrize("name", list(default_rule_sets()))
def test_default_rule_set_posts_into_the_sandbox(kingdee_client: KingdeeClient, name: str) -> None:
    rules = default_rule_set(name)
    rules = rules.model_copy(
        update={
            "options": {
                **rules.options,
                **({"due_dates": {"HT-SR-1": "2026-09-30"}} if name == "retention_due" else {}),
            }
        }
    )
    ctx, documents = context(), documents_for(rules)
    if name == "month_end":  # closes from the ledger the others posted (read from stored postings)
        ledger = {"2221.03": {"XM1": {"2026-03": "33230.46"}}, "2221.01.02": {"": {"2026-03": "-192060.00"}}}
        ledger |= {"5402.01": {"XM1": {"2026-03": "-2134000.00"}}, "5402.02": {"XM1": {"2026-03": "2500000"}}}
        ctx = replace(
            ctx,
            history={**ctx.history, "month_end_ledger": ledger},
            related={**ctx.related, "invoice": [i.model for i in invoices()]},
        )
    if name == "accrual":  # a supplier's cost without an invoice (the machinery hire)
        documents = [d for d in costs() if d.model.category is CostCategory.MACHINERY]
    plan = registry.plan(documents, rules, default_mapping(), ctx)
    assert plan.unmapped == []
    assert plan.postings, f"{name} planned nothing: held {plan.held}"
    save(kingdee_client, rules, plan)


def test_invoice_full_mode_posts_into_the_sandbox(kingdee_client: KingdeeClient) -> None:
    rules = default_rule_set("purchase_invoice")
    rules = rules.model_copy(
        update={"options": {**rules.options, "mode": "full", "certification": "pending"}}
    )
    plan = registry.plan(invoices(), rules, default_mapping(), context())
    assert len(plan.vouchers) == 2
    save(kingdee_client, rules, plan)


def test_a_bill_number_is_refused_the_second_time(kingdee_client: KingdeeClient) -> None:
    rules = default_rule_set("payment_request")
    ctx = PlanningContext(connection="sandbox-twice", related={"contract": CONTRACTS})
    plan = registry.plan(requests()[:1], rules, default_mapping(), ctx)
    assert kingdee_client.batch_save("CN_PAYAPPLY", [plan.bills[0].model()]).ok
    again = kingdee_client.batch_save("CN_PAYAPPLY", [plan.bills[0].model()])
    assert not again.ok  # the deterministic FBillNo is Kingdee's own exactly-once guard


def test_cost_credits_by_nature_and_payables_with_suppliers_post(kingdee_client: KingdeeClient) -> None:
    rules = default_rule_set("cost_actuals").model_copy(update={"aggregation": "project_category_month"})
    plan = registry.plan(costs(), rules, default_mapping(), context())
    assert plan.unmapped == []
    credits = {
        (x.account, tuple(k for k, _ in x.dimensions)) for v in plan.vouchers for x in v.lines if x.credit
    }
    assert credits == {
        ("2202.01", ("FF100001", "FFLEX4")),
        ("2202.02", ("FF100001", "FFLEX4")),
        ("2202.03", ("FF100001", "FFLEX4")),
        ("2202.04", ("FF100001", "FFLEX4")),
        ("2202.05", ("FF100001", "FFLEX4")),
        ("1801.01", ("FF100001",)),
        ("2211.01", ()),
        ("1602", ()),
    }
    assert {v.date for v in plan.vouchers} == {dt.date(2026, 3, 31)}
    save(kingdee_client, rules, plan)


# -- a 小企业会计准则 project: its own organisation, book and chart ------------------------------------

SMALL = "XM-S"


def small_mapping() -> MappingTable:
    """The default table with one project of the 分公司 (org 200 → book 002, 小企业会计准则)."""
    mapping = default_mapping()
    row = {SMALL: ProjectMapping(org="200", accounting_standard=AccountingStandard.SMALL)}
    return mapping.model_copy(update={"projects": {**mapping.projects, **row}})


def small(document: PlannableDocument, **changes: Any) -> PlannableDocument:
    return replace(document, model=document.model.model_copy(update={"project_code": SMALL, **changes}))


def small_context() -> PlanningContext:
    income = CONTRACTS[0].model_copy(update={"contract_no": "HT-SR-S", "project_code": SMALL})
    base = context()
    return replace(
        base,
        related={
            **base.related,
            "contract": [*CONTRACTS, income],
            "project": [*PROJECTS, Project(code=SMALL, name="分公司道路养护")],
            "budget_line": [b.model_copy(update={"project_code": SMALL}) for b in BUDGET],
            "invoice": [small(d, contract_no="HT-SR-S").model for d in invoices()[2:]],
        },
    )


def small_documents(rules: RuleSet) -> list[PlannableDocument]:
    return {
        "cost_record": [small(d) for d in costs()[:5]],
        "invoice": [small(d) for d in invoices()[:2]] + [small(invoices()[2], contract_no="HT-SR-S")],
        "progress_report": [small(report())],
    }[rules.document]


def books_of(rules: RuleSet, plan: Plan, mapping: MappingTable) -> list[str]:
    books = books_by_project(mapping, rules, {SMALL, "XM1", "XM2"})
    found = [voucher_books(v, rules, books) for v in plan.vouchers]
    assert all(len(f) == 1 for f in found), found
    return [f.pop() for f in found]


@pytest.mark.parametrize("name", ["cost_actuals", "purchase_invoice", "valuation", "revenue"])
def test_a_small_enterprise_project_posts_into_its_own_book(kingdee_client: KingdeeClient, name: str) -> None:
    rules, mapping = default_rule_set(name), small_mapping()
    plan = registry.plan(small_documents(rules), rules, mapping, small_context())
    assert plan.unmapped == []
    assert plan.vouchers, f"{name} planned nothing: held {plan.held}"
    assert set(books_of(rules, plan, mapping)) == {"002"}
    models = [voucher_model(v, target_of(rules, "002")) for v in plan.vouchers]
    result = kingdee_client.batch_save("GL_VOUCHER", models)
    assert result.ok, [p.describe() for p in result.packages if not p.ok]
    # the group's book keeps the CAS chart: there a voucher on 工程施工 / 工程结算 / 主营业务收入 /
    # 主营业务成本 is refused (5401 means 合同履约成本 there, 4401 / 4402 / 5001 do not exist)
    own_chart = [v for v in plan.vouchers if any(line.account[:1] in "45" for line in v.lines)]
    assert own_chart or name == "purchase_invoice"  # invoices use tax and payable numbers both charts hold
    cas = [voucher_model(v, target_of(rules, "001")) for v in own_chart]
    if cas:
        assert not any(p.ok for p in kingdee_client.batch_save("GL_VOUCHER", cas).packages)


def test_a_month_end_closes_each_book_apart(kingdee_client: KingdeeClient) -> None:
    rules, mapping = default_rule_set("month_end"), small_mapping()
    ctx = small_context()
    by_book = {
        "001": {"2221.01.02": {"": {"2026-03": "-192060.00"}}},
        "002": {"2221.01.02": {"": {"2026-03": "-1000.00"}}, "2221.01.01": {"": {"2026-03": "400.00"}}},
    }
    ctx = replace(
        ctx,
        history={"month_end_ledger_by_book": by_book},
        related={**ctx.related, "invoice": [d.model for d in invoices()[2:]] + ctx.related["invoice"]},
    )
    reports = [report(), small(report())]
    plan = registry.plan(reports, rules, mapping, ctx)
    assert plan.unmapped == []
    company = {v.group_key: v for v in plan.vouchers if v.group_key.startswith("*")}
    assert set(company) == {"*|2026-03", "*|002|2026-03"}
    small_close = company["*|002|2026-03"]
    assert small_close.book == "002"
    lines = {(line.account, line.debit, line.credit) for line in small_close.lines}
    assert ("2221.01.03", D("600.00"), D("0.00")) in lines  # 销项 1000 − 进项 400 of book 002 only
    assert {line.account for line in small_close.lines} >= {"5403", "2221.08"}  # 税金及附加 on its chart
    for book, vouchers in (("001", [company["*|2026-03"]]), ("002", [small_close])):
        models = [voucher_model(v, target_of(rules, book)) for v in vouchers]
        result = kingdee_client.batch_save("GL_VOUCHER", models)
        assert result.ok, [p.describe() for p in result.packages if not p.ok]
