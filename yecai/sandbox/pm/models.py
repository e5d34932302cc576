"""The records sandbox.pm holds (projects, cost records) and the Dataset that bundles them.

Plain frozen dataclasses: the generator builds them once, the API serves them, and tests or the
demo compute expected totals from them without HTTP. Money and quantities are `Decimal`;
timestamps are aware datetimes in China Standard Time (+08:00). New streams (budgets, contracts,
invoices, …) become one more dataclass here and one more tuple on `Dataset`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from functools import cached_property

from yecai.jsonutil import dumps

# China has one time zone and no daylight saving; every timestamp the sandbox emits carries +08:00.
CHINA_TZ = timezone(timedelta(hours=8))
CENT = Decimal("0.01")


class CostCategory(StrEnum):
    """The direct-cost elements of 合同履约成本 that site cost ledgers record day by day."""

    LABOUR = "labour"
    MATERIAL = "material"
    MACHINERY = "machinery"

    @property
    def chinese(self) -> str:
        return _CATEGORY_NAMES[self]


_CATEGORY_NAMES: dict[CostCategory, str] = {
    CostCategory.LABOUR: "人工费",
    CostCategory.MATERIAL: "材料费",
    CostCategory.MACHINERY: "机械使用费",
}


class ProjectStatus(StrEnum):
    """Project state as PM systems show it, as of the first day of the data window."""

    UNDER_CONSTRUCTION = "在建"
    NOT_STARTED = "未开工"
    SUSPENDED = "停工"
    COMPLETED = "已竣工"


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
    created_at: datetime
    updated_at: datetime

    @property
    def key(self) -> str:
        return self.project_code


@dataclass(frozen=True, slots=True)
class CostRecord:
    """One line of a project's cost ledger (成本台账). `amount` = quantity × unit_price, tax-exclusive."""

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
    supplier_name: str
    entered_by: str
    created_at: datetime
    updated_at: datetime

    @property
    def key(self) -> str:
        return self.record_id


@dataclass(frozen=True)
class Dataset:
    """Everything one sandbox.pm instance serves, generated once from (projects, months, seed, start)."""

    seed: int
    start_month: str
    months: int
    first_day: date
    last_day: date
    projects: tuple[Project, ...]
    cost_records: tuple[CostRecord, ...]  # ordered by project, then business date (record_id order)
    _projects: dict[str, Project] = field(init=False, repr=False, compare=False)
    _records: dict[str, tuple[CostRecord, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        grouped: dict[str, list[CostRecord]] = {project.project_code: [] for project in self.projects}
        for record in self.cost_records:
            grouped[record.project_code].append(record)
        # The dataclass is frozen; derived indexes are set the way dataclasses set fields.
        object.__setattr__(self, "_projects", {project.project_code: project for project in self.projects})
        object.__setattr__(self, "_records", {code: tuple(rows) for code, rows in grouped.items()})

    def project(self, project_code: str) -> Project:
        try:
            return self._projects[project_code]
        except KeyError:
            raise KeyError(f"no project {project_code!r} in this dataset") from None

    def cost_records_of(self, project_code: str) -> tuple[CostRecord, ...]:
        return self._records.get(project_code, ())

    def totals_by_category(
        self,
        project_code: str | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
    ) -> dict[CostCategory, Decimal]:
        """Sum of `amount` per category (every category present, zero if none), optionally narrowed."""
        records: Iterable[CostRecord] = (
            self.cost_records if project_code is None else self.cost_records_of(project_code)
        )
        totals = {category: Decimal("0.00") for category in CostCategory}
        for record in records:
            if date_from is not None and record.business_date < date_from:
                continue
            if date_to is not None and record.business_date > date_to:
                continue
            totals[record.category] += record.amount
        return totals

    def total_amount(self, project_code: str | None = None) -> Decimal:
        return sum(self.totals_by_category(project_code).values(), Decimal("0.00"))

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON of every record: equal fingerprints mean byte-identical data."""
        digest = hashlib.sha256()
        for record in (*self.projects, *self.cost_records):
            digest.update(dumps(record).encode("utf-8"))
            digest.update(b"\n")
        return digest.hexdigest()
