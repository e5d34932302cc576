"""The trial balance (科目余额表) as Kingdee computes it, and the company P&L read from it.

One GetSysReportData call on GL_RPT_AccountBalance (paged) per book and period range: opening,
movement and closing balance of every account, optionally with a row per dimension combination
(核算维度: 供应商 / 客户 / 项目 …) carrying the dimension values' numbers *and names*, so a
sub-ledger (per supplier, per customer and project) can be read back as Kingdee holds it. This is
the auditor's view of the books: it is what the ledger tests and the demo assert on, never the
postings yecai planned. Which accounts make revenue, cost of sales and taxes and surcharges is
configuration (the rule sets' account roles), never a number written here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from yecai.domain.documents import AccountingStandard
from yecai.domain.money import ZERO
from yecai.kingdee.client import KingdeeClient
from yecai.mapping.rules import RuleSet
from yecai.reports.figures import percent
from yecai.reports.periods import Period

REPORT = "GL_RPT_AccountBalance"
FIELDS = (
    "FBALANCEID",
    "FBALANCENAME",
    "FACCTTYPE",
    "FACCTDC",
    "FDETAILNUMBER",
    "FDETAILNAME",
    "FBEGINDEBIT",
    "FBEGINCREDIT",
    "FDEBIT",
    "FCREDIT",
    "FENDDEBIT",
    "FENDCREDIT",
)
PAGE = 2000
# Account roles (in any rule set) whose accounts make each line of the company P&L. A month-end
# rule set names its 税金及附加 account `taxes_and_surcharges`; the others come from revenue.
REVENUE_ROLES = ("revenue",)
COST_ROLES = ("cost_of_sales",)
TAX_ROLES = ("taxes_and_surcharges", "surcharge_expense")


@dataclass(frozen=True, slots=True)
class Sides:
    """An amount as Kingdee shows it: a debit and a credit column."""

    debit: Decimal = ZERO
    credit: Decimal = ZERO

    @property
    def net(self) -> Decimal:
        """Debit minus credit (a balance on the debit side is positive)."""
        return self.debit - self.credit

    def __add__(self, other: Sides) -> Sides:
        return Sides(self.debit + other.debit, self.credit + other.credit)


@dataclass(frozen=True, slots=True)
class DimensionBalance:
    """One dimension combination of an account (e.g. 供应商 GYS0001 / 项目 XM01)."""

    numbers: tuple[str, ...]  # the dimension values' numbers, in the report's order
    names: tuple[str, ...]  # and their names (供应商名称, 项目名称 …)
    opening: Sides
    movement: Sides
    closing: Sides

    @property
    def label(self) -> str:
        return " / ".join(f"{n} {m}".strip() for n, m in zip(self.numbers, self.names, strict=False))


@dataclass(frozen=True, slots=True)
class AccountBalance:
    """One account's row of the 科目余额表: balances shown on the account's side, as Kingdee does."""

    number: str
    name: str
    element: str  # 会计要素: 资产 / 负债 / 共同 / 权益 / 成本 / 损益
    direction: str  # 借 or 贷 (the account's balance direction)
    opening: Sides
    movement: Sides
    closing: Sides
    details: tuple[DimensionBalance, ...] = ()

    @property
    def level(self) -> int:
        return self.number.count(".") + 1

    def detail(self, *numbers: str) -> list[DimensionBalance]:
        """The dimension rows that carry every one of `numbers` (a supplier, a project …)."""
        return [d for d in self.details if all(n in d.numbers for n in numbers)]


@dataclass(frozen=True, slots=True)
class Totals:
    opening: Sides
    movement: Sides
    closing: Sides

    @property
    def balanced(self) -> bool:
        """Σ debit = Σ credit for opening, movement and closing (试算平衡)."""
        return all(s.debit == s.credit for s in (self.opening, self.movement, self.closing))


@dataclass(frozen=True, slots=True)
class TrialBalance:
    book: str
    start: Period
    end: Period
    rows: tuple[AccountBalance, ...] = ()
    _by_number: dict[str, AccountBalance] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_number.update({row.number: row for row in self.rows})

    def account(self, number: str) -> AccountBalance | None:
        return self._by_number.get(number)

    def closing(self, number: str) -> Decimal:
        """Closing balance of an account, debit minus credit (0 when the report has no row)."""
        row = self.account(number)
        return row.closing.net if row else ZERO

    def movement(self, number: str) -> Sides:
        row = self.account(number)
        return row.movement if row else Sides()

    @property
    def top_level(self) -> list[AccountBalance]:
        """The rows no other row rolls up (first-level accounts): what the totals add up."""
        numbers = set(self._by_number)
        return [row for row in self.rows if not _parent_in(row.number, numbers)]

    @property
    def totals(self) -> Totals:
        opening = movement = closing = Sides()
        for row in self.top_level:
            opening += row.opening
            movement += row.movement
            closing += row.closing
        return Totals(opening, movement, closing)

    @property
    def balanced(self) -> bool:
        return self.totals.balanced


def _parent_in(number: str, numbers: set[str]) -> bool:
    parts = number.split(".")
    return any(".".join(parts[:cut]) in numbers for cut in range(1, len(parts)))


def _decimal(value: object) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else ZERO


def _sides(row: Mapping[str, Any], prefix: str) -> Sides:
    return Sides(_decimal(row.get(f"{prefix}DEBIT")), _decimal(row.get(f"{prefix}CREDIT")))


def _split(text: object) -> tuple[str, ...]:
    # The report joins the values of a combination with "/" (K/3 Cloud's display of 核算维度).
    return tuple(part.strip() for part in str(text or "").split("/")) if text else ()


def parse_rows(raw: Iterable[Mapping[str, Any]], book: str, start: Period, end: Period) -> TrialBalance:
    """The report's rows → a typed trial balance; dimension rows attach to their account's row."""
    rows: list[AccountBalance] = []
    details: dict[str, list[DimensionBalance]] = {}
    current: str | None = None
    for row in raw:
        number = str(row.get("FBALANCEID") or "")
        detail_number = str(row.get("FDETAILNUMBER") or "")
        if detail_number:
            # FDETAILSHOWACCT repeats the account on its dimension rows; without it they follow it
            owner = number or current
            if owner is None:
                continue
            details.setdefault(owner, []).append(
                DimensionBalance(
                    _split(detail_number),
                    _split(row.get("FDETAILNAME")),
                    _sides(row, "FBEGIN"),
                    _sides(row, "F"),
                    _sides(row, "FEND"),
                )
            )
            continue
        current = number
        rows.append(
            AccountBalance(
                number,
                str(row.get("FBALANCENAME") or ""),
                str(row.get("FACCTTYPE") or ""),
                str(row.get("FACCTDC") or ""),
                _sides(row, "FBEGIN"),
                _sides(row, "F"),
                _sides(row, "FEND"),
            )
        )
    complete = tuple(
        AccountBalance(
            r.number,
            r.name,
            r.element,
            r.direction,
            r.opening,
            r.movement,
            r.closing,
            tuple(details.get(r.number, ())),
        )
        for r in rows
    )
    return TrialBalance(book, start, end, complete)


def read_trial_balance(
    client: KingdeeClient,
    *,
    book: str,
    start: Period,
    end: Period | None = None,
    dimensions: bool = False,
    include_unposted: bool = True,
    currency: str = "PRE001",
) -> TrialBalance:
    """The 科目余额表 of `book` from `start` to `end` (one year: Kingdee's report spans one).

    `dimensions` adds a row per 核算维度 combination under each account; `include_unposted`
    counts saved and submitted vouchers too (FNOTPOSTVOUCHER), as yecai's vouchers are until an
    accountant audits them — the books as posted, drafts (暂存) never count.
    """
    last = end or start
    if last.year != start.year or last < start:
        raise ValueError(f"a trial balance spans periods of one year: {start} to {last}")
    model: dict[str, Any] = {
        "FACCTBOOKID": {"FNumber": book},
        "FCURRENCY": {"FNumber": currency},
        "FSTARTYEAR": start.year,
        "FSTARTPERIOD": start.month,
        "FENDYEAR": last.year,
        "FENDPERIOD": last.month,
        "FNOTPOSTVOUCHER": include_unposted,
        # an account that moved but ends at zero (合同履约成本 carried over) must still be a row,
        # or the movement totals would miss it
        "FBALANCEZERO": True,
        "FSHOWDETAIL": dimensions,
        "FDETAILSHOWACCT": dimensions,
    }
    raw: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = client.get_sys_report_data(REPORT, model, FIELDS, start_row=offset, limit=PAGE)
        raw.extend(page)
        if len(page) < PAGE:
            break
        offset += PAGE
    return parse_rows(raw, book, start, last)


# -- the company P&L -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PnlAccounts:
    """Which accounts make each line of the company P&L (from the rule sets' roles)."""

    revenue: frozenset[str]
    cost_of_sales: frozenset[str]
    taxes: frozenset[str] = frozenset()


def pnl_accounts(
    rule_sets: Sequence[RuleSet], standards: Sequence[AccountingStandard] | None = None
) -> PnlAccounts:
    """The P&L accounts the rule sets name for the book's standard (each rule set's own).

    A book holds one chart: the accounts another standard would use may be other accounts of
    this chart (小企业 5401 主营业务成本 is CAS 5401 合同履约成本), so they are only read when
    `standards` names them — for a book kept on that standard.
    """

    def of(roles: Sequence[str]) -> frozenset[str]:
        found: set[str] = set()
        for rules in rule_sets:
            for role in roles:
                for standard in standards or (rules.standard,):
                    account = rules.account(role, standard)
                    if account:
                        found.add(account)
        return frozenset(found)

    return PnlAccounts(of(REVENUE_ROLES), of(COST_ROLES), of(TAX_ROLES))


@dataclass(frozen=True, slots=True)
class CompanyPnl:
    """利润表 of the period range, from the trial balance's movement of the P&L accounts."""

    revenue: Decimal  # 营业收入: net credit of the revenue accounts
    cost_of_sales: Decimal  # 营业成本: net debit of the cost-of-sales accounts
    taxes: Decimal  # 税金及附加: net debit

    @property
    def gross_margin(self) -> Decimal:
        """毛利 = revenue − cost of sales − taxes and surcharges."""
        return self.revenue - self.cost_of_sales - self.taxes

    @property
    def margin_pct(self) -> Decimal | None:
        return percent(self.gross_margin, self.revenue)


def _net_movement(balance: TrialBalance, accounts: frozenset[str]) -> Decimal:
    # an account and its own parent may both be configured: the parent already holds the child
    chosen = {a for a in accounts if not _parent_in(a, set(accounts))}
    return sum((balance.movement(a).net for a in chosen), ZERO)


def company_pnl(balance: TrialBalance, accounts: PnlAccounts) -> CompanyPnl:
    """The company P&L of the trial balance's period range (carry-over to 本年利润 not counted:
    the movement is read before 结转损益, which yecai never posts)."""
    return CompanyPnl(
        revenue=-_net_movement(balance, accounts.revenue),
        cost_of_sales=_net_movement(balance, accounts.cost_of_sales),
        taxes=_net_movement(balance, accounts.taxes),
    )
