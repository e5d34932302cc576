"""The tables commands print: every value whole at any terminal width, 80 columns included.

Rich cuts a cell that does not fit with "…" by default, so at 80 columns `postings list` showed
"1,730,7…" for an amount and "YC6F15…" for a voucher number. Here nothing is cut: amounts, codes,
keys and dates stay on one line (`FIGURE`, `KEY`), prose wraps at spaces and a word longer than its
column folds onto the next line (`TEXT`; Chinese may break between any two characters anyway).
Bilingual headers stack ("金额" over "amount") so that they do not widen a column by themselves.
"""

from __future__ import annotations

import re
from typing import Literal

from rich.table import Table

Kind = Literal["text", "key", "figure"]
TEXT: Kind = "text"  # prose, names, messages: wraps, folds a long word
KEY: Kind = "key"  # ids, codes, posting keys, voucher numbers, dates, states: one line
FIGURE: Kind = "figure"  # amounts and counts: one line, right-aligned

_CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")


def stacked(header: str) -> str:
    """'金额 amount' → '金额\\namount': the Chinese and the English of a header on lines of their own."""
    if "\n" in header:
        return header  # stacked by the caller
    head, sep, rest = header.partition(" ")
    if sep and _CJK.search(head) and rest and not _CJK.search(rest[:1]):
        return f"{head}\n{rest}"
    return header


def add_column(table: Table, header: str, kind: Kind = TEXT) -> None:
    """A column that never cuts its values (see the module docstring for the kinds)."""
    table.add_column(
        stacked(header),
        justify="right" if kind == FIGURE else "left",
        no_wrap=kind != TEXT,
        overflow="fold",
    )


def new_table(title: str, *columns: str | tuple[str, Kind]) -> Table:
    """A table with `columns`: a header alone is TEXT, or (header, kind)."""
    table = Table(title=title)
    for column in columns:
        header, kind = (column, TEXT) if isinstance(column, str) else column
        add_column(table, header, kind)
    return table
