"""Canonical business documents that staged records validate into.

A connector maps its system's field names onto these models; validation here is the same for every
source. Each problem becomes an `Issue` naming the field and the offending value, in Chinese first
and English second, so that a bad row can be reported precisely while the good rows proceed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from yecai.domain.money import MoneyError, is_money, parse_decimal, round_money


class CostCategory(StrEnum):
    """Cost elements of a construction contract (合同履约成本 sub-ledgers)."""

    LABOUR = "labour"
    MATERIAL = "material"
    MACHINERY = "machinery"
    SUBCONTRACT = "subcontract"
    OTHER_DIRECT = "other_direct"
    INDIRECT = "indirect"


CATEGORY_NAMES_ZH: dict[CostCategory, str] = {
    CostCategory.LABOUR: "人工费",
    CostCategory.MATERIAL: "材料费",
    CostCategory.MACHINERY: "机械使用费",
    CostCategory.SUBCONTRACT: "分包成本",
    CostCategory.OTHER_DIRECT: "其他直接费",
    CostCategory.INDIRECT: "间接费用",
}


@dataclass(frozen=True, slots=True)
class Issue:
    """One validation problem: which field, which value, what is wrong (中文 / English)."""

    field: str
    value: str
    zh: str
    en: str

    def __str__(self) -> str:
        return f"{self.zh} / {self.en}"


def _decimal(value: object, info: ValidationInfo) -> Decimal:
    field = info.field_name or "value"
    try:
        return parse_decimal(value, field=field)
    except MoneyError as exc:
        raise PydanticCustomError(
            "yecai_number", "{en}", {"field": field, "zh": exc.zh, "en": exc.en}
        ) from None


def _optional_decimal(value: object, info: ValidationInfo) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _decimal(value, info)


Amount = Annotated[Decimal, BeforeValidator(_decimal)]
OptionalAmount = Annotated[Decimal | None, BeforeValidator(_optional_decimal)]


class _Document(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)


class Project(_Document):
    """A construction project (工程项目) as the PM system knows it."""

    code: str
    name: str
    department: str | None = None
    manager: str | None = None
    customer: str | None = None
    location: str | None = None
    contract_value: OptionalAmount = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    status: str | None = None


class CostRecord(_Document):
    """One actual cost (实际成本) booked against a project: labour, material, machinery, …"""

    source_key: str
    project_code: str
    category: CostCategory
    business_date: dt.date
    description: str = ""
    quantity: OptionalAmount = None
    unit: str | None = None
    unit_price: OptionalAmount = None
    amount: Amount
    tax_rate: OptionalAmount = None
    supplier_name: str | None = None

    @model_validator(mode="after")
    def _check_amounts(self) -> CostRecord:
        if not is_money(self.amount):
            raise PydanticCustomError(
                "yecai_precision",
                "{en}",
                {
                    "field": "amount",
                    "value": str(self.amount),
                    "zh": f"字段 amount：金额 {self.amount} 超过两位小数",
                    "en": f"field amount: {self.amount} has more than two decimal places",
                },
            )
        if self.amount == 0:
            raise PydanticCustomError(
                "yecai_zero",
                "{en}",
                {
                    "field": "amount",
                    "value": "0",
                    "zh": "字段 amount：金额为零，无需记账",
                    "en": "field amount: amount is zero, nothing to post",
                },
            )
        if self.tax_rate is not None and not (Decimal(0) <= self.tax_rate < 1):
            raise PydanticCustomError(
                "yecai_rate",
                "{en}",
                {
                    "field": "tax_rate",
                    "value": str(self.tax_rate),
                    "zh": f"字段 tax_rate：税率 {self.tax_rate} 不在 0 到 1 之间",
                    "en": f"field tax_rate: {self.tax_rate} is not between 0 and 1",
                },
            )
        if self.quantity is not None and self.unit_price is not None:
            expected = round_money(self.quantity * self.unit_price)
            # One cent of tolerance: exports round quantity and price separately.
            if abs(expected - self.amount) > Decimal("0.01"):
                raise PydanticCustomError(
                    "yecai_product",
                    "{en}",
                    {
                        "field": "amount",
                        "value": str(self.amount),
                        "zh": f"字段 amount：金额 {self.amount} 与 数量×单价 {expected} 不符",
                        "en": f"field amount: {self.amount} differs from quantity × unit price {expected}",
                    },
                )
        return self


_MESSAGES: dict[str, tuple[str, str]] = {
    "missing": ("缺少必填字段 {field}", "required field {field} is missing"),
    "date_from_datetime_parsing": (
        "字段 {field} 不是有效日期：{value}",
        "field {field} is not a valid date: {value}",
    ),
    "date_parsing": ("字段 {field} 不是有效日期：{value}", "field {field} is not a valid date: {value}"),
    "date_type": ("字段 {field} 不是有效日期：{value}", "field {field} is not a valid date: {value}"),
    "enum": (
        "字段 {field} 的取值 {value} 不在允许范围内",
        "field {field} has a value {value} that is not allowed",
    ),
    "string_type": ("字段 {field} 应为文本：{value}", "field {field} must be text: {value}"),
}

DocumentT = TypeVar("DocumentT", bound=_Document)


def _issues(error: ValidationError) -> list[Issue]:
    issues: list[Issue] = []
    for item in error.errors():
        ctx = item.get("ctx") or {}
        field = str(ctx.get("field") or ".".join(str(p) for p in item["loc"]) or "-")
        raw = item.get("input")
        value = str(ctx.get("value", "" if isinstance(raw, dict) else raw))
        if "zh" in ctx:
            issues.append(Issue(field, value, str(ctx["zh"]), str(ctx["en"])))
            continue
        zh, en = _MESSAGES.get(
            item["type"], ("字段 {field} 的值 {value} 无效", "field {field}: invalid value {value}")
        )
        issues.append(
            Issue(field, value, zh.format(field=field, value=value), en.format(field=field, value=value))
        )
    return issues


def validate(model: type[DocumentT], data: dict[str, Any]) -> tuple[DocumentT | None, list[Issue]]:
    """Validate `data` into `model`; returns the document or the list of issues (never both)."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, _issues(exc)
