"""Invoices of one project: received from suppliers (进项) and issued to the owner (销项).

Suppliers of daily costs invoice once a month per contract and rate, one line per item, team or
machine; expenses come with their own invoice; the owner is invoiced each approved valuation less
retention. Tax is rounded per line and summed, as on real invoices; total = amount + tax exactly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from yecai.sandbox.pm import names, parties
from yecai.sandbox.pm.models import CENT, CostCategory, CostRecord, Project
from yecai.sandbox.pm.records import Invoice, InvoiceDirection, InvoiceLine, InvoiceType

_DIGITAL_SHARE = 0.85
# 税收分类简称 of what suppliers sell, as 数电 invoices print it: *简称*货物名称.
_GOODS_CLASS = {
    "钢筋": "黑色金属冶炼压延品",
    "盘螺": "黑色金属冶炼压延品",
    "商品混凝土": "水泥制品",
    "水泥": "水泥",
    "中砂": "非金属矿物制品",
    "碎石": "非金属矿物制品",
    "加气混凝土砌块": "非金属矿物制品",
    "预拌砂浆": "非金属矿物制品",
    "木模板": "木制品",
    "方木": "木制品",
    "电力电缆": "电线电缆",
    "铜芯电线": "电线电缆",
    "镀锌钢管": "金属制品",
    "球墨铸铁管": "金属制品",
    "PVC-U排水管": "塑料制品",
    "HDPE双壁波纹管": "塑料制品",
    "SBS改性沥青防水卷材": "非金属矿物制品",
    "沥青混凝土": "非金属矿物制品",
    "水泥稳定碎石": "非金属矿物制品",
}


def line(
    item_name: str,
    spec: str,
    unit: str,
    quantity: Decimal | None,
    unit_price: Decimal | None,
    amount: Decimal,
    rate: Decimal,
) -> InvoiceLine:
    return InvoiceLine(
        item_name=item_name,
        spec=spec,
        unit=unit,
        quantity=quantity,
        unit_price=unit_price,
        amount=amount,
        tax_rate=rate,
        tax_amount=(amount * rate).quantize(CENT, ROUND_HALF_UP),
    )


def lines_for(records: list[CostRecord], rate: Decimal) -> tuple[InvoiceLine, ...]:
    """One line per item, team or machine (at one price) of a supplier's month, in first-seen order."""
    groups: dict[tuple[str, str, Decimal], list[CostRecord]] = {}
    for record in records:
        if record.category is CostCategory.LABOUR:
            key = ("*建筑服务*劳务分包", record.team_name or "", record.unit_price)
        elif record.category is CostCategory.MATERIAL:
            name, _, spec = record.description.partition(" ")
            key = (f"*{_GOODS_CLASS.get(name, '建筑材料')}*{name}", spec, record.unit_price)
        else:
            leased = "*建筑服务*工程机械租赁" if rate == Decimal("0.09") else "*经营租赁*机械设备租赁"
            key = (leased, record.description.split(" 租赁")[0], record.unit_price)
        groups.setdefault(key, []).append(record)
    out = []
    for (item_name, spec, price), rows in groups.items():
        quantity = sum((r.quantity for r in rows), Decimal(0))
        amount = sum((r.amount for r in rows), Decimal("0.00"))
        out.append(line(item_name, spec, rows[0].unit, quantity, price, amount, rate))
    return tuple(out)


@dataclass(slots=True)
class InvoiceBook:
    """Numbers a project's invoices in the order they are issued."""

    project: Project
    project_index: int
    sequence: int = 0

    def issue(
        self,
        rng: random.Random,
        *,
        direction: InvoiceDirection,
        special: bool,
        issue_date: date,
        seller: str,
        buyer: str,
        lines: tuple[InvoiceLine, ...],
        contract_no: str | None,
        period: str,
        created_at: datetime,
    ) -> Invoice:
        self.sequence += 1
        digital = rng.random() < _DIGITAL_SHARE
        issuer = seller if direction is InvoiceDirection.IN else self.project.city.removesuffix("市")
        province = parties.region_of(issuer)[:2]
        number = parties.invoice_number(self.project_index, self.sequence, digital, issue_date.year, province)
        if digital:
            type_name = "电子发票（增值税专用发票）" if special else "电子发票（普通发票）"
            code = None
        else:
            type_name = "增值税专用发票" if special else "增值税普通发票"
            code = parties.invoice_code(special, issue_date.year, province, self.sequence)
        amount = sum((item.amount for item in lines), Decimal("0.00"))
        tax = sum((item.tax_amount for item in lines), Decimal("0.00"))
        return Invoice(
            invoice_no=number,
            invoice_code=code,
            direction=direction,
            invoice_type=InvoiceType.SPECIAL if special else InvoiceType.ORDINARY,
            invoice_type_name=type_name,
            issue_date=issue_date,
            project_code=self.project.project_code,
            seller_name=seller,
            seller_tax_id=parties.tax_id(seller),
            buyer_name=buyer,
            buyer_tax_id=parties.tax_id(buyer),
            amount=amount,
            tax_rate=lines[0].tax_rate,
            tax_amount=tax,
            total_amount=amount + tax,
            contract_no=contract_no,
            period=period,
            certified=False,
            lines=lines,
            created_at=created_at,
            updated_at=created_at,
        )


CONTRACTOR = names.CONTRACTOR_NAME
