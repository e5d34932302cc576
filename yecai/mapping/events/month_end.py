"""Month-end close (期末结转), run once per period after the period's other rule sets.

Closing entries are computed from the ledger the other rules built, as an accountant computes
them from the 科目余额表: planning (`sync.planning`) hands the planner the movements of every
stored posting by account × 项目 × period (`ctx.history`). Per period, one company voucher moves
VAT: 预交增值税 → 未交增值税 (entry 12b) for general-method projects, 转出未交增值税 (the credit
balance of 应交增值税; a debit balance stays as 留抵), and accrues 附加税 (城建税 / 教育费附加 /
地方教育附加) on the VAT due — at the project's location rate on what was prepaid there, at the
seat's rate on the rest, spread over the projects by their output VAT — one such voucher per 账簿
(VAT and surcharges are declared per legal entity, and a 分公司 keeping its own book on its own
chart closes its own). Per project, one voucher
presents the net of 合同结算 as 合同资产 or 合同负债 (reversed in red ink on the next period's
first day, so the running figures stay), and adjusts the 预计负债 of a loss-making contract to
the loss on its unperformed part (entry 15). The transfers and the provision aim at a target
balance, so a late run books only the difference.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import Field

from yecai.domain.documents import (
    BudgetLine,
    Contract,
    ContractKind,
    CostRecord,
    Invoice,
    InvoiceDirection,
    OpeningBalance,
    ProgressReport,
    VatMethod,
)
from yecai.domain.money import ZERO, money_sum, round_money
from yecai.mapping.events import common, valuation
from yecai.mapping.events.allocation import largest_remainder
from yecai.mapping.events.revenue import recognise, transaction_price
from yecai.mapping.interface import Held, Plan, PlannableDocument, PlanningContext
from yecai.mapping.rules import Event, MappingTable, RuleSet

ROLES: dict[str, tuple[str, ...]] = {
    "prepaid_vat": ("project",),  # 应交税费—预交增值税
    "unpaid_vat": (),  # 应交税费—未交增值税
    "output_vat": (),  # 应交税费—应交增值税(销项税额)
    "input_vat": (),  # 应交税费—应交增值税(进项税额)
    "vat_transfer_out": (),  # 应交税费—应交增值税(转出未交增值税)
    "simple_vat": (),  # 应交税费—简易计税
    "surcharge_expense": ("project",),  # 税金及附加
    "urban_tax": (),  # 应交税费—应交城市维护建设税
    "education_surcharge": (),  # 应交税费—应交教育费附加
    "local_education_surcharge": (),  # 应交税费—应交地方教育附加
    "settlement": ("project", "customer"),  # 合同结算—价款结算
    "settlement_revenue": ("project", "customer"),  # 合同结算—收入结转
    "contract_asset": ("project",),  # 合同资产
    "contract_liability": ("project",),  # 合同负债
    "cost_of_sales": ("project",),  # 主营业务成本
    "provision": ("project",),  # 预计负债—亏损合同
}

# ctx.history keys (filled by `sync.planning` from the stored postings):
LEDGER_KEY = "month_end_ledger"  # every other rule set: {account: {项目 number or "": {period: net debit}}}
OWN_KEY = "month_end_own"  # this rule set's own postings, the same shape
CLOSED_KEY = "month_end_closed"  # group keys this rule set already posted ("*|2026-10", "XM1|2026-10")
# The same ledgers per 账簿 ({book: ledger}); without them every posting is in the rule set's book.
BOOK_LEDGER_KEY = "month_end_ledger_by_book"
BOOK_OWN_KEY = "month_end_own_by_book"

Ledger = Mapping[str, Mapping[str, Mapping[str, Any]]]


class MonthEndOptions(common.EventOptions):
    close_after_days: int = Field(
        0, ge=0, le=31, description="days after the period's end before it is closed (late invoices)"
    )
    vat_columns: tuple[str, ...] = Field(
        (), description="further 应交增值税 columns counted in 转出未交增值税 (进项税额转出, 销项税额抵减 …)"
    )
    seat_urban_tax_rate: Decimal = Field(
        Decimal("0.07"), description="城建税 at the company's seat (市区 7 %)"
    )
    education_rate: Decimal = Field(Decimal("0.03"), description="教育费附加 3 %")
    local_education_rate: Decimal = Field(Decimal("0.02"), description="地方教育附加 2 %")
    seat_project: str | None = Field(
        None, description="项目 that carries the seat's surcharges when no project issued an invoice"
    )
    present_contract_balances: bool = Field(True, description="合同结算 → 合同资产 / 合同负债 at period end")
    loss_provision: bool = Field(True, description="预计负债 for loss-making contracts (entry 15)")
    estimated_total_cost: dict[str, Decimal] = Field(
        default_factory=dict, description="project code → estimated total cost (wins over budget / opening)"
    )
    contract_price: dict[str, Decimal] = Field(
        default_factory=dict, description="project code → transaction price ex-VAT (else income contracts)"
    )
    budget_version: str | None = common.LATEST  # as REVENUE's: the same estimate
    default_vat_rate: Decimal = Decimal("0.09")


@dataclass(frozen=True, slots=True)
class Surcharges:
    """附加税 on one base: each tax rounded on its own (they are declared separately)."""

    urban: Decimal
    education: Decimal
    local_education: Decimal

    @property
    def total(self) -> Decimal:
        return self.urban + self.education + self.local_education


def surcharges(base: Decimal, urban_rate: Decimal, options: MonthEndOptions) -> Surcharges:
    """城建税, 教育费附加 and 地方教育附加 on a VAT base, ROUND_HALF_UP each."""
    return Surcharges(
        round_money(base * urban_rate),
        round_money(base * options.education_rate),
        round_money(base * options.local_education_rate),
    )


def loss_provision_target(price: Decimal, estimated_total: Decimal, cumulative_cost: Decimal) -> Decimal:
    """The expected loss on the unperformed part: (estimate − price) × (1 − progress), ≥ 0.

    Input-method revenue already recognises progress × loss as cost exceeds revenue; what is
    left of the loss is provided for (CAS 13 onerous contract, reference entry 15).
    """
    loss = estimated_total - price
    if loss <= ZERO:
        return ZERO
    progress = recognise(price, cumulative_cost, estimated_total, ZERO).progress
    return round_money(loss * (1 - progress))


# -- the ledger handed in by planning ------------------------------------------------------------


def balance(ledger: Ledger, accounts: Iterable[str | None], project: str | None, period: str) -> Decimal:
    """Net debit of the accounts (one 项目 number, or every 项目 when None) up to `period`'s end."""
    total = ZERO
    for account in accounts:
        if account is None:
            continue
        for number, periods in ledger.get(account, {}).items():
            if project is not None and number != project:
                continue
            total += sum((Decimal(str(v)) for p, v in periods.items() if p <= period), ZERO)
    return total


def movement(ledger: Ledger, accounts: Iterable[str | None], project: str | None, period: str) -> Decimal:
    """Net debit of the accounts in `period` alone."""
    total = ZERO
    for account in accounts:
        if account is None:
            continue
        for number, periods in ledger.get(account, {}).items():
            if project is None or number == project:
                total += Decimal(str(periods.get(period, 0)))
    return total


def _next_day(period: str) -> dt.date:
    return common.period_end(period) + dt.timedelta(days=1)


# -- the planner ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Month:
    """One period to close: the progress reports that trigger it, by project."""

    period: str
    by_project: dict[str, list[PlannableDocument]]

    @property
    def members(self) -> list[PlannableDocument]:
        return sorted((d for docs in self.by_project.values() for d in docs), key=lambda d: d.source_key)


def plan_month_end(
    documents: Sequence[PlannableDocument], rules: RuleSet, mapping: MappingTable, ctx: PlanningContext
) -> Plan:
    """Per closed period: one company voucher (VAT, surcharges), per project one voucher (合同结算
    presentation and its reversal, loss provision). A period not yet over is held."""
    options = common.parse_options(rules, MonthEndOptions)
    plan = Plan()
    resolver = common.Resolver(rules, mapping, ctx, ROLES)
    months: dict[str, dict[str, list[PlannableDocument]]] = defaultdict(lambda: defaultdict(list))
    for document in documents:
        report: ProgressReport = document.model
        if common.selected(rules, report):
            months[report.period][report.project_code].append(document)
    others: Ledger = ctx.history.get(LEDGER_KEY, {})
    own: Ledger = ctx.history.get(OWN_KEY, {})
    closed: set[str] = set(ctx.history.get(CLOSED_KEY, ()))
    for period in sorted(months):
        month = _Month(period, months[period])
        closing_day = common.period_end(period) + dt.timedelta(days=options.close_after_days)
        if ctx.today is None or ctx.today <= closing_day:
            plan.held.append(
                Held(
                    tuple(d.document_id for d in month.members),
                    f"期间 {period} 尚未结束（{closing_day.isoformat()} 之后结账），期末结转暂不处理",
                    f"period {period} is not over yet (closed after {closing_day.isoformat()}); month-end waits",
                )
            )
            continue
        default = rules.kingdee.account_book
        book_others: Mapping[str, Ledger] = ctx.history.get(BOOK_LEDGER_KEY) or {default: others}
        book_own: Mapping[str, Ledger] = ctx.history.get(BOOK_OWN_KEY) or {default: own}
        books = {resolver.book(code) for code in month.by_project} | set(book_others)
        for book in sorted(books):
            _company(
                plan,
                resolver,
                options,
                month,
                book_others.get(book, {}),
                book_own.get(book, {}),
                closed,
                book,
            )
        for project in sorted(month.by_project):
            _project(plan, resolver, options, month, project, others, own, closed)
    plan.unmapped = resolver.unmapped()
    return plan


def _code_of(resolver: common.Resolver, known: Iterable[str]) -> dict[str, str]:
    """项目 number → PM project code for the codes the plan knows (the ledger holds numbers)."""
    out: dict[str, str] = {}
    for code in sorted(set(known)):
        number = resolver.mapping.project_number(code)
        if number is not None:
            out.setdefault(number, code)
    return out


def _known_codes(ctx: PlanningContext, month: _Month) -> set[str]:
    codes = set(month.by_project)
    for kind in ("project", "contract", "invoice", "cost_record", "opening_balance"):
        for item in common.related(ctx, kind):
            code = getattr(item, "code", None) if kind == "project" else getattr(item, "project_code", None)
            if code:
                codes.add(code)
    return codes


def _company(
    plan: Plan,
    resolver: common.Resolver,
    options: MonthEndOptions,
    month: _Month,
    others: Ledger,
    own: Ledger,
    closed: set[str],
    book: str,
) -> None:
    """预交 → 未交, 转出未交增值税 and the surcharges of the period, in one company voucher of
    `book` (its ledgers are that book's, its projects those whose organisation keeps it)."""
    rules, ctx, period = resolver.rules, resolver.ctx, month.period
    members = month.members
    ids = tuple(d.document_id for d in members)
    codes = {
        number: code
        for number, code in _code_of(resolver, _known_codes(ctx, month)).items()
        if resolver.book(code) == book
    }
    # the book's chart is its projects' standard (a book keeps one chart)
    mine = sorted(code for code in month.by_project if resolver.book(code) == book)
    standard = resolver.standard(mine[0]) if mine else rules.standard
    account = {role: rules.account(role, standard) for role in ROLES}
    entry = common.Entry()
    notes: list[str] = []

    # 1. 预交增值税 → 未交增值税 (entry 12b): each general-method project's prepaid balance.
    prepaid_moved: dict[str, Decimal] = {}
    prepaid = account["prepaid_vat"]
    numbers = sorted(set(others.get(prepaid or "", {})) | set(own.get(prepaid or "", {})))
    for number in numbers:
        code = codes.get(number, number)
        if resolver.book(code) != book or resolver.vat_method(code) is not VatMethod.GENERAL:
            continue
        amount = balance(others, [prepaid], number, period) + balance(own, [prepaid], number, period)
        if amount == ZERO:
            continue
        unpaid = resolver.account("unpaid_vat", standard, ids)
        prepaid_dims = resolver.role_dims("prepaid_vat", ids, project=code)
        unpaid_dims = resolver.role_dims("unpaid_vat", ids, project=code)
        if unpaid is None or prepaid is None or prepaid_dims is None or unpaid_dims is None:
            continue
        entry.dr(unpaid, amount, unpaid_dims, ids)
        entry.cr(prepaid, amount, prepaid_dims, ids)
        prepaid_moved[code] = amount
    if prepaid_moved:
        notes.append(f"预交转未交 {money_sum(prepaid_moved.values()):.2f}")

    # 2. 转出未交增值税: the credit balance of 应交增值税; a debit balance is 留抵 and stays.
    columns = [account["output_vat"], account["input_vat"], account["vat_transfer_out"], *options.vat_columns]
    vat_balance = balance(others, columns, None, period) + balance(own, columns, None, period)
    transfer = -vat_balance if vat_balance < ZERO else ZERO
    if transfer > ZERO:
        out_account = resolver.account("vat_transfer_out", standard, ids)
        unpaid = resolver.account("unpaid_vat", standard, ids)
        out_dims = resolver.role_dims("vat_transfer_out", ids)
        unpaid_dims = resolver.role_dims("unpaid_vat", ids)
        if out_account and unpaid and out_dims is not None and unpaid_dims is not None:
            entry.dr(out_account, transfer, out_dims, ids)
            entry.cr(unpaid, transfer, unpaid_dims, ids)
            notes.append(f"转出未交增值税 {transfer:.2f}")
    elif vat_balance > ZERO:
        notes.append(f"留抵 {vat_balance:.2f}")

    # 3. 附加税. The VAT due is what was transferred out plus the simple-method VAT of the period
    # (a later run for a period already closed only adds surcharges on what it transfers).
    simple_due = ZERO
    group = f"*|{period}" if book == rules.kingdee.account_book else f"*|{book}|{period}"
    if group not in closed:
        simple_due = max(-movement(others, [account["simple_vat"]], None, period), ZERO)
    location: dict[str, Decimal] = {
        code: amount
        for code, amount in prepaid_moved.items()
        if amount > ZERO and resolver.cross_region(code)
    }
    seat_base = max(transfer - money_sum(location.values()), ZERO) + simple_due
    parts: dict[str, Surcharges] = {
        code: surcharges(base, resolver.urban_tax_rate(code), options) for code, base in location.items()
    }
    if seat_base > ZERO:
        weights = {
            code: weight
            for code, weight in _output_weights(ctx, period).items()
            if resolver.book(code) == book
        }
        if not weights and options.seat_project and resolver.book(options.seat_project) == book:
            weights = {options.seat_project: Decimal(1)}
        if not weights:
            plan.held.append(
                Held(
                    ids,
                    f"账簿 {book} 期间 {period} 的附加税无法分摊到项目（本期没有销项发票，也未配置 options.seat_project）",
                    f"book {book}, period {period}: the seat's surcharges cannot be spread over projects "
                    "(no issued invoice in the period and no options.seat_project)",
                )
            )
            return
        seat = surcharges(seat_base, options.seat_urban_tax_rate, options)
        shares = {
            "urban": largest_remainder(seat.urban, weights) if seat.urban else {},
            "education": largest_remainder(seat.education, weights) if seat.education else {},
            "local": largest_remainder(seat.local_education, weights) if seat.local_education else {},
        }
        for code in sorted(weights):
            mine = Surcharges(
                shares["urban"].get(code, ZERO),
                shares["education"].get(code, ZERO),
                shares["local"].get(code, ZERO),
            )
            before = parts.get(code, Surcharges(ZERO, ZERO, ZERO))
            parts[code] = Surcharges(
                before.urban + mine.urban,
                before.education + mine.education,
                before.local_education + mine.local_education,
            )
    for code in sorted(parts):
        due = parts[code]
        expense = resolver.account("surcharge_expense", standard, ids)
        expense_dims = resolver.role_dims("surcharge_expense", ids, project=code)
        if expense is None or expense_dims is None:
            continue
        entry.dr(expense, due.total, expense_dims, ids)
        for role, amount in (
            ("urban_tax", due.urban),
            ("education_surcharge", due.education),
            ("local_education_surcharge", due.local_education),
        ):
            tax_account = resolver.account(role, standard, ids)
            tax_dims = resolver.role_dims(role, ids, project=code)
            if tax_account is not None and tax_dims is not None:
                entry.cr(tax_account, amount, tax_dims, ids)
    if parts:
        notes.append(f"附加税 {money_sum(p.total for p in parts.values()):.2f}")
    if not resolver.ok(ids):
        return
    described = "增值税及附加税结转 " + "，".join(notes)
    voucher = common.period_voucher(
        resolver, entry.merged(), "", period, members, transfer, described, group=group, book=book
    )
    plan.add(voucher, group)


def _output_weights(ctx: PlanningContext, period: str) -> dict[str, Decimal]:
    """Output VAT of the period's issued invoices by project: how the seat's surcharges are spread."""
    contracts = common.contracts_by_number(ctx)
    weights: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for invoice in common.related_of(ctx, "invoice", Invoice):
        if invoice.direction is not InvoiceDirection.OUT or common.period_of(invoice.issue_date) != period:
            continue
        contract = contracts.get(invoice.contract_no or "")
        project = invoice.project_code or (contract.project_code if contract else None)
        if project:
            weights[project] += invoice.tax_amount
    return {code: amount for code, amount in weights.items() if amount > ZERO}


def _project(
    plan: Plan,
    resolver: common.Resolver,
    options: MonthEndOptions,
    month: _Month,
    project: str,
    others: Ledger,
    own: Ledger,
    closed: set[str],
) -> None:
    """The project's 合同结算 presentation (and its red-ink reversal) and its loss provision."""
    rules, ctx, period = resolver.rules, resolver.ctx, month.period
    members = sorted(month.by_project[project], key=lambda d: d.source_key)
    ids = tuple(d.document_id for d in members)
    standard = resolver.standard(project)
    number = resolver.mapping.project_number(project)
    group = f"{project}|{period}"
    entry = common.Entry()
    reversal = common.Entry()
    notes: list[str] = []

    # 合同资产 / 合同负债 exist only under CAS 14; a 小企业 project keeps 工程结算 as it stands.
    presents = options.present_contract_balances and rules.account("contract_asset", standard) is not None
    if presents and group not in closed and number is not None:
        settlement = resolver.account("settlement", standard, ids)
        settlement_accounts = [settlement, rules.account("settlement_revenue", standard)]
        # Own postings are left out: last period's presentation was reversed on this period's first day.
        net = balance(others, settlement_accounts, number, period)
        role = "contract_asset" if net > ZERO else "contract_liability"
        target = resolver.account(role, standard, ids) if net != ZERO else None
        target_dims = resolver.role_dims(role, ids, project=project) if net != ZERO else ()
        # 合同结算 lines carry the customer as well as the 项目 (the receivable sub-ledger's pair)
        customer = valuation.customer_of(resolver, project)
        settlement_dims = resolver.role_dims("settlement", ids, project=project, customer=customer)
        if target and settlement and target_dims is not None and settlement_dims is not None:
            for book, sign in ((entry, 1), (reversal, -1)):
                if net > ZERO:
                    book.dr(target, sign * net, target_dims, ids)
                    book.cr(settlement, sign * net, settlement_dims, ids)
                else:
                    book.dr(settlement, sign * -net, settlement_dims, ids)
                    book.cr(target, sign * -net, target_dims, ids)
            notes.append(f"{'合同资产' if net > ZERO else '合同负债'} {abs(net):.2f}")

    if options.loss_provision and rules.account("provision", standard) is not None and number is not None:
        carried = balance(others, [rules.account("cost_of_sales", standard)], number, period)
        figures = _loss_figures(ctx, options, project, period, carried)
        if figures is not None:
            price, estimated, cumulative_cost = figures
            target_amount = loss_provision_target(price, estimated, cumulative_cost)
            provision = resolver.account("provision", standard, ids)
            held_now = -(
                balance(others, [provision], number, period) + balance(own, [provision], number, period)
            )
            adjustment = target_amount - held_now
            if adjustment != ZERO:
                cost = resolver.account("cost_of_sales", standard, ids)
                cost_dims = resolver.role_dims("cost_of_sales", ids, project=project)
                provision_dims = resolver.role_dims("provision", ids, project=project)
                if cost and provision and cost_dims is not None and provision_dims is not None:
                    if adjustment > ZERO:
                        entry.dr(cost, adjustment, cost_dims, ids)
                        entry.cr(provision, adjustment, provision_dims, ids)
                    else:
                        entry.dr(provision, -adjustment, provision_dims, ids)
                        entry.cr(cost, -adjustment, cost_dims, ids)
                    notes.append(f"亏损合同预计负债 {target_amount:.2f}")
    if not resolver.ok(ids):
        return
    described = "期末结转 " + "，".join(notes)
    plan.add(common.period_voucher(resolver, entry, project, period, members, ZERO, described), group)
    if reversal.lines:
        # Red ink (负数, same sides) on the next period's first day: the books keep running figures.
        back = f"{group}|reverse"
        summary = common.summary_of(
            rules, ctx, project, _next_day(period), period=period, description=f"冲回 {period} 合同结算列报"
        )
        key = common.key_for(ctx, rules, back, members)
        plan.add(reversal.voucher(key, back, _next_day(period), summary), back)


def _loss_figures(
    ctx: PlanningContext, options: MonthEndOptions, project: str, period: str, carried: Decimal
) -> tuple[Decimal, Decimal, Decimal] | None:
    """(price ex-VAT, estimated total cost, cumulative cost to the period's end), or None if unknown.

    The same figures REVENUE uses: budget lines (or the go-live estimate, or the option) for the
    estimate, income contracts ex-VAT for the price, and for the cost the go-live cost to date plus
    what the other rules carried to 主营业务成本 (`carried`: cost records, non-deductible VAT,
    allocated indirect cost — revenue's progress); before any revenue posting, the cost records.
    """
    end = common.period_end(period)
    openings = [
        o for o in common.related_of(ctx, "opening_balance", OpeningBalance) if o.project_code == project
    ]
    lines = [b for b in common.related_of(ctx, "budget_line", BudgetLine) if b.project_code == project]
    budgets, ambiguous = common.budget_totals(lines, options.budget_version)
    if project in ambiguous:
        return None  # REVENUE holds the project and says why; no estimate, no provision
    estimated = options.estimated_total_cost.get(project)
    if estimated is None:
        opening = [o.estimated_total_cost for o in openings if o.estimated_total_cost is not None]
        estimated = budgets.get(project) or (money_sum(opening) if opening else None)
    income = [
        c
        for c in common.related_of(ctx, "contract", Contract)
        if c.project_code == project and c.contract_kind is ContractKind.INCOME
    ]
    if estimated is None or estimated <= ZERO or not (income or project in options.contract_price):
        return None
    price = transaction_price(project, options.contract_price, income, options.default_vat_rate)
    opening_cost = money_sum(o.cost_to_date for o in openings)
    if carried != ZERO:
        return price, estimated, opening_cost + carried
    seen: dict[str, Decimal] = {}
    for record in common.related_of(ctx, "cost_record", CostRecord):
        if record.project_code == project and record.business_date <= end:
            seen[record.source_key] = record.amount
    return price, estimated, money_sum(seen.values()) + opening_cost


SPEC = common.EventSpec(
    Event.MONTH_END,
    plan_month_end,
    "progress_report",
    ROLES,
    ("project", "contract", "invoice", "cost_record", "budget_line", "opening_balance"),
    MonthEndOptions,
)
