"""Vouchers as yecai plans them, before any Kingdee payload exists.

A `Voucher` is the neutral result of applying a rule set to documents: dated, balanced lines with
accounts and dimensions, and for each line the documents whose amounts it carries (traceability).
It refuses to exist unbalanced: books balance to the cent before anything is sent (invariant 3).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from yecai.domain.money import ZERO, is_money, money_sum


class UnbalancedVoucherError(ValueError):
    """Debit and credit of a planned voucher differ; a rule is wrong, never the data."""


@dataclass(frozen=True, slots=True)
class VoucherLine:
    """One entry line: an amount on the debit or the credit side of one account."""

    account: str
    debit: Decimal
    credit: Decimal
    explanation: str
    dimensions: tuple[tuple[str, str], ...] = ()
    document_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        for side in (self.debit, self.credit):
            if not is_money(side):
                raise ValueError(f"line amount {side} on {self.account} is not rounded to the cent")
        if (self.debit != ZERO) == (self.credit != ZERO):
            raise ValueError(f"line on {self.account} must carry exactly one of debit and credit")

    @classmethod
    def checked_by_caller(
        cls,
        account: str,
        debit: Decimal,
        credit: Decimal,
        explanation: str,
        dimensions: tuple[tuple[str, str], ...],
        document_ids: tuple[int, ...],
    ) -> VoucherLine:
        """A line whose amounts the caller has rounded and checked already (the planner's `Entry`).

        Skips `__post_init__`: planning builds hundreds of thousands of lines whose amounts went
        through `round_money` and the one-side check moments before, and checking them twice was a
        measurable share of planning (issue 15). Anything else — untrusted input, tests, payloads
        read back — uses the ordinary constructor, which still refuses a bad line.
        """
        line = _new(cls)
        _ACCOUNT(line, account)
        _DEBIT(line, debit)
        _CREDIT(line, credit)
        _EXPLANATION(line, explanation)
        _DIMENSIONS(line, dimensions)
        _DOCUMENT_IDS(line, document_ids)
        return line


# `checked_by_caller` fills a line through its slots' own setters, as the frozen dataclass's
# `__init__` does through object.__setattr__, minus the lookup by name.
_new = object.__new__
_ACCOUNT, _DEBIT, _CREDIT, _EXPLANATION, _DIMENSIONS, _DOCUMENT_IDS = (
    VoucherLine.__dict__[name].__set__
    for name in ("account", "debit", "credit", "explanation", "dimensions", "document_ids")
)


def _check_balance(group_key: str, lines: tuple[VoucherLine, ...]) -> None:
    """Books balance to the cent before anything is sent (invariant 3): refuse an empty or
    unbalanced voucher."""
    if not lines:
        raise ValueError(f"voucher {group_key} has no lines")
    # both sides in one pass (every planned voucher is checked: a hot path of planning)
    debit = credit = ZERO
    for line in lines:
        debit += line.debit
        credit += line.credit
    if debit != credit:
        raise UnbalancedVoucherError(
            f"凭证 {group_key} 借贷不平：借 {debit} 贷 {credit} / "
            f"voucher {group_key} does not balance: debit {debit} credit {credit}"
        )


@dataclass(frozen=True, slots=True)
class Voucher:
    """A planned GL voucher: identity (posting key), date, summary and balanced lines."""

    posting_key: str
    group_key: str
    date: dt.date
    summary: str
    lines: tuple[VoucherLine, ...] = field(default_factory=tuple)
    # The 账簿 a planner grouped it for (company vouchers per legal entity); None: the book follows
    # from the projects on its lines when it is planned.
    book: str | None = None

    def __post_init__(self) -> None:
        _check_balance(self.group_key, self.lines)

    @classmethod
    def of_checked_lines(
        cls,
        posting_key: str,
        group_key: str,
        date: dt.date,
        summary: str,
        lines: tuple[VoucherLine, ...],
        book: str | None = None,
    ) -> Voucher:
        """A voucher of lines made by `VoucherLine.checked_by_caller`, balanced: the same checks as
        the constructor (lines, balance), its fields filled through their slots (planning, issue 15)."""
        _check_balance(group_key, lines)
        voucher = _new(cls)
        set_key, set_group, set_date, set_summary, set_lines, set_book = _VOUCHER_SETTERS
        set_key(voucher, posting_key)
        set_group(voucher, group_key)
        set_date(voucher, date)
        set_summary(voucher, summary)
        set_lines(voucher, lines)
        set_book(voucher, book)
        return voucher

    @property
    def debit_total(self) -> Decimal:
        return money_sum(line.debit for line in self.lines)

    @property
    def credit_total(self) -> Decimal:
        return money_sum(line.credit for line in self.lines)


_VOUCHER_SETTERS = tuple(
    Voucher.__dict__[name].__set__
    for name in ("posting_key", "group_key", "date", "summary", "lines", "book")
)
