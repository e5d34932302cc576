"""The OpenAPI description of sandbox.pm's answers (pydantic models used for documentation only).

Records are served straight from the dataclasses in `models` by the Decimal-exact writer, so
these classes never touch data at run time; they tell `/openapi.json` and `/docs` what the JSON
looks like. Money and quantities are documented as JSON numbers, which is what is sent. A test
keeps their fields equal to the dataclass fields.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, WithJsonSchema

Money = Annotated[
    Decimal,
    WithJsonSchema(
        {"type": "number", "description": "元, exact decimal with 2 places", "examples": [12345.60]}
    ),
]
Quantity = Annotated[
    Decimal,
    WithJsonSchema({"type": "number", "description": "exact decimal, up to 3 places", "examples": [12.5]}),
]
UnitPrice = Annotated[
    Decimal,
    WithJsonSchema({"type": "number", "description": "元 per unit, 2 to 4 places", "examples": [3672.5664]}),
]
Rate = Annotated[
    Decimal,
    WithJsonSchema({"type": "number", "description": "VAT rate as a fraction", "enum": [0.13, 0.09, 0.03]}),
]


class ProjectOut(BaseModel):
    """项目档案 · a construction project."""

    project_code: str = Field(examples=["XM2026001"])
    project_name: str = Field(examples=["苏州工业园区星湖街综合管廊工程"])
    project_type: str = Field(
        description="住宅, 安置房, 学校, 医院, 办公楼, 厂房, 综合管廊, 市政道路, 桥梁, 污水处理厂"
    )
    province: str = Field(examples=["江苏省"])
    city: str = Field(examples=["苏州市"])
    district: str = Field(examples=["工业园区"])
    branch_name: str = Field(description="分公司", examples=["华东分公司"])
    department_name: str = Field(description="项目部", examples=["第三项目部"])
    manager_name: str = Field(description="项目经理")
    customer_name: str = Field(description="建设单位")
    contract_amount: Money = Field(description="合同金额（含税）, 元")
    start_date: date = Field(description="开工日期")
    end_date: date = Field(description="计划竣工日期")
    status: Literal["在建", "未开工", "停工", "已竣工"] = Field(description="as of the first day of the data")
    created_at: datetime
    updated_at: datetime


class CostRecordOut(BaseModel):
    """成本台账明细 · one cost line: labour, material or machinery, tax-exclusive."""

    record_id: str = Field(examples=["CB-XM2026001-000123"])
    project_code: str = Field(examples=["XM2026001"])
    category: Literal["labour", "material", "machinery"]
    category_name: Literal["人工费", "材料费", "机械使用费"]
    business_date: date = Field(description="业务日期 (Monday to Saturday)")
    description: str = Field(examples=["钢筋 HRB400E Φ25"])
    quantity: Quantity
    unit: str = Field(examples=["吨", "立方米", "工日", "台班"])
    unit_price: UnitPrice = Field(description="不含税单价")
    amount: Money = Field(description="不含税金额 = quantity × unit_price, rounded half-up to the cent")
    tax_rate: Rate
    supplier_name: str = Field(description="劳务公司 / 供应商 / 租赁公司")
    entered_by: str = Field(description="录入人")
    created_at: datetime
    updated_at: datetime


class _PageData(BaseModel):
    page: int = Field(description="1-based page number")
    page_size: int
    total: int = Field(description="records matching the filters, over all pages")
    has_more: bool


class ProjectPage(_PageData):
    items: list[ProjectOut]


class CostRecordPage(_PageData):
    items: list[CostRecordOut]


class ProjectList(BaseModel):
    code: Literal[0] = 0
    message: Literal["ok"] = "ok"
    data: ProjectPage


class CostRecordList(BaseModel):
    code: Literal[0] = 0
    message: Literal["ok"] = "ok"
    data: CostRecordPage


class ErrorBody(BaseModel):
    """Every failure: a non-zero code (see docs/sandbox-pm.md) and a "中文 / English" message."""

    code: int = Field(examples=[40001])
    message: str = Field(examples=["令牌无效或已过期 / invalid or expired token"])
