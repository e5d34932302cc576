"""Which period a report shows when nobody names one: the latest period with data in the workspace.

The calendar's last month is often empty — a demo whose data ends in October, a tenant that closes
late — and a report of an empty month shows 本月 0.00 and a trend that drops to zero. So the
default is the latest month in which the books hold report figures: a voucher yecai has in
Kingdee with a line on a cost or revenue account the report reads (a payment or a receipt alone
moves neither); else the latest month of the source's cost records and progress reports; else,
with nothing at all, the calendar's last month. Every caller (console, API, CLI) asks here and
says which basis was used. Read from the store only, so choosing costs no call to Kingdee.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func, select

from yecai import jsonutil
from yecai.domain.posting_states import PostingState
from yecai.labels import label
from yecai.reports.periods import Period
from yecai.store.db import Store
from yecai.store.tables import Document, Posting

# A voucher in these states is (or was, until a red-ink reversal beside it) in Kingdee's books.
IN_BOOKS = (PostingState.SAVED, PostingState.POSTED, PostingState.REVERSED)
# Source documents whose dates are report figures (cost incurred, progress behind revenue).
SOURCE_KINDS = ("cost_record", "progress_report")
_SCAN_BATCH = 500


class PeriodBasis(StrEnum):
    ASKED = "asked"  # the caller named the period
    POSTINGS = "postings"  # the latest month yecai posted report figures in
    SOURCE = "source"  # nothing posted yet: the latest month of the source's documents
    CALENDAR = "calendar"  # no data at all: the calendar's last month


@dataclass(frozen=True, slots=True)
class PeriodChoice:
    """The period a report shows and why that one."""

    period: Period
    basis: PeriodBasis

    @property
    def defaulted(self) -> bool:
        return self.basis is not PeriodBasis.ASKED

    @property
    def zh(self) -> str:
        return f"期间 {self.period}（{label('period_basis', self.basis)}）"

    @property
    def en(self) -> str:
        return f"period {self.period} ({label('period_basis', self.basis, 'en')})"

    def __str__(self) -> str:
        return f"{self.zh} / {self.en}"


def asked(period: Period) -> PeriodChoice:
    return PeriodChoice(period, PeriodBasis.ASKED)


def _touches(payload: str, accounts: Collection[str]) -> bool:
    """Whether a voucher's Model has a line on one of `accounts` (bills have no such lines)."""
    try:
        model = jsonutil.loads(payload)
    except ValueError:
        return False
    entries = model.get("FEntity") if isinstance(model, dict) else None
    for line in entries if isinstance(entries, list) else ():
        account = line.get("FACCOUNTID") if isinstance(line, dict) else None
        if isinstance(account, dict) and account.get("FNumber") in accounts:
            return True
    return False


def latest_posted(store: Store, *, kingdee: str | None, accounts: Collection[str]) -> dt.date | None:
    """The latest date of a voucher in the books with a line on `accounts` (None: none has one).

    Newest first, so the scan usually stops within the last month's vouchers.
    """
    query = select(Posting.business_date, Posting.payload).where(Posting.state.in_(IN_BOOKS))
    if kingdee is not None:
        query = query.where(Posting.connection == kingdee)
    query = query.order_by(Posting.business_date.desc(), Posting.id.desc())
    with store.sessions() as session:
        for day, payload in session.execute(query.execution_options(yield_per=_SCAN_BATCH)):
            if _touches(payload, accounts):
                return day
    return None


def latest_source(store: Store, *, source: str | None) -> dt.date | None:
    """The latest business date of the source's cost records and progress reports."""
    query = select(func.max(Document.business_date)).where(
        Document.kind.in_(SOURCE_KINDS), Document.deleted.is_(False)
    )
    if source is not None:
        query = query.where(Document.connection == source)
    with store.sessions() as session:
        return session.scalar(query)


def latest_with_data(
    store: Store,
    *,
    kingdee: str | None,
    source: str | None,
    accounts: Collection[str],
    today: dt.date | None = None,
) -> PeriodChoice:
    """The period a report shows by default, and its basis (see the module's docstring)."""
    posted = latest_posted(store, kingdee=kingdee, accounts=accounts)
    if posted is not None:
        return PeriodChoice(Period.of(posted), PeriodBasis.POSTINGS)
    staged = latest_source(store, source=source)
    if staged is not None:
        return PeriodChoice(Period.of(staged), PeriodBasis.SOURCE)
    return PeriodChoice(Period.of(today or dt.date.today()).previous(), PeriodBasis.CALENDAR)
