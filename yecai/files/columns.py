"""Import kinds and their columns: Chinese header aliases → document fields, and value readers.

Each kind (cost, attendance, invoice, payment_request, budget, worker, opening_balance) names its canonical
document, the headers the PM systems and hand-made ledgers use for each field, how a cell of that
field is read (money, date, rate, category, …), and which field keys a row. The first alias of a
field is the canonical header written into blank templates. Values in Chinese (人工费, 专票,
已审批, 是) are turned into the document's values here, so that validation sees one vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from yecai.domain.documents import (
    Attendance,
    BudgetLine,
    CostCategory,
    CostRecord,
    Invoice,
    InvoiceDirection,
    InvoiceType,
    OpeningBalance,
    PaymentRequest,
    PaymentStatus,
    Worker,
)
from yecai.files import cells
from yecai.files.cells import Cell, CellError

KINDS_ORDER = ("cost", "attendance", "invoice", "payment_request", "budget", "worker", "opening_balance")


class FieldType(StrEnum):
    TEXT = "text"
    CODE = "code"  # identifiers typed as numbers lose digits: read carefully
    MONEY = "money"
    DECIMAL = "decimal"
    DATE = "date"
    TIME = "time"
    RATE = "rate"
    CATEGORY = "category"
    INVOICE_TYPE = "invoice_type"
    DIRECTION = "direction"
    STATUS = "status"
    BOOL = "bool"


CATEGORY_VALUES: dict[str, CostCategory] = {
    **{
        name: CostCategory.LABOUR
        for name in (
            "人工费",
            "人工",
            "人工成本",
            "人工费用",
            "劳务费",
            "劳务",
            "劳务分包",
            "劳务分包费",
            "labor",
        )
    },
    **{
        name: CostCategory.MATERIAL
        for name in (
            "材料费",
            "材料",
            "材料成本",
            "主材",
            "主材费",
            "辅材",
            "辅材费",
            "周转材料",
            "周转材料费",
        )
    },
    **{
        name: CostCategory.MACHINERY
        for name in (
            "机械费",
            "机械使用费",
            "施工机具使用费",
            "机具使用费",
            "机械",
            "机械租赁费",
            "机械台班费",
        )
    },
    **{
        name: CostCategory.SUBCONTRACT
        for name in ("分包", "分包成本", "分包费", "专业分包", "专业分包费", "分包工程费")
    },
    **{
        name: CostCategory.OTHER_DIRECT for name in ("其他直接费", "其他直接费用", "措施费", "安全文明施工费")
    },
    **{
        name: CostCategory.INDIRECT
        for name in ("间接费", "间接费用", "项目间接费", "管理费", "企业管理费", "现场管理费")
    },
    **{member.value: member for member in CostCategory},
}

# Canonical Chinese names offered in templates and drop-down lists, in ledger order.
CATEGORY_CHOICES: tuple[str, ...] = ("人工费", "材料费", "机械使用费", "分包", "其他直接费", "间接费")
INVOICE_TYPE_CHOICES: tuple[str, ...] = ("专票", "普票")
DIRECTION_CHOICES: tuple[str, ...] = ("进项", "销项")
STATUS_CHOICES: tuple[str, ...] = ("草稿", "已提交", "已审批", "已驳回", "已付款")
BOOL_CHOICES: tuple[str, ...] = ("是", "否")

DIRECTION_VALUES: dict[str, InvoiceDirection] = {
    **dict.fromkeys(("进项", "进项发票", "收到", "取得", "采购", "收票", "in"), InvoiceDirection.IN),
    **dict.fromkeys(("销项", "销项发票", "开具", "开出", "开票", "销售", "out"), InvoiceDirection.OUT),
}
STATUS_VALUES: dict[str, PaymentStatus] = {
    **dict.fromkeys(("草稿", "暂存", "未提交", "draft"), PaymentStatus.DRAFT),
    **dict.fromkeys(("已提交", "提交", "待审批", "审批中", "审核中", "submitted"), PaymentStatus.SUBMITTED),
    **dict.fromkeys(
        ("已审批", "审批通过", "已通过", "已审核", "通过", "同意", "approved"), PaymentStatus.APPROVED
    ),
    **dict.fromkeys(("已驳回", "驳回", "退回", "不通过", "已拒绝", "rejected"), PaymentStatus.REJECTED),
    **dict.fromkeys(("已付款", "已支付", "已付", "付款完成", "paid"), PaymentStatus.PAID),
}


def _choice_key(cell: Cell) -> str:
    return cells.nfkc(cells.cell_text(cell) or "").strip().replace(" ", "").lower()


def read_category(cell: Cell) -> str | None:
    key = _choice_key(cell)
    if not key:
        return None
    found = CATEGORY_VALUES.get(key)
    if found is None:
        raise CellError(
            f"{cells.cell_text(cell)!r} 不是可识别的成本类别；可用：{'、'.join(CATEGORY_CHOICES)}",
            f"{cells.cell_text(cell)!r} is not a known cost category; use one of "
            f"{', '.join(CATEGORY_CHOICES)} (or {', '.join(c.value for c in CostCategory)})",
        )
    return found.value


def read_invoice_type(cell: Cell) -> str | None:
    key = _choice_key(cell)
    if not key:
        return None
    # 数电票（增值税专用发票）, 电子专票, 全电专票, 81 = 专用 / 82 = 普通 (one provider's codes)
    if "专用" in key or "专票" in key or key in ("special", "81", "01"):
        return InvoiceType.SPECIAL.value
    if "普通" in key or "普票" in key or key in ("ordinary", "82", "04", "10"):
        return InvoiceType.ORDINARY.value
    raise CellError(
        f"{cells.cell_text(cell)!r} 不是可识别的发票类型；可用：专票（增值税专用发票）、普票（增值税普通发票）",
        f"{cells.cell_text(cell)!r} is not a known invoice type; use 专票 (special VAT invoice) or 普票 (ordinary)",
    )


def _read_choice(
    table: dict[str, Any], what_zh: str, what_en: str, choices: tuple[str, ...]
) -> Callable[[Cell], str | None]:
    def read(cell: Cell) -> str | None:
        key = _choice_key(cell)
        if not key:
            return None
        found = table.get(key)
        if found is None:
            raise CellError(
                f"{cells.cell_text(cell)!r} 不是可识别的{what_zh}；可用：{'、'.join(choices)}",
                f"{cells.cell_text(cell)!r} is not a known {what_en}; use one of {', '.join(choices)}",
            )
        return str(found.value)

    return read


read_direction = _read_choice(DIRECTION_VALUES, "进销项", "invoice direction", DIRECTION_CHOICES)
read_status = _read_choice(STATUS_VALUES, "单据状态", "status", STATUS_CHOICES)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One document field as it appears in files: type, aliases (canonical first) and notes."""

    name: str
    type: FieldType
    aliases: tuple[str, ...]
    required: bool = False
    note_zh: str = ""
    note_en: str = ""

    @property
    def header(self) -> str:
        return self.aliases[0]

    def choices(self) -> tuple[str, ...]:
        return {
            FieldType.CATEGORY: CATEGORY_CHOICES,
            FieldType.INVOICE_TYPE: INVOICE_TYPE_CHOICES,
            FieldType.DIRECTION: DIRECTION_CHOICES,
            FieldType.STATUS: STATUS_CHOICES,
            FieldType.BOOL: BOOL_CHOICES,
        }.get(self.type, ())


_SPEC_INDEX: dict[tuple[int, str], tuple[KindSpec, FieldSpec]] = {}


@dataclass(frozen=True, slots=True)
class KindSpec:
    """An import kind: its document model, fields, row key and the headers that mean nothing."""

    kind: str
    model: type[Any]
    title_zh: str
    title_en: str
    fields: tuple[FieldSpec, ...]
    key_field: str  # the column that identifies a row (the document key)
    natural_key: tuple[str, ...] = ()  # fields that identify a row when the key column is absent
    ignored: tuple[str, ...] = ()  # headers recognised (for layout detection) but not imported
    # words for people (摘要, 说明): a row that differs from a stored one only in these is the same
    # record — a duplicate listed for a person to confirm, never a new record or version
    presentational: tuple[str, ...] = ()

    def spec(self, name: str) -> FieldSpec:
        found = _SPEC_INDEX.get((id(self), name))
        if found is not None and found[0] is self:  # the very spec (the id of a live object)
            return found[1]
        for item in self.fields:
            if item.name == name:
                if len(_SPEC_INDEX) < 10_000:
                    _SPEC_INDEX[(id(self), name)] = (self, item)  # asked for per cell of every row
                return item
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(item.name for item in self.fields)


_PROJECT = ("项目编码", "项目代码", "工程编号", "项目编号", "工程编码", "工程代码", "项目号")
_IGNORED = ("序号", "行号", "项目名称", "工程名称", "备注", "附件", "附件数", "创建人", "制单人", "创建时间")
_DATE_NOTE = ("日期，如 2026-10-05、2026/10/5、2026年10月5日", "date, e.g. 2026-10-05, 2026/10/5, 20261005")
_MONEY_NOTE = ("金额（元），最多两位小数，不含千分位也可", "amount in yuan, at most 2 decimals")
_ID_NOTE = ("18 位身份证号码，请设为文本格式", "18-character resident ID number; keep the column as text")


def _f(
    name: str,
    type_: FieldType,
    aliases: tuple[str, ...],
    required: bool = False,
    note: tuple[str, str] = ("", ""),
) -> FieldSpec:
    return FieldSpec(name, type_, aliases, required, note[0], note[1])


T = FieldType

# Fields that mean the same in several kinds, declared once so the kinds cannot drift apart.
_PROJECT_CODE = _f("project_code", T.CODE, _PROJECT)
_PROJECT_CODE_REQUIRED = _f("project_code", T.CODE, _PROJECT, True)
_CONTRACT_NO = _f("contract_no", T.CODE, ("合同编号", "合同号"))
_TEAM = _f("team", T.TEXT, ("班组", "班组名称"))
_ID_NUMBER = _f(
    "id_number",
    T.CODE,
    ("身份证号", "身份证号码", "证件号码", "身份证", "证件号", "公民身份号码"),
    True,
    _ID_NOTE,
)

COST = KindSpec(
    kind="cost",
    model=CostRecord,
    title_zh="成本记录",
    title_en="cost records",
    key_field="source_key",
    fields=(
        _f(
            "source_key",
            T.CODE,
            ("单据编号", "单据号", "成本编号", "成本单号", "记录编号", "流水号", "业务单号", "凭单号"),
            note=(
                "单据编号，唯一标识一行成本；可空（空时按行识别）",
                "document number identifying the row; optional",
            ),
        ),
        _f(
            "project_code", T.CODE, _PROJECT, True, ("项目编码，如 XM2026001", "project code, e.g. XM2026001")
        ),
        _f(
            "category",
            T.CATEGORY,
            ("成本类别", "费用类别", "成本类型", "费用类型", "成本科目", "费用项目", "成本项目", "类别"),
            True,
            ("人工费/材料费/机械使用费/分包/其他直接费/间接费", "labour/material/machinery/… in Chinese"),
        ),
        _f(
            "business_date",
            T.DATE,
            ("业务日期", "日期", "发生日期", "记账日期", "单据日期", "入账日期", "成本日期"),
            True,
            _DATE_NOTE,
        ),
        _f(
            "description",
            T.TEXT,
            (
                "摘要",
                "说明",
                "内容",
                "成本说明",
                "费用说明",
                "费用名称",
                "明细",
                "品名",
                "材料名称",
                "工作内容",
            ),
        ),
        _f("quantity", T.DECIMAL, ("数量", "工程量", "本期数量"), note=("数量，可空", "quantity, optional")),
        _f("unit", T.TEXT, ("单位", "计量单位")),
        _f(
            "unit_price",
            T.DECIMAL,
            ("单价", "不含税单价", "本期单价"),
            note=("不含税单价，可空", "unit price ex-VAT"),
        ),
        _f(
            "amount",
            T.MONEY,
            ("金额", "不含税金额", "金额不含税", "本期金额", "成本金额", "发生额", "本期发生额", "本期成本"),
            True,
            ("不含税金额（元），不能为零", "amount ex-VAT in yuan, not zero"),
        ),
        _f(
            "tax_rate",
            T.RATE,
            ("税率", "税率/征收率"),
            note=("税率，如 9% 或 0.09", "tax rate, e.g. 9% or 0.09"),
        ),
        _f(
            "supplier_name",
            T.TEXT,
            (
                "供应商",
                "供应商名称",
                "分包单位",
                "劳务分包单位",
                "往来单位",
                "收款单位",
                "供应单位",
                "分包商",
            ),
        ),
        _CONTRACT_NO,
        _f("invoice_no", T.CODE, ("发票号码", "发票号")),
    ),
    ignored=(*_IGNORED, "累计数量", "累计金额", "含税金额", "税额"),
    presentational=("description",),
)

ATTENDANCE = KindSpec(
    kind="attendance",
    model=Attendance,
    title_zh="考勤记录",
    title_en="attendance",
    key_field="source_key",
    natural_key=("project_code", "id_number", "work_date"),
    fields=(
        _f(
            "source_key",
            T.CODE,
            ("考勤编号", "考勤单号", "记录编号", "流水号"),
            note=("考勤编号，可空（空时以 项目+身份证号+日期 识别）", "optional; else project + ID + date"),
        ),
        _f("project_code", T.CODE, _PROJECT, True, ("项目编码", "project code")),
        _ID_NUMBER,
        _f("worker_name", T.TEXT, ("姓名", "工人姓名", "人员姓名", "名字")),
        _f("work_date", T.DATE, ("考勤日期", "日期", "出勤日期", "工作日期"), True, _DATE_NOTE),
        _f(
            "days",
            T.DECIMAL,
            ("工日", "出勤工日", "考勤工日", "出勤天数", "天数"),
            note=("工日，0 到 1，如 1 或 0.5；空为 1", "days worked, more than 0 up to 1; empty = 1"),
        ),
        _f(
            "overtime_hours",
            T.DECIMAL,
            ("加班小时", "加班时长", "加班工时", "加班"),
            note=("0 到 12", "0 to 12"),
        ),
        _f(
            "check_in",
            T.TIME,
            ("上班时间", "签到时间", "进场时间", "上班打卡", "上班", "签到", "打卡时间上班", "上班打卡时间"),
            note=("如 07:30", "e.g. 07:30"),
        ),
        _f(
            "check_out",
            T.TIME,
            ("下班时间", "签退时间", "出场时间", "下班打卡", "下班", "签退", "打卡时间下班", "下班打卡时间"),
            note=("如 17:30", "e.g. 17:30"),
        ),
        _TEAM,
    ),
    ignored=(*_IGNORED, "工种", "所属单位"),
)

INVOICE = KindSpec(
    kind="invoice",
    model=Invoice,
    title_zh="发票",
    title_en="invoices",
    key_field="invoice_no",
    fields=(
        _f(
            "invoice_no",
            T.CODE,
            ("发票号码", "发票号", "数电票号码", "全电发票号码"),
            True,
            ("8 位或 20 位数字，请设为文本格式", "8 or 20 digits; keep the column as text"),
        ),
        _f(
            "invoice_code",
            T.CODE,
            ("发票代码",),
            note=("纸质发票 10 或 12 位；数电票为空", "paper invoices only"),
        ),
        _f(
            "direction",
            T.DIRECTION,
            ("进销项", "发票方向", "进项/销项", "方向"),
            True,
            ("进项（收到）或 销项（开出）", "进项 received or 销项 issued"),
        ),
        _f(
            "invoice_type",
            T.INVOICE_TYPE,
            ("发票类型", "发票种类", "票种", "票据类型"),
            True,
            ("专票 或 普票（也可写增值税专用发票/普通发票）", "专票 special or 普票 ordinary"),
        ),
        _f("issue_date", T.DATE, ("开票日期", "发票日期", "日期"), True, _DATE_NOTE),
        _PROJECT_CODE,
        _f("seller_name", T.TEXT, ("销售方名称", "销方名称", "销售方", "开票单位", "销货单位"), True),
        _f(
            "seller_tax_id",
            T.CODE,
            ("销售方纳税人识别号", "销方税号", "销售方税号", "销售方统一社会信用代码", "销方识别号"),
            note=("18 位统一社会信用代码", "18-character unified social credit code"),
        ),
        _f("buyer_name", T.TEXT, ("购买方名称", "购方名称", "购买方", "受票单位", "购货单位"), True),
        _f(
            "buyer_tax_id",
            T.CODE,
            ("购买方纳税人识别号", "购方税号", "购买方税号", "购买方统一社会信用代码", "购方识别号"),
            note=("18 位统一社会信用代码", "18-character unified social credit code"),
        ),
        _f("amount", T.MONEY, ("金额", "不含税金额", "金额不含税", "发票金额"), True, _MONEY_NOTE),
        _f(
            "tax_rate",
            T.RATE,
            ("税率", "税率/征收率", "征收率"),
            note=("如 9%、13%、免税", "e.g. 9%, 13%, 免税"),
        ),
        _f("tax_amount", T.MONEY, ("税额", "发票税额"), True, _MONEY_NOTE),
        _f(
            "total",
            T.MONEY,
            ("价税合计", "含税金额", "价税合计小写", "合计金额"),
            True,
            ("= 金额 + 税额", "= amount + tax"),
        ),
        _CONTRACT_NO,
    ),
    ignored=(*_IGNORED, "发票状态", "认证状态", "勾选状态", "价税合计大写"),
)

PAYMENT_REQUEST = KindSpec(
    kind="payment_request",
    model=PaymentRequest,
    title_zh="付款申请",
    title_en="payment requests",
    key_field="request_no",
    fields=(
        _f(
            "request_no",
            T.CODE,
            ("申请单号", "付款申请单号", "申请编号", "单据编号", "付款单号"),
            True,
            ("付款申请单号，唯一", "request number, unique"),
        ),
        _PROJECT_CODE_REQUIRED,
        _CONTRACT_NO,
        _f(
            "payee_name",
            T.TEXT,
            ("收款单位", "收款人", "收款方", "收款单位名称", "收款方户名", "户名", "收款人名称"),
            True,
        ),
        _f(
            "payee_account",
            T.CODE,
            ("收款账号", "银行账号", "账号", "收款方账号"),
            note=("请设为文本格式", "keep as text"),
        ),
        _f("payee_bank", T.TEXT, ("开户行", "开户银行", "收款银行", "开户行名称")),
        _f(
            "amount",
            T.MONEY,
            ("申请金额", "本次申请金额", "付款金额", "本期申请金额", "金额"),
            True,
            _MONEY_NOTE,
        ),
        _f("purpose", T.TEXT, ("付款用途", "用途", "款项性质", "款项类型", "摘要")),
        _f("request_date", T.DATE, ("申请日期", "日期", "单据日期"), True, _DATE_NOTE),
        _f(
            "expected_pay_date",
            T.DATE,
            ("计划付款日期", "预计付款日期", "期望付款日期", "要求付款日期"),
            note=_DATE_NOTE,
        ),
        _f(
            "status",
            T.STATUS,
            ("状态", "单据状态", "审批状态"),
            note=(
                "草稿/已提交/已审批/已驳回/已付款；空为已提交",
                "draft/submitted/… in Chinese; empty = submitted",
            ),
        ),
    ),
    ignored=(*_IGNORED, "合同名称", "申请人", "经办人", "累计付款", "合同金额"),
)

BUDGET = KindSpec(
    kind="budget",
    model=BudgetLine,
    title_zh="目标成本（预算）",
    title_en="budget lines",
    key_field="source_key",
    natural_key=("project_code", "category", "boq_code", "version"),
    fields=(
        _f(
            "source_key",
            T.CODE,
            ("预算编号", "预算行号", "编号"),
            note=("可空（空时以 项目+类别+清单+版本 识别）", "optional"),
        ),
        _PROJECT_CODE_REQUIRED,
        _f(
            "category",
            T.CATEGORY,
            ("成本类别", "费用类别", "成本科目", "预算科目", "成本项目", "类别"),
            True,
            ("人工费/材料费/机械使用费/分包/其他直接费/间接费", "cost category in Chinese"),
        ),
        _f(
            "amount", T.MONEY, ("预算金额", "目标成本", "预算成本", "目标成本金额", "金额"), True, _MONEY_NOTE
        ),
        _f(
            "boq_code",
            T.CODE,
            ("清单编码", "清单项目编码", "清单编号"),
            note=("12 位清单编码，可空", "12-digit BOQ code"),
        ),
        _f("version", T.TEXT, ("预算版本", "版本"), note=("如 原始、调整1", "e.g. original, 调整1")),
        _f("description", T.TEXT, ("说明", "摘要", "预算说明")),
    ),
    ignored=(*_IGNORED, "清单名称", "单位", "工程量", "综合单价"),
    presentational=("description",),
)

WORKER = KindSpec(
    kind="worker",
    model=Worker,
    title_zh="工人花名册",
    title_en="workers",
    key_field="id_number",
    fields=(
        _ID_NUMBER,
        _f("name", T.TEXT, ("姓名", "工人姓名", "人员姓名", "名字"), True),
        _PROJECT_CODE,
        _TEAM,
        _f("employer", T.TEXT, ("劳务分包单位", "用工单位", "所属单位", "劳务公司", "劳务单位")),
        _f("trade", T.TEXT, ("工种",)),
        _f("phone", T.CODE, ("手机号", "手机号码", "联系电话", "电话")),
        _f(
            "bank_card",
            T.CODE,
            ("银行卡号", "工资卡号", "卡号", "工资卡账号"),
            note=("本人工资卡号，请设为文本格式", "the worker's own card; keep as text"),
        ),
        _f("bank_name", T.TEXT, ("开户银行", "开户行", "银行名称", "工资卡开户行")),
        _f("day_rate", T.MONEY, ("日工资", "日工资标准", "日工价", "工日单价"), note=_MONEY_NOTE),
        _f(
            "registered",
            T.BOOL,
            ("实名登记", "是否实名", "实名制登记", "是否实名登记"),
            note=("是/否；空为是", "是 yes / 否 no; empty = yes"),
        ),
        _f("entry_date", T.DATE, ("进场日期", "入场日期", "进场时间"), note=_DATE_NOTE),
        _f("exit_date", T.DATE, ("退场日期", "离场日期", "出场日期"), note=_DATE_NOTE),
    ),
    ignored=(*_IGNORED, "性别", "年龄", "民族", "籍贯", "住址", "出生日期"),
)

_CUMULATIVE_NOTE = ("截至上线前一日的累计数（元），不能为负；不适用填 0 或留空", "cumulative to go-live, ≥ 0")

# 期初余额: one row per contract running at go-live (or per project, contract left empty). There is
# no number column: the row is keyed by 项目编码 + 合同编号, so the same contract twice in one file
# is a conflict the person must resolve, never two histories for one contract.
OPENING_BALANCE = KindSpec(
    kind="opening_balance",
    model=OpeningBalance,
    title_zh="期初余额",
    title_en="opening balances",
    key_field="source_key",
    natural_key=("project_code", "contract_no"),
    fields=(
        _PROJECT_CODE_REQUIRED,
        _f(
            "contract_no",
            T.CODE,
            ("合同编号", "合同号"),
            note=("合同编号；留空表示整个项目的期初数", "contract number; empty: the project as a whole"),
        ),
        _f(
            "as_of",
            T.DATE,
            ("上线日期", "期初日期", "启用日期", "建账日期"),
            True,
            (
                "系统上线（启用）日；金额为其前一日终了的累计数",
                "go-live day; figures are as at the day before",
            ),
        ),
        _f(
            "cost_to_date",
            T.MONEY,
            ("累计实际成本", "开累成本", "累计成本", "累计合同履约成本"),
            note=("不含税，元；" + _CUMULATIVE_NOTE[0], "ex-VAT; " + _CUMULATIVE_NOTE[1]),
        ),
        _f(
            "revenue_to_date",
            T.MONEY,
            ("累计确认收入", "开累收入", "累计收入", "累计已确认收入"),
            note=("不含税，元；" + _CUMULATIVE_NOTE[0], "ex-VAT; " + _CUMULATIVE_NOTE[1]),
        ),
        _f(
            "estimated_total_cost",
            T.MONEY,
            ("预计总成本", "目标成本总额", "合同预计总成本"),
            note=("不含税，元；可空", "ex-VAT, optional"),
        ),
        _f(
            "billed_to_date",
            T.MONEY,
            ("累计结算金额", "累计计量金额", "开累计量", "累计产值计量", "累计价款结算"),
            note=(
                "业主确认的累计计量（不含税、扣质保金前）",
                "owner-approved valuations, ex-VAT, before retention",
            ),
        ),
        _f(
            "retention_to_date",
            T.MONEY,
            ("累计扣留质保金", "累计质保金", "质保金余额"),
            note=("尚未到期的质保金（不含税），不能大于累计结算金额", "retention not yet due, ≤ billed"),
        ),
        _f(
            "received_to_date",
            T.MONEY,
            ("累计收款", "开累收款", "累计已收款"),
            note=("业主累计付款（价税合计）", "received from the owner, VAT included"),
        ),
        _f(
            "invoiced_to_date",
            T.MONEY,
            ("累计收票", "累计收到发票", "累计已收发票"),
            note=(
                "供应商/分包合同：累计收到的发票价税合计",
                "supplier contract: invoices received, VAT included",
            ),
        ),
        _f(
            "paid_to_date",
            T.MONEY,
            ("累计付款", "开累付款", "累计已付款"),
            note=("供应商/分包合同：累计已付款", "supplier contract: paid so far"),
        ),
        _f(
            "prepaid_vat_carry",
            T.MONEY,
            ("预缴增值税结转", "预缴税款结转基数", "预缴增值税待抵减"),
            note=(
                "跨县市项目预缴基数为负时结转的余额（含税），填负数或 0",
                "negative prepaid-VAT base carried forward (VAT included), ≤ 0",
            ),
        ),
    ),
    ignored=(*_IGNORED, "合同名称", "合同金额", "对方单位", "完工进度", "形象进度"),
)

KINDS: dict[str, KindSpec] = {
    spec.kind: spec for spec in (COST, ATTENDANCE, INVOICE, PAYMENT_REQUEST, BUDGET, WORKER, OPENING_BALANCE)
}


def kind_spec(kind: str) -> KindSpec:
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(
            f"未知的导入类型 {kind!r}；可用：{', '.join(KINDS_ORDER)} / "
            f"unknown import kind {kind!r}; use one of {', '.join(KINDS_ORDER)}"
        ) from None


def alias_index(spec: KindSpec, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Normalised header → field ("" for recognised headers that are not imported).

    `extra` (from a saved column template) wins over the built-in aliases.
    """
    index: dict[str, str] = {}
    # The first field to claim a name keeps it (field order is the priority).
    for item in spec.fields:
        for alias in item.aliases:
            index.setdefault(cells.header_key(alias), item.name)
    for name in spec.ignored:
        index.setdefault(cells.header_key(name), "")
    for header, name in (extra or {}).items():
        index[cells.header_key(header)] = name
    return index


ValueReader = Callable[[Cell], tuple[Any, tuple[str, str] | None]]


def _plain(read: Callable[[Cell], Any]) -> ValueReader:
    return lambda cell: (read(cell), None)


READERS: dict[FieldType, ValueReader] = {
    FieldType.TEXT: _plain(cells.cell_text),
    FieldType.CODE: _plain(cells.cell_code),
    FieldType.MONEY: _plain(cells.cell_money),
    FieldType.DECIMAL: _plain(cells.cell_decimal),
    FieldType.DATE: _plain(cells.cell_date),
    FieldType.TIME: _plain(cells.cell_time),
    FieldType.RATE: cells.cell_rate,
    FieldType.CATEGORY: _plain(read_category),
    FieldType.INVOICE_TYPE: _plain(read_invoice_type),
    FieldType.DIRECTION: _plain(read_direction),
    FieldType.STATUS: _plain(read_status),
    FieldType.BOOL: _plain(cells.cell_bool),
}


# Money columns are NUMERIC(18, 2); quantities beyond Excel's 15 digits are typing accidents.
LIMITS = {FieldType.MONEY: Decimal(10) ** 16, FieldType.DECIMAL: Decimal(10) ** 15}


def read_value(
    item: FieldSpec, cell: Cell, money_scale: Decimal | None = None, *, remember: bool = True
) -> tuple[Any, tuple[str, str] | None]:
    """The field's value from a cell, plus a note (e.g. `9` read as 9 %); raises CellError.

    Text cells repeat down a column (project codes, categories, suppliers, units, rates): their
    reading, a pure function of the text, is remembered (the values are immutable), unless the
    caller remembers its cells itself (`remember=False`: the file import's rows, per column).
    """
    memo = remember and type(cell) is str
    if memo:
        known = _READ.get((item.type, cell, money_scale))
        if known is not None:
            return known
    value, note = READERS[item.type](cell)
    if money_scale is not None and item.type is FieldType.MONEY and isinstance(value, Decimal):
        value = value * money_scale
    limit = LIMITS.get(item.type)
    if limit is not None and isinstance(value, Decimal) and abs(value) >= limit:
        digits = len(str(limit)) - 1
        raise CellError(
            f"数值 {value} 超出范围（整数部分最多 {digits} 位）",
            f"the number {value} is out of range (at most {digits} digits before the decimal point)",
        )
    if memo:
        if len(_READ) >= 50_000:
            _READ.clear()
        _READ[(item.type, cell, money_scale)] = (value, note)  # type: ignore[index]
    return value, note


_READ: dict[tuple[FieldType, str, Decimal | None], tuple[Any, tuple[str, str] | None]] = {}
