"""What every event planner shares: its spec, options, value resolution, periods, lines, vouchers.

`EventSpec` is what an event module declares once (planner, document, account roles, related
kinds, options) for `yecai.mapping.registry` to collect.

`Resolver` looks up every value a document needs (项目 number, counterparty numbers, accounts
by role, cost-category accounts per accounting standard) and remembers each one it could not map,
so that a planner reports *all* unmapped values of a document at once and `checks.unmapped_values`
can list them before anything is posted. `Entry` collects debit and credit lines and turns them
into a balanced `Voucher` whose every line carries the posting key token.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from operator import itemgetter
from string import Formatter
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from yecai.domain.documents import (
    AccountingStandard,
    BudgetLine,
    Contract,
    ContractKind,
    CostCategory,
    Project,
    VatMethod,
)
from yecai.domain.money import ZERO, money_sum, round_money
from yecai.domain.vouchers import Voucher, VoucherLine
from yecai.errors import ConfigurationError
from yecai.mapping.interface import (
    PlannableDocument,
    Planner,
    PlanningContext,
    Unmapped,
    key_token,
    matches,
    member_keys,
    posting_key,
)
from yecai.mapping.rules import (
    Aggregation,
    CategoryRule,
    Event,
    MappingTable,
    RuleSet,
    SummaryValues,
    summary_fields,
)

Dims = tuple[tuple[str, str], ...]
OptionsT = TypeVar("OptionsT", bound="EventOptions")
ModelT = TypeVar("ModelT")
ResultT = TypeVar("ResultT")


class EventOptions(BaseModel):
    """Base of each event's typed `options`: unknown keys are refused, so a typo never passes."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One business event as its module declares it: everything the registry knows about it."""

    event: Event
    planner: Planner
    document: str  # the document kind it reads; a rule set for the event must name the same
    # account roles → the dimensions a line on that role carries unless the rule set says otherwise
    roles: Mapping[str, tuple[str, ...]]
    related: tuple[str, ...] = ()  # document kinds it consults through `PlanningContext.related`
    options: type[EventOptions] | None = None  # its typed `options`; None: it takes none
    # whether its lines use the cost-category accounts (`categories` / mapping `cost_accounts`)
    category_accounts: bool = False


# Options the pipeline reads from any rule set (`sync.corrections`, `sync.lifecycle`), not a planner.
PIPELINE_OPTIONS = frozenset({"corrections", "on_step_failure"})


def parse_options(rules: RuleSet, model: type[OptionsT]) -> OptionsT:
    """The rule set's `options` as the event's typed model, or a bilingual configuration error."""
    own = {key: value for key, value in rules.options.items() if key not in PIPELINE_OPTIONS}
    try:
        return model.model_validate(own)
    except ValidationError as exc:
        detail = "; ".join(f"options.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(
            f"规则集 {rules.name} 的 options 有误：{detail}",
            f"rule set {rules.name} has invalid options: {detail}",
        ) from None


# -- periods -------------------------------------------------------------------------------------


def period_of(day: dt.date) -> str:
    """The accounting period (会计期间, calendar month) of a business date: YYYY-MM."""
    return f"{day:%Y-%m}"


def period_end(period: str) -> dt.date:
    """The last day of a YYYY-MM period: the date month-end entries carry."""
    year, month = int(period[:4]), int(period[5:7])
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def group_key(aggregation: Aggregation, *, document: str, project: str, day: dt.date, extra: str = "") -> str:
    """The group a document falls into under the rule set's aggregation (deterministic text)."""
    suffix = f"|{extra}" if extra else ""
    match aggregation:
        case Aggregation.PER_DOCUMENT:
            return f"doc|{document}"
        case Aggregation.PROJECT_PERIOD:
            return f"{project}{suffix}|{period_of(day)}"
        case Aggregation.PROJECT_CATEGORY_MONTH:
            return f"{project}{suffix}|{period_of(day)}"
        case Aggregation.PERIOD:
            return f"*{suffix}|{period_of(day)}"
        case Aggregation.PROJECT_DAY:
            # every category of the project's day on one voucher: `extra` does not split it
            return f"{project}|{day.isoformat()}"
        case _:  # project_category_day: per project × extra × day
            return f"{project}{suffix}|{day.isoformat()}"


# Aggregations whose voucher is dated the period's last day (one voucher stands for a month).
PERIOD_AGGREGATIONS = frozenset(
    {Aggregation.PROJECT_PERIOD, Aggregation.PERIOD, Aggregation.PROJECT_CATEGORY_MONTH}
)


def group_date(aggregation: Aggregation, day: dt.date) -> dt.date:
    """The date a group's voucher carries: the day itself, or the period's end for period groups."""
    if aggregation in PERIOD_AGGREGATIONS:
        return period_end(period_of(day))
    return day


# -- selecting, keying and describing a group ----------------------------------------------------


def selected(rules: RuleSet, model: Any) -> bool:
    """Whether the rule set's `filter` lets a document through (no filter: every document)."""
    return not rules.filter or matches(model, rules.filter)


def key_for(ctx: PlanningContext, rules: RuleSet, group: str, members: Iterable[PlannableDocument]) -> str:
    """The posting key of one group: connection, rule set, group and the documents it carries."""
    return posting_key(ctx.connection, rules.name, group, member_keys(members))


def summary_of(
    rules: RuleSet, ctx: PlanningContext, project: str, day: dt.date, *, period: str = "", **values: object
) -> str:
    """The rule set's 摘要 for a group of `project` dated `day` (period: the day's month by default)."""
    template = rules.summary
    used = summary_fields(template)
    values["project_code"] = project
    # Only what the template shows is computed: formatting dates is slow, and a 摘要 is made for
    # every planned voucher.
    if "project_name" in used:
        values["project_name"] = ctx.project_names.get(project, project)
    if "date" in used:
        values["date"] = day.isoformat()
    if "period" in used:
        values["period"] = period or f"{day:%Y-%m}"
    # A rule set's template names known fields only (checked when it loads): nothing to filter.
    return template.format_map(SummaryValues(values)).strip()


def summaries(rules: RuleSet, ctx: PlanningContext) -> Callable[[str, dt.date, SummaryValues], str]:
    """`summary_of` for the many groups of one plan: `summary(project, day, values)` gives what
    `summary_of(rules, ctx, project, day, **values)` gives (and fills `values` in place), for
    values that are texts and numbers (what `str` and `format` render alike).

    What the template uses is worked out once per plan, and each day's date text made once
    (issue 15). A template of plain fields (no format spec, conversion, index or attribute: the
    default ones) is filled by `%`, about half the time of `format_map` re-reading the template.
    """
    template = rules.summary
    used = summary_fields(template)
    names = ctx.project_names if "project_name" in used else None
    # day → its text; None where the template shows no such field
    dates: dict[dt.date, str] | None = {} if "date" in used else None
    periods: dict[dt.date, str] | None = {} if "period" in used else None
    render = _plain_template(template)

    def summary(project: str, day: dt.date, values: SummaryValues) -> str:
        values["project_code"] = project
        if names is not None:
            values["project_name"] = names.get(project, project)
        if dates is not None:
            values["date"] = dates.get(day) or dates.setdefault(day, day.isoformat())
        if periods is not None:
            values["period"] = periods.get(day) or periods.setdefault(day, f"{day:%Y-%m}")
        return (render(values) if render is not None else template.format_map(values)).strip()

    return summary


def _plain_template(template: str) -> Callable[[SummaryValues], str] | None:
    """`template.format_map` as a `%` format of its fields, or None when a field is more than a
    plain name (those keep `format_map`)."""
    parts = list(Formatter().parse(template))
    fields = [name for _, name, _, _ in parts if name is not None]
    if any(
        not name.isidentifier() or spec or conversion is not None
        for _, name, spec, conversion in parts
        if name is not None
    ):
        return None
    # the template's own text, '%' kept as text; each field a %s (a value's str, as format gives it)
    pattern = "".join(
        text.replace("%", "%%") + ("%s" if name is not None else "") for text, name, _, _ in parts
    )
    if len(fields) == 1:
        (only,) = fields
        return lambda values: pattern % (values[only],)
    pick = itemgetter(*fields) if fields else (lambda _values: ())
    return lambda values: pattern % pick(values)


def period_summary(rules: RuleSet, ctx: PlanningContext, project: str, period: str, **values: object) -> str:
    """The 摘要 of a month-end group: `period` (YYYY-MM) dated its last day."""
    return summary_of(rules, ctx, project, period_end(period), period=period, **values)


# -- related documents ---------------------------------------------------------------------------


def related(ctx: PlanningContext, kind: str) -> list[Any]:
    """Models of another document kind the planner may consult (plain models or PlannableDocuments)."""
    return [getattr(item, "model", item) for item in ctx.related.get(kind, ())]


def related_of(ctx: PlanningContext, kind: str, model: type[ModelT]) -> list[ModelT]:
    """The related documents of `kind` that are `model`s (anything else passed in is ignored)."""
    return [item for item in related(ctx, kind) if isinstance(item, model)]


def contracts_by_number(ctx: PlanningContext) -> dict[str, Contract]:
    return {c.contract_no: c for c in related_of(ctx, "contract", Contract)}


def income_contracts(ctx: PlanningContext) -> dict[str, list[Contract]]:
    """Income contracts (施工合同 with the owner) per project code, by contract number."""
    out: dict[str, list[Contract]] = defaultdict(list)
    for contract in sorted(contracts_by_number(ctx).values(), key=lambda c: c.contract_no):
        if contract.contract_kind is ContractKind.INCOME:
            out[contract.project_code].append(contract)
    return out


# -- budgets -------------------------------------------------------------------------------------

LATEST = "latest"  # budget_version: the highest version of each budget line kept side by side


def _version_key(version: str | None) -> tuple[object, ...]:
    """Natural order of version labels: V2 < V10, 调整1 < 调整2; no label first."""
    parts = re.split(r"(\d+)", version or "")
    return tuple(int(part) if part.isdigit() else part for part in parts)


def budget_totals(
    lines: Iterable[BudgetLine], version: str | None
) -> tuple[dict[str, Decimal], dict[str, set[str]]]:
    """Estimated total cost per project from its budget lines, and the projects whose budget is
    ambiguous (project → the versions found).

    A source either revises a line in place (one line per category whose version counts its
    revisions: V1 for one category, V2 for another is one budget) or keeps versions side by side
    (several lines for the same category and BOQ item). Only the second is ambiguous: `version`
    names the one to use, `latest` takes the highest per line, None reports it.
    """
    groups: dict[tuple[str, str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for line in lines:
        if version not in (None, LATEST) and line.version != version:
            continue
        group = groups[(line.project_code, line.category.value, line.boq_code or "")]
        group[line.version or ""] += line.amount
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    ambiguous: dict[str, set[str]] = defaultdict(set)
    for (project, _category, _boq), by_version in groups.items():
        if len(by_version) > 1 and version is None:
            ambiguous[project].update(by_version)
            continue
        chosen = max(by_version, key=_version_key)
        totals[project] += by_version[chosen]
    return dict(totals), dict(ambiguous)


# Which cost category a contract kind's payables and invoices belong to (configurable per event).
CONTRACT_CATEGORIES: dict[str, CostCategory] = {
    ContractKind.PURCHASE.value: CostCategory.MATERIAL,
    ContractKind.SUBCONTRACT.value: CostCategory.SUBCONTRACT,
    ContractKind.LABOUR.value: CostCategory.LABOUR,
    ContractKind.LEASE.value: CostCategory.MACHINERY,
}


def payable_category(
    contract: Contract | None, fallback: CostCategory, table: Mapping[str, CostCategory]
) -> CostCategory:
    """The cost category whose credit account is a document's payable (应付账款—X).

    Decided by the contract's kind whenever the document names a known contract — so the cost, the
    invoice and the payment of one contract meet on one payable account — and by the document's
    own cost category (`fallback`) when it has no contract.
    """
    if contract is not None and contract.contract_kind.value in table:
        return table[contract.contract_kind.value]
    return fallback


@dataclass(frozen=True, slots=True)
class Payable:
    """The payable a document is owed on: its category, the category's accounts, the line's dimensions."""

    category: CostCategory
    rule: CategoryRule
    dims: Dims

    @property
    def account(self) -> str:
        return self.rule.credit


# -- resolution ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Resolver:
    """Looks values up for one plan and remembers every value it could not map, per document."""

    rules: RuleSet
    mapping: MappingTable
    ctx: PlanningContext
    role_dimensions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    missing: dict[tuple[str, str], set[int]] = field(default_factory=lambda: defaultdict(set))
    failed: set[int] = field(default_factory=set)
    _projects: dict[str, Project] = field(default_factory=dict)
    # `memo`: key → (value, the misses computing it recorded); `_trace` collects those misses
    _memo: dict[Hashable, tuple[Any, tuple[tuple[str, str], ...]]] = field(default_factory=dict)
    _trace: list[tuple[str, str]] | None = None
    # Values found, by what they were looked up with: a plan asks for the same few hundred again
    # and again (issue 15). Only what was found is kept: a miss is looked up (and reported) anew.
    _numbers: dict[str, str] = field(default_factory=dict)  # project code → 项目 number
    _standards: dict[str, AccountingStandard] = field(default_factory=dict)
    _category_rules: dict[tuple[CostCategory, AccountingStandard], CategoryRule] = field(default_factory=dict)
    _dims: dict[tuple[object, ...], Dims] = field(default_factory=dict)  # `dims` complete, by its arguments

    def __post_init__(self) -> None:
        self._projects = {p.code: p for p in related(self.ctx, "project") if isinstance(p, Project)}

    def miss(self, kind: str, value: str, doc_ids: Iterable[int]) -> None:
        ids = list(doc_ids)
        self.missing[(kind, value)].update(ids)
        self.failed.update(ids)
        if self._trace is not None:
            self._trace.append((kind, value))

    def memo(self, key: Hashable, compute: Callable[[list[int]], ResultT], doc_ids: list[int]) -> ResultT:
        """`compute(doc_ids)` once per `key` in this plan; later documents with the same key get
        the same value, and every value it could not map is reported for them too.

        Resolution is a pure function of the plan's rule set, mapping table and context (fixed for
        one `Resolver`) and of the document fields the caller puts in `key`: the key must hold
        every field `compute` reads, or two documents would share a wrong answer. Thousands of
        cost lines share a few hundred (project, category, counterparty …) keys (issue 15).
        """
        found = self._memo.get(key)
        if found is not None:
            value, misses = found
            for kind, missed in misses:
                self.miss(kind, missed, doc_ids)
            return value
        outer, self._trace = self._trace, []
        try:
            value = compute(doc_ids)
            trace = self._trace
        finally:
            self._trace = outer
        if outer is not None:
            outer.extend(trace)
        self._memo[key] = (value, tuple(trace))
        return value

    def ok(self, doc_ids: Iterable[int]) -> bool:
        return self.failed.isdisjoint(doc_ids)

    def unmapped(self) -> list[Unmapped]:
        return [
            Unmapped(kind, value, tuple(sorted(ids))) for (kind, value), ids in sorted(self.missing.items())
        ]

    # values

    def project(self, code: str, doc_ids: Iterable[int]) -> str | None:
        number = self._numbers.get(code)
        if number is not None:
            return number
        number = self.mapping.project_number(code)
        if number is None or (
            self.ctx.kingdee_projects is not None and number not in self.ctx.kingdee_projects
        ):
            self.miss("project", code, doc_ids)
            return None
        self._numbers[code] = number
        return number

    def standard(self, code: str) -> AccountingStandard:
        standard = self._standards.get(code)
        if standard is None:
            declared = self._projects.get(code)
            standard = self.mapping.standard_of(code, declared.accounting_standard if declared else None)
            self._standards[code] = standard
        return standard

    def project_document(self, code: str) -> Project | None:
        return self._projects.get(code)

    def vat_method(self, code: str) -> VatMethod:
        """一般计税 or 简易计税 for the project (mapping row, Project document, default)."""
        return self.mapping.vat_method_of(code, self._projects.get(code))

    def cross_region(self, code: str) -> bool:
        """Whether the project is 跨县(市、区), so VAT is prepaid at its location."""
        return self.mapping.cross_region_of(code, self._projects.get(code))

    def urban_tax_rate(self, code: str) -> Decimal:
        """城市维护建设税 rate at the project's location."""
        return self.mapping.urban_tax_rate_of(code)

    def organisation(self, code: str, doc_ids: Iterable[int]) -> str | None:
        number = self.mapping.organisation(code)
        if number is None:
            self.miss("organisation", code, doc_ids)
        return number

    def book(self, code: str) -> str:
        """The 账簿 the project's vouchers go to: its organisation's book, else the rule set's.

        VAT, surcharges and allocations are per legal entity (per book): a planner whose voucher
        spans projects groups them by this, so one voucher never mixes two books.
        """
        return self.mapping.account_book(code) or self.rules.kingdee.account_book

    def department(self, code: str, doc_ids: Iterable[int]) -> str | None:
        number = self.mapping.department(code)
        if number is None:
            self.miss("department", code, doc_ids)
        return number

    def supplier(self, name: str | None, doc_ids: Iterable[int]) -> str | None:
        number = self.mapping.supplier_number(name) if name else None
        if number is None:
            self.miss("supplier", name or "-", doc_ids)
        return number

    def customer(self, name: str | None, doc_ids: Iterable[int]) -> str | None:
        number = self.mapping.customer_number(name) if name else None
        if number is None:
            self.miss("customer", name or "-", doc_ids)
        return number

    def worker(self, id_number: str | None, doc_ids: Iterable[int]) -> str | None:
        number = self.mapping.worker_number(id_number) if id_number else None
        if number is None:
            self.miss("worker", id_number or "-", doc_ids)
        return number

    # accounts

    def account(self, role: str, standard: AccountingStandard, doc_ids: Iterable[int]) -> str | None:
        number = self.rules.account(role, standard)
        if number is None:
            label = role if standard is self.rules.standard else f"{standard.value}/{role}"
            self.miss("account", label, doc_ids)
        return number

    def category(
        self, category: CostCategory, standard: AccountingStandard, doc_ids: Iterable[int]
    ) -> CategoryRule | None:
        rule = self._category_rules.get((category, standard))
        if rule is not None:
            return rule
        rule = self.rules.category_rule(category, standard, self.mapping)
        if rule is not None:
            self._category_rules[(category, standard)] = rule
        else:
            label = (
                category.value if standard is self.rules.standard else f"{standard.value}/{category.value}"
            )
            self.miss("category", label, doc_ids)
        return rule

    def payable(
        self,
        contract: Contract | None,
        fallback: CostCategory,
        table: Mapping[str, CostCategory],
        standard: AccountingStandard,
        doc_ids: Sequence[int],
        *,
        project: str,
        supplier: str | None,
    ) -> Payable | None:
        """The payable of a document (one function for cost, invoice and payment): account by the
        contract's kind (`payable_category`), dimensions of that category's credit line. A payable
        line whose dimensions need a supplier the document does not name is reported, not posted."""
        category = payable_category(contract, fallback, table)
        rule = self.category(category, standard, doc_ids)
        if rule is None:
            return None
        dims = self.dims(rule.credit_dimensions, doc_ids, project=project, supplier=supplier)
        return None if dims is None else Payable(category, rule, dims)

    # dimensions

    def dimensions_of(self, role: str) -> tuple[str, ...]:
        return self.rules.dimensions.get(role, self.role_dimensions.get(role, ()))

    def dims(
        self,
        names: Sequence[str],
        doc_ids: Sequence[int],
        *,
        project: str | None = None,
        supplier: str | None = None,
        customer: str | None = None,
        worker: str | None = None,
    ) -> Dims | None:
        """FDetailID values for the named dimensions; None (and recorded) when one is unmapped."""
        asked = (names if type(names) is tuple else tuple(names), project, supplier, customer, worker)
        found = self._dims.get(asked)
        if found is not None:
            return found
        target = self.rules.kingdee
        out: list[tuple[str, str]] = []
        complete = True
        for name in names:
            value: str | None
            match name:
                case "project":
                    value = self.project(project, doc_ids) if project else None
                    if project is None:
                        self.miss("project", "-", doc_ids)
                case "department":
                    value = self.department(project, doc_ids) if project else None
                    if project is None:
                        self.miss("department", "-", doc_ids)
                case "supplier":
                    value = self.supplier(supplier, doc_ids)
                case "customer":
                    value = self.customer(customer, doc_ids)
                case "worker":
                    value = self.worker(worker, doc_ids)
                case _:
                    raise ConfigurationError(
                        f"规则集 {self.rules.name} 使用了未知的核算维度 {name}",
                        f"rule set {self.rules.name} uses an unknown dimension {name}",
                    )
            if value is None:
                complete = False
            else:
                out.append((target.flex_key(name), value))
        if not complete:
            return None
        # every value found (a miss leaves it incomplete): the same arguments give the same answer
        self._dims[asked] = dims = tuple(out)
        return dims

    def role_dims(self, role: str, doc_ids: Sequence[int], **values: str | None) -> Dims | None:
        return self.dims(self.dimensions_of(role), doc_ids, **values)


# -- entries -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Line:
    """One line of an `Entry`, made by `Entry._add` only: its amounts are rounded to the cent."""

    account: str
    debit: Decimal
    credit: Decimal
    dims: Dims
    doc_ids: tuple[int, ...]
    # words this line's 摘要 adds after the voucher's (e.g. the supplier of one payable line)
    note: str = ""


# Entries make hundreds of thousands of lines when planning a big ledger; a frozen dataclass's
# `__init__` sets each field through object.__setattr__ by name, which was most of a line's cost
# (issue 15). `_line` fills the slots through their own setters: the same frozen `Line`, faster.
_new = object.__new__
_LINE_SETTERS = tuple(
    Line.__dict__[name].__set__ for name in ("account", "debit", "credit", "dims", "doc_ids", "note")
)


def _line(
    account: str, debit: Decimal, credit: Decimal, dims: Dims, doc_ids: tuple[int, ...], note: str
) -> Line:
    line = _new(Line)
    set_account, set_debit, set_credit, set_dims, set_ids, set_note = _LINE_SETTERS
    set_account(line, account)
    set_debit(line, debit)
    set_credit(line, credit)
    set_dims(line, dims)
    set_ids(line, doc_ids)
    set_note(line, note)
    return line


@dataclass(slots=True)
class Entry:
    """Debit and credit lines of one posting before it becomes a `Voucher`."""

    lines: list[Line] = field(default_factory=list)

    def dr(
        self, account: str, amount: Decimal, dims: Dims = (), doc_ids: Iterable[int] = (), note: str = ""
    ) -> None:
        # Zero lines are dropped: Kingdee refuses a line with neither debit nor credit.
        if amount != ZERO:
            self.lines.append(_line(account, round_money(amount), ZERO, dims, tuple(doc_ids), note))

    def cr(
        self, account: str, amount: Decimal, dims: Dims = (), doc_ids: Iterable[int] = (), note: str = ""
    ) -> None:
        if amount != ZERO:
            self.lines.append(_line(account, ZERO, round_money(amount), dims, tuple(doc_ids), note))

    def _add(
        self,
        account: str,
        debit: Decimal,
        credit: Decimal,
        dims: Dims,
        doc_ids: Iterable[int],
        note: str = "",
    ) -> None:
        # Zero lines are dropped: Kingdee refuses a line with neither debit nor credit.
        if debit == ZERO and credit == ZERO:
            return
        self.lines.append(Line(account, round_money(debit), round_money(credit), dims, tuple(doc_ids), note))

    def extend(self, other: Entry) -> None:
        self.lines.extend(other.lines)

    def _totals(self) -> Iterator[tuple[str, bool, Dims, str, Decimal, tuple[int, ...]]]:
        """Lines on the same account, side, dimensions and note added up, in order of first
        appearance: (account, debit side, dims, note, amount, document ids); sums of zero left out."""
        totals: dict[tuple[str, bool, Dims, str], tuple[list[Decimal], list[int]]] = {}
        for line in self.lines:
            debit_side = line.debit != ZERO
            slot = (line.account, debit_side, line.dims, line.note)
            found = totals.get(slot)
            if found is None:
                totals[slot] = found = ([], [])
            found[0].append(line.debit if debit_side else line.credit)
            found[1].extend(line.doc_ids)
        for (account, debit_side, dims, note), (amounts, ids) in totals.items():
            # A sum of amounts rounded to the cent is rounded to the cent: no second rounding.
            amount = money_sum(amounts) if len(amounts) > 1 else amounts[0]
            if amount == ZERO:
                continue  # lines that cancel out leave no line (as `dr`/`cr` drop a zero)
            yield (
                account,
                debit_side,
                dims,
                note,
                amount,
                tuple(ids) if len(ids) == 1 else tuple(dict.fromkeys(ids)),
            )

    def merged(self) -> Entry:
        """Lines on the same account, side and dimensions added up (an aggregated voucher stays short)."""
        out = Entry()
        append = out.lines.append
        for account, debit_side, dims, note, amount, ids in self._totals():
            if debit_side:
                append(_line(account, amount, ZERO, dims, ids, note))
            else:
                append(_line(account, ZERO, amount, dims, ids, note))
        return out

    def merged_voucher(
        self, posting_key: str, group: str, date: dt.date, summary: str, book: str | None = None
    ) -> Voucher | None:
        """`merged().voucher(…)` in one pass, without the merged entry's intermediate lines.

        A merged line carries a non-zero sum of rounded amounts on one side only, so it needs no
        check before it becomes a voucher line.
        """
        token = key_token(posting_key)
        plain = f"{summary} {token}" if summary else token
        lines = [
            VoucherLine.checked_by_caller(
                account,
                amount if debit_side else ZERO,
                ZERO if debit_side else amount,
                _explanation(summary, note, token) if note else plain,
                dims,
                ids,
            )
            for account, debit_side, dims, note, amount, ids in self._totals()
        ]
        return (
            Voucher.of_checked_lines(posting_key, group, date, summary, tuple(lines), book) if lines else None
        )

    def voucher(
        self, posting_key: str, group: str, date: dt.date, summary: str, book: str | None = None
    ) -> Voucher | None:
        """The balanced voucher (None when every line was zero); raises if a rule is unbalanced."""
        if not self.lines:
            return None
        token = key_token(posting_key)
        plain = f"{summary} {token}" if summary else token
        lines: list[VoucherLine] = []
        for line in self.lines:
            # Amounts went through round_money in `dr`/`cr`; only the one-side rule is left to
            # check (a sub-cent amount rounds to nothing), so the line is not validated twice.
            if (line.debit != ZERO) == (line.credit != ZERO):
                raise ValueError(f"line on {line.account} must carry exactly one of debit and credit")
            explanation = _explanation(summary, line.note, token) if line.note else plain
            lines.append(
                VoucherLine.checked_by_caller(
                    line.account, line.debit, line.credit, explanation, line.dims, line.doc_ids
                )
            )
        return Voucher.of_checked_lines(posting_key, group, date, summary, tuple(lines), book)


def pair_voucher(
    posting_key: str,
    group: str,
    date: dt.date,
    summary: str,
    debit: tuple[str, Dims],
    credit: tuple[str, Dims, str],
    amount: Decimal,
    doc_ids: tuple[int, ...],
) -> Voucher | None:
    """The voucher of one Dr/Cr pair of `amount`: what `Entry` gives for `dr` + `cr` +
    `merged_voucher`, without the entry (most cost vouchers are one pair; issue 15).

    `debit` is (account, dims), `credit` (account, dims, note). None when the amount rounds to
    zero, as the entry drops zero lines.
    """
    rounded = round_money(amount)
    if rounded == ZERO:
        return None
    ids = doc_ids if len(doc_ids) == 1 else tuple(dict.fromkeys(doc_ids))
    token = key_token(posting_key)
    plain = f"{summary} {token}" if summary else token
    credit_account, credit_dims, note = credit
    lines = (
        VoucherLine.checked_by_caller(debit[0], rounded, ZERO, plain, debit[1], ids),
        VoucherLine.checked_by_caller(
            credit_account,
            ZERO,
            rounded,
            _explanation(summary, note, token) if note else plain,
            credit_dims,
            ids,
        ),
    )
    return Voucher.of_checked_lines(posting_key, group, date, summary, lines)


# One Dr/Cr pair of `pairs_voucher`: debit account and dims, credit account, dims and the credit
# line's note, the amount, the documents.
Pair = tuple[str, Dims, str, Dims, str, Decimal, tuple[int, ...]]


def pairs_voucher(
    posting_key: str, group: str, date: dt.date, summary: str, pairs: Sequence[Pair]
) -> Voucher | None:
    """The voucher of several Dr/Cr pairs: what `Entry` gives for a `dr` + `cr` per pair and
    `merged_voucher` — lines on the same account, side, dimensions and note added up, in order of
    first appearance — without the entry's intermediate lines (issue 15). None when nothing is left.
    """
    totals: dict[tuple[str, bool, Dims, str], tuple[list[Decimal], list[int]]] = {}
    for debit, debit_dims, credit, credit_dims, note, amount, ids in pairs:
        if amount == ZERO:
            continue  # `dr` and `cr` drop a zero amount
        rounded = round_money(amount)
        # the debit slot, then the credit slot (written out: this runs for every pair planned)
        # a sub-cent amount rounds to 0.00: the entry's debit line then counts on the credit side
        slot = (debit, rounded != ZERO, debit_dims, "")
        found = totals.get(slot)
        if found is None:
            totals[slot] = ([rounded], list(ids))
        else:
            found[0].append(rounded)
            found[1].extend(ids)
        slot = (credit, False, credit_dims, note)
        found = totals.get(slot)
        if found is None:
            totals[slot] = ([rounded], list(ids))
        else:
            found[0].append(rounded)
            found[1].extend(ids)
    token = key_token(posting_key)
    plain = f"{summary} {token}" if summary else token
    lines: list[VoucherLine] = []
    for (account, debit_side, dims, note), (amounts, ids) in totals.items():
        total = money_sum(amounts) if len(amounts) > 1 else amounts[0]
        if total == ZERO:
            continue
        lines.append(
            VoucherLine.checked_by_caller(
                account,
                total if debit_side else ZERO,
                ZERO if debit_side else total,
                _explanation(summary, note, token) if note else plain,
                dims,
                tuple(ids) if len(ids) == 1 else tuple(dict.fromkeys(ids)),
            )
        )
    return Voucher.of_checked_lines(posting_key, group, date, summary, tuple(lines)) if lines else None


def _explanation(summary: str, note: str, token: str) -> str:
    """A line's 摘要: the voucher's, the line's own words, the key token (empty parts left out)."""
    if summary and note and token:  # every line that has words of its own on a planned voucher
        return f"{summary} {note} {token}"
    return " ".join(part for part in (summary, note, token) if part)


def period_voucher(
    resolver: Resolver,
    entry: Entry,
    project: str,
    period: str,
    members: Sequence[PlannableDocument],
    amount: Decimal,
    description: str = "",
    *,
    group: str | None = None,
    count: int | None = None,
    book: str | None = None,
    **values: object,
) -> Voucher | None:
    """The voucher of a month-end group (by default the project's month): keyed by its documents,
    described with `amount` and dated the period's last day. `count` in the 摘要 is the number of
    documents unless the event counts something else."""
    rules, ctx = resolver.rules, resolver.ctx
    group = group or f"{project}|{period}"
    summary = period_summary(
        rules,
        ctx,
        project,
        period,
        count=len(members) if count is None else count,
        amount=f"{amount:.2f}",
        description=description,
        **values,
    )
    return entry.voucher(key_for(ctx, rules, group, members), group, period_end(period), summary, book)
