"""Blank import templates: one xlsx per kind that a user fills in and imports back unchanged.

Row 1 is the title, row 2 a note, row 3 the canonical Chinese headers (required ones marked *),
each with a comment saying whether it is required, its format and allowed values. Drop-down
lists guard the closed vocabularies (成本类别, 发票类型, 进销项, 状态, 是/否), identifier columns are
formatted as text so Excel keeps all 18 digits of an ID number, and a second sheet explains every
column. The importer recognises this layout like any export, so a filled template round-trips.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import xlsxwriter

from yecai.files.columns import KINDS, FieldSpec, FieldType, KindSpec, kind_spec
from yecai.files.layout import column_letter

TEMPLATE_ROWS = 5000  # rows prepared with drop-downs and formats
HEADER_ROW = 2  # 0-based: the third row

_FORMAT_NOTES: dict[FieldType, tuple[str, str, str]] = {
    FieldType.TEXT: ("文本", "text", ""),
    FieldType.CODE: ("文本（编码，保留前导零）", "text (a code; keep leading zeros)", "XM2026001"),
    FieldType.MONEY: ("金额，元，最多两位小数", "amount in yuan, at most 2 decimals", "12345.67"),
    FieldType.DECIMAL: ("数字", "number", "1.5"),
    FieldType.DATE: ("日期", "date", "2026-10-05"),
    FieldType.TIME: ("时间", "time of day", "07:30"),
    FieldType.RATE: ("税率", "tax rate", "9%"),
    FieldType.CATEGORY: ("下拉选择", "choose from the list", "人工费"),
    FieldType.INVOICE_TYPE: ("下拉选择", "choose from the list", "专票"),
    FieldType.DIRECTION: ("下拉选择", "choose from the list", "进项"),
    FieldType.STATUS: ("下拉选择", "choose from the list", "已提交"),
    FieldType.BOOL: ("是 / 否", "yes (是) / no (否)", "是"),
}


def template_file_name(kind: str) -> str:
    spec = kind_spec(kind)
    return f"yecai-{spec.kind}-{spec.title_zh}导入模板.xlsx"


def header_text(item: FieldSpec) -> str:
    return f"{item.header}*" if item.required else item.header


def _comment(item: FieldSpec) -> str:
    zh_format, en_format, example = _FORMAT_NOTES[item.type]
    lines = [
        f"{'必填' if item.required else '选填'} · {'required' if item.required else 'optional'}",
        f"字段 field: {item.name}",
        f"格式: {zh_format} · format: {en_format}",
    ]
    if item.choices():
        lines.append(f"可选值 allowed: {' / '.join(item.choices())}")
    if example:
        lines.append(f"例 example: {example}")
    if item.note_zh:
        lines.append(item.note_zh)
    if item.note_en:
        lines.append(item.note_en)
    if len(item.aliases) > 1:
        lines.append(f"也可识别 also recognised: {'、'.join(item.aliases[1:6])}")
    return "\n".join(lines)


def write_template(kind: str, target: Path) -> Path:
    """Write the blank template of `kind`; `target` is a file or a folder (then a default name)."""
    spec = kind_spec(kind)
    target = Path(target)
    path = target / template_file_name(kind) if target.is_dir() or not target.suffix else target
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(path))
    try:
        _data_sheet(workbook, spec)
        _notes_sheet(workbook, spec)
    finally:
        workbook.close()
    return path


def write_all_templates(folder: Path) -> list[Path]:
    return [write_template(kind, folder) for kind in KINDS]


def _data_sheet(workbook: Any, spec: KindSpec) -> None:
    sheet = workbook.add_worksheet(spec.title_zh[:31])
    last = len(spec.fields) - 1
    title = workbook.add_format({"bold": True, "font_size": 14, "align": "center", "valign": "vcenter"})
    note = workbook.add_format({"font_color": "#7F7F7F", "text_wrap": True, "valign": "top"})
    required = workbook.add_format({"bold": True, "bg_color": "#FCE4D6", "border": 1, "align": "center"})
    optional = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "align": "center"})
    text = workbook.add_format({"num_format": "@"})
    date = workbook.add_format({"num_format": "yyyy-mm-dd"})
    time = workbook.add_format({"num_format": "hh:mm"})
    money = workbook.add_format({"num_format": "0.00"})
    sheet.merge_range(
        0, 0, 0, max(last, 1), f"{spec.title_zh}导入模板 · {spec.title_en} import template", title
    )
    sheet.merge_range(
        1,
        0,
        1,
        max(last, 1),
        "说明：带 * 的列必填；每行一条记录，从第 4 行起填写；日期写作 2026-10-05；金额单位为元；"
        "鼠标停在表头上可看每列说明，另见「填写说明」工作表。"
        " Notes: columns marked * are required; one record per row from row 4; dates like 2026-10-05; "
        "amounts in yuan; hover a header for its notes (see also the notes sheet).",
        note,
    )
    sheet.set_row(0, 28)
    sheet.set_row(1, 48)
    first, end = HEADER_ROW + 1, HEADER_ROW + TEMPLATE_ROWS
    for col, item in enumerate(spec.fields):
        style = {
            FieldType.CODE: text,
            FieldType.DATE: date,
            FieldType.TIME: time,
            FieldType.MONEY: money,
        }.get(item.type)
        sheet.set_column(col, col, max(12, len(item.header) * 2 + 4), style)
        sheet.write_string(HEADER_ROW, col, header_text(item), required if item.required else optional)
        sheet.write_comment(HEADER_ROW, col, _comment(item), {"x_scale": 2.2, "y_scale": 2.4})
        choices = item.choices()
        if choices:
            sheet.data_validation(
                first,
                col,
                end,
                col,
                {
                    "validate": "list",
                    "source": list(choices),
                    "error_title": "取值无效 invalid value",
                    "error_message": f"请从下拉列表中选择：{'、'.join(choices)}",
                },
            )
        elif item.type is FieldType.DATE:
            sheet.data_validation(
                first,
                col,
                end,
                col,
                {
                    "validate": "date",
                    "criteria": "between",
                    "minimum": dt.date(1990, 1, 1),
                    "maximum": dt.date(2099, 12, 31),
                    "error_type": "warning",
                    "error_message": "请输入日期，如 2026-10-05 / enter a date such as 2026-10-05",
                },
            )
        elif item.type is FieldType.MONEY:
            sheet.data_validation(
                first,
                col,
                end,
                col,
                {
                    "validate": "decimal",
                    "criteria": "between",
                    "minimum": -(10**15),
                    "maximum": 10**15,
                    "error_type": "warning",
                    "error_message": "请输入金额（元） / enter an amount in yuan",
                },
            )
    sheet.freeze_panes(HEADER_ROW + 1, 0)
    sheet.autofilter(HEADER_ROW, 0, HEADER_ROW, last)


def _notes_sheet(workbook: Any, spec: KindSpec) -> None:
    sheet = workbook.add_worksheet("填写说明 notes")
    bold = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
    titles = (
        "列 column",
        "表头 header",
        "字段 field",
        "必填 required",
        "格式 format",
        "可选值 allowed",
        "说明 notes",
    )
    widths = (8, 18, 18, 12, 30, 30, 60)
    for col, (name, width) in enumerate(zip(titles, widths, strict=True)):
        sheet.set_column(col, col, width)
        sheet.write_string(0, col, name, bold)
    for row, item in enumerate(spec.fields, start=1):
        zh_format, en_format, example = _FORMAT_NOTES[item.type]
        values = (
            column_letter(row - 1),
            header_text(item),
            item.name,
            "是 yes" if item.required else "否 no",
            f"{zh_format} · {en_format}" + (f"（例 {example}）" if example else ""),
            " / ".join(item.choices()),
            "\n".join(x for x in (item.note_zh, item.note_en) if x),
        )
        for col, value in enumerate(values):
            sheet.write_string(row, col, value, wrap)
