"""What every reader hands out: rows of raw cells numbered as Excel shows them, and merged ranges.

Shared by the calamine/CSV/HTML reader and the streaming xlsx reader, so that layout detection and
the importer never care which one read the file.
"""

from __future__ import annotations

from dataclasses import dataclass

from yecai.files.cells import Cell

Merge = tuple[tuple[int, int], tuple[int, int]]  # ((first row, first col), (last row, last col)), 0-based


@dataclass(slots=True)
class RawRow:
    """One row as read: its 1-based row number as Excel shows it, its cells, or why it broke."""

    number: int
    cells: list[Cell]
    error: tuple[str, str] | None = None  # (中文, English) when the row itself could not be parsed
    # (index into `cells`, formula text) of formula cells saved without a result (openpyxl and some
    # exports write them so): their value is unknown, not empty, and the importer says so
    uncached: tuple[tuple[int, str], ...] = ()
