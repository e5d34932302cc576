"""sandbox.pm's streams agree with each other the way a real system's books do.

Cost lines name contracts that exist with the same counterparty; invoices add up and match the
costs they bill; payment requests stay within what is due and within the contract; the BOQ,
budget and progress figures fit the contract price; labour cost = attendance 工日 × team day
rate, per team and day; workers' ID numbers, ages and cards are what the real-name rules need.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest

from yecai.domain.identifiers import birth_date, id_number_problem, luhn_valid, uscc_problem
from yecai.sandbox.pm import CostCategory, Dataset, generate
from yecai.sandbox.pm.models import DIRECT_CATEGORIES, CostRecord
from yecai.sandbox.pm.names import CONTRACTOR_NAME, CREW_TRADES
from yecai.sandbox.pm.records import ContractKind, InvoiceDirection, InvoiceType, PaymentStatus

CENT = Decimal("0.01")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


@pytest.fixture(scope="module")
def data() -> Dataset:
    return generate(projects=12, months=2, seed=21)


def test_cost_lines_name_contracts_that_exist_with_that_counterparty(data: Dataset) -> None:
    contracts = {c.contract_no: c for c in data.contracts}
    for record in data.all_cost_records:
        if record.category in DIRECT_CATEGORIES or record.category is CostCategory.SUBCONTRACT:
            assert record.contract_no in contracts, record.record_id
            contract = contracts[record.contract_no]
            assert contract.project_code == record.project_code
            assert contract.counterparty_name == record.supplier_name
            assert contract.contract_kind is not ContractKind.INCOME
        else:
            assert record.contract_no is None
    kinds = Counter(c.contract_kind for c in data.contracts)
    assert kinds[ContractKind.INCOME] == len(data.projects)
    assert min(kinds[k] for k in ContractKind) > 0


def test_contracts_are_plausible(data: Dataset) -> None:
    projects = {p.project_code: p for p in data.projects}
    for contract in data.contracts:
        assert uscc_problem(contract.counterparty_tax_id) is None
        assert Decimal(0) <= contract.retention_rate <= Decimal("0.03")  # 建质〔2017〕138号
        assert contract.start_date <= contract.end_date
        assert contract.amount > 0
        if contract.contract_kind is ContractKind.INCOME:
            project = projects[contract.project_code]
            assert contract.counterparty_name == project.customer_name
            assert contract.amount >= project.contract_amount  # variations only add


def test_invoices_add_up_and_carry_valid_numbers(data: Dataset) -> None:
    numbers = [i.invoice_no for i in data.invoices]
    assert len(numbers) == len(set(numbers))
    for invoice in data.invoices:
        assert re.fullmatch(r"\d{8}|\d{20}", invoice.invoice_no)
        assert (invoice.invoice_code is None) == (len(invoice.invoice_no) == 20)
        assert invoice.total_amount == invoice.amount + invoice.tax_amount
        assert invoice.amount == sum((line.amount for line in invoice.lines), Decimal(0))
        assert invoice.tax_amount == sum((line.tax_amount for line in invoice.lines), Decimal(0))
        assert all(line.tax_amount == cents(line.amount * line.tax_rate) for line in invoice.lines)
        assert abs(invoice.tax_amount - cents(invoice.amount * invoice.tax_rate)) <= Decimal("0.05")
        assert uscc_problem(invoice.seller_tax_id) is None
        assert uscc_problem(invoice.buyer_tax_id) is None
        ours = invoice.buyer_name if invoice.direction is InvoiceDirection.IN else invoice.seller_name
        assert ours == CONTRACTOR_NAME
        if invoice.invoice_type is InvoiceType.ORDINARY or invoice.direction is InvoiceDirection.OUT:
            assert not invoice.certified
    directions = Counter((i.direction, i.invoice_type) for i in data.invoices)
    assert len(directions) == 4  # 专票 and 普票, in and out
    digital = sum(1 for i in data.invoices if len(i.invoice_no) == 20) / len(data.invoices)
    assert 0.7 < digital < 0.97


def test_supplier_invoices_bill_exactly_the_months_costs(data: Dataset) -> None:
    costs: dict[tuple[str, str, Decimal], Decimal] = defaultdict(Decimal)
    for record in data.cost_records:
        costs[record.contract_no or "", f"{record.business_date:%Y-%m}", record.tax_rate] += record.amount
    linked = {r.invoice_no for r in data.other_cost_records if r.invoice_no}
    billed: dict[tuple[str, str, Decimal], Decimal] = defaultdict(Decimal)
    for invoice in data.invoices:
        if invoice.direction is InvoiceDirection.IN and invoice.invoice_no not in linked:
            billed[invoice.contract_no or "", invoice.period, invoice.tax_rate] += invoice.amount
    assert billed == costs


def test_expense_lines_point_at_their_invoice(data: Dataset) -> None:
    invoices = {i.invoice_no: i for i in data.invoices}
    with_invoice = [r for r in data.other_cost_records if r.invoice_no]
    assert 0 < len(with_invoice) < len(data.other_cost_records)  # salaries, depreciation come without
    for record in with_invoice:
        invoice = invoices[record.invoice_no]  # type: ignore[index]
        assert invoice.amount == record.amount
        assert invoice.tax_rate == record.tax_rate
        assert invoice.seller_name == record.supplier_name
        assert invoice.issue_date <= record.business_date


def test_payment_requests_stay_within_what_is_due_and_the_contract(data: Dataset) -> None:
    contracts = {c.contract_no: c for c in data.contracts}
    invoiced: dict[str, Decimal] = defaultdict(Decimal)
    for invoice in data.invoices:
        if invoice.direction is InvoiceDirection.IN and invoice.contract_no:
            invoiced[invoice.contract_no] += invoice.total_amount
    requested: dict[str, Decimal] = defaultdict(Decimal)
    statuses = Counter(r.status for r in data.payment_requests)
    for request in data.payment_requests:
        contract = contracts[request.contract_no]
        assert request.payee_name == contract.counterparty_name
        assert Decimal(0) < request.amount <= request.due_amount
        assert request.expected_pay_date > request.request_date
        assert request.status_name == request.status.chinese
        if request.status is PaymentStatus.PAID:
            assert request.approved_date is not None
            assert request.paid_date is not None
            assert request.request_date <= request.approved_date <= request.paid_date
        if request.status is not PaymentStatus.REJECTED:
            requested[request.contract_no] += request.amount
    for contract_no, total in requested.items():
        contract = contracts[contract_no]
        assert total <= contract.amount
        assert total <= invoiced[contract_no] * contract.payment_ratio
    assert statuses[PaymentStatus.PAID] > statuses[PaymentStatus.REJECTED] > 0
    assert PaymentStatus.DRAFT not in statuses  # drafts are discarded (deleted)


def test_boq_and_budget_fit_the_contract_price(data: Dataset) -> None:
    boq: dict[str, list] = defaultdict(list)
    for item in data.boq_items:
        boq[item.project_code].append(item)
        assert item.amount == cents(item.quantity * item.unit_price)
        assert re.fullmatch(r"\d{12}", item.item_code)
    budget: dict[str, Decimal] = defaultdict(Decimal)
    for line in data.budget_lines:
        budget[line.project_code] += line.amount
    for project in data.projects:
        ex_vat = project.contract_amount / Decimal("1.09")
        codes = {item.item_code[:2] for item in boq[project.project_code]}
        civil = project.project_type in {"综合管廊", "市政道路", "桥梁", "污水处理厂"}
        assert codes == {"04"} if civil else codes <= {"01", "03"}, (project.project_type, codes)
        assert len({item.item_code for item in boq[project.project_code]}) == len(boq[project.project_code])
        total = sum((item.amount for item in boq[project.project_code]), Decimal(0))
        assert Decimal("0.78") * ex_vat < total < Decimal("0.95") * ex_vat
        assert Decimal("0.85") * ex_vat < budget[project.project_code] < Decimal("1.0") * ex_vat
        assert len([b for b in data.budget_lines if b.project_code == project.project_code]) == 6


def test_progress_reports_measure_the_boq(data: Dataset) -> None:
    items = {(i.project_code, i.item_code): i for i in data.boq_items}
    invoices_out = {
        (i.project_code, i.period): i for i in data.invoices if i.direction is InvoiceDirection.OUT
    }
    by_project: dict[str, list] = defaultdict(list)
    for report in data.progress_reports:
        by_project[report.project_code].append(report)
        assert report.approved
        assert report.approved_date is not None
        assert report.approved_date >= report.report_date
        assert report.valuation_amount == sum((m.amount for m in report.measured), Decimal(0))
        assert report.valuation_amount <= report.reported_amount
        assert Decimal(0) <= report.percent_complete <= Decimal(100)
        for line in report.measured:
            item = items[report.project_code, line.boq_code]
            assert line.amount == cents(line.quantity * item.unit_price)
            assert Decimal(0) < line.quantity <= line.cumulative_quantity <= item.quantity
        # the owner is invoiced the approved valuation less 3 % retention
        invoice = invoices_out[report.project_code, report.period]
        assert invoice.amount == cents(report.valuation_amount * Decimal("0.97"))
    for reports in by_project.values():
        percents = [r.percent_complete for r in sorted(reports, key=lambda r: r.period)]
        assert percents == sorted(percents)


def test_labour_cost_is_attendance_times_the_team_day_rate(data: Dataset) -> None:
    workers = {w.worker_id: w for w in data.workers}
    days: dict[tuple[str, str, date], Decimal] = defaultdict(Decimal)
    pay: dict[tuple[str, str, date], Decimal] = defaultdict(Decimal)
    for row in data.attendance:
        key = (row.project_code, row.team_name, row.work_date)
        days[key] += row.days
        pay[key] += row.days * workers[row.worker_id].day_rate
    labour: list[CostRecord] = [r for r in data.cost_records if r.category is CostCategory.LABOUR]
    assert labour
    for record in labour:
        key = (record.project_code, record.team_name or "", record.business_date)
        assert days[key] == record.quantity, record.record_id
        assert cents(pay[key]) == record.amount, record.record_id
    assert len(days) == len(labour)  # no attendance without its labour line


def test_workers_meet_the_real_name_rules(data: Dataset) -> None:
    ids = [w.id_number for w in data.workers]
    assert len(ids) == len(set(ids))
    luhn = 0
    for worker in data.workers:
        assert id_number_problem(worker.id_number) is None
        assert birth_date(worker.id_number) == worker.birth_date
        assert worker.gender == ("男" if int(worker.id_number[16]) % 2 else "女")
        age = data.first_day.year - worker.birth_date.year
        age -= (data.first_day.month, data.first_day.day) < (worker.birth_date.month, worker.birth_date.day)
        assert 18 <= age <= 60
        assert re.fullmatch(r"1\d{10}", worker.phone)
        assert re.fullmatch(r"\d{19}", worker.bank_card)
        luhn += luhn_valid(worker.bank_card)
        assert worker.trade in CREW_TRADES.values()
        assert uscc_problem(worker.employer_tax_id) is None
        assert "劳务" in worker.employer_name
        assert worker.entry_date <= data.last_day
    assert 0.9 * len(data.workers) < luhn < len(data.workers)


def test_attendance_rows_are_plausible_days_on_site(data: Dataset) -> None:
    workers = {w.worker_id: w for w in data.workers}
    per_day = Counter((row.worker_id, row.work_date) for row in data.attendance)
    assert max(per_day.values()) == 1  # one row per worker and day
    for row in data.attendance:
        worker = workers[row.worker_id]
        assert (row.id_number, row.worker_name, row.team_name) == (
            worker.id_number,
            worker.name,
            worker.team_name,
        )
        assert row.days in (Decimal(1), Decimal("0.5"))
        assert row.check_in < row.check_out
        assert row.work_date >= worker.entry_date
        assert row.created_at.date() == row.work_date
        if row.days == Decimal("0.5"):
            assert row.overtime_hours == 0
    assert sum(1 for row in data.attendance if row.overtime_hours > 0) > 0


def test_labour_contracts_are_their_own_kind_and_other_costs_name_their_cost_item(data: Dataset) -> None:
    # issue 13: 劳务分包 contracts are `labour` (their payable is 应付劳务款), 专业分包 stay `subcontract`
    for contract in data.contracts:
        if contract.contract_type_name == "劳务分包合同":
            assert contract.contract_kind is ContractKind.LABOUR
        elif contract.contract_type_name == "专业分包合同":
            assert contract.contract_kind is ContractKind.SUBCONTRACT
    contracts = {c.contract_no: c for c in data.contracts}
    labour = [r for r in data.all_cost_records if r.category is CostCategory.LABOUR]
    assert labour
    assert {contracts[r.contract_no].contract_kind for r in labour} == {ContractKind.LABOUR}
    for record in data.all_cost_records:
        if record.category in (CostCategory.OTHER_DIRECT, CostCategory.INDIRECT):
            assert record.subcategory, record.record_id
        else:
            assert record.subcategory is None
    items = {r.subcategory for r in data.all_cost_records if r.subcategory}
    assert {"项目管理人员薪酬", "固定资产折旧", "临时设施摊销", "施工用水", "施工用电"} <= items
