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
    PER_DOCUMENT = "per_document"
    PROJECT_CATEGORY_DAY = "project_category_day"


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


class RuleSet(_Config):
    """Posting rules for cost records (实际成本归集)."""

    name: str
    version: int = 1
    document: str = "cost_record"
    form_id: str = "GL_VOUCHER"
    kingdee: KingdeeTarget
    aggregation: Aggregation = Aggregation.PROJECT_CATEGORY_DAY
    summary: str = Field(
        "{project_code} {category_name} {date} 成本归集 {count}笔",
        description="voucher line explanation (摘要); fields: project_code, project_name, category_name, date, count",
    )
    categories: dict[CostCategory, CategoryRule]
    create_missing_projects: bool = Field(
        False, description="create 项目 dimension values missing in Kingdee instead of reporting them"
    )

    @field_validator("summary")
    @classmethod
    def _summary_fields(cls, value: str) -> str:
        try:
            value.format(project_code="", project_name="", category_name="", date="", count=0)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"summary template uses an unknown field: {exc}") from None
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
