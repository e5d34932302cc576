"""Rule sets and mapping tables as typed models, loaded from YAML (safe load).

A rule set says which documents make which voucher: accounts per cost category, dimensions,
aggregation, summary template and the Kingdee book/voucher group to use. A mapping table unifies
数据口径 between the systems (PM project code → Kingdee 项目 dimension number). Both are
configuration, checked before anything is posted; account numbers are never hard-coded in code.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from yecai.domain.documents import CostCategory
from yecai.errors import ConfigurationError

DEFAULTS = Path(__file__).parent / "defaults"


class Aggregation(StrEnum):
    PER_DOCUMENT = "per_document"  # one voucher or bill per source document
    PROJECT_CATEGORY_DAY = "project_category_day"  # cost ledgers: a voucher per project × category × day
    PROJECT_DAY = "project_day"
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
    RETENTION = "retention"  # 质保金到期转应收 / 收回
    PAYMENT_REQUEST = "payment_request"  # 付款申请 → CN_PAYAPPLY
    PAYMENT = "payment"  # 付款 → 凭证


class PeriodPolicy(StrEnum):
    NEXT_OPEN = "next_open"  # a date in a closed period posts on the first day of the next open one
    HOLD = "hold"  # held with a clear message until someone reopens the period or decides


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


class CategoryRule(_Config):
    debit: str = Field(description="account debited (cost, e.g. 合同履约成本—人工费)")
    credit: str = Field(description="account credited (e.g. 应付账款—应付劳务款)")
    debit_dimensions: tuple[str, ...] = ("project",)
    credit_dimensions: tuple[str, ...] = ("project",)


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


def format_summary(template: str, **values: object) -> str:
    """The 摘要 for a template; unknown-to-this-event fields are empty, never an error."""
    return template.format(**{name: values.get(name, "") for name in SUMMARY_FIELDS}).strip()


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
    categories: dict[CostCategory, CategoryRule] = Field(default_factory=dict)
    accounts: dict[str, str] = Field(default_factory=dict, description="account number by role, per event")
    dimensions: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="dimensions (project, department, supplier, customer) by account role",
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


class MappingTable(_Config):
    """Value lookups between the PM system and Kingdee (数据口径统一)."""

    projects: dict[str, str] = Field(
        default_factory=dict, description="PM project code → Kingdee 项目 dimension number"
    )
    project_default: str = Field(
        "same_code",
        description="unmapped projects: 'same_code' uses the PM code as the Kingdee number; 'none' reports them",
    )

    @field_validator("project_default")
    @classmethod
    def _default(cls, value: str) -> str:
        if value not in {"same_code", "none"}:
            raise ValueError("project_default must be 'same_code' or 'none'")
        return value

    def project_number(self, code: str) -> str | None:
        if code in self.projects:
            return self.projects[code]
        return code if self.project_default == "same_code" else None


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


def default_rule_set() -> RuleSet:
    return load_rule_set(DEFAULTS / "cost_actuals.yaml")


def default_mapping() -> MappingTable:
    return load_mapping(DEFAULTS / "mapping.yaml")
