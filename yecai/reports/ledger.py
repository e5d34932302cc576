"""Read the books: voucher lines of the report accounts, summed by 项目 × account × month.

One ExecuteBillQuery on GL_VOUCHER (paged) for the account book, the report accounts and every
date up to the period's end; drafts (暂存, status Z) are not in the books and are left out, saved,
submitted and audited vouchers count — every voucher, not only yecai's, because the report must
equal what Kingdee holds. If Kingdee cannot be read the report fails: there is no fallback.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import httpx

from yecai.domain.money import ZERO
from yecai.errors import Action, Fault, YecaiError
from yecai.kingdee.client import KingdeeClient
from yecai.reports.accounts import ReportAccounts
from yecai.reports.periods import Period

FORM_ID = "GL_VOUCHER"


class KingdeeUnreadable(YecaiError):
    """The books could not be read, so no report: its figures must equal Kingdee's."""

    def __init__(self, connection: str, detail: str) -> None:
        super().__init__(
            f"无法从金蝶 {connection} 读取账簿，报表未生成：{detail}",
            f"cannot read the books from Kingdee {connection}, no report made: {detail}",
            Action.RETRY,
            Fault.REMOTE,
        )


@dataclass(slots=True)
class Ledger:
    """Debit and credit by Kingdee 项目 number, then (account, period)."""

    entries: dict[str, dict[tuple[str, Period], list[Decimal]]] = field(default_factory=dict)
    lines: int = 0

    def add(self, project: str, account: str, period: Period, debit: Decimal, credit: Decimal) -> None:
        cell = self.entries.setdefault(project, {}).setdefault((account, period), [ZERO, ZERO])
        cell[0] += debit
        cell[1] += credit
        self.lines += 1

    def projects(self) -> set[str]:
        return set(self.entries)

    def periods(self, accounts: set[str] | frozenset[str]) -> set[Period]:
        """The periods in which any project has a line on `accounts`."""
        return {
            period
            for cells in self.entries.values()
            for (account, period), cell in cells.items()
            if account in accounts and (cell[0] or cell[1])
        }

    def sum(
        self, project: str, accounts: set[str] | frozenset[str], periods: set[Period] | None, side: str
    ) -> Decimal:
        """Debits (side "debit") or credits of `accounts` for the project in `periods` (None: all)."""
        column = 0 if side == "debit" else 1
        return sum(
            (
                cell[column]
                for (account, period), cell in self.entries.get(project, {}).items()
                if account in accounts and (periods is None or period in periods)
            ),
            ZERO,
        )


def _date(value: object) -> dt.date:
    return dt.date.fromisoformat(str(value)[:10])


def read_ledger(client: KingdeeClient, accounts: ReportAccounts, *, until: dt.date) -> Ledger:
    """Every voucher line of the report accounts dated up to `until`, with a 项目 dimension."""
    if not accounts.all:
        return Ledger()
    flex = f"FDetailID.{accounts.project_dimension}.FNumber"
    fields = ["FDate", "FACCOUNTID.FNumber", flex, "FDEBIT", "FCREDIT"]
    listed = ",".join(f"'{account}'" for account in accounts.all)
    condition = (
        f"FAccountBookID.FNumber = '{accounts.book}' and FACCOUNTID.FNumber in ({listed})"
        f" and FDate <= '{until.isoformat()}' and FDocumentStatus <> 'Z'"
    )
    ledger = Ledger()
    try:
        for row in client.query_all(FORM_ID, fields, condition, order="FVOUCHERID"):
            project = str(row[2] or "")
            if not project:
                continue  # a line without a 项目 belongs to no project's figures
            ledger.add(
                project,
                str(row[1]),
                Period.of(_date(row[0])),
                Decimal(str(row[3] or 0)),
                Decimal(str(row[4] or 0)),
            )
    except YecaiError as exc:
        raise KingdeeUnreadable(client.connection or "kingdee", f"{exc.zh} / {exc.en}") from exc
    except httpx.HTTPError as exc:
        raise KingdeeUnreadable(client.connection or "kingdee", str(exc) or type(exc).__name__) from exc
    return ledger
