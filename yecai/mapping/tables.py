"""Mapping tables (映射表): the value lookups that unify 数据口径 between the PM system and Kingdee.

One table per kind of value: project → 项目 number, organisation (and through it the 账簿 its
vouchers go to), department, cost centre and accounting standard; cost category → accounts per
accounting standard (CAS vs 小企业会计准则);
费用明细 (cost item: 项目管理人员薪酬, 施工用电 …) → the account other and indirect costs are owed on;
supplier / customer name → BD_Supplier / BD_Customer number; worker ID number → BD_Empinfo staff
number. Each table says what happens to a value it lacks (report it, or — where sensible — use the
same code or a default number). Pure data: loading lives in `rules.py`, Excel in `excel.py`.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from yecai.domain.documents import AccountingStandard, CostCategory, Project, VatMethod


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UnmappedPolicy(StrEnum):
    """What a table does with a value it has no row for."""

    REPORT = "report"  # list it as unmapped; documents carrying it are held back
    SAME_CODE = "same_code"  # the source value is the Kingdee number as it stands
    DEFAULT = "default"  # one catch-all number (e.g. 零星供应商), given beside the policy
    CREATE = "create"  # yecai creates the base data in Kingdee (found by name first) and binds it


# Which policies make sense for which table; anything else is refused when the table loads.
# A supplier's *name* is never a usable Kingdee number, so suppliers and customers may only fall
# back to a catch-all number; ID numbers and project codes often are used as numbers as they stand.
ALLOWED_POLICIES: dict[str, frozenset[UnmappedPolicy]] = {
    "supplier": frozenset({UnmappedPolicy.REPORT, UnmappedPolicy.DEFAULT, UnmappedPolicy.CREATE}),
    "customer": frozenset({UnmappedPolicy.REPORT, UnmappedPolicy.DEFAULT, UnmappedPolicy.CREATE}),
    "worker": frozenset({UnmappedPolicy.REPORT, UnmappedPolicy.SAME_CODE}),
}


class ProjectMapping(_Config):
    """One project's row: every field optional; an empty one follows the table's policy."""

    number: str | None = Field(None, description="Kingdee 项目 dimension number")
    org: str | None = Field(None, description="核算组织 number (ORG_Organizations)")
    department: str | None = Field(None, description="部门 number (BD_Department)")
    cost_centre: str | None = Field(None, description="成本中心 number")
    accounting_standard: AccountingStandard | None = Field(
        None, description="the project's standard when it differs from the Project document / default"
    )
    vat_method: VatMethod | None = Field(
        None,
        description="一般计税 general | 简易计税 simple, when it differs from the Project document / default",
    )
    cross_region: bool | None = Field(
        None, description="跨县(市、区) project: VAT is prepaid at its location (公告2016年第17号)"
    )
    urban_tax_rate: Decimal | None = Field(
        None, description="城市维护建设税 rate at the project's location: 0.07 市区, 0.05 县城/镇, 0.01 其他"
    )


class CostAccount(_Config):
    """Accounts of one cost category under one accounting standard."""

    debit: str = Field(description="cost account (合同履约成本—X under CAS, 工程施工—X under 小企业)")
    credit: str = Field(description="counter account (应付账款—X, 其他应付款 …)")


class CostItem(_Config):
    """One 费用明细 of other-direct and indirect costs: the account its cost is owed on (entries 7, 8).

    Other and indirect costs are owed to different kinds of counterparty — staff (应付职工薪酬), the
    fixed assets (累计折旧), the temporary works (长期待摊费用—临时设施), a utility (应付账款) — so the
    credit follows the cost's nature, not one 其他应付款 catch-all.
    """

    credit: str = Field(description="account credited (应付职工薪酬—工资, 累计折旧, 应付账款—应付费用款 …)")
    credit_dimensions: tuple[str, ...] = Field(
        ("project",), description="dimensions of the credit line (project, supplier, department …)"
    )
    keywords: tuple[str, ...] = Field(
        (), description="words of a description that identify the item when a cost names no 费用明细"
    )

    @field_validator("credit_dimensions")
    @classmethod
    def _dimensions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = ("project", "department", "supplier", "customer", "worker")
        unknown = [name for name in value if name not in known]
        if unknown:
            raise ValueError(f"unknown dimension {unknown[0]!r} (known: {', '.join(known)})")
        return value


class MappingTable(_Config):
    """Value lookups between the PM system and Kingdee (数据口径统一)."""

    accounting_standard: AccountingStandard = Field(
        AccountingStandard.CAS, description="the company's standard for projects that state none"
    )
    projects: dict[str, ProjectMapping] = Field(
        default_factory=dict,
        description="PM project code → row (a plain string is the 项目 number alone)",
    )
    project_default: str = Field(
        "same_code",
        description="unmapped 项目 numbers: 'same_code' uses the PM code; 'none' / 'report' reports them",
    )
    organisation_default: str | None = Field(
        None, description="organisation of projects without one; empty → reported where a rule needs it"
    )
    account_books: dict[str, str] = Field(
        default_factory=dict,
        description="核算组织 number → 账簿 number its vouchers go to (a 分公司 on 小企业会计准则 keeps its "
        "own book on its own 科目表); an organisation not listed uses the rule set's kingdee.account_book",
    )
    department_default: str | None = Field(
        None, description="department of projects without one; empty → reported where a rule needs it"
    )
    vat_method: VatMethod = Field(VatMethod.GENERAL, description="the VAT method of projects that state none")
    cross_region: bool = Field(
        False, description="whether projects that state nothing are 跨县(市、区) (prepay VAT at the location)"
    )
    urban_tax_rate: Decimal = Field(
        Decimal("0.07"), description="城市维护建设税 rate of projects that state none (市区 7 %)"
    )
    cost_accounts: dict[AccountingStandard, dict[CostCategory, CostAccount]] = Field(
        default_factory=dict,
        description="cost category → accounts, per accounting standard (overrides a rule set's categories)",
    )
    cost_items: dict[str, CostItem] = Field(
        default_factory=dict,
        description="费用明细 (CostRecord.subcategory) → the account other/indirect costs are owed on",
    )
    cost_item_fallback: str | None = Field(
        None,
        description="the cost item of a cost no row or keyword matches; empty → reported as unmapped",
    )
    suppliers: dict[str, str] = Field(default_factory=dict, description="supplier name → BD_Supplier number")
    supplier_default: UnmappedPolicy = UnmappedPolicy.REPORT
    supplier_fallback: str | None = Field(None, description="catch-all supplier number for policy 'default'")
    customers: dict[str, str] = Field(default_factory=dict, description="customer name → BD_Customer number")
    customer_default: UnmappedPolicy = UnmappedPolicy.REPORT
    customer_fallback: str | None = Field(None, description="catch-all customer number for policy 'default'")
    workers: dict[str, str] = Field(
        default_factory=dict, description="worker ID number → BD_Empinfo staff number"
    )
    worker_default: UnmappedPolicy = UnmappedPolicy.REPORT

    @field_validator("projects", mode="before")
    @classmethod
    def _project_rows(cls, value: Any) -> Any:
        # Older tables (and the simplest YAML) map a code straight to its 项目 number.
        if isinstance(value, dict):
            return {
                str(code): {"number": str(row)} if isinstance(row, str | int) else row
                for code, row in value.items()
            }
        return value

    @field_validator("workers")
    @classmethod
    def _worker_keys(cls, value: dict[str, str]) -> dict[str, str]:
        # ID numbers end in X as often as in x; one spelling keeps the lookup exact.
        return {key.strip().upper(): number for key, number in value.items()}

    @field_validator("project_default")
    @classmethod
    def _default(cls, value: str) -> str:
        if value not in {"same_code", "none", "report"}:
            raise ValueError("project_default must be 'same_code', 'none' or 'report'")
        return value

    @model_validator(mode="after")
    def _policies(self) -> MappingTable:
        for table, policy, fallback in (
            ("supplier", self.supplier_default, self.supplier_fallback),
            ("customer", self.customer_default, self.customer_fallback),
            ("worker", self.worker_default, None),
        ):
            allowed = ALLOWED_POLICIES[table]
            if policy not in allowed:
                names = ", ".join(sorted(p.value for p in allowed))
                raise ValueError(f"{table}_default may be {names}, not {policy.value}")
            if policy is UnmappedPolicy.DEFAULT and not fallback:
                raise ValueError(f"{table}_default 'default' needs {table}_fallback (the catch-all number)")
        if self.cost_item_fallback is not None and self.cost_item_fallback not in self.cost_items:
            raise ValueError(f"cost_item_fallback {self.cost_item_fallback!r} is not a row of cost_items")
        return self

    # -- projects ---------------------------------------------------------------------------------

    def project_row(self, code: str) -> ProjectMapping | None:
        return self.projects.get(code)

    def project_number(self, code: str) -> str | None:
        """Kingdee 项目 number of a PM project code, or None when unmapped and reported."""
        row = self.projects.get(code)
        if row is not None and row.number:
            return row.number
        return code if self.project_default == "same_code" else None

    def organisation(self, code: str) -> str | None:
        row = self.projects.get(code)
        return (row.org if row is not None and row.org else None) or self.organisation_default

    def account_book(self, code: str) -> str | None:
        """The 账簿 of a project's vouchers: its organisation's book, or None (the rule set's book)."""
        organisation = self.organisation(code)
        return self.account_books.get(organisation) if organisation else None

    def department(self, code: str) -> str | None:
        row = self.projects.get(code)
        return (row.department if row is not None and row.department else None) or self.department_default

    def cost_centre(self, code: str) -> str | None:
        row = self.projects.get(code)
        return row.cost_centre if row is not None else None

    def standard_of(self, code: str, declared: AccountingStandard | None = None) -> AccountingStandard:
        """The project's accounting standard: this table's row, else the Project document, else the default."""
        row = self.projects.get(code)
        if row is not None and row.accounting_standard is not None:
            return row.accounting_standard
        return declared or self.accounting_standard

    def vat_method_of(self, code: str, declared: Project | None = None) -> VatMethod:
        """The project's VAT method: this table's row, else the Project document, else the default."""
        row = self.projects.get(code)
        if row is not None and row.vat_method is not None:
            return row.vat_method
        if declared is not None and declared.vat_method is not None:
            return declared.vat_method
        return self.vat_method

    def cross_region_of(self, code: str, declared: Project | None = None) -> bool:
        """Whether the project is 跨县(市、区): this table's row, else the Project document, else the default."""
        row = self.projects.get(code)
        if row is not None and row.cross_region is not None:
            return row.cross_region
        if declared is not None and declared.cross_region is not None:
            return declared.cross_region
        return self.cross_region

    def urban_tax_rate_of(self, code: str) -> Decimal:
        row = self.projects.get(code)
        if row is not None and row.urban_tax_rate is not None:
            return row.urban_tax_rate
        return self.urban_tax_rate

    # -- accounts and counterparties -----------------------------------------------------------------

    def cost_account(self, standard: AccountingStandard, category: CostCategory) -> CostAccount | None:
        return self.cost_accounts.get(standard, {}).get(category)

    def cost_item(self, subcategory: str | None, description: str = "") -> tuple[str, CostItem] | None:
        """The 费用明细 row of an other/indirect cost: by its sub-category, else by keywords, else the
        fallback; None when nothing matches (the caller reports it — never a silent catch-all).

        Keywords are tried in the table's order over the sub-category and the description, so a
        tenant puts the more specific item first.
        """
        name = (subcategory or "").strip()
        if name in self.cost_items:
            return name, self.cost_items[name]
        text = f"{name} {description}"
        for item, row in self.cost_items.items():
            if any(word and word in text for word in row.keywords):
                return item, row
        if self.cost_item_fallback is not None:
            return self.cost_item_fallback, self.cost_items[self.cost_item_fallback]
        return None

    def supplier_number(self, name: str) -> str | None:
        return _lookup(self.suppliers, name, self.supplier_default, self.supplier_fallback)

    def customer_number(self, name: str) -> str | None:
        return _lookup(self.customers, name, self.customer_default, self.customer_fallback)

    def worker_number(self, id_number: str) -> str | None:
        return _lookup(self.workers, id_number.upper(), self.worker_default, None)


def _lookup(table: dict[str, str], value: str, policy: UnmappedPolicy, fallback: str | None) -> str | None:
    key = value.strip()
    if key in table:
        return table[key]
    if policy is UnmappedPolicy.SAME_CODE:
        return key
    if policy is UnmappedPolicy.DEFAULT:
        return fallback
    return None
