"""Projects and cost records of sandbox.pm, their enumerations, and the Dataset that bundles all.

Plain frozen dataclasses: the generator builds them once, the API serves them, and tests or the
demo compute expected totals from them without HTTP. Money and quantities are `Decimal`;
timestamps are aware datetimes in China Standard Time (+08:00). The other streams (BOQ, budgets,
contracts, …) are in `records.py`; every stream's versions over time are in `Dataset.histories`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any

from yecai.jsonutil import dumps
from yecai.sandbox.pm.timeline import Version, current

if TYPE_CHECKING:
    from yecai.sandbox.pm.records import (
        Attendance,
        BoqItem,
        BudgetLine,
        Contract,
        Defect,
        Invoice,
        OpeningBalance,
        PaymentRequest,
        ProgressReport,
        Receipt,
        Worker,
    )

# China has one time zone and no daylight saving; every timestamp the sandbox emits carries +08:00.
CHINA_TZ = timezone(timedelta(hours=8))
CENT = Decimal("0.01")


class CostCategory(StrEnum):
    """Cost elements of 合同履约成本: three daily direct ones, subcontracts, other direct, indirect."""

    LABOUR = "labour"
    MATERIAL = "material"
    MACHINERY = "machinery"
    SUBCONTRACT = "subcontract"
    OTHER_DIRECT = "other_direct"
    INDIRECT = "indirect"

    @property
    def chinese(self) -> str:
        return _CATEGORY_NAMES[self]


_CATEGORY_NAMES: dict[CostCategory, str] = {
    CostCategory.LABOUR: "人工费",
    CostCategory.MATERIAL: "材料费",
    CostCategory.MACHINERY: "机械使用费",
    CostCategory.SUBCONTRACT: "分包成本",
    CostCategory.OTHER_DIRECT: "其他直接费",
    CostCategory.INDIRECT: "间接费用",
}
# The daily site ledger (人材机) that /api/v1/cost-records has always answered without a filter.
DIRECT_CATEGORIES: frozenset[CostCategory] = frozenset(
    {CostCategory.LABOUR, CostCategory.MATERIAL, CostCategory.MACHINERY}
)


class ProjectStatus(StrEnum):
    """Project state as PM systems show it, as of the first day of the data window."""

    UNDER_CONSTRUCTION = "在建"
    NOT_STARTED = "未开工"
    SUSPENDED = "停工"
    COMPLETED = "已竣工"


class VatMethod(StrEnum):
    """How the project's construction service is taxed (计税方法), as PM systems show it."""

    GENERAL = "一般计税"  # 9 %, input VAT deductible
    SIMPLE = "简易计税"  # 3 % 征收率 (甲供, 清包工, 老项目)


@dataclass(frozen=True, slots=True)
class Project:
    """A construction project (项目档案). `contract_amount` is the signed price in 元, VAT included."""

    project_code: str
    project_name: str
    project_type: str
    province: str
    city: str
    district: str
    branch_name: str
    department_name: str
    manager_name: str
    customer_name: str
    contract_amount: Decimal
    start_date: date
    end_date: date
    status: ProjectStatus
    vat_method: VatMethod
    cross_region: bool  # 跨县(市、区) of the contractor's registered seat: VAT prepaid at the location
    created_at: datetime
    updated_at: datetime

    @property
    def key(self) -> str:
        return self.project_code


@dataclass(frozen=True, slots=True)
class CostRecord:
    """One line of a project's cost ledger (成本台账). `amount` = quantity × unit_price, tax-exclusive.

    `team_name` is the 班组 of a labour line; `contract_no` the contract the cost is incurred under
    (daily direct costs and subcontract settlements); `invoice_no` the invoice that came with the
    bill, when it did (subcontract settlements and most expenses; daily costs are invoiced monthly).
    """

    record_id: str
    project_code: str
    category: CostCategory
    category_name: str
    business_date: date
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal
    tax_rate: Decimal
    supplier_name: str | None
    team_name: str | None
    contract_no: str | None
    invoice_no: str | None
    entered_by: str
    created_at: datetime
    updated_at: datetime
    # 费用明细 of an other-direct / indirect cost (项目管理人员薪酬, 施工用电 …): what it is owed on
    subcategory: str | None = None

    @property
    def key(self) -> str:
        return self.record_id


# Entity names (event types, history keys) in the order the API documents them.
ENTITIES: tuple[str, ...] = (
    "project",
    "cost_record",
    "boq_item",
    "budget_line",
    "contract",
    "progress_report",
    "payment_request",
    "invoice",
    "receipt",
    "worker",
    "attendance",
    "opening_balance",
)


@dataclass(frozen=True)
class Snapshot:
    """The live records of every stream at one moment, each tuple in key order."""

    now: datetime | None
    projects: tuple[Project, ...]
    cost_records: tuple[CostRecord, ...]  # daily direct costs (人工费, 材料费, 机械使用费)
    other_cost_records: tuple[CostRecord, ...]  # 分包成本, 其他直接费, 间接费用
    boq_items: tuple[BoqItem, ...]
    budget_lines: tuple[BudgetLine, ...]
    contracts: tuple[Contract, ...]
    progress_reports: tuple[ProgressReport, ...]
    payment_requests: tuple[PaymentRequest, ...]
    invoices: tuple[Invoice, ...]
    receipts: tuple[Receipt, ...]
    workers: tuple[Worker, ...]
    attendance: tuple[Attendance, ...]
    opening_balances: tuple[OpeningBalance, ...] = ()  # 期初 of contracts running at go-live

    @property
    def all_cost_records(self) -> tuple[CostRecord, ...]:
        """Every cost line of every category, in record_id order."""
        return tuple(sorted((*self.cost_records, *self.other_cost_records), key=lambda r: r.record_id))

    def of(self, entity: str) -> tuple[Any, ...]:
        """The tuple for an entity name (`cost_record` gives every category)."""
        if entity == "cost_record":
            return self.all_cost_records
        return tuple(getattr(self, _TUPLE_NAMES[entity]))


_TUPLE_NAMES: dict[str, str] = {
    "project": "projects",
    "boq_item": "boq_items",
    "budget_line": "budget_lines",
    "contract": "contracts",
    "progress_report": "progress_reports",
    "payment_request": "payment_requests",
    "invoice": "invoices",
    "receipt": "receipts",
    "worker": "workers",
    "attendance": "attendance",
    "opening_balance": "opening_balances",
}


def snapshot(histories: Mapping[str, tuple[Version, ...]], now: datetime | None) -> Snapshot:
    """The state at `now` (None: after the last event) of the given histories."""
    live = {entity: current(histories.get(entity, ()), now) for entity in ENTITIES}
    costs = live["cost_record"]
    return Snapshot(
        now=now,
        projects=tuple(live["project"]),
        cost_records=tuple(r for r in costs if r.category in DIRECT_CATEGORIES),
        other_cost_records=tuple(r for r in costs if r.category not in DIRECT_CATEGORIES),
        boq_items=tuple(live["boq_item"]),
        budget_lines=tuple(live["budget_line"]),
        contracts=tuple(live["contract"]),
        progress_reports=tuple(live["progress_report"]),
        payment_requests=tuple(live["payment_request"]),
        invoices=tuple(live["invoice"]),
        receipts=tuple(live["receipt"]),
        workers=tuple(live["worker"]),
        attendance=tuple(live["attendance"]),
        opening_balances=tuple(live["opening_balance"]),
    )


@dataclass(frozen=True)
class Dataset:
    """Everything one sandbox.pm instance serves, generated once from (projects, months, seed, start).

    `histories` holds every version of every record on the timeline up to `timeline_end`; the
    attributes `projects`, `cost_records`, … are the state at `timeline_end` (the newest version of
    each record, deleted ones left out), which is what a server shows unless its clock is set
    earlier. `at(now)` gives the state at any other moment. `cost_records` are the daily direct
    costs the API answers by default; `other_cost_records` the other three categories.
    """

    seed: int
    start_month: str
    months: int
    first_day: date
    last_day: date
    timeline_end: datetime
    bad_rate: float
    histories: Mapping[str, tuple[Version, ...]]
    defects: tuple[Defect, ...] = ()
    projects: tuple[Project, ...] = field(init=False, compare=False)
    cost_records: tuple[CostRecord, ...] = field(init=False, compare=False)
    other_cost_records: tuple[CostRecord, ...] = field(init=False, compare=False)
    boq_items: tuple[BoqItem, ...] = field(init=False, compare=False, repr=False)
    budget_lines: tuple[BudgetLine, ...] = field(init=False, compare=False, repr=False)
    contracts: tuple[Contract, ...] = field(init=False, compare=False, repr=False)
    progress_reports: tuple[ProgressReport, ...] = field(init=False, compare=False, repr=False)
    payment_requests: tuple[PaymentRequest, ...] = field(init=False, compare=False, repr=False)
    invoices: tuple[Invoice, ...] = field(init=False, compare=False, repr=False)
    receipts: tuple[Receipt, ...] = field(init=False, compare=False, repr=False)
    workers: tuple[Worker, ...] = field(init=False, compare=False, repr=False)
    attendance: tuple[Attendance, ...] = field(init=False, compare=False, repr=False)
    opening_balances: tuple[OpeningBalance, ...] = field(init=False, compare=False, repr=False)
    _final: Snapshot = field(init=False, compare=False, repr=False)
    _projects: dict[str, Project] = field(init=False, repr=False, compare=False)
    _records: dict[str, tuple[CostRecord, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        final = snapshot(self.histories, None)
        # The dataclass is frozen; derived attributes are set the way dataclasses set fields.
        object.__setattr__(self, "_final", final)
        for name in _TUPLE_NAMES.values():
            object.__setattr__(self, name, getattr(final, name))
        object.__setattr__(self, "cost_records", final.cost_records)
        object.__setattr__(self, "other_cost_records", final.other_cost_records)
        grouped: dict[str, list[CostRecord]] = {project.project_code: [] for project in final.projects}
        for record in final.cost_records:
            grouped[record.project_code].append(record)
        object.__setattr__(self, "_projects", {project.project_code: project for project in final.projects})
        object.__setattr__(self, "_records", {code: tuple(rows) for code, rows in grouped.items()})

    @property
    def timeline_start(self) -> datetime:
        """Midnight of the first day of the window: everything created before it is already there."""
        return datetime.combine(self.first_day, datetime.min.time(), CHINA_TZ)

    @property
    def all_cost_records(self) -> tuple[CostRecord, ...]:
        return self._final.all_cost_records

    def at(self, now: datetime) -> Snapshot:
        """The live records at `now`: created by then, in the version current then, not yet deleted."""
        return snapshot(self.histories, now)

    def project(self, project_code: str) -> Project:
        try:
            return self._projects[project_code]
        except KeyError:
            raise KeyError(f"no project {project_code!r} in this dataset") from None

    def cost_records_of(self, project_code: str) -> tuple[CostRecord, ...]:
        """The daily direct costs of one project (what the API answers for it without `category`)."""
        return self._records.get(project_code, ())

    def totals_by_category(
        self,
        project_code: str | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
    ) -> dict[CostCategory, Decimal]:
        """Sum of `amount` per category over every cost line (every category present, zero if none)."""
        records: Iterable[CostRecord] = self.all_cost_records
        totals = {category: Decimal("0.00") for category in CostCategory}
        for record in records:
            if project_code is not None and record.project_code != project_code:
                continue
            if date_from is not None and record.business_date < date_from:
                continue
            if date_to is not None and record.business_date > date_to:
                continue
            totals[record.category] += record.amount
        return totals

    def total_amount(self, project_code: str | None = None) -> Decimal:
        return sum(self.totals_by_category(project_code).values(), Decimal("0.00"))

    def events(self) -> int:
        """How many versions (creations, edits, deletions) the timeline holds."""
        return sum(len(versions) for versions in self.histories.values())

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON of every version: equal fingerprints mean byte-identical data."""
        digest = hashlib.sha256()
        for entity in ENTITIES:
            for version in self.histories.get(entity, ()):
                digest.update(dumps(version.record).encode("utf-8"))
                digest.update(b"\n")
        for defect in self.defects:
            digest.update(dumps(defect).encode("utf-8"))
        return digest.hexdigest()
