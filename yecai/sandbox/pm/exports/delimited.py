"""Writing one export layout as CSV, in the encodings Chinese systems use (GBK, UTF-8 BOM, GB18030).

CSV files carry no title: one header row (grouped columns flattened, e.g. 销售方名称), the data,
and a closing 合计 row as such exports have. Numbers are plain (no thousands separators), dates
YYYY-MM-DD. GBK cannot encode a few characters found in specifications (² becomes 2, as GBK
systems write it); a name GBK cannot hold at all is an error, never a silent "?".
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from yecai.jsonutil import decimal_text
from yecai.sandbox.pm.exports.layouts import Layout, flat_headers

# What GBK-era systems type instead of characters GBK does not have.
_GBK_SUBSTITUTES = str.maketrans({"²": "2", "³": "3"})


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def write_csv(path: Path, layout: Layout, rows: Iterable[Any], encoding: str) -> int:
    """Write `rows` under `layout` to `path` in `encoding` (gbk, utf-8-sig, gb18030); returns the row count."""
    totals: dict[int, Decimal] = {i: Decimal(0) for i, column in enumerate(layout.columns) if column.total}
    lines: list[list[str]] = [flat_headers(layout)]
    count = 0
    for record in rows:
        count += 1
        line = []
        for index, column in enumerate(layout.columns):
            value = count if index == 0 else column.value(record)
            if index in totals:
                totals[index] += value
            line.append(_text(value))
        lines.append(line)
    footer = ["合计"] + [""] * (len(layout.columns) - 1)
    if layout.footer == "count":
        footer[0] = f"合计：{count} 人"
    for index, total in totals.items():
        footer[index] = decimal_text(total)
    lines.append(footer)
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        for line in lines:
            if encoding.lower() == "gbk":
                line = [cell.translate(_GBK_SUBSTITUTES) for cell in line]
            writer.writerow(line)
    return count
