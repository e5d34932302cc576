"""One fast pass over a worksheet's XML: where its cells really are, and whether calamine may read it.

python-calamine allocates the whole grid from the first to the last cell (about 32 bytes a cell)
before the first row comes out, so one cell at XFD1048576 asks for 512 GB and aborts the process;
and it silently lets a second `<row r="2">` replace the first. This scanner reads the sheet XML as
bytes, block by block, with a handful of C-speed regular expressions (no element objects; with the
inflating, 0.75 s for the 56 MB sheet of an 80,000-row ledger), and finds: the declared `<dimension>`, the real last row and column, the cell
count, row numbers that repeat or go backwards, `r=` references that are missing, malformed or
beyond Excel's grid, two cells at one position, cells outside their row, `s=`/`t=` values that are
not what Excel writes, and whether the document ends where it should. Any of those makes the
sheet "odd": it is then read by the streaming reader, which turns each oddity into one bad row. A
formula cell saved without its result (`uncached`) sends the sheet to the streaming reader too,
which names each such cell (calamine would hand it out as an empty cell).

Blocks are cut at a `<row ` boundary, so a row never straddles two blocks and every check is local
to a block; only the last row number and the largest column travel from one block to the next.
Sheets larger than the streaming threshold are read by the streaming reader anyway: for them only
the size and the ending are kept (`detailed` is False).
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from itertools import islice

from yecai.files.bounds import EXCEL_COLUMNS, EXCEL_ROWS, column_index

MAX_ROW_BYTES = 16 << 20  # a row (or a head before <sheetData>) larger than this is left to streaming
# every <row> and <c> tag: its number or reference when written the usual way (r= first, well
# formed), empty when not (no attributes, other whitespace, r= elsewhere or malformed)
_ROW_TAG = re.compile(rb'<row(?: r="([1-9][0-9]{0,6})"|[\s>/])')
_CELL_TAG = re.compile(rb'<c(?: r="([A-Z]{1,3})([1-9][0-9]{0,6})"|[\s>/])')
_EMPTY_ROW = re.compile(rb"<row [^>]*/>")
_PREFIXED = re.compile(rb":(?:c|row)[\s/>]")  # x:row, x:c: a namespace prefix
_BAD_STYLE = re.compile(rb' s="(?![0-9]{1,9}")')
_BAD_TYPE = re.compile(rb' t="(?!(?:s|n|b|e|str|inlineStr|d|shared|array|dataTable|normal)")')
_DIMENSION = re.compile(rb'<dimension ref="([^"]{0,40})"')
# a formula with no result saved after it (no <v>, or an empty one): calamine reads it as an empty
# cell, and nothing would tell the user that the value was never there
_UNCACHED = re.compile(rb"<f(?:\s[^>]*)?(?:/>|>[^<]*</f>)\s*(?:</c>|<v\s*/>|<v>\s*</v>)")
_ROOT = re.compile(rb"<(?:([\w.-]+):)?worksheet[\s>]")
_ROW = b"<row "
_DATA_OPEN = b"<sheetData>"
_DATA_EMPTY = b"<sheetData/>"
_DATA_CLOSE = b"</sheetData>"
_END = re.compile(rb"</worksheet>\s*\Z")


@dataclass(slots=True)
class SheetScan:
    """What one pass over a worksheet found."""

    member: str
    size: int = 0  # bytes of XML, as really inflated
    detailed: bool = True  # False: only size and ending were looked at (a large sheet)
    dimension: str | None = None  # the <dimension ref> the writer declared (not trusted)
    rows: int = 0  # <row> elements
    cells: int = 0  # <c> elements
    max_row: int = 0  # the last row number seen (1-based)
    max_col: int = 0  # the last column seen, 1-based (1 = A)
    ended: bool = False  # the document ends with </worksheet>
    odd: list[tuple[str, str]] = field(default_factory=list)  # (中文, English): why it is odd
    # a formula cell without a saved result: the streaming reader, which names each such cell, reads it
    uncached: bool = False
    # the merged ranges near the top, as the streaming reader finds them (`xlsx_stream.MergeFinder`),
    # found in the preflight's pass so that the reader need not inflate the sheet once more for them
    merges: list[tuple[tuple[int, int], tuple[int, int]]] | None = None

    @property
    def area(self) -> int:
        """Cells of the grid from A1 to the last row and column: what calamine would allocate."""
        return self.max_row * self.max_col

    @property
    def clean(self) -> bool:
        return self.detailed and self.ended and not self.odd


class SheetScanner:
    """Feed a worksheet's XML in chunks of any size, then `close()` for the SheetScan."""

    def __init__(self, member: str, *, detailed: bool = True) -> None:
        self.scan = SheetScan(member, detailed=detailed)
        self._state = "head"  # head → data (inside <sheetData>) → tail
        self._pending = b""  # bytes not yet scanned (from the last <row boundary on)
        self._ending = b""  # the last bytes, for the end-of-document check
        self._columns: set[bytes] = set()

    def feed(self, chunk: bytes) -> None:
        scan = self.scan
        scan.size += len(chunk)
        self._ending = (self._ending + chunk)[-64:]
        if not scan.detailed or self._state == "tail":
            return
        self._pending += chunk
        if self._state == "head" and not self._head():
            return
        data = self._pending
        close = data.find(_DATA_CLOSE)
        if close >= 0:
            self._block(data[:close])
            self._state, self._pending = "tail", b""
            return
        cut = data.rfind(_ROW)
        if cut <= 0:  # no row has begun since the pending one: wait for more
            if len(data) > MAX_ROW_BYTES:
                self._odd("有一行超过 16 MB", "a row of more than 16 MB")
            return
        self._block(data[:cut])
        self._pending = data[cut:]

    def close(self) -> SheetScan:
        scan = self.scan
        if scan.detailed and self._state != "tail":
            if self._state == "data":
                self._block(self._pending)
            self._odd(
                "工作表数据没有正常结束（缺少 </sheetData>）", "the sheet data does not end (no </sheetData>)"
            )
        scan.ended = bool(_END.search(self._ending))
        if not scan.ended:
            self._odd(
                "工作表 XML 没有正常结束（文件被截断？）", "the sheet XML does not end properly (truncated?)"
            )
        self._pending = b""
        return scan

    # -- the pieces ----------------------------------------------------------------------------

    def _head(self) -> bool:
        """Until <sheetData> begins: the root and the dimension. True once the rows begin."""
        scan = self.scan
        block = self._pending
        root = _ROOT.search(block)
        if root is None or root[1]:
            if root is not None:
                # a prefixed worksheet (x:row, x:c) is legal but rare; the streaming reader reads it
                self._odd("工作表 XML 使用了命名空间前缀", "the sheet XML uses a namespace prefix")
            elif len(block) > MAX_ROW_BYTES:
                self._odd("找不到 <worksheet> 根元素", "no <worksheet> root element")
            return False
        if (found := _DIMENSION.search(block)) is not None:
            scan.dimension = found[1].decode("ascii", "replace")
        empty, start = block.find(_DATA_EMPTY), block.find(_DATA_OPEN)
        if empty >= 0 and (start < 0 or empty < start):
            self._state, self._pending = "tail", b""
            return False
        if start < 0:
            if len(block) > MAX_ROW_BYTES:
                self._odd("开头 16 MB 内没有 <sheetData>", "no <sheetData> in the first 16 MB")
            return False
        self._state = "data"
        self._pending = block[start + len(_DATA_OPEN) :]
        return True

    def _odd(self, zh: str, en: str) -> None:
        # the first reason is enough to send the sheet to the streaming reader: stop looking
        self.scan.odd.append((zh, en))
        self.scan.detailed = False
        self._pending = b""

    def _block(self, block: bytes) -> None:
        """Whole rows: the checks of the module docstring, all at C speed but for small sets."""
        scan = self.scan
        if not scan.detailed or not block:
            return
        numbers = _ROW_TAG.findall(block)
        refs = _CELL_TAG.findall(block)
        if b"" in numbers or (b"", b"") in refs or _PREFIXED.search(block):
            return self._odd(
                "有 <row>/<c> 的引用 r 缺失、无效、不在首位或写法异常",
                "a <row> or <c> has a missing, invalid or misplaced r=, or an unusual form",
            )
        if _BAD_STYLE.search(block) or _BAD_TYPE.search(block):
            return self._odd("有单元格的 s= 或 t= 值无效", "a cell has an invalid s= or t=")
        if numbers:
            rows = list(map(int, numbers))
            if rows[0] <= scan.max_row or not all(map(operator.lt, rows, islice(rows, 1, None))):
                return self._odd("行号重复或倒退", "a row number repeats or goes backwards")
            scan.max_row = rows[-1]
            if scan.max_row > EXCEL_ROWS:
                return self._odd("行号超出 Excel 的 1048576 行", "a row number beyond Excel's 1,048,576 rows")
        scan.rows += len(numbers)
        scan.cells += len(refs)
        if not scan.uncached and b"<f" in block and _UNCACHED.search(block):
            scan.uncached = True
        if not refs:
            return None
        if len(set(refs)) != len(refs):
            return self._odd("同一位置有两个单元格", "two cells at the same position")
        holding = set(map(operator.itemgetter(1), refs))
        # every cell names a row of this block, and every row with cells is named by one: no cell
        # can land on (and replace) a cell of another row
        if not holding <= set(numbers) or (
            len(holding) != len(numbers) and len(holding) != len(numbers) - len(_EMPTY_ROW.findall(block))
        ):
            return self._odd("有单元格不在它所在的行", "a cell is outside its row")
        fresh = set(map(operator.itemgetter(0), refs)) - self._columns
        if fresh:
            self._columns |= fresh
            scan.max_col = max(scan.max_col, *(column_index(c.decode()) + 1 for c in fresh))
            if scan.max_col > EXCEL_COLUMNS:
                return self._odd("列超出 Excel 的最后一列 XFD", "a column beyond Excel's last column XFD")
        return None
