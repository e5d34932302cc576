"""Invoice matching (三单匹配): cost ↔ invoice ↔ payment per supplier contract, the unmatched listed.

Per contract (a cost, invoice or payment without a contract is matched by supplier on its project),
for a period or cumulatively: the cost booked (ex-VAT), the invoices received (net, tax, total) and
the payments made; then every item that does not match — cost without an invoice (what 暂估入账
accrues), an invoice without the cost behind it, a payment beyond the invoices received. Pure: it
reads canonical documents, so the console, the CLI and tests call it alike.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from yecai import labels
from yecai.domain.documents import (
    Contract,
    ContractKind,
    CostRecord,
    Invoice,
    InvoiceDirection,
    PaymentRequest,
    PaymentStatus,
)
from yecai.domain.money import money_sum

TOLERANCE = Decimal("0.01")  # one cent: invoices round tax per line, ledgers per record


class Mismatch(StrEnum):
    COST_WITHOUT_INVOICE = "cost_without_invoice"  # 有成本未到票 (暂估)
    INVOICE_WITHOUT_COST = "invoice_without_cost"  # 有票无成本
    PAYMENT_BEYOND_INVOICES = "payment_beyond_invoices"  # 付款超过到票 (预付)


MISMATCH_ZH = {kind: labels.VOCABULARY["mismatch"][kind.value][0] for kind in Mismatch}


@dataclass(frozen=True, slots=True)
class ContractMatch:
    """One contract's figures (or one supplier's on a project when there is no contract)."""

    key: str  # the contract number, or "项目/供应商"
    project_code: str
    counterparty: str
    contract_no: str | None
    cost: Decimal  # ex-VAT
    invoiced_net: Decimal
    invoiced_tax: Decimal
    invoiced_total: Decimal
    paid: Decimal

    @property
    def uninvoiced(self) -> Decimal:
        """Cost not yet invoiced (> 0) or invoiced ahead of the cost (< 0)."""
        return self.cost - self.invoiced_net

    @property
    def unpaid(self) -> Decimal:
        """Invoiced but not paid (> 0), or paid beyond the invoices (< 0)."""
        return self.invoiced_total - self.paid


@dataclass(frozen=True, slots=True)
class Unmatched:
    """An item that does not match, with the documents behind it and what to do (中文 / English)."""

    kind: Mismatch
    key: str
    project_code: str
    counterparty: str
    amount: Decimal
    documents: tuple[str, ...]
    zh: str
    en: str


@dataclass(slots=True)
class MatchingResult:
    period: str | None
    rows: list[ContractMatch] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)

    def table(self) -> str:
        """The result as a plain-text table with Chinese headers (CLI, e-mail, logs)."""
        headers = (
            "合同/供应商",
            "项目",
            "往来单位",
            "成本(不含税)",
            "到票金额",
            "到票税额",
            "价税合计",
            "已付款",
            "未到票",
            "未付款",
        )
        rows = [
            (
                r.key,
                r.project_code,
                r.counterparty,
                *(
                    f"{v:,.2f}"
                    for v in (
                        r.cost,
                        r.invoiced_net,
                        r.invoiced_tax,
                        r.invoiced_total,
                        r.paid,
                        r.uninvoiced,
                        r.unpaid,
                    )
                ),
            )
            for r in self.rows
        ]
        out = [f"三单匹配（成本 ↔ 发票 ↔ 付款）{self.period or '累计'}", _grid(headers, rows)]
        if self.unmatched:
            out.append(f"未匹配 {len(self.unmatched)} 项")
            out.append(
                _grid(
                    ("类型", "合同/供应商", "项目", "往来单位", "金额", "单据"),
                    [
                        (
                            MISMATCH_ZH[u.kind],
                            u.key,
                            u.project_code,
                            u.counterparty,
                            f"{u.amount:,.2f}",
                            "、".join(u.documents),
                        )
                        for u in self.unmatched
                    ],
                )
            )
        else:
            out.append("全部匹配")
        return "\n".join(out)


def _width(text: str) -> int:
    # CJK characters take two columns in a terminal.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _grid(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max([_width(h), *(_width(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def line(cells: Iterable[str]) -> str:
        return "  ".join(c + " " * (w - _width(c)) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(headers), line("-" * w for w in widths), *(line(r) for r in rows)])


def _period_of(day: dt.date | None) -> str | None:
    return f"{day:%Y-%m}" if day else None


def _paid_date(request: PaymentRequest) -> dt.date:
    return request.paid_date or request.expected_pay_date or request.request_date


def match_contracts(
    contracts: Iterable[Contract],
    costs: Iterable[CostRecord],
    invoices: Iterable[Invoice],
    payments: Iterable[PaymentRequest],
    *,
    period: str | None = None,
) -> MatchingResult:
    """Cost ↔ invoice ↔ payment per supplier contract for `period` (YYYY-MM; None: everything).

    Costs count by business date, invoices (received only) by issue date, payments (status paid)
    by their bank date (else the expected pay date). Income contracts are not matched here.
    """
    by_number = {c.contract_no: c for c in contracts}

    def key_of(project: str | None, contract_no: str | None, party: str) -> tuple[str, str, str]:
        contract = by_number.get(contract_no or "")
        if contract is not None:
            return contract.contract_no, contract.project_code, contract.counterparty
        return f"{project or '-'}/{party}", project or "-", party

    def wanted(day: dt.date | None) -> bool:
        return period is None or _period_of(day) == period

    cost: dict[tuple[str, str, str], list[CostRecord]] = defaultdict(list)
    for record in costs:
        party = record.supplier_name or (
            by_number[record.contract_no].counterparty if record.contract_no in by_number else None
        )
        if not party or not wanted(record.business_date):
            continue  # own wages, depreciation: nobody invoices them
        contract = by_number.get(record.contract_no or "")
        if contract is not None and contract.contract_kind is ContractKind.INCOME:
            continue
        cost[key_of(record.project_code, record.contract_no, party)].append(record)
    received: dict[tuple[str, str, str], list[Invoice]] = defaultdict(list)
    for invoice in invoices:
        if invoice.direction is InvoiceDirection.IN and wanted(invoice.issue_date):
            received[key_of(invoice.project_code, invoice.contract_no, invoice.seller_name)].append(invoice)
    paid: dict[tuple[str, str, str], list[PaymentRequest]] = defaultdict(list)
    for request in payments:
        if request.status is PaymentStatus.PAID and wanted(_paid_date(request)):
            paid[key_of(request.project_code, request.contract_no, request.payee_name)].append(request)

    result = MatchingResult(period)
    for key in sorted(set(cost) | set(received) | set(paid)):
        number, project, party = key
        records, bills, payouts = cost.get(key, []), received.get(key, []), paid.get(key, [])
        row = ContractMatch(
            number,
            project,
            party,
            number if number in by_number else None,
            money_sum(r.amount for r in records),
            money_sum(i.amount for i in bills),
            money_sum(i.tax_amount for i in bills),
            money_sum(i.total for i in bills),
            money_sum(p.amount for p in payouts),
        )
        result.rows.append(row)
        result.unmatched.extend(_unmatched(row, records, bills, payouts))
    return result


def _unmatched(
    row: ContractMatch, records: list[CostRecord], bills: list[Invoice], payouts: list[PaymentRequest]
) -> list[Unmatched]:
    out: list[Unmatched] = []
    where = (row.key, row.project_code, row.counterparty)
    if row.uninvoiced > TOLERANCE:
        out.append(
            Unmatched(
                Mismatch.COST_WITHOUT_INVOICE,
                *where,
                row.uninvoiced,
                tuple(sorted(r.source_key for r in records)),
                f"{row.key}（{row.counterparty}）成本 {row.cost:.2f} 中 {row.uninvoiced:.2f} 尚未收到发票，月末应暂估入账",
                f"{row.key} ({row.counterparty}): {row.uninvoiced:.2f} of the cost {row.cost:.2f} has no "
                "invoice yet; accrue it at month end",
            )
        )
    elif row.uninvoiced < -TOLERANCE:
        out.append(
            Unmatched(
                Mismatch.INVOICE_WITHOUT_COST,
                *where,
                -row.uninvoiced,
                tuple(sorted(i.invoice_no for i in bills)),
                f"{row.key}（{row.counterparty}）到票 {row.invoiced_net:.2f} 超过成本 {row.cost:.2f}，请核对成本台账是否漏记",
                f"{row.key} ({row.counterparty}): invoices {row.invoiced_net:.2f} exceed the cost "
                f"{row.cost:.2f}; check the cost ledger for missing lines",
            )
        )
    if row.unpaid < -TOLERANCE:
        out.append(
            Unmatched(
                Mismatch.PAYMENT_BEYOND_INVOICES,
                *where,
                -row.unpaid,
                tuple(sorted(p.request_no for p in payouts)),
                f"{row.key}（{row.counterparty}）已付款 {row.paid:.2f} 超过到票 {row.invoiced_total:.2f}，超付部分为预付款，请催票",
                f"{row.key} ({row.counterparty}): paid {row.paid:.2f} beyond the invoices {row.invoiced_total:.2f}; "
                "the excess is a prepayment, ask for the invoice",
            )
        )
    return out
