"""Properties of every planner over random documents (hypothesis).

For any documents: every voucher balances to the cent and every line carries its posting key;
planning the same documents in any order gives the same postings with the same keys; tax splits
add back to the gross; indirect-cost allocations add back to the pool exactly, each part within a
cent of its exact share.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yecai.domain.bills import Bill
from yecai.domain.documents import (
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
from yecai.domain.money import money_sum, round_money, split_tax
from yecai.mapping import registry
from yecai.mapping.events.allocation import largest_remainder
from yecai.mapping.events.valuation import split_valuation
from yecai.mapping.interface import Plan, PlannableDocument, PlanningContext, key_token
from yecai.mapping.rules import RuleSet, default_mapping, default_rule_set

pytestmark = pytest.mark.slow

D = Decimal
PROJECTS = ("XM1", "XM2", "XM3")
OWNER = "市城市建设投资集团有限公司"
SUPPLIERS = ("江苏恒固建材有限公司", "上海宏达劳务分包有限公司", "浙江力拓机械租赁有限公司")

cents = st.integers(min_value=1, max_value=10**10).map(lambda c: D(c) / 100)
signed_cents = st.integers(min_value=-(10**9), max_value=10**10).filter(bool).map(lambda c: D(c) / 100)
days = st.dates(min_value=dt.date(2026, 1, 1), max_value=dt.date(2026, 6, 30))
rates = st.sampled_from([D("0.13"), D("0.09"), D("0.06"), D("0.03"), D("0")])


def contracts() -> list[Contract]:
    out = [
        Contract(
            contract_no=f"HT-SR-{p}",
            project_code=p,
            contract_kind=ContractKind.INCOME,
            name="施工总承包",
            counterparty=OWNER,
            amount=D("10900000.00"),
            tax_rate=D("0.09"),
            retention_rate=D("0.03"),
            end_date=dt.date(2026, 1, 31),
        )
        for p in PROJECTS
    ]
    for p in PROJECTS:
        for kind, supplier in zip(
            (ContractKind.PURCHASE, ContractKind.SUBCONTRACT, ContractKind.LEASE), SUPPLIERS, strict=True
        ):
            out.append(
                Contract(
                    contract_no=f"HT-{kind.value}-{p}",
                    project_code=p,
                    contract_kind=kind,
                    name="合同",
                    counterparty=supplier,
                    amount=D("1000000.00"),
                )
            )
    return out


CONTRACTS = contracts()
COST_ITEMS = ["项目管理人员薪酬", "固定资产折旧", "临时设施摊销", "施工用电", "检验试验费"]
CONTRACT_NOS = [c.contract_no for c in CONTRACTS if c.contract_kind is not ContractKind.INCOME]
BUDGET = [
    BudgetLine(source_key=f"YS-{p}", project_code=p, category=CostCategory.MATERIAL, amount=D("8000000.00"))
    for p in PROJECTS
]


@st.composite
def costs(draw: st.DrawFn, projects: tuple[str, ...] = (*PROJECTS, "JJFY")) -> list[PlannableDocument]:
    n = draw(st.integers(min_value=1, max_value=12))
    out = []
    for i in range(n):
        record = CostRecord(
            source_key=f"CB-{i}",
            project_code=draw(st.sampled_from(projects)),
            category=draw(st.sampled_from(list(CostCategory))),
            business_date=draw(days),
            amount=draw(signed_cents),
            supplier_name=draw(st.sampled_from(SUPPLIERS)),
            # other/indirect costs are credited by their 费用明细 (the default mapping's cost_items)
            subcategory=draw(st.sampled_from(COST_ITEMS)),
        )
        out.append(PlannableDocument(i + 1, f"v{i}", record))
    return out


@st.composite
def invoices(draw: st.DrawFn) -> list[PlannableDocument]:
    n = draw(st.integers(min_value=1, max_value=10))
    out = []
    for i in range(n):
        amount, rate = draw(cents), draw(rates)
        tax = round_money(amount * rate)
        direction = draw(st.sampled_from(["in", "out"]))
        model = Invoice(
            invoice_no=f"{i + 1:08d}",
            direction=direction,
            invoice_type=draw(st.sampled_from(["special", "ordinary"])),
            issue_date=draw(days),
            project_code=draw(st.sampled_from(PROJECTS)) if direction == "out" else None,
            seller_name=draw(st.sampled_from(SUPPLIERS)),
            buyer_name="业财演示建设集团有限公司",
            amount=amount,
            tax_rate=rate,
            tax_amount=tax,
            total=amount + tax,
            contract_no=draw(st.sampled_from(CONTRACT_NOS)),
        )
        out.append(PlannableDocument(i + 1, f"v{i}", model))
    return out


@st.composite
def reports(draw: st.DrawFn) -> list[PlannableDocument]:
    n = draw(st.integers(min_value=1, max_value=8))
    out = []
    for i in range(n):
        day = draw(days)
        model = ProgressReport(
            source_key=f"JL-{i}",
            project_code=draw(st.sampled_from(PROJECTS)),
            period=f"{day:%Y-%m}",
            report_date=day,
            percent_complete=D("50"),
            valuation_amount=draw(cents),
            approved=draw(st.booleans()),
        )
        out.append(PlannableDocument(i + 1, f"v{i}", model))
    return out


@st.composite
def requests(draw: st.DrawFn) -> list[PlannableDocument]:
    n = draw(st.integers(min_value=1, max_value=8))
    out = []
    for i in range(n):
        day = draw(days)
        model = PaymentRequest(
            request_no=f"FK-{i}",
            project_code=draw(st.sampled_from(PROJECTS)),
            contract_no=draw(st.sampled_from(CONTRACT_NOS)),
            payee_name=draw(st.sampled_from(SUPPLIERS)),
            amount=draw(cents),
            request_date=day,
            status=draw(st.sampled_from(["submitted", "approved", "paid"])),
        )
        out.append(PlannableDocument(i + 1, f"v{i}", model))
    return out


def context() -> PlanningContext:
    # XM1 and XM2 are 跨县市 (they prepay VAT at their location), XM3 is local to the seat
    projects = [Project(code=p, name=p, cross_region=p != "XM3") for p in PROJECTS]
    related = {"contract": CONTRACTS, "budget_line": BUDGET, "project": projects}
    return PlanningContext(connection="kd", related=related, today=dt.date(2027, 12, 31))


def signature(plan: Plan) -> list[tuple]:
    out = []
    for posting in plan.postings:
        if isinstance(posting, Bill):
            out.append((posting.posting_key, posting.bill_no, posting.amount))
        else:
            out.append(
                (
                    posting.posting_key,
                    tuple((x.account, x.debit, x.credit, x.dimensions) for x in posting.lines),
                )
            )
    return sorted(out)


def check(plan: Plan) -> None:
    for voucher in plan.vouchers:
        assert voucher.debit_total == voucher.credit_total
        assert all(
            x.debit == round_money(x.debit) and x.credit == round_money(x.credit) for x in voucher.lines
        )
        token = key_token(voucher.posting_key)
        assert all(token in x.explanation for x in voucher.lines)


def plans_alike(docs: list[PlannableDocument], order: list[int], rules: RuleSet) -> Plan:
    """Plan in the given order and in reverse-permuted order; both must agree exactly."""
    ctx = context()
    first = registry.plan(docs, rules, default_mapping(), ctx)
    second = registry.plan([docs[i] for i in order], rules, default_mapping(), ctx)
    check(first)
    assert signature(first) == signature(second)
    assert [(u.kind, u.value, u.document_ids) for u in first.unmapped] == [
        (u.kind, u.value, u.document_ids) for u in second.unmapped
    ]
    return first


PROPERTY = settings(max_examples=40, deadline=None)


@PROPERTY
@given(st.data())
def test_cost_vouchers_balance_and_carry_every_amount(data: st.DataObject) -> None:
    docs = data.draw(costs())
    order = data.draw(st.permutations(range(len(docs))))
    plan = plans_alike(docs, order, default_rule_set())
    posted = money_sum(x.debit for v in plan.vouchers for x in v.lines)
    assert posted == money_sum(d.model.amount for d in docs)


@PROPERTY
@given(st.data())
def test_allocation_vouchers_balance_and_empty_the_pool(data: st.DataObject) -> None:
    docs = data.draw(costs())
    order = data.draw(st.permutations(range(len(docs))))
    plan = plans_alike(docs, order, default_rule_set("indirect_allocation"))
    for voucher in plan.vouchers:
        (pool,) = [x for x in voucher.lines if x.dimensions == (("FF100001", "JJFY"),)]
        period = voucher.group_key.rsplit("|", 1)[1]
        pooled = money_sum(
            d.model.amount
            for d in docs
            if d.model.project_code == "JJFY"
            and d.model.category is CostCategory.INDIRECT
            and f"{d.model.business_date:%Y-%m}" == period
        )
        assert pool.credit == pooled  # the whole pool of the period, spread to the cent


@PROPERTY
@given(total=signed_cents, weights=st.dictionaries(st.sampled_from("abcdefgh"), cents, min_size=1))
def test_allocation_parts_add_back_to_the_pool(total: Decimal, weights: dict[str, Decimal]) -> None:
    parts = largest_remainder(total, weights)
    assert money_sum(parts.values()) == total
    base = money_sum(weights.values())
    for key, part in parts.items():
        assert abs(part - total * weights[key] / base) < D("0.01")


@PROPERTY
@given(st.data())
def test_invoice_vouchers_balance_in_both_modes(data: st.DataObject) -> None:
    docs = data.draw(invoices())
    order = data.draw(st.permutations(range(len(docs))))
    rules = default_rule_set("purchase_invoice")
    mode = data.draw(st.sampled_from(["vat_only", "full"]))
    rules = rules.model_copy(update={"options": {**rules.options, "mode": mode}})
    plan = plans_alike(docs, order, rules)
    if mode == "full":
        # the payable is the invoices' 价税合计: net + tax add back to the gross
        received = {d.document_id: d.model for d in docs if d.model.direction.value == "in"}
        assert money_sum(v.credit_total for v in plan.vouchers) == money_sum(
            m.total for m in received.values()
        )


@PROPERTY
@given(st.data())
def test_valuation_vouchers_balance(data: st.DataObject) -> None:
    docs = data.draw(reports())
    order = data.draw(st.permutations(range(len(docs))))
    rules = default_rule_set("valuation")
    # no sales invoices here: post at the rate (entry 10b) instead of waiting for them
    rules = rules.model_copy(update={"options": {**rules.options, "uninvoiced": "deferred"}})
    plan = plans_alike(docs, order, rules)
    approved = [d for d in docs if d.model.approved]
    assert len(plan.vouchers) == len(approved)
    assert len(plan.held) == len(docs) - len(approved)


@PROPERTY
@given(valuation=cents, retention=st.sampled_from([D("0"), D("0.03"), D("0.05")]), rate=rates)
def test_tax_splits_add_back(valuation: Decimal, retention: Decimal, rate: Decimal) -> None:
    split = split_valuation(valuation, retention, rate)
    assert split.billed + split.retention == valuation
    assert split.receivable == split.billed + split.vat
    net, tax = split_tax(valuation, rate)
    assert net + tax == valuation


@PROPERTY
@given(st.data())
def test_revenue_vouchers_balance(data: st.DataObject) -> None:
    docs = data.draw(costs(PROJECTS))
    order = data.draw(st.permutations(range(len(docs))))
    plans_alike(docs, order, default_rule_set("revenue"))


@PROPERTY
@given(st.data())
def test_prepaid_vat_vouchers_balance(data: st.DataObject) -> None:
    docs = data.draw(invoices())
    order = data.draw(st.permutations(range(len(docs))))
    plan = plans_alike(docs, order, default_rule_set("prepaid_vat"))
    for voucher in plan.vouchers:
        assert voucher.debit_total > 0


@PROPERTY
@given(st.data())
def test_retention_vouchers_balance(data: st.DataObject) -> None:
    income = [
        PlannableDocument(i + 1, "c", c)
        for i, c in enumerate(CONTRACTS)
        if c.contract_kind is ContractKind.INCOME
    ]
    valuations = data.draw(reports())
    ctx = PlanningContext(
        connection="kd",
        related={"progress_report": [d.model for d in valuations], "contract": CONTRACTS},
        today=dt.date(2027, 12, 31),
    )
    check(registry.plan(income, default_rule_set("retention_due"), default_mapping(), ctx))
    received = [
        PlannableDocument(
            100 + i,
            "r",
            Receipt(
                receipt_no=f"SK-{i}",
                project_code=c.model.project_code,
                payer=OWNER,
                receipt_date=dt.date(2027, 3, 1),
                amount=data.draw(cents),
                receipt_kind="retention",
            ),
        )
        for i, c in enumerate(income)
    ]
    check(registry.plan(received, default_rule_set("retention_received"), default_mapping(), ctx))


@PROPERTY
@given(st.data())
def test_payment_requests_and_payments_are_deterministic(data: st.DataObject) -> None:
    docs = data.draw(requests())
    order = data.draw(st.permutations(range(len(docs))))
    bills = plans_alike(docs, order, default_rule_set("payment_request"))
    assert len({b.bill_no for b in bills.bills}) == len(bills.bills)
    paid = plans_alike(docs, order, default_rule_set("payment"))
    assert money_sum(v.debit_total for v in paid.vouchers) == money_sum(
        d.model.amount for d in docs if d.model.status.value == "paid"
    )
