"""The streaming reader's fast lane hands out exactly what expat alone hands out, for any sheet.

Sheets are built from plain rows (the lane's) mixed with everything it must leave to expat:
formulas, entities, comments, CDATA, cells out of order or of another row, repeated and backward
row numbers, rows past the grid, undeclared prefixes, repeated attributes, forbidden characters,
unclosed rows and truncated tails. Read once with the lane and once without it, the rows (bad
rows and their messages included) must be equal, and a sheet of plain rows must really be read
by the lane.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.hostile_workbooks import MAIN, RELS, streamed_peak, write_package
from yecai.files import preflight, xlsx_fast, xlsx_stream
from yecai.files.bounds import column_letters
from yecai.files.problems import FileProblem
from yecai.files.reader import open_file
from yecai.files.xlsx_stream import StreamedWorkbook

SHARED = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="{MAIN}" count="3" uniqueCount="3">'
    "<si><t>人工费</t></si><si><t></t></si><si><r><t>红</t></r><r><t>字</t></r></si></sst>"
)


def read(path: Path, lane: bool, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every row of every sheet (or the problem raised), with the lane on or off."""
    monkeypatch.setattr(xlsx_stream, "FAST_LANE", lane)
    try:
        book = StreamedWorkbook(str(path))
    except xlsx_stream.NotStreamable as exc:
        return [("not streamable", str(exc))]
    try:
        return [(r.number, r.cells, r.error, r.uncached) for name in book.sheets for r in book.rows(name)]
    except FileProblem as exc:
        return [("problem", exc.code, str(exc))]
    finally:
        book.close()


# -- the pieces a sheet is made of -------------------------------------------------------------

TEXTS = st.sampled_from(
    [
        *["合肥市第8标段", "  空格  ", "1e3", "=SUM(A1)", "\t制表\n", "\ufeff", "é", "钢筋 Φ20"] * 3,
        "A&amp;B 公司",
        "x &lt; y",
    ]
)
NUMBERS = st.sampled_from(
    ["1", "-0", "3.14", "1E+308", "46296", "2958466", "nan", "1_0", " 7 ", "abc", "0.1"]
)


@st.composite
def plain_cell(draw: st.DrawFn, ref: str) -> str:
    style = draw(st.sampled_from(["", ' s="1"', ' s="0"', ' s="01"']))
    kind = draw(
        st.sampled_from([*["n", "", "", "s", "s", "inlineStr", "inlineStr", "str", "e", "b"] * 3, "d", "x"])
    )
    t = f' t="{kind}"' if kind else ""
    if kind == "inlineStr":
        space = draw(st.sampled_from(["", ' xml:space="preserve"']))
        return f'<c r="{ref}"{style}{t}><is><t{space}>{draw(TEXTS)}</t></is></c>'
    if kind == "s":
        return f'<c r="{ref}"{style}{t}><v>{draw(st.sampled_from(["0", "1", "2", "0", "1", "2", "0", "3", "x", "02"]))}</v></c>'
    if kind == "b":
        return f'<c r="{ref}"{t}><v>{draw(st.sampled_from(["0", "1", "2"]))}</v></c>'
    if kind in ("str", "e"):
        return f'<c r="{ref}"{t}><v>{draw(TEXTS)}</v></c>'
    if kind == "d":
        return f'<c r="{ref}"{t}><v>2026-10-05T08:30:00</v></c>'
    empty = draw(st.sampled_from(["", "/", "empty"]))
    if empty == "/":
        return f'<c r="{ref}"{style}{t}/>'
    if empty == "empty":
        return f'<c r="{ref}"{style}{t}></c>'
    return f'<c r="{ref}"{style}{t}><v>{draw(NUMBERS)}</v></c>'


ODD_CELLS = st.sampled_from(
    [
        '<c r="{col}{row}"><f>1+1</f><v>2</v></c>',
        '<c r="{col}{row}"><f>1+1</f></c>',
        '<c r="{col}{other}"><v>1</v></c>',
        '<c r="{col}0{row}"><v>1</v></c>',
        '<c r="XFE{row}"><v>1</v></c>',
        "<c><v>5</v></c>",
        '<c r="{col}{row}" t="s"><v></v></c>',
        '<c r="{col}{row}" t="s"><v>99</v></c>',
        '<c r="{col}{row}"><v>&#49;</v></c>',
        '<c r="{col}{row}" t="str"><v>a&nbsp;b</v></c>',
        '<c r="{col}{row}" t="str"><v>a&b</v></c>',
        '<c r="{col}{row}" t="str"><v>\udcff</v></c>',  # a byte that is not UTF-8 (0xFF)
        '<c r="{col}{row}"><v>\uff11\uff12</v></c>',  # full-width digits: a number to float
        '<c r="{col}{row}" t="str"><v>a\r\nb</v></c>',
        '<c r="{col}{row}" t="str"><v>a\x01b</v></c>',
        '<c r="{col}{row}" t="str"><v>x]]>y</v></c>',
        '<c r="{col}{row}" t="str"><v>a\ufffeb</v></c>',
        '<c r="{col}{row}" t="inlineStr"><is><r><t>红</t></r><rPh><t>hong</t></rPh></is></c>',
        '<c r="{col}{row}" t="n" s="1"><v>1</v></c>',
        '<c r="{col}{row}"  s="1"><v>1</v></c>',
        '<c r="{col}{row}" s="x"><v>1</v></c>',
        '<c r="{col}{row}"><v>1</v><!-- c --></c>',
        '<c r="{col}{row}"><v><![CDATA[12]]></v></c>',
        '<x:c r="{col}{row}"><x:v>1</x:v></x:c>',
        '<c r="{col}{row}"><v>1</v></c><c r="{col}{row}"><v>2</v></c>',
    ]
)
ROW_ATTRIBUTES = st.sampled_from(
    [
        *[""] * 12,
        *[' spans="1:13"'] * 4,
        ' spans="1:13"',
        ' spans="1:13" ht="20" customHeight="1"',
        ' x14ac:dyDescent="0.25"',
        ' y:dyDescent="0.25"',
        ' spans="1" spans="2"',
        ' xmlns="urn:other"',
        ' xmlns:q="urn:q"',
        ' ht="\x01"',
        ' r="9"',
        " \n",
    ]
)
BETWEEN = st.sampled_from(
    [
        *[""] * 40,
        "\n  ",
        "\r\n",
        "<!-- a comment <row r='1'/> -->",
        '<![CDATA[<row r="7"/>]]>',
        "<?pi data?>",
        "text between rows",
        "<foo/>",
        '<foo xmlns="urn:other"><row r="1000"><c r="A1000"><v>1</v></c></row></foo>',
        "</sheetData><sheetData>",
        "<row r=",
        "</row>",
    ]
)


@st.composite
def sheet(draw: st.DrawFn) -> bytes:
    parts: list[str] = []
    number = draw(st.sampled_from([0, 0, 0, 2]))
    for _ in range(draw(st.integers(0, 14))):
        step = draw(st.sampled_from([*[1] * 12, 2, 5, 0, -1, 2_000_000]))
        number = max(number + step, 0)
        shown = draw(st.sampled_from([*[str(number)] * 20, f"0{number}", "", "x", "99999999"]))
        r = f' r="{shown}"' if shown else ""
        attributes = draw(ROW_ATTRIBUTES)
        cells: list[str] = []
        column = 0
        for _ in range(draw(st.integers(0, 5))):
            column += draw(st.sampled_from([0, 1, 1, 1, 3]))
            letters = column_letters(column)
            if draw(st.integers(0, 19)) == 0:
                cells.append(draw(ODD_CELLS).format(col=letters, row=shown or number, other=number + 1))
            else:
                cells.append(draw(plain_cell(f"{letters}{shown or number}")))
        if not cells and draw(st.booleans()):
            parts.append(f"<row{r}{attributes}/>")
        else:
            parts.append(f"<row{r}{attributes}>{''.join(cells)}</row>")
        parts.append(draw(BETWEEN))
    declare = draw(st.sampled_from(["", "", ' xmlns:x14ac="urn:x14ac"', ' xmlns:x="urn:x"']))
    prefix = draw(
        st.sampled_from(
            [
                *['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'] * 8,
                "",
                "\ufeff",
                '<?xml version="1.0" encoding="ISO-8859-1"?>',
            ]
        )
    )
    opening = draw(
        st.sampled_from(
            [*["<sheetData>"] * 12, "<sheetData >", '<sheetData xmlns="urn:other">', "<x:sheetData>"]
        )
    )
    closing = "</x:sheetData>" if opening == "<x:sheetData>" else "</sheetData>"
    text = (
        f'{prefix}<worksheet xmlns="{MAIN}" xmlns:r="{RELS}"{declare}><dimension ref="A1"/>'
        f'{opening}{"".join(parts)}{closing}<mergeCells count="1"><mergeCell ref="A1:B1"/></mergeCells></worksheet>'
    )
    data = text.encode(
        "latin-1" if "ISO-8859-1" in prefix and text.isascii() else "utf-8", errors="surrogateescape"
    )
    cut = draw(st.sampled_from([*[None] * 12, -1, -20, -200]))
    return data if cut is None else data[:cut]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=sheet())
def test_the_lane_reads_what_expat_reads(
    data: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_package(tmp_path / "lane.xlsx", {"导出": data}, shared_strings=SHARED)
    # compared as text: a NaN cell is not equal to itself
    assert repr(read(path, True, monkeypatch)) == repr(read(path, False, monkeypatch))


def big_sheet(rows: int, odd_every: int) -> bytes:
    """Several feeds' worth of rows, with an odd row (a formula, an entity) now and then."""
    parts = []
    for n in range(1, rows + 1):
        if odd_every and n % odd_every == 0:
            cells = f'<c r="A{n}"><f>1+1</f><v>2</v></c><c r="B{n}" t="inlineStr"><is><t>A&amp;B</t></is></c>'
        else:
            cells = (
                f'<c r="A{n}"><v>{n}</v></c><c r="B{n}" t="inlineStr"><is><t>合肥市第{n % 50}标段</t></is></c>'
                f'<c r="C{n}" s="1"><v>{46000 + n % 300}</v></c><c r="D{n}" t="s"><v>{n % 3}</v></c>'
            )
        parts.append(f'<row r="{n}" spans="1:4">{cells}</row>')
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns="{MAIN}"><sheetData>{"".join(parts)}'
        "</sheetData></worksheet>"
    ).encode()


@pytest.mark.parametrize("odd_every", [0, 7, 997])
def test_many_rows_across_feeds_read_alike_and_by_the_lane(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, odd_every: int
) -> None:
    path = write_package(tmp_path / "big.xlsx", {"导出": big_sheet(5000, odd_every)}, shared_strings=SHARED)
    taken: list[int] = []
    cells = xlsx_fast.FastRows.cells

    def counted(self: xlsx_fast.FastRows, body: bytes) -> list[Any]:
        out = cells(self, body)
        taken.append(1)
        return out

    monkeypatch.setattr(xlsx_fast.FastRows, "cells", counted)
    fast = read(path, True, monkeypatch)
    assert fast == read(path, False, monkeypatch)
    assert len(fast) == 5000
    # the lane read every plain row; expat only the odd ones
    assert len(taken) == 5000 - (5000 // odd_every if odd_every else 0)


def test_a_row_longer_than_a_feed_and_a_truncated_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wide = "".join(f'<c r="{column_letters(i)}2"><v>{i}</v></c>' for i in range(16000))
    data = (
        f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1"><v>1</v></c></row>'
        f'<row r="2">{wide}</row><row r="3"><c r="A3"><v>3</v></c></row></sheetData></worksheet>'
    ).encode()
    for cut in (len(data), len(data) - 30, len(data) // 2):
        path = write_package(tmp_path / f"wide{cut}.xlsx", {"导出": data[:cut]})
        fast = read(path, True, monkeypatch)
        assert fast == read(path, False, monkeypatch)
        if cut == len(data):
            assert [row[0] for row in fast] == [1, 2, 3]
            assert len(fast[1][1]) == 16000
        else:
            assert fast[-1][2] is not None  # the damage is one bad row, after the rows before it


def test_the_lane_memory_stays_flat(tmp_path: Path) -> None:
    count, peak = streamed_peak(write_package(tmp_path / "flat.xlsx", {"导出": big_sheet(20000, 0)}))
    assert count == 20000
    assert peak < 4 << 20  # a feed or two and the row in hand, not the sheet (3.5 MB of XML)


@pytest.mark.parametrize("cut", [None, -40])
def test_the_preflight_finds_the_merged_ranges_the_reader_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cut: int | None
) -> None:
    monkeypatch.setattr(xlsx_stream, "STREAM_BYTES", 0)  # every sheet read by the streaming reader
    merges = "".join(f'<mergeCell ref="A{n}:C{n}"/>' for n in (1, 5, 999, 1000, 1001, 5000))
    data = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns="{MAIN}"><sheetData>'
        + "".join(f'<row r="{n}"><c r="A{n}"><v>{n}</v></c></row>' for n in range(1, 3000))
        + f'</sheetData><mergeCells count="6">{merges}</mergeCells></worksheet>'
    ).encode()
    path = write_package(tmp_path / "merged.xlsx", {"导出": data if cut is None else data[:cut]})
    book = StreamedWorkbook(str(path))
    expected = book.merged("导出")
    member = book.member("导出")
    book.close()
    assert expected[:3] == [((0, 0), (0, 2)), ((4, 0), (4, 2)), ((998, 0), (998, 2))]
    assert preflight.inspect(path, "zip").sheets[member].merges == expected

    def again(self: StreamedWorkbook, name: str) -> list[Any]:
        raise AssertionError("the sheet inflated a second time for its merged ranges")

    monkeypatch.setattr(StreamedWorkbook, "merged", again)
    opened = open_file(path)
    assert opened.sheet("导出").merged == expected  # the preflight's, from its own pass
    opened.close()
