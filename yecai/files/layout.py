"""Where the table is in a sheet: title rows, the one- or two-row header, columns, footers.

Exports put a merged title, `导出时间：…` and `单位：元` above the header, sometimes a second
header row under merged group cells (`本期` over `数量 | 单价 | 金额`), and `合计`/`备注` rows
below the data. The header is the row (or pair of rows) whose cells match the most known aliases
of the kind; everything above it is title, never data. Footer and repeated-header rows are
recognised so they are skipped, not rejected.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from yecai.files import cells
from yecai.files.bounds import column_letters as column_letter  # 0 → A, 26 → AA, as Excel shows
from yecai.files.cells import Cell, CellError
from yecai.files.columns import KindSpec, alias_index
from yecai.files.raw import Merge, RawRow

if TYPE_CHECKING:
    from yecai.files.mappings import ColumnMapping

SCAN_ROWS = 40  # the header is looked for in the first rows only
# A figure under one of these groups is not this period's: never take `累计/金额` for amount.
NO_FALLBACK_GROUPS = (
    "累计",
    "开累",
    "上期",
    "期初",
    "年初",
    "截至上期",
    "合同",
    "结算",
    "预算",
    "上月",
    "自开工累计",
)
FOOTER_WORDS = (
    "合计", "小计", "总计", "累计", "本页合计", "本页小计", "本月合计", "本期合计", "总合计", "合计金额",
    "备注", "说明", "注", "注意", "制表", "制表人", "制单", "制单人", "审核", "审核人", "复核", "复核人",
    "审批", "审批人", "负责人", "单位负责人", "财务负责人", "项目经理", "填表人", "填报人", "经办人",
    "打印", "打印人", "打印时间", "以下空白", "签字", "盖章",
)  # fmt: skip
# the word alone or followed by a colon, a blank or a bracket: "合计", "备注：…", "合计(元)" — not "审批费"
FOOTER = re.compile(r"^(?:" + "|".join(sorted(FOOTER_WORDS, key=len, reverse=True)) + r")(?:[:：\s(（]|$)")
MONEY_UNITS = {"元": None, "千元": Decimal(1000), "万元": Decimal(10000)}
_EXPORTED = re.compile(r"(导出时间|导出日期|打印时间|打印日期|制表日期|生成时间|报表日期)\s*[:：]\s*(.+)")
_UNIT = re.compile(r"(?:金额)?单位\s*[:：]\s*(万元|千元|元)")
_PROJECT = re.compile(r"(项目编码|项目代码|工程编号|项目编号)\s*[:：]\s*([A-Za-z0-9_\-]+)")


@dataclass(slots=True)
class Column:
    """One column of the table: where it is, its header as written, and the field it feeds."""

    index: int  # position in the row's cell list
    letter: str  # as Excel shows it (A, B, …)
    header: str  # the header as written ("本期/金额" for two-row headers)
    label: str  # the name matched against aliases ("本期金额"); what a column template stores
    field: str | None = None
    scale: Decimal | None = None  # 10000 for a 万元 column


@dataclass(slots=True)
class Layout:
    """The table found in one sheet."""

    sheet: str
    header_rows: tuple[int, ...]  # 1-based row numbers
    columns: list[Column]
    titles: list[str] = field(default_factory=list)
    exported_at: dt.datetime | None = None
    unit: str | None = None  # money unit named in the title (单位：万元)
    title_project: str | None = None  # 项目编码：XM… in the title, for files without the column
    notes: list[tuple[str, str]] = field(default_factory=list)
    header_keys: frozenset[str] = frozenset()

    @property
    def data_start(self) -> int:
        return self.header_rows[-1] + 1

    @property
    def fields(self) -> dict[str, Column]:
        return {c.field: c for c in self.columns if c.field}

    def describe(self) -> dict[str, object]:
        return {
            "sheet": self.sheet,
            "header_rows": list(self.header_rows),
            "columns": [
                {
                    "letter": c.letter,
                    "header": c.header,
                    "label": c.label,
                    "field": c.field,
                    "scale": str(c.scale or ""),
                }
                for c in self.columns
            ],
            "titles": self.titles,
            "unit": self.unit,
        }


def _label(cell: Cell) -> str:
    try:
        text = cells.cell_text(cell)
    except CellError:  # NaN or infinity: no header; as a value, its field's reader refuses it
        return ""
    return re.sub(r"\s+", " ", text).strip() if text else ""


def merged_row(
    rows: dict[int, list[str]], merged: list[Merge], row_index: int, width: int, col_offset: int
) -> list[str | None]:
    """For each column of a row, the label of the first merged range over it (None: none), in O(ranges + width).

    Asking cell by cell costs width × ranges per row: with a cell at XFD in the first rows (width
    16,384) and thousands of merged ranges, layout detection would spin for hours. Here each range
    fills only the columns no earlier range filled (a "next unfilled column" pointer, compressed as
    it is followed), so the first range covering a cell still wins, as cell by cell.
    """
    out: list[str | None] = [None] * width
    following = list(range(width + 1))  # following[i]: the first unfilled column ≥ i (width: none)

    def unfilled(col: int) -> int:
        root = col
        while following[root] != root:
            root = following[root]
        while following[col] != root:
            following[col], col = root, following[col]
        return root

    for (r0, c0), (r1, c1) in merged:
        if not r0 <= row_index <= r1:
            continue
        top = rows.get(r0)
        index = c0 - col_offset
        if top is None or not 0 <= index < len(top):
            continue
        last = min(c1 - col_offset, width - 1)
        col = unfilled(min(max(c0 - col_offset, 0), width))
        while col <= last:
            out[col] = top[index]
            following[col] = col + 1
            col = unfilled(col + 1)
    return out


@dataclass(slots=True)
class _Match:
    field: str | None
    specificity: int
    known: bool  # recognised (a field or an ignored header)


def _match(labels: list[str], index: dict[str, str]) -> _Match:
    """labels: the candidate names of one column, most specific first (a 4th item is for display)."""
    labels = labels[:3]
    for specificity, label in zip(range(len(labels), 0, -1), labels, strict=True):
        if not label:
            continue
        found = index.get(cells.header_key(label))
        if found is not None:
            return _Match(found or None, specificity, True)
    return _Match(None, 0, False)


def _score(matches: list[_Match]) -> tuple[int, int, int]:
    """(fields recognised, minus fields claimed twice, headers recognised): higher is better."""
    claimed = [m.field for m in matches if m.field]
    fields = set(claimed)
    return len(fields), len(fields) - len(claimed), sum(1 for m in matches if m.known)


def _pair_labels(top: list[str], bottom: list[str], spanned: list[bool]) -> list[list[str]]:
    """Candidate names per column for a two-row header: `top+bottom`, then `bottom`, then `top`."""
    top, spanned = list(top), list(spanned)
    for i in range(1, len(top)):
        # Without merge information (CSV) a group label stands over the empty cells to its right
        # while the row below has sub-labels there.
        if not top[i] and bottom[i] and top[i - 1] and (bottom[i - 1] or spanned[i - 1]):
            top[i], spanned[i] = top[i - 1], True
            spanned[i - 1] = True
    out: list[list[str]] = []
    for upper, lower, group in zip(top, bottom, spanned, strict=True):
        if upper and lower and upper != lower:
            name = cells.nfkc(upper).replace(" ", "")
            if any(name.startswith(g) for g in NO_FALLBACK_GROUPS):
                out.append([upper + lower, "", "", f"{upper}/{lower}"])
            else:
                # a group label (spanning several columns) never names a column on its own
                out.append([upper + lower, lower, "" if group else upper, f"{upper}/{lower}"])
        else:
            out.append([upper or lower])
    return out


def find_layout(
    sheet: str,
    rows: list[RawRow],
    merged: list[Merge],
    col_offset: int,
    spec: KindSpec,
    index: dict[str, str],
    *,
    header_row: int | None = None,
    header_height: int | None = None,
) -> Layout | None:
    """The table's layout from the first rows of a sheet, or None when no header is recognised."""
    scan = [row for row in rows[:SCAN_ROWS] if not row.error]
    if not scan:
        return None
    merged = [m for m in merged if m[0][0] <= scan[-1].number]
    width = max((len(row.cells) for row in scan), default=0)
    labels = {
        row.number: [_label(row.cells[i]) if i < len(row.cells) else "" for i in range(width)] for row in scan
    }
    by_index = {row.number - 1: labels[row.number] for row in scan}
    numbers = [row.number for row in scan]

    spans: dict[int, list[str | None]] = {}

    def merged_values(row_index: int) -> list[str | None]:
        if row_index not in spans:
            spans[row_index] = merged_row(by_index, merged, row_index, width, col_offset)
        return spans[row_index]

    def merged_labels(number: int) -> tuple[list[str], list[bool]]:
        own = list(labels[number])
        spanned = [False] * width
        for col, value in enumerate(merged_values(number - 1)):
            if value is not None:
                spanned[col] = True
                if not own[col]:
                    own[col] = value
        return own, spanned

    best: tuple[tuple[int, int, int], tuple[int, ...], list[list[str]]] | None = None
    for number in numbers if header_row is None else [header_row]:
        if number not in labels:
            continue
        for height in (1, 2) if header_height is None else (header_height,):
            if height == 1:
                names = [[label] for label in merged_labels(number)[0]]
            elif number + 1 in labels:
                top, spanned = merged_labels(number)
                bottom, _ = merged_labels(number + 1)
                # a cell merged down over both rows names its column on its own
                bottom = [
                    "" if spanned[i] and merged_values(number)[i] == top[i] else b
                    for i, b in enumerate(bottom)
                ]
                names = _pair_labels(top, bottom, spanned)
            else:
                continue
            score = _score([_match(n, index) for n in names])
            if header_row is None and score[0] < 2:
                continue
            # the earliest, then the shortest header wins a tie: two rows only when they
            # recognise more than one row alone
            header = tuple(range(number, number + height))
            if best is None or score > best[0] or (score == best[0] and height < len(best[1])):
                best = (score, header, names)
    if best is None:
        return None
    _, header, names = best
    layout = Layout(sheet=sheet, header_rows=header, columns=[])
    _resolve_columns(layout, names, index, col_offset)
    _read_titles(layout, [labels[n] for n in numbers if n < header[0]])
    keys: set[str] = set()
    for column in layout.columns:
        for part in (column.header, column.label, *column.header.split("/")):
            if part:
                keys.add(cells.header_key(part))
    layout.header_keys = frozenset(keys)
    return layout


def _resolve_columns(layout: Layout, names: list[list[str]], index: dict[str, str], col_offset: int) -> None:
    matches = [_match(n, index) for n in names]
    owner: dict[str, int] = {}
    for i, found in enumerate(matches):
        if not found.field:
            continue
        if found.field in owner:
            j = owner[found.field]
            if matches[j].specificity >= found.specificity:
                layout.notes.append(_duplicate_note(names, j, i, found.field, col_offset))
                found.field = None
                continue
            layout.notes.append(_duplicate_note(names, i, j, found.field, col_offset))
            matches[j].field = None
        owner[found.field] = i
    seen: dict[str, int] = {}
    for i, (candidates, found) in enumerate(zip(names, matches, strict=True)):
        letter = column_letter(i + col_offset)
        written = [c for c in candidates[:3] if c]
        header = _display(candidates) if written else ""
        if header in seen:
            header = f"{header} ({letter})"
        seen[header] = i
        scale = None
        for label in written:
            unit = cells.header_unit(label)
            if unit:
                scale = MONEY_UNITS[unit]
                break
        layout.columns.append(Column(i, letter, header or f"({letter})", candidates[0], found.field, scale))


def _display(candidates: list[str]) -> str:
    return candidates[3] if len(candidates) > 3 else candidates[0]


def _duplicate_note(
    names: list[list[str]], kept: int, dropped: int, name: str, offset: int
) -> tuple[str, str]:
    a, b = column_letter(kept + offset), column_letter(dropped + offset)
    return (
        f"列 {b}（{_display(names[dropped])}）与列 {a}（{_display(names[kept])}）都可作为字段 {name}，使用了列 {a}",
        f"column {b} ({_display(names[dropped])}) and column {a} ({_display(names[kept])}) both fit field "
        f"{name}; column {a} was used",
    )


def _read_titles(layout: Layout, title_rows: list[list[str]]) -> None:
    for labels in title_rows:
        for text in labels:
            if not text or text in layout.titles:
                continue
            layout.titles.append(text)
            normal = cells.nfkc(text)
            if (found := _EXPORTED.search(normal)) and layout.exported_at is None:
                layout.exported_at = _stamp(found[2])
            if found := _UNIT.search(normal):
                layout.unit = found[1]
            if found := _PROJECT.search(normal):
                layout.title_project = found[2]


def _stamp(text: str) -> dt.datetime | None:
    text = text.strip()
    match = re.match(r"^(.+?)\s+(\d{1,2}:\d{2}(?::\d{2})?)", text)
    try:
        day = cells.text_date(match[1] if match else text.split()[0])
    except (CellError, IndexError):
        return None
    clock = dt.time(0, 0)
    if match:
        parts = [int(p) for p in match[2].split(":")]
        clock = dt.time(parts[0] % 24, parts[1], parts[2] if len(parts) > 2 else 0)
    # exports are stamped in Beijing time
    return dt.datetime.combine(day, clock, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def is_blank(row: RawRow) -> bool:
    return not row.error and all(c is None or (isinstance(c, str) and not c.strip()) for c in row.cells)


def is_footer(row: RawRow) -> bool:
    """合计/小计/备注/制表人 … as the row's first filled cell: a footer, not data."""
    for cell in row.cells:
        if cell is None:
            continue
        if not isinstance(cell, str):
            return False
        return bool(FOOTER.match(cells.nfkc(cell).replace(" ", "").strip()))
    return False


def is_repeated_header(row: RawRow, layout: Layout) -> bool:
    """Printed exports repeat the header on every page; such a row is not data."""
    texts: list[str] = []
    for cell in row.cells:
        if cell is None:
            continue
        if not isinstance(cell, str):
            return False  # a number or a date: data
        texts.append(cell)
    if len(texts) < 2:
        return False
    found = sum(1 for text in texts if cells.header_key(text) in layout.header_keys)
    return found >= max(2, len(texts) // 2 + 1)


def sheet_layout(
    name: str,
    head: list[RawRow],
    merged: list[Any],
    offset: int,
    spec: KindSpec,
    mapping: ColumnMapping | None,
    constants: dict[str, Any],
) -> tuple[Layout | None, list[tuple[str, str]]]:
    """The sheet's layout for an import (a column template's hints applied) and notes (zh, en).

    A unit of 万元 or 千元 scales every money column without a scale of its own; required columns
    that neither the sheet, a constant nor the title supplies are named before any row is read.
    """
    index = alias_index(spec, mapping.columns if mapping else None)
    layout = find_layout(
        name,
        head,
        merged,
        offset,
        spec,
        index,
        header_row=mapping.header_row if mapping else None,
        header_height=mapping.header_height if mapping else None,
    )
    if layout is None:
        return None, []
    notes = [(f"工作表 {name}：{zh}", f"sheet {name}: {en}") for zh, en in layout.notes]
    if layout.unit in ("万元", "千元"):
        for column in layout.columns:
            if column.scale is None:
                column.scale = MONEY_UNITS[layout.unit]
        notes.append(
            (
                f"工作表 {name} 标明 单位：{layout.unit}，金额已换算为元",
                f"sheet {name} states its unit as {layout.unit}; amounts were converted to yuan",
            )
        )
    missing = [
        item.header
        for item in spec.fields
        if item.required
        and item.name not in layout.fields
        and item.name not in constants
        and not (item.name == "project_code" and layout.title_project)
    ]
    if missing:
        notes.append(
            (
                f"工作表 {name} 缺少必填列：{'、'.join(missing)}（可用 --project 或列映射模板补充）",
                f"sheet {name} lacks required columns: {', '.join(missing)} "
                "(supply them with --project or a column template)",
            )
        )
    return layout, notes


def first_text(rows: list[RawRow]) -> str:
    """The first non-empty row's text: what a "no header found" message quotes."""
    for row in rows:
        texts = [str(c).strip() for c in row.cells if c is not None and str(c).strip()]
        if texts:
            return " | ".join(texts)[:120]
    return ""
