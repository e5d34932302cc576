"""The "xls" that many Chinese systems export as an HTML page: its table's rows, streamed, bounded.

The file is read in chunks, decoded incrementally with the detected codec and fed to an
`HTMLParser`; each row is handed out as soon as it is complete, so memory does not grow with the
file. What a browser would do decides what a row is: `<td>`, `<th>`, `<tr>`, `</tr>`, `<tbody>`,
`<thead>`, `<tfoot>` and `</table>` close an open cell or row, as the optional end tags allow.
Only the top-level table(s) of the page count; a table nested in a cell gives its text to that
cell.

Spans are kept as merged ranges, as Excel does (`colspan` up to 1000 and `rowspan` up to 65534,
the HTML limits). Covered cells cost no memory: per column, only the last row that a rowspan from
above covers is kept (and where that span ends, to skip it in one step). A row wider than Excel's
16,384 columns, one holding more than 16 MB of text, and one whose cells hold bytes that do not
decode are each ONE bad row, by number; undecodable bytes outside any cell (in markup) carry no
data and are dropped. Markup left unfinished over 16 MB (an unclosed tag or comment) ends the
table with a bad row rather than filling memory.
"""

from __future__ import annotations

import codecs
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from yecai.files.raw import Merge, RawRow

MAX_COLUMNS = 16384  # Excel's width
MAX_COLSPAN = 1000  # what browsers honour
MAX_ROWSPAN = 65534
ROW_CHARS = 16 * 1024 * 1024  # text one row may hold
PENDING_CHARS = 16 * 1024 * 1024  # markup the parser may hold unfinished
MAX_MERGES = 65536  # merged ranges kept; layout only reads those of the first rows
READ_BYTES = 64 * 1024
# Undecodable bytes become this lone surrogate, which no strict decoder ever yields.
BAD = "\udcff"
_ERRORS = "yecai.html.bad_bytes"


def _mark(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return BAD, exc.end


codecs.register_error(_ERRORS, _mark)
_CLOSES_ROW = ("tr", "tbody", "thead", "tfoot")


@dataclass(slots=True)
class _Row:
    """A row being read: its cells by column (sparse: covered and spanned cells take no room)."""

    index: int  # 0-based, as in merged ranges
    cells: list[tuple[int, str]] = field(default_factory=list)
    width: int = 0
    chars: int = 0
    error: str | None = None  # wide | long | bytes

    def raw(self, file_name: str, codec_name: str) -> RawRow:
        number = self.index + 1
        if self.error is not None:
            return RawRow(number, [], _message(self.error, number, file_name, codec_name))
        cells: list[str | None] = [None] * self.width
        for col, text in self.cells:
            cells[col] = text
        return RawRow(number, cells)


def _message(error: str, number: int, file_name: str, codec_name: str) -> tuple[str, str]:
    if error == "wide":
        return (
            f"{file_name} 第 {number} 行超过 {MAX_COLUMNS} 列（Excel 的上限），已拒绝",
            f"row {number} of {file_name} is wider than {MAX_COLUMNS} columns (Excel's limit); rejected",
        )
    if error == "long":
        return (
            f"{file_name} 第 {number} 行的文字超过 16 MB，已拒绝",
            f"row {number} of {file_name} holds more than 16 MB of text; rejected",
        )
    if error == "markup":
        return (
            f"{file_name} 第 {number} 行起有超过 16 MB 仍未结束的标签或注释，表格从这里起无法读取",
            f"from row {number} on, {file_name} holds a tag or comment left open over 16 MB; "
            "the table cannot be read past it",
        )
    return (
        f"{file_name} 第 {number} 行含有无法按 {codec_name} 解码的字节，已拒绝；请检查该行或重新导出",
        f"row {number} of {file_name} holds bytes that are not valid {codec_name}; the row was "
        "rejected: check it or export the file again",
    )


def _span(value: str | None, limit: int) -> int:
    try:
        return max(1, min(int(value or 1), limit))
    except ValueError:
        return 1


class TableParser(HTMLParser):
    """Rows of the top-level <table>s of a page, complete rows queued in `ready`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ready: deque[_Row] = deque()
        self.merged: list[Merge] = []
        self.rows = 0  # rows started so far
        self._row: _Row | None = None
        self._cell: list[str] | None = None
        self._span = (1, 1)
        self._depth = 0
        # per column: the last row a rowspan from above covers, and that span's last column
        self._until: list[int] = []
        self._end: list[int] = []

    # -- tags -----------------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._depth += 1
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")
        elif self._depth != 1:
            return
        elif tag in ("td", "th"):
            self._close_cell()
            if self._row is None:
                self._start_row()
            values = dict(attrs)
            self._span = (
                _span(values.get("rowspan"), MAX_ROWSPAN),
                _span(values.get("colspan"), MAX_COLSPAN),
            )
            self._cell = []
        elif tag in _CLOSES_ROW:
            self._close_row()
            if tag == "tr":
                self._start_row()

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            if self._depth == 1:
                self._close_row()
            self._depth = max(0, self._depth - 1)
        elif self._depth != 1:
            return
        elif tag in ("td", "th"):
            self._close_cell()
        elif tag in _CLOSES_ROW:
            self._close_row()

    def handle_data(self, data: str) -> None:
        row, cell = self._row, self._cell
        if cell is None or row is None or row.error is not None:
            return
        if BAD in data:
            row.error = "bytes"
            return
        row.chars += len(data)
        if row.chars > ROW_CHARS:
            row.error = "long"
            self._cell = []
            return
        cell.append(data)

    def close(self) -> None:
        super().close()
        self._close_row()

    # -- rows and cells -------------------------------------------------------------------

    def _start_row(self) -> None:
        self._row = _Row(self.rows)
        self.rows += 1

    def _close_row(self) -> None:
        self._close_cell()
        if self._row is not None:
            self.ready.append(self._row)
            self._row = None

    def _close_cell(self) -> None:
        row, cell = self._row, self._cell
        if cell is None or row is None:
            return
        self._cell = None
        if row.error is not None:
            return
        rows, cols = self._span
        col = self._free_column(row.index, row.width)
        if col + cols > MAX_COLUMNS:
            row.error, row.cells = "wide", []
            return
        text = "".join(cell).strip()
        if text:
            row.cells.append((col, text))
        row.width = col + cols
        if rows > 1:
            self._cover(row.index, row.index + rows - 1, col, col + cols)
        if (rows > 1 or cols > 1) and len(self.merged) < MAX_MERGES:
            self.merged.append(((row.index, col), (row.index + rows - 1, col + cols - 1)))

    def _free_column(self, index: int, col: int) -> int:
        """The first column from `col` on that no rowspan from above covers in row `index`."""
        until, end = self._until, self._end
        while col < len(until) and until[col] >= index:
            col = end[col] + 1  # every column up to the span's end is covered at least as long
        return col

    def _cover(self, first: int, last: int, start: int, stop: int) -> None:
        until, end = self._until, self._end
        if len(until) < stop:
            until.extend([-1] * (stop - len(until)))
            end.extend([0] * (stop - len(end)))
        if max(until[start:stop]) < last:
            until[start:stop] = [last] * (stop - start)
            end[start:stop] = [stop - 1] * (stop - start)
            return
        for col in range(start, stop):  # overlapping spans (a broken table): keep the longer cover
            if until[col] < last:
                until[col], end[col] = last, stop - 1


class HtmlTable:
    """Streams the rows of an HTML table export; `merged` fills as rows are read.

    The file is opened only while rows are being read (by `prefetch` or the `rows` iterator), so
    an abandoned iterator leaves no file open.
    """

    def __init__(self, path: Path, codec: str, codec_name: str) -> None:
        self.path = path
        self.codec_name = codec_name
        self.bytes_read = 0
        self._parser = TableParser()
        self._decoder = codecs.getincrementaldecoder(codec)(errors=_ERRORS)
        self._done = False
        self._broken: RawRow | None = None  # the bad row that ends a table the parser gave up on

    @property
    def merged(self) -> list[Merge]:
        return self._parser.merged

    @property
    def broken(self) -> RawRow | None:
        """The bad row that ends the table where the parser gave up, if it did."""
        return self._broken

    @property
    def started(self) -> bool:
        """Whether any row has been seen so far."""
        return self._parser.rows > 0

    def prefetch(self, rows: int) -> None:
        """Read until `rows` rows are complete (or the file ends), e.g. the rows layout scans."""
        with self.path.open("rb") as handle:
            handle.seek(self.bytes_read)
            while not self._done and len(self._parser.ready) < rows:
                self._step(handle)

    def rows(self) -> Iterator[RawRow]:
        ready, name = self._parser.ready, self.path.name
        with self.path.open("rb") as handle:
            handle.seek(self.bytes_read)
            while True:
                while ready:
                    yield ready.popleft().raw(name, self.codec_name)
                if self._done:
                    break
                self._step(handle)
        if self._broken is not None:
            yield self._broken
            self._broken = None

    def _step(self, handle: object) -> None:
        chunk: bytes = handle.read(READ_BYTES)  # type: ignore[attr-defined]
        self.bytes_read += len(chunk)
        parser = self._parser
        try:
            parser.feed(self._decoder.decode(chunk, final=not chunk))
            if not chunk:
                parser.close()
                self._done = True
        except (ValueError, AssertionError) as exc:  # html.parser gives up on some broken markup
            self._give_up(f"corrupt: {exc}")
            return
        if len(parser.rawdata) > PENDING_CHARS:
            self._give_up("markup")

    def _give_up(self, why: str) -> None:
        parser = self._parser
        self._done = True
        number = parser.rows + 1
        if why == "markup":
            error = _message("markup", number, self.path.name, self.codec_name)
        else:
            error = (
                f"{self.path.name} 第 {number} 行起的网页表格无法解析（{why}），其后的行没有读取",
                f"the HTML table of {self.path.name} cannot be parsed from row {number} on ({why}); "
                "the rows after it were not read",
            )
        self._broken = RawRow(number, [], error)
        parser.reset()
