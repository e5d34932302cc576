"""GetSysReportData for GL_RPT_AccountBalance (科目余额表), computed from the vouchers (§6.12).

For one account book and a period range: opening balance (all periods before the start), the
debit and credit of the range, year-to-date and closing balance, per account of the book's 科目表 — leaf accounts and
every parent rolled up — and optionally per dimension combination (FSHOWDETAIL). Amounts are
Decimal, rounded to the currency. Balances show on the account's own side (借 or 贷), negative when
the balance is on the other side [INF]. Drafts (Z) never count; unaudited vouchers count only with
FNOTPOSTVOUCHER (包括未过账凭证), whose default is `SandboxSettings.report_include_unposted` —
the sandbox treats an audited voucher as posted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from yecai.sandbox.kingdee import params
from yecai.sandbox.kingdee.drafts import SaveContext
from yecai.sandbox.kingdee.envelopes import Problem, response_status
from yecai.sandbox.kingdee.forms import Field
from yecai.sandbox.kingdee.query import MAX_LIMIT
from yecai.sandbox.kingdee.references import resolve_reference
from yecai.sandbox.kingdee.store import Record, RecordId
from yecai.sandbox.kingdee.values import to_bool

ACCOUNT_BALANCE = "GL_RPT_AccountBalance"
# Real report form ids the sandbox does not compute (§6.12): answered "not supported", not "no such form".
OTHER_REPORTS = {
    "AP_SUMREPORT",
    "AR_SUMREPORT",
    "CN_FUNDPOSITIONREPORT",
    "CN_BANKDETAILREPORT",
    "HS_INOUTSTOCKSUMMARYRPT",
    "GL_AGINGSCHEDULE",
}
ALL_CURRENCIES = "综合本位币"
# The filter Model keys of the 科目余额表 doc page; all accepted, those in `_IGNORED` have no effect.
MODEL_KEYS = {
    "FACCTENTITY", "FACCTBOOKID", "FCURRENCY", "FSTARTYEAR", "FSTARTPERIOD", "FENDYEAR", "FENDPERIOD",
    "FSTARTBALANCE", "FENDBALANCE", "FFORBIDBALANCE", "FNOTPOSTVOUCHER", "FDEBITORCREDIT", "FBALANCEZERO",
    "FNOBUSINESS", "FPERIODNOBALANCE", "FYEARNOBALANCE", "FBALANCELEVEL", "FSHOWDETAIL", "FSHOWFULLNAME",
    "FDETAILSHOWACCT", "FSHOWDETAILONLY", "FEXCLUDEADJUSTVCH", "FFLEXDEBITORCREDIT", "FSHOWFLEXBYCOL",
}  # fmt: skip
COLUMNS = (
    "FBALANCEID", "FBALANCENAME", "FACCTTYPE", "FACCTGROUP", "FDETAILNUMBER", "FDETAILNAME", "FCyName",
    "FBEGINYEARDEBIT", "FBEGINYEARDEBITLOCAL", "FBEGINYEARCREDIT", "FBEGINYEARCREDITLOCAL",
    "FBEGINDEBIT", "FBEGINDEBITLOCAL", "FBEGINCREDIT", "FBEGINCREDITLOCAL",
    "FDEBIT", "FDEBITLOCAL", "FCREDIT", "FCREDITLOCAL",
    "FYTDDEBIT", "FYTDDEBITLOCAL", "FYTDCREDIT", "FYTDCREDITLOCAL",
    "FENDDEBIT", "FENDDEBITLOCAL", "FENDCREDIT", "FENDCREDITLOCAL",
    "FACCTDC", "FPROFIT", "FPROFITLOCAL", "FYTDPROFIT", "FYTDPROFITLOCAL",
)  # fmt: skip
# 会计要素 by the first digit of an account number, per standard of the 科目表 [INF: K/3 Cloud reads
# it from 科目类别]: 企业会计准则 (2006) and 小企业会计准则 (2011) number the classes differently.
ELEMENTS = {"1": "资产", "2": "负债", "3": "共同", "4": "权益", "5": "成本", "6": "损益"}
ELEMENTS_BY_STANDARD = {
    "cas": ELEMENTS,
    "small": {"1": "资产", "2": "负债", "3": "权益", "4": "成本", "5": "损益"},
}
_ZERO = Decimal(0)


class ReportProblem(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass(slots=True)
class Sums:
    """Debit-minus-credit balances and movements, in original (`for`) and base (`loc`) currency."""

    year_begin: list[Decimal] = field(default_factory=lambda: [_ZERO, _ZERO])
    begin: list[Decimal] = field(default_factory=lambda: [_ZERO, _ZERO])
    debit: list[Decimal] = field(default_factory=lambda: [_ZERO, _ZERO])
    credit: list[Decimal] = field(default_factory=lambda: [_ZERO, _ZERO])
    ytd_debit: list[Decimal] = field(default_factory=lambda: [_ZERO, _ZERO])
    ytd_credit: list[Decimal] = field(default_factory=lambda: [_ZERO, _ZERO])

    def add(self, other: Sums) -> None:
        for name in self.__slots__:
            mine, theirs = getattr(self, name), getattr(other, name)
            mine[0] += theirs[0]
            mine[1] += theirs[1]

    def end(self, which: int) -> Decimal:
        return self.begin[which] + self.debit[which] - self.credit[which]

    def empty(self) -> bool:
        return all(value == 0 for name in self.__slots__ for value in getattr(self, name))


@dataclass(frozen=True, slots=True)
class Filter:
    book: Record
    currency: Record | None  # None: 综合本位币 (every currency, in base currency)
    start: tuple[int, int]
    end: tuple[int, int]
    level: int | None
    include_unposted: bool
    flags: dict[str, bool]
    first_account: str | None
    last_account: str | None


def account_balance(ctx: SaveContext, data: dict[str, Any]) -> dict[str, Any]:
    """The GetSysReportData answer `{"Result":{"IsSuccess","RowCount","Rows"}}` (or its failure)."""
    try:
        columns = _columns(data)
        limit = params.integer(data, "Limit")
        if limit > MAX_LIMIT:
            raise ReportProblem(Problem.of("limit_too_large"))
        with ctx.store.lock:
            chosen = _filter(ctx, data)
            rows = _rows(ctx, chosen)
    except (ReportProblem, params.ParameterProblem) as exc:
        return failure(exc.problem)
    start = max(params.integer(data, "StartRow"), 0)
    page = rows[start : start + limit] if limit > 0 else rows[start:]
    return {
        "Result": {
            "IsSuccess": True,
            "RowCount": len(rows),
            "Rows": [[row[c] for c in columns] for row in page],
        }
    }


def failure(problem: Problem) -> dict[str, Any]:
    """The report's failure shape is not public: the success keys plus a ResponseStatus [INF]."""
    return {
        "Result": {
            "IsSuccess": False,
            "RowCount": 0,
            "Rows": [],
            "ResponseStatus": response_status([problem]),
        }
    }


def _columns(data: dict[str, Any]) -> list[str]:
    wanted = params.keys(data, "FieldKeys")
    by_upper = {c.upper(): c for c in COLUMNS}
    for key in wanted:
        if key.upper() not in by_upper:
            raise ReportProblem(Problem.of("field_not_exist", key=key))
    return [by_upper[k.upper()] for k in wanted] or list(COLUMNS)


def _flag(model: dict[str, Any], key: str, default: bool) -> bool:
    raw = params.get(model, key)
    if raw in (None, ""):
        return default
    try:
        return to_bool(raw)
    except ValueError as exc:
        raise ReportProblem(Problem.of("parameter_invalid", name=key, value=str(raw))) from exc


def _filter(ctx: SaveContext, data: dict[str, Any]) -> Filter:
    model = params.get(data, "Model")
    if not isinstance(model, dict) or not model:
        raise ReportProblem(Problem.of("model_missing"))
    for key in model:
        if str(key).upper() not in MODEL_KEYS:
            raise ReportProblem(Problem.of("field_not_exist", key=key))
    book = _reference(ctx, model, "FACCTBOOKID", "BD_AccountBook", "账簿")
    if book is None:
        raise ReportProblem(Problem.of("field_required", "FACCTBOOKID", where="", caption="账簿"))
    currency_raw = params.get(model, "FCURRENCY")
    currency = None
    if currency_raw not in (None, "", 0, "0", -1, "-1"):
        currency = _reference(ctx, model, "FCURRENCY", "BD_Currency", "币别")
    start = _period(model, "FSTARTYEAR", "FSTARTPERIOD", _current_period(ctx, book))
    end = _period(model, "FENDYEAR", "FENDPERIOD", start)
    if start > end:
        raise ReportProblem(
            Problem.of("report_period_invalid", start=f"{start[0]}.{start[1]}", end=f"{end[0]}.{end[1]}")
        )
    level = params.integer(model, "FBALANCELEVEL") or None
    unposted = _flag(model, "FNOTPOSTVOUCHER", ctx.settings.report_include_unposted)
    flags = {
        key: _flag(model, key, False)
        for key in (
            "FSHOWDETAIL",
            "FFORBIDBALANCE",
            "FBALANCEZERO",
            "FNOBUSINESS",
            "FSHOWFULLNAME",
            "FDETAILSHOWACCT",
            "FSHOWDETAILONLY",
            "FEXCLUDEADJUSTVCH",
        )
    }
    first = _account_number(ctx, model, "FSTARTBALANCE")
    last = _account_number(ctx, model, "FENDBALANCE")
    return Filter(book, currency, start, end, level, unposted, flags, first, last)


def _reference(
    ctx: SaveContext, model: dict[str, Any], key: str, form_id: str, caption: str
) -> Record | None:
    raw = params.get(model, key)
    ref = Field(key=key, kind="ref", caption=caption, form=form_id)
    record_id, problem = resolve_reference(ctx, ref, raw, "", 0)
    if problem is not None:
        raise ReportProblem(problem)
    return ctx.store.get(ctx.form(form_id), record_id) if record_id is not None else None


def _account_number(ctx: SaveContext, model: dict[str, Any], key: str) -> str | None:
    raw = params.get(model, key)
    if isinstance(raw, dict):
        raw = next((v for k, v in raw.items() if str(k).upper() == "FNUMBER"), None)
    text = str(raw or "").strip()
    return text or None


def _current_period(ctx: SaveContext, book: Record) -> tuple[int, int]:
    now: datetime = ctx.now
    start = (int(book.values.get("FSTARTYEAR") or now.year), int(book.values.get("FSTARTPERIOD") or 1))
    return max(start, (now.year, now.month))


def _period(
    model: dict[str, Any], year_key: str, period_key: str, default: tuple[int, int]
) -> tuple[int, int]:
    year = params.integer(model, year_key, default[0])
    period = params.integer(model, period_key, default[1] if year == default[0] else 1)
    if not 1 <= period <= 12:
        raise ReportProblem(Problem.of("parameter_invalid", name=period_key, value=str(period)))
    return (year, period)


def _segments(number: str) -> tuple[str, ...]:
    return tuple(part.zfill(8) for part in number.split("."))


# --- computing -------------------------------------------------------------------------------------


def _line_sums(chosen: Filter, period: tuple[int, int], debit: list[Decimal], credit: list[Decimal]) -> Sums:
    sums = Sums()
    if period < chosen.start:
        sums.begin = [debit[0] - credit[0], debit[1] - credit[1]]
    if period < (chosen.start[0], 1):
        sums.year_begin = [debit[0] - credit[0], debit[1] - credit[1]]
    if chosen.start <= period <= chosen.end:
        sums.debit, sums.credit = list(debit), list(credit)
    if (chosen.end[0], 1) <= period <= chosen.end:
        sums.ytd_debit, sums.ytd_credit = list(debit), list(credit)
    return sums


def _collect(ctx: SaveContext, chosen: Filter) -> dict[tuple[RecordId, str], Sums]:
    """Sums per (leaf account, dimension signature) over the vouchers the filter counts."""
    counted = {"C"} | ({"A", "B", "D"} if chosen.include_unposted else set())
    found: dict[tuple[RecordId, str], Sums] = {}
    for voucher in ctx.store.records(ctx.form("GL_VOUCHER")):
        values = voucher.values
        if values.get("FACCOUNTBOOKID") != chosen.book.id or values.get("FDOCUMENTSTATUS") not in counted:
            continue
        if chosen.flags["FEXCLUDEADJUSTVCH"] and values.get("FISADJUSTVOUCHER"):
            continue
        period = (int(values.get("FYEAR") or 0), int(values.get("FPERIOD") or 0))
        if period > chosen.end:
            continue
        for row in voucher.entries.get("FENTITY", []):
            if chosen.currency is not None and row.get("FCURRENCYID") != chosen.currency.id:
                continue
            local = [row.get("FDEBIT") or _ZERO, row.get("FCREDIT") or _ZERO]
            original = list(local)
            if chosen.currency is not None:
                amount_for = row.get("FAMOUNTFOR") or _ZERO
                original = [amount_for, _ZERO] if row.get("FDC") == 1 else [_ZERO, amount_for]
            sums = _line_sums(chosen, period, [original[0], local[0]], [original[1], local[1]])
            dims = (row.get("FDETAILID") or {}).get("dims", {}) if chosen.flags["FSHOWDETAIL"] else {}
            key = (row.get("FACCOUNTID"), _signature(dims))
            found.setdefault(key, Sums()).add(sums)
    return found


def _signature(dims: dict[str, Any]) -> str:
    return "|".join(f"{key}={value}" for key, value in sorted(dims.items()))


def _rows(ctx: SaveContext, chosen: Filter) -> list[dict[str, Any]]:
    account_form = ctx.form("BD_Account")
    table_id = chosen.book.values.get("FACCTTABLEID")
    accounts = {
        record.id: record
        for record in ctx.store.records(account_form)
        if record.values.get("FACCTTBLID") == table_id
    }
    table = ctx.store.get(ctx.form("BD_ACCOUNTTABLE"), table_id) if table_id else None
    elements = ELEMENTS_BY_STANDARD.get(
        str(table.values.get("FSTANDARD") or "cas") if table else "cas", ELEMENTS
    )
    totals: dict[RecordId, Sums] = {}
    details: dict[RecordId, dict[str, Sums]] = {}
    for (account_id, signature), sums in _collect(ctx, chosen).items():
        if signature:
            details.setdefault(account_id, {}).setdefault(signature, Sums()).add(sums)
        current = accounts.get(account_id)
        while current is not None:  # the leaf and every parent
            totals.setdefault(current.id, Sums()).add(sums)
            current = accounts.get(current.values.get("FPARENTID"))
    digits = (
        int(chosen.currency.values.get("FAMOUNTDIGITS", 2)) if chosen.currency else _book_digits(ctx, chosen)
    )
    currency_name = str(chosen.currency.values.get("FNAME", "")) if chosen.currency else ALL_CURRENCIES
    ordered = sorted(accounts.values(), key=lambda a: _segments(str(a.values.get("FNUMBER", ""))))
    rows: list[dict[str, Any]] = []
    for account in ordered:
        if not _shown_account(chosen, account):
            continue
        sums = totals.get(account.id, Sums())
        if not _shown_amounts(chosen, sums):
            continue
        rows.append(_row(account, sums, "", "", currency_name, digits, chosen, True, elements))
        for signature, detail in sorted(details.get(account.id, {}).items()):
            if _shown_amounts(chosen, detail):
                number, name = _detail_label(ctx, signature)
                rows.append(
                    _row(account, detail, number, name, currency_name, digits, chosen, False, elements)
                )
    return rows


def _book_digits(ctx: SaveContext, chosen: Filter) -> int:
    currency_id = chosen.book.values.get("FCURRENCYID")
    currency = ctx.store.get(ctx.form("BD_Currency"), currency_id) if currency_id else None
    return int(currency.values.get("FAMOUNTDIGITS", 2)) if currency else 2


def _shown_account(chosen: Filter, account: Record) -> bool:
    values = account.values
    number = str(values.get("FNUMBER", ""))
    if values.get("FFORBIDSTATUS") == "B" and not chosen.flags["FFORBIDBALANCE"]:
        return False
    if chosen.flags["FSHOWDETAILONLY"]:
        if not values.get("FISDETAIL"):
            return False
    elif chosen.level is not None and int(values.get("FLEVEL") or 1) > chosen.level:
        return False
    segments = _segments(number)
    if chosen.first_account and segments < _segments(chosen.first_account):
        return False
    if chosen.last_account:  # the range's last account includes its sub-accounts
        last = _segments(chosen.last_account)
        if segments > last and segments[: len(last)] != last:
            return False
    return True


def _shown_amounts(chosen: Filter, sums: Sums) -> bool:
    if sums.empty():
        return chosen.flags["FNOBUSINESS"]
    return sums.end(1) != 0 or chosen.flags["FBALANCEZERO"]


def _detail_label(ctx: SaveContext, signature: str) -> tuple[str, str]:
    """FDETAILNUMBER / FDETAILNAME of a dimension combination: values joined by `/` [INF]."""
    numbers: list[str] = []
    names: list[str] = []
    parts = dict(part.split("=", 1) for part in signature.split("|"))
    for key, dimension in ctx.registry.dimensions.items():
        if key not in parts:
            continue
        form = ctx.form(dimension.form)
        raw_id = parts[key]
        record = ctx.store.get(form, int(raw_id) if form.id_kind == "int" else raw_id)
        numbers.append(str(record.values.get(form.number.upper(), "")) if record and form.number else raw_id)
        names.append(str(record.values.get(form.name_field.upper(), "")) if record else "")
    return "/".join(numbers), "/".join(names)


def _row(
    account: Record,
    sums: Sums,
    detail_number: str,
    detail_name: str,
    currency_name: str,
    digits: int,
    chosen: Filter,
    is_account: bool,
    elements: dict[str, str] = ELEMENTS,
) -> dict[str, Any]:
    values = account.values
    number = str(values.get("FNUMBER", ""))
    dc = int(values.get("FDC") or 1)
    quantum = Decimal(1).scaleb(-digits)
    element = elements.get(number[:1], "")
    show_account = is_account or chosen.flags["FDETAILSHOWACCT"]
    name_key = "FFULLNAME" if chosen.flags["FSHOWFULLNAME"] else "FNAME"

    def q(value: Decimal) -> Decimal:
        return value.quantize(quantum)

    def sides(net: Decimal) -> tuple[Decimal, Decimal]:
        return (q(net), q(_ZERO)) if dc == 1 else (q(_ZERO), q(-net))

    row: dict[str, Any] = {
        "FBALANCEID": number if show_account else "",
        "FBALANCENAME": str(values.get(name_key, "")) if show_account else "",
        "FACCTTYPE": element,
        "FACCTGROUP": element,
        "FDETAILNUMBER": detail_number,
        "FDETAILNAME": detail_name,
        "FCyName": currency_name,
        "FACCTDC": "借" if dc == 1 else "贷",
    }
    for suffix, which in (("", 0), ("LOCAL", 1)):
        end = sums.end(which)
        for prefix, net in (
            ("FBEGINYEAR", sums.year_begin[which]),
            ("FBEGIN", sums.begin[which]),
            ("FEND", end),
        ):
            row[f"{prefix}DEBIT{suffix}"], row[f"{prefix}CREDIT{suffix}"] = sides(net)
        row[f"FDEBIT{suffix}"], row[f"FCREDIT{suffix}"] = q(sums.debit[which]), q(sums.credit[which])
        row[f"FYTDDEBIT{suffix}"], row[f"FYTDCREDIT{suffix}"] = (
            q(sums.ytd_debit[which]),
            q(sums.ytd_credit[which]),
        )
        profit = sums.debit[which] - sums.credit[which]
        ytd = sums.ytd_debit[which] - sums.ytd_credit[which]
        is_profit = element == "损益"
        row[f"FPROFIT{suffix}"] = q(profit * dc) if is_profit else q(_ZERO)
        row[f"FYTDPROFIT{suffix}"] = q(ytd * dc) if is_profit else q(_ZERO)
    return row
