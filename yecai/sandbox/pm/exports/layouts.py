"""The column layouts of sandbox.pm's exports, one per kind, as data.

A `Layout` names the sheet, the title, the columns (header, optional group header for a two-row
header, how to read the value, cell type) and which columns the 合计 footer sums. The xlsx, xls
and CSV writers all follow it, so docs/sandbox-pm.md documents this file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from yecai.sandbox.pm.models import CENT, CostRecord, Project
from yecai.sandbox.pm.records import Invoice, Worker

CellKind = Literal["text", "int", "money", "quantity", "rate", "date", "hours"]


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    value: Callable[[Any], Any]
    kind: CellKind = "text"
    width: int = 12
    group: str | None = None  # a group header over adjacent columns (two-row header)
    total: bool = False  # summed in the 合计 footer


@dataclass(frozen=True, slots=True)
class Layout:
    kind: str  # the --kind yecai's importer takes: cost, attendance, invoice, payment_request, budget, worker
    file_stem: str  # 成本台账 → 成本台账_2026-10.xlsx
    sheet: str
    title: str  # "{name}成本台账（{period}）": {name} is the contractor or the project
    columns: tuple[Column, ...]
    footer: Literal["sums", "count"] = "sums"

    @property
    def grouped(self) -> bool:
        """A two-row header: some columns sit under a merged group cell."""
        return any(column.group for column in self.columns)


def _tax(record: CostRecord) -> Decimal:
    return (record.amount * record.tax_rate).quantize(CENT, ROUND_HALF_UP)


def cost_layout(projects: Mapping[str, Project]) -> Layout:
    def name(record: CostRecord) -> str:
        return projects[record.project_code].project_name

    return Layout(
        kind="cost",
        file_stem="成本台账",
        sheet="成本台账",
        title="{name}成本台账（{period}）",
        columns=(
            Column("序号", lambda r: None, "int", 7),
            Column("项目编码", lambda r: r.project_code, width=12),
            Column("项目名称", name, width=36),
            Column("单据编号", lambda r: r.record_id, width=20),
            Column("业务日期", lambda r: r.business_date, "date", 12),
            Column("成本类别", lambda r: r.category_name, width=11),
            Column("摘要", lambda r: r.description, width=40),
            Column("数量", lambda r: r.quantity, "quantity", 11, group="数量及单价"),
            Column("单位", lambda r: r.unit, width=8, group="数量及单价"),
            Column("不含税单价", lambda r: r.unit_price, "quantity", 12, group="数量及单价"),
            Column("不含税金额", lambda r: r.amount, "money", 15, group="金额", total=True),
            Column("税率", lambda r: r.tax_rate, "rate", 7, group="金额"),
            Column("税额", _tax, "money", 13, group="金额", total=True),
            Column("价税合计", lambda r: r.amount + _tax(r), "money", 15, group="金额", total=True),
            Column("供应商/分包单位", lambda r: r.supplier_name or "", width=32),
            Column("班组", lambda r: r.team_name or "", width=18),
            Column("合同编号", lambda r: r.contract_no or "", width=18),
            Column("发票号码", lambda r: r.invoice_no or "", width=22),
            Column("录入人", lambda r: r.entered_by, width=9),
        ),
    )


def attendance_layout(projects: Mapping[str, Project], workers: Mapping[str, Worker]) -> Layout:
    return Layout(
        kind="attendance",
        file_stem="考勤明细",
        sheet="考勤明细",
        title="{name}劳务实名制考勤明细（{period}）",
        columns=(
            Column("序号", lambda r: None, "int", 7),
            Column("项目编码", lambda r: r.project_code, width=12),
            Column("项目名称", lambda r: projects[r.project_code].project_name, width=36),
            Column("班组", lambda r: r.team_name, width=18),
            Column("姓名", lambda r: r.worker_name, width=9),
            Column("身份证号码", lambda r: r.id_number, width=21),
            Column("工种", lambda r: workers[r.worker_id].trade if r.worker_id in workers else "", width=9),
            Column("考勤日期", lambda r: r.work_date, "date", 12),
            Column("上班", lambda r: r.check_in, width=10, group="打卡时间"),
            Column("下班", lambda r: r.check_out, width=10, group="打卡时间"),
            Column("出勤工日", lambda r: r.days, "quantity", 10, total=True),
            Column("加班（小时）", lambda r: r.overtime_hours, "hours", 11, total=True),
        ),
    )


def invoice_layout() -> Layout:
    return Layout(
        kind="invoice",
        file_stem="发票台账",
        sheet="发票台账",
        title="{name}发票台账（{period}）",
        columns=(
            Column("序号", lambda r: None, "int", 7),
            Column("进销项", lambda r: "进项" if r.direction == "in" else "销项", width=8),
            Column("发票类型", lambda r: r.invoice_type_name, width=24),
            Column("发票代码", lambda r: r.invoice_code or "", width=14),
            Column("发票号码", lambda r: r.invoice_no, width=22),
            Column("开票日期", lambda r: r.issue_date, "date", 12),
            Column("项目编码", lambda r: r.project_code, width=12),
            Column("名称", lambda r: r.seller_name, width=32, group="销售方"),
            Column("纳税人识别号", lambda r: r.seller_tax_id, width=20, group="销售方"),
            Column("名称", lambda r: r.buyer_name, width=32, group="购买方"),
            Column("纳税人识别号", lambda r: r.buyer_tax_id, width=20, group="购买方"),
            Column("金额", lambda r: r.amount, "money", 15, group="金额", total=True),
            Column("税率", lambda r: r.tax_rate, "rate", 7, group="金额"),
            Column("税额", lambda r: r.tax_amount, "money", 13, group="金额", total=True),
            Column("价税合计", lambda r: r.total_amount, "money", 15, group="金额", total=True),
            Column("合同编号", lambda r: r.contract_no or "", width=18),
            Column("所属期间", lambda r: r.period, width=9),
            Column("认证状态", lambda r: _certified(r), width=9),
        ),
    )


def _certified(invoice: Invoice) -> str:
    if invoice.direction != "in" or invoice.invoice_type != "special":
        return "—"
    return "已认证" if invoice.certified else "未认证"


def payment_request_layout(projects: Mapping[str, Project]) -> Layout:
    return Layout(
        kind="payment_request",
        file_stem="付款申请",
        sheet="付款申请",
        title="{name}付款申请台账（{period}）",
        columns=(
            Column("序号", lambda r: None, "int", 7),
            Column("申请单号", lambda r: r.request_no, width=18),
            Column("项目编码", lambda r: r.project_code, width=12),
            Column("项目名称", lambda r: projects[r.project_code].project_name, width=36),
            Column("合同编号", lambda r: r.contract_no, width=18),
            Column("收款单位", lambda r: r.payee_name, width=32, group="收款方信息"),
            Column("开户银行", lambda r: r.payee_bank, width=36, group="收款方信息"),
            Column("银行账号", lambda r: r.payee_account, width=24, group="收款方信息"),
            Column("付款用途", lambda r: r.purpose, width=14),
            Column("应付金额", lambda r: r.due_amount, "money", 15),
            Column("申请金额", lambda r: r.amount, "money", 15, total=True),
            Column("申请日期", lambda r: r.request_date, "date", 12),
            Column("计划付款日期", lambda r: r.expected_pay_date, "date", 12),
            Column("审批状态", lambda r: r.status_name, width=9),
            Column("申请人", lambda r: r.applicant, width=9),
        ),
    )


def budget_layout(projects: Mapping[str, Project]) -> Layout:
    return Layout(
        kind="budget",
        file_stem="目标成本",
        sheet="目标成本",
        title="{name}项目目标成本（{period}）",
        columns=(
            Column("序号", lambda r: None, "int", 7),
            Column("预算编号", lambda r: r.budget_id, width=18),
            Column("项目编码", lambda r: r.project_code, width=12),
            Column("项目名称", lambda r: projects[r.project_code].project_name, width=36),
            Column("成本类别", lambda r: r.category_name, width=11),
            Column("类别编码", lambda r: r.category.value, width=13),
            Column("目标成本", lambda r: r.amount, "money", 17, total=True),
            Column("版本", lambda r: r.version, width=7),
            Column("说明", lambda r: r.description, width=44),
        ),
    )


def worker_layout() -> Layout:
    return Layout(
        kind="worker",
        file_stem="花名册",
        sheet="实名制花名册",
        title="{name}劳务实名制花名册（{period}）",
        footer="count",
        columns=(
            Column("序号", lambda r: None, "int", 7),
            Column("人员编号", lambda r: r.worker_id, width=18),
            Column("项目编码", lambda r: r.project_code, width=12),
            Column("姓名", lambda r: r.name, width=9),
            Column("性别", lambda r: r.gender, width=6),
            Column("身份证号码", lambda r: r.id_number, width=21),
            Column("出生日期", lambda r: r.birth_date, "date", 12),
            Column("工种", lambda r: r.trade, width=9),
            Column("班组", lambda r: r.team_name, width=18),
            Column("劳务分包单位", lambda r: r.employer_name, width=30),
            Column("联系电话", lambda r: r.phone, width=13),
            Column("银行卡号", lambda r: r.bank_card, width=22),
            Column("开户银行", lambda r: r.bank_name, width=16),
            Column("日工资（元）", lambda r: r.day_rate, "money", 12),
            Column("进场日期", lambda r: r.entry_date, "date", 12),
            Column("退场日期", lambda r: r.exit_date, "date", 12),
            Column("实名登记", lambda r: "是" if r.registered else "否", width=9),
        ),
    )


def header_rows(layout: Layout) -> list[list[str]]:
    """The header as rows of text: one row, or the group row and the column row."""
    if not layout.grouped:
        return [[column.header for column in layout.columns]]
    return [
        [column.group or column.header for column in layout.columns],
        [column.header for column in layout.columns],
    ]


def flat_headers(layout: Layout) -> list[str]:
    """One header row for CSV: a grouped column is named by its own header, unless that repeats."""
    names = [column.header for column in layout.columns]
    return [
        f"{column.group}{column.header}" if column.group and names.count(column.header) > 1 else column.header
        for column in layout.columns
    ]
