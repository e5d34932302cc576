"""The grid an ods table really asks for, from one streaming pass over content.xml.

calamine expands `table:number-columns-repeated` and `table:number-rows-repeated` of filled cells
into a grid held whole (about 32 bytes a cell; it gives up only above 100 million cells), so an
800-byte ods repeating one number over 6,000 × 16,000 cells aborts the process. There is no
streaming reader for ods, so this scan measures each table's grid from A1 to its last filled cell,
counting repeats, and the preflight refuses the file when one is above the bound. Empty repeated
cells (LibreOffice ends every table with a million empty rows of 1,024 empty cells) are not filled
and count for nothing, as in calamine.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element, XMLPullParser

from yecai.files.bounds import QUIET_BYTES, XmlStuck

TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_TABLE, _ROW, _CELL, _COVERED = (
    f"{TABLE}{t}" for t in ("table", "table-row", "table-cell", "covered-table-cell")
)
_ROWS_REPEATED = f"{TABLE}number-rows-repeated"
_COLUMNS_REPEATED = f"{TABLE}number-columns-repeated"
_NAME = f"{TABLE}name"
_VALUE_TYPE = f"{OFFICE}value-type"


@dataclass(slots=True)
class TableGrid:
    """One table: its name and the grid from A1 to its last filled cell."""

    name: str
    rows: int = 0  # 1-based row of the last filled cell
    columns: int = 0  # 1-based column of the last filled cell

    @property
    def area(self) -> int:
        return self.rows * self.columns


def _repeat(element: Element, name: str) -> int:
    text = element.get(name)
    if text is None:
        return 1
    text = text.strip()
    # a malformed count is calamine's to refuse; here it must only never be under-counted
    return max(1, int(text)) if text.isascii() and text.isdigit() else 1


class OdsScanner:
    """Feed content.xml in chunks; `tables` holds every table measured so far."""

    def __init__(self) -> None:
        self._parser = XMLPullParser(events=("start", "end"))
        self.tables: list[TableGrid] = []
        self._open: list[TableGrid] = []
        self._row = 0  # rows of the current table before the current row
        self._row_repeat = 1
        self._column = 0  # columns of the current row before the current cell
        self._last_filled = 0  # 1-based column after the last filled cell of the current row
        # the counters of enclosing tables, saved while a table inside a cell is measured
        self._saved: list[tuple[int, int, int, int]] = []
        self._quiet = 0  # bytes fed since an element last ended

    def feed(self, chunk: bytes) -> None:
        """Parse the next chunk; raises ParseError, or XmlStuck when no element ends for too long."""
        self._parser.feed(chunk)
        self._quiet = 0 if self._drain() else self._quiet + len(chunk)
        if self._quiet > QUIET_BYTES:
            # expat would re-scan that token on every feed: quadratic, so it ends here
            raise XmlStuck(
                f"content.xml 中有一段超过 {QUIET_BYTES >> 20} MB 仍未结束的标记或注释",
                f"content.xml holds a tag or comment running on for more than {QUIET_BYTES >> 20} MB",
            )

    def close(self) -> list[TableGrid]:
        self._parser.close()
        self._drain()
        return self.tables

    def _drain(self) -> bool:
        """Apply the parser's events; True when there were any."""
        seen = False
        for event, element in self._parser.read_events():
            seen = True
            tag = element.tag
            if event == "start":
                if tag == _TABLE:
                    self._saved.append((self._row, self._row_repeat, self._column, self._last_filled))
                    self._row = 0
                    self._open.append(TableGrid(element.get(_NAME, "")))
                elif tag == _ROW:
                    self._row_repeat = _repeat(element, _ROWS_REPEATED)
                    self._column = 0
                    self._last_filled = 0
                continue
            if tag in (_CELL, _COVERED):
                repeat = _repeat(element, _COLUMNS_REPEATED)
                # filled: it has a value type or any content (text, an annotation …)
                if element.get(_VALUE_TYPE) is not None or len(element):
                    self._last_filled = self._column + repeat
                self._column += repeat
                element.clear()
            elif tag == _ROW and self._open:
                table = self._open[-1]
                if self._last_filled:
                    table.rows = self._row + self._row_repeat
                    table.columns = max(table.columns, self._last_filled)
                self._row += self._row_repeat
                element.clear()
            elif tag == _TABLE and self._open:
                self.tables.append(self._open.pop())
                self._row, self._row_repeat, self._column, self._last_filled = self._saved.pop()
                element.clear()
        return seen
