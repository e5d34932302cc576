"""Helpers for the file-import tests: good rows of every kind and writers for xlsx, xls and CSV.

The exports are built here (never taken from sandbox.pm) in the layouts Chinese systems use: a
merged title, an 导出时间 line, the header, data, then 合计 and 备注 footers. Identifiers carry
valid check digits so that a row is good unless a test breaks it on purpose.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import xlsxwriter
import xlwt

from yecai.domain.identifiers import id_number_check_digit, uscc_check_character

RARE = "𠮷"  # outside GBK: only GB18030 (4 bytes) and UTF-8 can hold it


def id_number(seq: int = 123, born: str = "19900101") -> str:
    first = f"110105{born}{seq:03d}"
    return first + id_number_check_digit(first)


def uscc(body: str = "91340100727588061") -> str:
    return body + uscc_check_character(body)


def luhn(prefix: str) -> str:
    digits = [int(d) for d in prefix]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return prefix + str((10 - total % 10) % 10)


SELLER, BUYER = uscc("91340100727588061"), uscc("91310000132149237")
CARD = luhn("622202123456789012")

# kind → (header row, data rows, text column that may carry a rare character)
GOOD: dict[str, tuple[list[str], list[list[Any]], str]] = {
    "cost": (
        [
            "序号",
            "单据编号",
            "项目编码",
            "成本类别",
            "业务日期",
            "摘要",
            "数量",
            "单位",
            "单价",
            "金额",
            "税率",
            "供应商",
        ],
        [
            [
                1,
                "CB-0001",
                "XM2026001",
                "人工费",
                dt.date(2026, 10, 5),
                "钢筋班组 工日",
                10,
                "工日",
                350,
                3500,
                "3%",
                "宏达劳务",
            ],
            [
                2,
                "CB-0002",
                "XM2026001",
                "材料费",
                "2026/10/5",
                "螺纹钢",
                2.5,
                "吨",
                3980.4,
                9951,
                "13%",
                "马钢",
            ],
            [
                3,
                "CB-0003",
                "XM2026002",
                "机械使用费",
                "2026年10月6日",
                "塔吊台班",
                None,
                None,
                None,
                0.1 + 0.2,
                0.09,
                "中联租赁",
            ],
        ],
        "摘要",
    ),
    "attendance": (
        ["项目编码", "身份证号", "姓名", "考勤日期", "工日", "加班小时", "上班时间", "下班时间", "班组"],
        [
            ["XM2026001", id_number(101), "张三", dt.date(2026, 10, 5), 1, 2, "07:30", "18:30", "钢筋班"],
            ["XM2026001", id_number(102), "李四", "20261005", 0.5, 0, "07:30", "11:30", "木工班"],
            ["XM2026001", id_number(101), "张三", "2026-10-06", 1, None, None, None, "钢筋班"],
        ],
        "姓名",
    ),
    "invoice": (
        [
            "发票号码",
            "进销项",
            "发票类型",
            "开票日期",
            "销售方名称",
            "销售方纳税人识别号",
            "购买方名称",
            "购买方纳税人识别号",
            "金额",
            "税率",
            "税额",
            "价税合计",
        ],
        [
            [
                "04512345",
                "进项",
                "增值税专用发票",
                dt.date(2026, 10, 8),
                "马鞍山钢铁股份有限公司",
                SELLER,
                "合肥建工集团",
                BUYER,
                10000,
                "13%",
                1300,
                11300,
            ],
            [
                "26342000000012345678",
                "进项",
                "普票",
                "2026-10-09",
                "合肥城建商砼有限公司",
                SELLER,
                "合肥建工集团",
                BUYER,
                5000,
                "3%",
                150,
                5150,
            ],
        ],
        "销售方名称",
    ),
    "payment_request": (
        [
            "申请单号",
            "项目编码",
            "收款单位",
            "收款账号",
            "开户行",
            "申请金额",
            "付款用途",
            "申请日期",
            "状态",
        ],
        [
            [
                "FK-2026-001",
                "XM2026001",
                "宏达劳务",
                "1302010119000012345",
                "工行合肥分行",
                120000,
                "劳务费",
                "2026-10-10",
                "已审批",
            ],
            [
                "FK-2026-002",
                "XM2026002",
                "马钢",
                "1302010119000054321",
                "建行马鞍山分行",
                "85,000.50",
                "材料款",
                dt.date(2026, 10, 11),
                "审批中",
            ],
        ],
        "收款单位",
    ),
    "budget": (
        ["项目编码", "成本类别", "预算金额", "清单编码", "预算版本", "说明"],
        [
            ["XM2026001", "人工费", 1200000, None, "原始", "目标成本"],
            ["XM2026001", "材料费", "3,500,000.00", None, "原始", "目标成本"],
            ["XM2026001", "机械使用费", 800000.5, "010101003001", "原始", "土方"],
        ],
        "说明",
    ),
    "worker": (
        [
            "身份证号码",
            "姓名",
            "项目编码",
            "班组",
            "工种",
            "银行卡号",
            "开户银行",
            "日工资",
            "实名登记",
            "进场日期",
        ],
        [
            [
                id_number(101),
                "张三",
                "XM2026001",
                "钢筋班",
                "钢筋工",
                CARD,
                "工商银行",
                350,
                "是",
                "2026-09-01",
            ],
            [
                id_number(102),
                "李四",
                "XM2026001",
                "木工班",
                "木工",
                luhn("621700123456789012"),
                "建设银行",
                380,
                "是",
                dt.date(2026, 9, 2),
            ],
        ],
        "姓名",
    ),
    "opening_balance": (
        [
            "项目编码",
            "合同编号",
            "上线日期",
            "开累成本",
            "累计确认收入",
            "预计总成本",
            "累计计量金额",
            "累计质保金",
            "累计收款",
            "累计收票",
            "累计付款",
            "预缴增值税结转",
        ],
        [
            [
                "XM2026001",
                "XM2026001-SR-001",
                "2026-10-01",
                41234567.89,
                "45,678,901.23",
                98765432.1,
                40000000,
                1200000,
                "34,880,000.00",
                None,
                None,
                -150000,
            ],
            [
                "XM2026001",
                "XM2026001-FB-001",
                dt.date(2026, 10, 1),
                3500000,
                0,
                None,
                0,
                0,
                0,
                3815000,
                3052000,
                0,
            ],
            [
                "XM2026002",
                "XM2026002-SR-001",
                "2026/10/1",
                1500000.5,
                1650000,
                2000000,
                None,
                None,
                None,
                None,
                None,
                None,
            ],
        ],
        "合同编号",
    ),
}


def with_rare(kind: str) -> list[list[Any]]:
    """The kind's good rows with a GB18030-only character in a text column."""
    header, rows, column = GOOD[kind]
    index = header.index(column)
    out = [list(row) for row in rows]
    for row in out:
        row[index] = f"{row[index]}{RARE}"
    return out


def _title(kind: str) -> list[list[Any]]:
    return [
        [f"{kind} 导出 · 合肥建工集团"],
        ["导出时间：2026-10-12 08:00:00", None, None, "单位：元"],
        [],
    ]


def _footer(width: int) -> list[list[Any]]:
    return [["合计"] + [None] * (width - 1), ["备注：以上数据由系统导出"]]


def sheet_rows(header: Sequence[Any], rows: Sequence[Sequence[Any]], kind: str = "cost") -> list[list[Any]]:
    """Title, export time, a blank row, header, data and footers: a typical export sheet."""
    return [*_title(kind), list(header), *[list(r) for r in rows], *_footer(len(header))]


def write_xlsx(
    path: Path,
    rows: Sequence[Sequence[Any]],
    *,
    merges: Sequence[tuple[int, int, int, int, str]] = (),
    sheet: str = "导出",
    extra_sheets: dict[str, Sequence[Sequence[Any]]] | None = None,
) -> Path:
    workbook = xlsxwriter.Workbook(str(path))
    day = workbook.add_format({"num_format": "yyyy-mm-dd"})
    for name, content, merged in (
        (sheet, rows, merges),
        *((k, v, ()) for k, v in (extra_sheets or {}).items()),
    ):
        ws = workbook.add_worksheet(name)
        covered = set()
        for r0, c0, r1, c1, text in merged:
            ws.merge_range(r0, c0, r1, c1, text)
            covered |= {(r, c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)}
        for r, row in enumerate(content):
            for c, value in enumerate(row):
                if value is None or (r, c) in covered:
                    continue
                if isinstance(value, dt.date):
                    ws.write_datetime(r, c, dt.datetime.combine(value, dt.time()), day)
                elif isinstance(value, str):
                    ws.write_string(r, c, value)
                else:
                    ws.write_number(r, c, value)
    workbook.close()
    return path


def write_xls(
    path: Path, rows: Sequence[Sequence[Any]], *, merges: Sequence[tuple[int, int, int, int, str]] = ()
) -> Path:
    book = xlwt.Workbook(encoding="utf-8")
    ws = book.add_sheet("导出")
    day = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    covered = set()
    for r0, c0, r1, c1, text in merges:
        ws.write_merge(r0, r1, c0, c1, text)
        covered |= {(r, c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)}
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is None or (r, c) in covered:
                continue
            if isinstance(value, dt.date):
                ws.write(r, c, value, day)
            else:
                ws.write(r, c, value)
    book.save(str(path))
    return path


def shown(value: Any) -> Any:
    # a CSV carries what Excel shows: 15 significant digits, never a float's binary tail
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return format(value, ".15g")
    return value


def csv_text(rows: Sequence[Sequence[Any]], delimiter: str = ",") -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    for row in rows:
        writer.writerow([shown(v) for v in row])
    return out.getvalue()


def write_csv(
    path: Path, rows: Sequence[Sequence[Any]], *, encoding: str = "utf-8", delimiter: str = ","
) -> Path:
    path.write_bytes(csv_text(rows, delimiter).encode(encoding))
    return path


FORMATS = ("xlsx", "xls", "csv-gbk", "csv-gb18030", "csv-utf8-bom", "csv-utf8")
ENCODINGS = {"csv-gbk": "gbk", "csv-gb18030": "gb18030", "csv-utf8-bom": "utf-8-sig", "csv-utf8": "utf-8"}


def put(path: Path, content: bytes | str) -> Path:
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def write_export(folder: Path, kind: str, fmt: str, rows: Sequence[Sequence[Any]] | None = None) -> Path:
    """The kind's good rows as a typical export in one of FORMATS."""
    header, good, _ = GOOD[kind]
    content = sheet_rows(header, rows if rows is not None else good, kind)
    width = len(header)
    title_merge = [(0, 0, 0, width - 1, content[0][0])]
    if fmt == "xlsx":
        return write_xlsx(folder / f"{kind}.xlsx", content, merges=title_merge)
    if fmt == "xls":
        return write_xls(folder / f"{kind}.xls", content, merges=title_merge)
    return write_csv(folder / f"{kind}-{fmt}.csv", content, encoding=ENCODINGS[fmt])
