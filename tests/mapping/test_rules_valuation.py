"""VALUATION and RETENTION rules against hand-checked vouchers (docs/rules.md entries 10, 10b, 14).

§2.1's owner valuation: 2,200,000 ex-VAT; retention 3 % = 66,000 kept back; billed 2,134,000;
output VAT 9 % = 192,060.00; Dr 应收账款 2,326,060.00. The retention's own VAT is 66,000 × 9 % = 5,940.00.
The sales invoice issued for it (2026-03-28) is what the books follow.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from yecai.domain.documents import (
    Contract,
    ContractKind,
    Invoice,
    OpeningBalance,
    ProgressReport,
    VatMethod,
)
from yecai.mapping import registry
from yecai.mapping.events.valuation import split_valuation
from yecai.mapping.interface import PlannableDocument, PlanningContext, key_token
from yecai.mapping.rules import MappingTable, ProjectMapping, RuleSet, default_mapping, default_rule_set

D = Decimal
P, C = "FF100001", "FFLEX6"
OWNER = "市城市建设投资集团有限公司"
RECEIVABLE_DIMS = ((C, "KH0001"), (P, "XM1"))
SETTLEMENT_DIMS = ((P, "XM1"), (C, "KH0001"))

INCOME = Contract(
    contract_no="HT-SR-1",
    project_code="XM1",
    contract_kind=ContractKind.INCOME,
    name="综合楼施工总承包",
    counterparty=OWNER,
    amount=D("10900000.00"),
    tax_rate=D("0.09"),
    retention_rate=D("0.03"),
    end_date=dt.date(2026, 6, 30),
)
SUPPLEMENT = INCOME.model_copy(
    update={"contract_no": "HT-SR-1-BC1", "name": "综合楼施工总承包补充协议", "amount": D("1090000.00")}
)


def report(
    doc_id: int, amount: str | None = "2200000.00", approved: bool = True, project: str = "XM1"
) -> PlannableDocument:
    model = ProgressReport(
        source_key=f"JL-{doc_id}",
        project_code=project,
        period="2026-03",
        report_date=dt.date(2026, 3, 25),
        percent_complete=D("25"),
        valuation_amount=D(amount) if amount else None,
        approved=approved,
    )
    return PlannableDocument(doc_id, f"v{doc_id}", model)


def sales_invoice(
    amount: str = "2134000.00",
    tax: str = "192060.00",
    day: dt.date = dt.date(2026, 3, 28),
    number: str = "1",
    rate: str = "0.09",
) -> Invoice:
    return Invoice(
        invoice_no=f"{int(number):08d}",
        direction="out",
        invoice_type="special",
        issue_date=day,
        project_code="XM1",
        seller_name="业财演示建设集团有限公司",
        buyer_name=OWNER,
        amount=D(amount),
        tax_rate=D(rate),
        tax_amount=D(tax),
        total=D(amount) + D(tax),
        contract_no="HT-SR-1",
    )


def lines(voucher) -> list[tuple[str, Decimal, Decimal, tuple]]:
    return [(x.account, x.debit, x.credit, x.dimensions) for x in voucher.lines]


def opts(name: str, **options: object) -> RuleSet:
    rules = default_rule_set(name)
    return rules.model_copy(update={"options": {**rules.options, **options}})


def simple_mapping() -> MappingTable:
    mapping = default_mapping()
    return mapping.model_copy(update={"projects": {"XM1": ProjectMapping(vat_method=VatMethod.SIMPLE)}})


def ctx(invoices: tuple[Invoice, ...] = (sales_invoice(),), **kwargs: object) -> PlanningContext:
    related = {"contract": [INCOME], "progress_report": [report(1).model], "invoice": list(invoices)}
    return PlanningContext(connection="kd", related=related, **kwargs)


def test_valuation_entry_10_with_retention_kept_back() -> None:
    plan = registry.plan([report(1)], default_rule_set("valuation"), default_mapping(), ctx())
    (voucher,) = plan.vouchers
    assert lines(voucher) == [
        ("1122", D("2326060.00"), D("0.00"), RECEIVABLE_DIMS),
        ("5402.01", D("0.00"), D("2134000.00"), SETTLEMENT_DIMS),
        ("2221.01.02", D("0.00"), D("192060.00"), ()),
    ]
    assert voucher.date == dt.date(2026, 3, 28)  # the invoice's date
    assert all(key_token(voucher.posting_key) in x.explanation for x in voucher.lines)
    assert "发票 00000001" in voucher.summary


def test_output_vat_and_date_come_from_the_issued_invoice() -> None:
    """Defect 7: the invoice says 192,060.01 on 03-31 (tax rounded per line); the books follow it."""
    invoice = sales_invoice(tax="192060.01", day=dt.date(2026, 3, 31))
    plan = registry.plan([report(1)], default_rule_set("valuation"), default_mapping(), ctx((invoice,)))
    (voucher,) = plan.vouchers
    assert lines(voucher) == [
        ("1122", D("2326060.01"), D("0.00"), RECEIVABLE_DIMS),
        ("5402.01", D("0.00"), D("2134000.00"), SETTLEMENT_DIMS),
        ("2221.01.02", D("0.00"), D("192060.01"), ()),
    ]
    assert voucher.date == dt.date(2026, 3, 31)


def test_invoice_rounding_the_billed_part_moves_the_cent_to_the_retention() -> None:
    # 1,000.50 × 3 % = 30.015: the PM system billed 1,000.50 × 97 % = 970.485 → 970.49, so the
    # retention is 30.01, not 30.02; the invoice (970.49 + 87.34) is what the owner owes.
    invoice = sales_invoice(amount="970.49", tax="87.34")
    plan = registry.plan(
        [report(1, amount="1000.50")], default_rule_set("valuation"), default_mapping(), ctx((invoice,))
    )
    assert lines(plan.vouchers[0]) == [
        ("1122", D("1057.83"), D("0.00"), RECEIVABLE_DIMS),
        ("5402.01", D("0.00"), D("970.49"), SETTLEMENT_DIMS),
        ("2221.01.02", D("0.00"), D("87.34"), ()),
    ]


def test_an_invoice_outside_the_window_or_for_another_amount_is_not_the_valuations() -> None:
    others = (
        sales_invoice(day=dt.date(2026, 3, 24), number="2"),  # before the report
        sales_invoice(day=dt.date(2026, 5, 10), number="3"),  # more than 45 days after
        sales_invoice(amount="2134001.00", tax="192060.09", number="4"),  # another amount
    )
    plan = registry.plan([report(1)], default_rule_set("valuation"), default_mapping(), ctx(others))
    assert plan.vouchers == []
    (held,) = plan.held
    assert "尚未开具销项发票" in held.zh
    assert "no sales invoice yet" in held.en


def test_uninvoiced_valuation_entry_10b_vat_not_yet_due() -> None:
    plan = registry.plan([report(1)], opts("valuation", uninvoiced="deferred"), default_mapping(), ctx(()))
    (voucher,) = plan.vouchers
    assert lines(voucher) == [
        ("1122", D("2326060.00"), D("0.00"), RECEIVABLE_DIMS),
        ("5402.01", D("0.00"), D("2134000.00"), SETTLEMENT_DIMS),
        ("2221.05", D("0.00"), D("192060.00"), ()),
    ]
    assert voucher.date == dt.date(2026, 3, 25)


def test_simple_method_output_vat_goes_to_jianyi_jishui_at_3_percent() -> None:
    """Defect 6 (output side): 2,134,000 × 3 % = 64,020.00 to 应交税费—简易计税, never 销项税额."""
    plan = registry.plan([report(1)], opts("valuation", uninvoiced="output"), simple_mapping(), ctx(()))
    assert lines(plan.vouchers[0]) == [
        ("1122", D("2198020.00"), D("0.00"), RECEIVABLE_DIMS),
        ("5402.01", D("0.00"), D("2134000.00"), SETTLEMENT_DIMS),
        ("2221.06", D("0.00"), D("64020.00"), ()),
    ]
    invoiced = sales_invoice(tax="64020.01", rate="0.03")
    plan = registry.plan([report(1)], default_rule_set("valuation"), simple_mapping(), ctx((invoiced,)))
    assert lines(plan.vouchers[0])[-1] == ("2221.06", D("0.00"), D("64020.01"), ())


def test_valuation_retention_as_contract_asset() -> None:
    plan = registry.plan([report(1)], opts("valuation", retention="contract_asset"), default_mapping(), ctx())
    assert lines(plan.vouchers[0]) == [
        ("1122", D("2326060.00"), D("0.00"), RECEIVABLE_DIMS),
        ("1481", D("66000.00"), D("0.00"), ((P, "XM1"),)),
        ("5402.01", D("0.00"), D("2200000.00"), SETTLEMENT_DIMS),
        ("2221.01.02", D("0.00"), D("192060.00"), ()),
    ]


def test_unapproved_valuation_is_held_with_a_bilingual_reason() -> None:
    plan = registry.plan(
        [report(1, approved=False), report(2, amount=None)],
        default_rule_set("valuation"),
        default_mapping(),
        ctx(),
    )
    assert plan.vouchers == []
    (held,) = plan.held
    assert held.document_ids == (1,)
    assert "尚未经业主/监理确认" in held.zh
    assert "not approved" in held.en


def test_valuation_unmapped_customer_and_no_contract() -> None:
    other = Contract(
        contract_no="HT-SR-2",
        project_code="XM2",
        contract_kind=ContractKind.INCOME,
        name="道路工程",
        counterparty="某某开发有限公司",
        amount=D("1090.00"),
        tax_rate=D("0.09"),
    )
    context = PlanningContext(connection="kd", related={"contract": [INCOME, other]})
    plan = registry.plan(
        [report(3, project="XM2"), report(4, project="XM3")],
        opts("valuation", uninvoiced="output"),
        default_mapping(),
        context,
    )
    assert plan.vouchers == []
    # XM3 has neither an income contract nor a Project naming its customer
    assert [(u.kind, u.value, u.document_ids) for u in plan.unmapped] == [
        ("customer", "-", (4,)),
        ("customer", "某某开发有限公司", (3,)),
    ]


def test_split_valuation_hand_case() -> None:
    split = split_valuation(D("2200000.00"), D("0.03"), D("0.09"))
    assert (split.retention, split.billed, split.vat, split.receivable) == (
        D("66000.00"),
        D("2134000.00"),
        D("192060.00"),
        D("2326060.00"),
    )


def contract_doc() -> PlannableDocument:
    return PlannableDocument(10, "c1", INCOME)


def test_retention_due_entry_14() -> None:
    plan = registry.plan(
        [contract_doc()], default_rule_set("retention_due"), default_mapping(), ctx(today=dt.date(2027, 7, 1))
    )
    (voucher,) = plan.vouchers
    assert lines(voucher) == [
        ("1122", D("71940.00"), D("0.00"), RECEIVABLE_DIMS),
        ("5402.01", D("0.00"), D("66000.00"), SETTLEMENT_DIMS),
        ("2221.05", D("0.00"), D("5940.00"), ()),
    ]
    assert voucher.date == dt.date(2027, 6, 30)  # end date 2026-06-30 + 12 months


def test_retention_of_a_main_contract_and_its_supplement_falls_due_once() -> None:
    """Defect 3: the valuations of a project kept 66,000 back once, so 71,940.00 falls due once."""
    context = PlanningContext(
        connection="kd",
        related={"contract": [INCOME, SUPPLEMENT], "progress_report": [report(1).model]},
        today=dt.date(2027, 7, 1),
    )
    documents = [contract_doc(), PlannableDocument(11, "c2", SUPPLEMENT)]
    plan = registry.plan(documents, default_rule_set("retention_due"), default_mapping(), context)
    assert [sum(x.debit for x in v.lines) for v in plan.vouchers] == [D("71940.00")]
    assert {x.document_ids for x in plan.vouchers[0].lines} == {(10,)}


def test_the_main_contract_bills_even_when_its_supplement_numbers_first() -> None:
    """A 补充协议 is signed after the contract it supplements: the main contract bills and its
    retention falls due, whatever the numbering (ZB = 总包, BC = 补充 sorts first)."""
    main = INCOME.model_copy(update={"contract_no": "XM1-ZB", "signed_date": dt.date(2025, 3, 1)})
    supplement = SUPPLEMENT.model_copy(update={"contract_no": "XM1-BC", "signed_date": dt.date(2026, 2, 1)})
    context = PlanningContext(
        connection="kd",
        related={"contract": [main, supplement], "progress_report": [report(1).model]},
        today=dt.date(2027, 7, 1),
    )
    documents = [PlannableDocument(10, "c1", main), PlannableDocument(11, "c2", supplement)]
    plan = registry.plan(documents, default_rule_set("retention_due"), default_mapping(), context)
    assert plan.held == []
    assert [sum(x.debit for x in v.lines) for v in plan.vouchers] == [D("71940.00")]
    assert {x.document_ids for x in plan.vouchers[0].lines} == {(10,)}


def test_retention_withheld_before_go_live_falls_due_too() -> None:
    # 34,000 withheld before go-live + 66,000 since = 100,000; VAT 9,000.00
    opening = OpeningBalance(
        source_key="QC-1",
        project_code="XM1",
        contract_no="HT-SR-1",
        as_of=dt.date(2026, 1, 1),
        billed_to_date=D("1133333.33"),  # 3 % of it was kept back
        retention_to_date=D("34000.00"),
    )
    context = PlanningContext(
        connection="kd",
        related={"contract": [INCOME], "progress_report": [report(1).model], "opening_balance": [opening]},
        today=dt.date(2027, 7, 1),
    )
    plan = registry.plan([contract_doc()], default_rule_set("retention_due"), default_mapping(), context)
    assert lines(plan.vouchers[0]) == [
        ("1122", D("109000.00"), D("0.00"), RECEIVABLE_DIMS),
        ("5402.01", D("0.00"), D("100000.00"), SETTLEMENT_DIMS),
        ("2221.05", D("0.00"), D("9000.00"), ()),
    ]


def test_retention_follows_the_invoiced_split() -> None:
    invoice = sales_invoice(amount="970.49", tax="87.34")
    context = PlanningContext(
        connection="kd",
        related={
            "contract": [INCOME],
            "progress_report": [report(1, amount="1000.50").model],
            "invoice": [invoice],
        },
        today=dt.date(2027, 7, 1),
    )
    plan = registry.plan([contract_doc()], default_rule_set("retention_due"), default_mapping(), context)
    # 1,000.50 − 970.49 = 30.01 kept back; VAT 2.70
    assert lines(plan.vouchers[0])[1:] == [
        ("5402.01", D("0.00"), D("30.01"), SETTLEMENT_DIMS),
        ("2221.05", D("0.00"), D("2.70"), ()),
    ]


def test_retention_not_yet_due_is_held() -> None:
    plan = registry.plan(
        [contract_doc()],
        default_rule_set("retention_due"),
        default_mapping(),
        ctx(today=dt.date(2027, 6, 29)),
    )
    assert plan.vouchers == []
    assert "尚未到期" in plan.held[0].zh
    assert "2027-06-30" in plan.held[0].en


def test_retention_due_date_per_contract_and_contract_asset_practice() -> None:
    rules = opts("retention_due", due_dates={"HT-SR-1": "2026-09-30"}, retention="contract_asset")
    plan = registry.plan([contract_doc()], rules, default_mapping(), ctx(today=dt.date(2026, 10, 8)))
    assert lines(plan.vouchers[0]) == [
        ("1122", D("71940.00"), D("0.00"), RECEIVABLE_DIMS),
        ("1481", D("0.00"), D("66000.00"), ((P, "XM1"),)),
        ("2221.05", D("0.00"), D("5940.00"), ()),
    ]


def test_simple_method_retention_at_3_percent() -> None:
    rules = opts("retention_due", output_vat="output")
    plan = registry.plan([contract_doc()], rules, simple_mapping(), ctx((), today=dt.date(2027, 7, 1)))
    # 66,000 × 3 % = 1,980.00 to 简易计税
    assert lines(plan.vouchers[0])[-1] == ("2221.06", D("0.00"), D("1980.00"), ())
