"""Hand-built hostile workbooks: xlsx packages whose sheet XML is written by hand, ods and xls oddities.

XlsxWriter and xlwt only write well-formed files; the attacks and the damage the readers must
survive (a cell at XFD1048576, a duplicated `<row r="2">`, `r="x"`, a truncated tail, a shared
strings table that claims four billion entries, a zip member whose header lies about its size, an
ods row repeated a million times, an xls DIMENSIONS record beyond the format) are written here,
byte by byte where needed. Every file is small; none is ever more than a few MB on disk.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import struct
import subprocess
import sys
import textwrap
import tracemalloc
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from yecai.files.bounds import column_letters

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"
EPOCH_1900 = dt.date(1899, 12, 30)
DATE_STYLE = 1  # the cellXfs index of a yyyy-mm-dd format in `STYLES`

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    "{sheets}</Types>"
)
ROOT_RELS = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{PACKAGE}">'
    f'<Relationship Id="rId1" Type="{RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
STYLES = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet xmlns="{MAIN}">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy\\-mm\\-dd"/></numFmts>'
    '<cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="164" applyNumberFormat="1"/></cellXfs>'
    "</styleSheet>"
)


def cell_xml(ref: str, value: Any) -> str:
    """One `<c>` for a Python value: text inline, numbers plain, dates as serials in the date style."""
    if value is None:
        return ""
    if isinstance(value, str):
        return f'<c r="{ref}" t="inlineStr"><is><t>{escape(value)}</t></is></c>'
    if isinstance(value, dt.date):
        return f'<c r="{ref}" s="{DATE_STYLE}"><v>{(value - EPOCH_1900).days}</v></c>'
    return f'<c r="{ref}"><v>{value!r}</v></c>'


def row_xml(number: int, values: Sequence[Any]) -> str:
    """A well-formed `<row r="number">` of the values, from column A."""
    cells = "".join(cell_xml(f"{column_letters(i)}{number}", v) for i, v in enumerate(values))
    return f'<row r="{number}">{cells}</row>'


def rows_xml(rows: Sequence[Sequence[Any]], first: int = 1) -> str:
    return "".join(row_xml(first + i, row) for i, row in enumerate(rows) if any(v is not None for v in row))


def sheet_xml(data: str, *, dimension: str | None = None, after: str = "") -> str:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{MAIN}" '
        f'xmlns:r="{RELS}">{dim}<sheetData>{data}</sheetData>{after}</worksheet>'
    )


def write_package(
    path: Path,
    sheets: dict[str, str | bytes],
    *,
    shared_strings: str | bytes | None = None,
    styles: str | bytes | None = STYLES,
    date1904: bool = False,
    extra: dict[str, bytes] | None = None,
) -> Path:
    """An xlsx package of the given sheet XML (name → XML), deflated like Excel's."""
    rels = [
        f'<Relationship Id="rId{i}" Type="{RELS}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(sheets) + 1)
    ]
    if shared_strings is not None:
        rels.append(f'<Relationship Id="rIdS" Type="{RELS}/sharedStrings" Target="sharedStrings.xml"/>')
    if styles is not None:
        rels.append(f'<Relationship Id="rIdT" Type="{RELS}/styles" Target="styles.xml"/>')
    book_sheets = "".join(
        f'<sheet name="{escape(name)}" sheetId="{i}" r:id="rId{i}"/>'
        for i, name in enumerate(sheets, start=1)
    )
    props = '<workbookPr date1904="1"/>' if date1904 else ""
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", CONTENT_TYPES.format(sheets=overrides))
        package.writestr("_rels/.rels", ROOT_RELS)
        package.writestr(
            "xl/workbook.xml",
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="{MAIN}" '
            f'xmlns:r="{RELS}">{props}<sheets>{book_sheets}</sheets></workbook>',
        )
        package.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{PACKAGE}">'
            + "".join(rels)
            + "</Relationships>",
        )
        for i, content in enumerate(sheets.values(), start=1):
            package.writestr(f"xl/worksheets/sheet{i}.xml", content)
        if shared_strings is not None:
            package.writestr("xl/sharedStrings.xml", shared_strings)
        if styles is not None:
            package.writestr("xl/styles.xml", styles)
        for name, content in (extra or {}).items():
            package.writestr(name, content)
    return path


def streamed_peak(path: Path, sheet: str = "导出") -> tuple[int, int]:
    """(rows, peak traced bytes) of reading `sheet` with the streaming reader: what memory it holds."""
    from yecai.files.xlsx_stream import StreamedWorkbook

    book = StreamedWorkbook(str(path))
    tracemalloc.start()
    try:
        count = sum(1 for _ in book.rows(sheet))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        book.close()
    return count, peak


def write_sheet(path: Path, data: str, *, name: str = "导出", **options: Any) -> Path:
    """A one-sheet xlsx whose `<sheetData>` holds `data` exactly as given."""
    dimension = options.pop("dimension", None)
    after = options.pop("after", "")
    return write_package(path, {name: sheet_xml(data, dimension=dimension, after=after)}, **options)


def lie_about_size(path: Path, member: str, declared: int) -> Path:
    """Rewrite a member's local and central headers to declare `declared` uncompressed bytes.

    The CRC is set to that of the first `declared` bytes, so a reader that trusts the header reads
    a clean, short member while the deflate stream really holds much more.
    """
    import zlib

    with zipfile.ZipFile(path) as package:
        info = package.getinfo(member)
        content = package.read(member)
    crc = zlib.crc32(content[:declared])
    data = bytearray(path.read_bytes())
    local = info.header_offset
    struct.pack_into("<I", data, local + 14, crc)
    struct.pack_into("<I", data, local + 22, declared)
    central = data.find(b"PK\x01\x02")
    while central >= 0:
        name_length = struct.unpack_from("<H", data, central + 28)[0]
        if bytes(data[central + 46 : central + 46 + name_length]).decode() == member:
            struct.pack_into("<I", data, central + 16, crc)
            struct.pack_into("<I", data, central + 24, declared)
            break
        central = data.find(b"PK\x01\x02", central + 46)
    path.write_bytes(bytes(data))
    return path


ODS_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
    'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
    '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
)


def ods_cell(value: Any, repeat: int = 1) -> str:
    times = f' table:number-columns-repeated="{repeat}"' if repeat > 1 else ""
    if value is None:
        return f"<table:table-cell{times}/>"
    if isinstance(value, str):
        return f'<table:table-cell{times} office:value-type="string"><text:p>{escape(value)}</text:p></table:table-cell>'
    return (
        f'<table:table-cell{times} office:value-type="float" office:value="{value}">'
        f"<text:p>{value}</text:p></table:table-cell>"
    )


def ods_row(cells: str, repeat: int = 1) -> str:
    times = f' table:number-rows-repeated="{repeat}"' if repeat > 1 else ""
    return f"<table:table-row{times}>{cells}</table:table-row>"


def write_ods(path: Path, rows: str, name: str = "导出") -> Path:
    """An ods whose one table holds the `<table:table-row>` XML given."""
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="{escape(name)}">{rows}'
        "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        package.writestr("META-INF/manifest.xml", ODS_MANIFEST)
        package.writestr("content.xml", content)
    return path


def set_xls_dimensions(path: Path, last_row: int, last_col: int) -> Path:
    """Overwrite the first sheet's BIFF8 DIMENSIONS record (id 0x0200, 14 bytes) in place."""
    data = bytearray(path.read_bytes())
    at = data.find(b"\x00\x02\x0e\x00")
    assert at > 0, "no DIMENSIONS record"
    struct.pack_into("<IIHH", data, at + 4, 0, last_row, 0, last_col)
    path.write_bytes(bytes(data))
    return path


def import_in_subprocess(
    path: Path, kind: str, *, memory_mb: int = 1024, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Import `path` into a fresh SQLite store in a child limited to `memory_mb` of address space.

    What the child did comes back as a dict: `outcome` imported / problem / crashed, the counts or
    the problem's code and message, and the exit status (a SIGABRT from a Rust allocation failure
    is -6). A parser that tried to allocate a grid for the whole sheet dies here, not in pytest.
    """
    code = textwrap.dedent(
        f"""
        import json, resource, sys
        resource.setrlimit(resource.RLIMIT_AS, ({memory_mb} << 20, {memory_mb} << 20))
        from pathlib import Path
        from yecai.files import FileProblem, import_file
        from yecai.store.db import open_store
        folder = Path(sys.argv[1]).parent
        store = open_store(f"sqlite:///{{folder / 'isolated.sqlite'}}")
        try:
            result = import_file(store, Path(sys.argv[1]), kind={kind!r})
        except FileProblem as exc:
            print(json.dumps({{"outcome": "problem", "code": exc.code, "zh": exc.zh, "en": exc.en}}))
        else:
            print(json.dumps({{"outcome": "imported", "counts": result.counts.as_dict(),
                               "issues": [[i.row, i.zh, i.en] for i in result.issues]}}))
        """
    )
    root = Path(__file__).resolve().parents[2]
    environment = {**os.environ, "PYTHONPATH": str(root), **(env or {})}
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"outcome": "crashed", "returncode": done.returncode, "stderr": done.stderr[-2000:]}
    return json.loads(lines[-1])
