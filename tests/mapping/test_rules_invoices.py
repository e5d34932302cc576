"""PURCHASE_INVOICE rules against hand-checked vouchers (docs/rules.md entries 1, 1b, 3, 5; §2.2).

Figures are the §2.1 worked example's: materials 1,200,000 + 13 % = 156,000 on a 专票; machinery
rental 150,000 + 13 % = 19,500 (here on a 普票, so the tax goes into cost); 劳务分包 500,000 + 3 %.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from yecai.domain.documents import Contract, ContractKind, Invoice
from yecai.mapping import registry
from yecai.mapping.interface import PlannableDocument, PlanningContext, key_token
from yecai.mapping.rules import MappingTable, RuleSet, default_mapping, default_rule_set

D = Decimal
P = "FF100001"
GC = ("FFLEX4", "GYS0001")  # 江苏恒固建材有限公司: every invoice here but the labour one is its

CONTRACTS = [
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
        contract_no="HT-ZL-1",
        project_code="XM1",
        contract_kind=ContractKind.LEASE,
        name="塔吊租赁",
        counterparty="浙江力拓机械租赁有限公司",
        amount=D("169500.00"),
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
]


def invoice(
    doc_id: int,
    number: str,
    kind: str,
    amount: str,
    tax: str,
    rate: str,
    contract: str | None,
    seller: str = "江苏恒固建材有限公司",
    direction: str = "in",
    project: str | None = None,
) -> PlannableDocument:
    model = Invoice(
        invoice_no=number,
        direction=direction,
        invoice_type=kind,
        issue_date=dt.date(2026, 3, 12),
        project_code=project,
        seller_name=seller,
        buyer_name="业财演示建设集团有限公司",
        amount=D(amount),
        tax_rate=D(rate),
        tax_amount=D(tax),
        total=D(amount) + D(tax),
        contract_no=contract,
    )
    return PlannableDocument(doc_id, f"v{doc_id}", model)


MATERIAL_SPECIAL = ("00000001", "special", "1200000.00", "156000.00", "0.13", "HT-CG-1")
RENTAL_ORDINARY = ("00000002", "ordinary", "150000.00", "19500.00", "0.13", "HT-ZL-1")


def ctx() -> PlanningContext:
    return PlanningContext(connection="kd", related={"contract": CONTRACTS})


def lines(voucher) -> list[tuple[str, Decimal, Decimal, tuple]]:
    return [(x.account, x.debit, x.credit, x.dimensions) for x in voucher.lines]


def with_options(**options: object) -> RuleSet:
    rules = default_rule_set("purchase_invoice")
    return rules.model_copy(update={"options": {**rules.options, **options}})


def test_special_invoice_vat_only_moves_the_tax_into_input_vat() -> None:
    plan = registry.plan(
        [invoice(1, *MATERIAL_SPECIAL)], default_rule_set("purchase_invoice"), default_mapping(), ctx()
    )
    (voucher,) = plan.vouchers
    assert lines(voucher) == [
        ("2221.01.01", D("156000.00"), D("0.00"), ()),
        ("2202.01", D("0.00"), D("156000.00"), ((P, "XM1"), GC)),
    ]
    assert voucher.group_key == "doc|00000001"
    assert "00000001" in voucher.summary
    assert all(key_token(voucher.posting_key) in x.explanation for x in voucher.lines)


def test_ordinary_invoice_tax_goes_into_cost() -> None:
    plan = registry.plan(
        [invoice(2, *RENTAL_ORDINARY)], default_rule_set("purchase_invoice"), default_mapping(), ctx()
    )
    assert lines(plan.vouchers[0]) == [
        ("5401.03", D("19500.00"), D("0.00"), ((P, "XM1"),)),
        ("2202.03", D("0.00"), D("19500.00"), ((P, "XM1"), GC)),
    ]


def test_uncertified_special_invoice_entry_1b() -> None:
    plan = registry.plan(
        [invoice(1, *MATERIAL_SPECIAL)], with_options(certification="pending"), default_mapping(), ctx()
    )
    assert lines(plan.vouchers[0]) == [
        ("2221.04", D("156000.00"), D("0.00"), ()),
        ("2202.01", D("0.00"), D("156000.00"), ((P, "XM1"), GC)),
    ]


def test_full_mode_entry_1_direct_to_cost() -> None:
    plan = registry.plan(
        [invoice(1, *MATERIAL_SPECIAL), invoice(2, *RENTAL_ORDINARY)],
        with_options(mode="full"),
        default_mapping(),
        ctx(),
    )
    assert [lines(v) for v in plan.vouchers] == [
        [
            ("5401.02", D("1200000.00"), D("0.00"), ((P, "XM1"),)),
            ("2221.01.01", D("156000.00"), D("0.00"), ()),
            ("2202.01", D("0.00"), D("1356000.00"), ((P, "XM1"), GC)),
        ],
        [
            ("5401.03", D("169500.00"), D("0.00"), ((P, "XM1"),)),
            ("2202.03", D("0.00"), D("169500.00"), ((P, "XM1"), GC)),
        ],
    ]


def test_full_mode_into_the_site_store() -> None:
    plan = registry.plan(
        [invoice(1, *MATERIAL_SPECIAL)],
        with_options(mode="full", full_debit="inventory"),
        default_mapping(),
        ctx(),
    )
    assert lines(plan.vouchers[0]) == [
        ("1403", D("1200000.00"), D("0.00"), ()),
        ("2221.01.01", D("156000.00"), D("0.00"), ()),
        ("2202.01", D("0.00"), D("1356000.00"), ((P, "XM1"), GC)),
    ]


def test_subcontract_3_percent_special_invoice_entry_3() -> None:
    doc = invoice(
        3,
        "00000003",
        "special",
        "500000.00",
        "15000.00",
        "0.03",
        "HT-FB-1",
        seller="上海宏达劳务分包有限公司",
    )
    plan = registry.plan([doc], default_rule_set("purchase_invoice"), default_mapping(), ctx())
    assert lines(plan.vouchers[0]) == [
        ("2221.01.01", D("15000.00"), D("0.00"), ()),
        # 劳务分包: the labour payable its costs and payments use (issue 13, defect 1), not 2202.04
        ("2202.02", D("0.00"), D("15000.00"), ((P, "XM1"), ("FFLEX4", "GYS0002"))),
    ]


def test_aggregated_per_project_category_and_day_adds_lines_up() -> None:
    rules = default_rule_set("purchase_invoice").model_copy(update={"aggregation": "project_category_day"})
    docs = [
        invoice(1, *MATERIAL_SPECIAL),
        invoice(4, "00000004", "special", "100.00", "13.00", "0.13", "HT-CG-1"),
    ]
    plan = registry.plan(docs, rules, default_mapping(), ctx())
    (voucher,) = plan.vouchers
    assert lines(voucher) == [
        ("2221.01.01", D("156013.00"), D("0.00"), ()),
        ("2202.01", D("0.00"), D("156013.00"), ((P, "XM1"), GC)),
    ]
    assert voucher.group_key == "XM1|material|special|2026-03-12"
    assert set(voucher.lines[0].document_ids) == {1, 4}


def test_issued_invoices_and_invoices_without_project() -> None:
    issued = invoice(5, "00000005", "special", "100.00", "9.00", "0.09", None, direction="out", project="XM1")
    orphan = invoice(6, "00000006", "special", "100.00", "13.00", "0.13", None)
    plan = registry.plan([issued, orphan], default_rule_set("purchase_invoice"), default_mapping(), ctx())
    assert plan.vouchers == []
    (held,) = plan.held
    assert held.document_ids == (6,)
    assert "没有项目" in held.zh


def test_simple_method_project_special_invoice_tax_goes_into_cost() -> None:
    # 简易计税 (issue 13, defect 6 input side): no input VAT is deducted on the project, so a 专票's
    # tax is cost like a 普票's; the payable still gets the whole tax.
    mapping = default_mapping().model_copy(
        update={"projects": MappingTable(projects={"XM1": {"vat_method": "simple"}}).projects}
    )
    plan = registry.plan(
        [invoice(1, *MATERIAL_SPECIAL)], default_rule_set("purchase_invoice"), mapping, ctx()
    )
    assert lines(plan.vouchers[0]) == [
        ("5401.02", D("156000.00"), D("0.00"), ((P, "XM1"),)),
        ("2202.01", D("0.00"), D("156000.00"), ((P, "XM1"), GC)),
    ]
    full = registry.plan([invoice(1, *MATERIAL_SPECIAL)], with_options(mode="full"), mapping, ctx())
    assert lines(full.vouchers[0]) == [
        ("5401.02", D("1356000.00"), D("0.00"), ((P, "XM1"),)),
        ("2202.01", D("0.00"), D("1356000.00"), ((P, "XM1"), GC)),
    ]
    kept = registry.plan(
        [invoice(1, *MATERIAL_SPECIAL)], with_options(simple_method_into_cost=False), mapping, ctx()
    )
    assert lines(kept.vouchers[0])[0] == ("2221.01.01", D("156000.00"), D("0.00"), ())


def test_invoice_without_contract_is_owed_on_the_expense_payable() -> None:
    power = invoice(7, "00000007", "special", "3210.00", "417.30", "0.13", None, project="XM1")
    plan = registry.plan([power], default_rule_set("purchase_invoice"), default_mapping(), ctx())
    assert lines(plan.vouchers[0]) == [
        ("2221.01.01", D("417.30"), D("0.00"), ()),
        ("2202.05", D("0.00"), D("417.30"), ((P, "XM1"), GC)),
    ]


def test_project_day_is_one_voucher_across_categories_and_names_each_seller() -> None:
    rules = default_rule_set("purchase_invoice").model_copy(update={"aggregation": "project_day"})
    labour = invoice(
        3,
        "00000003",
        "special",
        "500000.00",
        "15000.00",
        "0.03",
        "HT-FB-1",
        seller="上海宏达劳务分包有限公司",
    )
    plan = registry.plan([invoice(1, *MATERIAL_SPECIAL), labour], rules, default_mapping(), ctx())
    (voucher,) = plan.vouchers
    assert voucher.group_key == "XM1|2026-03-12"
    assert lines(voucher) == [
        ("2221.01.01", D("171000.00"), D("0.00"), ()),
        ("2202.01", D("0.00"), D("156000.00"), ((P, "XM1"), GC)),
        ("2202.02", D("0.00"), D("15000.00"), ((P, "XM1"), ("FFLEX4", "GYS0002"))),
    ]
    notes = {x.account: x.explanation for x in voucher.lines}
    assert "江苏恒固建材有限公司" in notes["2202.01"]
    assert "上海宏达劳务分包有限公司" in notes["2202.02"]


def test_project_category_month_dated_the_month_end() -> None:
    rules = default_rule_set("purchase_invoice").model_copy(update={"aggregation": "project_category_month"})
    plan = registry.plan([invoice(1, *MATERIAL_SPECIAL)], rules, default_mapping(), ctx())
    assert [(v.group_key, v.date) for v in plan.vouchers] == [
        ("XM1|material|special|2026-03", dt.date(2026, 3, 31))
    ]


def test_invoice_summary_names_the_project_and_the_seller() -> None:
    context = PlanningContext(
        connection="kd", related={"contract": CONTRACTS}, project_names={"XM1": "综合楼"}
    )
    plan = registry.plan(
        [invoice(1, *MATERIAL_SPECIAL)], default_rule_set("purchase_invoice"), default_mapping(), context
    )
    assert plan.vouchers[0].summary == "综合楼 进项发票 00000001 江苏恒固建材有限公司"
