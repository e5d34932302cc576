"""Mapping tables as an Excel workbook, for the people who maintain them (财务/实施顾问).

One sheet per table with Chinese headers — 设置 (policies and defaults), 项目, 成本科目, 费用明细,
供应商, 客户, 员工, 账簿 (organisation → account book) — written with XlsxWriter (every code cell is
text, so 001 stays 001) and read back with
python-calamine. Reading is forgiving where people are (extra columns, blank rows, numbers typed
as numbers, 中文 or English policy words) and strict where it matters: every problem names the
sheet, the row and the value, in Chinese and English.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import xlsxwriter
from pydantic import ValidationError
from python_calamine import CalamineError, CalamineWorkbook

from yecai import labels
from yecai.domain.documents import CATEGORY_NAMES_ZH, AccountingStandard, CostCategory
from yecai.errors import ConfigurationError
from yecai.mapping.tables import MappingTable, UnmappedPolicy

SETTINGS = "设置"
PROJECTS = "项目"
COST_ACCOUNTS = "成本科目"
COST_ITEMS = "费用明细"
SUPPLIERS = "供应商"
CUSTOMERS = "客户"
WORKERS = "员工"
BOOKS = "账簿"

PROJECT_HEADERS = ("项目编码", "金蝶项目编号", "组织编码", "部门编码", "成本中心", "会计准则")
COST_HEADERS = ("会计准则", "成本类别", "借方科目", "贷方科目")
ITEM_HEADERS = ("费用明细", "贷方科目", "贷方核算维度", "关键词")
# the dimensions a cost item's credit line may carry, as people write them (、 between several)
DIMENSION_NAMES = {code: zh for code, (zh, _) in labels.words_of("dimension").items()}
LIST_SEPARATORS = ("、", ",", "，", ";", "；")
SUPPLIER_HEADERS = ("供应商名称", "金蝶供应商编码")
CUSTOMER_HEADERS = ("客户名称", "金蝶客户编码")
WORKER_HEADERS = ("身份证号码", "金蝶员工编号")
BOOK_HEADERS = ("组织编码", "账簿编号")  # 核算组织 → the 账簿 its projects' vouchers go to
SETTING_HEADERS = ("设置项", "值", "说明")

CATEGORY_ORDER = {category: position for position, category in enumerate(CostCategory)}
# the words of the workbook are the words the console shows (yecai.labels)
STANDARD_NAMES = {standard: labels.label("accounting_standard", standard) for standard in AccountingStandard}
POLICY_NAMES = {policy: labels.label("policy", policy) for policy in UnmappedPolicy}

# 设置 rows: label → (MappingTable field, what it means)
SETTING_ROWS: tuple[tuple[str, str, str], ...] = (
    ("默认会计准则", "accounting_standard", "项目未注明会计准则时采用：企业会计准则 / 小企业会计准则"),
    ("项目未映射", "project_default", "同编码：沿用项目管理系统编码；报告：列为未映射并暂停过账"),
    ("默认组织", "organisation_default", "项目表未填组织时使用的组织编码；留空则报告"),
    ("默认部门", "department_default", "项目表未填部门时使用的部门编码；留空则报告"),
    (
        "供应商未映射",
        "supplier_default",
        "报告 / 默认（使用默认供应商编码） / 自动创建（按名称查找，无则在金蝶新建）",
    ),
    ("默认供应商", "supplier_fallback", "零星供应商等兜底编码"),
    (
        "客户未映射",
        "customer_default",
        "报告 / 默认（使用默认客户编码） / 自动创建（按名称查找，无则在金蝶新建）",
    ),
    ("默认客户", "customer_fallback", "兜底客户编码"),
    ("员工未映射", "worker_default", "报告 / 同编码（以身份证号码作员工编号）"),
    (
        "费用明细兜底",
        "cost_item_fallback",
        "费用明细表中兜底的一行（如 其他应付）；留空则未匹配的费用报告为未映射",
    ),
)


# -- writing -------------------------------------------------------------------------------------


def export_mapping_xlsx(mapping: MappingTable, path: Path) -> Path:
    """Write the mapping tables to `path` (one sheet per table) and return the path."""
    workbook = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
    try:
        bold = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
        text = workbook.add_format({"num_format": "@"})

        def sheet(name: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
            ws = workbook.add_worksheet(name)
            widths = [max(len(h) * 2 + 2, 12) for h in headers]
            for col, header in enumerate(headers):
                ws.write_string(0, col, header, bold)
            for r, row in enumerate(rows, start=1):
                for col, value in enumerate(row):
                    ws.write_string(r, col, value, text)
                    widths[col] = max(widths[col], min(len(value) * 2 + 2, 60))
            for col, width in enumerate(widths):
                ws.set_column(col, col, width, text)
            ws.freeze_panes(1, 0)

        settings = [(label, _setting_text(mapping, field), note) for label, field, note in SETTING_ROWS]
        sheet(SETTINGS, SETTING_HEADERS, settings)
        sheet(
            PROJECTS,
            PROJECT_HEADERS,
            [
                (
                    code,
                    row.number or "",
                    row.org or "",
                    row.department or "",
                    row.cost_centre or "",
                    STANDARD_NAMES[row.accounting_standard] if row.accounting_standard else "",
                )
                for code, row in sorted(mapping.projects.items())
            ],
        )
        sheet(
            COST_ACCOUNTS,
            COST_HEADERS,
            [
                (STANDARD_NAMES[standard], CATEGORY_NAMES_ZH[category], account.debit, account.credit)
                for standard, table in sorted(mapping.cost_accounts.items())
                for category, account in sorted(table.items(), key=lambda item: CATEGORY_ORDER[item[0]])
            ],
        )
        sheet(
            COST_ITEMS,
            ITEM_HEADERS,
            [  # in the table's order: the first row whose keyword matches wins
                (
                    name,
                    item.credit,
                    "、".join(DIMENSION_NAMES[d] for d in item.credit_dimensions),
                    "、".join(item.keywords),
                )
                for name, item in mapping.cost_items.items()
            ],
        )
        sheet(SUPPLIERS, SUPPLIER_HEADERS, sorted(mapping.suppliers.items()))
        sheet(CUSTOMERS, CUSTOMER_HEADERS, sorted(mapping.customers.items()))
        sheet(WORKERS, WORKER_HEADERS, sorted(mapping.workers.items()))
        sheet(BOOKS, BOOK_HEADERS, sorted(mapping.account_books.items()))
    finally:
        workbook.close()
    return path


def _setting_text(mapping: MappingTable, field: str) -> str:
    value = getattr(mapping, field)
    if isinstance(value, AccountingStandard):
        return STANDARD_NAMES[value]
    if isinstance(value, UnmappedPolicy):
        return POLICY_NAMES[value]
    if field == "project_default":
        return (
            POLICY_NAMES[UnmappedPolicy.SAME_CODE]
            if value == "same_code"
            else POLICY_NAMES[UnmappedPolicy.REPORT]
        )
    return value or ""


# -- reading -------------------------------------------------------------------------------------


def _problem(sheet: str, row: int, zh: str, en: str) -> ConfigurationError:
    return ConfigurationError(
        f"映射表工作表「{sheet}」第 {row} 行：{zh}", f"mapping sheet {sheet!r} row {row}: {en}"
    )


def _cell(value: Any) -> str:
    """A cell as text: numbers typed as numbers (1002.0) lose the spurious '.0'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).strip()


def _rows(workbook: CalamineWorkbook, sheet: str, headers: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """(Excel row number, header → text) of every non-blank row; a missing sheet is an empty table."""
    if sheet not in workbook.sheet_names:
        return []
    data = workbook.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    if not data:
        return []
    found = [_cell(h) for h in data[0]]
    missing = [h for h in headers if h not in found]
    if missing:
        raise _problem(sheet, 1, f"缺少列 {'、'.join(missing)}", f"missing column(s) {', '.join(missing)}")
    index = {h: found.index(h) for h in headers}
    out = []
    for number, raw in enumerate(data[1:], start=2):
        cells = [_cell(v) for v in raw]
        row = {h: cells[i] if i < len(cells) else "" for h, i in index.items()}
        if any(row.values()):
            out.append((number, row))
    return out


def _standard(sheet: str, row: int, text: str) -> AccountingStandard:
    for standard, name in STANDARD_NAMES.items():
        if text in (name, standard.value):
            return standard
    raise _problem(
        sheet,
        row,
        f"会计准则「{text}」无效（企业会计准则 / 小企业会计准则）",
        f"unknown accounting standard {text!r}",
    )


def _category(sheet: str, row: int, text: str) -> CostCategory:
    for category, name in CATEGORY_NAMES_ZH.items():
        if text in (name, category.value):
            return category
    names = "、".join(CATEGORY_NAMES_ZH.values())
    raise _problem(sheet, row, f"成本类别「{text}」无效（{names}）", f"unknown cost category {text!r}")


def _policy(sheet: str, row: int, text: str) -> UnmappedPolicy:
    for policy, name in POLICY_NAMES.items():
        if text in (name, policy.value):
            return policy
    raise _problem(
        sheet,
        row,
        f"未映射处理方式「{text}」无效（报告 / 同编码 / 默认 / 自动创建）",
        f"unknown policy {text!r}",
    )


def _split(text: str) -> list[str]:
    for separator in LIST_SEPARATORS[1:]:
        text = text.replace(separator, LIST_SEPARATORS[0])
    return [part.strip() for part in text.split(LIST_SEPARATORS[0]) if part.strip()]


def _dimensions(sheet: str, row: int, text: str) -> tuple[str, ...]:
    out = []
    for word in _split(text):
        found = next((d for d, name in DIMENSION_NAMES.items() if word in (name, d)), None)
        if found is None:
            names = "、".join(DIMENSION_NAMES.values())
            raise _problem(sheet, row, f"核算维度「{word}」无效（{names}）", f"unknown dimension {word!r}")
        out.append(found)
    return tuple(out)


def _unique(sheet: str, row: int, key: str, seen: dict[str, int]) -> None:
    if key in seen:
        raise _problem(sheet, row, f"「{key}」与第 {seen[key]} 行重复", f"{key!r} repeats row {seen[key]}")
    seen[key] = row


def import_mapping_xlsx(path: Path) -> MappingTable:
    """Read a workbook written by `export_mapping_xlsx` (and edited by people) into a MappingTable."""
    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except (CalamineError, OSError, ValueError) as exc:
        raise ConfigurationError(
            f"无法读取映射表文件 {path}：{exc}", f"cannot read mapping workbook {path}: {exc}"
        ) from None
    data: dict[str, Any] = {}
    labels = {label: field for label, field, _ in SETTING_ROWS}
    for row, cells in _rows(workbook, SETTINGS, SETTING_HEADERS[:2]):
        label, value = cells["设置项"], cells["值"]
        field = labels.get(label)
        if field is None:
            raise _problem(SETTINGS, row, f"未知设置项「{label}」", f"unknown setting {label!r}")
        if not value:
            continue
        if field == "accounting_standard":
            data[field] = _standard(SETTINGS, row, value)
        elif field == "project_default":
            policy = _policy(SETTINGS, row, value)
            data[field] = "same_code" if policy is UnmappedPolicy.SAME_CODE else "report"
        elif field.endswith("_default") and field not in ("organisation_default", "department_default"):
            data[field] = _policy(SETTINGS, row, value)
        else:
            data[field] = value

    projects: dict[str, dict[str, Any]] = {}
    seen: dict[str, int] = {}
    for row, cells in _rows(workbook, PROJECTS, PROJECT_HEADERS):
        code = cells["项目编码"]
        if not code:
            raise _problem(PROJECTS, row, "项目编码为空", "the project code is empty")
        _unique(PROJECTS, row, code, seen)
        entry: dict[str, Any] = {
            "number": cells["金蝶项目编号"] or None,
            "org": cells["组织编码"] or None,
            "department": cells["部门编码"] or None,
            "cost_centre": cells["成本中心"] or None,
        }
        if cells["会计准则"]:
            entry["accounting_standard"] = _standard(PROJECTS, row, cells["会计准则"])
        projects[code] = entry
    data["projects"] = projects

    costs: dict[AccountingStandard, dict[CostCategory, dict[str, str]]] = {}
    seen = {}
    for row, cells in _rows(workbook, COST_ACCOUNTS, COST_HEADERS):
        standard = _standard(COST_ACCOUNTS, row, cells["会计准则"])
        category = _category(COST_ACCOUNTS, row, cells["成本类别"])
        _unique(COST_ACCOUNTS, row, f"{STANDARD_NAMES[standard]} {CATEGORY_NAMES_ZH[category]}", seen)
        if not cells["借方科目"] or not cells["贷方科目"]:
            raise _problem(COST_ACCOUNTS, row, "借方科目和贷方科目都必须填写", "both accounts are required")
        costs.setdefault(standard, {})[category] = {"debit": cells["借方科目"], "credit": cells["贷方科目"]}
    data["cost_accounts"] = costs

    items: dict[str, dict[str, Any]] = {}
    seen = {}
    for row, cells in _rows(workbook, COST_ITEMS, ITEM_HEADERS):
        name = cells["费用明细"]
        if not name or not cells["贷方科目"]:
            raise _problem(
                COST_ITEMS, row, "费用明细和贷方科目都必须填写", "both the item and its account are required"
            )
        _unique(COST_ITEMS, row, name, seen)
        items[name] = {
            "credit": cells["贷方科目"],
            "credit_dimensions": _dimensions(COST_ITEMS, row, cells["贷方核算维度"]),
            "keywords": tuple(_split(cells["关键词"])),
        }
    data["cost_items"] = items

    for sheet, headers, field in (
        (SUPPLIERS, SUPPLIER_HEADERS, "suppliers"),
        (CUSTOMERS, CUSTOMER_HEADERS, "customers"),
        (WORKERS, WORKER_HEADERS, "workers"),
        (BOOKS, BOOK_HEADERS, "account_books"),
    ):
        table: dict[str, str] = {}
        seen = {}
        for row, cells in _rows(workbook, sheet, headers):
            key, number = cells[headers[0]], cells[headers[1]]
            if not key or not number:
                raise _problem(
                    sheet, row, f"{headers[0]}和{headers[1]}都必须填写", "both columns are required"
                )
            _unique(sheet, row, key, seen)
            table[key] = number
        data[field] = table
    try:
        return MappingTable.model_validate(data)
    except ValidationError as exc:
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(
            f"映射表文件 {path} 有误：{detail}", f"mapping workbook {path} is invalid: {detail}"
        ) from None
