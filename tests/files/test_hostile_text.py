"""Hostile CSV/TXT and HTML-as-xls exports (issue 12, parts 5 and 6): one bad line never costs the rest.

A BOM followed by bad bytes, a line over 16 MB, one undecodable byte, an unclosed quote, an HTML
table without its optional end tags, and spans of 1000 × 1000 cells: each is rejected where it is
(by line or row number, in Chinese and English) while every good row beside it is imported, and
nothing crashes or takes unbounded memory. The hostile files are built in tmp_path by the tests.
"""

from __future__ import annotations

import codecs
import random
import re
import tempfile
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.spreadsheets import RARE
from yecai.files import FileProblem, ImportResult, import_file
from yecai.files.encoding import detect_encoding
from yecai.files.raw import RawRow
from yecai.files.reader import open_file
from yecai.files.rows import RowIssue
from yecai.store.db import Store

HEADER = "单据编号,项目编码,成本类别,业务日期,摘要,金额"
COLUMNS = HEADER.split(",")


def good(n: int) -> str:
    return f"CB-{n:04d},XM2026001,人工费,2026-10-05,班组工日{n},{100 + n}"


def write_lines(path: Path, lines: list[bytes], *, head: bytes = b"", end: bytes = b"\r\n") -> Path:
    path.write_bytes(head + b"".join(line + end for line in lines))
    return path


def encoded(lines: list[str], codec: str) -> list[bytes]:
    return [line.encode(codec) for line in lines]


def rejected(result: ImportResult) -> list[RowIssue]:
    return [issue for issue in result.issues if issue.column == "-"]


def read_rows(path: Path) -> list[RawRow]:
    opened = open_file(path)
    try:
        return list(opened.sheet(opened.sheet_names[0]).rows)
    finally:
        opened.close()


# -- 1. a BOM followed by bytes it does not allow ------------------------------------------


def test_a_bom_then_bad_bytes_rejects_only_the_bad_line(sqlite_store: Store, tmp_path: Path) -> None:
    lines = encoded([HEADER, good(1), good(2)], "utf-8")
    lines.insert(2, b"CB-0009,XM2026001,\xff\xfe\xfd,2026-10-05,x,1")
    path = write_lines(tmp_path / "bom.csv", [*lines, good(3).encode()], head=codecs.BOM_UTF8)
    result = import_file(sqlite_store, path, kind="cost")
    assert (result.counts.imported, result.counts.rejected) == (3, 1)
    assert result.encoding == "UTF-8 (BOM)"
    (issue,) = rejected(result)
    assert issue.row == 3
    assert "第 3 行" in issue.zh
    assert "UTF-8" in issue.zh
    assert "bom.csv" in issue.zh
    assert "line 3" in issue.en
    assert "UTF-8" in issue.en


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_unicode_text_with_a_bom_reads_every_line(sqlite_store: Store, tmp_path: Path, codec: str) -> None:
    bom = {
        "utf-16-le": codecs.BOM_UTF16_LE,
        "utf-16-be": codecs.BOM_UTF16_BE,
        "utf-32-le": codecs.BOM_UTF32_LE,
        "utf-32-be": codecs.BOM_UTF32_BE,
    }[codec]
    text = [HEADER.replace(",", "\t"), *(good(n).replace(",", "\t") for n in (1, 2, 3))]
    path = write_lines(tmp_path / "unicode.txt", encoded(text, codec), head=bom, end="\r\n".encode(codec))
    result = import_file(sqlite_store, path, kind="cost")
    assert (result.counts.imported, result.counts.rejected) == (3, 0)
    assert result.delimiter == "\t"


@pytest.mark.parametrize(("codec", "lone"), [("utf-16-le", b"\x00\xd8"), ("utf-16-be", b"\xd8\x00")])
def test_a_lone_surrogate_in_utf16_rejects_its_line(
    sqlite_store: Store, tmp_path: Path, codec: str, lone: bytes
) -> None:
    lines = encoded([HEADER, good(1), good(2), good(3)], codec)
    lines[2] = lines[2][:20] + lone + lines[2][20:]
    bom = codecs.BOM_UTF16_LE if codec.endswith("le") else codecs.BOM_UTF16_BE
    path = write_lines(tmp_path / "u16.csv", lines, head=bom, end="\r\n".encode(codec))
    result = import_file(sqlite_store, path, kind="cost")
    assert (result.counts.imported, result.counts.rejected) == (2, 1)
    (issue,) = rejected(result)
    assert issue.row == 3
    assert "UTF-16" in issue.en


# -- 2. a line longer than 16 MB -------------------------------------------------------------


def write_with_huge_line(path: Path, before: list[str], after: list[str], size: int) -> Path:
    """The file is written piece by piece: the huge line never sits in memory whole."""
    with path.open("wb") as handle:
        for line in before:
            handle.write(line.encode() + b"\r\n")
        handle.write(b"CB-9999,XM2026001,")
        piece = b"x" * (1 << 20)
        for _ in range(size // len(piece)):
            handle.write(piece)
        handle.write(b",1\r\n")
        for line in after:
            handle.write(line.encode() + b"\r\n")
    return path


@pytest.mark.parametrize("where", [3, 60])
def test_a_line_over_16_mb_is_one_bad_row(sqlite_store: Store, tmp_path: Path, where: int) -> None:
    rows = [HEADER, *(good(n) for n in range(1, 70))]
    path = write_with_huge_line(tmp_path / "huge.csv", rows[: where - 1], rows[where - 1 :], 17 << 20)
    tracemalloc.start()
    try:
        result = import_file(sqlite_store, path, kind="cost")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (result.counts.imported, result.counts.rejected) == (69, 1)
    (issue,) = rejected(result)
    assert issue.row == where
    assert "过长" in issue.zh
    assert "16 MB" in issue.zh
    assert "16 MB" in issue.en
    assert peak < 40 << 20  # the line is skipped, never held whole (nor twice)


# -- 3. one undecodable byte costs one line, not the file ---------------------------------


def test_one_bad_byte_in_a_gbk_file_rejects_only_its_line(sqlite_store: Store, tmp_path: Path) -> None:
    lines = encoded([HEADER, *(good(n) for n in range(1, 6))], "gbk")
    lines[3] = lines[3].replace("班组".encode("gbk"), b"\xff\x80")
    path = write_lines(tmp_path / "gbk.csv", lines)
    result = import_file(sqlite_store, path, kind="cost")
    assert result.encoding == "GBK"
    assert (result.counts.imported, result.counts.rejected) == (4, 1)
    (issue,) = rejected(result)
    assert issue.row == 4
    assert "第 4 行" in issue.zh
    assert "GBK" in issue.zh
    assert "line 4" in issue.en
    assert "not valid GBK" in issue.en


def test_a_truncated_character_in_utf8_and_a_rare_one_in_gb18030(sqlite_store: Store, tmp_path: Path) -> None:
    lines = encoded([HEADER, *(good(n) for n in range(1, 5))], "utf-8")
    lines[2] = lines[2].replace("工".encode(), "工".encode()[:2])
    result = import_file(sqlite_store, write_lines(tmp_path / "u8.csv", lines), kind="cost")
    assert (result.encoding, result.counts.imported, result.counts.rejected) == ("UTF-8", 3, 1)
    assert rejected(result)[0].row == 3
    rare = [HEADER, good(1), good(2).replace("班组", f"班组{RARE}"), good(3)]
    lines = encoded(rare, "gb18030")
    lines[3] += b"\xff"
    found = detect_encoding(write_lines(tmp_path / "gb.csv", lines))
    assert found.label == "GB18030"  # fewer bad lines than GBK, which cannot hold the rare one


def test_a_file_that_no_encoding_reads_is_still_refused(sqlite_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "noise.csv"
    path.write_bytes(random.Random(0).randbytes(20000))
    with pytest.raises(FileProblem) as caught:
        import_file(sqlite_store, path, kind="cost")
    assert caught.value.code == "encoding"
    assert "noise.csv" in caught.value.zh


# -- 4. an unclosed quote ---------------------------------------------------------------------


def test_an_unclosed_quote_rejects_its_line_and_every_other_row_lands(
    sqlite_store: Store, tmp_path: Path
) -> None:
    lines = [HEADER, good(1), 'CB-0002,XM2026001,人工费,2026-10-05,"没有闭合的引号,102', good(3), good(4)]
    result = import_file(sqlite_store, write_lines(tmp_path / "q.csv", encoded(lines, "utf-8")), kind="cost")
    assert (result.counts.rows, result.counts.imported, result.counts.rejected) == (4, 3, 1)
    (issue,) = rejected(result)
    assert issue.row == 3
    assert "第 3 行" in issue.zh
    assert "引号" in issue.zh
    assert "line 3" in issue.en
    assert "quote" in issue.en


def test_a_stray_quote_never_pairs_with_a_later_multiline_cell(sqlite_store: Store, tmp_path: Path) -> None:
    lines = [
        HEADER,
        'CB-0001,XM2026001,人工费,2026-10-05,"半个引号,101',
        good(2),
        good(3),
        'CB-0004,XM2026001,人工费,2026-10-05,"两行的\r\n备注",104',
        good(5),
    ]
    result = import_file(sqlite_store, write_lines(tmp_path / "q.csv", encoded(lines, "utf-8")), kind="cost")
    assert (result.counts.imported, result.counts.rejected) == (4, 1)
    assert rejected(result)[0].row == 2
    rows = {row.number: row for row in read_rows(tmp_path / "q.csv")}
    assert rows[6].cells[4] == "两行的\r\n备注"  # a multi-line cell's row is the line it ends on
    assert rows[7].cells[0] == "CB-0005"


def test_an_open_quote_looks_ahead_a_bounded_number_of_lines(tmp_path: Path) -> None:
    # without the bound, the quote of line 2 pairs with the one of the last line and swallows all
    lines = [HEADER, 'CB-0001,XM2026001,人工费,2026-10-05,"开,101', *(good(n) for n in range(2, 1202))]
    lines.append('CB-1202,XM2026001,人工费,2026-10-05,尾",1302')
    rows = read_rows(write_lines(tmp_path / "far.csv", encoded(lines, "utf-8")))
    assert [row.number for row in rows if row.error] == [2]
    assert len(rows) == len(lines)
    assert rows[-1].cells[4] == '尾"'


# -- 5. HTML tables without their optional end tags; a file with no data rows --------------


def html_table(rows: list[list[str]], *, close_cells: bool, close_rows: bool, tbody: bool = False) -> str:
    out = ["<html><body><table>", "<tbody>" if tbody else ""]
    for row in rows:
        out.append("<tr>")
        out.extend(f"<td>{cell}" + ("</td>" if close_cells else "") for cell in row)
        out.append("</tr>\n" if close_rows else "\n")
    return "".join(out) + "</table></body></html>"


def test_an_html_table_without_optional_end_tags_imports_every_row(
    sqlite_store: Store, tmp_path: Path
) -> None:
    rows = [COLUMNS, *(good(n).split(",") for n in (1, 2, 3))]
    path = tmp_path / "web.xls"
    path.write_text(html_table(rows, close_cells=False, close_rows=False, tbody=True), encoding="gbk")
    result = import_file(sqlite_store, path, kind="cost")
    assert (result.file_format, result.counts.imported, result.counts.rejected) == ("html", 3, 0)


def test_a_header_without_data_rows_says_so(sqlite_store: Store, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "only-header.csv", [HEADER.encode()])
    result = import_file(sqlite_store, path, kind="cost")
    assert (result.status, result.counts.rows) == ("imported", 0)
    assert any("only-header.csv" in n.zh and "没有数据行" in n.zh for n in result.notes)
    assert any("holds no data rows" in n.en for n in result.notes)


# -- 6. HTML spans: linear, bounded, streamed ------------------------------------------------


def test_huge_html_spans_take_little_memory(sqlite_store: Store, tmp_path: Path) -> None:
    head = "".join(f"<th>{c}</th>" for c in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in good(n).split(",")) + "</tr>" for n in (1, 2))
    hostile = '<tr><td rowspan="1000" colspan="1000">x</td><td rowspan=1000 colspan=1000>y</td></tr>'
    path = tmp_path / "spans.xls"
    path.write_text(f"<table><tr>{head}</tr>{body}{hostile}</table>", encoding="utf-8")
    tracemalloc.start()
    try:
        result = import_file(sqlite_store, path, kind="cost")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.counts.imported == 2
    assert peak < 24 << 20


def test_html_spans_give_the_merged_ranges_and_cells_as_before(tmp_path: Path) -> None:
    path = tmp_path / "two-row.xls"
    path.write_text(
        "<table>"
        "<tr><td colspan=3>成本台账</td></tr>"
        "<tr><td rowspan=2>单据编号</td><td colspan=2>本期</td><td rowspan=2>备注</td></tr>"
        "<tr><td>数量</td><td>金额</td></tr>"
        "<tr><td>CB-1</td><td>1</td><td>2</td><td>x</td></tr>"
        "</table>",
        encoding="utf-8",
    )
    opened = open_file(path)
    sheet = opened.sheet(opened.sheet_names[0])
    assert [(row.number, row.cells) for row in sheet.rows] == [
        (1, ["成本台账", None, None]),
        (2, ["单据编号", "本期", None, "备注"]),
        (3, [None, "数量", "金额"]),
        (4, ["CB-1", "1", "2", "x"]),
    ]
    assert sheet.merged == [((0, 0), (0, 2)), ((1, 0), (2, 0)), ((1, 1), (1, 2)), ((1, 3), (2, 3))]


def test_the_merges_of_the_first_rows_are_known_when_the_sheet_is_handed_out(tmp_path: Path) -> None:
    # the sheet's merged ranges are taken when it is opened, before layout reads a row: the rows
    # layout scans are read by then, even behind a long preamble
    preamble = "<p>" + "说明" * 60000 + "</p>"
    header = "<tr><td colspan=2>本期</td></tr><tr><td>数量</td><td>金额</td></tr>"
    path = tmp_path / "late.xls"
    path.write_text(
        f"<html><body>{preamble}<table>{header}<tr><td>1</td><td>2</td></tr></table>", encoding="utf-8"
    )
    opened = open_file(path)
    sheet = opened.sheet(opened.sheet_names[0])
    assert sheet.merged == [((0, 0), (0, 1))]
    assert [row.cells for row in sheet.rows] == [["本期", None], ["数量", "金额"], ["1", "2"]]


def test_a_row_wider_than_excel_is_one_bad_row(tmp_path: Path) -> None:
    wide = "<tr>" + "<td colspan=1000>w</td>" * 17 + "</tr>"
    path = tmp_path / "wide.xls"
    path.write_text(
        f"<table><tr><td>a</td><td>b</td></tr>{wide}<tr><td>c</td></tr></table>", encoding="utf-8"
    )
    rows = read_rows(path)
    assert [(row.number, row.cells, row.error is None) for row in rows] == [
        (1, ["a", "b"], True),
        (2, [], False),
        (3, ["c"], True),
    ]
    error = rows[1].error
    assert error is not None
    assert "16384" in error[0]
    assert "16384" in error[1]


def test_html_rows_stream_out_before_the_file_is_read_whole(tmp_path: Path) -> None:
    from yecai.files.html_table import HtmlTable

    path = tmp_path / "long.xls"
    row = "<tr>" + "".join(f"<td>{c}</td>" for c in good(1).split(",")) + "</tr>\n"
    path.write_text("<table>" + row * 6000 + "</table>", encoding="utf-8")
    table = HtmlTable(path, "utf-8", "UTF-8")
    rows = table.rows()
    first = next(rows)
    assert first.cells[0] == "CB-0001"
    assert table.bytes_read < path.stat().st_size // 4
    assert sum(1 for _ in rows) == 5999


def test_bad_bytes_in_an_html_row_reject_that_row(sqlite_store: Store, tmp_path: Path) -> None:
    rows = [COLUMNS, *(good(n).split(",") for n in (1, 2, 3))]
    data = html_table(rows, close_cells=True, close_rows=True).encode("gbk")
    data = data.replace("班组工日2".encode("gbk"), b"\xff\xfe\x80")
    path = tmp_path / "bad.xls"
    path.write_bytes(data)
    result = import_file(sqlite_store, path, kind="cost")
    assert (result.counts.imported, result.counts.rejected) == (2, 1)
    (issue,) = rejected(result)
    assert issue.row == 3
    assert "GBK" in issue.zh
    assert "GBK" in issue.en


# -- properties -------------------------------------------------------------------------------

# common characters and ASCII: what real cells hold (a cell of rare Hanzi alone is a coin toss
# between UTF-8 and GBK for any detector, which is not what these properties are about)
CELL = st.text(
    st.sampled_from("人工费材料机械项目编码成本日期金额税率供应商班组钢筋混凝土ABCxyz019 -_."),
    min_size=1,
    max_size=12,
).filter(lambda text: text.strip() == text)
BAD_KINDS = ("bytes", "quote", "huge")


@st.composite
def files_with_one_bad_line(draw: st.DrawFn) -> tuple[list[list[str]], int, str, str]:
    width = draw(st.integers(min_value=2, max_value=5))
    rows = draw(st.lists(st.lists(CELL, min_size=width, max_size=width), min_size=1, max_size=12))
    at = draw(st.integers(min_value=0, max_value=len(rows)))
    return rows, at, draw(st.sampled_from(BAD_KINDS)), draw(st.sampled_from(["utf-8", "gbk"]))


@settings(max_examples=60, deadline=None)
@given(files_with_one_bad_line())
def test_every_good_line_comes_out_with_its_number_and_only_the_bad_one_is_rejected(
    case: tuple[list[list[str]], int, str, str],
) -> None:
    from yecai.files import text

    rows, at, kind, codec = case
    lines = [",".join(row).encode(codec) for row in rows]
    bad = {
        "bytes": b"\xff\x80," + rows[0][0].encode(codec),
        "quote": b'"' + rows[0][0].encode(codec) + b"," + rows[0][-1].encode(codec),
        "huge": b"x" * 5000 + b"," + rows[0][0].encode(codec),
    }[kind]
    lines.insert(at, bad)
    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory() as folder:
        patch.setattr(text, "LINE_BYTES", 4096)
        out = read_rows(write_lines(Path(folder) / "p.csv", lines))
    assert [row.number for row in out if row.error] == [at + 1]
    expected = [(n + 1 if n < at else n + 2, row) for n, row in enumerate(rows)]
    assert [(row.number, row.cells) for row in out if not row.error] == expected


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(CELL, min_size=1, max_size=5), min_size=1, max_size=8),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_an_html_table_reads_the_same_with_or_without_optional_end_tags(
    rows: list[list[str]], close_cells: bool, close_rows: bool, tbody: bool, th: bool
) -> None:
    cell = "th" if th else "td"
    html = html_table(rows, close_cells=close_cells, close_rows=close_rows, tbody=tbody).replace("td", cell)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.xls"
        path.write_text(html, encoding="utf-8-sig")
        out = read_rows(path)
    assert [(row.number, row.cells) for row in out] == [(n, row) for n, row in enumerate(rows, start=1)]
    assert not any(row.error for row in out)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(min_value=1, max_value=60), min_size=1, max_size=4, unique=True))
def test_bad_lines_anywhere_in_a_gbk_import_leave_the_good_rows(
    sqlite_store: Store, lines: list[int]
) -> None:
    import uuid

    content = encoded([HEADER, *(good(n) for n in range(1, 61))], "gbk")
    for n in lines:
        content[n] = content[n][:12] + b"\xff" + content[n][12:]
    with tempfile.TemporaryDirectory() as folder:
        path = write_lines(Path(folder) / "many.csv", content)
        result = import_file(sqlite_store, path, kind="cost", connection=uuid.uuid4().hex[:12])
    assert (result.counts.imported, result.counts.rejected) == (60 - len(lines), len(lines))
    assert sorted(issue.row for issue in rejected(result)) == sorted(n + 1 for n in lines)


LINE_PIECES = st.lists(
    st.one_of(
        st.binary(min_size=1, max_size=9).map(
            lambda b: b.replace(b"\r", b"a").replace(b"\n", b"b").replace(b"\0", b"c")
        ),
        st.sampled_from([b"\r\n", b"\n", b"\r", b"\r\r\n", b"\n\r"]),
    ),
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(LINE_PIECES, st.integers(min_value=1, max_value=7), st.integers(min_value=1, max_value=12))
def test_lines_split_as_universal_newlines_whatever_the_chunks(
    pieces: list[bytes], read: int, cap: int
) -> None:
    from yecai.files import text

    data = b"".join(pieces)
    expected = [
        line if len(line) <= cap else None for line in re.findall(rb"[^\r\n]*(?:\r\n?|\n)|[^\r\n]+\Z", data)
    ]
    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory() as folder:
        patch.setattr(text, "READ_BYTES", read)
        patch.setattr(text, "LINE_BYTES", cap)
        path = Path(folder) / "l.csv"
        path.write_bytes(data)
        split = [raw for _, raw in text.physical_lines(path, "latin-1")]
        decoded = [
            (block.first + i, line)
            for block in text.decoded_lines(path, "latin-1", "Latin-1")
            for i, line in enumerate(block.texts or [None])
        ]
    assert split == expected
    assert decoded == [
        (n, None if raw is None else raw.decode("latin-1")) for n, raw in enumerate(expected, start=1)
    ]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(st.sampled_from("ab中\u0a0d\u0d0a\u0a00\U0001f600"), max_size=6),
            st.sampled_from(["\r\n", "\n", "\r", ""]),
        ),
        max_size=12,
    ),
    st.sampled_from(["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"]),
    st.integers(min_value=1, max_value=9),
)
def test_utf16_and_utf32_lines_split_on_whole_code_units(
    parts: list[tuple[str, str]], codec: str, read: int
) -> None:
    from yecai.files import text

    body = "".join(a + b for a, b in parts)
    expected = re.findall(r"[^\r\n]*(?:\r\n?|\n)|[^\r\n]+\Z", body)
    bom = "\ufeff".encode(codec)
    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory() as folder:
        patch.setattr(text, "READ_BYTES", read)
        path = Path(folder) / "u.txt"
        path.write_bytes(bom + body.encode(codec))
        found = [line for block in text.decoded_lines(path, codec[:6], "x") for line in block.texts]
    assert found == expected


def reference_spans(rows: list[list[tuple[str, int, int]]]) -> tuple[list[list[str | None]], list]:
    """The former reader's span handling (a dict entry per covered cell): the reference."""
    out: list[list[str | None]] = []
    merged = []
    covered: dict[tuple[int, int], bool] = {}
    for r, row in enumerate(rows):
        cells: list[str | None] = []
        out.append(cells)
        for value, down, across in row:
            while covered.get((r, len(cells))):
                cells.append(None)
            col = len(cells)
            cells.append(value)
            for extra in range(1, across):
                cells.append(None)
                covered[(r, col + extra)] = True
            for d in range(1, down):
                for a in range(across):
                    covered[(r + d, col + a)] = True
            if down > 1 or across > 1:
                merged.append(((r, col), (r + down - 1, col + across - 1)))
    return out, merged


SPAN_CELL = st.tuples(st.sampled_from(["A", "B", "中"]), st.integers(1, 3), st.integers(1, 3))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(SPAN_CELL, max_size=4), min_size=1, max_size=6), st.booleans())
def test_html_spans_match_the_former_reader(rows: list[list[tuple[str, int, int]]], end_tags: bool) -> None:
    expected, merged = reference_spans(rows)
    close = "</td>" if end_tags else ""
    html = (
        "<table>"
        + "".join(
            "<tr>" + "".join(f'<td rowspan="{d}" colspan={a}>{v}{close}' for v, d, a in row) for row in rows
        )
        + "</table>"
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "s.xls"
        path.write_text(html, encoding="utf-8-sig")
        opened = open_file(path)
        sheet = opened.sheet(opened.sheet_names[0])
        out = [row.cells for row in sheet.rows]
    assert out == expected
    assert sheet.merged == merged


def test_markup_left_open_or_a_row_of_too_much_text_is_a_bad_row(tmp_path: Path) -> None:
    from yecai.files import html_table

    path = tmp_path / "open.xls"
    path.write_text(
        "<table><tr><td>a</td></tr><tr><td>" + "x" * 3000 + "</td></tr><tr><td>b</td></tr><!-- " + "y" * 5000,
        encoding="utf-8",
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(html_table, "ROW_CHARS", 1000)
        patch.setattr(html_table, "PENDING_CHARS", 2000)
        patch.setattr(html_table, "READ_BYTES", 512)
        rows = read_rows(path)
    assert [(row.number, row.cells) for row in rows if not row.error] == [(1, ["a"]), (3, ["b"])]
    errors = {row.number: row.error for row in rows if row.error}
    assert set(errors) == {2, 4}
    assert "16 MB" in errors[2][0]
    assert "注释" in errors[4][0]
    assert "comment" in errors[4][1]
