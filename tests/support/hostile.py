"""A corpus of malformed inputs, each carrying known good rows, for `bench/hostile_inputs.py`.

Every file case is an export of one import kind whose good rows have keys no other case uses, plus
one defect: a bad value in one column, a broken quote, bytes no encoding reads, a damaged or
bomb-shaped container, an HTML table written the lazy way. `expect` says what must happen:

- ``rows``: the file is readable around its defect, so every good row must be imported;
- ``refused``: nothing of the file can be read (a cut zip, random bytes); a clear message is the
  right answer, and the good rows in it are counted apart, never as silently lost;
- ``either``: random damage (flipped bytes) that may or may not leave the file readable.

Webhook cases are bodies and headers for `POST /webhooks/{connection}`, each followed by one good
signed event that must be stored. Everything is generated from a fixed seed, so a run can be
repeated; the slow, large cases (tens of MB of XML from a small zip, a 17 MB line) appear only at
`scale="full"`.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

import xlwt

from tests.support.spreadsheets import CARD, GOOD, id_number, luhn
from yecai.files.bounds import column_letters

Cell = Any


@dataclass(frozen=True)
class Raw:
    """A cell whose XML is written as given (for malformed cells: `<c r="A1" t="x">`)."""

    xml: str


@dataclass
class FileCase:
    name: str
    family: str
    kind: str
    filename: str
    make: Callable[[], bytes]
    good: frozenset[str]  # document keys of the rows that must land
    expect: str = "rows"  # rows | refused | either
    big: bool = False


@dataclass
class HookCase:
    name: str
    family: str
    body: bytes
    headers: Callable[[bytes, Callable[[str, bytes], str]], dict[str, Any]]
    good_key: str  # the record id of the good event sent right after


@dataclass
class Corpus:
    files: list[FileCase] = field(default_factory=list)
    hooks: list[HookCase] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.files) + len(self.hooks)


# -- good rows with unique keys ---------------------------------------------------------------

KEY_COLUMN = {
    "cost": "单据编号",
    "invoice": "发票号码",
    "payment_request": "申请单号",
    "worker": "身份证号码",
}
KINDS = tuple(KEY_COLUMN)


def _worker_id(tag: int, i: int) -> str:
    from yecai.domain.identifiers import id_number_check_digit

    first = f"11010519{80 + tag % 20:02d}{1 + tag // 20 % 12:02d}{1 + tag // 240 % 28:02d}{i:03d}"
    return first + id_number_check_digit(first)


def good_rows(kind: str, tag: int, count: int = 3) -> tuple[list[str], list[list[Cell]], list[str]]:
    """The kind's header and `count` good rows whose keys carry `tag`, and those keys."""
    header, rows, _ = GOOD[kind]
    column = header.index(KEY_COLUMN[kind])
    out: list[list[Cell]] = []
    keys: list[str] = []
    for i in range(count):
        row = list(rows[i % len(rows)])
        if kind == "worker":
            key = _worker_id(tag, 100 + i)
        elif kind == "invoice":
            key = f"{tag:06d}{i:02d}"
        else:
            key = f"H{tag:05d}-{i}"
        row[column] = key
        if kind == "worker":
            row[header.index("银行卡号")] = CARD if i % 2 else luhn("621700123456789012")
        out.append(row)
        keys.append(key)
    return list(header), out, keys


def bad_row(kind: str, tag: int, column: int, value: Cell) -> list[Cell]:
    header, rows, _ = GOOD[kind]
    row = list(rows[0])
    key = header.index(KEY_COLUMN[kind])
    row[key] = (
        _worker_id(tag, 900)
        if kind == "worker"
        else (f"{tag:06d}99" if kind == "invoice" else f"H{tag:05d}-X")
    )
    row[column] = value
    return row


def with_bad(kind: str, tag: int, column: int, value: Cell) -> tuple[list[list[Cell]], frozenset[str]]:
    """Header, good, BAD, good, good: the bad row sits between good ones (a swallowing bug shows)."""
    header, good, keys = good_rows(kind, tag)
    table = [header, good[0], bad_row(kind, tag, column, value), good[1], good[2]]
    if column == header.index(KEY_COLUMN[kind]):
        return table, frozenset(keys)
    return table, frozenset(keys)


# -- writers: CSV, HTML, xls, and a minimal hand-written xlsx ----------------------------------


def _shown(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return format(value, ".15g")
    if isinstance(value, Raw):
        return value.xml
    return str(value)


def csv_bytes(rows: Sequence[Sequence[Cell]], encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    out = []
    for row in rows:
        cells = []
        for value in row:
            text = _shown(value)
            if any(ch in text for ch in (delimiter, '"', "\n", "\r")):
                text = '"' + text.replace('"', '""') + '"'
            cells.append(text)
        out.append(delimiter.join(cells))
    return ("\r\n".join(out) + "\r\n").encode(encoding, errors="surrogatepass")


def html_bytes(rows: Sequence[Sequence[Cell]], *, end_tags: bool = True, attrs: str = "") -> bytes:
    parts = ["<html><head><meta charset='utf-8'></head><body><table border=1>"]
    for row in rows:
        parts.append("<tr>")
        for value in row:
            text = escape(_shown(value))
            parts.append(f"<td{attrs}>{text}" + ("</td>" if end_tags else ""))
        if end_tags:
            parts.append("</tr>")
    parts.append("</table></body></html>")
    return "".join(parts).encode("utf-8", errors="surrogatepass")


def xls_bytes(rows: Sequence[Sequence[Cell]]) -> bytes:
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("导出")
    day = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, dt.date):
                sheet.write(r, c, value, day)
            elif isinstance(value, str):
                sheet.write(r, c, value[:32767])
            else:
                sheet.write(r, c, value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _serial(value: dt.date) -> float:
    return float((value - dt.date(1899, 12, 30)).days)


def cell_xml(ref: str, value: Cell) -> str:
    if isinstance(value, Raw):
        return value.xml
    if value is None:
        return ""
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, dt.date):
        return f'<c r="{ref}" s="1"><v>{_serial(value):g}</v></c>'
    if isinstance(value, int | float):
        return f'<c r="{ref}"><v>{value!r}</v></c>'
    text = escape(str(value)).replace("\ud800", "")
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def sheet_xml(
    rows: Sequence[Sequence[Cell]],
    *,
    dimension: str | None = None,
    numbers: Sequence[int] | None = None,
    extra: str = "",
    tail: str = "</sheetData></worksheet>",
) -> str:
    out = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">',
    ]
    if dimension:
        out.append(f'<dimension ref="{dimension}"/>')
    out.append("<sheetData>")
    for index, row in enumerate(rows):
        number = numbers[index] if numbers else index + 1
        cells = "".join(cell_xml(f"{column_letters(c)}{number}", v) for c, v in enumerate(row))
        out.append(f'<row r="{number}">{cells}</row>')
    out.append(extra)
    out.append(tail)
    return "".join(out)


_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="1"><font/></fonts><fills count="1"><fill/></fills><borders count="1"><border/></borders>'
    '<cellStyleXfs count="1"><xf/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/></cellXfs>'
    "</styleSheet>"
)


def xlsx_bytes(sheet: str, *, date1904: bool = False, compress: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A minimal, valid xlsx package around one sheet's XML (inline strings, one date style)."""
    pr = '<workbookPr date1904="1"/>' if date1904 else ""
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'spreadsheetml.styles+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f'{pr}<sheets><sheet name="导出" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/styles" Target="styles.xml"/></Relationships>'
        ),
        "xl/styles.xml": _STYLES,
        "xl/worksheets/sheet1.xml": sheet,
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compress) as package:
        for name, text in parts.items():
            package.writestr(name, text.encode("utf-8", errors="surrogatepass"))
    return out.getvalue()


def xlsx_of(rows: Sequence[Sequence[Cell]], **kwargs: Any) -> bytes:
    return xlsx_bytes(sheet_xml(rows, **kwargs))


def ods_bytes(content: str) -> bytes:
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/'
        'vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        package.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        package.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
        package.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def ods_content(rows: Sequence[Sequence[Cell]], extra_rows: str = "") -> str:
    body = []
    for row in rows:
        cells = []
        for value in row:
            if value is None:
                cells.append("<table:table-cell/>")
            elif isinstance(value, int | float) and not isinstance(value, bool):
                cells.append(
                    f'<table:table-cell office:value-type="float" office:value="{value!r}"><text:p>{value}</text:p>'
                    "</table:table-cell>"
                )
            else:
                cells.append(f"<table:table-cell><text:p>{escape(_shown(value))}</text:p></table:table-cell>")
        body.append("<table:table-row>" + "".join(cells) + "</table:table-row>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        '<office:body><office:spreadsheet><table:table table:name="导出">'
        + "".join(body)
        + extra_rows
        + "</table:table></office:spreadsheet></office:body></office:document-content>"
    )


# -- the corpus ----------------------------------------------------------------------------------

# Values a hostile or careless exporter puts in a cell: non-numbers, formulas, lookalikes, control
# characters, out-of-range dates, giants. Some are acceptable in some columns (a formula-looking
# text in a text column is kept, guarded); the case only asks that the good rows beside it land.
BAD_VALUES: tuple[tuple[str, Cell], ...] = (
    ("nan", float("nan")),
    ("inf", float("inf")),
    ("-inf", float("-inf")),
    ("text-nan", "NaN"),
    ("1e309", "1e309"),
    ("1e-400", "1e-400"),
    ("huge-int", 10**30),
    ("400-nines", "9" * 400),
    ("formula", '=HYPERLINK("http://evil.example","点我")'),
    ("dde", "=cmd|' /C calc'!A0"),
    ("at-formula", "@SUM(1+1)*cmd|' /C calc'!A0"),
    ("plus-minus", "+-1"),
    ("zero-width", "XM2026001\u200b"),
    ("rtl", "\u202e1000"),
    ("nul", "A\x00B"),
    ("control", "\x07\x1b[31m"),
    ("date-min", "0001-01-01"),
    ("date-max", "9999-12-31"),
    ("date-bad", "2026-02-30"),
    ("hour-25", "2026-10-05T25:00"),
    ("sql", "'; DROP TABLE records; --"),
    ("script", "<script>alert(1)</script>"),
    ("long-40k", "长" * 40000),
    ("emoji", "🏗️💰"),
    ("negative-paren", "（1,000.00）"),
    ("three-decimals", "1.005"),
    ("blank", " "),
)
FORMATS = ("csv", "csv-gbk", "xlsx", "xls", "html", "tsv")


def _file_for(fmt: str, table: list[list[Cell]], stem: str) -> tuple[str, Callable[[], bytes]]:
    if fmt == "csv":
        return f"{stem}.csv", lambda: csv_bytes(table)
    if fmt == "tsv":
        return f"{stem}.tsv", lambda: csv_bytes(table, delimiter="\t")
    if fmt == "csv-gbk":
        # what GBK cannot hold is written as ? (as Excel's "save as CSV" does): the row stays a row
        return f"{stem}.csv", lambda: csv_bytes(
            [[_gbk_safe(v) for v in row] for row in table], encoding="gbk"
        )
    if fmt == "xlsx":
        return f"{stem}.xlsx", lambda: xlsx_of(table)
    if fmt == "xls":
        return f"{stem}.xls", lambda: xls_bytes(table)
    return f"{stem}.xls", lambda: html_bytes(table)


def _gbk_safe(value: Cell) -> Cell:
    if isinstance(value, str):
        return value.encode("gbk", errors="replace").decode("gbk")
    return value


class _Tags:
    def __init__(self) -> None:
        self.next = 1

    def __call__(self) -> int:
        self.next += 1
        return self.next


def column_cases(tags: _Tags, *, every: int = 1) -> Iterator[FileCase]:
    """Every column of every keyed kind × every bad value, in a rotating format."""
    n = 0
    for kind in KINDS:
        header = GOOD[kind][0]
        for column, title in enumerate(header):
            for label, value in BAD_VALUES:
                n += 1
                if n % every:
                    continue
                fmt = FORMATS[n % len(FORMATS)]
                if fmt == "xls" and isinstance(value, str) and ("\x00" in value or len(value) > 32767):
                    fmt = "csv"
                tag = tags()
                table, keys = with_bad(kind, tag, column, value)
                name, make = _file_for(fmt, table, f"{kind}-{tag}")
                yield FileCase(f"column/{kind}/{title}/{label}/{fmt}", "column", kind, name, make, keys)


def _cost(tags: _Tags) -> tuple[int, list[str], list[list[Cell]], list[str]]:
    tag = tags()
    header, rows, keys = good_rows("cost", tag)
    return tag, header, rows, keys


def text_cases(tags: _Tags) -> Iterator[FileCase]:
    """Encodings, bad bytes, quoting, long lines, delimiters."""
    bad_bytes = {
        "lone-80": b"\x80",
        "ff": b"\xff\xfe\xfd",
        "cut-utf8": "工".encode()[:2],
        "cut-gbk": "工".encode("gbk")[:1],
        "c0-overlong": b"\xc0\xaf",
        "surrogate-utf8": b"\xed\xa0\x80",
        "nul-run": b"\x00" * 50,
        "utf16-ish": "工程".encode("utf-16-le"),
    }
    for codec in ("utf-8", "utf-8-sig", "gbk", "gb18030"):
        for label, junk in bad_bytes.items():
            tag, header, rows, keys = _cost(tags)
            lines = csv_bytes([header, rows[0]], encoding=codec)
            bad = csv_bytes(
                [[f"H{tag:05d}-X", "XM2026001", "人工费", "2026-10-05", "x", 1, "个", 1, 1, None, "乙"]]
            )
            bad = bad.replace(b"x", junk, 1)
            rest = csv_bytes(rows[1:], encoding="gbk" if codec.startswith("gb") else "utf-8")
            content = lines + bad + rest
            yield FileCase(
                f"encoding/{codec}/{label}",
                "encoding",
                "cost",
                f"cost-{tag}.csv",
                lambda c=content: c,
                frozenset(keys),
            )
    # a BOM, then bytes that its encoding cannot read
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        tag, header, rows, keys = _cost(tags)
        good_text = csv_bytes([header, *rows], encoding=codec)
        content = bom + good_text + (b"\xff\xd8\xff" if codec == "utf-8" else b"\x00\xd8\x41")
        yield FileCase(
            f"encoding/bom-then-junk/{codec}",
            "encoding",
            "cost",
            f"cost-{tag}.csv",
            lambda c=content: c,
            frozenset(keys),
        )
    # mixed line ends, a file that is GBK except one UTF-8 line, and the reverse
    for label in ("gbk-with-utf8-line", "utf8-with-gbk-line", "cr-only", "mixed-ends"):
        tag, header, rows, keys = _cost(tags)
        if label == "gbk-with-utf8-line":
            line = f"H{tag:05d}-X,XM2026001,人工费,2026-10-05,乱码行,1,个,1,1,,乙\r\n"
            content = csv_bytes([header, rows[0]], "gbk") + line.encode() + csv_bytes(rows[1:], "gbk")
        elif label == "utf8-with-gbk-line":
            line = f"H{tag:05d}-X,XM2026001,人工费,2026-10-05,乱码行,1,个,1,1,,乙\r\n"
            content = csv_bytes([header, rows[0]]) + line.encode("gbk") + csv_bytes(rows[1:])
        elif label == "cr-only":
            content = csv_bytes([header, *rows]).replace(b"\r\n", b"\r")
        else:
            content = csv_bytes([header, *rows]).replace(b"\r\n", b"\n", 2)
        yield FileCase(
            f"encoding/{label}", "encoding", "cost", f"cost-{tag}.csv", lambda c=content: c, frozenset(keys)
        )
    # CSV quoting errors between good rows
    quoting = {
        "unclosed-quote": '"H{t:05d}-X,XM2026001,人工费,2026-10-05,未闭合引号,1,个,1,1,,乙',
        "quote-mid-field": 'H{t:05d}-X,XM2026001,人工费,2026-10-05,5"钢管,1,个,1,1,,乙',
        "stray-closing": 'H{t:05d}-X,XM2026001,人工费,2026-10-05,"abc"def,1,个,1,1,,乙',
        "many-quotes": 'H{t:05d}-X,XM2026001,人工费,2026-10-05,"""""""""",1,个,1,1,,乙',
        "quote-at-eol": 'H{t:05d}-X,XM2026001,人工费,2026-10-05,abc,1,个,1,1,,"',
        "extra-columns": "H{t:05d}-X,XM2026001,人工费,2026-10-05,abc,1,个,1,1,,乙,,,,,,,,,,,,,,,,,,,,,,,,,x",
        "too-few-columns": "H{t:05d}-X,XM2026001",
        "semicolons": "H{t:05d}-X;XM2026001;人工费;2026-10-05;abc;1;个;1;1;;乙",
    }
    for position in ("middle", "last"):
        for label, template in quoting.items():
            tag, header, rows, keys = _cost(tags)
            line = (template.format(t=tag) + "\r\n").encode()
            before = csv_bytes([header, rows[0]] if position == "middle" else [header, *rows])
            after = csv_bytes(rows[1:]) if position == "middle" else b""
            content = before + line + after
            yield FileCase(
                f"quoting/{label}/{position}",
                "quoting",
                "cost",
                f"cost-{tag}.csv",
                lambda c=content: c,
                frozenset(keys),
            )
    # a quoted cell that legitimately spans lines must still be one row
    tag, header, rows, keys = _cost(tags)
    rows[1][5] = "第一行\n第二行\n第三行"
    yield FileCase(
        "quoting/multiline-cell",
        "quoting",
        "cost",
        f"cost-{tag}.csv",
        lambda r=[header, *rows]: csv_bytes(r),
        frozenset(keys),
    )


def huge_cases(tags: _Tags, *, full: bool) -> Iterator[FileCase]:
    """Huge cells and lines: the good rows around them must land, memory must stay bounded."""
    sizes = [("1mb", 1 << 20)] + ([("17mb", 17 << 20)] if full else [("3mb", 3 << 20)])
    for label, size in sizes:
        for where in ("first", "middle"):
            tag, header, rows, keys = _cost(tags)
            big = f"H{tag:05d}-X,XM2026001,人工费,2026-10-05,{'长' * (size // 3)},1,个,1,1,,乙\r\n".encode()
            if where == "first":
                content = csv_bytes([header]) + big + csv_bytes(rows)
            else:
                content = csv_bytes([header, rows[0]]) + big + csv_bytes(rows[1:])
            yield FileCase(
                f"huge/line-{label}/{where}",
                "huge",
                "cost",
                f"cost-{tag}.csv",
                lambda c=content: c,
                frozenset(keys),
                big=size > (4 << 20),
            )
    # a very wide row, and 200k blank lines before the good rows' footer
    tag, header, rows, keys = _cost(tags)
    wide = [
        f"H{tag:05d}-X",
        "XM2026001",
        "人工费",
        "2026-10-05",
        "宽",
        1,
        "个",
        1,
        1,
        None,
        "乙",
        *(["x"] * 20000),
    ]
    table = [header, rows[0], wide, rows[1], rows[2]]
    for fmt in ("csv", "xlsx"):
        yield FileCase(
            f"huge/wide-row/{fmt}",
            "huge",
            "cost",
            f"cost-{tag}.{fmt}",
            (lambda t=table: csv_bytes(t)) if fmt == "csv" else (lambda t=table: xlsx_of(t)),
            frozenset(keys),
        )
        tag, header, rows, keys = _cost(tags)
        wide = [f"H{tag:05d}-X", *wide[1:]]
        table = [header, rows[0], wide, rows[1], rows[2]]
    tag, header, rows, keys = _cost(tags)
    content = csv_bytes([header, *rows]) + b"\r\n" * (200_000 if full else 20_000) + b"x\r\n"
    yield FileCase(
        "huge/blank-lines", "huge", "cost", f"cost-{tag}.csv", lambda c=content: c, frozenset(keys)
    )


def html_cases(tags: _Tags, *, full: bool) -> Iterator[FileCase]:
    for end_tags in (True, False):
        for charset in ("utf-8", "gbk"):
            tag, header, rows, keys = _cost(tags)
            content = html_bytes([header, *rows], end_tags=end_tags)
            if charset == "gbk":
                content = content.decode().replace("charset='utf-8'", "charset='gbk'").encode("gbk")
            yield FileCase(
                f"html/end-tags={end_tags}/{charset}",
                "html",
                "cost",
                f"cost-{tag}.xls",
                lambda c=content: c,
                frozenset(keys),
            )
    # span bombs: a few cells spanning 1000×1000, before and after the good rows
    spans = 'rowspan="1000" colspan="1000"'
    for count in (1, 10, 50 if full else 20):
        tag, header, rows, keys = _cost(tags)
        table = html_bytes([header, *rows]).decode()
        bomb = "<tr>" + f"<td {spans}>x</td>" * count + "</tr>"
        content = table.replace("</table>", bomb + "</table>").encode()
        yield FileCase(
            f"html/span-bomb/{count}", "html", "cost", f"cost-{tag}.xls", lambda c=content: c, frozenset(keys)
        )
    # nested tables, a table-less page, unbalanced tags, an HTML comment that never ends
    tag, header, rows, keys = _cost(tags)
    nested = (
        html_bytes([header, *rows])
        .decode()
        .replace("<td>钢筋班组", "<td><table><tr><td>内</td></tr></table>钢筋班组")
    )
    yield FileCase(
        "html/nested-table", "html", "cost", f"cost-{tag}.xls", lambda c=nested.encode(): c, frozenset(keys)
    )
    tag, header, rows, keys = _cost(tags)
    yield FileCase(
        "html/no-table",
        "html",
        "cost",
        f"cost-{tag}.xls",
        lambda: "<html><body><p>无数据</p></body></html>".encode(),
        frozenset(),
        "refused",
    )
    tag, header, rows, keys = _cost(tags)
    broken = html_bytes([header, *rows]).decode().replace("</table>", "<!-- never closed <tr><td>x")
    yield FileCase(
        "html/open-comment", "html", "cost", f"cost-{tag}.xls", lambda c=broken.encode(): c, frozenset(keys)
    )


def workbook_cases(tags: _Tags, *, full: bool) -> Iterator[FileCase]:
    """Bombs, damaged packages and malformed sheet XML."""
    # cells far away: calamine would allocate the whole grid from A1
    for label, ref_row, col in (
        ("XFD1048576", 1048576, 16383),
        ("ZZ1000000", 1000000, 701),
        ("A1048576", 1048576, 0),
    ):
        tag, header, rows, keys = _cost(tags)
        far = Raw(f'<c r="{column_letters(col)}{ref_row}"><v>1</v></c>')
        table = [header, *rows]
        xml = sheet_xml(
            table, extra=f'<row r="{ref_row}">{far.xml}</row>', dimension=f"A1:{column_letters(col)}{ref_row}"
        )
        yield FileCase(
            f"workbook/far-cell/{label}",
            "workbook",
            "cost",
            f"cost-{tag}.xlsx",
            lambda x=xml: xlsx_bytes(x),
            frozenset(keys),
        )
    tag, header, rows, keys = _cost(tags)
    xml = sheet_xml([header, *rows], dimension="A1:XFD1048576")
    yield FileCase(
        "workbook/dimension-lies",
        "workbook",
        "cost",
        f"cost-{tag}.xlsx",
        lambda x=xml: xlsx_bytes(x),
        frozenset(keys),
    )
    # a storm of merged ranges on a sheet as wide as Excel: layout detection must stay linear
    tag, header, rows, keys = _cost(tags)
    storm = "".join(
        f'<mergeCell ref="{column_letters(i % 16000)}{6 + i % 30}:'
        f'{column_letters(min(i % 16000 + 500, 16383))}{6 + i % 30}"/>'
        for i in range(10_000)
    )
    xml = sheet_xml(
        [header, *rows],
        extra='<row r="5"><c r="XFD5"><v>1</v></c></row>',
        tail=f'</sheetData><mergeCells count="10000">{storm}</mergeCells></worksheet>',
    )
    yield FileCase(
        "workbook/merge-storm",
        "workbook",
        "cost",
        f"cost-{tag}.xlsx",
        lambda x=xml: xlsx_bytes(x),
        frozenset(keys),
    )
    # malformed attributes in ONE row between good rows
    malformed = {
        "r-text": '<row r="x"><c r="A{n}"><v>1</v></c></row>',
        "r-negative": '<row r="-5"><c r="A1"><v>1</v></c></row>',
        "r-huge": '<row r="99999999999"><c r="A1"><v>1</v></c></row>',
        "cell-ref-ZZZZZZZ": '<row r="{n}"><c r="ZZZZZZZ{n}"><v>1</v></c></row>',
        "cell-ref-junk": '<row r="{n}"><c r="1A"><v>1</v></c></row>',
        "style-text": '<row r="{n}"><c r="A{n}" s="x"><v>1</v></c></row>',
        "style-huge": '<row r="{n}"><c r="A{n}" s="99999999"><v>1</v></c></row>',
        "type-unknown": '<row r="{n}"><c r="A{n}" t="zzz"><v>1</v></c></row>',
        "shared-string-missing": '<row r="{n}"><c r="A{n}" t="s"><v>12345</v></c></row>',
        "shared-string-text": '<row r="{n}"><c r="A{n}" t="s"><v>abc</v></c></row>',
        "bool-junk": '<row r="{n}"><c r="A{n}" t="b"><v>7</v></c></row>',
        "value-nan": '<row r="{n}"><c r="J{n}"><v>NaN</v></c></row>',
        "value-inf": '<row r="{n}"><c r="J{n}"><v>INF</v></c></row>',
        "value-1e999": '<row r="{n}"><c r="J{n}"><v>1e999</v></c></row>',
        "date-iso-junk": '<row r="{n}"><c r="E{n}" t="d"><v>not-a-date</v></c></row>',
        "serial-huge-date": '<row r="{n}"><c r="E{n}" s="1"><v>2958465</v></c></row>',
        "serial-negative-date": '<row r="{n}"><c r="E{n}" s="1"><v>-700000</v></c></row>',
    }
    for label, template in malformed.items():
        tag, header, rows, keys = _cost(tags)
        head = sheet_xml([header, rows[0]]).split("</sheetData>")[0]
        bad = template.format(n=3)
        after = "".join(
            f'<row r="{4 + i}">'
            + "".join(cell_xml(f"{column_letters(c)}{4 + i}", v) for c, v in enumerate(row))
            + "</row>"
            for i, row in enumerate(rows[1:])
        )
        xml = head + bad + after + "</sheetData></worksheet>"
        yield FileCase(
            f"workbook/malformed/{label}",
            "workbook",
            "cost",
            f"cost-{tag}.xlsx",
            lambda x=xml: xlsx_bytes(x),
            frozenset(keys),
        )
    # the 1904 date system with the largest serial Excel knows
    tag, header, rows, keys = _cost(tags)
    rows[0][4] = "2026-10-05"  # a serial would mean another day in the 1904 system
    table = [header, *rows]
    xml = sheet_xml(table).replace(
        "</sheetData>", '<row r="9"><c r="E9" s="1"><v>2958465</v></c></row></sheetData>'
    )
    yield FileCase(
        "workbook/date1904-max-serial",
        "workbook",
        "cost",
        f"cost-{tag}.xlsx",
        lambda x=xml: xlsx_bytes(x, date1904=True),
        frozenset(keys),
    )
    # a duplicated row number: the first row 2 must not be replaced by the second
    tag, header, rows, keys = _cost(tags)
    dup = bad_row("cost", tag, 9, 1)
    xml = sheet_xml([header, rows[0], dup, rows[1], rows[2]], numbers=[1, 2, 2, 3, 4])
    yield FileCase(
        "workbook/duplicate-row",
        "workbook",
        "cost",
        f"cost-{tag}.xlsx",
        lambda x=xml: xlsx_bytes(x),
        frozenset(keys),
    )
    tag, header, rows, keys = _cost(tags)
    xml = sheet_xml([header, rows[0], rows[1], rows[2]], numbers=[1, 5, 3, 6])
    # which of the two Excel would keep is not defined: no promise beyond "no crash"
    yield FileCase(
        "workbook/rows-backwards",
        "workbook",
        "cost",
        f"cost-{tag}.xlsx",
        lambda x=xml: xlsx_bytes(x),
        frozenset(keys),
        "either",
    )
    # a malformed tail after the good rows
    for label, tail in (
        ("cut", '<row r="9"><c r="A9"><v>1'),
        ("garbage", "</sheetData><<<>>>&&&"),
        ("no-end", ""),
    ):
        tag, header, rows, keys = _cost(tags)
        xml = sheet_xml([header, *rows], tail=tail)
        yield FileCase(
            f"workbook/bad-tail/{label}",
            "workbook",
            "cost",
            f"cost-{tag}.xlsx",
            lambda x=xml: xlsx_bytes(x),
            frozenset(keys),
        )
    # NaN / Inf in xls (BIFF numbers)
    for label, value in (("nan", float("nan")), ("inf", float("inf")), ("-inf", float("-inf"))):
        tag = tags()
        table, keys = with_bad("cost", tag, 9, value)
        yield FileCase(
            f"workbook/xls-{label}", "workbook", "cost", f"cost-{tag}.xls", lambda t=table: xls_bytes(t), keys
        )
    # bombs from a small zip: a huge comment, a huge run of empty rows, huge shared strings
    mb = 70 if full else 8
    tag, header, rows, keys = _cost(tags)
    comment = "<!--" + " " * (mb << 20) + "-->"
    xml = sheet_xml([header, *rows], extra=comment)
    yield FileCase(
        f"workbook/comment-{mb}mb",
        "workbook",
        "cost",
        f"cost-{tag}.xlsx",
        lambda x=xml: xlsx_bytes(x),
        frozenset(keys),
        "refused",  # inflating a thousandfold, it is a compression bomb: refused whole, by name
        big=full,
    )
    tag, header, rows, keys = _cost(tags)
    empty_rows = "".join(f'<row r="{n}"/>' for n in range(10, 10 + (2_000_000 if full else 100_000)))
    xml = sheet_xml([header, *rows]).replace("</sheetData>", empty_rows + "</sheetData>")
    yield FileCase(
        "workbook/many-empty-rows",
        "workbook",
        "cost",
        f"cost-{tag}.xlsx",
        lambda x=xml: xlsx_bytes(x),
        frozenset(keys),
        big=full,
    )
    tag, header, rows, keys = _cost(tags)
    odd = "".join(
        f'<row r="{n}"><c r="A{n}" s="{n}" t="n"><v>{n}</v></c></row>'
        for n in range(10, 10 + (300_000 if full else 30_000))
    )
    xml = sheet_xml([header, *rows]).replace("</sheetData>", odd + "</sheetData>")
    yield FileCase(
        "workbook/many-bad-styles",
        "workbook",
        "cost",
        f"cost-{tag}.xlsx",
        lambda x=xml: xlsx_bytes(x),
        frozenset(keys),
        big=full,
    )
    # ods with a huge repeat of a non-empty cell
    for label, repeat in (("cols", 'table:number-columns-repeated="16384"'), ("rows", "")):
        tag, header, rows, keys = _cost(tags)
        if label == "cols":
            extra = f'<table:table-row><table:table-cell {repeat} office:value-type="float" office:value="1"/></table:table-row>'
        else:
            extra = (
                '<table:table-row table:number-rows-repeated="1048000">'
                '<table:table-cell table:number-columns-repeated="1000" office:value-type="float" office:value="1"/>'
                "</table:table-row>"
            )
        content = ods_content([header, *rows], extra)
        yield FileCase(
            f"workbook/ods-repeat-{label}",
            "workbook",
            "cost",
            f"cost-{tag}.ods",
            lambda c=content: ods_bytes(c),
            frozenset(keys),
            "either",
        )
    # damaged packages: cut at many points, flipped bytes, wrong magic, not a workbook at all
    tag, header, rows, keys = _cost(tags)
    whole = xlsx_of([header, *rows])
    rng = random.Random(1109)
    for cut in sorted(
        {int(len(whole) * f) for f in (0.05, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.99)}
        | {len(whole) - 1, len(whole) - 22}
    ):
        yield FileCase(
            f"workbook/truncated-{cut}",
            "damaged",
            "cost",
            f"cost-{tag}-cut{cut}.xlsx",
            lambda c=whole[:cut]: c,
            frozenset(keys),
            "either",
        )
    for flip in range(40):
        data = bytearray(whole)
        for _ in range(1 + flip % 5):
            at = rng.randrange(len(data))
            data[at] ^= 1 << rng.randrange(8)
        yield FileCase(
            f"workbook/flipped-{flip}",
            "damaged",
            "cost",
            f"cost-{tag}-flip{flip}.xlsx",
            lambda c=bytes(data): c,
            frozenset(keys),
            "either",
        )
    xls = xls_bytes([header, *rows])
    for flip in range(20):
        data = bytearray(xls)
        for _ in range(1 + flip % 4):
            at = rng.randrange(len(data))
            data[at] = rng.randrange(256)
        yield FileCase(
            f"workbook/xls-flipped-{flip}",
            "damaged",
            "cost",
            f"cost-{tag}-xflip{flip}.xls",
            lambda c=bytes(data): c,
            frozenset(keys),
            "either",
        )
    for label, content in (
        ("random-bytes", bytes(rng.randrange(256) for _ in range(4096))),
        ("zip-empty", _empty_zip()),
        ("zip-no-workbook", _zip_of({"hello.txt": b"hi"})),
        ("ole-magic-only", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600),
        ("pk-magic-only", b"PK\x03\x04" + b"\x00" * 100),
        ("png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100),
        ("pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"),
    ):
        yield FileCase(
            f"workbook/{label}",
            "damaged",
            "cost",
            f"cost-{tags()}-{label}.xlsx",
            lambda c=content: c,
            frozenset(),
            "refused",
        )
    # zip bombs by the container: one member claiming far more than it holds, or one very deep ratio
    tag, header, rows, keys = _cost(tags)
    yield FileCase(
        "workbook/zip-big-member",
        "workbook",
        "cost",
        f"cost-{tag}.xlsx",
        lambda: _zip_of({"xl/workbook.xml": b" " * ((300 if full else 30) << 20)}),
        frozenset(),
        "refused",
        big=full,
    )


def _empty_zip() -> bytes:
    out = io.BytesIO()
    zipfile.ZipFile(out, "w").close()
    return out.getvalue()


def _zip_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in members.items():
            package.writestr(name, data)
    return out.getvalue()


# -- webhooks ------------------------------------------------------------------------------------


def hook_event(
    event_id: str, record: str, *, amount: str = "100.00", kind: str = "cost_record.created"
) -> dict:
    return {
        "event_id": event_id,
        "event_type": kind,
        "occurred_at": "2026-10-05T10:00:00+08:00",
        "data": {
            "record_id": record,
            "project_code": "XM1",
            "category": "labour",
            "business_date": "2026-10-05",
            "amount": amount,
        },
    }


Signer = Callable[[str, bytes], str]


def _signed(body: bytes, sign: Signer, stamp: str | None = None) -> dict[str, str]:
    import time

    stamp = stamp or str(int(time.time()))
    return {"X-PM-Timestamp": stamp, "X-PM-Signature": sign(stamp, body), "Content-Type": "application/json"}


def hook_cases(*, full: bool) -> Iterator[HookCase]:
    n = 0

    def case(name: str, body: bytes, headers: Callable[[bytes, Signer], dict[str, str]]) -> HookCase:
        nonlocal n
        n += 1
        return HookCase(name, "webhook", body, headers, f"WH-{n:05d}")

    signed: Callable[[bytes, Signer], dict[str, str]] = lambda b, s: _signed(b, s)  # noqa: E731
    good = json.dumps(hook_event("E-x", "WH-X")).encode()
    bodies = {
        "empty": b"",
        "not-json": b"hello",
        "truncated": good[: len(good) // 2],
        "array": b"[]",
        "number": b"1e999",
        "nan": b'{"event_id": NaN}',
        "deep-brackets": b"[" * 100_000,
        "deep-objects": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        "lone-surrogate": b'{"event_id": "\\ud800", "event_type": "cost_record.created"}',
        "bad-utf8": b'{"event_id": "\xff\xfe"}',
        "utf16": json.dumps(hook_event("E-16", "WH-16")).encode("utf-16"),
        "nul": b'{"event_id": "a\x00b"}',
        "huge-number": json.dumps({**hook_event("E-n", "WH-N"), "data": {"amount": "9" * 5000}}).encode(),
        "missing-data": json.dumps({"event_id": "E-m", "event_type": "cost_record.created"}).encode(),
        "data-not-object": json.dumps(
            {"event_id": "E-d", "event_type": "cost_record.created", "data": [1]}
        ).encode(),
        "unknown-type": json.dumps(hook_event("E-u", "WH-U", kind="project.exploded")).encode(),
        "type-not-string": json.dumps({**hook_event("E-t", "WH-T"), "event_type": {"x": 1}}).encode(),
        "id-not-string": json.dumps({**hook_event("E-i", "WH-I"), "event_id": [1, 2]}).encode(),
        "amount-nan": json.dumps(hook_event("E-a", "WH-A", amount="NaN")).encode(),
        "amount-formula": json.dumps(hook_event("E-f", "WH-F", amount="=1+1")).encode(),
        "long-key": json.dumps(hook_event("E-k", "K" * 10_000)).encode(),
        "duplicate-keys": b'{"event_id":"E-dk","event_id":"E-dk2","event_type":"cost_record.created","data":{}}',
        "many-keys": json.dumps({f"k{i}": i for i in range(50_000)}).encode(),
    }
    for label, body in bodies.items():
        yield case(f"webhook/signed/{label}", body, signed)
    over = b'{"pad":"' + b"x" * (6 << 20) + b'"}'
    yield case("webhook/oversized", over, signed)
    bad_headers: dict[str, Callable[[bytes, Signer], dict[str, Any]]] = {
        "unsigned": lambda b, s: {"Content-Type": "application/json"},
        "bad-signature": lambda b, s: {**_signed(b, s), "X-PM-Signature": "sha256=" + "0" * 64},
        # sent as the UTF-8 bytes a hostile client puts on the wire (httpx would refuse the str)
        "non-ascii-signature": lambda b, s: {**_signed(b, s), "X-PM-Signature": "sha256=签名签名".encode()},
        "huge-signature": lambda b, s: {**_signed(b, s), "X-PM-Signature": "a" * 8000},
        "timestamp-nan": lambda b, s: _signed(b, s, "nan"),
        "timestamp-inf": lambda b, s: _signed(b, s, "inf"),
        "timestamp-negative": lambda b, s: _signed(b, s, "-1"),
        "timestamp-huge": lambda b, s: _signed(b, s, "9" * 40),
        "timestamp-float": lambda b, s: _signed(b, s, "1700000000.5"),
        "replayed-old": lambda b, s: _signed(b, s, "1600000000"),
        "future": lambda b, s: _signed(b, s, "4102444800"),
        "timestamp-fullwidth": lambda b, s: {
            **_signed(b, s),
            "X-PM-Timestamp": "１７００００００００".encode(),
        },
        "no-timestamp": lambda b, s: {"X-PM-Signature": s("", b)},
    }
    for label, headers in bad_headers.items():
        body = json.dumps(hook_event(f"E-h-{label}", f"WH-H-{label}")).encode()
        yield case(f"webhook/headers/{label}", body, headers)
    # the same signed event twice (a replay with a valid stamp): the second is a harmless duplicate
    replay = json.dumps(hook_event("E-replay", "WH-REPLAY")).encode()
    yield case("webhook/replay-1", replay, signed)
    yield case("webhook/replay-2", replay, signed)
    for i in range(40 if full else 10):  # random bytes, signed and unsigned
        rng = random.Random(i)
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000)))
        yield case(f"webhook/random-{i}", body, signed if i % 2 else bad_headers["unsigned"])


def corpus(scale: str = "full") -> Corpus:
    """`full`: at least 1,000 inputs, some of them tens of MB; `slice`: one or two of each family."""
    full = scale == "full"
    tags = _Tags()
    found = Corpus()
    found.files.extend(column_cases(tags, every=1 if full else 41))
    found.files.extend(text_cases(tags))
    found.files.extend(huge_cases(tags, full=full))
    found.files.extend(html_cases(tags, full=full))
    found.files.extend(workbook_cases(tags, full=full))
    found.hooks.extend(hook_cases(full=full))
    if not full:
        found.files = _slice(found.files)
    return found


# one case of each kind of defect: always in the slice, and what the suite sends through the CLI
PINNED = (
    "workbook/far-cell/XFD1048576",
    "workbook/duplicate-row",
    "workbook/bad-tail/cut",
    "workbook/malformed/cell-ref-ZZZZZZZ",
    "workbook/merge-storm",
    "quoting/unclosed-quote/middle",
    "encoding/bom-then-junk/utf-8",
    "html/end-tags=False/utf-8",
    "html/span-bomb/10",
    "huge/line-3mb/first",
)


def _slice(cases: list[FileCase]) -> list[FileCase]:
    """A representative slice: every column case picked above, every 3rd of the other families,
    and the pinned cases."""
    keep: list[FileCase] = []
    counts: dict[str, int] = {}
    for item in cases:
        counts[item.family] = counts.get(item.family, 0) + 1
        if item.family == "column" or counts[item.family] % 3 == 1 or item.name in PINNED:
            keep.append(item)
    return keep


__all__ = ["BAD_VALUES", "PINNED", "Corpus", "FileCase", "HookCase", "corpus", "good_rows", "id_number"]
