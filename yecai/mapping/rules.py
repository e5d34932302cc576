"""Rule sets and mapping tables as typed models, loaded from YAML (safe load).

A rule set says which documents make which voucher: accounts by role (and per cost category),
dimensions, aggregation, summary template and the Kingdee book/voucher group to use. A mapping
table (`tables.py`) unifies 数据口径 between the systems. Both are configuration, checked before
anything is posted; account numbers are never hard-coded in code. One default rule set per event
lives in `defaults/` and fits sandbox.kingdee's seeded chart.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from string import Formatter
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from yecai.domain.documents import AccountingStandard, CostCategory
from yecai.errors import ConfigurationError
from yecai.mapping.tables import CostAccount, CostItem, MappingTable, ProjectMapping, UnmappedPolicy

__all__ = [
    "DEFAULT_FILES",
    "DIMENSIONS",
    "Aggregation",
    "CategoryRule",
    "CostAccount",
    "CostItem",
    "Event",
    "KingdeeTarget",
    "MappingTable",
    "PeriodPolicy",
    "ProjectMapping",
    "RuleSet",
    "UnmappedPolicy",
    "default_job_rule_sets",
    "default_mapping",
    "default_rule_set",
    "default_rule_sets",
    "format_summary",
    "load_mapping",
    "load_rule_set",
]

DEFAULTS = Path(__file__).parent / "defaults"

# The dimensions (核算维度) a rule may put on a line, by the name rule sets use.
DIMENSIONS = ("project", "department", "supplier", "customer", "worker")


class Aggregation(StrEnum):
    PER_DOCUMENT = "per_document"  # one voucher or bill per source document
    PROJECT_CATEGORY_DAY = "project_category_day"  # cost ledgers: a voucher per project × category × day
    PROJECT_DAY = "project_day"  # one voucher per project × day, every category on it
    # a voucher per project × category × month, dated the month's last day: what a 总账会计 can review
    PROJECT_CATEGORY_MONTH = "project_category_month"
    PROJECT_PERIOD = "project_period"  # month-end entries per project (revenue, allocation, VAT)
    PERIOD = "period"  # one voucher per accounting period


class Event(StrEnum):
    """The business event a rule set posts; each has a planner in `yecai.mapping.events`."""

    COST = "cost"  # 实际成本归集 (labour, material, machinery, subcontract, other direct, indirect)
    INDIRECT_ALLOCATION = "indirect_allocation"  # 间接费用月末分配
    PURCHASE_INVOICE = "purchase_invoice"  # 进项发票: 专票 input VAT deductible, 普票 into cost
    VALUATION = "valuation"  # 业主计量/开票: 应收账款 / 合同结算—价款结算 / 销项税额, retention kept back
    REVENUE = "revenue"  # 投入法确认收入与成本结转
    PREPAID_VAT = "prepaid_vat"  # 跨区域预缴增值税
    RETENTION = "retention"  # 质保金到期转应收
    RECEIPT = "receipt"  # 业主收款: 进度款 / 质保金收回 (待转销项税额 → 销项税额) / 预收款
    PAYMENT_REQUEST = "payment_request"  # 付款申请 → CN_PAYAPPLY
    PAYMENT = "payment"  # 付款 → 凭证
    MONTH_END = "month_end"  # 期末结转: 预交/转出未交增值税, 附加税, 合同资产/合同负债列报, 亏损合同预计负债
    ACCRUAL = "accrual"  # 暂估入账: costs without an invoice at month end, reversed next period


class PeriodPolicy(StrEnum):
    NEXT_OPEN = "next_open"  # a date in a closed period posts on the first day of the next open one
    HOLD = "hold"  # held with a clear message until someone reopens the period or decides


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# A dimension named in a rule set → the `KingdeeTarget` field holding its FDetailID flex key.
_FLEX_KEY_FIELDS = {
    "project": "project_dimension",
    "department": "department_dimension",
    "supplier": "supplier_dimension",
    "customer": "customer_dimension",
    "worker": "worker_dimension",
}


class KingdeeTarget(_Config):
    account_book: str = Field(description="FAccountBookID number (账簿)")
    voucher_group: str = Field(description="FVOUCHERGROUPID number (凭证字), e.g. PRE001 = 记")
    currency: str = "PRE001"
    rate_type: str = "HLTX01_SYS"
    project_dimension: str = Field(
        "FF100001", description="FDetailID flex key of the 项目 dimension (tenant specific)"
    )
    project_form: str = "BOS_ASSISTANTDATA_DETAIL"
    project_category: str | None = Field("XM01", description="assistant-data category of 项目 values")
    # Flex keys of the other dimensions: Kingdee's standard 核算维度 slots (FFLEX4 供应商 …).
    supplier_dimension: str = Field("FFLEX4", description="flex key of the 供应商 dimension (BD_Supplier)")
    department_dimension: str = Field("FFLEX5", description="flex key of the 部门 dimension (BD_Department)")
    customer_dimension: str = Field("FFLEX6", description="flex key of the 客户 dimension (BD_Customer)")
    worker_dimension: str = Field("FFLEX7", description="flex key of the 员工 dimension (BD_Empinfo)")

    def flex_key(self, dimension: str) -> str:
        """The FDetailID flex key of a dimension named in a rule set (project, supplier, …)."""
        # (the field by its name, not a dict of every key per call: planning asks per line)
        return getattr(self, _FLEX_KEY_FIELDS[dimension])  # KeyError: not a dimension

    key_field: str = Field(
        "summary",
        description="where a voucher's posting key is written besides the 摘要 token: summary (only there), "
        "bill_no (a deterministic FBillNo, unique in Kingdee) or a custom F_<ISV>_ field",
    )


class CategoryRule(_Config):
    debit: str = Field(description="account debited (cost, e.g. 合同履约成本—人工费)")
    credit: str = Field(description="account credited (e.g. 应付账款—应付劳务款)")
    debit_dimensions: tuple[str, ...] = ("project",)
    credit_dimensions: tuple[str, ...] = ("project",)

    @field_validator("debit_dimensions", "credit_dimensions")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _known_dimensions(value)


def _known_dimensions(value: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [name for name in value if name not in DIMENSIONS]
    if unknown:
        raise ValueError(f"unknown dimension {unknown[0]!r} (known: {', '.join(DIMENSIONS)})")
    return value


# Fields a 摘要 template may use; planners fill what their event knows and leave the rest empty.
SUMMARY_FIELDS = (
    "project_code",
    "project_name",
    "category_name",
    "date",
    "period",
    "count",
    "document_no",
    "counterparty",
    "contract_no",
    "amount",
    "description",
)


_KNOWN_FIELDS = frozenset(SUMMARY_FIELDS)


class SummaryValues(dict[str, object]):
    """The values of a 摘要: a known field the event did not fill is empty; any other is an error."""

    def __missing__(self, name: str) -> object:
        if name in _KNOWN_FIELDS:
            return ""
        raise KeyError(name)


def format_summary(template: str, **values: object) -> str:
    """The 摘要 for a template; unknown-to-this-event fields are empty, never an error."""
    return template.format_map(SummaryValues({k: v for k, v in values.items() if k in _KNOWN_FIELDS})).strip()


@lru_cache(maxsize=256)
def summary_fields(template: str) -> frozenset[str]:
    """The fields a 摘要 template uses (a planner may skip computing the others)."""
    return frozenset(name for _, name, _, _ in Formatter().parse(template) if name)


class RuleSet(_Config):
    """Posting rules for one business event: which documents make which voucher or bill.

    Account numbers are configuration (`accounts` by role, `categories` for costs); the logic of
    each event — which lines, which amounts — is a tested planner in `yecai.mapping.events`.
    """

    name: str
    version: int = 1
    event: Event = Event.COST
    document: str = "cost_record"
    form_id: str = "GL_VOUCHER"
    kingdee: KingdeeTarget
    aggregation: Aggregation = Aggregation.PROJECT_CATEGORY_DAY
    summary: str = Field(
        "{project_code} {category_name} {date} 成本归集 {count}笔",
        description="voucher line explanation (摘要); fields depend on the event (see docs/rules.md)",
    )
    standard: AccountingStandard = Field(
        AccountingStandard.CAS,
        description="the accounting standard whose account numbers `categories` and `accounts` hold",
    )
    categories: dict[CostCategory, CategoryRule] = Field(default_factory=dict)
    accounts: dict[str, str] = Field(default_factory=dict, description="account number by role, per event")
    standard_accounts: dict[AccountingStandard, dict[str, str]] = Field(
        default_factory=dict,
        description="account number by role for projects on another standard (e.g. small: revenue 5001)",
    )
    dimensions: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="dimensions (project, department, supplier, customer, worker) by account role",
    )
    filter: dict[str, Any] = Field(default_factory=dict, description="document field → required value(s)")
    options: dict[str, Any] = Field(default_factory=dict, description="event-specific knobs")
    create_missing_projects: bool = Field(
        False, description="create 项目 dimension values missing in Kingdee instead of reporting them"
    )
    approval: bool = Field(False, description="planned postings wait for an accountant's approval")
    period_policy: PeriodPolicy = PeriodPolicy.HOLD
    submit: bool = Field(False, description="Submit after Save (bills; vouchers by tenant practice)")
    audit: bool = Field(False, description="Audit after Submit")

    @field_validator("summary")
    @classmethod
    def _summary_fields(cls, value: str) -> str:
        try:
            value.format(**dict.fromkeys(SUMMARY_FIELDS, ""))
        except (KeyError, IndexError, ValueError) as exc:
            known = ", ".join(SUMMARY_FIELDS)
            raise ValueError(f"summary template uses an unknown field: {exc} (known: {known})") from None
        return value

    @field_validator("dimensions")
    @classmethod
    def _dimension_names(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for names in value.values():
            _known_dimensions(names)
        return value

    def account(self, role: str, standard: AccountingStandard | None = None) -> str | None:
        """The account of a role for a project on `standard` (None: the rule set's own standard).

        A project on another standard takes `standard_accounts[standard][role]`; a role that
        standard does not list falls back to `accounts` only when the standards agree, so a
        小企业 project never silently lands on a CAS account.
        """
        chosen = standard or self.standard
        override = self.standard_accounts.get(chosen, {})
        if role in override:
            return override[role]
        if chosen is self.standard:
            return self.accounts.get(role)
        return None

    def category_rule(
        self, category: CostCategory, standard: AccountingStandard, mapping: MappingTable | None = None
    ) -> CategoryRule | None:
        """Accounts of a cost category for a project on `standard`: the mapping table first.

        The mapping table's cost accounts (per standard) win; the rule set's own `categories` hold
        for its own standard. Dimensions always come from the rule set.
        """
        own = self.categories.get(category)
        mapped = mapping.cost_account(standard, category) if mapping is not None else None
        if mapped is not None:
            dims = own or CategoryRule(debit=mapped.debit, credit=mapped.credit)
            return CategoryRule(
                debit=mapped.debit,
                credit=mapped.credit,
                debit_dimensions=dims.debit_dimensions,
                credit_dimensions=dims.credit_dimensions,
            )
        return own if standard is self.standard else None


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(
            f"无法读取配置文件 {path}：{exc}", f"cannot read configuration file {path}: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(
            f"配置文件 {path} 不是映射结构", f"configuration file {path} is not a mapping"
        )
    return data


def _explain(path: Path, exc: ValidationError) -> ConfigurationError:
    lines = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
    detail = "; ".join(lines)
    return ConfigurationError(
        f"配置文件 {path} 有误：{detail}", f"configuration file {path} is invalid: {detail}"
    )


def load_rule_set(path: Path) -> RuleSet:
    try:
        return RuleSet.model_validate(_load_yaml(path))
    except ValidationError as exc:
        raise _explain(path, exc) from None


def load_mapping(path: Path) -> MappingTable:
    try:
        return MappingTable.model_validate(_load_yaml(path))
    except ValidationError as exc:
        raise _explain(path, exc) from None


# The default rule set of each event (receipts have two: progress and advance payments, and the
# retention received, which also moves its VAT out of 待转销项税额).
DEFAULT_FILES: dict[str, str] = {
    "cost_actuals": "cost_actuals.yaml",
    "indirect_allocation": "indirect_allocation.yaml",
    "purchase_invoice": "purchase_invoice.yaml",
    "valuation": "valuation.yaml",
    "revenue": "revenue.yaml",
    "prepaid_vat": "prepaid_vat.yaml",
    "retention_due": "retention_due.yaml",
    "retention_received": "retention_received.yaml",
    "receipt": "receipt.yaml",
    "payment_request": "payment_request.yaml",
    "payment": "payment.yaml",
    "accrual": "accrual.yaml",
    "month_end": "month_end.yaml",  # last: it closes what the others posted in the period
}


def default_rule_set(event: Event | str = Event.COST) -> RuleSet:
    """The default rule set of an event (`Event` or a rule-set name of `DEFAULT_FILES`)."""
    if isinstance(event, Event):
        wanted = "cost_actuals" if event is Event.COST else event.value
        if event is Event.RETENTION:
            wanted = "retention_due"
    else:
        wanted = event
    if wanted not in DEFAULT_FILES:
        raise ConfigurationError(
            f"没有名为 {wanted} 的默认规则集", f"there is no default rule set named {wanted}"
        )
    return load_rule_set(DEFAULTS / DEFAULT_FILES[wanted])


def default_rule_sets() -> dict[str, RuleSet]:
    """Every default rule set by name, in the order of `DEFAULT_FILES` (month-end last)."""
    return {name: load_rule_set(DEFAULTS / file) for name, file in DEFAULT_FILES.items()}


# Rule sets of an alternative practice, left out of the default job: `accrual` (暂估入账) belongs to
# invoice-driven books (`purchase_invoice` mode full); beside the daily cost rule it would book the
# same cost twice (docs/rules.md, ACCRUAL).
ALTERNATIVE_PRACTICE = frozenset({"accrual"})


def default_job_rule_sets() -> dict[str, RuleSet]:
    """The default job's rule sets: every default of the daily practice, in `DEFAULT_FILES` order."""
    return {name: rules for name, rules in default_rule_sets().items() if name not in ALTERNATIVE_PRACTICE}


def default_mapping() -> MappingTable:
    return load_mapping(DEFAULTS / "mapping.yaml")
