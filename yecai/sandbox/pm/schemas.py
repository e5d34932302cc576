"""The OpenAPI description of sandbox.pm's answers (pydantic models used for documentation only).

Records are served straight from the dataclasses in `models` and `records` by the Decimal-exact
writer, so these classes never touch data at run time; they tell `/openapi.json` and `/docs` what
the JSON looks like, per pagination style. Money and quantities are documented as JSON numbers,
which is what is sent. A test keeps their fields equal to the dataclass fields.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, create_model

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
    WithJsonSchema(
        {"type": "number", "description": "VAT rate as a fraction", "enum": [0.13, 0.09, 0.06, 0.03, 0]}
    ),
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
    vat_method: Literal["一般计税", "简易计税"] = Field(
        description="计税方法: 一般计税 9 % | 简易计税 3 % (甲供/清包工/老项目)"
    )
    cross_region: bool = Field(
        description="跨县(市、区): outside the county of the contractor's registered seat, VAT prepaid at the location"
    )
    created_at: datetime
    updated_at: datetime


class CostRecordOut(BaseModel):
    """成本台账明细 · one cost line, tax-exclusive: 人工费, 材料费, 机械使用费, 分包成本, 其他直接费, 间接费用."""

    record_id: str = Field(examples=["CB-XM2026001-000123", "FB-XM2026001-0001", "FY-XM2026001-00012"])
    project_code: str = Field(examples=["XM2026001"])
    category: Literal["labour", "material", "machinery", "subcontract", "other_direct", "indirect"]
    category_name: Literal["人工费", "材料费", "机械使用费", "分包成本", "其他直接费", "间接费用"]
    business_date: date = Field(description="业务日期 (Monday to Saturday)")
    description: str = Field(examples=["钢筋 HRB400E Φ25"])
    quantity: Quantity
    unit: str = Field(examples=["吨", "立方米", "工日", "台班", "项", "千瓦时", "人月"])
    unit_price: UnitPrice = Field(description="不含税单价")
    amount: Money = Field(description="不含税金额 = quantity × unit_price, rounded half-up to the cent")
    tax_rate: Rate
    supplier_name: str | None = Field(
        description="劳务公司 / 供应商 / 租赁公司 / 分包单位; null for 薪酬, 折旧, 摊销"
    )
    team_name: str | None = Field(description="班组 of a labour line, e.g. 张建国钢筋班组")
    contract_no: str | None = Field(
        description="the contract the cost is incurred under", examples=["XM2026001-CG-002"]
    )
    invoice_no: str | None = Field(description="the invoice that came with the bill, when it did")
    entered_by: str = Field(description="录入人")
    created_at: datetime
    updated_at: datetime
    subcategory: str | None = Field(
        description="费用明细 of 其他直接费 / 间接费用 (null for the other categories)",
        examples=["项目管理人员薪酬", "施工用电", "临时设施摊销"],
    )


class BoqItemOut(BaseModel):
    """工程量清单 · one BOQ line of the contract (GB 50500 12-digit code)."""

    boq_id: str = Field(examples=["QD-XM2026001-0001"])
    project_code: str
    item_code: str = Field(description="项目编码, 12 digits", examples=["010515001001"])
    item_name: str = Field(examples=["现浇构件钢筋"])
    feature_desc: str = Field(description="项目特征描述")
    section_name: str = Field(description="分部工程", examples=["混凝土及钢筋混凝土工程"])
    unit: str = Field(examples=["m3", "m2", "t", "m", "个", "座"])
    quantity: Quantity
    unit_price: Money = Field(description="综合单价")
    amount: Money = Field(description="合价 = quantity × unit_price")
    edition: Literal["GB50500-2013", "GB/T50500-2024"]
    created_at: datetime
    updated_at: datetime


class BudgetLineOut(BaseModel):
    """目标成本 · the target cost of one project and cost category, in its current version."""

    budget_id: str = Field(examples=["YS-XM2026001-01"])
    project_code: str
    category: Literal["labour", "material", "machinery", "subcontract", "other_direct", "indirect"]
    category_name: str
    amount: Money
    version: str = Field(examples=["V1", "V2"])
    description: str
    created_at: datetime
    updated_at: datetime


class ContractOut(BaseModel):
    """合同 · income contract with the owner, or a subcontract / purchase / lease contract."""

    contract_no: str = Field(examples=["XM2026001-SR-001", "XM2026001-FB-002", "XM2026001-CG-001"])
    project_code: str
    contract_kind: Literal["income", "labour", "subcontract", "purchase", "lease"] = Field(
        description="labour = 劳务分包, subcontract = 专业分包"
    )
    contract_type_name: Literal[
        "施工总承包合同", "劳务分包合同", "专业分包合同", "材料采购合同", "机械租赁合同"
    ]
    contract_name: str
    counterparty_name: str
    counterparty_tax_id: str = Field(description="统一社会信用代码 (GB 32100)")
    amount: Money = Field(description="含税合同额; 补充协议 raise it over time")
    tax_rate: Rate
    retention_rate: Annotated[Decimal, WithJsonSchema({"type": "number", "description": "质保金比例 ≤ 0.03"})]
    payment_ratio: Annotated[Decimal, WithJsonSchema({"type": "number", "description": "进度款支付比例"})]
    signed_date: date
    start_date: date
    end_date: date
    created_at: datetime
    updated_at: datetime


class OpeningBalanceOut(BaseModel):
    """期初余额 · where a contract running on the go-live day stood the evening before.

    Cumulative to the day before `go_live_date` (the data's first day); ex-VAT unless noted; a
    figure that does not apply to the contract's side is 0.
    """

    opening_id: str = Field(examples=["QC-XM2026001-SR-001"])
    project_code: str
    contract_no: str
    contract_kind: Literal["income", "subcontract", "purchase", "lease"]
    contract_type_name: Literal[
        "施工总承包合同", "劳务分包合同", "专业分包合同", "材料采购合同", "机械租赁合同"
    ]
    counterparty_name: str
    go_live_date: date = Field(description="上线日 · the first day of the data window")
    percent_complete: Decimal | None = Field(description="开累完工百分比 0–100 (income contract only)")
    cost_to_date: Money = Field(description="累计实际成本")
    revenue_to_date: Money = Field(description="累计确认收入 = 合同价（不含税）× 完工百分比 (income)")
    estimated_total_cost: Money | None = Field(description="预计总成本 = 目标成本 (income contract only)")
    billed_to_date: Money = Field(description="累计计量（扣质保金前）(income)")
    retention_to_date: Money = Field(description="累计扣留质保金 (income)")
    received_to_date: Money = Field(description="累计收款，价税合计 (income)")
    invoiced_to_date: Money = Field(description="累计收到发票，价税合计 (supplier contracts)")
    paid_to_date: Money = Field(description="累计付款 (supplier contracts)")
    prepaid_vat_carry: Money = Field(
        description="预缴增值税结转基数 ≤ 0: 已开票 − 分包发票, carried while negative (income)"
    )
    created_at: datetime
    updated_at: datetime


class MeasuredItemOut(BaseModel):
    boq_code: str
    item_name: str
    unit: str
    quantity: Quantity = Field(description="本期计量")
    cumulative_quantity: Quantity = Field(description="开累计量")
    unit_price: Money
    amount: Money


class ProgressReportOut(BaseModel):
    """月度进度与产值计量 · reported on the 25th, approved by the owner some days later."""

    report_id: str = Field(examples=["JD-XM2026001-202610"])
    project_code: str
    period: str = Field(examples=["2026-10"])
    report_date: date
    percent_complete: Annotated[
        Decimal, WithJsonSchema({"type": "number", "description": "cumulative, 0–100"})
    ]
    reported_amount: Money = Field(description="申报金额 (this period, ex-VAT)")
    valuation_amount: Money = Field(description="本期计量金额 (approved amount once approved)")
    cumulative_valuation: Money = Field(description="开累计量金额")
    approved: bool
    approved_date: date | None
    measured: list[MeasuredItemOut]
    created_at: datetime
    updated_at: datetime


class PaymentRequestOut(BaseModel):
    """付款申请 · to a contract counterparty; amount ≤ due_amount."""

    request_no: str = Field(examples=["FK-XM2026001-0001"])
    project_code: str
    contract_no: str
    payee_name: str
    payee_bank: str
    payee_account: str
    purpose: Literal["材料款", "劳务费", "机械租赁费", "分包工程进度款"]
    amount: Money
    due_amount: Money = Field(description="what the contract made payable when the request was raised")
    request_date: date
    expected_pay_date: date
    status: Literal["draft", "submitted", "approved", "rejected", "paid"]
    status_name: Literal["草稿", "已提交", "已审批", "已驳回", "已支付"]
    applicant: str
    approved_date: date | None
    paid_date: date | None
    created_at: datetime
    updated_at: datetime


class ReceiptOut(BaseModel):
    """业主收款 · money the owner paid under the income contract."""

    receipt_no: str = Field(examples=["SK-XM2026001-0001"])
    project_code: str
    contract_no: str
    payer_name: str
    receipt_type: Literal["progress", "retention"]
    receipt_type_name: Literal["进度款", "质保金"]
    amount: Money = Field(description="价税合计 received")
    invoice_no: str | None = Field(description="the sales invoice a progress payment settles")
    receipt_date: date = Field(description="the bank's date")
    bank_name: str
    bank_account: str = Field(description="our account the money came into")
    created_at: datetime
    updated_at: datetime


class InvoiceLineOut(BaseModel):
    item_name: str = Field(examples=["*黑色金属冶炼压延品*钢筋"])
    spec: str
    unit: str
    quantity: Quantity | None
    unit_price: UnitPrice | None
    amount: Money
    tax_rate: Rate
    tax_amount: Money


class InvoiceOut(BaseModel):
    """增值税发票 · received (进项) or issued (销项); tax rounded per line; total = amount + tax."""

    invoice_no: str = Field(description="8 digits (paper) or 20 digits (数电)")
    invoice_code: str | None = Field(
        description="10 (专票) or 12 (普票) digits on paper invoices; null on 数电"
    )
    direction: Literal["in", "out"]
    invoice_type: Literal["special", "ordinary"]
    invoice_type_name: str
    issue_date: date
    project_code: str
    seller_name: str
    seller_tax_id: str
    buyer_name: str
    buyer_tax_id: str
    amount: Money
    tax_rate: Rate
    tax_amount: Money
    total_amount: Money
    contract_no: str | None
    period: str
    certified: bool = Field(description="勾选认证 done (received 专票)")
    lines: list[InvoiceLineOut]
    created_at: datetime
    updated_at: datetime


class WorkerOut(BaseModel):
    """实名制花名册 · a site worker: ID number (GB 11643), own bank card, team, day rate."""

    worker_id: str = Field(examples=["RY-XM2026001-0001"])
    project_code: str
    name: str
    id_number: str
    gender: Literal["男", "女"]
    birth_date: date
    phone: str
    bank_card: str
    bank_name: str
    team_name: str
    trade: str = Field(examples=["钢筋工"])
    employer_name: str = Field(description="劳务分包单位")
    employer_tax_id: str
    day_rate: Money = Field(description="日工资标准 (the team's rate per 工日)")
    entry_date: date
    exit_date: date | None
    registered: bool
    created_at: datetime
    updated_at: datetime


class AttendanceOut(BaseModel):
    """考勤 · one worker's day from the gate: 1 or 0.5 工日."""

    attendance_id: str = Field(examples=["KQ-XM2026001-0000001"])
    project_code: str
    worker_id: str
    worker_name: str
    id_number: str
    team_name: str
    work_date: date
    days: Annotated[Decimal, WithJsonSchema({"type": "number", "enum": [1, 0.5]})]
    overtime_hours: Annotated[Decimal, WithJsonSchema({"type": "number", "minimum": 0, "maximum": 3})]
    check_in: str = Field(examples=["06:42:10"])
    check_out: str = Field(examples=["17:48:03"])
    created_at: datetime
    updated_at: datetime


class TombstoneOut(BaseModel):
    """A deleted record in a feed read with include_deleted=true: its key field, id, deleted, updated_at."""

    model_config = ConfigDict(extra="allow")

    id: str
    project_code: str | None
    deleted: Literal[True]
    updated_at: datetime = Field(description="when it was deleted")


class _PageData(BaseModel):
    page: int = Field(description="1-based page number")
    page_size: int
    total: int = Field(description="records matching the filters, over all pages")
    has_more: bool


class _OffsetData(BaseModel):
    offset: int = Field(description="0-based position of the first item")
    limit: int
    total: int = Field(description="records matching the filters")
    has_more: bool


class _CursorData(BaseModel):
    page_size: int
    next_cursor: str | None = Field(
        description="pass as cursor for the next page; null when nothing is left now"
    )
    has_more: bool
    resume_cursor: str | None = Field(
        description="the last row seen: poll with it later for what appears after"
    )


def _envelope(name: str, data: type[BaseModel]) -> type[BaseModel]:
    return create_model(
        name,
        code=(Literal[0], 0),
        message=(Literal["ok"], "ok"),
        data=(data, ...),
        __doc__=f"成功应答 · success: {data.__name__}",
    )


def _listing(name: str, out: type[BaseModel], style: str) -> type[BaseModel]:
    base = {"page": _PageData, "offset": _OffsetData, "cursor": _CursorData}[style]
    data = create_model(f"{name}Page", __base__=base, items=(list[out | TombstoneOut], ...))  # type: ignore[valid-type]
    return _envelope(f"{name}List", data)


ProjectList = _listing("Project", ProjectOut, "page")
CostRecordList = _listing("CostRecord", CostRecordOut, "page")
BoqItemList = _listing("BoqItem", BoqItemOut, "offset")
BudgetLineList = _listing("BudgetLine", BudgetLineOut, "offset")
ContractList = _listing("Contract", ContractOut, "page")
ProgressReportList = _listing("ProgressReport", ProgressReportOut, "page")
PaymentRequestList = _listing("PaymentRequest", PaymentRequestOut, "offset")
InvoiceList = _listing("Invoice", InvoiceOut, "cursor")
ReceiptList = _listing("Receipt", ReceiptOut, "offset")
WorkerList = _listing("Worker", WorkerOut, "offset")
AttendanceList = _listing("Attendance", AttendanceOut, "cursor")
OpeningBalanceList = _listing("OpeningBalance", OpeningBalanceOut, "page")


def single(out: type[BaseModel]) -> type[BaseModel]:
    """The envelope of one record fetched by its key."""
    return _envelope(f"{out.__name__.removesuffix('Out')}One", out)


class ErrorBody(BaseModel):
    """Every failure: a non-zero code (see docs/sandbox-pm.md) and a "中文 / English" message."""

    code: int = Field(examples=[40001])
    message: str = Field(examples=["令牌无效或已过期 / invalid or expired token"])
