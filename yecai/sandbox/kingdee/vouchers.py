"""GL_VOUCHER's own rules: what makes a voucher postable, and how it is numbered.

Checks (all MsgCode 11, wording in messages.py): lines on leaf, enabled accounts of the book's
科目表 (an account number resolves within the chart of the voucher's book); the dimensions
each account requires; amounts within the currency's precision; debit or credit on every line;
debits equal credits to the cent; an open period of the account book — for saving and for every
status operation. Numbering: 凭证号 runs gap-free per book × year × period × 凭证字; FBillNo comes
from the form's `number_format` (numbering.py).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from yecai.jsonutil import decimal_text
from yecai.sandbox.kingdee.drafts import BaseHook, Draft, SaveContext, decimal_places, entry_where
from yecai.sandbox.kingdee.envelopes import Problem
from yecai.sandbox.kingdee.store import Record, RecordId, Transaction

# The rate type a line gets when it names none (the standard 固定汇率 of a fresh tenant).
DEFAULT_RATE_TYPE = "HLTX01_SYS"
REQUIRED_INPUT_TYPE = "1"  # BD_Account.FEntity.FInputType: 1 必录, 0 可选 [INF]

_AMOUNT_KEYS = ("FDEBIT", "FCREDIT", "FAMOUNTFOR")


# Status operations a closed period forbids on its vouchers (结账后凭证不能再审核、反审核、删除).
_PERIOD_BOUND_OPERATIONS = frozenset({"Submit", "Audit", "UnAudit", "Delete", "CancelAssign"})


def closed(ctx: SaveContext, book_number: str, year: int, period: int) -> bool:
    """Whether the seed/data centre lists this period of the book as closed (结账)."""
    for item in ctx.store.meta("closed_periods", []):
        if item.get("book") not in (None, book_number):
            continue
        if int(item["year"]) == year and int(item["period"]) == period:
            return True
    return False


class VoucherHook(BaseHook):
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
            if self._in_book_chart(ctx, draft, book, row, where):
                self._check_account(ctx, draft, row, where)
            currency = self._line_currency(ctx, row, base_currency)
            digits = int(currency.values.get("FAMOUNTDIGITS", 2)) if currency else 2
            if currency is not None and currency.id == base_currency:
                precision = digits
            currency_no = str(currency.values.get("FNUMBER", "")) if currency else ""
            entry_fields = draft.form.entities["FENTITY"].fields
            for key in _AMOUNT_KEYS:
                draft.check_precision(
                    entry_fields[key], row.get(key) or Decimal(0), where, currency_no, digits
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

    def _in_book_chart(
        self, ctx: SaveContext, draft: Draft, book: Record | None, row: dict[str, Any], where: str
    ) -> bool:
        """Point the line at the account of its number in the book's 科目表, or refuse the line.

        The reference was resolved by number before the book was known (to the first chart holding
        it); the book decides which chart counts [INF: a tenant filters the 科目 F7 by the book].
        """
        account_form = ctx.form("BD_Account")
        account_id = row.get("FACCOUNTID")
        account = ctx.store.get(account_form, account_id) if account_id else None
        if account is None or book is None:
            return True
        table = book.values.get("FACCTTABLEID")
        if account.values.get("FACCTTBLID") == table:
            return True
        number = str(account.values.get("FNUMBER", ""))
        found = ctx.store.find_number(account_form, number, (table,))
        if found is not None:
            row["FACCOUNTID"] = found
            return True
        chart = ctx.store.get(ctx.form("BD_ACCOUNTTABLE"), table) if table else None
        draft.problem(
            "account_not_in_book_chart",
            "FACCOUNTID",
            where=where,
            number=number,
            book=str(book.values.get("FNUMBER", "")),
            table=str(chart.values.get("FNAME", "")) if chart else "",
        )
        return False

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
        # Asked for every line of the call; the answer stands while neither the account (records
        # are replaced, never changed in place) nor any 核算维度 changes.
        generation = ctx.store.generation(property_form)
        remembered = ctx.lookups.get(("required_dimensions", account.id))
        if remembered is not None and remembered[0] is account and remembered[1] == generation:
            return remembered[2]  # type: ignore[no-any-return]
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
        ctx.lookups[("required_dimensions", account.id)] = (account, generation, required)
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
        row["FAMOUNT"] = amount.quantize(quantum) if decimal_places(amount) <= digits else amount
        row["FDC"] = 1 if debit != 0 else -1
        for key in ("FDEBIT", "FCREDIT"):
            value = row.get(key) or Decimal(0)
            row[key] = value.quantize(quantum) if decimal_places(value) <= digits else value
        amount_for = row.get("FAMOUNTFOR") or Decimal(0)
        if amount_for == 0:
            amount_for = amount / rate
        row["FAMOUNTFOR"] = (
            amount_for.quantize(quantum) if decimal_places(amount_for) <= digits else amount_for
        )

    def assign(self, ctx: SaveContext, tx: Transaction, draft: Draft) -> None:
        values, existing = draft.values, draft.existing
        bucket = (values["FACCOUNTBOOKID"], values["FYEAR"], values["FPERIOD"], values["FVOUCHERGROUPID"])
        numbered = existing is not None and str(existing.values.get("FVOUCHERGROUPNO") or "").strip()
        if not numbered or _bucket(existing) != bucket:
            counter = "voucherno:{}:{}:{}:{}".format(*bucket)
            values["FVOUCHERGROUPNO"] = str(tx.next_value(counter, first=1))

    def check_operation(
        self, ctx: SaveContext, record: Record, operation: str, caption: str
    ) -> list[Problem]:
        problems: list[Problem] = []
        book_id, year, period = (record.values.get(k) for k in ("FACCOUNTBOOKID", "FYEAR", "FPERIOD"))
        book = ctx.store.get(ctx.form("BD_AccountBook"), book_id) if book_id else None
        if (
            operation in _PERIOD_BOUND_OPERATIONS
            and book is not None
            and year
            and closed(ctx, str(book.values.get("FNUMBER", "")), year, period)
        ):
            problems.append(
                Problem.of("voucher_period_closed_op", "FDate", year=year, period=period, operation=caption)
            )
        creator = record.values.get("FCREATORID")
        if (
            operation == "Audit"
            and not ctx.settings.voucher_creator_may_audit
            and creator
            and creator == ctx.user
        ):
            problems.append(Problem.of("voucher_self_audit", "FCHECKERID"))
        return problems


def _bucket(record: Record | None) -> tuple[Any, ...]:
    v = record.values if record is not None else {}
    return (v.get("FACCOUNTBOOKID"), v.get("FYEAR"), v.get("FPERIOD"), v.get("FVOUCHERGROUPID"))
