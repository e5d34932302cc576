"""The amount rules of AP / AR / CN bills (应付单, 应收单, 其他应付单, 付款单, 付款申请单).

Each bill has one main entry entity whose rows must add up: 价税合计 = 不含税金额 + 税额, derived
from whichever the client sent (plus 税率, or 数量 × 含税单价), rounded ROUND_HALF_UP to the
currency's precision; header totals are the sums. The rules are rows in `RULES`, not code per form.
Optionally (`SandboxSettings.check_bill_periods`) a bill dated in a closed GL period is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from yecai.jsonutil import decimal_text
from yecai.sandbox.kingdee.drafts import BaseHook, Draft, SaveContext, entry_where
from yecai.sandbox.kingdee.forms import Entity

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class BillRule:
    """How a bill's main entity relates its amounts, and which header fields sum them."""

    entity: str
    gross: str  # 价税合计 / 总金额 / 申请付款金额 / 应付金额
    net: str | None = None  # 不含税金额
    tax: str | None = None  # 税额
    rate: str | None = None  # 税率(%)
    qty: str | None = None  # 计价数量
    price: str | None = None  # 含税单价
    discount: str | None = None  # 现金折扣: paid = gross − discount
    paid: tuple[str, ...] = ()  # entry fields that receive the amount after discount
    sign: str = "positive"  # "positive": gross > 0; "nonzero": red bills (红字) allowed
    # (header or 子单据头 key, entry key summed into it, converted to base currency)
    totals: tuple[tuple[str, str, bool], ...] = ()


RULES: dict[str, BillRule] = {
    "AP_PAYABLE": BillRule(
        "FENTITYDETAIL",
        gross="FALLAMOUNTFOR_D",
        net="FNOTAXAMOUNTFOR_D",
        tax="FTAXAMOUNTFOR_D",
        rate="FENTRYTAXRATE",
        qty="FPRICEQTY",
        price="FTAXPRICE",
        sign="nonzero",
        totals=(
            ("FALLAMOUNTFOR", "FALLAMOUNTFOR_D", False),
            ("FNOTAXAMOUNTFOR", "FNOTAXAMOUNTFOR_D", False),
            ("FTAXAMOUNTFOR", "FTAXAMOUNTFOR_D", False),
            ("FALLAMOUNT", "FALLAMOUNTFOR_D", True),
        ),
    ),
    "AP_OTHERPAYABLE": BillRule(
        "FENTITY",
        gross="FTOTALAMOUNTFOR",
        net="FNOTAXAMOUNTFOR",
        tax="FTAXAMOUNTFOR",
        rate="FENTRYTAXRATE",
        sign="nonzero",
        totals=(
            ("FTOTALAMOUNTFOR_H", "FTOTALAMOUNTFOR", False),
            ("FNOTAXAMOUNT", "FNOTAXAMOUNTFOR", True),
            ("FTAXAMOUNT", "FTAXAMOUNTFOR", True),
        ),
    ),
    "CN_PAYAPPLY": BillRule(
        "FPAYAPPLYENTRY",
        gross="FAPPLYAMOUNTFOR",
        totals=(("FAPPLYAMOUNTFOR_H", "FAPPLYAMOUNTFOR", False), ("FPAYAMOUNTFOR_H", "FPAYAMOUNTFOR", False)),
    ),
    "AP_PAYBILL": BillRule(
        "FPAYBILLENTRY",
        gross="FPAYTOTALAMOUNTFOR",
        discount="FSETTLEDISTAMOUNTFOR",
        paid=("FSETTLEPAYAMOUNTFOR", "FREALPAYAMOUNTFOR_D", "FPAYAMOUNTFOR_E"),
        totals=(
            ("FPAYTOTALAMOUNTFOR_H", "FPAYTOTALAMOUNTFOR", False),
            ("FREALPAYAMOUNTFOR_H", "FREALPAYAMOUNTFOR_D", False),
            ("FPAYAMOUNTFOR", "FPAYAMOUNTFOR_E", False),
        ),
    ),
}
RULES["AR_RECEIVABLE"] = RULES["AP_PAYABLE"]

_RATE_KEYS = ("FEXCHANGERATE",)  # header or 子单据头


def closed_anywhere(ctx: SaveContext, year: int, period: int) -> bool:
    """Whether any account book has closed this period (AP/AR follow the GL calendar here)."""
    return any(
        int(i["year"]) == year and int(i["period"]) == period for i in ctx.store.meta("closed_periods", [])
    )


class PayableHook(BaseHook):
    """Amount arithmetic, totals and (optionally) the period check of AP/AR/CN bills."""

    def validate(self, ctx: SaveContext, draft: Draft) -> None:
        form = draft.form
        rule = RULES.get(form.form_id.upper())
        if rule is None:
            return
        entity = form.entities[rule.entity]
        rows = draft.entries.get(rule.entity, [])
        if not rows:
            draft.problem("bill_no_entries", entity.key, form_name=form.name, entity="明细")
            return
        currency = self._currency(ctx, draft)
        digits = int(currency.values.get("FAMOUNTDIGITS", 2)) if currency else 2
        currency_no = str(currency.values.get("FNUMBER", "")) if currency else ""
        quantum = Decimal(1).scaleb(-digits)
        for position, row in enumerate(rows, start=1):
            where = entry_where(position)
            if self._precision_ok(draft, entity, row, where, digits, currency_no):
                self._derive(draft, entity, rule, row, where, quantum)
        rate = self._exchange_rate(draft)
        subhead = next(
            (rows[0] for key, rows in draft.entries.items() if form.entities[key].single and rows), None
        )
        for target, source, to_base in rule.totals:
            total = sum((row.get(source) or _ZERO for row in rows), _ZERO)
            if to_base:
                total = total * rate
            holder = draft.values if target in form.fields else subhead
            if holder is not None:
                holder[target] = total.quantize(quantum, rounding=ROUND_HALF_UP)
        self._check_period(ctx, draft)

    @staticmethod
    def _currency(ctx: SaveContext, draft: Draft) -> Any:
        currency_id = draft.values.get("FCURRENCYID")
        return ctx.store.get(ctx.form("BD_Currency"), currency_id) if currency_id else None

    @staticmethod
    def _exchange_rate(draft: Draft) -> Decimal:
        holders = [draft.values, *(rows[0] for rows in draft.entries.values() if len(rows) == 1)]
        for holder in holders:
            for key in _RATE_KEYS:
                rate = holder.get(key)
                if isinstance(rate, Decimal) and rate != 0:
                    return rate
        return Decimal(1)

    @staticmethod
    def _precision_ok(
        draft: Draft, entity: Entity, row: dict[str, Any], where: str, digits: int, currency: str
    ) -> bool:
        checked = [
            draft.check_precision(field, value, where, currency, digits)
            for key, field in entity.fields.items()
            if field.amount and not field.system and isinstance(value := row.get(key), Decimal)
        ]
        return all(checked)

    @staticmethod
    def _derive(
        draft: Draft, entity: Entity, rule: BillRule, row: dict[str, Any], where: str, quantum: Decimal
    ) -> None:
        def amount(key: str | None) -> Decimal:
            value = row.get(key) if key else None
            return value if isinstance(value, Decimal) else _ZERO

        gross = amount(rule.gross)
        if gross == 0 and rule.qty and rule.price and amount(rule.qty) and amount(rule.price):
            gross = (amount(rule.qty) * amount(rule.price)).quantize(quantum, rounding=ROUND_HALF_UP)
        if rule.net and rule.tax:
            net, tax, rate = amount(rule.net), amount(rule.tax), amount(rule.rate) / 100
            if gross == 0 and net != 0:
                if tax == 0 and rate:
                    tax = (net * rate).quantize(quantum, rounding=ROUND_HALF_UP)
                gross = net + tax
            elif gross != 0 and net == 0 and tax == 0:
                net = (gross / (1 + rate)).quantize(quantum, rounding=ROUND_HALF_UP)
                tax = gross - net
            elif gross != net + tax:
                fields = entity.fields
                draft.problem(
                    "amount_mismatch",
                    fields[rule.gross].key,
                    where=where,
                    total_caption=fields[rule.gross].caption,
                    total=decimal_text(gross),
                    net_caption=fields[rule.net].caption,
                    net=decimal_text(net),
                    tax_caption=fields[rule.tax].caption,
                    tax=decimal_text(tax),
                )
            row[rule.net], row[rule.tax] = net, tax
        row[rule.gross] = gross
        gross_field = entity.fields[rule.gross]
        if gross == 0 and rule.sign == "nonzero":
            draft.problem("amount_zero", gross_field.key, where=where, caption=gross_field.caption)
        elif gross <= 0 and rule.sign == "positive":
            draft.problem("amount_not_positive", gross_field.key, where=where, caption=gross_field.caption)
        paid = gross - amount(rule.discount)
        for key in rule.paid:
            row[key] = paid

    @staticmethod
    def _check_period(ctx: SaveContext, draft: Draft) -> None:
        date = draft.values.get("FDATE")
        if not ctx.settings.check_bill_periods or date is None:
            return
        if closed_anywhere(ctx, date.year, date.month):
            field = draft.form.fields["FDATE"]
            draft.problem(
                "bill_period_closed",
                field.key,
                caption=field.caption,
                date=date.strftime("%Y-%m-%d"),
                year=date.year,
                period=date.month,
                form_name=draft.form.name,
            )
