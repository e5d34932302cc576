"""GL_VOUCHER's own rules: what makes a voucher postable, and how it is numbered.

Checks (all MsgCode 11, wording in messages.py): lines on leaf, enabled accounts; the dimensions
each account requires; amounts within the currency's precision; debit or credit on every line;
debits equal credits to the cent; an open period of the account book. Numbering: 凭证号 runs
gap-free per book × year × period × 凭证字; FBillNo comes from VOUCHER_BILLNO_FORMAT.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from yecai.jsonutil import decimal_text
from yecai.sandbox.kingdee.drafts import Draft, SaveContext, entry_where
from yecai.sandbox.kingdee.forms import Form
from yecai.sandbox.kingdee.store import Record, RecordId, Transaction

# FBillNo of a voucher when the client does not give one. The real format is tenant configuration
# (编码规则) and not public; this one is inferred [INF] and only has to be unique per data centre.
VOUCHER_BILLNO_FORMAT = "GL{seq:08d}"
# The rate type a line gets when it names none (the standard 固定汇率 of a fresh tenant).
DEFAULT_RATE_TYPE = "HLTX01_SYS"
REQUIRED_INPUT_TYPE = "1"  # BD_Account.FEntity.FInputType: 1 必录, 0 可选 [INF]

_AMOUNT_KEYS = ("FDEBIT", "FCREDIT", "FAMOUNTFOR")


def closed(ctx: SaveContext, book_number: str, year: int, period: int) -> bool:
    """Whether the seed/data centre lists this period of the book as closed (结账)."""
    for item in ctx.store.meta("closed_periods", []):
        if item.get("book") not in (None, book_number):
            continue
        if int(item["year"]) == year and int(item["period"]) == period:
            return True
    return False


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


class VoucherHook:
    """Validation, derived values and numbering of GL_VOUCHER."""

    def validate(self, ctx: SaveContext, draft: Draft) -> None:
        values = draft.values
        book_form = ctx.form("BD_AccountBook")
        book = (
            ctx.store.get(book_form, values.get("FACCOUNTBOOKID")) if values.get("FACCOUNTBOOKID") else None
        )
        base_currency = book.values.get("FCURRENCYID") if book else None
        if book is not None:
            values["FACCTORGID"] = book.values.get("FACCTORGID")
            values["FBASECURRENCYID"] = base_currency
        date = values.get("FDATE")
        if date is not None:
            values["FYEAR"], values["FPERIOD"] = date.year, date.month
            if values.get("FBUSDATE") is None:
                values["FBUSDATE"] = date
            if book is not None:
                self._check_period(ctx, draft, book, date.year, date.month)
        rows = draft.entries.get("FENTITY", [])
        if not rows:
            draft.problem("voucher_no_entries", "FEntity")
            return
        precision = 2
        debit_total = credit_total = Decimal(0)
        for position, row in enumerate(rows, start=1):
            where = entry_where(position)
            self._check_account(ctx, draft, row, where)
            currency = self._line_currency(ctx, row, base_currency)
            digits = int(currency.values.get("FAMOUNTDIGITS", 2)) if currency else 2
            if currency is not None and currency.id == base_currency:
                precision = digits
            currency_no = str(currency.values.get("FNUMBER", "")) if currency else ""
            for key in _AMOUNT_KEYS:
                amount = row.get(key) or Decimal(0)
                if _decimals(amount) > digits:
                    field = ctx.form("GL_VOUCHER").entities["FENTITY"].fields[key]
                    draft.problem(
                        "amount_precision",
                        field.key,
                        where=where,
                        caption=field.caption,
                        amount=decimal_text(amount),
                        currency=currency_no,
                        precision=digits,
                    )
            debit, credit = row.get("FDEBIT") or Decimal(0), row.get("FCREDIT") or Decimal(0)
            if debit == 0 and credit == 0:
                draft.problem("line_without_amount", "FDEBIT", where=where)
            elif debit != 0 and credit != 0:
                draft.problem("line_both_sides", "FCREDIT", where=where)
            self._complete_line(row, debit, credit, digits)
            debit_total += debit
            credit_total += credit
        quantum = Decimal(1).scaleb(-precision)
        values["FDEBITTOTAL"] = debit_total.quantize(quantum)
        values["FCREDITTOTAL"] = credit_total.quantize(quantum)
        if debit_total != credit_total:
            draft.problem(
                "voucher_unbalanced",
                "FDEBITTOTAL",
                debit=decimal_text(debit_total),
                credit=decimal_text(credit_total),
                difference=decimal_text(debit_total - credit_total),
            )

    def _check_period(self, ctx: SaveContext, draft: Draft, book: Record, year: int, period: int) -> None:
        book_number = str(book.values.get("FNUMBER", ""))
        start = (int(book.values.get("FSTARTYEAR") or 0), int(book.values.get("FSTARTPERIOD") or 0))
        if (year, period) < start:
            draft.problem(
                "period_before_start",
                "FDate",
                date=f"{year:04d}-{period:02d}",
                book=book_number,
                year=start[0],
                period=start[1],
            )
        elif closed(ctx, book_number, year, period):
            draft.problem("period_closed", "FDate", book=book_number, year=year, period=period)

    def _check_account(self, ctx: SaveContext, draft: Draft, row: dict[str, Any], where: str) -> None:
        account_form = ctx.form("BD_Account")
        account_id = row.get("FACCOUNTID")
        account = ctx.store.get(account_form, account_id) if account_id else None
        if account is None:
            return
        number, name = account.values.get("FNUMBER", ""), account.values.get("FNAME", "")
        if account.values.get("FFORBIDSTATUS") == "B":
            draft.problem("base_data_forbidden", "FACCOUNTID", where=where, caption="科目编码", value=number)
            return
        if not account.values.get("FISDETAIL"):
            draft.problem("account_not_leaf", "FACCOUNTID", where=where, number=number, name=name)
            return
        given = (row.get("FDETAILID") or {}).get("dims", {})
        for dimension_key, dimension_name in self._required_dimensions(ctx, account):
            if dimension_key not in given:
                draft.problem(
                    "dimension_required",
                    "FDetailID",
                    where=where,
                    number=number,
                    name=name,
                    dimension=dimension_name,
                )

    def _required_dimensions(self, ctx: SaveContext, account: Record) -> list[tuple[str, str]]:
        property_form = ctx.form("BD_FLEXITEMPROPERTY")
        required: list[tuple[str, str]] = []
        for entry in account.entries.get("FENTITY", []):
            if entry.get("FINPUTTYPE") != REQUIRED_INPUT_TYPE:
                continue
            prop_id = entry.get("FFLEXITEMPROPERTYID")
            prop = ctx.store.get(property_form, prop_id) if prop_id else None
            if prop is not None:
                required.append(
                    (str(prop.values.get("FFLEXNUMBER", "")).upper(), str(prop.values.get("FNAME")))
                )
        return required

    def _line_currency(
        self, ctx: SaveContext, row: dict[str, Any], base_currency: RecordId | None
    ) -> Record | None:
        currency_form = ctx.form("BD_Currency")
        if not row.get("FCURRENCYID") and base_currency:
            row["FCURRENCYID"] = base_currency
        if not row.get("FEXCHANGERATETYPE"):
            rate_form = ctx.form("BD_RateType")
            row["FEXCHANGERATETYPE"] = ctx.store.find_number(rate_form, DEFAULT_RATE_TYPE) or 0
        currency_id = row.get("FCURRENCYID")
        return ctx.store.get(currency_form, currency_id) if currency_id else None

    @staticmethod
    def _complete_line(row: dict[str, Any], debit: Decimal, credit: Decimal, digits: int) -> None:
        quantum = Decimal(1).scaleb(-digits)
        rate = row.get("FEXCHANGERATE") or Decimal(0)
        if rate == 0:
            rate = Decimal(1)
            row["FEXCHANGERATE"] = rate
        amount = debit if debit != 0 else credit
        row["FAMOUNT"] = amount.quantize(quantum) if _decimals(amount) <= digits else amount
        row["FDC"] = 1 if debit != 0 else -1
        for key in ("FDEBIT", "FCREDIT"):
            value = row.get(key) or Decimal(0)
            row[key] = value.quantize(quantum) if _decimals(value) <= digits else value
        amount_for = row.get("FAMOUNTFOR") or Decimal(0)
        if amount_for == 0:
            amount_for = amount / rate
        row["FAMOUNTFOR"] = amount_for.quantize(quantum) if _decimals(amount_for) <= digits else amount_for

    def assign(self, ctx: SaveContext, tx: Transaction, draft: Draft) -> None:
        values, existing = draft.values, draft.existing
        bucket = (values["FACCOUNTBOOKID"], values["FYEAR"], values["FPERIOD"], values["FVOUCHERGROUPID"])
        if existing is None or _bucket(existing) != bucket:
            counter = "voucherno:{}:{}:{}:{}".format(*bucket)
            values["FVOUCHERGROUPNO"] = str(tx.next_value(counter, first=1))
        if not str(values.get("FBILLNO") or "").strip():
            values["FBILLNO"] = _next_bill_no(ctx.form("GL_VOUCHER"), ctx, tx)

    def after_put(self, ctx: SaveContext, tx: Transaction, record: Record) -> None:
        return None


def _bucket(record: Record) -> tuple[Any, ...]:
    v = record.values
    return (v.get("FACCOUNTBOOKID"), v.get("FYEAR"), v.get("FPERIOD"), v.get("FVOUCHERGROUPID"))


def _next_bill_no(form: Form, ctx: SaveContext, tx: Transaction) -> str:
    while True:
        candidate = VOUCHER_BILLNO_FORMAT.format(seq=tx.next_value("billno:GL_VOUCHER", first=1))
        if ctx.store.find_number(form, candidate) is None:
            return candidate
