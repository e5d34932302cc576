"""The sandbox month's sub-ledgers, checked against the documents: what `bench/subledgers.py` and its
slice in the suite (`tests/ledger/test_subledgers_slice.py`) run.

`run_check` runs what `yecai demo` runs (`yecai.demo.run_demo`: every default-job rule set on
sandbox.pm's data into a served sandbox.kingdee), then reads Kingdee's 科目余额表 back per dimension
(books 001 and 002) for 应付账款 2202.* (供应商 × 项目) and 应收账款 1122 (客户 × 项目), and compares
each sub-ledger with what the supplier or customer owes **according to sandbox.pm's own Dataset** —
the very data the demo's sandbox served (same arguments, its clock at the end of the timeline):

- payable (supplier × project) = the supplier's cost records whose cost is owed to it (ex-VAT: the
  daily cost rule books every cost against its payable) + the tax of its received invoices (专票 and
  普票: the `vat_only` invoice practice credits the tax to the payable) − its paid payment requests;
- receivable (customer × project) = the 价税合计 of the sales invoices of approved valuations +
  retention fallen due (+ its VAT) − owner receipts (progress and retention).

Nothing here calls yecai's rule code: the expectation is derived from the documents and from the
configuration a tenant reads (the mapping table's 费用明细 rows and party numbers, the rule sets'
options: which statuses pay, which contract kind owes on which account, the defects period).
Whatever the rules hold back is left out from the documents' own state (an unapproved valuation, an
approved one not yet invoiced, retention not yet due, a request not paid …), and counted in
`Expectation.left_out` so the summary says what was left out and why.
"""

from __future__ import annotations

import calendar
import datetime as dt
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from yecai.demo import KINGDEE, books_period, identity_of, run_demo
from yecai.kingdee.client import KingdeeClient
from yecai.mapping.rules import MappingTable, RuleSet, default_job_rule_sets, default_mapping
from yecai.reports.trial_balance import AccountBalance, TrialBalance, read_trial_balance
from yecai.sandbox.kingdee import start_sandbox as start_kingdee
from yecai.sandbox.pm.data import generate
from yecai.sandbox.pm.models import CENT, CostRecord, Dataset, VatMethod
from yecai.sandbox.pm.records import (
    Contract,
    ContractKind,
    Invoice,
    InvoiceDirection,
)
from yecai.settings import Settings
from yecai.store.db import open_store

D = Decimal
ZERO = D("0.00")
PAYABLES = "2202"  # 应付账款: every sub-account (材料 / 劳务 / 机械 / 分包 / 费用 / 暂估)
RECEIVABLE = "1122"  # 应收账款
BOOKS = ("001", "002")  # the group's book (CAS) and the 分公司's (小企业会计准则)
# Key of a sub-ledger line: (supplier or customer number, 项目 number).
Key = tuple[str, str]


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def _add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later, or that month's last day (a defects period of 12 months)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# -- what the documents say is owed ----------------------------------------------------------------


@dataclass(slots=True)
class Expectation:
    """What each supplier and customer owes per project, from the documents alone.

    `payables` are credit balances (what the company owes, positive), `receivables` debit balances
    (what the customer owes, positive); `payable_accounts` the same payables per 应付账款 sub-account.
    Keys carry party *names* until `numbered` turns them into Kingdee numbers.
    """

    payables: dict[Key, Decimal] = field(default_factory=dict)
    payable_accounts: dict[tuple[str, str, str], Decimal] = field(default_factory=dict)
    receivables: dict[Key, Decimal] = field(default_factory=dict)
    left_out: Counter[str] = field(default_factory=Counter)

    def owe(self, account: str, supplier: str, project: str, amount: Decimal) -> None:
        self.payables[(supplier, project)] = self.payables.get((supplier, project), ZERO) + amount
        key = (account, supplier, project)
        self.payable_accounts[key] = self.payable_accounts.get(key, ZERO) + amount

    def bill(self, customer: str, project: str, amount: Decimal) -> None:
        self.receivables[(customer, project)] = self.receivables.get((customer, project), ZERO) + amount


@dataclass(frozen=True, slots=True)
class Practice:
    """The configuration the expectation needs, read from the default job's rule sets and mapping.

    These are the tenant's choices (which account a contract kind owes on, which requests are paid,
    the defects period), not the rules' logic: a change of practice changes both sides alike.
    """

    mapping: MappingTable
    # One payable per contract kind, the same for cost, invoice and payment (issue 13, defect 1): the
    # cost rule set's table says which, and the invoices and payments are expected on that account —
    # so a rule set that pays or invoices a contract on another 2202 account is an account difference.
    cost_credit: Mapping[str, str]  # cost category → its payable account (cost rule set)
    contract_categories: Mapping[str, str]  # contract kind → category of its payable
    itemised: frozenset[str]  # categories credited by their 费用明细 when under no contract
    invoice_mode: str  # vat_only: an invoice moves its tax onto the payable
    invoice_default_category: str  # an invoice under no contract owes on this category's payable
    paid_statuses: frozenset[str]  # payment requests that are bank payments
    uninvoiced: str  # a valuation without a sales invoice: hold | deferred | output
    liability_months: int  # 缺陷责任期 before retention falls due
    due_dates: Mapping[str, dt.date]
    simple_rate: Decimal
    default_vat_rate: Decimal
    default_retention_rate: Decimal
    receipt_kinds_on_receivable: frozenset[str]

    @classmethod
    def of(cls, rule_sets: Mapping[str, RuleSet], mapping: MappingTable) -> Practice:
        by_event = {rules.event.value: rules for rules in rule_sets.values()}
        cost, invoice = by_event["cost"], by_event["purchase_invoice"]
        payment, valuation, retention = by_event["payment"], by_event["valuation"], by_event["retention"]
        cost_options = cost.options
        receivable_kinds = {
            kind
            for rules in rule_sets.values()
            if rules.event.value == "receipt" and rules.accounts.get("receivable") == RECEIVABLE
            for kind in _as_list(rules.filter.get("receipt_kind"))
            if kind != "advance"  # an advance is 合同负债, never 应收账款
        }
        return cls(
            mapping=mapping,
            cost_credit={c.value: rule.credit for c, rule in cost.categories.items()},
            contract_categories={
                str(k): str(v)
                for k, v in (
                    cost_options.get("contract_categories")
                    or {
                        "labour": "labour",
                        "subcontract": "subcontract",
                        "purchase": "material",
                        "lease": "machinery",
                    }
                ).items()
            },
            itemised=frozenset(
                str(c) for c in cost_options.get("itemised_categories", ("other_direct", "indirect"))
            ),
            invoice_mode=str(invoice.options.get("mode", "vat_only")),
            invoice_default_category=str(invoice.options.get("default_category", "other_direct")),
            paid_statuses=frozenset(str(s) for s in payment.options.get("statuses", ("paid",))),
            uninvoiced=str(valuation.options.get("uninvoiced", "hold")),
            liability_months=int(retention.options.get("liability_months", 12)),
            due_dates={
                str(k): dt.date.fromisoformat(str(v))
                for k, v in retention.options.get("due_dates", {}).items()
            },
            simple_rate=D(str(valuation.options.get("simple_rate", "0.03"))),
            default_vat_rate=D(str(valuation.options.get("default_vat_rate", "0.09"))),
            default_retention_rate=D(str(valuation.options.get("default_retention_rate", "0"))),
            receipt_kinds_on_receivable=frozenset(receivable_kinds),
        )


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def _cost_payable(record: CostRecord, contract: Contract | None, practice: Practice) -> str | None:
    """The 应付账款 account a cost is owed on, or None when it is owed to no supplier's payable."""
    if contract is not None:
        category = practice.contract_categories.get(contract.contract_kind.value, record.category.value)
        return practice.cost_credit.get(category)
    if record.category.value in practice.itemised:
        found = practice.mapping.cost_item(record.subcategory, record.description)
        return found[1].credit if found is not None else None
    return practice.cost_credit.get(record.category.value)


def _sales_invoices(data: Dataset) -> dict[tuple[str, str], list[Invoice]]:
    """Issued invoices by (project, period): sandbox.pm invoices each approved valuation of a period."""
    out: dict[tuple[str, str], list[Invoice]] = defaultdict(list)
    for invoice in data.invoices:
        if invoice.direction is InvoiceDirection.OUT:
            out[(invoice.project_code, invoice.period)].append(invoice)
    return out


def _income_contracts(data: Dataset) -> dict[str, list[Contract]]:
    out: dict[str, list[Contract]] = defaultdict(list)
    for contract in sorted(data.contracts, key=lambda c: c.contract_no):
        if contract.contract_kind is ContractKind.INCOME:
            out[contract.project_code].append(contract)
    return out


def expected_subledgers(data: Dataset, practice: Practice, today: dt.date) -> Expectation:
    """What each supplier × project and customer × project owes after every document the demo
    pulled (the Dataset's final state, as the demo's sandbox serves it), by party *name*."""
    expect = Expectation()
    contracts = {c.contract_no: c for c in data.contracts}
    projects = {p.project_code: p for p in data.projects}

    # -- payables: cost received + VAT invoiced − paid, per supplier and project
    for record in data.all_cost_records:
        contract = contracts.get(record.contract_no or "")
        account = _cost_payable(record, contract, practice)
        if account is None:
            expect.left_out["cost 费用明细 without a mapping row: reported, not posted"] += 1
        elif not account.startswith(PAYABLES):
            expect.left_out[f"cost owed on {account} (no supplier's payable)"] += 1
        elif not record.supplier_name:
            expect.left_out["payable cost without a supplier: reported, not posted"] += 1
        else:
            expect.owe(account, record.supplier_name, record.project_code, record.amount)
    for invoice in data.invoices:
        if invoice.direction is not InvoiceDirection.IN:
            continue
        if invoice.project_code not in projects:
            expect.left_out["received invoice without a project: held"] += 1
            continue
        contract = contracts.get(invoice.contract_no or "")
        category = (
            practice.contract_categories.get(contract.contract_kind.value, practice.invoice_default_category)
            if contract is not None
            else practice.invoice_default_category
        )
        owed = invoice.tax_amount if practice.invoice_mode == "vat_only" else invoice.total_amount
        expect.owe(practice.cost_credit[category], invoice.seller_name, invoice.project_code, owed)
    for request in data.payment_requests:
        if request.status.value not in practice.paid_statuses:
            expect.left_out[f"payment request {request.status.value}: not a payment"] += 1
            continue
        contract = contracts.get(request.contract_no)
        category = (
            practice.contract_categories.get(contract.contract_kind.value, practice.invoice_default_category)
            if contract is not None
            else practice.invoice_default_category
        )
        expect.owe(practice.cost_credit[category], request.payee_name, request.project_code, -request.amount)

    # -- receivables: invoiced valuations + retention due − receipts, per customer and project
    incomes = _income_contracts(data)
    sales = _sales_invoices(data)
    used: set[str] = set()
    kept_back: dict[str, Decimal] = defaultdict(lambda: ZERO)  # project → retention withheld
    for report in sorted(data.progress_reports, key=lambda r: r.report_id):
        if not report.valuation_amount:
            continue
        if not report.approved:
            expect.left_out["valuation not approved: held"] += 1
            continue
        billing = incomes.get(report.project_code, [None])[0]
        customer = billing.counterparty_name if billing else projects[report.project_code].customer_name
        invoices = sales.get((report.project_code, report.period), [])
        if invoices:
            for invoice in invoices:
                used.add(invoice.invoice_no)
                expect.bill(customer, report.project_code, invoice.total_amount)
            kept_back[report.project_code] += report.valuation_amount - sum(
                (i.amount for i in invoices), ZERO
            )
            continue
        retention = _money(report.valuation_amount * _retention_rate(billing, practice))
        kept_back[report.project_code] += retention
        if practice.uninvoiced == "hold":
            expect.left_out["approved valuation without a sales invoice: held"] += 1
            continue
        billed = report.valuation_amount - retention
        rate = _vat_rate(billing, projects[report.project_code].vat_method, practice)
        expect.bill(customer, report.project_code, billed + _money(billed * rate))
    for invoice in data.invoices:
        if invoice.direction is InvoiceDirection.OUT and invoice.invoice_no not in used:
            expect.left_out["sales invoice of no approved valuation: not booked"] += 1

    openings = list(data.opening_balances)
    for project, income in incomes.items():
        numbers = {c.contract_no for c in income}
        rows = [o for o in openings if o.project_code == project]
        chosen = [o for o in rows if o.contract_no in numbers]
        retention = kept_back.get(project, ZERO) + sum((o.retention_to_date for o in chosen), ZERO)
        if retention == 0:
            continue
        billing = income[0]
        due = practice.due_dates.get(billing.contract_no) or _add_months(
            max(c.end_date for c in income), practice.liability_months
        )
        if today < due:
            expect.left_out["retention not yet due: held"] += 1
            continue
        vat = _money(retention * _vat_rate(billing, projects[project].vat_method, practice))
        expect.bill(billing.counterparty_name, project, retention + vat)

    for receipt in data.receipts:
        if receipt.receipt_type.value not in practice.receipt_kinds_on_receivable:
            expect.left_out[f"receipt {receipt.receipt_type.value}: not on 应收账款"] += 1
            continue
        billing = contracts.get(receipt.contract_no)
        customer = billing.counterparty_name if billing is not None else receipt.payer_name
        expect.bill(customer, receipt.project_code, -receipt.amount)
    return expect


def _retention_rate(contract: Contract | None, practice: Practice) -> Decimal:
    return contract.retention_rate if contract is not None else practice.default_retention_rate


def _vat_rate(contract: Contract | None, method: VatMethod, practice: Practice) -> Decimal:
    if method is VatMethod.SIMPLE:
        return practice.simple_rate
    return contract.tax_rate if contract is not None else practice.default_vat_rate


# -- party numbers -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Parties:
    """Party name → Kingdee number: the mapping table's row, else the base data yecai created (read
    back from Kingdee by name)."""

    suppliers: Mapping[str, str]
    customers: Mapping[str, str]


def read_parties(client: KingdeeClient, mapping: MappingTable) -> Parties:
    def by_name(form_id: str, table: Mapping[str, str]) -> dict[str, str]:
        found: dict[str, set[str]] = defaultdict(set)
        for number, name in client.query_all(form_id, ["FNumber", "FName"]):
            found[str(name)].add(str(number))
        # a party allocated to several organisations is listed once per organisation: one number
        out = {name: min(numbers) for name, numbers in found.items()}
        out.update(table)
        return out

    return Parties(by_name("BD_Supplier", mapping.suppliers), by_name("BD_Customer", mapping.customers))


def numbered(expect: Expectation, parties: Parties, mapping: MappingTable) -> Expectation:
    """The expectation keyed by Kingdee numbers (a name Kingdee lacks stays visible as `?name`)."""

    def project(code: str) -> str:
        return mapping.project_number(code) or f"?{code}"

    def number(table: Mapping[str, str], name: str) -> str:
        return table.get(name) or f"?{name}"

    out = Expectation(left_out=Counter(expect.left_out))
    for (name, code), amount in expect.payables.items():
        key = (number(parties.suppliers, name), project(code))
        out.payables[key] = out.payables.get(key, ZERO) + amount
    for (account, name, code), amount in expect.payable_accounts.items():
        triple = (account, number(parties.suppliers, name), project(code))
        out.payable_accounts[triple] = out.payable_accounts.get(triple, ZERO) + amount
    for (name, code), amount in expect.receivables.items():
        key = (number(parties.customers, name), project(code))
        out.receivables[key] = out.receivables.get(key, ZERO) + amount
    return out


# -- what Kingdee's 科目余额表 says ------------------------------------------------------------------


def _leaves(balance: TrialBalance, prefix: str) -> list[AccountBalance]:
    """The account `prefix` and its sub-accounts, leaves only (a parent's row repeats its children)."""
    rows = [r for r in balance.rows if r.number == prefix or r.number.startswith(f"{prefix}.")]
    numbers = {r.number for r in rows}
    return [r for r in rows if not any(n.startswith(f"{r.number}.") for n in numbers)]


@dataclass(slots=True)
class Booked:
    """The sub-ledgers as Kingdee holds them (closing balances), keyed like `Expectation`."""

    payables: dict[Key, Decimal] = field(default_factory=dict)  # credit balance, positive
    payable_accounts: dict[tuple[str, str, str], Decimal] = field(default_factory=dict)
    receivables: dict[Key, Decimal] = field(default_factory=dict)  # debit balance, positive
    totals: dict[tuple[str, str], Decimal] = field(default_factory=dict)  # (book, account) → net
    without_party: dict[tuple[str, str], Decimal] = field(default_factory=dict)  # (book, account)


def _party_and_project(numbers: Sequence[str], projects: set[str]) -> tuple[str, str]:
    project = next((n for n in numbers if n in projects), "")
    party = next((n for n in numbers if n != project), "")
    return party, project


def booked_subledgers(balances: Iterable[TrialBalance], projects: Iterable[str]) -> Booked:
    """2202.* per supplier × project and 1122 per customer × project, over every book."""
    codes = set(projects)
    out = Booked()
    for balance in balances:
        for prefix in (PAYABLES, RECEIVABLE):
            for row in _leaves(balance, prefix):
                out.totals[(balance.book, row.number)] = row.closing.net
                covered = ZERO
                for detail in row.details:
                    party, project = _party_and_project(detail.numbers, codes)
                    net = detail.closing.net
                    covered += net
                    if prefix == PAYABLES:
                        out.payables[(party, project)] = out.payables.get((party, project), ZERO) - net
                        triple = (row.number, party, project)
                        out.payable_accounts[triple] = out.payable_accounts.get(triple, ZERO) - net
                    else:
                        out.receivables[(party, project)] = out.receivables.get((party, project), ZERO) + net
                if row.closing.net != covered:
                    out.without_party[(balance.book, row.number)] = row.closing.net - covered
    return out


# -- the comparison ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Difference:
    ledger: str  # 应付 / 应收 / 应付科目
    key: tuple[str, ...]
    booked: Decimal
    expected: Decimal

    @property
    def delta(self) -> Decimal:
        return self.booked - self.expected

    def line(self) -> str:
        return (
            f"{self.ledger:<6} {' × '.join(self.key):<40} booked {self.booked:>16,.2f}  "
            f"expected {self.expected:>16,.2f}  diff {self.delta:>14,.2f}"
        )


def differences(
    ledger: str, booked: Mapping[Any, Decimal], expected: Mapping[Any, Decimal]
) -> list[Difference]:
    """Every key whose booked balance is not the expected one (either side may lack the key),
    largest first."""
    found = [
        Difference(ledger, tuple(key), booked.get(key, ZERO), expected.get(key, ZERO))
        for key in sorted(set(booked) | set(expected))
        if booked.get(key, ZERO) != expected.get(key, ZERO)
    ]
    return sorted(found, key=lambda d: (-abs(d.delta), d.key))


@dataclass(slots=True)
class SubledgerCheck:
    """The result: both sides, their differences, and the trial balances they were read from."""

    expected: Expectation
    booked: Booked
    balances: tuple[TrialBalance, ...]
    supplier_differences: list[Difference]
    customer_differences: list[Difference]
    account_differences: list[Difference]  # supplier × project right, but on another 2202 account
    seconds: float = 0.0
    demo_seconds: float = 0.0

    @property
    def suppliers(self) -> int:
        return len({s for s, _ in (*self.expected.payables, *self.booked.payables)})

    @property
    def customers(self) -> int:
        return len({c for c, _ in (*self.expected.receivables, *self.booked.receivables)})

    @property
    def balanced(self) -> bool:
        return all(b.balanced for b in self.balances)

    def total(self, prefix: str) -> Decimal:
        """Closing net (debit − credit) of the account `prefix` and its sub-accounts, all books."""
        return sum(
            (v for (_book, account), v in self.booked.totals.items() if account.split(".")[0] == prefix),
            ZERO,
        )

    def summary(self) -> str:
        return (
            f"suppliers={self.suppliers} supplier_differences={len(self.supplier_differences)} "
            f"customers={self.customers} customer_differences={len(self.customer_differences)} "
            f"account_differences={len(self.account_differences)} "
            f"payables_2202={self.total(PAYABLES):,.2f} receivable_1122={self.total(RECEIVABLE):,.2f} "
            f"trial_balance={'balanced' if self.balanced else 'UNBALANCED'} "
            f"demo_seconds={self.demo_seconds:.1f} seconds={self.seconds:.1f}"
        )


def compare(expected: Expectation, booked: Booked, balances: Sequence[TrialBalance]) -> SubledgerCheck:
    suppliers = differences("应付", booked.payables, expected.payables)
    wrong = {d.key for d in suppliers}
    accounts = [
        d
        for d in differences("应付科目", booked.payable_accounts, expected.payable_accounts)
        if d.key[1:] not in wrong  # a supplier's wrong total is already listed once
    ]
    return SubledgerCheck(
        expected=expected,
        booked=booked,
        balances=tuple(balances),
        supplier_differences=suppliers,
        customer_differences=differences("应收", booked.receivables, expected.receivables),
        account_differences=accounts,
    )


def read_books(workdir: Path) -> tuple[list[TrialBalance], Parties]:
    """The 科目余额表 with dimensions of every book over the periods the demo posted, and the
    parties by name — from the demo's Kingdee data centre (served again from its directory)."""
    settings = Settings()
    store = open_store(settings.store_url(workdir))
    try:
        span = books_period(store, KINGDEE)
    finally:
        store.close()
    if span is None:
        raise RuntimeError(f"the demo in {workdir} posted nothing")
    server, credentials = start_kingdee(workdir / "kingdee")
    try:
        with KingdeeClient(str(credentials["server_url"]), identity_of(credentials)) as client:
            balances = [
                read_trial_balance(client, book=book, start=span[0], end=span[1], dimensions=True)
                for book in BOOKS
            ]
            parties = read_parties(client, default_mapping())
    finally:
        server.stop()
    return balances, parties


def run_check(
    *,
    projects: int = 3,
    months: int = 1,
    seed: int = 42,
    workdir: Path | None = None,
    today: dt.date | None = None,
) -> SubledgerCheck:
    """The demo into `workdir` (a temporary directory when None), then the sub-ledgers against the
    documents. `today` is the day the demo planned on (retention due), the machine's by default."""
    started = time.perf_counter()
    day = today or dt.date.today()
    with tempfile.TemporaryDirectory(prefix="yecai-subledgers-") as scratch:
        where = workdir or Path(scratch)
        demo = run_demo(workdir=where, projects=projects, months=months, seed=seed)
        demo_seconds = time.perf_counter() - started
        if not demo.ok:
            raise RuntimeError(f"the demo did not run clean: {demo.report.send} {demo.report.check}")
        balances, parties = read_books(where)
    mapping = default_mapping()
    data = generate(projects=projects, months=months, seed=seed)
    practice = Practice.of(default_job_rule_sets(), mapping)
    expected = numbered(expected_subledgers(data, practice, day), parties, mapping)
    booked = booked_subledgers(
        balances, (mapping.project_number(p.project_code) or "" for p in data.projects)
    )
    check = compare(expected, booked, balances)
    check.demo_seconds = demo_seconds
    check.seconds = time.perf_counter() - started
    return check


__all__ = [
    "Booked",
    "Difference",
    "Expectation",
    "Practice",
    "SubledgerCheck",
    "booked_subledgers",
    "compare",
    "expected_subledgers",
    "run_check",
]
